/**
 * The whole verification of a presented key, framework-free: parse (no I/O) → cache → store
 * lookup by hash → constant-time match → decide → rate limit → credits → note the use.
 * Stores and the rate limiter come in as functions, so this file knows no driver.
 */
import type { Awaitable, Clock } from '../lib/types.ts';
import type { VerificationCache } from './cache.ts';
import {
  DEFAULT_API_KEY_PREFIX,
  isValidApiKeyPrefix,
  type ParseApiKeyOptions,
  parseApiKey,
} from './format.ts';
import type { KeyHasher } from './hashing.ts';
import type { ApiKeyRecord } from './record.ts';
import { decideKey, type KeyDecision, type KeyLimitStatus } from './verify.ts';

export interface ApiKeyVerifierOptions {
  hasher: KeyHasher;
  /**
   * The store lookup: the record whose `hash` is one of `hashes` (the hasher's candidates),
   * or undefined/null. May throw when the store is down: that is an outage (503), not a refusal.
   */
  findByHash: (hashes: readonly string[]) => Awaitable<ApiKeyRecord | null | undefined>;
  /** Accepted key prefixes. Default `['rk_live_']`. */
  prefixes?: readonly string[];
  /** Accept tutorial-style 64-hex keys (needs a hasher with `legacySha256`). Default false. */
  acceptLegacyKeys?: boolean;
  /** Verification cache; without one every verification reaches the store. */
  cache?: VerificationCache;
  /** Told of each valid use (`createLastUsedBatcher`). */
  lastUsed?: { touch(id: string): void };
  /**
   * The per-key rate limit, for records with `rateLimit`. Without it such keys are refused
   * `RATE_LIMITED`: a configured limit is never silently skipped.
   */
  checkRateLimit?: (
    record: ApiKeyRecord,
    now: number,
  ) => Awaitable<{ allowed: boolean; retryAfterMs?: number; limits?: KeyLimitStatus[] }>;
  /**
   * Spends credits atomically in the store (`applyCredits` inside a transaction or script),
   * for records with `credits`. Without it such keys are refused `USAGE_EXCEEDED`.
   */
  consumeCredits?: (
    record: ApiKeyRecord,
    cost: number,
    now: number,
  ) => Awaitable<{ allowed: boolean; remaining?: number }>;
  /**
   * Let a key refused by parsing (format, checksum, prefix) pay the one HMAC a cached lookup
   * pays, so malformed, unknown and revoked keys answer in about the same time. The gap is
   * only about a microsecond and betrays nothing secret (anyone can compute a checksum), but
   * closing it keeps latency from telling the three apart. Set false to refuse them in the
   * least time instead. Default true.
   */
  uniformTiming?: boolean;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: Clock;
}

export interface VerifyApiKeyOptions {
  /** Scope(s) the request needs. */
  scope?: string | readonly string[];
  /** Credits this use spends (keys with credits only). Default 1. */
  cost?: number;
}

export interface ApiKeyVerifier {
  /**
   * Verifies a presented key. Resolves to a decision, never rejects for a bad key; rejects
   * only when a store or the limiter fails.
   */
  verify(key: unknown, options?: VerifyApiKeyOptions): Promise<KeyDecision>;
  /**
   * Whether this key was found in the store recently (a live record in the verification
   * cache): synchronous, one HMAC. Lets a caller skip work meant for invented credentials;
   * the verification itself still decides.
   */
  isKnown(key: string): boolean;
}

/**
 * Creates the verifier. Options are validated here (`TypeError` naming the field).
 *
 * @example
 * const verifier = createApiKeyVerifier({
 *   hasher,
 *   findByHash: (hashes) => store.apiKeys.findByHash(hashes),
 *   cache: createVerificationCache(),
 *   lastUsed,
 * });
 * const decision = await verifier.verify(req.headers['x-api-key'], { scope: 'keys:verify' });
 * if (!decision.valid) throw new RampartError('INVALID_API_KEY'); // same 401 for every code
 */
