/**
 * `nsqd-lookup/broker`: a small in-memory nsqd. It speaks nsqd's V2 protocol and HTTP API, so real NSQ
 * clients (nsqjs, go-nsq, pynsq...) publish to it and consume from it, and a {@link LookupLoop} over a
 * {@link Registry} registers every topic and channel with nsqlookupd the moment it exists. Start one
 * with {@link startBroker}; `nsqd-lookup broker` is its command line.
 */
export { NotInFlightError, QueueFullError, V2Error } from '../errors.js';
export { Broker, type BrokerOptions, type BrokerTlsOptions, startBroker } from './broker.js';
export type { Channel, ChannelOptions, Consumer } from './channel.js';
export type { BrokerContext, BrokerHttpContext } from './context.js';
export { type BrokerLimits, DEFAULT_LIMITS, type StatsFilter } from './context.js';
export type { Message } from './protocol-v2.js';
export type { Topic, TopicOptions } from './topic.js';
export type { TlsSettings } from './transport.js';
