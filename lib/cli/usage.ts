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
