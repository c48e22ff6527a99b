import { patchIdentity, patchPlan } from './patches.ts';
import { type PgExecutor, rollback } from './postgres-client.ts';
import { parameters, pgKeysetPage } from './postgres-page.ts';
import {
  IDENTITY_COLUMNS,
  identityFromRow,
  identityValues,
  PLAN_COLUMNS,
  planFromRow,
  planValues,
} from './rows.ts';
import type { IdentityChange, IdentityStore, PlanChange, PlanStore } from './types.ts';

const insertInto = (table: string, columns: readonly string[]) =>
  `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})
   ON CONFLICT DO NOTHING`;
const updateOf = (table: string, columns: readonly string[]) =>
  `UPDATE ${table} SET ${columns
    .slice(1)
    .map((c, i) => `${c} = $${i + 1}`)
    .join(', ')} WHERE id = $${columns.length}`;

/**
 * Identities on PostgreSQL; see `IdentityStore`. A plan named by a create or an update is
 * held `FOR KEY SHARE` until the write commits, which a plan deletion (`FOR UPDATE`) waits
 * for; a deletion holds the identity `FOR UPDATE`, which a key insert (`FOR KEY SHARE`) waits
 * for, so the "no live key" check cannot be overtaken.
 */
export function postgresIdentityStore(sql: PgExecutor): IdentityStore {
  return {
    create: (identity) =>
      sql.transaction(async (tx) => {
        if (identity.planId !== null) {
          const plan = await tx.read(
            'rampart_plan_share',
            'SELECT 1 FROM plans WHERE id = $1 FOR KEY SHARE',
            [identity.planId],
          );
          if (plan.length === 0) return rollback<IdentityChange>({ ok: false, code: 'PLAN_NOT_FOUND' });
        }
        const { rows } = await tx.write(
          'rampart_identity_insert',
          `${insertInto('identities', IDENTITY_COLUMNS)} RETURNING *`,
          identityValues(identity),
        );
        if (rows[0] === undefined) return rollback<IdentityChange>({ ok: false, code: 'EXTERNAL_ID_TAKEN' });
        return { ok: true, identity: identityFromRow(rows[0])! };
      }),
    async get(ref) {
      const rows =
        typeof ref === 'string'
          ? await sql.read('rampart_identity_by_id', 'SELECT * FROM identities WHERE id = $1', [ref])
          : await sql.read(
              'rampart_identity_by_external',
              'SELECT * FROM identities WHERE external_id = $1',
              [ref.externalId],
            );
      return identityFromRow(rows[0]);
    },
    async list(query) {
      const params = parameters();
      const where: string[] = [];
      if (query.planId === null) where.push('plan_id IS NULL');
      else if (query.planId !== undefined) where.push(`plan_id = ${params.add(query.planId)}`);
      const plan = query.planId === null ? 'none' : query.planId === undefined ? 'any' : 'one';
      const { rows, nextCursor } = await pgKeysetPage(
        sql,
        {
          name: `rampart_identity_list_${plan}`,
          select: 'SELECT * FROM identities',
          where,
          params,
          at: 'created_at',
          id: 'id',
        },
        query,
      );
      return { identities: rows.map((r) => identityFromRow(r)!), nextCursor };
    },
    update: (id, patch, now) =>
      sql.transaction(async (tx) => {
        const current = identityFromRow(
          (
            await tx.read(
              'rampart_identity_lock',
              'SELECT * FROM identities WHERE id = $1 FOR NO KEY UPDATE',
              [id],
            )
          )[0],
        );
        if (current === undefined) return rollback<IdentityChange>({ ok: false, code: 'NOT_FOUND' });
        if (patch.planId !== undefined && patch.planId !== null) {
          const plan = await tx.read(
            'rampart_plan_share',
            'SELECT 1 FROM plans WHERE id = $1 FOR KEY SHARE',
            [patch.planId],
          );
          if (plan.length === 0) return rollback<IdentityChange>({ ok: false, code: 'PLAN_NOT_FOUND' });
        }
        const next = patchIdentity(current, patch, now);
        try {
          const { rows } = await tx.write(
            'rampart_identity_write',
            `${updateOf('identities', IDENTITY_COLUMNS)} RETURNING *`,
            [...identityValues(next).slice(1), id],
          );
          return { ok: true, identity: identityFromRow(rows[0])! };
        } catch (error) {
          // The external id's unique index: another identity holds it (the transaction rolls back).
          if ((error as { code?: unknown }).code === '23505')
            return rollback<IdentityChange>({ ok: false, code: 'EXTERNAL_ID_TAKEN' });
          throw error;
        }
      }),
    delete: (id, now) =>
      sql.transaction(async (tx) => {
        const identity = identityFromRow(
          (
            await tx.read(
              'rampart_identity_lock_delete',
              'SELECT * FROM identities WHERE id = $1 FOR UPDATE',
              [id],
            )
          )[0],
        );
        if (identity === undefined) return rollback<IdentityChange>({ ok: false, code: 'NOT_FOUND' });
        const live = await tx.read(
          'rampart_identity_live_key',
          'SELECT 1 FROM api_keys WHERE identity_id = $1 AND (revoked_at IS NULL OR revoked_at > $2) LIMIT 1',
          [id, now],
        );
        if (live.length > 0) return rollback<IdentityChange>({ ok: false, code: 'IN_USE' });
        await tx.write('rampart_identity_delete', 'DELETE FROM identities WHERE id = $1', [id]);
        return { ok: true, identity };
      }),
  };
}

