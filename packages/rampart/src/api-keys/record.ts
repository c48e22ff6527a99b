/**
 * The stored API key record, its public view, and the pure operations that make records:
 * issuing a key and rotating one. Nothing here does I/O; the caller stores what comes back.
 */
import type { FieldError } from '../errors.ts';
import { newId } from '../lib/ids.ts';
import type { Clock } from '../lib/types.ts';
import { assertApiKeyPrefix, DEFAULT_API_KEY_PREFIX, generateApiKey, isValidApiKeyPrefix } from './format.ts';
import type { KeyHasher } from './hashing.ts';

/** Credits refill: `amount` is added per elapsed `intervalMs`, up to `max`. */
export interface CreditRefill {
  /** Credits added per interval. */
  amount: number;
  /** Interval length in milliseconds. */
  intervalMs: number;
  /** Epoch ms of the last refill boundary; refills are computed lazily from it. */
  lastRefillAt: number;
  /**
   * Refill never lifts `remaining` above this (default `amount`: each interval tops the
   * balance up to `amount`, as a monthly quota does). Refill never lowers a balance.
   */
  max?: number;
}

/** A key's usage credits: each verification spends some; none left answers `USAGE_EXCEEDED`. */
export interface ApiKeyCredits {
  remaining: number;
  refill?: CreditRefill;
}

/** A per-key rate limit, enforced by the rate limiter (`RATE_LIMITED`). */
export interface ApiKeyRateLimit {
  limit: number;
  windowMs: number;
}

/** An API key as stored. Times are epoch milliseconds. Treat records as immutable values. */
export interface ApiKeyRecord {
  /** `key_` and 22 base62 characters. */
  id: string;
  /** `v1:<base64url>` (HMAC under pepper v1) or `sha256:<hex>` (imported). Never shown. */
  hash: string;
  /** Non-secret display form, `rk_live_3hK9…`. */
  hint: string;
  /** The key's prefix (`''` for an imported tutorial key). */
  prefix: string;
  name: string;
  /** The owning user's id; `null` for an admin key. */
  ownerId: string | null;
  /** Exact strings; `admin` implies every scope. */
  scopes: string[];
  createdAt: number;
  /** The first instant the key is refused as `EXPIRED`; `null` for never. */
  expiresAt: number | null;
  /** Written in batches (see `createLastUsedBatcher`), so it may lag by an interval. */
  lastUsedAt: number | null;
  /** The first instant the key is refused as `REVOKED` (a future value is a scheduled revocation: rotation's grace). */
  revokedAt: number | null;
  metadata: Record<string, unknown>;
  credits: ApiKeyCredits | null;
  rateLimit: ApiKeyRateLimit | null;
  /** The id of the key this one replaced by rotation. */
  rotatedFrom?: string | null;
  /**
   * The id of the key that replaced this one by rotation; `null` until then. A key is rotated
   * once: stores set it in the same compare-and-set that writes the successor.
   */
  rotatedTo?: string | null;
  /**
   * When the key was disabled (epoch ms); `null` or absent while enabled. A disabled key is
   * refused as `DISABLED` whatever the time, and clearing this enables it again with the
   * same secret (unlike `revokedAt`, which is final).
   */
  disabledAt?: number | null;
  /** The identity (a customer, team or service) the key belongs to; `null` for none. */
  identityId?: string | null;
  /**
   * The key whose row holds the credits and the per-key rate limit this key spends: the first
   * key of its rotation chain, so a key and its successors share one budget (rotation is
   * not a top-up). `null` or absent: the key's own. Stores answer `credits` and `rateLimit`
   * as the budget key holds them; see {@link budgetKeyOf}.
   */
  budgetKeyId?: string | null;
}

/**
 * The id that owns a key's budget: the credits it spends and the identity its per-key rate
 * limit counts under. A key and its rotated successors answer the same id, so rotating a key
 * never adds a second window or a second balance.
 *
 * @example
 * limiter.consume(budgetKeyOf(record), { limit: record.rateLimit.limit, windowMs: record.rateLimit.windowMs }, now);
 */
export function budgetKeyOf(record: Pick<ApiKeyRecord, 'id' | 'budgetKeyId'>): string {
  return record.budgetKeyId ?? record.id;
}

/** A record without its hash: what lists, reads and the CLI show. */
export type PublicApiKey = Omit<ApiKeyRecord, 'hash'>;

/**
 * The public view of a record. Fields are picked one by one, so a field added to the stored
 * row later (or a store's extra column) is not shown until someone adds it here.
 *
 * @example
 * reply.send({ keys: records.map(toPublicKey) });
 */
