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
import type { Clock } from 'rampart/internal/lib/types.ts';
import {
  createKeyRing,
  generateSigningKey,
  hs256SigningKey,
  type KeyRing,
  rotateKeyRecords,
  type SigningKeyRecord,
} from 'rampart/internal/tokens/signing-keys.ts';
import type { SigningKeyStore, StoredSigningKey } from '../storage/types.ts';
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

/** Shared keys: how often each instance reads them again, and how long a new key waits to sign. */
export interface SharedKeyOptions {
  store: SigningKeyStore;
  /** Default 5000 ms. */
  pollMs?: number;
  /** A rotated-in key signs only after every instance has read it: default three polls. */
  activationDelayMs?: number;
}

/**
 * Signing keys live in `<data dir>/signing-keys.json`, mode 0600, written atomically (temp
 * file, fsync, rename), or with `shared` in the database every instance uses. The first start
 * generates one. HS256 keys come from the configured secret and are never written anywhere.
 */
/** Told of a rotation this process made (the audit trail's `signing_key_rotated`). */
export type OnKeyRotated = (info: { kid: string; alg: string; scheduled: boolean }) => void;

export async function openKeyRing(
  config: ServerConfig,
  now: Clock = Date.now,
  shared?: SharedKeyOptions,
  onRotated?: OnKeyRotated,
): Promise<KeyRingHolder> {
  const { algorithm, accessTtlMs, rotateEveryMs, secret } = config.tokens;
  if (algorithm === 'HS256') {
    const ring = createKeyRing({ keys: [hs256SigningKey({ secret: secret!, now })], accessTtlMs, now });
    return { current: () => ring, rotate: async () => {}, refresh: async () => {}, close() {} };
  }
  if (shared) return openSharedKeyRing(config, now, shared, onRotated);
  const path = join(config.dataDir, FILE);
  let records = readRecords(path);
  if (records.length === 0 || !records.some((r) => r.retiredAt === undefined && r.alg === algorithm)) {
    const fresh = await generateSigningKey({ alg: algorithm, now });
    records = records.length === 0 ? [fresh] : rotateKeyRecords(records, fresh, { now: now(), accessTtlMs });
    writeRecords(path, records);
  }
  let ring = createKeyRing({ keys: records, accessTtlMs, now });
  let mtime = mtimeOf(path);

  const rotate = async (scheduled = false) => {
    const next = await generateSigningKey({ alg: algorithm, now });
    // Re-read first: a sibling process may have rotated since we loaded.
    const latest = readRecords(path);
    const rotated = rotateKeyRecords(latest.length ? latest : records, next, { now: now(), accessTtlMs });
    writeRecords(path, rotated);
    records = rotated;
    ring = createKeyRing({ keys: records, accessTtlMs, now });
    mtime = mtimeOf(path);
    onRotated?.({ kid: next.kid, alg: next.alg, scheduled });
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
    if (current && now() - current.createdAt >= rotateEveryMs) await rotate(true);
  };

  const timer = setInterval(() => void refresh().catch(() => {}), 5_000);
  timer.unref();
  await refresh();
  return { current: () => ring, rotate: () => rotate(false), refresh, close: () => clearInterval(timer) };
}

/** Tolerance for clock skew between instances, as the key ring uses it. */
const CLOCK_TOLERANCE_MS = 5_000;

/**
 * The ring as every instance sees it at `at`: the last key activated by then signs, each
 * earlier one is retired when its successor activated, and a key that activates later is
 * published and verifies but does not sign yet. Also when the view next changes.
 */
export function sharedRingView(
  rows: readonly StoredSigningKey[],
  at: number,
): { records: SigningKeyRecord[]; nextSwitchAt: number | undefined } {
  let current = 0;
  rows.forEach((row, i) => {
    if (row.activatesAt <= at) current = i;
  });
  const records = rows.map((row, i): SigningKeyRecord => {
    const { retiredAt: _ignored, ...record } = row.record;
    if (i === current) return record;
    // Before the current key: retired when the next one took over. After it (pending): stops
    // at once-it-activates in ring terms, which makes it verify and publish without signing.
    return { ...record, retiredAt: i < current ? rows[i + 1]!.activatesAt : row.activatesAt };
  });
  const next = rows[current + 1]?.activatesAt;
  return { records, nextSwitchAt: next !== undefined && next > at ? next : undefined };
}

