import type {
  ApiKeyCredits,
  ApiKeyRateLimit,
  ApiKeyRecord,
  CreditRefill,
} from 'rampart/internal/api-keys/record.ts';
import type { KeyVerificationCode } from 'rampart/internal/api-keys/verify.ts';
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
export type {
  ApiKeyCredits,
  ApiKeyRateLimit,
  ApiKeyRecord,
  CreditRefill,
  RefreshTokenRecord,
  SigningKeyRecord,
};

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
  /** When an administrator disabled the account; absent while it is enabled. */
  disabledAt?: number;
  /** When the owner proved the address (the link of the verification mail); absent until then. */
  emailVerifiedAt?: number;
}

export type UserPatch = Partial<
  Pick<UserRecord, 'name' | 'role' | 'passwordHash' | 'notBefore' | 'emailVerifiedAt'>
>;

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

/** What `UserAdminStore.search` filters on; every filter given must match. */
export interface UserSearchQuery extends PageQuery {
  /** The start of the (lower-cased) address: `ada@` or `ada@exa`. */
  emailPrefix?: string;
  /** A part of the name, case-insensitive for ASCII letters (other characters match exactly). */
  nameContains?: string;
  role?: Role;
  /** `true`: only disabled accounts; `false`: only enabled ones. */
  disabled?: boolean;
}

export interface UserPage {
  users: UserRecord[];
  nextCursor: string | null;
}

/**
 * What an administrative change answers: the account after it (before it, for a deletion),
 * or why nothing changed. `LAST_ADMIN`: the change would leave no enabled admin.
 */
export type UserChange = { ok: true; user: UserRecord } | { ok: false; code: 'NOT_FOUND' | 'LAST_ADMIN' };

/**
 * Accounts as the admin plane manages them (the same rows as `UserStore`).
 *
 * Atomicity: `setRole`, `setDisabled` and `delete` each run as one transaction that refuses
 * (`LAST_ADMIN`, nothing written) a change taking away the last enabled admin. On SQLite the
 * write lock serialises them; on PostgreSQL each locks every enabled admin row first, so of
 * two admins demoting each other at the same instant exactly one succeeds. `delete` removes
 * the account and its refresh tokens together; API keys it owns are the service's to revoke.
 */
export interface UserAdminStore {
  /** Newest first, keyset-paginated on (createdAt, id), filtered. */
  search(query: UserSearchQuery): Awaitable<UserPage>;
  setRole(id: string, role: Role, now: number): Awaitable<UserChange>;
  /** Disables (`disabledAt = now`, kept if already set) or enables an account. */
  setDisabled(id: string, disabled: boolean, now: number): Awaitable<UserChange>;
  /** Deletes the account and its refresh tokens; answers the account as it was. */
  delete(id: string): Awaitable<UserChange>;
  /** Admins that are not disabled. */
  countAdmins(): Awaitable<number>;
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
  /** Only the keys of this identity. */
  identityId?: string;
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
 * A change to a balance of credits (a key's budget, an identity's shared credits); `null`
 * removes the credits (unlimited). Otherwise, in this order: `remaining` sets the balance,
 * `increment` adds to it (negative takes away, never below 0; a holder without credits
 * starts from 0), and `refill` sets (`null`: removes) the refill rule, whose `lastRefillAt`
 * starts the new phase. Values are the caller's to validate (`checkKeySettings`).
 */
export type CreditsPatch = null | {
  remaining?: number;
  increment?: number;
  refill?: CreditRefill | null;
};

/**
 * What `update` may change; absent fields stay. `revokedAt` only ever moves earlier: a key
 * revoked at (or scheduled for) time t is never given a later end, so a late request cannot
 * lengthen a revocation or a rotation's grace. `hash` re-hashes a key under a new pepper
 * version. `disabledAt` disables (an instant) or enables (`null`). `credits` and `rateLimit`
 * change the key's budget, which its rotation chain shares (`budgetKeyId`).
 */
export interface ApiKeyPatch {
  revokedAt?: number;
  hash?: string;
  name?: string;
  metadata?: Record<string, unknown>;
  scopes?: string[];
  expiresAt?: number | null;
  disabledAt?: number | null;
  rateLimit?: ApiKeyRateLimit | null;
  credits?: CreditsPatch;
}

/**
 * A rotation's change to the old key, applied only if the key was never rotated and nobody
 * changed its end since it was read. The store sets the old key's `rotatedTo` with it.
 */
export interface ApiKeyReplacement {
  id: string;
  /** The old key's `revokedAt` as the caller read it (compare-and-set). */
  expectedRevokedAt: number | null;
  /** The end of the old key's grace period. */
  revokedAt: number;
}

/** What `spendCredits` answers: whether the use may go on, and the balances after it. */
export interface CreditSpend {
  allowed: boolean;
  /** The key's budget after this call; `null` for a key without credits (unlimited). */
  remaining: number | null;
  /**
   * For a key of an identity: the identity's shared credits after this call (`null`:
   * unlimited). A refusal with `remaining` ≥ the cost was the identity's.
   */
  identityRemaining?: number | null;
}

/**
 * API keys, stored by hash (the key itself never is). Records are returned as copies, with
 * `credits` and `rateLimit` as the key's budget holds them (the first key of its rotation
 * chain, `budgetKeyId`); a key whose budget row is missing answers `{ remaining: 0 }` credits
 * (fail closed).
 *
 * Atomicity:
 * - `insert` writes nothing and answers false when a key with the same id or hash exists
 *   (so two instances bootstrapping one admin key cannot both add it), or when its
 *   `identityId` names no identity (checked under the identity's row lock, so a key cannot
 *   slip in beside a concurrent identity deletion).
 * - `insert` with `replaces` is one transaction: the new key is written and the old key's
 *   `revokedAt` and `rotatedTo` set only if the old key was not rotated yet and its
 *   `revokedAt` still equals `expectedRevokedAt`; otherwise nothing is written and it answers
 *   false. A key is rotated once: of simultaneous rotations exactly one wins, and a later one
 *   loses too. The successor's `budgetKeyId` and `identityId` are taken from the old key's
 *   row inside the transaction, whatever the record says, so a rotation can neither copy a
 *   balance nor leave its identity's budget.
 * - `update` is one transaction holding the key's row (and its budget's) while it reads and
 *   writes, so concurrent patches and spends lose no update (`revokedAt = min(old, new)`).
 * - `spendCredits` refills and spends the budget row's credits, and the identity's shared
 *   credits when the key has an identity, in one transaction (SQLite `BEGIN IMMEDIATE`, which
 *   also serialises other processes on the same file; PostgreSQL row locks, key budget before
 *   identity): both are spent or neither, and two requests, on one instance or on several,
 *   can never spend the same credit.
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
   * Refills what is due at `now` and spends `cost` credits from the key's budget and from its
   * identity's shared credits, if both have that many (see `applyCredits`). Undefined when
   * there is no such key.
   */
  spendCredits(id: string, cost: number, now: number): Awaitable<CreditSpend | undefined>;
}