export function toPublicKey(record: ApiKeyRecord): PublicApiKey {
  return {
    id: record.id,
    hint: record.hint,
    prefix: record.prefix,
    name: record.name,
    ownerId: record.ownerId,
    scopes: [...record.scopes],
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    lastUsedAt: record.lastUsedAt,
    revokedAt: record.revokedAt,
    metadata: { ...record.metadata },
    credits:
      record.credits === null
        ? null
        : {
            remaining: record.credits.remaining,
            ...(record.credits.refill ? { refill: { ...record.credits.refill } } : {}),
          },
    rateLimit: record.rateLimit === null ? null : { ...record.rateLimit },
    rotatedFrom: record.rotatedFrom ?? null,
    rotatedTo: record.rotatedTo ?? null,
    disabledAt: record.disabledAt ?? null,
    identityId: record.identityId ?? null,
    budgetKeyId: record.budgetKeyId ?? null,
  };
}

/** What a caller chooses when creating a key (the body of `POST /v1/keys`, say). */
export interface ApiKeySettings {
  /** 1–200 characters, no control characters. */
  name: string;
  /** The owning user's id; `null` or absent for an admin key. */
  ownerId?: string | null;
  /** The identity the key belongs to (1–128 characters); `null` or absent for none. */
  identityId?: string | null;
  /** Up to 64 scope names; duplicates are dropped. Default none. */
  scopes?: readonly string[];
  /** Epoch ms, after the creation time; `null` or absent for never. */
  expiresAt?: number | null;
  /** A JSON object of at most 8 KiB once serialised. Default `{}`. */
  metadata?: Record<string, unknown>;
  credits?: { remaining: number; refill?: { amount: number; intervalMs: number; max?: number } } | null;
  rateLimit?: ApiKeyRateLimit | null;
}

/**
 * A scope name: letters, digits and `_ . : -`, 1–64 characters. No `*`: scopes are exact strings.
 * @example SCOPE_NAME.test('keys:verify') // true; SCOPE_NAME.test('keys:*') // false
 */
export const SCOPE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const MAX_SCOPES = 64;
const MAX_NAME = 200;
const MAX_OWNER_ID = 128;
const MAX_METADATA_JSON = 8192;
// Names are shown in terminals and UIs: no control characters (ANSI escape injection).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isPositive = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks key settings; an empty list means they are valid. Paths are JSON Pointers into the
 * settings, ready for a 400 `VALIDATION_FAILED` answer.
 *
 * @example
 * const errors = checkKeySettings(body, Date.now());
 * if (errors.length > 0) throw new RampartError('VALIDATION_FAILED', { errors });
 */
