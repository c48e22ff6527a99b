/**
 * A bounded, per-instance cache of key lookups, keyed on the key's hash (never the
 * plaintext). It holds the record, not the decision: the decision also depends on the
 * scope asked for and the time, so `decideKey` runs on every request, which is cheap.
 *
 * Entries live `ttlMs` at most and never past the record's `expiresAt` or a scheduled
 * `revokedAt`, so an expiry or a rotation's end takes effect on time even on a hit. A change
 * made on this instance calls `invalidate(id)` and takes effect at once; other instances
 * learn it through the invalidation channel (Redis pub/sub) or within `ttlMs`.
 *
 * Unknown hashes may be cached too (`set(hash, null)`), in a separate, smaller LRU, so a
 * client retrying a dead key does not reach the store each time, and a flood of invented
 * keys cannot evict the real ones.
 */
import type { Clock } from '../lib/types.ts';
import type { ApiKeyRecord } from './record.ts';

export interface VerificationCacheOptions {
  /** Most records held; the least recently used goes first. Default 10 000. */
  maxEntries?: number;
  /** Longest a record is trusted, ms. Default 30 000. */
  ttlMs?: number;
  /** Most unknown hashes held; 0 turns negative caching off. Default 1 000. */
  maxNegativeEntries?: number;
  /** Longest an unknown hash is remembered, ms. Default 5 000. */
  negativeTtlMs?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: Clock;
}

export interface VerificationCacheStats {
  size: number;
  negativeSize: number;
  hits: number;
  misses: number;
  evictions: number;
}

export interface VerificationCache {
  /** The cached record, `null` for a cached "no such key", `undefined` on a miss. */
  get(hash: string): ApiKeyRecord | null | undefined;
  /** Caches the lookup result for `hash`: a record, or `null` for none. */
  set(hash: string, record: ApiKeyRecord | null): void;
  /** Drops the record of key `id` (revoked, rotated, changed). True when one was held. */
  invalidate(id: string): boolean;
  /** Drops whatever is held for `hash`. */
  delete(hash: string): boolean;
  /** Drops everything (for example after importing keys). */
  clear(): void;
  stats(): VerificationCacheStats;
}

interface Entry {
  record: ApiKeyRecord;
  deadline: number;
}

function positiveInteger(value: unknown, field: string, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new TypeError(
      `verificationCache.${field}: expected a whole number ${allowZero ? '≥ 0' : '> 0'}, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * Creates a verification cache. Options are validated here (`TypeError` naming the field).
 *
 * @example
 * const cache = createVerificationCache({ maxEntries: 10_000, ttlMs: 30_000 });
 * const verifier = createApiKeyVerifier({ hasher, findByHash, cache });
 * // on revoke, here and from the pub/sub channel:
 * cache.invalidate(keyId);
 */
export function createVerificationCache(options: VerificationCacheOptions = {}): VerificationCache {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('verificationCache: expected an options object');
  }
  const maxEntries = positiveInteger(options.maxEntries ?? 10_000, 'maxEntries');
  const ttlMs = positiveInteger(options.ttlMs ?? 30_000, 'ttlMs');
  const maxNegative = positiveInteger(options.maxNegativeEntries ?? 1_000, 'maxNegativeEntries', true);
  const negativeTtlMs = positiveInteger(options.negativeTtlMs ?? 5_000, 'negativeTtlMs');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function')
    throw new TypeError('verificationCache.now: expected a function returning epoch ms');

  // Map iteration order is insertion order: re-inserting on a hit makes the first key the LRU.
  const records = new Map<string, Entry>();
  const unknown = new Map<string, number>();
  const hashById = new Map<string, string>();
  let hits = 0;
  let misses = 0;
  let evictions = 0;

  function dropRecord(hash: string, entry: Entry): void {
    records.delete(hash);
    if (hashById.get(entry.record.id) === hash) hashById.delete(entry.record.id);
  }

  function remove(hash: string): boolean {
    const entry = records.get(hash);
    if (entry !== undefined) dropRecord(hash, entry);
    return unknown.delete(hash) || entry !== undefined;
  }

  return {
    get(hash) {
      const t = now();
      const entry = records.get(hash);
      if (entry !== undefined) {
        if (t >= entry.deadline) dropRecord(hash, entry);
        else {
          records.delete(hash);
          records.set(hash, entry);
          hits++;
          return entry.record;
        }
      }
      const deadline = unknown.get(hash);
      if (deadline !== undefined) {
        unknown.delete(hash);
        if (t < deadline) {
          unknown.set(hash, deadline);
          hits++;
          return null;
        }
      }
      misses++;
      return undefined;
    },
    set(hash, record) {
      const t = now();
      remove(hash);
      if (record === null) {
        if (maxNegative === 0) return;
        unknown.set(hash, t + negativeTtlMs);
        if (unknown.size > maxNegative) {
          unknown.delete(unknown.keys().next().value!);
          evictions++;
        }
        return;
      }
      let deadline = t + ttlMs;
      // Never serve a record past the instant its decision changes.
      if (record.expiresAt !== null && record.expiresAt > t) deadline = Math.min(deadline, record.expiresAt);
      if (record.revokedAt !== null && record.revokedAt > t) deadline = Math.min(deadline, record.revokedAt);
      // One hash per id: a re-hashed key (pepper rotation) must not leave a stale twin behind.
      const previous = hashById.get(record.id);
      if (previous !== undefined) records.delete(previous);
      hashById.set(record.id, hash);
      records.set(hash, { record, deadline });
      if (records.size > maxEntries) {
        const [oldHash, oldEntry] = records.entries().next().value!;
        dropRecord(oldHash, oldEntry);
        evictions++;
      }
    },
    invalidate(id) {
      const hash = hashById.get(id);
      if (hash === undefined) return false;
      hashById.delete(id);
      return records.delete(hash);
    },
    delete: remove,
    clear() {
      records.clear();
      unknown.clear();
      hashById.clear();
    },
    stats: () => ({ size: records.size, negativeSize: unknown.size, hits, misses, evictions }),
  };
}