/**
 * Signing keys in the database several instances share. One instance generates (the store's
 * compare-and-set lets exactly one key in), all read the same rows every `pollMs`, and a
 * rotated-in key is published at once but signs only `activationDelayMs` later, when every
 * instance verifies it: no instance ever sees a token signed with a key it does not know.
 */
async function openSharedKeyRing(
  config: ServerConfig,
  now: Clock,
  shared: SharedKeyOptions,
  onRotated?: OnKeyRotated,
): Promise<KeyRingHolder> {
  const { algorithm, accessTtlMs, rotateEveryMs } = config.tokens;
  if (algorithm === 'HS256')
    throw new TypeError('tokens.algorithm: HS256 keys come from the secret, not a store');
  const { store } = shared;
  const pollMs = shared.pollMs ?? 5_000;
  const activationDelayMs = shared.activationDelayMs ?? 3 * pollMs;
  let rows = await store.list();
  let ring: KeyRing;
  let switchAt: number | undefined;
  let seen = '';

  const build = () => {
    const view = sharedRingView(rows, now());
    ring = createKeyRing({ keys: view.records, accessTtlMs, clockToleranceMs: CLOCK_TOLERANCE_MS, now });
    switchAt = view.nextSwitchAt;
    seen = rows.map((r) => `${r.record.kid}@${r.activatesAt}`).join();
  };
  const signing = () => {
    const t = now();
    return rows.filter((r) => r.activatesAt <= t).at(-1) ?? rows[0];
  };
  const add = async (immediate: boolean, scheduled = false) => {
    const last = rows.at(-1);
    const record = await generateSigningKey({ alg: algorithm, now });
    const activatesAt = immediate ? now() : Math.max(now() + activationDelayMs, (last?.activatesAt ?? 0) + 1);
    // False when another instance added first: then its key is the one everybody reads.
    const added = await store.add(
      { record, activatesAt },
      last?.record.kid ?? null,
      now() - accessTtlMs - CLOCK_TOLERANCE_MS,
    );
    rows = await store.list();
    // Only the instance whose key got in records the rotation (a first key is no rotation).
    if (added && !immediate) onRotated?.({ kid: record.kid, alg: record.alg, scheduled });
  };

  // First start, or the configured algorithm changed: a key that signs at once (no token
  // signed with it can exist yet, so nobody needs to learn it first).
  if (signing()?.record.alg !== algorithm) await add(true);
  build();

  const refresh = async () => {
    rows = await store.list();
    if (rows.map((r) => `${r.record.kid}@${r.activatesAt}`).join() !== seen) build();
    const current = signing();
    const pending = rows.some((r) => r.activatesAt > now());
    if (current && !pending && now() - current.activatesAt >= rotateEveryMs) {
      await add(false, true);
      build();
    }
  };
  const timer = setInterval(() => void refresh().catch(() => {}), pollMs);
  timer.unref();
  await refresh();
  return {
    current() {
      // The switch to a key that has just activated happens on time, not at the next poll.
      if (switchAt !== undefined && now() >= switchAt) build();
      return ring;
    },
    async rotate() {
      rows = await store.list();
      await add(false);
      build();
    },
    refresh,
    close: () => clearInterval(timer),
  };
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

/** The data dir's signing keys (`rampart export`); empty when there is no file. */
export function readSigningKeyFile(dataDir: string): SigningKeyRecord[] {
  return readRecords(join(dataDir, FILE));
}

/** Writes the data dir's signing keys (`rampart import`), mode 0600, atomically. */
export function writeSigningKeyFile(dataDir: string, records: SigningKeyRecord[]): void {
  writeRecords(join(dataDir, FILE), records);
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
