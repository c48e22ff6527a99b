import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { decodeCursor, encodeCursor } from 'rampart/internal/lib/cursor.ts';
import { eventFromRow, PRUNE_BATCH, refreshFromRow } from './rows.ts';
import { sqliteApiKeyStore } from './sqlite-api-keys.ts';
import { sqliteIdentityStore, sqlitePlanStore } from './sqlite-identities.ts';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';
import { keysetPage, type Row } from './sqlite-page.ts';
import { transaction } from './sqlite-transaction.ts';
import { sqliteUsageStore } from './sqlite-usage.ts';
import { sqliteUserAdminStore, sqliteUserStore } from './sqlite-users.ts';
import type {
  PrunableAuditStore,
  RefreshTokenRecord,
  RefreshTokenStore,
  Storage,
  TtlStore,
} from './types.ts';

export interface SqliteStorageOptions {
  /** Database file; `:memory:` for a throwaway database. */
  path: string;
  /** How long a writer waits for a lock before failing, in ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Storage on `node:sqlite` (built in, no native build). WAL journal with `synchronous=FULL`:
 * a write is on disk when the call returns, so an acknowledged write survives `kill -9` and
 * power loss. Each method is one statement or one `BEGIN IMMEDIATE` transaction, so it is
 * atomic; SQLite serialises writers, including other processes on the same file.
 */
export function sqliteStorage(options: SqliteStorageOptions): Storage {
  if (typeof options.path !== 'string' || options.path === '') {
    throw new TypeError('storage.path: expected a file path');
  }
  if (options.path !== ':memory:') {
    mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's mode.
    closeSync(openSync(options.path, 'a', 0o600));
  }
  const db = new DatabaseSync(options.path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
    PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)};`);
  migrate(db);
  return {
    kind: 'sqlite',
    users: sqliteUserStore(db),
    userAdmin: sqliteUserAdminStore(db),
    audit: sqliteAuditStore(db),
    ttl: sqliteTtlStore(db),
    refreshTokens: sqliteRefreshTokenStore(db),
    apiKeys: sqliteApiKeyStore(db),
    identities: sqliteIdentityStore(db),
    plans: sqlitePlanStore(db),
    usage: sqliteUsageStore(db),
    ping() {
      db.prepare('SELECT 1').get();
    },
    close() {
      if (db.isOpen) db.close();
    },
  };
}

/** Applies the numbered forward-only migrations not yet recorded, each in its own transaction. */
function migrate(db: DatabaseSync): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const done = new Set(
    db
      .prepare('SELECT id FROM schema_migrations')
      .all()
      .map((row) => String(row.id)),
  );
  for (const migration of SQLITE_MIGRATIONS) {
    if (done.has(migration.id)) continue;
    transaction(db, () => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)').run(
        migration.id,
        Date.now(),
      );
    });
  }
}

export { transaction };

function sqliteAuditStore(db: DatabaseSync): PrunableAuditStore {
  const insert = db.prepare(
    `INSERT INTO audit_events (id, type, at, actor, ip, request_id, outcome, detail, count)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const prune = db.prepare(
    `DELETE FROM audit_events WHERE rowid IN (SELECT rowid FROM audit_events WHERE at < ? LIMIT ${PRUNE_BATCH})`,
  );
  return {
    append(events) {
      if (events.length === 0) return;
      transaction(db, () => {
        for (const e of events) {
          insert.run(
            e.id,
            e.type,
            e.at,
            e.actor ?? null,
            e.ip ?? null,
            e.requestId ?? null,
            e.outcome,
            JSON.stringify(e.detail),
            e.count,
          );
        }
      });
    },
    list(query) {
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      if (query.type !== undefined) where.push('type = ?') && params.push(query.type);
      if (query.actor !== undefined) where.push('actor = ?') && params.push(query.actor);
      if (query.since !== undefined) where.push('at >= ?') && params.push(query.since);
      if (query.until !== undefined) where.push('at <= ?') && params.push(query.until);
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      if (cursor)
        where.push('(at < ? OR (at = ? AND id < ?))') && params.push(cursor.at, cursor.at, cursor.id);
      const sql = `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY at DESC, id DESC LIMIT ?`;
      const rows = db.prepare(sql).all(...params, query.limit + 1) as Row[];
      const events = rows.slice(0, query.limit).map(eventFromRow);
      const last = events.at(-1);
      return {
        events,
        nextCursor: rows.length > query.limit && last ? encodeCursor(last.at, last.id) : null,
      };
    },
    prune(before) {
      let removed = 0;
      for (;;) {
        const n = Number(prune.run(before).changes);
        removed += n;
        if (n < PRUNE_BATCH) return removed;
      }
    },
  };
}

