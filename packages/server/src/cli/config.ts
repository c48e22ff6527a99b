/**
 * The configuration as every command loads it: `loadConfig` of the server, with an unknown
 * key of the config file answered by "did you mean …?" instead of a bare refusal.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type ServerConfig, unknownConfigKeys } from '../server/config.ts';
import { didYouMean } from './suggest.ts';

/** `loadConfig(env)`; a ConfigError about unknown keys names each one with its nearest known key. */
export function loadCliConfig(env: NodeJS.ProcessEnv, cwd = process.cwd()): ServerConfig {
  try {
    return loadConfig(env, cwd);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const hints = unknownKeyHints(env.RAMPART_CONFIG, cwd);
    throw hints.length > 0 ? new ConfigError(hints.join('\n')) : error;
  }
}

/** One line per unknown key of the config file at `path`; none when it cannot be read or parsed. */
export function unknownKeyHints(path: string | undefined, cwd = process.cwd()): string[] {
  if (path === undefined || path.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(resolve(cwd, path), 'utf8'));
  } catch {
    return [];
  }
  return unknownConfigKeys(json).map(({ field, key, allowed }) => {
    const parent = field.slice(0, field.length - key.length);
    const near = didYouMean(key, allowed).replace(/"([^"]+)"/g, `"${parent}$1"`);
    return `RAMPART_CONFIG ${path}: unknown key "${field}"${near || `; the keys here are ${allowed.join(', ')}`}`;
  });
}