export function checkKeySettings(settings: unknown, now: number): FieldError[] {
  const errors: FieldError[] = [];
  const fail = (path: string, code: string, message: string) => errors.push({ path, code, message });
  if (!isPlainObject(settings)) {
    fail('', 'INVALID_TYPE', 'expected an object');
    return errors;
  }
  const { name, ownerId, identityId, scopes, expiresAt, metadata, credits, rateLimit } = settings;

  if (typeof name !== 'string' || name.length === 0)
    fail('/name', 'REQUIRED', 'a non-empty name is required');
  else if (name.length > MAX_NAME) fail('/name', 'TOO_LONG', `at most ${MAX_NAME} characters`);
  else if (CONTROL.test(name)) fail('/name', 'INVALID_FORMAT', 'control characters are not allowed');

  if (ownerId !== undefined && ownerId !== null) {
    if (typeof ownerId !== 'string' || ownerId.length === 0 || ownerId.length > MAX_OWNER_ID) {
      fail('/ownerId', 'INVALID_TYPE', `expected null or a user id of 1-${MAX_OWNER_ID} characters`);
    }
  }

  if (identityId !== undefined && identityId !== null) {
    if (typeof identityId !== 'string' || identityId.length === 0 || identityId.length > MAX_OWNER_ID) {
      fail('/identityId', 'INVALID_TYPE', `expected null or an identity id of 1-${MAX_OWNER_ID} characters`);
    }
  }

  if (scopes !== undefined) {
    if (!Array.isArray(scopes)) fail('/scopes', 'INVALID_TYPE', 'expected an array of scope names');
    else if (scopes.length > MAX_SCOPES) fail('/scopes', 'TOO_MANY', `at most ${MAX_SCOPES} scopes`);
    else {
      scopes.forEach((scope, i) => {
        if (typeof scope !== 'string' || !SCOPE_NAME.test(scope)) {
          fail(`/scopes/${i}`, 'INVALID_FORMAT', 'a scope is 1-64 letters, digits or _ . : - (no wildcards)');
        }
      });
    }
  }

  if (expiresAt !== undefined && expiresAt !== null) {
    if (!isCount(expiresAt)) fail('/expiresAt', 'INVALID_TYPE', 'expected epoch milliseconds or null');
    else if (expiresAt <= now) fail('/expiresAt', 'OUT_OF_RANGE', 'must be in the future');
  }

  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) fail('/metadata', 'INVALID_TYPE', 'expected an object');
    else {
      let size = Number.POSITIVE_INFINITY;
      try {
        size = JSON.stringify(metadata).length;
      } catch {
        fail('/metadata', 'INVALID_TYPE', 'expected a JSON object');
      }
      if (Number.isFinite(size) && size > MAX_METADATA_JSON) {
        fail('/metadata', 'TOO_LONG', `at most ${MAX_METADATA_JSON} characters as JSON`);
      }
    }
  }

  if (credits !== undefined && credits !== null) {
    if (!isPlainObject(credits)) fail('/credits', 'INVALID_TYPE', 'expected an object or null');
    else {
      if (!isCount(credits.remaining))
        fail('/credits/remaining', 'INVALID_TYPE', 'expected a whole number ≥ 0');
      const refill = credits.refill;
      if (refill !== undefined) {
        if (!isPlainObject(refill)) fail('/credits/refill', 'INVALID_TYPE', 'expected an object');
        else {
          if (!isPositive(refill.amount))
            fail('/credits/refill/amount', 'INVALID_TYPE', 'expected a whole number > 0');
          if (!isPositive(refill.intervalMs)) {
            fail('/credits/refill/intervalMs', 'INVALID_TYPE', 'expected milliseconds > 0');
          }
          if (refill.max !== undefined && !isPositive(refill.max)) {
            fail('/credits/refill/max', 'INVALID_TYPE', 'expected a whole number > 0');
          }
        }
      }
    }
  }

  if (rateLimit !== undefined && rateLimit !== null) {
    if (!isPlainObject(rateLimit)) fail('/rateLimit', 'INVALID_TYPE', 'expected an object or null');
    else {
      if (!isPositive(rateLimit.limit))
        fail('/rateLimit/limit', 'INVALID_TYPE', 'expected a whole number > 0');
      if (!isPositive(rateLimit.windowMs))
        fail('/rateLimit/windowMs', 'INVALID_TYPE', 'expected milliseconds > 0');
    }
  }
  return errors;
}

export interface ApiKeyIssuerOptions {
  /** Hashes the new keys (`hasher.hash`, current pepper). */
  hasher: KeyHasher;
  /** Prefix of new keys. Default `rk_live_`. */
  prefix?: string;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: Clock;
  /** Base62 source for the random part; for tests only. Default the CSPRNG. */
  random?: (count: number) => string;
}

/** A new key: the plaintext (show it once) and the record to store. */
export interface IssuedApiKey {
  ok: true;
  key: string;
  record: ApiKeyRecord;
}

/** A rotation: the new key and record, and the old record with its scheduled revocation. */
export interface RotatedApiKey extends IssuedApiKey {
  previous: ApiKeyRecord;
}

export interface InvalidKeySettings {
  ok: false;
  code: 'VALIDATION_FAILED';
  errors: FieldError[];
}

export interface RotateApiKeyOptions {
  /** How long the old key keeps working, ms. Default 0: refused at once. */
  gracePeriodMs?: number;
}

export interface ApiKeyIssuer {
  /** A new key from settings, or the field errors that stop it. */
  issue(settings: ApiKeySettings): IssuedApiKey | InvalidKeySettings;
  /**
   * A new key with the settings of `record` (same name, owner, identity, scopes, expiry,
   * metadata, credits, limit and disabled state; rotation never extends a key's life) and
   * `rotatedFrom` set, plus the old record with `revokedAt` moved to `now + gracePeriodMs` (or
   * kept if sooner). The new key shares the old one's budget (`budgetKeyId`): during the grace
   * period both spend one balance and count under one rate limit. Store both in one
   * transaction that also refuses a key already rotated (`rotatedTo`). A revoked or expired
   * key cannot be rotated.
   */
  rotate(
    record: ApiKeyRecord,
    options?: RotateApiKeyOptions,
  ): RotatedApiKey | InvalidKeySettings | { ok: false; code: 'REVOKED' | 'EXPIRED' };
}

