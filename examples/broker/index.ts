/** The example broker's entry for scripts and tests; `main.ts` is the command line. */
export { Broker, type BrokerOptions, type StatsFilter, startBroker } from './broker.js';
export { type BrokerLimits, DEFAULT_LIMITS, type LogFn } from './context.js';
