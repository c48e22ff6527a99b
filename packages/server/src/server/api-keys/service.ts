/**
 * The server's API key service: the issuer and the verifier on the deployment's storage, with
 * a bounded verification cache that other instances invalidate over the bus, batched last-used
 * times, per-key rate limits on the policy's resilient store, credits through the store's
 * atomic spend, and the bootstrap admin key. The key logic itself lives in the library's
 * `api-keys/`; this file wires it to storage, the bus and the clock.
 */
import {
  type ApiKeyIssuer,
  type ApiKeyRecord,
  type ApiKeySettings,
  createApiKeyIssuer,
  createApiKeyVerifier,
  createLastUsedBatcher,
  createVerificationCache,
  decideKey,
  type InvalidKeySettings,
  type IssuedApiKey,
  type KeyDecision,
  type KeyHasher,
  type KeyVerificationCode,
  type RotatedApiKey,
  type VerificationCache,
  type VerifyApiKeyOptions,
} from 'rampart/internal/api-keys/index.ts';
import { isId } from 'rampart/internal/lib/ids.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { ResilientStore } from 'rampart/internal/rate-limit/resilient-store.ts';
import type { Storage } from '../../storage/types.ts';
import type { ServerConfig } from '../config.ts';
import type { Bus } from '../redis.ts';
import { type BootstrapOutcome, bootstrapMatcher, ensureAdminKey } from './bootstrap.ts';
import { openKeyHasher } from './pepper.ts';

/** The channel on which instances tell each other which key ids to drop from their caches. */
export const INVALIDATION_CHANNEL = 'rampart:api-keys:invalidate';
/** Stands in for a presented key when a lookup finds nothing (see `findByHash`). Never matches. */
const DECOY_KEY = `rk_live_${'0'.repeat(49)}`;

export type RotateOutcome =
  | RotatedApiKey
  | InvalidKeySettings
  | { ok: false; code: 'NOT_FOUND' | 'REVOKED' | 'EXPIRED' | 'CONFLICT' };

export interface ApiKeyServiceOptions {
  config: ServerConfig;
  storage: Storage;
  /** Where per-key rate limits are counted: the policy's store behind its resilient wrapper. */
  limits: () => ResilientStore;
  /** Cross-instance cache invalidation (with `REDIS_URL`). */
  bus?: Bus;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: Clock;
  /** Where `RAMPART_API_KEY_PEPPER` and `RAMPART_API_KEY_LEGACY_SHA256` are read. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Told of every verification's code (metrics). */
  onVerification?: (code: KeyVerificationCode) => void;
  /** Operational warnings (never holding a key). Default `process.emitWarning`. */
  warn?: (message: string) => void;
  /** Create the first admin key when none exists. Default true. */
  bootstrap?: boolean;
  /** Longest a cached key record is trusted, ms. Default 30 000. */
  cacheTtlMs?: number;
  /** Time between last-used writes, ms. Default 5 000. */
  lastUsedIntervalMs?: number;
}

export interface ApiKeyService {
  readonly hasher: KeyHasher;
  readonly issuer: ApiKeyIssuer;
  readonly bootstrap: BootstrapOutcome;
  /** Verifies a presented key (the bootstrap key included). A refusal is a value. */
  verify(key: unknown, options?: VerifyApiKeyOptions): Promise<KeyDecision>;
  /** Was this key found recently? (Cheap: lets the engine skip an invented-credential reservation.) */
  isKnown(key: string): boolean;
  /** Is this prefix-less text the bootstrap admin key? (One HMAC, constant-time.) */
  isBootstrapKey(text: string): boolean;
  /** Issues and stores a key; the plaintext is in the answer, once. */
  create(settings: ApiKeySettings): Promise<IssuedApiKey | InvalidKeySettings>;
  /** Revokes now (never later than an end already set); undefined when no such key. */
  revoke(id: string): Promise<ApiKeyRecord | undefined>;
  /** A new key with the same settings; the old one ends after `gracePeriodMs`. */
  rotate(id: string, gracePeriodMs: number): Promise<RotateOutcome>;
  /** Drops a key from this instance's cache and tells the others. */
  invalidate(id: string): Promise<void>;
  /** Flushes last-used times. */
  close(): Promise<void>;
}