export function createApiKeyVerifier(options: ApiKeyVerifierOptions): ApiKeyVerifier {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('(options): expected an options object');
  }
  const {
    hasher,
    findByHash,
    prefixes = [DEFAULT_API_KEY_PREFIX],
    acceptLegacyKeys = false,
    cache,
    lastUsed,
    checkRateLimit,
    consumeCredits,
    uniformTiming = true,
    now = Date.now,
  } = options;
  if (typeof hasher?.hash !== 'function') throw new TypeError('hasher: expected a KeyHasher');
  if (typeof findByHash !== 'function') throw new TypeError('findByHash: expected a function');
  if (!Array.isArray(prefixes) || prefixes.length === 0) {
    throw new TypeError('prefixes: expected a non-empty array of key prefixes');
  }
  prefixes.forEach((prefix, i) => {
    if (!isValidApiKeyPrefix(prefix)) {
      throw new TypeError(`prefixes[${i}]: not a valid key prefix: ${JSON.stringify(prefix)}`);
    }
  });
  if (acceptLegacyKeys && !hasher.legacySha256) {
    throw new TypeError('acceptLegacyKeys: needs a hasher created with legacySha256: true');
  }
  if (cache !== undefined && typeof cache.get !== 'function') {
    throw new TypeError('cache: expected a VerificationCache');
  }
  if (lastUsed !== undefined && typeof lastUsed.touch !== 'function') {
    throw new TypeError('lastUsed: expected an object with touch(id)');
  }
  if (checkRateLimit !== undefined && typeof checkRateLimit !== 'function') {
    throw new TypeError('checkRateLimit: expected a function');
  }
  if (consumeCredits !== undefined && typeof consumeCredits !== 'function') {
    throw new TypeError('consumeCredits: expected a function');
  }
  if (typeof now !== 'function') throw new TypeError('now: expected a function returning epoch ms');
  const parseOptions: ParseApiKeyOptions = { prefixes: [...prefixes], legacyHex: acceptLegacyKeys };

  async function lookup(key: string): Promise<ApiKeyRecord | null> {
    // The cache is keyed on the current-pepper hash of the presented key, whatever version the row holds.
    const cacheKey = hasher.hash(key);
    const cached = cache?.get(cacheKey);
    if (cached !== undefined) return cached;
    const found = await findByHash(hasher.candidates(key));
    const record = found != null && hasher.matches(found.hash, key) ? found : null;
    cache?.set(cacheKey, record);
    return record;
  }

  return {
    isKnown(key) {
      if (cache === undefined || typeof key !== 'string' || !parseApiKey(key, parseOptions).ok) return false;
      const record = cache.get(hasher.hash(key));
      return record !== undefined && record !== null;
    },
    async verify(key, verifyOptions = {}) {
      const { scope, cost = 1 } = verifyOptions;
      if (!Number.isSafeInteger(cost) || cost < 0) {
        throw new TypeError(`verify.cost: expected a whole number ≥ 0, got ${String(cost)}`);
      }
      const parsed = parseApiKey(key, parseOptions);
      if (!parsed.ok) {
        // Bounded: a megabyte header must not cost a megabyte of hashing.
        if (uniformTiming) hasher.hash(typeof key === 'string' ? key.slice(0, 96) : '');
        return { valid: false, code: 'NOT_FOUND', reason: parsed.reason };
      }
      const record = await lookup(key as string);
      const at = now();
      const decision = decideKey(record, scope === undefined ? { now: at } : { now: at, scope });
      if (!decision.valid || record === null) return decision;

      // A key of an identity draws on the identity's shared limits and credits even when it
      // has none of its own: skipping the calls would make such a key unlimited.
      const ofIdentity = record.identityId !== undefined && record.identityId !== null;
      if (record.rateLimit !== null || (ofIdentity && checkRateLimit !== undefined)) {
        const limited = checkRateLimit === undefined ? { allowed: false } : await checkRateLimit(record, at);
        const limits = 'limits' in limited ? limited.limits : undefined;
        if (!limited.allowed) {
          const refused: KeyDecision = { valid: false, code: 'RATE_LIMITED', keyId: record.id };
          if ('retryAfterMs' in limited && limited.retryAfterMs !== undefined)
            refused.retryAfterMs = limited.retryAfterMs;
          if (limits !== undefined && limits.length > 0) refused.limits = limits;
          return refused;
        }
        if (limits !== undefined && limits.length > 0) decision.limits = limits;
      }
      if (record.credits !== null || (ofIdentity && consumeCredits !== undefined)) {
        const spent =
          consumeCredits === undefined ? { allowed: false } : await consumeCredits(record, cost, at);
        if (!spent.allowed) return { valid: false, code: 'USAGE_EXCEEDED', keyId: record.id };
        if ('remaining' in spent && spent.remaining !== undefined) decision.remaining = spent.remaining;
      }
      lastUsed?.touch(record.id);
      return decision;
    },
  };
}
