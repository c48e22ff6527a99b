/**
 * Pure verification decisions: what a key record, a required scope and the time say. Every
 * refusal is a value with a stable code, never an exception.
 *
 * Precedence, first match wins (and a refusal spends nothing further down the list):
 *
 * 1. `NOT_FOUND`: no record (malformed, bad checksum, other prefix, or unknown hash);
 * 2. `REVOKED`: `revokedAt` reached (a revoked key stays revoked even once it would have expired);
 * 3. `EXPIRED`: `expiresAt` reached;
 * 4. `DISABLED`: `disabledAt` is set (after the final states: enabling a revoked or expired
 *    key would not make it usable, so those are the truer answer; before scope, limits and
 *    credits, so a suspended key spends nothing);
 * 5. `INSUFFICIENT_SCOPE`: the key lacks a required scope (checked before any limit or
 *    credit, so a key probing routes it may not call spends neither);
 * 6. `RATE_LIMITED`: the per-key rate limit (from the rate limiter);
 * 7. `USAGE_EXCEEDED`: no credits left (see {@link applyCredits}).
 *
 * Steps 1–5 are {@link decideKey}; `createApiKeyVerifier` runs 6 and 7 through the stores.
 */
import type { ApiKeyCredits, ApiKeyRecord } from './record.ts';

/**
 * The scope that implies every other.
 * @example hasScope([ADMIN_SCOPE], 'audit:read') // true
 */
export const ADMIN_SCOPE = 'admin';

/**
 * The scopes Rampart's own routes check (API.md). Applications add their own.
 * @example BUILTIN_SCOPES.includes('keys:verify') // true
 */
export const BUILTIN_SCOPES = ['admin', 'keys:write', 'keys:verify', 'audit:read'] as const;

/** Why a key was refused. Stable: the `code` of `POST /v1/keys/verify`. */
export type KeyDenialCode =
  | 'NOT_FOUND'
  | 'EXPIRED'
  | 'REVOKED'
  | 'DISABLED'
  | 'INSUFFICIENT_SCOPE'
  | 'RATE_LIMITED'
  | 'USAGE_EXCEEDED';

/**
 * A limit that applied to a key's use: the key's own (`rateLimit`) or its identity's shared
 * ones. The engine names them in `RateLimit-Policy` and `RateLimit`.
 */
export interface KeyLimitStatus {
  /** The policy name in the headers (`api-key`, `identity-burst`). */
  name: string;
  limit: number;
  windowMs: number;
  remaining: number;
  /** When more quota is available, epoch ms. */
  resetAt: number;
}

/** Every verification code. */
export type KeyVerificationCode = 'VALID' | KeyDenialCode;

/** A key that may be used. */
export interface ValidKey {
  valid: true;
  code: 'VALID';
  keyId: string;
  ownerId: string | null;
  scopes: string[];
  expiresAt: number | null;
  /** Credits left after this use, when the key has credits. */
  remaining?: number;
  /** The rate limits that applied (the key's own, its identity's). */
  limits?: KeyLimitStatus[];
}

/** A refused key. Over HTTP every refusal is the same 401; the code is for logs, metrics and `/v1/keys/verify`. */
export interface RefusedKey {
  valid: false;
  code: KeyDenialCode;
  /** The key's id when a record was found (never for `NOT_FOUND`). */
  keyId?: string;
  /** For `NOT_FOUND` from parsing: which cheap check refused it. Log it; do not send it. */
  reason?: 'FORMAT' | 'CHECKSUM' | 'PREFIX';
  /** For `RATE_LIMITED`: when to try again, ms. */
  retryAfterMs?: number;
  /** For `RATE_LIMITED`: the limits that applied. */
  limits?: KeyLimitStatus[];
}

/** What a verification answers. */
export type KeyDecision = ValidKey | RefusedKey;

export interface DecideKeyOptions {
  /** The time of the request, epoch ms. */
  now: number;
  /** Scope(s) the request needs; with several, all are needed. */
  scope?: string | readonly string[];
}

const NOT_FOUND: RefusedKey = Object.freeze({ valid: false, code: 'NOT_FOUND' });

/**
 * Does a key with `granted` scopes hold every `required` one? `admin` implies all. Scopes are
 * exact strings: `keys:*` is a scope named `keys:*`, not a wildcard (and `checkKeySettings`
 * refuses `*`), so no scope grants more than its own name.
 *
 * @example
 * hasScope(['keys:verify'], 'keys:verify') // true
 * hasScope(['keys:verify'], 'keys:write')  // false
 * hasScope(['admin'], 'audit:read')        // true
 */
