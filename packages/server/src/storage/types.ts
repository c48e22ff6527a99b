import type { ApiKeyRecord } from 'rampart/internal/api-keys/record.ts';
import type { AuditStore } from 'rampart/internal/audit/events.ts';
import type { Awaitable } from 'rampart/internal/lib/types.ts';
import type { RefreshTokenRecord } from 'rampart/internal/tokens/refresh-token.ts';
import type { SigningKeyRecord } from 'rampart/internal/tokens/signing-keys.ts';

export type {
  AuditEvent,
  AuditEventType,
  AuditOutcome,
  AuditPage,
  AuditQuery,
  AuditStore,
} from 'rampart/internal/audit/events.ts';
export type { ApiKeyRecord, RefreshTokenRecord, SigningKeyRecord };

/**
 * Rampart's storage interfaces. Each is small, returns `Awaitable` so the memory store stays
 * synchronous, and states its atomicity guarantee. Every implementation (memory, sqlite, and
 * later redis/postgres) passes the one contract suite in `contract.ts`.
 */

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

/** A page of a store's records, newest first (`rampart export`, admin listings). */
export interface PageQuery {
  /** 1–500. */
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

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
  /** Newest first, keyset-paginated on (createdAt, id). */
  list(query: PageQuery): Awaitable<{ users: UserRecord[]; nextCursor: string | null }>;
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
  /** Newest first, keyset-paginated on (createdAt, tokenHash). */
  list(query: PageQuery): Awaitable<{ tokens: RefreshTokenRecord[]; nextCursor: string | null }>;
}

export interface ApiKeyListQuery {
  /** Only the keys of this owner; `null` for keys without an owner (admin keys); absent for every key. */
  ownerId?: string | null;
  /** 1–500. */
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface ApiKeyPage {
  keys: ApiKeyRecord[];
  nextCursor: string | null;
}

/**
 * What `update` may change. `revokedAt` only ever moves earlier: a key revoked at (or
 * scheduled for) time t is never given a later end, so a late request cannot lengthen a
 * revocation or a rotation's grace. `hash` re-hashes a key under a new pepper version.
 */
export interface ApiKeyPatch {
  revokedAt?: number;
  hash?: string;
}

/** A rotation's change to the old key, applied only if nobody changed it since it was read. */
export interface ApiKeyReplacement {
  id: string;
  /** The old key's `revokedAt` as the caller read it (compare-and-set). */
  expectedRevokedAt: number | null;
  /** The end of the old key's grace period. */
  revokedAt: number;
}

/** What `spendCredits` answers: whether the use may go on, and the balance after it. */
export interface CreditSpend {
  allowed: boolean;
  /** Credits left after this call; `null` for a key without credits (unlimited). */
  remaining: number | null;
}

/**
 * API keys, stored by hash (the key itself never is). Records are returned as copies.
 *
 * Atomicity:
 * - `insert` writes nothing and answers false when a key with the same id or hash exists
 *   (so two instances bootstrapping one admin key cannot both add it).
 * - `insert` with `replaces` is one transaction: the new key is written and the old key's
 *   `revokedAt` set only if it still equals `expectedRevokedAt`; otherwise nothing is written
 *   and it answers false. Of two simultaneous rotations of one key exactly one wins.
 * - `update` is one statement per key (`revokedAt = min(old, new)`).
 * - `spendCredits` refills and spends in one transaction (SQLite `BEGIN IMMEDIATE`, which
 *   also serialises other processes on the same file): two requests, on one instance or on
 *   several, can never spend the same credit.
 * - `touchMany` writes a batch in one transaction; `lastUsedAt` only ever moves forward, so
 *   two instances flushing out of order leave the later time.
 */
export interface ApiKeyStore {
  /** Adds a key (and, for a rotation, schedules the old one's end). False when nothing was written. */
  insert(record: ApiKeyRecord, replaces?: ApiKeyReplacement): Awaitable<boolean>;
  /** The key whose stored hash is one of `hashes` (one per pepper version), or undefined. */
  findByHash(hashes: readonly string[]): Awaitable<ApiKeyRecord | undefined>;
  get(id: string): Awaitable<ApiKeyRecord | undefined>;
  /** Newest first, keyset-paginated on (createdAt, id). */
  list(query: ApiKeyListQuery): Awaitable<ApiKeyPage>;
  /** Changes a key; answers the record after the change, or undefined when there is no such key. */
  update(id: string, patch: ApiKeyPatch): Awaitable<ApiKeyRecord | undefined>;
  /** Writes a batch of last-use times (key id → epoch ms). Unknown ids are ignored. */
  touchMany(entries: ReadonlyMap<string, number>): Awaitable<void>;
  /**
   * Refills what is due at `now` and spends `cost` credits if that many remain (see
   * `applyCredits`). Undefined when there is no such key.
   */
  spendCredits(id: string, cost: number, now: number): Awaitable<CreditSpend | undefined>;
}

/**
 * A signing key as a shared store holds it. The record never carries `retiredAt`: a key is
 * retired when the next one activates, so every instance derives the same ring from the rows
 * and the clock, and a new key can be published (and verify) before it signs.
 */
export interface StoredSigningKey {
  /** The key; `retiredAt` is absent (derived from the next key's `activatesAt`). */
  record: SigningKeyRecord;
  /** When it starts signing, epoch ms. Before that it only verifies and is published. */
  activatesAt: number;
}

/**
 * Signing keys shared by every instance of a deployment (the data dir's 0600 file serves one
 * host; this serves several).
 *
 * Atomicity: `add` is a compare-and-set on the last key to activate: it writes only if that is
 * still `expectedLastKid` (`null`: no key stored yet), so of instances that all decide to
 * generate (first start, scheduled rotation) exactly one adds its key and the others read it.
 */
export interface SigningKeyStore {
  /** Every stored key, in activation order (ties by kid). */
  list(): Awaitable<StoredSigningKey[]>;
  /**
   * Adds `key` if the last key to activate is still `expectedLastKid`, and drops the keys
   * whose successor activated before `dropSupersededBefore` (their tokens have expired).
   * False when nothing was written.
   */
  add(
    key: StoredSigningKey,
    expectedLastKid: string | null,
    dropSupersededBefore: number,
  ): Awaitable<boolean>;
}

/** All persistent state of one Rampart deployment. */
export interface Storage {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  readonly users: UserStore;
  readonly audit: AuditStore;
  readonly ttl: TtlStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly apiKeys: ApiKeyStore;
  /**
   * Signing keys, on storage that several hosts share (PostgreSQL). Absent on single-host
   * storage, where the keys stay in the data dir's 0600 file.
   */
  readonly signingKeys?: SigningKeyStore;
  /** Resolves when the store answers; rejects otherwise (readiness). */
  ping(): Awaitable<void>;
  close(): Awaitable<void>;
}
