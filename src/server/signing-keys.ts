import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../lib/types.ts';
import {
  createKeyRing,
  generateSigningKey,
  hs256SigningKey,
  type KeyRing,
  rotateKeyRecords,
  type SigningKeyRecord,
} from '../tokens/signing-keys.ts';
import type { ServerConfig } from './config.ts';

/** The live key ring, reloaded when another process (the CLI, a sibling) rotates the file. */
export interface KeyRingHolder {
  current(): KeyRing;
  /** Generates a new signing key; the previous one keeps verifying until its tokens expire. */
  rotate(): Promise<void>;
  /** Rotates when the current key is older than `tokens.rotateEvery`; picks up file changes. */
  refresh(): Promise<void>;
  close(): void;
}

const FILE = 'signing-keys.json';

/**
 * Signing keys live in `<data dir>/signing-keys.json`, mode 0600, written atomically (temp
 * file, fsync, rename). The first start generates one. HS256 keys come from the configured
 * secret and are never written anywhere.
 */
export async function openKeyRing(config: ServerConfig, now: Clock = Date.now): Promise<KeyRingHolder> {
  const { algorithm, accessTtlMs, rotateEveryMs, secret } = config.tokens;
  if (algorithm === 'HS256') {
    const ring = createKeyRing({ keys: [hs256SigningKey({ secret: secret!, now })], accessTtlMs, now });
    return { current: () => ring, rotate: async () => {}, refresh: async () => {}, close() {} };
  }
  const path = join(config.dataDir, FILE);
  let records = readRecords(path);
  if (records.length === 0 || !records.some((r) => r.retiredAt === undefined && r.alg === algorithm)) {
    const fresh = await generateSigningKey({ alg: algorithm, now });
    records = records.length === 0 ? [fresh] : rotateKeyRecords(records, fresh, { now: now(), accessTtlMs });
    writeRecords(path, records);
  }
  let ring = createKeyRing({ keys: records, accessTtlMs, now });
  let mtime = mtimeOf(path);

  const rotate = async () => {
    const next = await generateSigningKey({ alg: algorithm, now });
    // Re-read first: a sibling process may have rotated since we loaded.
    const latest = readRecords(path);
    const rotated = rotateKeyRecords(latest.length ? latest : records, next, { now: now(), accessTtlMs });
    writeRecords(path, rotated);
    records = rotated;
    ring = createKeyRing({ keys: records, accessTtlMs, now });
    mtime = mtimeOf(path);
  };

  const refresh = async () => {
    const m = mtimeOf(path);
    if (m !== mtime) {
      const latest = readRecords(path);
      if (latest.length > 0) {
        records = latest;
        ring = createKeyRing({ keys: records, accessTtlMs, now });
      }
      mtime = m;
    }
    const current = records.find((r) => r.retiredAt === undefined);
    if (current && now() - current.createdAt >= rotateEveryMs) await rotate();
  };

  const timer = setInterval(() => void refresh().catch(() => {}), 5_000);
  timer.unref();
  await refresh();
  return { current: () => ring, rotate, refresh, close: () => clearInterval(timer) };
}

/** Rotates the data dir's signing keys (the `rampart signing-keys rotate` command). */
export async function rotateSigningKeyFile(
  config: ServerConfig,
  now: Clock = Date.now,
): Promise<SigningKeyRecord> {
  const holder = await openKeyRing(config, now);
  await holder.rotate();
  holder.close();
  return holder.current().records.find((r) => r.retiredAt === undefined)!;
}

function readRecords(path: string): SigningKeyRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const parsed = JSON.parse(text) as { version?: number; keys?: SigningKeyRecord[] };
  if (parsed.version !== 1 || !Array.isArray(parsed.keys))
    throw new Error(`${path}: not a Rampart signing-key file`);
  return parsed.keys;
}

function writeRecords(path: string, records: SigningKeyRecord[]): void {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify({ version: 1, keys: records }, null, 2));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
