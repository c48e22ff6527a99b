import pg, { type Pool, type PoolConfig } from 'pg';
import { postgresApiKeyStore } from './postgres-api-keys.ts';
import { type PgExecutor, pgExecutor, rollback, type Sql, storeError } from './postgres-client.ts';
import { postgresIdentityStore, postgresPlanStore } from './postgres-identities.ts';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.ts';
import { parameters, pgKeysetPage } from './postgres-page.ts';
import { postgresUsageStore } from './postgres-usage.ts';
import { postgresUserAdminStore, postgresUserStore } from './postgres-users.ts';
import { eventFromRow, PRUNE_BATCH, type Row, refreshFromRow } from './rows.ts';
import type {
  PrunableAuditStore,
  RefreshTokenRecord,
  RefreshTokenStore,
  SigningKeyStore,
  Storage,
  StoredSigningKey,
  TtlStore,
} from './types.ts';

export interface PostgresStorageOptions {
  /** `postgres://user:password@host:5432/db?sslmode=verify-full&sslrootcert=/path/ca.pem`. Or give `pool`. */
  connectionString?: string;
  /** A pool you made (and close yourself). Needs at least 2 connections. */
  pool?: Pool;
  /** Connections in the pool, 2–1000. Default 10. Ignored with `pool`. */
  poolSize?: number;
  /** Longest a statement may run on the server (`statement_timeout`), ms. Default 5000. */
  statementTimeoutMs?: number;
  /** Longest wait for a connection (a new one, or a free one from a busy pool), ms. Default 2000. */
  connectTimeoutMs?: number;
  /**
   * TLS to the server, as `pg` takes it (`true`, or `{ ca, rejectUnauthorized, … }`). Default:
   * what the URL says (`sslmode=…`, `sslrootcert=…`).
   */
  ssl?: PoolConfig['ssl'];
  /** Apply pending migrations when opening. Default true. */
  migrate?: boolean;
  /** Told of errors on idle connections (a database restart): log them. */
  onIdleError?: (error: Error) => void;
}

/** PostgreSQL storage: every store, the shared signing keys, and what operations need. */
export interface PostgresStorage extends Storage {
  readonly kind: 'postgres';
  readonly signingKeys: SigningKeyStore;
  readonly pool: Pool;
  /** The migrations this open applied (empty when the schema was up to date). */
  readonly applied: readonly string[];
  /**
   * Runs `fn` while holding a cluster-wide lock (a PostgreSQL advisory lock), so that instances
   * starting together do first-start work (the first admin key) one after the other.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

/** Advisory lock ids: (RAMPART, n). 0x52414d50 is "RAMP". */
const LOCK_SPACE = 0x52414d50;
const MIGRATION_LOCK = 1;
const STARTUP_LOCK = 2;
const SIGNING_KEY_LOCK = 3;

function positiveInt(value: unknown, field: string, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw new TypeError(`${field}: expected an integer from ${min} to ${max}`);
  }
  return value as number;
}

/**
 * Storage on PostgreSQL through a `pg` pool. Every method is one statement (atomic on its own)
 * or one transaction; the atomic steps are compare-and-sets in SQL: refresh rotation is an
 * `UPDATE … WHERE used_at IS NULL` feeding the successor's `INSERT` in one statement, a credit
 * spend locks its row (`SELECT … FOR UPDATE`), a key rotation updates the old key only if its
 * end is still the one read, and `ttl.take` is `DELETE … RETURNING`. Migrations run at open under
 * an advisory lock, so instances starting together apply each one once.
 *
 * A database that cannot be reached answers `RampartError('STORE_UNAVAILABLE')` (503 with
 * `Retry-After`) within `connectTimeoutMs` or `statementTimeoutMs` (+1 s), and the pool makes
 * new connections when it is back.
 *
 * @example
 * const storage = await postgresStorage({ connectionString: process.env.DATABASE_URL, poolSize: 20 });
 * await storage.users.count();
 * await storage.close();
 */
