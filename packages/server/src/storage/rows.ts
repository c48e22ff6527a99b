import type { ApiKeyCredits, ApiKeyRecord } from 'rampart/internal/api-keys/record.ts';
import type { AuditEvent, IdentityRecord, PlanRecord, RefreshTokenRecord, UserRecord } from './types.ts';

/**
 * Rows of the SQL stores (SQLite and PostgreSQL share one schema shape) turned back into
 * records. Times are epoch ms (INTEGER / BIGINT, which pg may hand over as strings), JSON
 * columns are text.
 */
export type Row = Record<string, unknown>;

/** Rows a retention statement deletes at most (`audit.prune`, `usage.prune`): a prune never holds a lock for long. */
export const PRUNE_BATCH = 5_000;

/** The largest epoch ms a JavaScript `Date` holds (ECMA-262 §21.4.1.22: ±8.64e15). */
export const MAX_INSTANT = 8_640_000_000_000_000;

/**
 * An epoch-ms column as a number every `Date` can hold. A value beyond ±8.64e15 (an older
 * version stored `expiresAt: 9e15` for "never") is clamped to that end rather than flagged:
 * clamped, it keeps its meaning in every comparison with a real time (still after any
 * `now`), and `new Date(x).toISOString()` no longer throws in the middle of a listing, while a
 * flag would have to be checked by every reader. The row itself is left as stored.
 */
export function instant(v: unknown): number {
  const n = Number(v);
  return Math.min(Math.max(n, -MAX_INSTANT), MAX_INSTANT);
}

/** {@link instant} for a record field: numbers clamped, `null` and absent kept (the memory store's copy-out). */
export function clampInstant<T extends number | null | undefined>(value: T): T {
  return (typeof value === 'number' ? instant(value) : value) as T;
}

const instantOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : instant(v));
const textOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function userFromRow(row: Row | undefined): UserRecord | undefined {
  if (!row) return undefined;
  const user: UserRecord = {
    id: String(row.id),
    email: String(row.email),
    emailKey: String(row.email_key),
    name: String(row.name),
    role: row.role === 'admin' ? 'admin' : 'user',
    passwordHash: String(row.password_hash),
    createdAt: instant(row.created_at),
    updatedAt: instant(row.updated_at),
    notBefore: instantOrNull(row.not_before),
  };
  if (row.disabled_at !== null && row.disabled_at !== undefined) user.disabledAt = instant(row.disabled_at);
  if (row.email_verified_at !== null && row.email_verified_at !== undefined) {
    user.emailVerifiedAt = instant(row.email_verified_at);
  }
  return user;
}

export function eventFromRow(row: Row): AuditEvent {
  const event: AuditEvent = {
    id: String(row.id),
    type: String(row.type) as AuditEvent['type'],
    at: instant(row.at),
    outcome: String(row.outcome) as AuditEvent['outcome'],
    detail: JSON.parse(String(row.detail)),
    count: Number(row.count),
  };
  if (row.actor !== null && row.actor !== undefined) event.actor = String(row.actor);
  if (row.ip !== null && row.ip !== undefined) event.ip = String(row.ip);
  if (row.request_id !== null && row.request_id !== undefined) event.requestId = String(row.request_id);
  return event;
}

export function refreshFromRow(row: Row | undefined): RefreshTokenRecord | undefined {
  if (!row) return undefined;
  const record: RefreshTokenRecord = {
    tokenHash: String(row.token_hash),
    familyId: String(row.family_id),
    userId: String(row.user_id),
    createdAt: instant(row.created_at),
    familyCreatedAt: instant(row.family_created_at),
  };
  if (instantOrNull(row.used_at) !== null) record.usedAt = instant(row.used_at);
  if (row.replaced_by !== null && row.replaced_by !== undefined) record.replacedBy = String(row.replaced_by);
  if (instantOrNull(row.revoked_at) !== null) record.revokedAt = instant(row.revoked_at);
  return record;
}

/** The credit columns (`credits_remaining`, `refill_*`) of a key or identity row. */
export function creditsFromRow(row: Row): ApiKeyCredits | null {
  if (row.credits_remaining === null || row.credits_remaining === undefined) return null;
  const credits: ApiKeyCredits = { remaining: Number(row.credits_remaining) };
  if (row.refill_amount !== null && row.refill_amount !== undefined) {
    credits.refill = {
      amount: Number(row.refill_amount),
      intervalMs: Number(row.refill_interval_ms),
      lastRefillAt: instant(row.refill_last_at),
      ...(row.refill_max !== null && row.refill_max !== undefined ? { max: Number(row.refill_max) } : {}),
    };
  }
  return credits;
}

/** Credits as the column values `credits_remaining, refill_amount, refill_interval_ms, refill_last_at, refill_max`. */
export function creditValues(c: ApiKeyCredits | null): Array<number | null> {
  return [
    c?.remaining ?? null,
    c?.refill?.amount ?? null,
    c?.refill?.intervalMs ?? null,
    c?.refill?.lastRefillAt ?? null,
    c?.refill?.max ?? null,
  ];
}

/**
 * Every read of API keys in both SQL stores: the key's own columns, and the credits and rate
 * limit of its budget row (itself, or the first key of its rotation chain). `budget_id` is
 * NULL when that row is missing, which the mapper answers as an empty budget.
 */
