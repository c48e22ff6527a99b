import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ApiKeyRecord } from 'rampart/internal/api-keys/record.ts';
import { sameCredits, spendShared } from './budgets.ts';
import { patchKey } from './patches.ts';
import {
  API_KEY_COLUMNS,
  API_KEY_SELECT,
  apiKeyFromRow,
  apiKeyValues,
  creditsFromRow,
  creditValues,
} from './rows.ts';
import { keysetPage, type Row } from './sqlite-page.ts';
import { transaction } from './sqlite-transaction.ts';
import type { ApiKeyStore, CreditSpend } from './types.ts';

const CREDITS = 'credits_remaining, refill_amount, refill_interval_ms, refill_last_at, refill_max';
const SET_CREDITS =
  'credits_remaining = ?, refill_amount = ?, refill_interval_ms = ?, refill_last_at = ?, refill_max = ?';

/**
 * API keys on SQLite; see `ApiKeyStore` for what is atomic. Every step that reads before it
 * writes (rotation, patch, spend) is one `BEGIN IMMEDIATE` transaction: it holds the write
 * lock from its first read, so other connections and processes on the file wait for it.
 */
export function sqliteApiKeyStore(db: DatabaseSync): ApiKeyStore {
  const insert = db.prepare(
    `INSERT INTO api_keys (${API_KEY_COLUMNS.join(', ')})
     VALUES (${API_KEY_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`,
  );
  const byId = db.prepare(`${API_KEY_SELECT} WHERE k.id = ?`);
  const identityExists = db.prepare('SELECT 1 AS found FROM identities WHERE id = ?');
  const rotationOf = db.prepare(
    'SELECT revoked_at, rotated_to, COALESCE(budget_key_id, id) AS budget, identity_id FROM api_keys WHERE id = ?',
  );
  const scheduleEnd = db.prepare('UPDATE api_keys SET revoked_at = ?, rotated_to = ? WHERE id = ?');
  const writeKey = db.prepare(
    `UPDATE api_keys SET hash = ?, name = ?, scopes = ?, metadata = ?, expires_at = ?, revoked_at = ?,
       disabled_at = ? WHERE id = ?`,
  );
  const writeBudget = db.prepare(
    `UPDATE api_keys SET ${SET_CREDITS}, rate_limit = ?, rate_window_ms = ? WHERE id = ?`,
  );
  const touch = db.prepare(
    'UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?',
  );
  const spendOf = db.prepare(
    'SELECT COALESCE(budget_key_id, id) AS budget, identity_id FROM api_keys WHERE id = ?',
  );
  const keyCredits = db.prepare(`SELECT ${CREDITS} FROM api_keys WHERE id = ?`);
  const identityCredits = db.prepare(`SELECT ${CREDITS} FROM identities WHERE id = ?`);
  const setKeyCredits = db.prepare(`UPDATE api_keys SET ${SET_CREDITS} WHERE id = ?`);
  const setIdentityCredits = db.prepare(`UPDATE identities SET ${SET_CREDITS} WHERE id = ?`);

  // One statement per candidate count (one per pepper version, plus one in import mode):
  // prepared once, since a lookup runs on every uncached verification.
  const lookups = new Map<number, StatementSync>();
  const lookup = (count: number): StatementSync => {
    let statement = lookups.get(count);
    if (statement === undefined) {
      statement = db.prepare(
        `${API_KEY_SELECT} WHERE k.hash IN (${Array.from({ length: count }, () => '?').join(', ')}) LIMIT 1`,
      );
      if (lookups.size < 16) lookups.set(count, statement);
    }
    return statement;
  };

  const add = (r: ApiKeyRecord): boolean => insert.run(...apiKeyValues(r)).changes === 1;

  return {
    insert(record, replaces) {
      if (replaces === undefined) {
        if (!record.identityId) return add(record);
        return transaction(db, () => identityExists.get(record.identityId!) !== undefined && add(record));
      }
      return transaction(db, () => {
        const old = rotationOf.get(replaces.id) as Row | undefined;
        if (old === undefined || old.rotated_to !== null) return false;
        if ((old.revoked_at === null ? null : Number(old.revoked_at)) !== replaces.expectedRevokedAt)
          return false;
        const successor: ApiKeyRecord = {
          ...record,
          rotatedFrom: replaces.id,
          budgetKeyId: String(old.budget),
          identityId: old.identity_id === null ? null : String(old.identity_id),
        };
        if (!add(successor)) return false;
        scheduleEnd.run(replaces.revokedAt, record.id, replaces.id);
        return true;
      });
    },
    findByHash(hashes) {
      if (hashes.length === 0) return undefined;
      return apiKeyFromRow(lookup(hashes.length).get(...hashes) as Row | undefined);
    },
    get: (id) => apiKeyFromRow(byId.get(id) as Row | undefined),
    list(query) {
      const where: string[] = [];
      const params: string[] = [];
      if (query.ownerId === null) where.push('k.owner_id IS NULL');
      else if (query.ownerId !== undefined) where.push('k.owner_id = ?') && params.push(query.ownerId);
      if (query.identityId !== undefined) where.push('k.identity_id = ?') && params.push(query.identityId);
      const { rows, nextCursor } = keysetPage(
        db,
        { select: API_KEY_SELECT, where, params, at: 'k.created_at', id: 'k.id' },
        query,
      );
      return { keys: rows.map((row) => apiKeyFromRow(row)!), nextCursor };
    },
    update(id, patch) {
      return transaction(db, () => {
        const row = byId.get(id) as Row | undefined;
        const current = apiKeyFromRow(row);
        if (current === undefined) return undefined;
        const next = patchKey(current, patch);
        writeKey.run(
          next.hash,
          next.name,
          JSON.stringify(next.scopes),
          JSON.stringify(next.metadata),
          next.expiresAt,
          next.revokedAt,
          next.disabledAt ?? null,
          id,
        );
        if (row!.budget_id !== null && (patch.credits !== undefined || patch.rateLimit !== undefined)) {
          writeBudget.run(
            ...creditValues(next.credits),
            next.rateLimit?.limit ?? null,
            next.rateLimit?.windowMs ?? null,
            String(row!.budget_id),
          );
        }
        return apiKeyFromRow(byId.get(id) as Row);
      });
    },
    touchMany(entries) {
      if (entries.size === 0) return;
      transaction(db, () => {
        for (const [id, at] of entries) touch.run(at, id);
      });
    },
    spendCredits(id, cost, now) {
      return transaction(db, () => {
        const key = spendOf.get(id) as Row | undefined;
        if (!key) return undefined;
        const budgetRow = keyCredits.get(String(key.budget)) as Row | undefined;
        const identityId = key.identity_id === null ? undefined : String(key.identity_id);
        const identityRow =
          identityId === undefined ? undefined : (identityCredits.get(identityId) as Row | undefined);
        const budget = budgetRow ? creditsFromRow(budgetRow) : { remaining: 0 };
        const identity =
          identityId === undefined ? undefined : identityRow ? creditsFromRow(identityRow) : { remaining: 0 };
        const outcome = spendShared(budget, identity, cost, now);
        if (budgetRow && !sameCredits(budget, outcome.budget))
          setKeyCredits.run(...creditValues(outcome.budget), String(key.budget));
        if (identityRow && outcome.identity !== undefined && !sameCredits(identity!, outcome.identity))
          setIdentityCredits.run(...creditValues(outcome.identity), identityId!);
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
