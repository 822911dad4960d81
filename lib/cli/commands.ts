/** A subcommand: gets its own arguments, resolves to the process exit code. */
export type CommandMain = (argv: string[]) => Promise<number>;

/** Subcommands, loaded on demand so that `--help` does not pay for every module. */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandMain> }> = {};
