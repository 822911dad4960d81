/**
 * The CLI's one error class of its own: a command-line mistake. The command prints the message with a
 * pointer to its --help and exits with its usage code (see exit-codes.ts).
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * The one shape of every usage error, on stderr:
 * `nsqd-lookup <command>: <message>` then `Run 'nsqd-lookup <command> --help' for usage.`
 */
export function usageMessage(command: string | undefined, message: string): string {
  const name = command ? `nsqd-lookup ${command}` : 'nsqd-lookup';
  return `${name}: ${message}\nRun '${name} --help' for usage.\n`;
}
