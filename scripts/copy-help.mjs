// Copies the CLI help texts next to the compiled commands (tsc only emits .js and .d.ts).
import { cpSync } from 'node:fs';

cpSync(new URL('../lib/cli/help', import.meta.url), new URL('../dist/cli/help', import.meta.url), {
  recursive: true,
});
