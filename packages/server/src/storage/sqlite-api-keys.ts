import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type { ApiKeyRecord } from 'rampart/internal/api-keys/record.ts';
import { applyCredits } from 'rampart/internal/api-keys/verify.ts';
import { decodeCursor, encodeCursor } from 'rampart/internal/lib/cursor.ts';
import { apiKeyFromRow, apiKeyValues, creditsFromRow } from './rows.ts';
import { transaction } from './sqlite-transaction.ts';
import type { ApiKeyStore } from './types.ts';

type Row = Record<string, SQLInputValue>;

const _num = (v: SQLInputValue): number | null => (v === null ? null : Number(v));

/** Thrown inside a transaction to roll it back when a compare-and-set fails. */
class Conflict extends Error {}

/** API keys on SQLite; see `ApiKeyStore` for what is atomic. */
export function sqliteApiKeyStore(db: DatabaseSync): ApiKeyStore {
  const insert = db.prepare(
    `INSERT INTO api_keys (id, hash, hint, prefix, name, owner_id, scopes, created_at, expires_at, last_used_at,
       revoked_at, metadata, credits_remaining, refill_amount, refill_interval_ms, refill_last_at, refill_max,
       rate_limit, rate_window_ms, rotated_from)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const scheduleEnd = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS ?');
  const byId = db.prepare('SELECT * FROM api_keys WHERE id = ?');
  const update = db.prepare(
    `UPDATE api_keys SET
       revoked_at = CASE WHEN :revokedAt IS NULL THEN revoked_at
                         WHEN revoked_at IS NULL OR revoked_at > :revokedAt THEN :revokedAt
                         ELSE revoked_at END,
       hash = COALESCE(:hash, hash)
     WHERE id = :id RETURNING *`,
  );
  const touch = db.prepare(
    'UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?',
  );
  const credits = db.prepare(
    'SELECT credits_remaining, refill_amount, refill_interval_ms, refill_last_at, refill_max FROM api_keys WHERE id = ?',
  );
  const setCredits = db.prepare('UPDATE api_keys SET credits_remaining = ?, refill_last_at = ? WHERE id = ?');

  // One statement per candidate count (one per pepper version, plus one in import mode):
  // prepared once, since a lookup runs on every uncached verification.
  const lookups = new Map<number, StatementSync>();
  const lookup = (count: number): StatementSync => {
    let statement = lookups.get(count);
    if (statement === undefined) {
      statement = db.prepare(
        `SELECT * FROM api_keys WHERE hash IN (${Array.from({ length: count }, () => '?').join(', ')}) LIMIT 1`,
      );
      if (lookups.size < 16) lookups.set(count, statement);
    }
    return statement;
  };

  const add = (r: ApiKeyRecord): boolean => insert.run(...apiKeyValues(r)).changes === 1;

  return {
    insert(record, replaces) {
      if (replaces === undefined) return add(record);
      try {
        return transaction(db, () => {
          if (!add(record)) return false;
          const moved = scheduleEnd.run(replaces.revokedAt, replaces.id, replaces.expectedRevokedAt);
          if (moved.changes !== 1) throw new Conflict();
          return true;
        });
      } catch (error) {
        if (error instanceof Conflict) return false;
        throw error;
      }
    },
    findByHash(hashes) {
      if (hashes.length === 0) return undefined;
      return apiKeyFromRow(lookup(hashes.length).get(...hashes) as Row | undefined);
    },
    get: (id) => apiKeyFromRow(byId.get(id) as Row | undefined),
    list(query) {
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      if (query.ownerId === null) where.push('owner_id IS NULL');
      else if (query.ownerId !== undefined) where.push('owner_id = ?') && params.push(query.ownerId);
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      if (cursor) {
        where.push('(created_at < ? OR (created_at = ? AND id < ?))');
        params.push(cursor.at, cursor.at, cursor.id);
      }
      const sql = `SELECT * FROM api_keys ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id DESC LIMIT ?`;
      const rows = db.prepare(sql).all(...params, query.limit + 1) as Row[];
      const keys = rows.slice(0, query.limit).map((row) => apiKeyFromRow(row)!);
      const last = keys.at(-1);
      return {
        keys,
        nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null,
      };
    },
    update(id, patch) {
      const row = update.get({ id, revokedAt: patch.revokedAt ?? null, hash: patch.hash ?? null }) as
        | Row
        | undefined;
      return apiKeyFromRow(row);
    },
    touchMany(entries) {
      if (entries.size === 0) return;
      transaction(db, () => {
        for (const [id, at] of entries) touch.run(at, id);
      });
    },
    spendCredits(id, cost, now) {
      return transaction(db, () => {
        const row = credits.get(id) as Row | undefined;
        if (!row) return undefined;
        const current = creditsFromRow(row);
        if (current === null) return { allowed: true, remaining: null };
        const outcome = applyCredits(current, now, cost);
        const next = outcome.credits!;
        if (
          next.remaining !== current.remaining ||
          next.refill?.lastRefillAt !== current.refill?.lastRefillAt
        ) {
          setCredits.run(next.remaining, next.refill?.lastRefillAt ?? null, id);
        }
        return { allowed: outcome.allowed, remaining: next.remaining };
      });
    },
  };
}
