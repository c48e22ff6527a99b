import { applyCredits } from 'rampart/internal/api-keys/verify.ts';
import { decodeCursor, encodeCursor } from 'rampart/internal/lib/cursor.ts';
import { type PgExecutor, rollback } from './postgres-client.ts';
import { apiKeyFromRow, apiKeyValues, creditsFromRow } from './rows.ts';
import type { ApiKeyStore } from './types.ts';

const _num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const INSERT = `INSERT INTO api_keys (id, hash, hint, prefix, name, owner_id, scopes, created_at, expires_at,
    last_used_at, revoked_at, metadata, credits_remaining, refill_amount, refill_interval_ms, refill_last_at,
    refill_max, rate_limit, rate_window_ms, rotated_from)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
  ON CONFLICT DO NOTHING`;

const insertValues = apiKeyValues;

/**
 * API keys on PostgreSQL; see `ApiKeyStore` for what is atomic. A rotation is one transaction
 * whose `UPDATE … WHERE revoked_at IS NOT DISTINCT FROM $expected` takes the old key's row lock
 * first, so a simultaneous rotation waits, then finds the end changed and writes nothing; a
 * credit spend reads its row `FOR UPDATE`, so spends of one key on any instance run one at a time.
 */
export function postgresApiKeyStore(sql: PgExecutor): ApiKeyStore {
  return {
    async insert(record, replaces) {
      if (replaces === undefined)
        return (await sql.write('rampart_key_insert', INSERT, insertValues(record))).count === 1;
      return sql.transaction(async (tx) => {
        const moved = await tx.write(
          'rampart_key_schedule_end',
          'UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NOT DISTINCT FROM $3',
          [replaces.revokedAt, replaces.id, replaces.expectedRevokedAt],
        );
        if (moved.count !== 1) return rollback(false);
        const added = await tx.write('rampart_key_insert', INSERT, insertValues(record));
        return added.count === 1 ? true : rollback(false);
      });
    },
    async findByHash(hashes) {
      if (hashes.length === 0) return undefined;
      // One prepared statement for any number of candidate hashes.
      const rows = await sql.read(
        'rampart_key_by_hash',
        'SELECT * FROM api_keys WHERE hash = ANY($1::text[]) LIMIT 1',
        [hashes],
      );
      return apiKeyFromRow(rows[0]);
    },
    get: async (id) =>
      apiKeyFromRow((await sql.read('rampart_key_by_id', 'SELECT * FROM api_keys WHERE id = $1', [id]))[0]),
    async list(query) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (query.ownerId === null) where.push('owner_id IS NULL');
      else if (query.ownerId !== undefined) {
        params.push(query.ownerId);
        where.push(`owner_id = $${params.length}`);
      }
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      if (cursor) {
        params.push(cursor.at, cursor.id);
        const n = params.length - 1;
        where.push(`(created_at < $${n} OR (created_at = $${n} AND id < $${n + 1}))`);
      }
      const owner = query.ownerId === null ? 'none' : query.ownerId === undefined ? 'any' : 'one';
      const rows = await sql.read(
        `rampart_key_list_${owner}_${cursor ? 'after' : 'first'}`,
        `SELECT * FROM api_keys ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at DESC, id DESC LIMIT $${params.length + 1}`,
        [...params, query.limit + 1],
      );
      const keys = rows.slice(0, query.limit).map((row) => apiKeyFromRow(row)!);
      const last = keys.at(-1);
      return {
        keys,
        nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null,
      };
    },
    async update(id, patch) {
      const { rows } = await sql.write(
        'rampart_key_update',
        `UPDATE api_keys SET
           revoked_at = CASE WHEN $2::bigint IS NULL THEN revoked_at
                             WHEN revoked_at IS NULL OR revoked_at > $2::bigint THEN $2::bigint
                             ELSE revoked_at END,
           hash = COALESCE($3::text, hash)
         WHERE id = $1 RETURNING *`,
        [id, patch.revokedAt ?? null, patch.hash ?? null],
      );
      return apiKeyFromRow(rows[0]);
    },
    async touchMany(entries) {
      if (entries.size === 0) return;
      // One statement for the batch; last-used only moves forward.
      await sql.write(
        'rampart_key_touch',
        `UPDATE api_keys AS k SET last_used_at = GREATEST(COALESCE(k.last_used_at, 0), v.at)
         FROM unnest($1::text[], $2::bigint[]) AS v(id, at) WHERE k.id = v.id`,
        [[...entries.keys()], [...entries.values()]],
      );
    },
    spendCredits(id, cost, now) {
      return sql.transaction(async (tx) => {
        const rows = await tx.read(
          'rampart_key_credits_lock',
          `SELECT credits_remaining, refill_amount, refill_interval_ms, refill_last_at, refill_max
           FROM api_keys WHERE id = $1 FOR UPDATE`,
          [id],
        );
        if (!rows[0]) return undefined;
        const current = creditsFromRow(rows[0]);
        if (current === null) return { allowed: true, remaining: null };
        const outcome = applyCredits(current, now, cost);
        const next = outcome.credits!;
        if (
          next.remaining !== current.remaining ||
          next.refill?.lastRefillAt !== current.refill?.lastRefillAt
        ) {
          await tx.write(
            'rampart_key_credits_set',
            'UPDATE api_keys SET credits_remaining = $1, refill_last_at = $2 WHERE id = $3',
            [next.remaining, next.refill?.lastRefillAt ?? null, id],
          );
        }
        return { allowed: outcome.allowed, remaining: next.remaining };
      });
    },
  };
}
