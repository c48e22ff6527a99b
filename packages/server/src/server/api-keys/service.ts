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
import { budgetKeyOf } from 'rampart/internal/api-keys/record.ts';
import { isId } from 'rampart/internal/lib/ids.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { ResilientStore } from 'rampart/internal/rate-limit/resilient-store.ts';
import { effectiveLimits } from '../../storage/budgets.ts';
import type { ApiKeyPatch, RateLimitSpec, Storage } from '../../storage/types.ts';
import type { ServerConfig } from '../config.ts';
import type { Bus } from '../redis.ts';
import type { UsageRecorder } from '../usage.ts';
import { type BootstrapOutcome, bootstrapMatcher, ensureAdminKey } from './bootstrap.ts';
import { openKeyHasher } from './pepper.ts';

/** The channel on which instances tell each other which key ids to drop from their caches. */
export const INVALIDATION_CHANNEL = 'rampart:api-keys:invalidate';
/** How long a key's identity limits are trusted on an instance without hearing of a change, ms. */
const IDENTITY_TTL_MS = 5_000;

/** What an identity puts in force for its keys. */
interface IdentityInfo {
  rateLimits: RateLimitSpec[];
  hasCredits: boolean;
}

/** Stands in for a presented key when a lookup finds nothing (see `findByHash`). Never matches. */
const DECOY_KEY = `rk_live_${'0'.repeat(49)}`;

