import type { ApiKeyCredits, ApiKeyRecord } from 'rampart/internal/api-keys/record.ts';
import type { AuditEvent, RefreshTokenRecord, UserRecord } from './types.ts';

/**
 * Rows of the SQL stores (SQLite and PostgreSQL share one schema shape) turned back into
 * records. Times are epoch ms (INTEGER / BIGINT, which pg may hand over as strings), JSON
 * columns are text.
 */
export type Row = Record<string, unknown>;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function userFromRow(row: Row | undefined): UserRecord | undefined {
  if (!row) return undefined;
  return {
    id: String(row.id),
    email: String(row.email),
    emailKey: String(row.email_key),
    name: String(row.name),
    role: row.role === 'admin' ? 'admin' : 'user',
    passwordHash: String(row.password_hash),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    notBefore: num(row.not_before),
  };
}

export function eventFromRow(row: Row): AuditEvent {
  const event: AuditEvent = {
    id: String(row.id),
    type: String(row.type) as AuditEvent['type'],
    at: Number(row.at),
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
    createdAt: Number(row.created_at),
    familyCreatedAt: Number(row.family_created_at),
  };
  if (num(row.used_at) !== null) record.usedAt = Number(row.used_at);
  if (row.replaced_by !== null && row.replaced_by !== undefined) record.replacedBy = String(row.replaced_by);
  if (num(row.revoked_at) !== null) record.revokedAt = Number(row.revoked_at);
  return record;
}

export function creditsFromRow(row: Row): ApiKeyCredits | null {
  if (row.credits_remaining === null) return null;
  const credits: ApiKeyCredits = { remaining: Number(row.credits_remaining) };
  if (row.refill_amount !== null) {
    credits.refill = {
      amount: Number(row.refill_amount),
      intervalMs: Number(row.refill_interval_ms),
      lastRefillAt: Number(row.refill_last_at),
      ...(row.refill_max !== null ? { max: Number(row.refill_max) } : {}),
    };
  }
  return credits;
}

export function apiKeyFromRow(row: Row | undefined): ApiKeyRecord | undefined {
  if (!row) return undefined;
  return {
    id: String(row.id),
    hash: String(row.hash),
    hint: String(row.hint),
    prefix: String(row.prefix),
    name: String(row.name),
    ownerId: row.owner_id === null ? null : String(row.owner_id),
    scopes: JSON.parse(String(row.scopes)),
    createdAt: Number(row.created_at),
    expiresAt: num(row.expires_at),
    lastUsedAt: num(row.last_used_at),
    revokedAt: num(row.revoked_at),
    metadata: JSON.parse(String(row.metadata)),
    credits: creditsFromRow(row),
    rateLimit:
      row.rate_limit === null
        ? null
        : { limit: Number(row.rate_limit), windowMs: Number(row.rate_window_ms) },
    rotatedFrom: row.rotated_from === null ? null : String(row.rotated_from),
  };
}

/** An API key as the column values of `api_keys`, in the order both SQL stores insert them. */
export function apiKeyValues(r: ApiKeyRecord): Array<string | number | null> {
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
    r.credits?.remaining ?? null,
    r.credits?.refill?.amount ?? null,
    r.credits?.refill?.intervalMs ?? null,
    r.credits?.refill?.lastRefillAt ?? null,
    r.credits?.refill?.max ?? null,
    r.rateLimit?.limit ?? null,
    r.rateLimit?.windowMs ?? null,
    r.rotatedFrom ?? null,
  ];
}