/** A rate limit of a plan or an identity; `name` tells several apart (`'burst'`, `'daily'`). */
export interface RateLimitSpec {
  name?: string;
  limit: number;
  windowMs: number;
}

/** A plan's credits: `amount` granted at the start, then refilled by `refill`. */
export interface PlanCredits {
  amount: number;
  refill?: { amount: number; intervalMs: number; max?: number };
}

/** Limits a plan sets, and what an identity's `overrides` replace field by field. */
export interface PlanLimits {
  rateLimits?: RateLimitSpec[];
  /** `null`: no credits (unlimited). */
  credits?: PlanCredits | null;
}

/** A plan: named limits that identities subscribe to. */
export interface PlanRecord {
  /** `pln_` and 22 base62 characters. */
  id: string;
  /** Unique (exact, case-sensitive). */
  name: string;
  rateLimits: RateLimitSpec[];
  credits: PlanCredits | null;
  metadata: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

/**
 * An owner of keys (a customer, a team, a service): what its keys share. Times are epoch ms.
 * The limits in force are `overrides` field by field, else the plan's (`effectiveLimits`).
 */
export interface IdentityRecord {
  /** `idt_` and 22 base62 characters. */
  id: string;
  /** The caller's own id for it (a customer number, a tenant slug); unique. */
  externalId: string;
  name: string;
  metadata: Record<string, unknown>;
  planId: string | null;
  /** What replaces the plan's limits for this identity (with no plan: its only limits). */
  overrides: PlanLimits;
  /** The balance every key of the identity spends (`null`: unlimited). */
  credits: ApiKeyCredits | null;
  createdAt: number;
  updatedAt: number;
}

/** What `IdentityStore.update` may change; absent fields stay. */
export interface IdentityPatch {
  externalId?: string;
  name?: string;
  metadata?: Record<string, unknown>;
  planId?: string | null;
  overrides?: PlanLimits;
  credits?: CreditsPatch;
}

export interface IdentityListQuery extends PageQuery {
  /** Only the identities on this plan; `null` for those on none. */
  planId?: string | null;
}

export interface IdentityPage {
  identities: IdentityRecord[];
  nextCursor: string | null;
}

export type IdentityChange =
  | { ok: true; identity: IdentityRecord }
  | { ok: false; code: 'NOT_FOUND' | 'EXTERNAL_ID_TAKEN' | 'PLAN_NOT_FOUND' | 'IN_USE' };

/**
 * Identities. Spending their shared credits is `ApiKeyStore.spendCredits` on any of their
 * keys (one transaction with the key's own budget).
 *
 * Atomicity:
 * - `create` writes nothing and answers `EXTERNAL_ID_TAKEN` when the external id exists
 *   (unique index: of concurrent creates exactly one wins), or `PLAN_NOT_FOUND` when `planId`
 *   names no plan (checked under the plan's row lock, against a concurrent plan deletion).
 * - `update` is one transaction holding the identity's row: a credits increment and a
 *   concurrent spend both land.
 * - `delete` refuses (`IN_USE`) while a key of the identity is live at `now` (not revoked);
 *   the check and the deletion hold the identity's row, so no key can be added between them.
 */
export interface IdentityStore {
  create(identity: IdentityRecord): Awaitable<IdentityChange>;
  /** By id, or by external id. */
  get(ref: string | { externalId: string }): Awaitable<IdentityRecord | undefined>;
  /** Newest first, keyset-paginated on (createdAt, id). */
  list(query: IdentityListQuery): Awaitable<IdentityPage>;
  update(id: string, patch: IdentityPatch, now: number): Awaitable<IdentityChange>;
  delete(id: string, now: number): Awaitable<IdentityChange>;
}

export type PlanPatch = Partial<Pick<PlanRecord, 'name' | 'rateLimits' | 'credits' | 'metadata'>>;

export interface PlanPage {
  plans: PlanRecord[];
  nextCursor: string | null;
}

export type PlanChange =
  | { ok: true; plan: PlanRecord }
  | { ok: false; code: 'NOT_FOUND' | 'NAME_TAKEN' | 'IN_USE' };

/**
 * Plans. A plan's limits are read when they apply (an identity stores no copy), so a change
 * reaches every subscriber at once.
 *
 * Atomicity: names are unique (of concurrent creates or renames to one name exactly one
 * wins, `NAME_TAKEN`); `delete` refuses (`IN_USE`) while an identity is on the plan, under
 * the plan's row lock, so no identity can subscribe between the check and the deletion.
 */
export interface PlanStore {
  create(plan: PlanRecord): Awaitable<PlanChange>;
  /** By id, or by name. */
  get(ref: string | { name: string }): Awaitable<PlanRecord | undefined>;
  /** Newest first, keyset-paginated on (createdAt, id). */
  list(query: PageQuery): Awaitable<PlanPage>;
  update(id: string, patch: PlanPatch, now: number): Awaitable<PlanChange>;
  delete(id: string): Awaitable<PlanChange>;
}

/** The sizes of usage buckets, aligned on UTC epoch multiples. */
export type UsageGranularity = 'minute' | 'hour' | 'day';

/** Verifications of one key (and its identity) with one outcome at one time. */
export interface UsageEntry {
  keyId: string;
  /** The key's identity, counted as well; absent or `null` for none. */
  identityId?: string | null;
  outcome: KeyVerificationCode;
  /** Epoch ms of the verifications (they fall in the buckets holding this instant). */
  at: number;
  /** How many; default 1. */
  count?: number;
}

/** One bucket of usage: its start and the verifications in it by outcome. */
export interface UsageBucket {
  /** Epoch ms, a multiple of the granularity. */
  start: number;
  total: number;
  outcomes: Partial<Record<KeyVerificationCode, number>>;
}

export type UsageQuery = ({ keyId: string } | { identityId: string }) & {
  granularity: UsageGranularity;
  /** Buckets starting at or after this instant (epoch ms). */
  since: number;
  /** Buckets starting before this instant (epoch ms). */
  until: number;
};

/**
 * Verification counts per key and per identity, by outcome, in minute, hour and day buckets.
 *
 * Atomicity: `add` is one upsert that adds to the stored counts (never overwrites) in one
 * transaction, so several instances adding at once sum exactly; entries of one batch that
 * share a bucket are summed first. `prune` deletes in batches (each atomic), so retention
 * never holds a long lock.
 */
export interface UsageStore {
  /** Counts a batch of entries into every granularity. */
  add(entries: readonly UsageEntry[]): Awaitable<void>;
  /** Buckets with any count, oldest first. */
  read(query: UsageQuery): Awaitable<UsageBucket[]>;
  /** Deletes buckets of `granularity` starting before `before`; answers how many. */
  prune(before: number, granularity: UsageGranularity): Awaitable<number>;
}

/** The audit trail with retention. */
export interface PrunableAuditStore extends AuditStore {
  /** Deletes events before `before` (epoch ms), in batches; answers how many. */
  prune(before: number): Awaitable<number>;
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
  /** Search, roles, disabling and deletion of accounts (the admin plane). */
  readonly userAdmin: UserAdminStore;
  readonly audit: PrunableAuditStore;
  readonly ttl: TtlStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly apiKeys: ApiKeyStore;
  readonly identities: IdentityStore;
  readonly plans: PlanStore;
  readonly usage: UsageStore;
  /**
   * Signing keys, on storage that several hosts share (PostgreSQL). Absent on single-host
   * storage, where the keys stay in the data dir's 0600 file.
   */
  readonly signingKeys?: SigningKeyStore;
  /** Resolves when the store answers; rejects otherwise (readiness). */
  ping(): Awaitable<void>;
  close(): Awaitable<void>;
}