export type RotateOutcome =
  | RotatedApiKey
  | InvalidKeySettings
  | { ok: false; code: 'NOT_FOUND' | 'REVOKED' | 'EXPIRED' | 'CONFLICT' | 'ROTATED' };

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
  /** Counts verifications per key and identity (`storage.usage`, batched). */
  usage?: UsageRecorder;
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
  /** Changes a key (one store transaction) and drops it from every instance's cache. */
  update(id: string, patch: ApiKeyPatch): Promise<ApiKeyRecord | undefined>;
  /** Revokes (or, with `disable`, disables) every live key of an owner; answers their ids. */
  endOwnedBy(ownerId: string, how: 'revoke' | 'disable'): Promise<string[]>;
  /** Forgets the cached limits of an identity (`'*'`: of every identity) here and on every instance. */
  invalidateIdentity(id: string): Promise<void>;
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
  // Rotated once already: its successor is the key to rotate (the store refuses it too).
  if (record.rotatedTo !== undefined && record.rotatedTo !== null) return { ok: false, code: 'ROTATED' };
  const made = issuer.rotate(record, { gracePeriodMs });
  if (!made.ok) return made;
  const stored = await storage.apiKeys.insert(made.record, {
    id,
    expectedRevokedAt: record.revokedAt,
    revokedAt: made.previous.revokedAt!,
  });
  if (stored) return made;
  // Lost: to a rotation that got there first (its own clear answer), or to another change.
  const now = await storage.apiKeys.get(id);
  return { ok: false, code: now?.rotatedTo ? 'ROTATED' : 'CONFLICT' };
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
  const identityCache = new Map<string, { info: IdentityInfo | null; until: number }>();
  const dropFromCache = (id: string) => {
    if (id === '*') {
      cache.clear();
      identityCache.clear();
    } else if (isId(id, 'key')) cache.invalidate(id);
    else if (isId(id, 'idt')) identityCache.delete(id);
  };
  // Messages published while the subscription was down are lost: forget every cached key.
  await bus?.subscribe(INVALIDATION_CHANNEL, { onMessage: dropFromCache, onReconnect: () => cache.clear() });

  // What a key's identity puts in force (plan and overrides), read when it applies and kept a
  // few seconds; a change drops it on every instance at once (the bus), the TTL bounds the rest.
  const identityInfo = async (id: string, at: number): Promise<IdentityInfo | null> => {
    const hit = identityCache.get(id);
    if (hit !== undefined && hit.until > at) return hit.info;
    const identity = await storage.identities.get(id);
    let info: IdentityInfo | null = null;
    if (identity !== undefined) {
      const plan = identity.planId ? await storage.plans.get(identity.planId) : undefined;
      const limits = effectiveLimits(identity, plan);
      info = { rateLimits: limits.rateLimits, hasCredits: identity.credits !== null };
    }
    if (identityCache.size >= 10_000) identityCache.clear();
    identityCache.set(id, { info, until: at + IDENTITY_TTL_MS });
    return info;
  };

  // Per-key limits go through the policy's one resilient store: in Redis when configured (one
  // budget across instances), decided per instance while Redis is down, never skipped. A key's
  // own limit counts under its budget key, so a rotation chain shares one (`budgetKeyOf`); an
  // identity's limits count under the identity, so every key of it draws from them.
  const checkRateLimit = async (record: ApiKeyRecord, at: number) => {
    const checks: Array<{ name: string; key: string; limit: number; windowMs: number }> = [];
    if (record.rateLimit !== null) {
      checks.push({ name: 'api-key', key: `apikey:${budgetKeyOf(record)}`, ...record.rateLimit });
    }
    const identityId = record.identityId ?? null;
    if (identityId !== null) {
      const info = await identityInfo(identityId, at);
      for (const spec of info?.rateLimits ?? []) {
        const name = spec.name ?? 'default';
        checks.push({
          name: `identity-${name}`,
          key: `identity:${identityId}:${name}`,
          limit: spec.limit,
          windowMs: spec.windowMs,
        });
      }
    }
    const store = options.limits();
    const decided = await Promise.all(
      checks.map(async (c) => {
        const rule = { algorithm: 'sliding-window' as const, limit: c.limit, windowMs: c.windowMs };
        return { c, decision: (await store.decide(c.key, rule, at, 1, 'local')).decision };
      }),
    );
    const limits = decided.map(({ c, decision }) => ({
      name: c.name,
      limit: c.limit,
      windowMs: c.windowMs,
      remaining: decision.remaining,
      resetAt: decision.resetAt,
    }));
    const refused = decided.filter((d) => !d.decision.allowed);
    if (refused.length === 0) return { allowed: true, limits };
    // A unit taken by a limit that allowed goes back: the request did not happen.
    await Promise.all(
      decided
        .filter((d) => d.decision.allowed)
        .map(({ c }) =>
          store.refund(
            c.key,
            { algorithm: 'sliding-window', limit: c.limit, windowMs: c.windowMs },
            at,
            1,
            'store',
          ),
        ),
    );
    return {
      allowed: false,
      retryAfterMs: Math.max(...refused.map((d) => d.decision.retryAfterMs)),
      limits,
    };
  };

  // A lookup that finds a row (a revoked or expired key) also reads and decodes it, and the
  // verifier then checks the hash in constant time; a miss would skip both and answer ~10 µs
  // sooner, telling a revoked key from an invented one on first sight. So a miss reads a decoy
  // row (any key's, by id) and runs the same comparison against a decoy key.
  let decoyId = (await storage.apiKeys.list({ limit: 1 })).keys[0]?.id;
  // The identity of each key seen lately, for usage counts (the decision names only the key).
  const identityOfKey = new Map<string, string | null>();
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
    if (identityOfKey.size >= 100_000) identityOfKey.clear();
    identityOfKey.set(found.id, found.identityId ?? null);
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
      // A key without credits of its own whose identity has none either spends nothing: no
      // transaction on the request path for it.
      if (record.credits === null && record.identityId) {
        const info = await identityInfo(record.identityId, at);
        if (info !== null && !info.hasCredits) return { allowed: true };
      }
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
      if (decision.keyId !== undefined) {
        options.usage?.count(decision.keyId, identityOfKey.get(decision.keyId) ?? null, decision.code);
      }
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
    async update(id, patch) {
      const record = await storage.apiKeys.update(id, patch);
      if (record !== undefined) await invalidate(id);
      return record;
    },
    async endOwnedBy(ownerId, how) {
      const ended: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await storage.apiKeys.list({ ownerId, limit: 500, ...(cursor ? { cursor } : {}) });
        const at = now();
        for (const key of page.keys) {
          if (key.revokedAt !== null && key.revokedAt <= at) continue;
          if (how === 'disable' && key.disabledAt != null) continue;
          await storage.apiKeys.update(key.id, how === 'revoke' ? { revokedAt: at } : { disabledAt: at });
          await invalidate(key.id);
          ended.push(key.id);
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      return ended;
    },
    async invalidateIdentity(id) {
      if (id === '*') identityCache.clear();
      else identityCache.delete(id);
      await bus?.publish(INVALIDATION_CHANNEL, id === '*' ? '*' : id);
    },
    async close() {
      await lastUsed
        .stop()
        .catch((error: unknown) =>
          warn(`could not write API key last-used times: ${(error as Error).message}`),
        );
    },
  };
}