/** Plans on PostgreSQL; see `PlanStore`. */
export function postgresPlanStore(sql: PgExecutor): PlanStore {
  return {
    async create(plan) {
      const { rows } = await sql.write(
        'rampart_plan_insert',
        `${insertInto('plans', PLAN_COLUMNS)} RETURNING *`,
        planValues(plan),
      );
      return rows[0] === undefined
        ? { ok: false, code: 'NAME_TAKEN' }
        : { ok: true, plan: planFromRow(rows[0])! };
    },
    async get(ref) {
      const rows =
        typeof ref === 'string'
          ? await sql.read('rampart_plan_by_id', 'SELECT * FROM plans WHERE id = $1', [ref])
          : await sql.read('rampart_plan_by_name', 'SELECT * FROM plans WHERE name = $1', [ref.name]);
      return planFromRow(rows[0]);
    },
    async list(query) {
      const { rows, nextCursor } = await pgKeysetPage(
        sql,
        {
          name: 'rampart_plan_list',
          select: 'SELECT * FROM plans',
          where: [],
          params: parameters(),
          at: 'created_at',
          id: 'id',
        },
        query,
      );
      return { plans: rows.map((r) => planFromRow(r)!), nextCursor };
    },
    update: (id, patch, now) =>
      sql.transaction(async (tx) => {
        const current = planFromRow(
          (
            await tx.read('rampart_plan_lock', 'SELECT * FROM plans WHERE id = $1 FOR NO KEY UPDATE', [id])
          )[0],
        );
        if (current === undefined) return rollback<PlanChange>({ ok: false, code: 'NOT_FOUND' });
        const next = patchPlan(current, patch, now);
        try {
          const { rows } = await tx.write(
            'rampart_plan_write',
            `${updateOf('plans', PLAN_COLUMNS)} RETURNING *`,
            [...planValues(next).slice(1), id],
          );
          return { ok: true, plan: planFromRow(rows[0])! };
        } catch (error) {
          if ((error as { code?: unknown }).code === '23505')
            return rollback<PlanChange>({ ok: false, code: 'NAME_TAKEN' });
          throw error;
        }
      }),
    delete: (id) =>
      sql.transaction(async (tx) => {
        const plan = planFromRow(
          (
            await tx.read('rampart_plan_lock_delete', 'SELECT * FROM plans WHERE id = $1 FOR UPDATE', [id])
          )[0],
        );
        if (plan === undefined) return rollback<PlanChange>({ ok: false, code: 'NOT_FOUND' });
        const used = await tx.read(
          'rampart_plan_in_use',
          'SELECT 1 FROM identities WHERE plan_id = $1 LIMIT 1',
          [id],
        );
        if (used.length > 0) return rollback<PlanChange>({ ok: false, code: 'IN_USE' });
        await tx.write('rampart_plan_delete', 'DELETE FROM plans WHERE id = $1', [id]);
        return { ok: true, plan };
      }),
  };
}
