/**
 * The account use-cases of `rampart serve` as functions that return outcomes: register, log in,
 * refresh, log out, ask for and confirm a password reset, change a password. Route handlers
 * turn an outcome into an answer and an event; nothing here knows HTTP.
 *
 * Rules kept here, with the attack each blocks:
 * - an unknown e-mail pays the same argon2id as a wrong password (timing tells nothing);
 * - login normalises the e-mail exactly as register does (an IDN address typed the same way
 *   logs in);
 * - a reset request does the same work, off the request path, whether the account exists or
 *   not (the answer's timing tells nothing);
 * - a reset or a password change ends every session and every outstanding reset token;
 * - a new password (register, reset, change) may not contain the account's name or e-mail.
 */
import { newId, randomBase62 } from 'rampart/internal/lib/ids.ts';
import { sha256 } from 'rampart/internal/lib/secret.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import {
  decideRefresh,
  hashRefreshToken,
  isRefreshTokenShape,
  type RefreshPolicy,
  rotateRefreshRecord,
  startRefreshFamily,
} from 'rampart/internal/tokens/refresh-token.ts';
import { checkEmail, emailKey } from 'rampart/internal/validation/email.ts';
import { checkPassword, type PasswordOptions } from 'rampart/internal/validation/password.ts';
import type { Storage, UserRecord } from '../storage/types.ts';
import type { HashQueue } from './hash-queue.ts';
import type { Mailer } from './mailer.ts';
import { dummyVerify, hashPassword, needsRehash, verifyPassword } from './password-hash.ts';

const RESET_PREFIX = 'reset:';
const RESET_TOKEN = /^rst_[0-9A-Za-z]{43}$/;
/** How long a reset link works. */
export const RESET_TTL_MS = 30 * 60_000;
const VERIFY_PREFIX = 'verify:';
const VERIFY_TOKEN = /^ver_[0-9A-Za-z]{43}$/;
/** How long a verification link works. */
export const VERIFY_TTL_MS = 24 * 3_600_000;

/** What the use-cases need of the session service: issuing, and ending sessions. */
export interface SessionPort {
  issue(input: { sub: string; role: string; sid: string }): Promise<{ token: string; expiresIn: number }>;
  revokeAccessToken(jti: string, exp: number): Promise<void>;
  revokeSessions(sids: readonly string[]): Promise<void>;
  endAllSessions(userId: string): Promise<void>;
}

export interface AccountDeps {
  storage: Storage;
  sessions: SessionPort;
  refreshPolicy: RefreshPolicy;
  mailer: Mailer;
  now: Clock;
  passwords: PasswordOptions;
  /** The reset page the mail links to (`?token=` appended); the bare token when unset. */
  resetUrl: string | undefined;
  /** The verification page the mail links to (`?token=` appended); the bare token when unset. */
  verifyUrl: string | undefined;
  /** Told of a mail that could not be sent (never with its text: it holds a token). */
  onMailError: (error: unknown) => void;
  /** Runs work after the answer (the server waits for it on a graceful stop). */
  later: (task: () => Promise<void>) => void;
  /** Where every argon2 runs, fairly by client address (`hash-queue.ts`). */
  hashing: HashQueue;
}

/** The token pair of a login or refresh (RFC 6749 §5.1 field names). */
export interface TokenPair {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
}

/** A password refused by the context rule, as a field error. */
export interface PasswordProblem {
  ok: false;
  code: 'WEAK_PASSWORD';
  field: string;
  rule: string;
  message: string;
}

/** The context rule: a new password may not contain the account's e-mail or name. */
function contextProblem(
  deps: AccountDeps,
  password: string,
  user: Pick<UserRecord, 'email' | 'name'>,
  field: string,
): PasswordProblem | undefined {
  const check = checkPassword(password, { ...deps.passwords, context: [user.email, user.name] });
  return check.ok
    ? undefined
    : { ok: false, code: 'WEAK_PASSWORD', field, rule: check.code, message: check.message };
}

/** The stored key of an e-mail as typed at login, normalised as register normalised it. */
export function loginEmailKey(email: string): string {
  const checked = checkEmail(email);
  return emailKey(checked.ok ? checked.value : email);
}