export async function postgresStorage(options: PostgresStorageOptions): Promise<PostgresStorage> {
  if (options === null || typeof options !== 'object') throw new TypeError('options: expected an object');
  const { connectionString } = options;
  if (
    options.pool === undefined &&
    (typeof connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(connectionString))
  ) {
    throw new TypeError('connectionString: expected a postgres:// or postgresql:// URL (or give pool)');
  }
  const poolSize = positiveInt(options.poolSize ?? 10, 'poolSize', 2, 1000);
  const statementTimeoutMs = positiveInt(
    options.statementTimeoutMs ?? 5_000,
    'statementTimeoutMs',
    1,
    3_600_000,
  );
  const connectTimeoutMs = positiveInt(options.connectTimeoutMs ?? 2_000, 'connectTimeoutMs', 1, 600_000);

  const ownPool = options.pool === undefined;
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString,
      max: poolSize,
      connectionTimeoutMillis: connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      // Bounded three ways: the server cancels a long statement; the client gives up on an
      // answer that never comes (a host that vanished without closing the socket); and an
      // open transaction whose client died does not hold its row locks for long.
      statement_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs + 1_000,
      idle_in_transaction_session_timeout: Math.max(statementTimeoutMs * 2, 10_000),
      keepAlive: true,
      application_name: 'rampart',
      ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
    });
  // An idle connection that breaks (the server restarted) is dropped by the pool; without a
  // listener the 'error' event would end the process.
  const onIdleError = options.onIdleError ?? (() => {});
  pool.on('error', (error) => onIdleError(error));

  let applied: string[] = [];
  if (options.migrate !== false) {
    try {
      applied = await migratePostgres(pool);
    } catch (error) {
      if (ownPool) await pool.end().catch(() => {});
      throw error;
    }
  }
  const sql = pgExecutor(pool);
  let closed = false;
  return {
    kind: 'postgres',
    pool,
    applied,
    users: postgresUserStore(sql),
    userAdmin: postgresUserAdminStore(sql),
    audit: postgresAuditStore(sql),
    ttl: postgresTtlStore(sql),
    refreshTokens: postgresRefreshTokenStore(sql),
    apiKeys: postgresApiKeyStore(sql),
    identities: postgresIdentityStore(sql),
    plans: postgresPlanStore(sql),
    usage: postgresUsageStore(sql),
    signingKeys: postgresSigningKeyStore(sql),
    async ping() {
      await sql.read('rampart_ping', 'SELECT 1');
    },
    exclusive: (fn) => withAdvisoryLock(pool, STARTUP_LOCK, fn),
    async close() {
      if (closed || !ownPool) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * Holds advisory lock (RAMPART, `id`) on one connection of `pool` while `fn` runs. The
 * connection waits for the lock without a statement timeout and is discarded afterwards, so
 * no session setting leaks into the pool.
 */
async function withAdvisoryLock<T>(pool: Pool, id: number, fn: () => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw storeError(error);
  }
  try {
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_SPACE, id]);
    try {
      return await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_SPACE, id]).catch(() => {});
    }
  } finally {
    client.release(true);
  }
}

/**
 * Applies the numbered migrations not yet recorded, each in its own transaction, under an
 * advisory lock: of instances starting together one migrates, the others wait and find
 * nothing left to do. Answers the ids it applied.
 */
export async function migratePostgres(pool: Pool): Promise<string[]> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new Error(`cannot reach PostgreSQL (${describe(error)})`, { cause: error });
  }
  const applied: string[] = [];
  try {
    // A migration may take longer than a request's statement timeout; so may waiting for the lock.
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_SPACE, MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)',
      );
      const done = new Set(
        (await client.query('SELECT id FROM schema_migrations')).rows.map((r) => String(r.id)),
      );
      for (const migration of POSTGRES_MIGRATIONS) {
        if (done.has(migration.id)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (id, applied_at) VALUES ($1, $2)', [
            migration.id,
            Date.now(),
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`migration ${migration.id} failed: ${describe(error)}`, { cause: error });
        }
        applied.push(migration.id);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_SPACE, MIGRATION_LOCK]).catch(() => {});
    }
  } finally {
    client.release(true);
  }
  return applied;
}

/** An error in one line without secrets: the code and message (pg never puts the password there). */
function describe(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? `${e.code}: ` : '';
  return `${code}${typeof e?.message === 'string' ? e.message : String(error)}`;
}

