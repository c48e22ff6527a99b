import { page } from './memory-page.ts';
import { clampInstant } from './rows.ts';
import type {
  RefreshTokenRecord,
  UserAdminStore,
  UserChange,
  UserPatch,
  UserRecord,
  UserStore,
} from './types.ts';

/** The accounts of a memory storage, shared by its user stores (deletion also drops refresh tokens). */
export interface MemoryUserState {
  byId: Map<string, UserRecord>;
  byEmail: Map<string, string>;
  refreshTokens: Map<string, RefreshTokenRecord>;
}

export function memoryUserState(): MemoryUserState {
  return { byId: new Map(), byEmail: new Map(), refreshTokens: new Map() };
}

/** A copy as the SQL stores answer it: instants clamped, no `disabledAt` while enabled. */
function view(user: UserRecord | undefined): UserRecord | undefined {
  if (user === undefined) return undefined;
  const out: UserRecord = {
    ...user,
    createdAt: clampInstant(user.createdAt),
    updatedAt: clampInstant(user.updatedAt),
    notBefore: clampInstant(user.notBefore),
  };
  if (user.disabledAt === undefined || user.disabledAt === null) delete out.disabledAt;
  else out.disabledAt = clampInstant(user.disabledAt);
  if (user.emailVerifiedAt === undefined || user.emailVerifiedAt === null) delete out.emailVerifiedAt;
  else out.emailVerifiedAt = clampInstant(user.emailVerifiedAt);
  return out;
}

/** Accounts in process memory; synchronous, so each call is atomic within the process. */
export function memoryUserStore(state: MemoryUserState): UserStore {
  const { byId, byEmail } = state;
  return {
    create(user) {
      if (byEmail.has(user.emailKey)) return 'email_taken';
      byId.set(user.id, { ...user });
      byEmail.set(user.emailKey, user.id);
      return 'created';
    },
    getById: (id) => view(byId.get(id)),
    getByEmailKey(emailKey) {
      const id = byEmail.get(emailKey);
      return id === undefined ? undefined : view(byId.get(id));
    },
    update(id, patch: UserPatch, now) {
      const user = byId.get(id);
      if (!user) return false;
      Object.assign(user, patch, { updatedAt: now });
      return true;
    },
    count: () => byId.size,
    list(query) {
      const { items, nextCursor } = page(byId.values(), query, (u) => u.id);
      return { users: items.map((u) => view(u)!), nextCursor };
    },
  };
}

const isActiveAdmin = (u: UserRecord) => u.role === 'admin' && (u.disabledAt ?? null) === null;
const asciiLower = (text: string) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** The admin plane's account operations in memory; see `UserAdminStore`. */
export function memoryUserAdminStore(state: MemoryUserState): UserAdminStore {
  const { byId, byEmail, refreshTokens } = state;
  const activeAdmins = () => [...byId.values()].filter(isActiveAdmin).length;
  /** Applies `change` unless it takes away the last enabled admin. */
  const guarded = (id: string, change: (user: UserRecord) => UserRecord | null): UserChange => {
    const user = byId.get(id);
    if (user === undefined) return { ok: false, code: 'NOT_FOUND' };
    const after = change({ ...user });
    if (isActiveAdmin(user) && (after === null || !isActiveAdmin(after)) && activeAdmins() === 1) {
      return { ok: false, code: 'LAST_ADMIN' };
    }
    if (after === null) {
      byId.delete(id);
      byEmail.delete(user.emailKey);
      for (const [hash, token] of refreshTokens) if (token.userId === id) refreshTokens.delete(hash);
      return { ok: true, user: view(user)! };
    }
    byId.set(id, after);
    return { ok: true, user: view(after)! };
  };
  return {
    search(query) {
      const emailPrefix = query.emailPrefix?.toLowerCase();
      const nameContains = query.nameContains === undefined ? undefined : asciiLower(query.nameContains);
      const matches = [...byId.values()].filter(
        (u) =>
          (emailPrefix === undefined || u.emailKey.startsWith(emailPrefix)) &&
          (nameContains === undefined || asciiLower(u.name).includes(nameContains)) &&
          (query.role === undefined || u.role === query.role) &&
          (query.disabled === undefined || query.disabled === ((u.disabledAt ?? null) !== null)),
      );
      const { items, nextCursor } = page(matches, query, (u) => u.id);
      return { users: items.map((u) => view(u)!), nextCursor };
    },
    setRole: (id, role, now) => guarded(id, (u) => ({ ...u, role, updatedAt: now })),
    setDisabled: (id, disabled, now) =>
      guarded(id, (u) => {
        const { disabledAt, ...rest } = u;
        return disabled
          ? { ...rest, disabledAt: disabledAt ?? now, updatedAt: now }
          : { ...rest, updatedAt: now };
      }),
    delete: (id) => guarded(id, () => null),
    countAdmins: activeAdmins,
  };
}
