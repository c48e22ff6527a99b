import type { Awaitable } from '../lib/types.ts';
import type { RefreshTokenRecord } from '../tokens/refresh-token.ts';

export type { RefreshTokenRecord };

/**
 * Rampart's storage interfaces. Each is small, returns `Awaitable` so the memory store stays
 * synchronous, and states its atomicity guarantee. Every implementation (memory, sqlite, and
 * later redis/postgres) passes the one contract suite in `contract.ts`.
 */

/** The OWASP logging vocabulary types Rampart records (API.md "Security events"). */
export type AuditEventType =
  | 'authn_login_success'
  | 'authn_login_fail'
  | 'authn_token_invalid'
  | 'authn_token_revoked'
  | 'authn_token_reuse'
  | 'authn_password_change'
  | 'authz_fail'
  | 'excess_rate_limit_exceeded'
  | 'input_validation_fail'
  | 'key_created'
  | 'key_revoked'
  | 'key_rotated'
  | 'user_created'
  | 'sys_startup'
  | 'sys_shutdown'
  | 'sys_store_down'
  | 'sys_store_up'
  | 'malicious_request';

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

export type Role = 'user' | 'admin';

export interface UserRecord {
  id: string;
  /** As the user typed it (domain lower-cased). */
  email: string;
  /** The lower-cased whole address: the uniqueness key ("unique regardless of case"). */
  emailKey: string;
  name: string;
  role: Role;
  /** PHC string (argon2id). */
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
  /** Tokens issued before this instant (epoch ms) are refused: set on password change/reset. */
  notBefore: number | null;
}

export type UserPatch = Partial<Pick<UserRecord, 'name' | 'role' | 'passwordHash' | 'notBefore'>>;

/**
 * Accounts. `create` is atomic with respect to `emailKey`: of two concurrent creates with one
 * email exactly one returns 'created'.
 */
export interface UserStore {
  create(user: UserRecord): Awaitable<'created' | 'email_taken'>;
  getById(id: string): Awaitable<UserRecord | undefined>;
  getByEmailKey(emailKey: string): Awaitable<UserRecord | undefined>;
  update(id: string, patch: UserPatch, now: number): Awaitable<boolean>;
  count(): Awaitable<number>;
}

/**
 * Short-lived values keyed by string with an expiry: the jti deny-list, password-reset
 * tokens. `take` is an atomic read-and-delete, so a single-use value is used once even
 * under concurrent requests. Expired entries are never returned.
 */
export interface TtlStore {
  put(key: string, value: string, expiresAt: number): Awaitable<void>;
  get(key: string, now: number): Awaitable<string | undefined>;
  take(key: string, now: number): Awaitable<string | undefined>;
  /** Live entries whose key starts with `prefix` (loading a deny-list at start). */
  list(prefix: string, now: number): Awaitable<Array<{ key: string; value: string; expiresAt: number }>>;
  /** Removes expired entries; returns how many. */
  sweep(now: number): Awaitable<number>;
}

/**
 * Refresh tokens, stored by hash (the token itself never is). `rotate` is the atomic step of
 * refresh rotation: it marks the presented token used and inserts its successor only if the
 * token was still unused and unrevoked, so of simultaneous refreshes with one token exactly
 * one returns true.
 */
export interface RefreshTokenStore {
  insert(record: RefreshTokenRecord): Awaitable<void>;
  get(tokenHash: string): Awaitable<RefreshTokenRecord | undefined>;
  rotate(tokenHash: string, successor: RefreshTokenRecord, now: number): Awaitable<boolean>;
  /** Revokes one token (a successor replaced inside the refresh grace window). */
  revokeToken(tokenHash: string, now: number): Awaitable<void>;
  /** Revokes every token of a family (reuse detected, logout). Returns how many changed. */
  revokeFamily(familyId: string, now: number): Awaitable<number>;
  /** Revokes every token of a user (password change or reset); returns the families it ended. */
  revokeUser(userId: string, now: number): Awaitable<string[]>;
}

/** All persistent state of one Rampart deployment. */
export interface Storage {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  readonly users: UserStore;
  readonly audit: AuditStore;
  readonly ttl: TtlStore;
  readonly refreshTokens: RefreshTokenStore;
  /** Resolves when the store answers; rejects otherwise (readiness). */
  ping(): Awaitable<void>;
  close(): Awaitable<void>;
}