/**
 * Creates the issuer of keys and rotations. Options are validated here (`TypeError` naming
 * the field).
 *
 * @example
 * const issuer = createApiKeyIssuer({ hasher, prefix: 'rk_live_' });
 * const made = issuer.issue({ name: 'ci', ownerId: user.id, scopes: ['read'] });
 * if (!made.ok) throw new RampartError('VALIDATION_FAILED', { errors: made.errors });
 * await store.insert(made.record);
 * return { ...toPublicKey(made.record), key: made.key }; // the plaintext, this once
 */
export function createApiKeyIssuer(options: ApiKeyIssuerOptions): ApiKeyIssuer {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('apiKeys: expected an options object');
  const { hasher, prefix = DEFAULT_API_KEY_PREFIX, now = Date.now, random } = options;
  if (typeof hasher?.hash !== 'function')
    throw new TypeError('apiKeys.hasher: expected a KeyHasher (createKeyHasher)');
  assertApiKeyPrefix(prefix, 'apiKeys.prefix');
  if (typeof now !== 'function') throw new TypeError('apiKeys.now: expected a function returning epoch ms');
  if (random !== undefined && typeof random !== 'function')
    throw new TypeError('apiKeys.random: expected a function');

  function make(
    settings: ApiKeySettings,
    at: number,
    keyPrefix: string,
  ): { key: string; record: ApiKeyRecord } {
    const generated = generateApiKey(keyPrefix, random);
    const credits = settings.credits ?? null;
    const record: ApiKeyRecord = {
      id: newId('key'),
      hash: hasher.hash(generated.key),
      hint: generated.hint,
      prefix: generated.prefix,
      name: settings.name,
      ownerId: settings.ownerId ?? null,
      scopes: [...new Set(settings.scopes ?? [])],
      createdAt: at,
      expiresAt: settings.expiresAt ?? null,
      lastUsedAt: null,
      revokedAt: null,
      metadata: { ...(settings.metadata ?? {}) },
      credits:
        credits === null
          ? null
          : {
              remaining: credits.remaining,
              ...(credits.refill
                ? {
                    refill: {
                      amount: credits.refill.amount,
                      intervalMs: credits.refill.intervalMs,
                      lastRefillAt: at,
                      ...(credits.refill.max !== undefined ? { max: credits.refill.max } : {}),
                    },
                  }
                : {}),
            },
      rateLimit: settings.rateLimit
        ? { limit: settings.rateLimit.limit, windowMs: settings.rateLimit.windowMs }
        : null,
      rotatedFrom: null,
      rotatedTo: null,
      disabledAt: null,
      identityId: settings.identityId ?? null,
      budgetKeyId: null,
    };
    return { key: generated.key, record };
  }

  return {
    issue(settings) {
      const at = now();
      const errors = checkKeySettings(settings, at);
      if (errors.length > 0) return { ok: false, code: 'VALIDATION_FAILED', errors };
      return { ok: true, ...make(settings, at, prefix) };
    },
    rotate(record, rotateOptions = {}) {
      const { gracePeriodMs = 0 } = rotateOptions;
      if (!isCount(gracePeriodMs)) {
        return {
          ok: false,
          code: 'VALIDATION_FAILED',
          errors: [{ path: '/gracePeriodMs', code: 'INVALID_TYPE', message: 'expected milliseconds ≥ 0' }],
        };
      }
      const at = now();
      if (record.revokedAt !== null && at >= record.revokedAt) return { ok: false, code: 'REVOKED' };
      if (record.expiresAt !== null && at >= record.expiresAt) return { ok: false, code: 'EXPIRED' };
      // A test key stays a test key; an imported tutorial key (no prefix) becomes a current-format key.
      const keyPrefix = isValidApiKeyPrefix(record.prefix) ? record.prefix : prefix;
      const made = make(
        {
          name: record.name,
          ownerId: record.ownerId,
          scopes: record.scopes,
          expiresAt: record.expiresAt,
          metadata: record.metadata,
          rateLimit: record.rateLimit,
        },
        at,
        keyPrefix,
      );
      // Credits carry over as they stand (refill phase included) and stay one balance with the
      // old key's: rotation is not a top-up (three rotations must not triple a quota).
      made.record.credits = toPublicKey(record).credits;
      made.record.budgetKeyId = budgetKeyOf(record);
      made.record.identityId = record.identityId ?? null;
      // Rotation issues a new secret; it does not lift a suspension.
      made.record.disabledAt = record.disabledAt ?? null;
      made.record.rotatedFrom = record.id;
      const end = at + gracePeriodMs;
      const previous: ApiKeyRecord = {
        ...record,
        revokedAt: record.revokedAt === null ? end : Math.min(record.revokedAt, end),
      };
      return { ok: true, key: made.key, record: made.record, previous };
    },
  };
}