/**
 * Rotates key `id` in the store: a new key with the same settings, and the old one's end
 * moved to `now + gracePeriodMs`, in one compare-and-set (`CONFLICT` when another request
 * changed the key meanwhile). The caller drops the old key from caches.
 */
export async function rotateStoredKey(
  storage: Storage,
  issuer: ApiKeyIssuer,
  id: string,
  gracePeriodMs: number,
): Promise<RotateOutcome> {
  const record = await storage.apiKeys.get(id);
  if (record === undefined) return { ok: false, code: 'NOT_FOUND' };
  const made = issuer.rotate(record, { gracePeriodMs });
  if (!made.ok) return made;
  const stored = await storage.apiKeys.insert(made.record, {
    id,
    expectedRevokedAt: record.revokedAt,
    revokedAt: made.previous.revokedAt!,
  });
  return stored ? made : { ok: false, code: 'CONFLICT' };
}

/**
 * A cache that does not store a lookup which raced an invalidation: a record read from the
 * store just before another instance revoked it must not be cached after the "drop it"
 * message arrived (it would live for the whole TTL).
 */
function guardedCache(cache: VerificationCache): VerificationCache {
  let generation = 0;
  const missedAt = new Map<string, number>();
  return {
    ...cache,
    get(hash) {
      const found = cache.get(hash);
      if (found === undefined) {
        if (missedAt.size > 10_000) missedAt.clear();
        missedAt.set(hash, generation);
      }
      return found;
    },
    set(hash, record) {
      const at = missedAt.get(hash);
      missedAt.delete(hash);
      if (at !== undefined && at !== generation) return;
      cache.set(hash, record);
    },
    invalidate(id) {
      generation++;
      return cache.invalidate(id);
    },
    clear() {
      generation++;
      cache.clear();
    },
  };
}

/**
 * Creates the API key service of a server.
 *
 * @example
 * const apiKeys = await createApiKeyService({ config, storage, limits: () => rampart.limits.store, bus, now });
 * // on shutdown, after the HTTP server stopped:
 * await apiKeys.close();
 */
