/** A subcommand: gets its own arguments, resolves to the process exit code. */
export type CommandMain = (argv: string[]) => Promise<number>;
