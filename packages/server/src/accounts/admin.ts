/**
 * The admin plane's account use-cases: create (the first admin from the CLI), search, show,
 * set a role, disable and enable, delete, end every session. Each returns an outcome; the
 * HTTP routes and the CLI turn it into an answer and an audit event.
 *
 * Rules kept here, with the attack each blocks:
 * - disabling ends every session (refresh families revoked, their access tokens denied on
 *   every instance through the session service's deny-list and bus) and disables the user's
 *   API keys, so a disabled account has no credential left that works;
 * - demoting an admin ends their sessions too: a token minted while they were admin says
 *   `role: admin` until it expires, and must not outlive the demotion;
 * - deleting ends the sessions first and revokes the user's keys after (the store removes
 *   the account and its refresh tokens in one transaction);
 * - the last enabled admin cannot be demoted, disabled or deleted: the store refuses it
 *   atomically (`LAST_ADMIN`), so two admins demoting each other cannot both succeed.
 */
import { newId } from 'rampart/internal/lib/ids.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import { emailKey } from 'rampart/internal/validation/email.ts';
import type { Role, Storage, UserRecord, UserSearchQuery } from '../storage/types.ts';
import { hashPassword } from './password-hash.ts';

export interface UserAdminDeps {
  storage: Storage;
  now: Clock;
  /** Ends every session of a user (revoked families, denied access tokens, announced). */
  endAllSessions(userId: string): Promise<void>;
  /** Revokes or disables every live API key the user owns; answers their ids. */
  endKeys(userId: string, how: 'revoke' | 'disable'): Promise<string[]>;
}

export type AdminOutcome =
  | { ok: true; user: UserRecord; keys?: string[] }
  | { ok: false; code: 'NOT_FOUND' | 'LAST_ADMIN' };

/** A user by id (`usr_…`) or e-mail address. */
export async function findUser(storage: Storage, ref: string): Promise<UserRecord | undefined> {
  if (/^usr_[0-9A-Za-z]{22}$/.test(ref)) return storage.users.getById(ref);
  if (ref.includes('@') && ref.length <= 320) return storage.users.getByEmailKey(emailKey(ref.trim()));
  return undefined;
}

/** Creates an account with a role (the CLI's first admin; the admin API's invitations). */
export async function createUser(
  deps: Pick<UserAdminDeps, 'storage' | 'now'>,
  input: { email: string; password: string; name: string; role: Role },
): Promise<{ ok: true; user: UserRecord } | { ok: false; code: 'EMAIL_TAKEN' }> {
  const at = deps.now();
  const user: UserRecord = {
    id: newId('usr'),
    email: input.email,
    emailKey: emailKey(input.email),
    name: input.name,
    role: input.role,
    passwordHash: await hashPassword(input.password),
    createdAt: at,
    updatedAt: at,
    notBefore: null,
  };
  if ((await deps.storage.users.create(user)) === 'email_taken') return { ok: false, code: 'EMAIL_TAKEN' };
  return { ok: true, user };
}

export function searchUsers(storage: Storage, query: UserSearchQuery) {
  return storage.userAdmin.search(query);
}

export async function setRole(deps: UserAdminDeps, id: string, role: Role): Promise<AdminOutcome> {
  const before = await deps.storage.users.getById(id);
  if (before === undefined) return { ok: false, code: 'NOT_FOUND' };
  const changed = await deps.storage.userAdmin.setRole(id, role, deps.now());
  if (!changed.ok) return changed;
  if (before.role === 'admin' && role !== 'admin') await deps.endAllSessions(id);
  return changed;
}

export async function setDisabled(deps: UserAdminDeps, id: string, disabled: boolean): Promise<AdminOutcome> {
  const changed = await deps.storage.userAdmin.setDisabled(id, disabled, deps.now());
  if (!changed.ok || !disabled) return changed;
  await deps.endAllSessions(id);
  const keys = await deps.endKeys(id, 'disable');
  return { ...changed, keys };
}

export async function deleteUser(deps: UserAdminDeps, id: string): Promise<AdminOutcome> {
  const user = await deps.storage.users.getById(id);
  if (user === undefined) return { ok: false, code: 'NOT_FOUND' };
  // Checked first so that a refused deletion ends nothing; the store checks again atomically.
  if (user.role === 'admin' && user.disabledAt == null && (await deps.storage.userAdmin.countAdmins()) <= 1) {
    return { ok: false, code: 'LAST_ADMIN' };
  }
  await deps.endAllSessions(id);
  const deleted = await deps.storage.userAdmin.delete(id);
  if (!deleted.ok) return deleted;
  const keys = await deps.endKeys(id, 'revoke');
  return { ...deleted, keys };
}

export async function endSessions(deps: UserAdminDeps, id: string): Promise<AdminOutcome> {
  const user = await deps.storage.users.getById(id);
  if (user === undefined) return { ok: false, code: 'NOT_FOUND' };
  await deps.endAllSessions(id);
  return { ok: true, user };
}

/** A user as the admin API shows it: no password hash, times as ISO 8601. */
export function adminUserView(user: UserRecord) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    status: user.disabledAt == null ? 'active' : 'disabled',
    disabledAt: user.disabledAt == null ? null : new Date(user.disabledAt).toISOString(),
    createdAt: new Date(user.createdAt).toISOString(),
    updatedAt: new Date(user.updatedAt).toISOString(),
  };
}
