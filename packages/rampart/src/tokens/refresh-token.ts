/**
 * Refresh tokens: opaque, high-entropy, stored only as a SHA-256 hash, and rotated on every
 * use inside a *family* (all the tokens descended from one login), as the OAuth 2.0 Security
 * BCP (RFC 9700 §4.14.2) describes:
 *
 * - each use returns a new token and marks the old one used (`usedAt`, `replacedBy`);
 * - a second use of a used token means two parties hold it (the client and a thief), and
 *   nobody can tell which is which: the whole family is revoked;
 * - a token dies when idle (`createdAt + idleTtlMs`) and the family when old
 *   (`familyCreatedAt + absoluteTtlMs`), whichever comes first;
 * - an optional grace window (off by default) forgives a retry that lost its response.
 *
 * This module is the pure part: the format, the record and the decision. Storage applies the
 * decision atomically (compare-and-set on `usedAt`), so of simultaneous refreshes with one
 * token exactly one rotates and the others see a used token.
 */
import { newId, randomBase62 } from '../lib/ids.ts';
import { sha256 } from '../lib/secret.ts';

/** Every refresh token starts with this, so scanners and logs can recognise one (and so it can never parse as a JWT). */
export const REFRESH_TOKEN_PREFIX = 'rt_';
/** 43 base62 characters carry 256.03 bits. */
const REFRESH_TOKEN_CHARS = 43;
const REFRESH_TOKEN = /^rt_[0-9A-Za-z]{43}$/;

/** One refresh token as stored. Times are ms since the epoch. */
export interface RefreshTokenRecord {
  /** `sha256(token)`, base64url: the lookup key. The token itself is never stored. */
  tokenHash: string;
  /** `fam_…`, shared by every token descended from one login. */
  familyId: string;
  userId: string;
  /** When this token was issued (its idle lifetime counts from here). */
  createdAt: number;
  /** When the family's first token was issued (the absolute lifetime counts from here). */
  familyCreatedAt: number;
  /** When this token was exchanged for its successor. */
  usedAt?: number;
  /** `tokenHash` of the successor. */
  replacedBy?: string;
  /** When the token (in practice, its whole family) was revoked. */
  revokedAt?: number;
}

/** Lifetimes of refresh tokens, ms. */
export interface RefreshPolicy {
  /** A token not used for this long dies. Default 14 days. */
  idleTtlMs: number;
  /** A family dies this long after the login that started it, however active. Default 30 days. */
  absoluteTtlMs: number;
  /** A used token presented again within this window is a retry, not a theft. Default 0 (off). */
  graceMs: number;
}

export const DEFAULT_REFRESH_POLICY: Readonly<RefreshPolicy> = Object.freeze({
  idleTtlMs: 14 * 86_400_000,
  absoluteTtlMs: 30 * 86_400_000,
  graceMs: 0,
});

/**
 * What to do with a presented refresh token:
 * - `ROTATE`: issue a new pair; mark this record used (atomically: only if `usedAt` is still unset).
 * - `GRACE_REPLAY`: a retry within the grace window: issue a new pair from this record and
 *   revoke its previous successor (`replacedBy`), so the family keeps one live token.
 * - `REUSE_DETECTED`: revoke the whole family, record `authn_token_reuse`, answer 401.
 * - `EXPIRED`, `REVOKED`, `UNKNOWN`: answer 401 (`INVALID_REFRESH_TOKEN`); nothing to change.
 */
export type RefreshDecision =
  | 'ROTATE'
  | 'GRACE_REPLAY'
  | 'REUSE_DETECTED'
  | 'EXPIRED'
  | 'REVOKED'
  | 'UNKNOWN';

/**
 * Validates refresh lifetimes once (at configuration time), with defaults.
 * @throws TypeError naming the field.
 * @example const policy = refreshPolicy({ idleTtlMs: parseDuration('7d'), absoluteTtlMs: parseDuration('30d') });
 */
export function refreshPolicy(options: Partial<RefreshPolicy> = {}): Readonly<RefreshPolicy> {
  if (options === null || typeof options !== 'object') throw new TypeError('(options): expected an object');
  const policy = { ...DEFAULT_REFRESH_POLICY, ...options } satisfies RefreshPolicy;
  for (const field of ['idleTtlMs', 'absoluteTtlMs'] as const) {
    if (!Number.isSafeInteger(policy[field]) || policy[field] < 1000) {
      throw new TypeError(`${field}: expected an integer number of milliseconds, at least 1000`);
    }
  }
  if (!Number.isSafeInteger(policy.graceMs) || policy.graceMs < 0 || policy.graceMs > 300_000) {
    throw new TypeError('graceMs: expected an integer from 0 to 300000 (5 minutes)');
  }
  if (policy.idleTtlMs > policy.absoluteTtlMs)
    throw new TypeError('idleTtlMs: must not exceed absoluteTtlMs');
  return Object.freeze(policy);
}

