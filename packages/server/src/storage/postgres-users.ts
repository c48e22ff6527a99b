import { type PgExecutor, rollback, type Sql } from './postgres-client.ts';
import { parameters, pgKeysetPage } from './postgres-page.ts';
import { userFromRow } from './rows.ts';
import type { UserAdminStore, UserChange, UserPatch, UserRecord, UserStore } from './types.ts';

/** Accounts on PostgreSQL: each method one statement, so atomic; see `UserStore`. */
export function postgresUserStore(sql: Sql): UserStore {
  const columns: Record<keyof UserPatch, string> = {
    name: 'name',
    role: 'role',
    passwordHash: 'password_hash',
    notBefore: 'not_before',
    emailVerifiedAt: 'email_verified_at',
  };
  return {
    async create(u) {
      const { count } = await sql.write(
        'rampart_user_create',
        `INSERT INTO users (id, email, email_key, name, role, password_hash, created_at, updated_at, not_before, disabled_at, email_verified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (email_key) DO NOTHING`,
        [
          u.id,
          u.email,
          u.emailKey,
          u.name,
          u.role,
          u.passwordHash,
          u.createdAt,
          u.updatedAt,
          u.notBefore,
          u.disabledAt ?? null,
          u.emailVerifiedAt ?? null,
        ],
      );
      return count === 1 ? 'created' : 'email_taken';
    },
    getById: async (id) =>
      userFromRow((await sql.read('rampart_user_by_id', 'SELECT * FROM users WHERE id = $1', [id]))[0]),
    getByEmailKey: async (key) =>
      userFromRow(
        (await sql.read('rampart_user_by_email', 'SELECT * FROM users WHERE email_key = $1', [key]))[0],
      ),
    async update(id, patch, now) {
      const keys = (Object.keys(patch) as Array<keyof UserPatch>)
        .filter((k) => Object.hasOwn(columns, k))
        .sort();
      const sets = keys.map((k, i) => `${columns[k]} = $${i + 1}`).concat(`updated_at = $${keys.length + 1}`);
      const values = keys.map((k) => patch[k] ?? null);
      // One prepared statement per set of columns (at most 16).
      const { count } = await sql.write(
        `rampart_user_update_${keys.join('_') || 'none'}`,
        `UPDATE users SET ${sets.join(', ')} WHERE id = $${keys.length + 2}`,
        [...values, now, id],
      );
      return count === 1;
    },
    count: async () =>
      Number((await sql.read('rampart_user_count', 'SELECT COUNT(*) AS n FROM users'))[0]?.n ?? 0),
    async list(query) {
      const { rows, nextCursor } = await pgKeysetPage(
        sql,
        {
          name: 'rampart_user_list',
          select: 'SELECT * FROM users',
          where: [],
          params: parameters(),
          at: 'created_at',
          id: 'id',
        },
        query,
      );
      return { users: rows.map((r) => userFromRow(r)!), nextCursor };
    },
  };
}

const isActiveAdmin = (u: UserRecord) => u.role === 'admin' && u.disabledAt === undefined;
// Folds ASCII letters only, as SQLite's lower() and the memory store do (lower() here would
// also fold other scripts, and the three stores would answer one search differently).
const ASCII_LOWER = "translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')";

/**
 * The admin plane's account operations on PostgreSQL. Each change is one transaction that
 * first locks every enabled admin row (in id order, so two such transactions cannot
 * deadlock), then the account's: a concurrent demotion waits, then re-reads the admins
 * without the one just demoted, and the last one standing is refused.
 */
export function postgresUserAdminStore(sql: PgExecutor): UserAdminStore {
  const guarded = (
    id: string,
    after: (user: UserRecord) => UserRecord | null,
    write: (tx: Sql) => Promise<unknown>,
  ): Promise<UserChange> =>
    sql.transaction(async (tx) => {
      const admins = await tx.read(
        'rampart_user_admins_lock',
        "SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id FOR UPDATE",
      );
      const user = userFromRow(
        (await tx.read('rampart_user_lock', 'SELECT * FROM users WHERE id = $1 FOR UPDATE', [id]))[0],
      );
      if (user === undefined) return rollback<UserChange>({ ok: false, code: 'NOT_FOUND' });
      const next = after(user);
      if (isActiveAdmin(user) && (next === null || !isActiveAdmin(next)) && admins.length <= 1) {
        return rollback<UserChange>({ ok: false, code: 'LAST_ADMIN' });
      }
      await write(tx);
      if (next === null) return { ok: true, user };
      const read = await tx.read('rampart_user_by_id', 'SELECT * FROM users WHERE id = $1', [id]);
      return { ok: true, user: userFromRow(read[0])! };
    });

  return {
    async search(query) {
      const params = parameters();
      const where: string[] = [];
      const shape: string[] = [];
      if (query.emailPrefix !== undefined) {
        where.push(`starts_with(email_key, ${params.add(query.emailPrefix.toLowerCase())})`);
        shape.push('e');
      }
      if (query.nameContains !== undefined) {
        where.push(
          `strpos(${ASCII_LOWER}, ${params.add(query.nameContains.replace(/[A-Z]/g, (c) => c.toLowerCase()))}) > 0`,
        );
        shape.push('n');
      }
      if (query.role !== undefined) {
        where.push(`role = ${params.add(query.role)}`);
        shape.push('r');
      }
      if (query.disabled !== undefined) {
        where.push(`disabled_at IS ${query.disabled ? 'NOT ' : ''}NULL`);
        shape.push(query.disabled ? 'd' : 'a');
      }
      const { rows, nextCursor } = await pgKeysetPage(
        sql,
        {
          name: `rampart_user_search_${shape.join('') || 'all'}`,
          select: 'SELECT * FROM users',
          where,
          params,
          at: 'created_at',
          id: 'id',
        },
        query,
      );
      return { users: rows.map((r) => userFromRow(r)!), nextCursor };
    },
    setRole: (id, role, now) =>
      guarded(
        id,
        (u) => ({ ...u, role }),
        (tx) =>
          tx.write('rampart_user_set_role', 'UPDATE users SET role = $1, updated_at = $2 WHERE id = $3', [
            role,
            now,
            id,
          ]),
      ),
    setDisabled: (id, disabled, now) =>
      guarded(
        id,
        (u) => (disabled ? { ...u, disabledAt: u.disabledAt ?? now } : { ...u, disabledAt: undefined }),
        (tx) =>
          tx.write(
            'rampart_user_set_disabled',
            `UPDATE users SET disabled_at = CASE WHEN $1::boolean THEN COALESCE(disabled_at, $2::bigint) END,
               updated_at = $2::bigint WHERE id = $3`,
            [disabled, now, id],
          ),
      ),
    delete: (id) =>
      guarded(
        id,
        () => null,
        async (tx) => {
          await tx.write('rampart_user_drop_tokens', 'DELETE FROM refresh_tokens WHERE user_id = $1', [id]);
          await tx.write('rampart_user_drop', 'DELETE FROM users WHERE id = $1', [id]);
        },
      ),
    countAdmins: async () =>
      Number(
        (
          await sql.read(
            'rampart_user_count_admins',
            "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL",
          )
        )[0]?.n ?? 0,
      ),
  };
}