export const API_KEY_SELECT = `SELECT k.id, k.hash, k.hint, k.prefix, k.name, k.owner_id, k.scopes, k.created_at,
    k.expires_at, k.last_used_at, k.revoked_at, k.metadata, k.rotated_from, k.rotated_to, k.disabled_at,
    k.identity_id, k.budget_key_id, b.id AS budget_id, b.credits_remaining, b.refill_amount,
    b.refill_interval_ms, b.refill_last_at, b.refill_max, b.rate_limit, b.rate_window_ms
  FROM api_keys k LEFT JOIN api_keys b ON b.id = COALESCE(k.budget_key_id, k.id)`;

export function apiKeyFromRow(row: Row | undefined): ApiKeyRecord | undefined {
  if (!row) return undefined;
  // Fail closed: a key whose budget row is gone has no credits left, rather than unlimited ones.
  const budgetLost = row.budget_id === null;
  return {
    id: String(row.id),
    hash: String(row.hash),
    hint: String(row.hint),
    prefix: String(row.prefix),
    name: String(row.name),
    ownerId: textOrNull(row.owner_id),
    scopes: JSON.parse(String(row.scopes)),
    createdAt: instant(row.created_at),
    expiresAt: instantOrNull(row.expires_at),
    lastUsedAt: instantOrNull(row.last_used_at),
    revokedAt: instantOrNull(row.revoked_at),
    metadata: JSON.parse(String(row.metadata)),
    credits: budgetLost ? { remaining: 0 } : creditsFromRow(row),
    rateLimit:
      budgetLost || row.rate_limit === null || row.rate_limit === undefined
        ? null
        : { limit: Number(row.rate_limit), windowMs: Number(row.rate_window_ms) },
    rotatedFrom: textOrNull(row.rotated_from),
    rotatedTo: textOrNull(row.rotated_to),
    disabledAt: instantOrNull(row.disabled_at),
    identityId: textOrNull(row.identity_id),
    budgetKeyId: textOrNull(row.budget_key_id),
  };
}

/** The columns of `api_keys`, in the order of {@link apiKeyValues}. */
export const API_KEY_COLUMNS = [
  'id',
  'hash',
  'hint',
  'prefix',
  'name',
  'owner_id',
  'scopes',
  'created_at',
  'expires_at',
  'last_used_at',
  'revoked_at',
  'metadata',
  'credits_remaining',
  'refill_amount',
  'refill_interval_ms',
  'refill_last_at',
  'refill_max',
  'rate_limit',
  'rate_window_ms',
  'rotated_from',
  'rotated_to',
  'disabled_at',
  'identity_id',
  'budget_key_id',
] as const;

/**
 * An API key as the column values of `api_keys`, in the order both SQL stores insert them. A
 * key that spends another key's budget is read with that row's credits and limit (one balance
 * per chain); its own credit columns keep the copy made at rotation only for instances from
 * before migration 041, which read them (and would take NULL for "unlimited") during a
 * rolling upgrade.
 */
export function apiKeyValues(r: ApiKeyRecord): Array<string | number | null> {
  const budgetKeyId = r.budgetKeyId === r.id ? null : (r.budgetKeyId ?? null);
  return [
    r.id,
    r.hash,
    r.hint,
    r.prefix,
    r.name,
    r.ownerId,
    JSON.stringify(r.scopes),
    r.createdAt,
    r.expiresAt,
    r.lastUsedAt,
    r.revokedAt,
    JSON.stringify(r.metadata),
    ...creditValues(r.credits),
    r.rateLimit?.limit ?? null,
    r.rateLimit?.windowMs ?? null,
    r.rotatedFrom ?? null,
    r.rotatedTo ?? null,
    r.disabledAt ?? null,
    r.identityId ?? null,
    budgetKeyId,
  ];
}

/** The identity columns both SQL stores insert, in order. */
export const IDENTITY_COLUMNS = [
  'id',
  'external_id',
  'name',
  'metadata',
  'plan_id',
  'overrides',
  'credits_remaining',
  'refill_amount',
  'refill_interval_ms',
  'refill_last_at',
  'refill_max',
  'created_at',
  'updated_at',
] as const;

export function identityValues(i: IdentityRecord): Array<string | number | null> {
  return [
    i.id,
    i.externalId,
    i.name,
    JSON.stringify(i.metadata),
    i.planId,
    JSON.stringify(i.overrides),
    ...creditValues(i.credits),
    i.createdAt,
    i.updatedAt,
  ];
}

export function identityFromRow(row: Row | undefined): IdentityRecord | undefined {
  if (!row) return undefined;
  return {
    id: String(row.id),
    externalId: String(row.external_id),
    name: String(row.name),
    metadata: JSON.parse(String(row.metadata)),
    planId: textOrNull(row.plan_id),
    overrides: JSON.parse(String(row.overrides)),
    credits: creditsFromRow(row),
    createdAt: instant(row.created_at),
    updatedAt: instant(row.updated_at),
  };
}

export const PLAN_COLUMNS = [
  'id',
  'name',
  'rate_limits',
  'credits',
  'metadata',
  'created_at',
  'updated_at',
] as const;

export function planValues(p: PlanRecord): Array<string | number | null> {
  return [
    p.id,
    p.name,
    JSON.stringify(p.rateLimits),
    p.credits === null ? null : JSON.stringify(p.credits),
    JSON.stringify(p.metadata),
    p.createdAt,
    p.updatedAt,
  ];
}

export function planFromRow(row: Row | undefined): PlanRecord | undefined {
  if (!row) return undefined;
  return {
    id: String(row.id),
    name: String(row.name),
    rateLimits: JSON.parse(String(row.rate_limits)),
    credits: row.credits === null || row.credits === undefined ? null : JSON.parse(String(row.credits)),
    metadata: JSON.parse(String(row.metadata)),
    createdAt: instant(row.created_at),
    updatedAt: instant(row.updated_at),
  };
}