function postgresAuditStore(sql: Sql): PrunableAuditStore {
  return {
    async append(events) {
      if (events.length === 0) return;
      // One statement for the whole batch: all rows or none.
      await sql.write(
        'rampart_audit_append',
        `INSERT INTO audit_events (id, type, at, actor, ip, request_id, outcome, detail, count)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                              $7::text[], $8::text[], $9::int[])`,
        [
          events.map((e) => e.id),
          events.map((e) => e.type),
          events.map((e) => e.at),
          events.map((e) => e.actor ?? null),
          events.map((e) => e.ip ?? null),
          events.map((e) => e.requestId ?? null),
          events.map((e) => e.outcome),
          events.map((e) => JSON.stringify(e.detail)),
          events.map((e) => e.count),
        ],
      );
    },
    async list(query) {
      const params = parameters();
      const where: string[] = [];
      if (query.type !== undefined) where.push(`type = ${params.add(query.type)}`);
      if (query.actor !== undefined) where.push(`actor = ${params.add(query.actor)}`);
      if (query.since !== undefined) where.push(`at >= ${params.add(query.since)}`);
      if (query.until !== undefined) where.push(`at <= ${params.add(query.until)}`);
      // Named by which filters are present: at most 32 prepared statements.
      const shape = (['type', 'actor', 'since', 'until'] as const)
        .map((f) => (query[f] !== undefined ? 1 : 0))
        .join('');
      const { rows, nextCursor } = await pgKeysetPage(
        sql,
        {
          name: `rampart_audit_list_${shape}`,
          select: 'SELECT * FROM audit_events',
          where,
          params,
          at: 'at',
          id: 'id',
        },
        query,
      );
      return { events: rows.map(eventFromRow), nextCursor };
    },
    async prune(before) {
      let removed = 0;
      for (;;) {
        const { count } = await sql.write(
          'rampart_audit_prune',
          `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 LIMIT ${PRUNE_BATCH})`,
          [before],
        );
        removed += count;
        if (count < PRUNE_BATCH) return removed;
      }
    },
  };
}

