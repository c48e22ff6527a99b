import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { patchIdentity, patchPlan } from './patches.ts';
import {
  IDENTITY_COLUMNS,
  identityFromRow,
  identityValues,
  PLAN_COLUMNS,
  planFromRow,
  planValues,
} from './rows.ts';
import { keysetPage, type Row } from './sqlite-page.ts';
import { transaction } from './sqlite-transaction.ts';
import type { IdentityChange, IdentityStore, PlanChange, PlanStore } from './types.ts';

const insertInto = (table: string, columns: readonly string[]) =>
  `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;

/**
 * Identities on SQLite; see `IdentityStore`. The steps that check another table (the plan
 * exists, no live key remains) run in `BEGIN IMMEDIATE`, so nothing changes between the
 * check and the write.
 */
export function sqliteIdentityStore(db: DatabaseSync): IdentityStore {
  const insert = db.prepare(insertInto('identities', IDENTITY_COLUMNS));
  const byId = db.prepare('SELECT * FROM identities WHERE id = ?');
  const byExternal = db.prepare('SELECT * FROM identities WHERE external_id = ?');
  const planExists = db.prepare('SELECT 1 AS found FROM plans WHERE id = ?');
  const write = db.prepare(
    `UPDATE identities SET ${IDENTITY_COLUMNS.slice(1)
      .map((c) => `${c} = ?`)
      .join(', ')} WHERE id = ?`,
  );
  const liveKey = db.prepare(
    'SELECT 1 AS found FROM api_keys WHERE identity_id = ? AND (revoked_at IS NULL OR revoked_at > ?) LIMIT 1',
  );
  const remove = db.prepare('DELETE FROM identities WHERE id = ?');
  const externalTaken = (externalId: string, id: string) => {
    const holder = byExternal.get(externalId) as Row | undefined;
    return holder !== undefined && holder.id !== id;
  };
  return {
    create: (identity) =>
      transaction(db, (): IdentityChange => {
        if (byId.get(identity.id) || externalTaken(identity.externalId, identity.id))
          return { ok: false, code: 'EXTERNAL_ID_TAKEN' };
        if (identity.planId !== null && !planExists.get(identity.planId))
          return { ok: false, code: 'PLAN_NOT_FOUND' };
        insert.run(...identityValues(identity));
        return { ok: true, identity: identityFromRow(byId.get(identity.id) as Row)! };
      }),
    get: (ref) =>
      identityFromRow(
        (typeof ref === 'string' ? byId.get(ref) : byExternal.get(ref.externalId)) as Row | undefined,
      ),
    list(query) {
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      if (query.planId === null) where.push('plan_id IS NULL');
      else if (query.planId !== undefined) where.push('plan_id = ?') && params.push(query.planId);
      const { rows, nextCursor } = keysetPage(
        db,
        { select: 'SELECT * FROM identities', where, params, at: 'created_at', id: 'id' },
        query,
      );
      return { identities: rows.map((row) => identityFromRow(row)!), nextCursor };
    },
    update: (id, patch, now) =>
      transaction(db, (): IdentityChange => {
        const current = identityFromRow(byId.get(id) as Row | undefined);
        if (current === undefined) return { ok: false, code: 'NOT_FOUND' };
        if (patch.externalId !== undefined && externalTaken(patch.externalId, id))
          return { ok: false, code: 'EXTERNAL_ID_TAKEN' };
        if (patch.planId !== undefined && patch.planId !== null && !planExists.get(patch.planId))
          return { ok: false, code: 'PLAN_NOT_FOUND' };
        const next = patchIdentity(current, patch, now);
        write.run(...identityValues(next).slice(1), id);
        return { ok: true, identity: identityFromRow(byId.get(id) as Row)! };
      }),
    delete: (id, now) =>
      transaction(db, (): IdentityChange => {
        const identity = identityFromRow(byId.get(id) as Row | undefined);
        if (identity === undefined) return { ok: false, code: 'NOT_FOUND' };
        if (liveKey.get(id, now)) return { ok: false, code: 'IN_USE' };
        remove.run(id);
        return { ok: true, identity };
      }),
  };
}

/** Plans on SQLite; see `PlanStore`. */
export function sqlitePlanStore(db: DatabaseSync): PlanStore {
  const insert = db.prepare(insertInto('plans', PLAN_COLUMNS));
  const byId = db.prepare('SELECT * FROM plans WHERE id = ?');
  const byName = db.prepare('SELECT * FROM plans WHERE name = ?');
  const write = db.prepare(
    `UPDATE plans SET ${PLAN_COLUMNS.slice(1)
      .map((c) => `${c} = ?`)
      .join(', ')} WHERE id = ?`,
  );
  const inUse = db.prepare('SELECT 1 AS found FROM identities WHERE plan_id = ? LIMIT 1');
  const remove = db.prepare('DELETE FROM plans WHERE id = ?');
  return {
    create(plan) {
      if (insert.run(...planValues(plan)).changes !== 1) return { ok: false, code: 'NAME_TAKEN' };
      return { ok: true, plan: planFromRow(byId.get(plan.id) as Row)! };
    },
    get: (ref) =>
      planFromRow((typeof ref === 'string' ? byId.get(ref) : byName.get(ref.name)) as Row | undefined),
    list(query) {
      const { rows, nextCursor } = keysetPage(
        db,
        { select: 'SELECT * FROM plans', at: 'created_at', id: 'id' },
        query,
      );
      return { plans: rows.map((row) => planFromRow(row)!), nextCursor };
    },
    update: (id, patch, now) =>
      transaction(db, (): PlanChange => {
        const current = planFromRow(byId.get(id) as Row | undefined);
        if (current === undefined) return { ok: false, code: 'NOT_FOUND' };
        const holder = patch.name === undefined ? undefined : (byName.get(patch.name) as Row | undefined);
        if (holder !== undefined && holder.id !== id) return { ok: false, code: 'NAME_TAKEN' };
        const next = patchPlan(current, patch, now);
        write.run(...planValues(next).slice(1), id);
        return { ok: true, plan: planFromRow(byId.get(id) as Row)! };
      }),
    delete: (id) =>
      transaction(db, (): PlanChange => {
        const plan = planFromRow(byId.get(id) as Row | undefined);
        if (plan === undefined) return { ok: false, code: 'NOT_FOUND' };
        if (inUse.get(id)) return { ok: false, code: 'IN_USE' };
        remove.run(id);
        return { ok: true, plan };
      }),
  };
}