async function issuePair(
  deps: AccountDeps,
  user: UserRecord,
  session?: { refreshToken: string; familyId: string },
): Promise<TokenPair> {
  let refreshToken: string;
  let familyId: string;
  if (session) {
    ({ refreshToken, familyId } = session);
  } else {
    const family = startRefreshFamily({ userId: user.id, now: deps.now() });
    await deps.storage.refreshTokens.insert(family.record);
    refreshToken = family.token;
    familyId = family.record.familyId;
  }
  const access = await deps.sessions.issue({ sub: user.id, role: user.role, sid: familyId });
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    refresh_token: refreshToken,
  };
}

/** Register: the body was validated (e-mail normalised, password rules and context checked). */
export async function register(
  deps: AccountDeps,
  input: { email: string; password: string; name: string },
  source: string,
): Promise<{ ok: true; user: UserRecord } | { ok: false; code: 'EMAIL_TAKEN' }> {
  const at = deps.now();
  const user: UserRecord = {
    id: newId('usr'),
    email: input.email,
    emailKey: emailKey(input.email),
    name: input.name,
    role: 'user',
    // Hash before the uniqueness check, so a taken email costs the same time as a new one.
    passwordHash: await deps.hashing.run(source, () => hashPassword(input.password)),
    createdAt: at,
    updatedAt: at,
    notBefore: null,
  };
  if ((await deps.storage.users.create(user)) === 'email_taken') return { ok: false, code: 'EMAIL_TAKEN' };
  deps.later(() => sendVerification(deps, user).catch(deps.onMailError));
  return { ok: true, user };
}

/**
 * Mails a verification link: a single-use token, kept by hash (like a reset token), that names
 * the account and the address it was sent to (a changed address voids it).
 */
export async function sendVerification(
  deps: AccountDeps,
  user: Pick<UserRecord, 'id' | 'email'>,
): Promise<void> {
  const token = `ver_${randomBase62(43)}`;
  const at = deps.now();
  await deps.storage.ttl.put(VERIFY_PREFIX + sha256(token), `${user.id} ${user.email}`, at + VERIFY_TTL_MS);
  await deps.mailer.send({
    to: user.email,
    subject: 'Verify your e-mail address',
    text: linkMail(token, deps.verifyUrl, 'verify'),
  });
}

/** Confirms an address: the token works once, for the address it was sent to. */
export async function verifyEmail(
  deps: AccountDeps,
  token: string,
): Promise<{ ok: true; userId: string } | { ok: false; code: 'INVALID_VERIFICATION_TOKEN' }> {
  const invalid = { ok: false, code: 'INVALID_VERIFICATION_TOKEN' } as const;
  if (!VERIFY_TOKEN.test(token)) return invalid;
  const value = await deps.storage.ttl.take(VERIFY_PREFIX + sha256(token), deps.now());
  if (!value) return invalid;
  const space = value.indexOf(' ');
  const user = await deps.storage.users.getById(value.slice(0, space));
  if (!user || user.email !== value.slice(space + 1)) return invalid;
  if (user.emailVerifiedAt === undefined) {
    await deps.storage.users.update(user.id, { emailVerifiedAt: deps.now() }, deps.now());
  }
  return { ok: true, userId: user.id };
}

/** Log in with e-mail and password. */
export async function login(
  deps: AccountDeps,
  input: { email: string; password: string },
  source: string,
): Promise<
  | { ok: true; user: UserRecord; tokens: TokenPair }
  | { ok: false; code: 'INVALID_CREDENTIALS'; userId?: string; reason: 'unknown_email' | 'wrong_password' }
  | { ok: false; code: 'ACCOUNT_DISABLED'; userId: string; reason: 'disabled' }