/** The smallest string above every string that starts with `prefix` (ASCII prefixes only). */
function prefixEnd(prefix: string): string | undefined {
  if (prefix === '' || !/^[\x20-\x7e]+$/.test(prefix)) return undefined;
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

function postgresTtlStore(sql: Sql): TtlStore {
  return {
    async put(key, value, expiresAt) {
      await sql.write(
        'rampart_ttl_put',
        `INSERT INTO ttl_entries (key, value, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
        [key, value, expiresAt],
      );
    },
    async get(key, now) {
      const rows = await sql.read(
        'rampart_ttl_get',
        'SELECT value FROM ttl_entries WHERE key = $1 AND expires_at > $2',
        [key, now],
      );
      return rows[0] ? String(rows[0].value) : undefined;
    },
    async take(key, now) {
      // One statement: of concurrent takes, the row lock lets exactly one delete (and get) it.
      if (key.includes('\u0000')) return undefined;
      const { rows } = await sql.write(
        'rampart_ttl_take',
        'DELETE FROM ttl_entries WHERE key = $1 AND expires_at > $2 RETURNING value',
        [key, now],
      );
      return rows[0] ? String(rows[0].value) : undefined;
    },
    async list(prefix, now) {
      const end = prefixEnd(prefix);
      // A key range on the "C"-collated primary key, so a prefix scan uses the index.
      const rows =
        prefix === ''
          ? await sql.read('rampart_ttl_list_all', 'SELECT * FROM ttl_entries WHERE expires_at > $1', [now])
          : end !== undefined
            ? await sql.read(
                'rampart_ttl_list_range',
                'SELECT * FROM ttl_entries WHERE key >= $1 AND key < $2 AND expires_at > $3',
                [prefix, end, now],
              )
            : await sql.read(
                'rampart_ttl_list_prefix',
                'SELECT * FROM ttl_entries WHERE starts_with(key, $1) AND expires_at > $2',
                [prefix, now],
              );
      return rows.map((row) => ({
        key: String(row.key),
        value: String(row.value),
        expiresAt: Number(row.expires_at),
      }));
    },
    async sweep(now) {
      return (await sql.write('rampart_ttl_sweep', 'DELETE FROM ttl_entries WHERE expires_at <= $1', [now]))
        .count;
    },
  };
}

const refreshValues = (r: RefreshTokenRecord) => [
  r.tokenHash,
  r.familyId,
  r.userId,
  r.createdAt,
  r.familyCreatedAt,
  r.usedAt ?? null,
  r.replacedBy ?? null,
  r.revokedAt ?? null,
];

function postgresRefreshTokenStore(sql: Sql): RefreshTokenStore {
  return {
    async insert(record) {
      await sql.write(
        'rampart_refresh_insert',
        `INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, family_created_at, used_at, replaced_by, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        refreshValues(record),
      );
    },
    get: async (tokenHash) =>
      refreshFromRow(
        (
          await sql.read('rampart_refresh_get', 'SELECT * FROM refresh_tokens WHERE token_hash = $1', [
            tokenHash,
          ])
        )[0],
      ),
    async rotate(tokenHash, successor, now) {
      // The compare-and-set and the successor in one statement: only an unused, unrevoked row
      // is marked (a concurrent rotation waits on the row lock, then finds it used), and the
      // successor is written only when the mark was.
      const { count } = await sql.write(
        'rampart_refresh_rotate',
        `WITH used AS (
           UPDATE refresh_tokens SET used_at = $9, replaced_by = $1
           WHERE token_hash = $10 AND used_at IS NULL AND revoked_at IS NULL
           RETURNING 1
         )
         INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, family_created_at, used_at, replaced_by, revoked_at)
         SELECT $1::text, $2::text, $3::text, $4::bigint, $5::bigint, $6::bigint, $7::text, $8::bigint
         WHERE EXISTS (SELECT 1 FROM used)`,
        [...refreshValues(successor), now, tokenHash],
      );
      return count === 1;
    },
    async revokeToken(tokenHash, now) {
      await sql.write(
        'rampart_refresh_revoke_token',
        'UPDATE refresh_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL',
        [now, tokenHash],
      );
    },
    revokeFamily: async (familyId, now) =>
      (
        await sql.write(
          'rampart_refresh_revoke_family',
          'UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL',
          [now, familyId],
        )
      ).count,
    async revokeUser(userId, now) {
      const { rows } = await sql.write(
        'rampart_refresh_revoke_user',
        'UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL RETURNING family_id',
        [now, userId],
      );
      return [...new Set(rows.map((r) => String(r.family_id)))];
    },
    async list(query) {
      const { rows, nextCursor } = await pgKeysetPage(
        sql,
        {
          name: 'rampart_refresh_list',
          select: 'SELECT * FROM refresh_tokens',
          where: [],
          params: parameters(),
          at: 'created_at',
          id: 'token_hash',
        },
        query,
      );
      return { tokens: rows.map((r) => refreshFromRow(r)!), nextCursor };
    },
  };
}

function toStoredKey(row: Row): StoredSigningKey {
  return {
    record: {
      kid: String(row.kid),
      alg: String(row.alg) as StoredSigningKey['record']['alg'],
      createdAt: Number(row.created_at),
      ...(row.public_jwk !== null ? { publicJwk: JSON.parse(String(row.public_jwk)) } : {}),
      privateJwk: JSON.parse(String(row.private_jwk)),
    },
    activatesAt: Number(row.activates_at),
  };
}

function postgresSigningKeyStore(sql: PgExecutor): SigningKeyStore {
  return {
    list: async () =>
      (
        await sql.read('rampart_signing_keys_list', 'SELECT * FROM signing_keys ORDER BY activates_at, kid')
      ).map(toStoredKey),
    add(key, expectedLastKid, dropSupersededBefore) {
      return sql.transaction(async (tx) => {
        // Serialises adds across instances: the check below and the insert are one step.
        await tx.read('rampart_signing_keys_lock', 'SELECT pg_advisory_xact_lock($1, $2)', [
          LOCK_SPACE,
          SIGNING_KEY_LOCK,
        ]);
        const last = await tx.read(
          'rampart_signing_keys_last',
          'SELECT kid FROM signing_keys ORDER BY activates_at DESC, kid DESC LIMIT 1',
        );
        if ((last[0] ? String(last[0].kid) : null) !== expectedLastKid) return rollback(false);
        const r = key.record;
        const { count } = await tx.write(
          'rampart_signing_keys_add',
          `INSERT INTO signing_keys (kid, alg, created_at, activates_at, public_jwk, private_jwk)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING`,
          [
            r.kid,
            r.alg,
            r.createdAt,
            key.activatesAt,
            r.publicJwk === undefined ? null : JSON.stringify(r.publicJwk),
            JSON.stringify(r.privateJwk),
          ],
        );
        if (count !== 1) return rollback(false);
        await tx.write(
          'rampart_signing_keys_drop',
          `DELETE FROM signing_keys s WHERE EXISTS (
             SELECT 1 FROM signing_keys n WHERE n.activates_at > s.activates_at AND n.activates_at <= $1)`,
          [dropSupersededBefore],
        );
        return true;
      });
    },
  };
}
