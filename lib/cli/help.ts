import { readFileSync } from 'node:fs';

/** The help text of `command` from help/<command>.txt beside this module (lib/ when run from source, dist/ when built). */
export function helpText(command: string): string {
  return readFileSync(new URL(`./help/${command}.txt`, import.meta.url), 'utf8');
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
