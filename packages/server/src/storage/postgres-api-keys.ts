import type { ApiKeyRecord } from 'rampart/internal/api-keys/record.ts';
import { sameCredits, spendShared } from './budgets.ts';
import { patchKey } from './patches.ts';
import { type PgExecutor, rollback, type Sql } from './postgres-client.ts';
import { parameters, pgKeysetPage } from './postgres-page.ts';
import {
  API_KEY_COLUMNS,
  API_KEY_SELECT,
  apiKeyFromRow,
  apiKeyValues,
  creditsFromRow,
  creditValues,
  type Row,
} from './rows.ts';
import type { ApiKeyStore, CreditSpend } from './types.ts';

const INSERT = `INSERT INTO api_keys (${API_KEY_COLUMNS.join(', ')})
  VALUES (${API_KEY_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
  ON CONFLICT DO NOTHING`;

const CREDITS = 'credits_remaining, refill_amount, refill_interval_ms, refill_last_at, refill_max';
const SET_CREDITS =
  'credits_remaining = $1, refill_amount = $2, refill_interval_ms = $3, refill_last_at = $4, refill_max = $5';

const add = async (sql: Sql, record: ApiKeyRecord) =>
  (await sql.write('rampart_key_insert', INSERT, apiKeyValues(record))).count === 1;

/**
 * API keys on PostgreSQL; see `ApiKeyStore` for what is atomic. The steps are row-locked
 * transactions, and every transaction that takes two locks takes them in one order (a key's
 * row, then its budget's, then its identity's), so none can deadlock another:
 *
 * - rotation: `UPDATE … WHERE rotated_to IS NULL AND revoked_at IS NOT DISTINCT FROM $expected`
 *   takes the old key's row lock first, so a simultaneous rotation waits, then finds it
 *   rotated and writes nothing;
 * - a key of an identity is inserted after `FOR KEY SHARE` on the identity's row, which an
 *   identity deletion (`FOR UPDATE`) cannot take at the same time;
 * - a patch locks the key's row, then its budget's; a spend locks the budget's row, then the
 *   identity's (`FOR NO KEY UPDATE`, which does not block key inserts).
 */
