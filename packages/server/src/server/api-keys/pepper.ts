/**
 * The API key pepper: the HMAC key of stored key hashes, kept outside the database (an env
 * variable or a 0600 file in the data dir), versioned so it can be rotated, and required on
 * shared storage so every instance hashes alike.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { createKeyHasher, type KeyHasher, MIN_PEPPER_BYTES } from 'rampart/internal/api-keys/index.ts';
import type { Storage } from '../../storage/types.ts';
import { ConfigError } from '../config.ts';

/** The name of the pepper file in the data dir. */
export const PEPPER_FILE = 'pepper';

/** The peppers a hasher needs: by version, and which one is current. Never logged. */
export interface Peppers {
  peppers: Record<string, Buffer>;
  current: string;
  /** Where they came from (for messages): the env variable or the file path. */
  source: string;
}

const VERSIONED = /^(v[1-9][0-9]{0,5}):(.+)$/;

function decodePepper(text: string, where: string): Buffer {
  const value = text.trim();
  // Hex first: a hex string is also valid base64, and hex is what `openssl rand -hex 32` prints.
  let bytes: Buffer;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(value)) bytes = Buffer.from(value, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) bytes = Buffer.from(value, 'base64');
  else throw new ConfigError(`${where}: a pepper is hex or base64 (the value is not shown)`);
  if (bytes.byteLength < MIN_PEPPER_BYTES) {
    throw new ConfigError(
      `${where}: a pepper must be at least ${MIN_PEPPER_BYTES} bytes (64 hex or 44 base64 characters), got ${bytes.byteLength}`,
    );
  }
  return bytes;
}

/**
 * Parses a pepper list: entries separated by commas or new lines, each `vN:<hex|base64>` or a
 * bare value (version `v1`). The first entry is current; the others stay listed so keys hashed
 * under them keep working (and are re-hashed to the current one on their next use).
 *
 * @example parsePeppers('v2:' + newHex + ',v1:' + oldHex, 'RAMPART_API_KEY_PEPPER')
 */
export function parsePeppers(text: string, where: string): Peppers {
  const peppers: Record<string, Buffer> = {};
  let current: string | undefined;
  const entries = text
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e !== '' && !e.startsWith('#'));
  for (const entry of entries) {
    const match = VERSIONED.exec(entry);
    const version = match ? match[1]! : 'v1';
    if (Object.hasOwn(peppers, version))
      throw new ConfigError(`${where}: pepper version ${version} is listed twice`);
    peppers[version] = decodePepper(match ? match[2]! : entry, `${where} (${version})`);
    current ??= version;
  }
  if (current === undefined) throw new ConfigError(`${where}: no pepper found`);
  return { peppers, current, source: where };
}

/**
 * Reads the peppers: `RAMPART_API_KEY_PEPPER` when set, else `<dataDir>/pepper`; undefined
 * when neither exists (see {@link createPepperFile}).
 */
export function readPeppers(
  env: NodeJS.ProcessEnv,
  dataDir: string,
  warn?: (message: string) => void,
): Peppers | undefined {
  const fromEnv = env.RAMPART_API_KEY_PEPPER;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parsePeppers(fromEnv, 'RAMPART_API_KEY_PEPPER');
  const path = join(dataDir, PEPPER_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(
      `${path}: cannot read the pepper file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    warn?.(`${path} is readable by other users; run: chmod 600 ${path}`);
  }
  return parsePeppers(text, path);
}

/**
 * Writes `content` to `path` with mode 0600 only if no file is there: written to a temp file,
 * synced, then hard-linked into place (link fails if the name exists), so another process
 * never reads a half-written file and two processes starting at once cannot both win.
 * Answers false when the file already existed.
 */
export function writeSecretFileOnce(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(tmp);
  }
}

/** Creates `<dataDir>/pepper` (v1, 32 random bytes, mode 0600), or reads the one another process just made. */
export function createPepperFile(dataDir: string): Peppers {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, PEPPER_FILE);
  const content =
    '# Rampart API key pepper: HMAC key for stored key hashes. Keep it out of backups of the database.\n' +
    `v1:${randomBytes(32).toString('base64url')}\n`;
  writeSecretFileOnce(path, content);
  return parsePeppers(readFileSync(path, 'utf8'), path);
}

export interface OpenKeyHasherOptions {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  storage: Storage;
  warn?: (message: string) => void;
}

/**
 * The key hasher of a deployment: its peppers from the env or the data dir, a new pepper file
 * on first start. Refuses to start when keys exist but no pepper does: a new pepper would
 * silently turn every stored key into an unknown one.
 */
export async function openKeyHasher(options: OpenKeyHasherOptions): Promise<KeyHasher> {
  const { env, dataDir, storage, warn } = options;
  let peppers = readPeppers(env, dataDir, warn);
  if (peppers === undefined) {
    if (storage.kind === 'postgres') {
      // A pepper made here would exist on this host only: keys made through one instance
      // would be unknown to the others.
      throw new ConfigError(
        `DATABASE_URL: every instance must hash API keys with the same pepper; set RAMPART_API_KEY_PEPPER (for example the output of: openssl rand -hex 32) on all of them, or put the same ${PEPPER_FILE} file in each data dir`,
      );
    }
    if ((await storage.apiKeys.list({ limit: 1 })).keys.length > 0) {
      throw new ConfigError(
        `API keys exist but their pepper is missing: restore ${join(dataDir, PEPPER_FILE)} or set RAMPART_API_KEY_PEPPER`,
      );
    }
    peppers = createPepperFile(dataDir);
  }
  const legacySha256 = /^(1|true|yes)$/i.test(env.RAMPART_API_KEY_LEGACY_SHA256 ?? '');
  return createKeyHasher({ peppers: peppers.peppers, current: peppers.current, legacySha256 });
}