function sqliteTtlStore(db: DatabaseSync): TtlStore {
  const put = db.prepare(
    'INSERT INTO ttl_entries (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
  );
  const get = db.prepare('SELECT value FROM ttl_entries WHERE key = ? AND expires_at > ?');
  const take = db.prepare('DELETE FROM ttl_entries WHERE key = ? AND expires_at > ? RETURNING value');
  const sweep = db.prepare('DELETE FROM ttl_entries WHERE expires_at <= ?');
  const list = db.prepare(
    'SELECT key, value, expires_at FROM ttl_entries WHERE substr(key, 1, length(?)) = ? AND expires_at > ?',
  );
  return {
    put(key, value, expiresAt) {
      put.run(key, value, expiresAt);
    },
    get(key, now) {
      const row = get.get(key, now) as Row | undefined;
      return row ? String(row.value) : undefined;
    },
    take(key, now) {
      const row = take.get(key, now) as Row | undefined;
      return row ? String(row.value) : undefined;
    },
    list: (prefix, now) =>
      (list.all(prefix, prefix, now) as Row[]).map((row) => ({
        key: String(row.key),
        value: String(row.value),
        expiresAt: Number(row.expires_at),
      })),
    sweep: (now) => Number(sweep.run(now).changes),
  };
}

function sqliteRefreshTokenStore(db: DatabaseSync): RefreshTokenStore {
  const insert = db.prepare(
    `INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, family_created_at, used_at, replaced_by, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const get = db.prepare('SELECT * FROM refresh_tokens WHERE token_hash = ?');
  // The compare-and-set: only an unused, unrevoked row changes, so one caller wins.
  const markUsed = db.prepare(
    'UPDATE refresh_tokens SET used_at = ?, replaced_by = ? WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL',
  );
  const revokeToken = db.prepare(
    'UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL',
  );
  const revokeFamily = db.prepare(
    'UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL',
  );
  const revokeUser = db.prepare(
    'UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING family_id',
  );
  const add = (r: RefreshTokenRecord) =>
    insert.run(
      r.tokenHash,
      r.familyId,
      r.userId,
      r.createdAt,
      r.familyCreatedAt,
      r.usedAt ?? null,
      r.replacedBy ?? null,
      r.revokedAt ?? null,
    );
  return {
    insert(record) {
      add(record);
    },
    get: (tokenHash) => refreshFromRow(get.get(tokenHash) as Row | undefined),
    rotate(tokenHash, successor, now) {
      return transaction(db, () => {
        if (markUsed.run(now, successor.tokenHash, tokenHash).changes !== 1) return false;
        add(successor);
        return true;
      });
    },
    revokeToken(tokenHash, now) {
      revokeToken.run(now, tokenHash);
    },
    revokeFamily: (familyId, now) => Number(revokeFamily.run(now, familyId).changes),
    revokeUser: (userId, now) => [
      ...new Set((revokeUser.all(now, userId) as Row[]).map((r) => String(r.family_id))),
    ],
    list(query) {
      const { rows, nextCursor } = keysetPage(
        db,
        { select: 'SELECT * FROM refresh_tokens', at: 'created_at', id: 'token_hash' },
        query,
      );
      return { tokens: rows.map((row) => refreshFromRow(row)!), nextCursor };
    },
  };
}