export function postgresApiKeyStore(sql: PgExecutor): ApiKeyStore {
  const readOne = async (tx: Sql, id: string) =>
    apiKeyFromRow((await tx.read('rampart_key_by_id', `${API_KEY_SELECT} WHERE k.id = $1`, [id]))[0]);
  return {
    async insert(record, replaces) {
      if (replaces === undefined) {
        if (!record.identityId) return add(sql, record);
        const identityId = record.identityId;
        return sql.transaction(async (tx) => {
          const found = await tx.read(
            'rampart_key_identity_share',
            'SELECT 1 FROM identities WHERE id = $1 FOR KEY SHARE',
            [identityId],
          );
          if (found.length === 0) return rollback(false);
          return (await add(tx, record)) ? true : rollback(false);
        });
      }
      return sql.transaction(async (tx) => {
        const moved = await tx.write(
          'rampart_key_schedule_end',
          `UPDATE api_keys SET revoked_at = $1, rotated_to = $2
           WHERE id = $3 AND rotated_to IS NULL AND revoked_at IS NOT DISTINCT FROM $4
           RETURNING COALESCE(budget_key_id, id) AS budget, identity_id`,
          [replaces.revokedAt, record.id, replaces.id, replaces.expectedRevokedAt],
        );
        const old = moved.rows[0];
        if (old === undefined) return rollback(false);
        const successor: ApiKeyRecord = {
          ...record,
          rotatedFrom: replaces.id,
          budgetKeyId: String(old.budget),
          identityId: old.identity_id === null ? null : String(old.identity_id),
        };
        return (await add(tx, successor)) ? true : rollback(false);
      });
    },
    async findByHash(hashes) {
      if (hashes.length === 0) return undefined;
      // One prepared statement for any number of candidate hashes.
      const rows = await sql.read(
        'rampart_key_by_hash',
        `${API_KEY_SELECT} WHERE k.hash = ANY($1::text[]) LIMIT 1`,
        [hashes],
      );
      return apiKeyFromRow(rows[0]);
    },
    get: (id) => readOne(sql, id),
    async list(query) {
      const params = parameters();
      const where: string[] = [];
      if (query.ownerId === null) where.push('k.owner_id IS NULL');
      else if (query.ownerId !== undefined) where.push(`k.owner_id = ${params.add(query.ownerId)}`);
      if (query.identityId !== undefined) where.push(`k.identity_id = ${params.add(query.identityId)}`);
      const owner = query.ownerId === null ? 'none' : query.ownerId === undefined ? 'any' : 'one';
      const { rows, nextCursor } = await pgKeysetPage(
        sql,
        {
          name: `rampart_key_list_${owner}_${query.identityId === undefined ? 'all' : 'identity'}`,
          select: API_KEY_SELECT,
          where,
          params,
          at: 'k.created_at',
          id: 'k.id',
        },
        query,
      );
      return { keys: rows.map((row) => apiKeyFromRow(row)!), nextCursor };
    },
    update(id, patch) {
      return sql.transaction(async (tx) => {
        const locked = await tx.read(
          'rampart_key_lock',
          'SELECT COALESCE(budget_key_id, id) AS budget FROM api_keys WHERE id = $1 FOR UPDATE',
          [id],
        );
        if (locked[0] === undefined) return undefined;
        const budgetId = String(locked[0].budget);
        const changesBudget = patch.credits !== undefined || patch.rateLimit !== undefined;
        let budgetFound = budgetId === id;
        if (budgetId !== id && changesBudget) {
          const budget = await tx.read(
            'rampart_key_budget_lock',
            'SELECT id FROM api_keys WHERE id = $1 FOR UPDATE',
            [budgetId],
          );
          budgetFound = budget.length === 1;
        }
        const next = patchKey((await readOne(tx, id))!, patch);
        await tx.write(
          'rampart_key_write',
          `UPDATE api_keys SET hash = $1, name = $2, scopes = $3, metadata = $4, expires_at = $5, revoked_at = $6,
             disabled_at = $7 WHERE id = $8`,
          [
            next.hash,
            next.name,
            JSON.stringify(next.scopes),
            JSON.stringify(next.metadata),
            next.expiresAt,
            next.revokedAt,
            next.disabledAt ?? null,
            id,
          ],
        );
        if (changesBudget && budgetFound) {
          await tx.write(
            'rampart_key_budget_write',
            `UPDATE api_keys SET ${SET_CREDITS}, rate_limit = $6, rate_window_ms = $7 WHERE id = $8`,
            [
              ...creditValues(next.credits),
              next.rateLimit?.limit ?? null,
              next.rateLimit?.windowMs ?? null,
              budgetId,
            ],
          );
        }
        return readOne(tx, id);
      });
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
        // budget_key_id and identity_id never change once written: reading them unlocked is safe.
        const rows = await tx.read(
          'rampart_key_spend_lock',
          `SELECT k.identity_id, b.id AS budget_id, b.credits_remaining, b.refill_amount, b.refill_interval_ms,
             b.refill_last_at, b.refill_max
           FROM api_keys k LEFT JOIN LATERAL (
             SELECT * FROM api_keys WHERE id = COALESCE(k.budget_key_id, k.id) FOR UPDATE
           ) b ON true
           WHERE k.id = $1`,
          [id],
        );
        const key = rows[0];
        if (key === undefined) return undefined;
        const budget = key.budget_id === null ? { remaining: 0 } : creditsFromRow(key);
        const identityId = key.identity_id === null ? undefined : String(key.identity_id);
        let identityRow: Row | undefined;
        if (identityId !== undefined) {
          identityRow = (
            await tx.read(
              'rampart_identity_credits_lock',
              `SELECT ${CREDITS} FROM identities WHERE id = $1 FOR NO KEY UPDATE`,
              [identityId],
            )
          )[0];
        }
        const identity =
          identityId === undefined ? undefined : identityRow ? creditsFromRow(identityRow) : { remaining: 0 };
        const outcome = spendShared(budget, identity, cost, now);
        if (key.budget_id !== null && !sameCredits(budget, outcome.budget)) {
          await tx.write('rampart_key_credits_set', `UPDATE api_keys SET ${SET_CREDITS} WHERE id = $6`, [
            ...creditValues(outcome.budget),
            String(key.budget_id),
          ]);
        }
        if (identityRow && outcome.identity !== undefined && !sameCredits(identity!, outcome.identity)) {
          await tx.write(
            'rampart_identity_credits_set',
            `UPDATE identities SET ${SET_CREDITS} WHERE id = $6`,
            [...creditValues(outcome.identity), identityId],
          );
        }
        const answer: CreditSpend = {
          allowed: outcome.allowed,
          remaining: outcome.budget?.remaining ?? null,
        };
        if (outcome.identity !== undefined) answer.identityRemaining = outcome.identity?.remaining ?? null;
        return answer;
      });
    },
  };
}