> {
  const user = await deps.storage.users.getByEmailKey(loginEmailKey(input.email));
  // An unknown email pays the same argon2id as a wrong password: timing tells nothing.
  const ok = await deps.hashing.run(source, () =>
    user ? verifyPassword(input.password, user.passwordHash) : dummyVerify(input.password),
  );
  if (!user) return { ok: false, code: 'INVALID_CREDENTIALS', reason: 'unknown_email' };
  if (!ok) return { ok: false, code: 'INVALID_CREDENTIALS', userId: user.id, reason: 'wrong_password' };
  // Said only after the right password: to a guesser a disabled account looks like any other.
  if (user.disabledAt != null)
    return { ok: false, code: 'ACCOUNT_DISABLED', userId: user.id, reason: 'disabled' };
  if (needsRehash(user.passwordHash)) {
    const passwordHash = await deps.hashing.run(source, () => hashPassword(input.password));
    await deps.storage.users.update(user.id, { passwordHash }, deps.now());
  }
  return { ok: true, user, tokens: await issuePair(deps, user) };
}

/** The outcome of a refresh: a new pair, or why not (a reuse revokes the whole family). */
export type RefreshOutcome =
  | { ok: true; tokens: TokenPair }
  | {
      ok: false;
      code: 'INVALID_REFRESH_TOKEN';
      reuse?: { userId: string; familyId: string };
      revokedUser?: string;
    };

/** Refresh: rotate the refresh token (RFC 9700 §4.14.2), detecting reuse. */
export async function refresh(deps: AccountDeps, token: string): Promise<RefreshOutcome> {
  const { storage, now } = deps;
  const refused: RefreshOutcome = { ok: false, code: 'INVALID_REFRESH_TOKEN' };
  if (!isRefreshTokenShape(token)) return refused;
  const record = await storage.refreshTokens.get(hashRefreshToken(token));
  const successor = record?.replacedBy ? await storage.refreshTokens.get(record.replacedBy) : undefined;
  const decision = decideRefresh(record, now(), deps.refreshPolicy, successor);
  const reuse = async (): Promise<RefreshOutcome> => {
    await storage.refreshTokens.revokeFamily(record!.familyId, now());
    await deps.sessions.revokeSessions([record!.familyId]);
    return { ...refused, reuse: { userId: record!.userId, familyId: record!.familyId } } as RefreshOutcome;
  };
  if (decision === 'REUSE_DETECTED') return reuse();
  if (decision !== 'ROTATE' && decision !== 'GRACE_REPLAY') {
    return decision === 'REVOKED' ? ({ ...refused, revokedUser: record!.userId } as RefreshOutcome) : refused;
  }
  const user = await storage.users.getById(record!.userId);
  if (!user) return refused;
  // A disabled account's families were revoked when it was disabled; a refresh that raced the
  // disabling is refused here too.
  if (user.disabledAt != null) return { ...refused, revokedUser: user.id } as RefreshOutcome;
  const next = rotateRefreshRecord(record!, now());
  if (decision === 'GRACE_REPLAY') {
    // A retry inside the grace window: the successor it lost is revoked and replaced, so the
    // family keeps one live token.
    if (successor) await storage.refreshTokens.revokeToken(successor.tokenHash, now());
    await storage.refreshTokens.insert(next.record);
  } else if (!(await storage.refreshTokens.rotate(record!.tokenHash, next.record, now()))) {
    // Lost the race to a simultaneous refresh with the same token: that is a second use.
    return reuse();
  }
  return {
    ok: true,
    tokens: await issuePair(deps, user, { refreshToken: next.token, familyId: record!.familyId }),
  };
}

/** Log out: the presented access token, its session, and (if given, and the caller's own) a refresh family. */
export async function logout(
  deps: AccountDeps,
  caller: { userId: string; tokenId: string; tokenExp: number; sessionId?: string | undefined },
  refreshToken: string | undefined,
): Promise<void> {
  const { storage, now } = deps;
  await deps.sessions.revokeAccessToken(caller.tokenId, caller.tokenExp);
  const families = new Set<string>();
  if (caller.sessionId) families.add(caller.sessionId);
  if (refreshToken && isRefreshTokenShape(refreshToken)) {
    const record = await storage.refreshTokens.get(hashRefreshToken(refreshToken));
    // Only the caller's own family: a stolen refresh token must not let anyone end others' sessions.
    if (record && record.userId === caller.userId) families.add(record.familyId);
  }
  for (const family of families) await storage.refreshTokens.revokeFamily(family, now());
  await deps.sessions.revokeSessions([...families]);
}

