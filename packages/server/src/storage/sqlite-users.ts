import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { userFromRow } from './rows.ts';
import { keysetPage, type Row } from './sqlite-page.ts';
import { transaction } from './sqlite-transaction.ts';
import type { UserAdminStore, UserChange, UserPatch, UserRecord, UserStore } from './types.ts';

/** Accounts on SQLite: each method one statement, so atomic; see `UserStore`. */
export function sqliteUserStore(db: DatabaseSync): UserStore {
  const insert = db.prepare(
    `INSERT INTO users (id, email, email_key, name, role, password_hash, created_at, updated_at, not_before, disabled_at, email_verified_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email_key) DO NOTHING`,
  );
  const byId = db.prepare('SELECT * FROM users WHERE id = ?');
  const byEmail = db.prepare('SELECT * FROM users WHERE email_key = ?');
  const count = db.prepare('SELECT COUNT(*) AS n FROM users');
  const columns: Record<keyof UserPatch, string> = {
    name: 'name',
    role: 'role',
    passwordHash: 'password_hash',
    notBefore: 'not_before',
    emailVerifiedAt: 'email_verified_at',
  };
  return {
    create(u) {
      const result = insert.run(
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
      );
      return result.changes === 1 ? 'created' : 'email_taken';
    },
    getById: (id) => userFromRow(byId.get(id) as Row | undefined),
    getByEmailKey: (key) => userFromRow(byEmail.get(key) as Row | undefined),
    update(id, patch, now) {
      const keys = (Object.keys(patch) as Array<keyof UserPatch>).filter((k) => Object.hasOwn(columns, k));
      const sets = keys.map((k) => `${columns[k]} = ?`).concat('updated_at = ?');
      const values = keys.map((k) => (patch[k] ?? null) as SQLInputValue);
      const result = db.prepare(`UPDATE users SET ${sets.join(', ')} WHERE id = ?`).run(...values, now, id);
      return result.changes === 1;
    },
    count: () => Number((count.get() as Row).n),
    list(query) {
      const { rows, nextCursor } = keysetPage(
        db,
        { select: 'SELECT * FROM users', at: 'created_at', id: 'id' },
        query,
      );
      return { users: rows.map((row) => userFromRow(row)!), nextCursor };
    },
  };
}

const isActiveAdmin = (u: UserRecord) => u.role === 'admin' && u.disabledAt === undefined;

/**
 * The admin plane's account operations on SQLite. Each change is one `BEGIN IMMEDIATE`
 * transaction: the last-admin check and the write hold the database's write lock, so no
 * other connection (or process) can demote, disable or delete an admin in between.
 */
export function sqliteUserAdminStore(db: DatabaseSync): UserAdminStore {
  const byId = db.prepare('SELECT * FROM users WHERE id = ?');
  const admins = db.prepare("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL");
  const setRole = db.prepare('UPDATE users SET role = ?, updated_at = ? WHERE id = ?');
  const setDisabled = db.prepare(
    'UPDATE users SET disabled_at = CASE WHEN ? THEN COALESCE(disabled_at, ?) END, updated_at = ? WHERE id = ?',
  );
  const dropTokens = db.prepare('DELETE FROM refresh_tokens WHERE user_id = ?');
  const dropUser = db.prepare('DELETE FROM users WHERE id = ?');
  const countAdmins = () => Number((admins.get() as Row).n);

  /** Runs `write` unless it would take away the last enabled admin. */
  const guarded = (id: string, after: (user: UserRecord) => UserRecord | null, write: () => void) =>
    transaction(db, (): UserChange => {
      const user = userFromRow(byId.get(id) as Row | undefined);
      if (user === undefined) return { ok: false, code: 'NOT_FOUND' };
      const next = after(user);
      if (isActiveAdmin(user) && (next === null || !isActiveAdmin(next)) && countAdmins() === 1) {
        return { ok: false, code: 'LAST_ADMIN' };
      }
      write();
      return { ok: true, user: next === null ? user : userFromRow(byId.get(id) as Row)! };
    });

  return {
    search(query) {
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      if (query.emailPrefix !== undefined) {
        where.push('substr(email_key, 1, length(?)) = ?');
        const prefix = query.emailPrefix.toLowerCase();
        params.push(prefix, prefix);
      }
      if (query.nameContains !== undefined) {
        // SQLite's lower() folds ASCII only: the same rule the other stores follow.
        where.push('instr(lower(name), lower(?)) > 0');
        params.push(query.nameContains);
      }
      if (query.role !== undefined) where.push('role = ?') && params.push(query.role);
      if (query.disabled !== undefined) where.push(`disabled_at IS ${query.disabled ? 'NOT ' : ''}NULL`);
      const { rows, nextCursor } = keysetPage(
        db,
        { select: 'SELECT * FROM users', where, params, at: 'created_at', id: 'id' },
        query,
      );
      return { users: rows.map((row) => userFromRow(row)!), nextCursor };
    },
    setRole: (id, role, now) =>
      guarded(
        id,
        (u) => ({ ...u, role }),
        () => setRole.run(role, now, id),
      ),
    setDisabled: (id, disabled, now) =>
      guarded(
        id,
        (u) => (disabled ? { ...u, disabledAt: u.disabledAt ?? now } : { ...u, disabledAt: undefined }),
        () => setDisabled.run(disabled ? 1 : 0, now, now, id),
      ),
    delete: (id) =>
      guarded(
        id,
        () => null,
        () => {
          dropTokens.run(id);
          dropUser.run(id);
        },
      ),
    countAdmins,
  };
}