/**
 * A new refresh token and the hash to store. The token is shown to the client once.
 * @example const { token, tokenHash } = createRefreshToken(); // token: 'rt_…' (46 chars)
 */
export function createRefreshToken(): { token: string; tokenHash: string } {
  const token = REFRESH_TOKEN_PREFIX + randomBase62(REFRESH_TOKEN_CHARS);
  return { token, tokenHash: hashRefreshToken(token) };
}

/**
 * The storage key of a refresh token: SHA-256, base64url. A fast hash is right here (unlike
 * passwords): the token has 256 bits of entropy, so nothing can be guessed from the hash.
 */
export function hashRefreshToken(token: string): string {
  return sha256(token);
}

/** Does `value` have the shape of a refresh token? (Cheap check before any lookup.) */
export function isRefreshTokenShape(value: unknown): value is string {
  return typeof value === 'string' && REFRESH_TOKEN.test(value);
}

/**
 * The first token of a new family (at login).
 * @example const { token, record } = startRefreshFamily({ userId: user.id, now: Date.now() });
 */
export function startRefreshFamily(input: { userId: string; now: number }): {
  token: string;
  record: RefreshTokenRecord;
} {
  if (typeof input.userId !== 'string' || input.userId === '')
    throw new TypeError('userId: expected a non-empty string');
  if (!Number.isFinite(input.now)) throw new TypeError('now: expected ms since the epoch');
  const { token, tokenHash } = createRefreshToken();
  return {
    token,
    record: {
      tokenHash,
      familyId: newId('fam'),
      userId: input.userId,
      createdAt: input.now,
      familyCreatedAt: input.now,
    },
  };
}

/**
 * The successor of `record` (after `ROTATE` or `GRACE_REPLAY`): the new token, its record, and
 * the used parent. Pure; the store writes both in one atomic step.
 * @example const { token, record: child, parent } = rotateRefreshRecord(record, Date.now());
 */
export function rotateRefreshRecord(
  record: RefreshTokenRecord,
  now: number,
): { token: string; record: RefreshTokenRecord; parent: RefreshTokenRecord } {
  const { token, tokenHash } = createRefreshToken();
  return {
    token,
    record: {
      tokenHash,
      familyId: record.familyId,
      userId: record.userId,
      createdAt: now,
      familyCreatedAt: record.familyCreatedAt,
    },
    parent: { ...record, usedAt: record.usedAt ?? now, replacedBy: tokenHash },
  };
}

/**
 * When the token stops working unless rotated: the earlier of its idle and its family's
 * absolute end. Useful as a store TTL (keep used records that long too, to detect reuse).
 */
export function refreshTokenExpiresAt(record: RefreshTokenRecord, policy: RefreshPolicy): number {
  return Math.min(record.createdAt + policy.idleTtlMs, record.familyCreatedAt + policy.absoluteTtlMs);
}

/**
 * Decides what a presented refresh token gets. Pure: no clock, no store.
 *
 * `successor` (the record `replacedBy` names), when given, narrows the grace window: once the
 * successor has itself been used, the client has moved on and a replay is theft. Every
 * comparison is written so that a NaN fails closed (expired, or reuse).
 *
 * @example
 * switch (decideRefresh(await store.find(hashRefreshToken(token)), Date.now(), policy)) {
 *   case 'ROTATE': …; case 'REUSE_DETECTED': await store.revokeFamily(record.familyId); …
 * }
 */
export function decideRefresh(
  record: RefreshTokenRecord | undefined,
  now: number,
  policy: RefreshPolicy,
  successor?: RefreshTokenRecord,
): RefreshDecision {
  if (record === undefined) return 'UNKNOWN';
  if (record.revokedAt !== undefined) return 'REVOKED';
  // A dead family has nothing left to protect: expiry first, so a late replay is just expired.
  if (!(now < record.familyCreatedAt + policy.absoluteTtlMs)) return 'EXPIRED';
  if (record.usedAt !== undefined) {
    const withinGrace = policy.graceMs > 0 && now - record.usedAt <= policy.graceMs;
    const successorUntouched =
      successor === undefined || (successor.usedAt === undefined && successor.revokedAt === undefined);
    return withinGrace && successorUntouched ? 'GRACE_REPLAY' : 'REUSE_DETECTED';
  }
  if (!(now < record.createdAt + policy.idleTtlMs)) return 'EXPIRED';
  return 'ROTATE';
}