/**
 * Ask for a reset. Answers at once, having done the same work for every address: the lookup,
 * the token and the mail happen afterwards, off the request path, so neither the answer nor its
 * timing says whether the account exists.
 */
export function requestReset(deps: AccountDeps, email: string): void {
  deps.later(() => sendReset(deps, email).catch(deps.onMailError));
}

async function sendReset(deps: AccountDeps, email: string): Promise<void> {
  const user = await deps.storage.users.getByEmailKey(loginEmailKey(email));
  if (!user) return;
  const token = `rst_${randomBase62(43)}`;
  const at = deps.now();
  // The value names the user and when the token was made: a later reset or password change
  // (the user's notBefore) makes every older token worthless.
  await deps.storage.ttl.put(RESET_PREFIX + sha256(token), `${user.id} ${at}`, at + RESET_TTL_MS);
  await deps.mailer.send({
    to: user.email,
    subject: 'Reset your password',
    text: linkMail(token, deps.resetUrl, 'reset'),
  });
}

/** Confirm a reset: the token works once, only if no reset or change happened since it was made. */
export async function confirmReset(
  deps: AccountDeps,
  input: { token: string; password: string },
  source: string,
): Promise<{ ok: true; userId: string } | { ok: false; code: 'INVALID_RESET_TOKEN' } | PasswordProblem> {
  const { storage, now } = deps;
  const invalid = { ok: false, code: 'INVALID_RESET_TOKEN' } as const;
  if (!RESET_TOKEN.test(input.token)) return invalid;
  const key = RESET_PREFIX + sha256(input.token);
  // Read first: a password the context rule refuses leaves the token for a better choice.
  const value = await storage.ttl.get(key, now());
  if (!value) return invalid;
  const [userId, madeAt] = value.split(' ');
  const user = userId ? await storage.users.getById(userId) : undefined;
  if (!user) return invalid;
  if (user.notBefore !== null && Number(madeAt ?? 0) < user.notBefore) return invalid;
  const weak = contextProblem(deps, input.password, user, '/password');
  if (weak) return weak;
  // take() is atomic: of two concurrent confirms with one token, one gets it.
  if ((await storage.ttl.take(key, now())) !== value) return invalid;
  const passwordHash = await deps.hashing.run(source, () => hashPassword(input.password));
  await storage.users.update(user.id, { passwordHash }, now());
  await deps.sessions.endAllSessions(user.id);
  return { ok: true, userId: user.id };
}

/** Change a password, proving the current one. */
export async function changePassword(
  deps: AccountDeps,
  userId: string,
  input: { currentPassword: string; newPassword: string },
  source: string,
): Promise<{ ok: true } | { ok: false; code: 'INVALID_CREDENTIALS' } | PasswordProblem> {
  const { storage, now } = deps;
  const user = await storage.users.getById(userId);
  const right = user
    ? await deps.hashing.run(source, () => verifyPassword(input.currentPassword, user.passwordHash))
    : false;
  if (!user || !right) return { ok: false, code: 'INVALID_CREDENTIALS' };
  const weak = contextProblem(deps, input.newPassword, user, '/newPassword');
  if (weak) return weak;
  const passwordHash = await deps.hashing.run(source, () => hashPassword(input.newPassword));
  await storage.users.update(user.id, { passwordHash }, now());
  await deps.sessions.endAllSessions(user.id);
  return { ok: true };
}

function linkMail(token: string, url: string | undefined, kind: 'reset' | 'verify'): string {
  const link = url ? `${url}${url.includes('?') ? '&' : '?'}token=${token}` : token;
  return kind === 'reset'
    ? `Someone asked to reset the password of this account.\n\nTo choose a new password, use:\n${link}\n\nIt works once, within 30 minutes. If it was not you, ignore this message.\n`
    : `Welcome. To confirm that this address is yours, use:\n${link}\n\nIt works once, within 24 hours. If you did not create an account, ignore this message.\n`;
}
