import { readFileSync } from 'node:fs';

/**
 * The package's version, from its package.json (`src/server` and `dist/server` both sit two
 * folders below it), read once.
 */
let known: string | undefined;
export function serverVersion(): string {
  known ??= (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return known;
}
