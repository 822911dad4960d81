import createDebug from 'debug';

/** A log function: printf-style format string (debug's `%s`, `%d`, `%o`...) and arguments. */
export type LogFn = (format: string, ...args: unknown[]) => void;

const PREFIX = 'nsqd-lookup';
const MAX_ARG_LENGTH = 200;

/**
 * The package's one entry to `debug`: namespaces are `nsqd-lookup:<component>[:<instance>]`, long
 * string arguments are shortened, and nothing is formatted when the namespace is off.
 */
export function logger(component: string, instance?: string): LogFn {
  const log = createDebug(instance ? `${PREFIX}:${component}:${instance}` : `${PREFIX}:${component}`);
  return (format, ...args) => {
    if (!log.enabled) return;
    log(format, ...args.map(shorten));
  };
}

function shorten(arg: unknown): unknown {
  if (typeof arg === 'string' && arg.length > MAX_ARG_LENGTH) return `${arg.slice(0, MAX_ARG_LENGTH)}…`;
  return arg;
}