export function hasScope(granted: readonly string[], required: string | readonly string[]): boolean {
  if (granted.includes(ADMIN_SCOPE)) return true;
  if (typeof required === 'string') return granted.includes(required);
  for (const scope of required) if (!granted.includes(scope)) return false;
  return true;
}

/**
 * Decides a key from its record: `NOT_FOUND`, `REVOKED`, `EXPIRED`, `DISABLED`,
 * `INSUFFICIENT_SCOPE`, in that order, else `VALID`. Times are inclusive: at `expiresAt` the
 * key is already expired. A disabled key is refused whatever `disabledAt` says (a value set
 * by an instance whose clock runs ahead must not leave a window), and works again once the
 * field is cleared. Pure: limits and credits are the caller's next steps.
 *
 * @example
 * const decision = decideKey(record, { now: Date.now(), scope: 'keys:verify' });
 * if (!decision.valid) return decision; // { valid: false, code: 'EXPIRED', keyId }
 */
export function decideKey(record: ApiKeyRecord | null | undefined, options: DecideKeyOptions): KeyDecision {
  if (record === undefined || record === null) return NOT_FOUND;
  const { now, scope } = options;
  if (record.revokedAt !== null && now >= record.revokedAt)
    return { valid: false, code: 'REVOKED', keyId: record.id };
  if (record.expiresAt !== null && now >= record.expiresAt)
    return { valid: false, code: 'EXPIRED', keyId: record.id };
  if (record.disabledAt !== undefined && record.disabledAt !== null)
    return { valid: false, code: 'DISABLED', keyId: record.id };
  if (scope !== undefined && !hasScope(record.scopes, scope)) {
    return { valid: false, code: 'INSUFFICIENT_SCOPE', keyId: record.id };
  }
  return {
    valid: true,
    code: 'VALID',
    keyId: record.id,
    ownerId: record.ownerId,
    scopes: [...record.scopes],
    expiresAt: record.expiresAt,
  };
}

/**
 * Credits after the refills due at `now`. Each whole `intervalMs` elapsed since
 * `lastRefillAt` adds `amount`, up to `max` (default `amount`); a balance already above the
 * cap is left alone, never lowered. `lastRefillAt` advances by whole intervals, so the refill
 * phase does not drift with the times keys happen to be used.
 *
 * @example
 * // 100 per hour, 10 left, 2.5 hours later: topped up to the cap of 100
 * refillCredits({ remaining: 10, refill: { amount: 100, intervalMs: 3_600_000, lastRefillAt: 0 } }, 9_000_000)
 * // → { remaining: 100, refill: { amount: 100, intervalMs: 3_600_000, lastRefillAt: 7_200_000 } }
 */
export function refillCredits(credits: ApiKeyCredits, now: number): ApiKeyCredits {
  const refill = credits.refill;
  if (refill === undefined) return credits;
  const elapsed = now - refill.lastRefillAt;
  // A clock behind lastRefillAt (another instance's skew) refills nothing.
  if (!(elapsed >= refill.intervalMs)) return credits;
  const periods = Math.floor(elapsed / refill.intervalMs);
  const cap = refill.max ?? refill.amount;
  const topped = Math.min(credits.remaining + periods * refill.amount, cap);
  return {
    remaining: Math.max(credits.remaining, topped),
    refill: { ...refill, lastRefillAt: refill.lastRefillAt + periods * refill.intervalMs },
  };
}

/** What {@link applyCredits} answers: whether the use is allowed, and the credits to store. */
export interface CreditsOutcome {
  allowed: boolean;
  /** The new state (refilled; and spent when allowed). `null` when the key has no credits. */
  credits: ApiKeyCredits | null;
}

/**
 * Spends `cost` credits at `now`, after due refills. A key without credits (`null`) is
 * unlimited. When fewer than `cost` remain, nothing is spent and `allowed` is false: answer
 * `USAGE_EXCEEDED`. Pure: a store runs it inside its own atomic step (a transaction, a Lua
 * script) so two instances cannot spend the same credit.
 *
 * @param cost credits this use spends, a whole number ≥ 0 (0 checks without spending). Default 1.
 * @example
 * const { allowed, credits } = applyCredits(record.credits, now);
 * if (!allowed) return { valid: false, code: 'USAGE_EXCEEDED', keyId: record.id };
 */
export function applyCredits(credits: ApiKeyCredits | null, now: number, cost = 1): CreditsOutcome {
  if (!Number.isSafeInteger(cost) || cost < 0) {
    throw new TypeError(`applyCredits.cost: expected a whole number ≥ 0, got ${String(cost)}`);
  }
  if (credits === null) return { allowed: true, credits: null };
  const current = refillCredits(credits, now);
  if (current.remaining < cost) return { allowed: false, credits: current };
  return { allowed: true, credits: { ...current, remaining: current.remaining - cost } };
}