export async function createApiKeyService(options: ApiKeyServiceOptions): Promise<ApiKeyService> {
  const { config, storage, onVerification, bus } = options;
  const now = options.now ?? Date.now;
  const env = options.env ?? process.env;
  const warn = options.warn ?? ((message: string) => process.emitWarning(message));
  const hasher = await openKeyHasher({ env, dataDir: config.dataDir, storage, warn });
  const issuer = createApiKeyIssuer({ hasher, prefix: config.apiKeys.prefix, now });
  const cache = guardedCache(createVerificationCache({ now, ttlMs: options.cacheTtlMs ?? 30_000 }));
  const lastUsed = createLastUsedBatcher({
    flush: (entries) => storage.apiKeys.touchMany(entries),
    intervalMs: options.lastUsedIntervalMs ?? 5_000,
    now,
    onError: (error) => warn(`could not write API key last-used times: ${(error as Error).message}`),
  });
  const dropFromCache = (id: string) => {
    if (id === '*') cache.clear();
    else if (isId(id, 'key')) cache.invalidate(id);
  };
  // Messages published while the subscription was down are lost: forget every cached key.
  await bus?.subscribe(INVALIDATION_CHANNEL, { onMessage: dropFromCache, onReconnect: () => cache.clear() });

  // Per-key limits go through the policy's one resilient store: in Redis when configured (one
  // budget across instances), decided per instance while Redis is down, never skipped.
  const checkRateLimit = async (record: ApiKeyRecord, at: number) => {
    const rule = {
      algorithm: 'sliding-window' as const,
      limit: record.rateLimit!.limit,
      windowMs: record.rateLimit!.windowMs,
    };
    const { decision } = await options.limits().decide(`apikey:${record.id}`, rule, at, 1, 'local');
    return { allowed: decision.allowed, retryAfterMs: decision.retryAfterMs };
  };

  // A lookup that finds a row (a revoked or expired key) also reads and decodes it, and the
  // verifier then checks the hash in constant time; a miss would skip both and answer ~10 µs
  // sooner, telling a revoked key from an invented one on first sight. So a miss reads a decoy
  // row (any key's, by id) and runs the same comparison against a decoy key.
  let decoyId = (await storage.apiKeys.list({ limit: 1 })).keys[0]?.id;
  const findByHash = async (hashes: readonly string[]) => {
    const found = await storage.apiKeys.findByHash(hashes);
    if (found === undefined) {
      if (decoyId !== undefined) {
        try {
          // Not awaited: the decoy's answer is not needed, only the work of reading it.
          const decoy = storage.apiKeys.get(decoyId);
          if (decoy instanceof Promise) decoy.catch(() => {});
        } catch {}
      }
      hasher.matches(hashes[0] ?? '', DECOY_KEY);
      return found;
    }
    decoyId = found.id;
    // hashes[0] is the current pepper's: a row under an older pepper (or imported SHA-256) is
    // re-hashed on its first use, so the old pepper can be dropped once none remain.
    const current = hashes[0];
    if (current !== undefined && found.hash !== current && hashes.includes(found.hash)) {
      Promise.resolve(storage.apiKeys.update(found.id, { hash: current })).catch((error: unknown) =>
        warn(`could not re-hash API key ${found.id}: ${(error as Error).message}`),
      );
    }
    return found;
  };

  const isBootstrapKey = bootstrapMatcher(hasher, config.bootstrapAdminKey);
  const verifier = createApiKeyVerifier({
    hasher,
    // The bootstrap check pays the one HMAC the uniform timing would have paid for a refused format.
    uniformTiming: config.bootstrapAdminKey === undefined,
    findByHash,
    prefixes: [config.apiKeys.prefix],
    acceptLegacyKeys: hasher.legacySha256,
    cache,
    lastUsed,
    checkRateLimit,
    consumeCredits: async (record, cost, at) => {
      const spent = await storage.apiKeys.spendCredits(record.id, cost, at);
      if (spent === undefined) return { allowed: false };
      return spent.remaining === null
        ? { allowed: spent.allowed }
        : { allowed: spent.allowed, remaining: spent.remaining };
    },
    now,
  });

  async function verifyBootstrap(key: string, verifyOptions: VerifyApiKeyOptions): Promise<KeyDecision> {
    const cacheKey = hasher.hash(key);
    let record = cache.get(cacheKey);
    if (record === undefined) {
      const found = await storage.apiKeys.findByHash(hasher.candidates(key));
      record = found !== undefined && hasher.matches(found.hash, key) ? found : null;
      cache.set(cacheKey, record);
    }
    const decision = decideKey(record, { now: now(), scope: verifyOptions.scope });
    if (decision.valid) lastUsed.touch(decision.keyId);
    return decision;
  }

  const bootstrap =
    options.bootstrap === false
      ? ({ kind: 'skipped' } as const)
      : await ensureAdminKey({
          dataDir: config.dataDir,
          bootstrapAdminKey: config.bootstrapAdminKey,
          storage,
          hasher,
          issuer,
          now,
          warn,
        });

  async function invalidate(id: string): Promise<void> {
    dropFromCache(id);
    await bus?.publish(INVALIDATION_CHANNEL, id);
  }

  return {
    hasher,
    issuer,
    bootstrap,
    async verify(key, verifyOptions = {}) {
      let decision = await verifier.verify(key, verifyOptions);
      if (!decision.valid && decision.reason !== undefined && isBootstrapKey(key)) {
        decision = await verifyBootstrap(key as string, verifyOptions);
      }
      onVerification?.(decision.code);
      return decision;
    },
    // The bootstrap key fails the key format, so the verifier's own check cannot know it.
    isKnown: (key) =>
      verifier.isKnown(key) ||
      (config.bootstrapAdminKey !== undefined && (cache.get(hasher.hash(key)) ?? null) !== null),
    isBootstrapKey: (text) => isBootstrapKey(text),
    async create(settings) {
      const made = issuer.issue(settings);
      if (!made.ok) return made;
      if (!(await storage.apiKeys.insert(made.record))) throw new Error('API key id or hash collision');
      return made;
    },
    async revoke(id) {
      const record = await storage.apiKeys.update(id, { revokedAt: now() });
      if (record !== undefined) await invalidate(id);
      return record;
    },
    async rotate(id, gracePeriodMs) {
      const made = await rotateStoredKey(storage, issuer, id, gracePeriodMs);
      if (made.ok) await invalidate(id);
      return made;
    },
    invalidate,
    async close() {
      await lastUsed
        .stop()
        .catch((error: unknown) =>
          warn(`could not write API key last-used times: ${(error as Error).message}`),
        );
    },
  };
}
