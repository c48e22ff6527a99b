/**
 * The security-event vocabulary (the OWASP Application Logging Vocabulary where one fits,
 * API.md "Security events") and the small store interface the recorder writes to. It lives
 * here, with the recorder, so the policy and the stores both take it from one place.
 */
import type { Awaitable } from '../lib/types.ts';

/**
 * Every event type Rampart records, as data (the CLI checks `--type` against it): the OWASP
 * Logging Vocabulary where one fits (API.md "Security events").
 */
export const AUDIT_EVENT_TYPES = Object.freeze([
  'authn_login_success',
  'authn_login_fail',
  'authn_token_invalid',
  'authn_token_revoked',
  'authn_token_reuse',
  'authn_password_change',
  'authz_fail',
  'excess_rate_limit_exceeded',
  'input_validation_fail',
  'key_created',
  'key_revoked',
  'key_rotated',
  'key_updated',
  'user_created',
  'user_email_verified',
  'user_updated',
  'user_disabled',
  'user_enabled',
  'user_deleted',
  'user_sessions_ended',
  'identity_created',
  'identity_updated',
  'identity_deleted',
  'plan_created',
  'plan_updated',
  'plan_deleted',
  'block_lifted',
  'address_list_changed',
  'signing_key_rotated',
  'audit_pruned',
  'sys_startup',
  'sys_shutdown',
  'sys_store_down',
  'sys_store_up',
  'malicious_request',
] as const);

/** One of {@link AUDIT_EVENT_TYPES}. */
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export type AuditOutcome = 'success' | 'failure' | 'blocked' | 'info';

/** One security event. `detail` never holds a password, token or key (the recorder scrubs it). */
export interface AuditEvent {
  id: string;
  type: AuditEventType;
  /** Epoch milliseconds. */
  at: number;
  actor?: string;
  ip?: string;
  requestId?: string;
  outcome: AuditOutcome;
  detail: Record<string, unknown>;
  /** How many identical events this row stands for (collapsed floods). */
  count: number;
}

export interface AuditQuery {
  type?: AuditEventType;
  since?: number;
  until?: number;
  actor?: string;
  /** 1–500. */
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface AuditPage {
  events: AuditEvent[];
  nextCursor: string | null;
}

/**
 * The audit trail. `append` is atomic per batch (all rows or none) and durable once it
 * resolves. `list` returns newest first, keyset-paginated on (at, id).
 */
export interface AuditStore {
  append(events: AuditEvent[]): Awaitable<void>;
  list(query: AuditQuery): Awaitable<AuditPage>;
}
