import type { FastifyInstance } from 'fastify';
import { RampartError } from 'rampart/internal/errors.ts';
import { newId, randomBase62 } from 'rampart/internal/lib/ids.ts';
import { sha256 } from 'rampart/internal/lib/secret.ts';
import {
  decideRefresh,
  hashRefreshToken,
  isRefreshTokenShape,
  rotateRefreshRecord,
  startRefreshFamily,
} from 'rampart/internal/tokens/refresh-token.ts';
import { emailKey, emailSchema } from 'rampart/internal/validation/email.ts';
import { nameSchema } from 'rampart/internal/validation/name.ts';
import {
  checkPassword,
  type PasswordOptions,
  passwordSchema,
  tutorialPasswordPolicy,
} from 'rampart/internal/validation/password.ts';
import { z } from 'zod';
import { dummyVerify, hashPassword, needsRehash, verifyPassword } from '../../accounts/password-hash.ts';
import type { UserRecord } from '../../storage/types.ts';
import { eventFor } from '../app.ts';
import { authenticate, principalOf, validateRequest } from '../guard.ts';
import type { Services } from '../services.ts';

const RESET_PREFIX = 'reset:';
const RESET_TTL_MS = 30 * 60_000;

/**
 * Accounts and sessions: register, login, refresh, logout, password reset and change,
 * `/v1/me`, the tutorial's `/api/protected`, and the JWKS.
 */
export function authRoutes(app: FastifyInstance, ctx: Services): void {
  const { storage, audit, sessions, now, config } = ctx;
  const passwordOptions: PasswordOptions =
    config.passwords.preset === 'tutorial'
      ? { ...tutorialPasswordPolicy, minLength: config.passwords.minLength }
      : { minLength: config.passwords.minLength };
  const password = passwordSchema(passwordOptions);
  // Login takes what register accepted, bounded, without re-running the policy (a policy
  // change must not lock existing users out).
  const loginPassword = z.string().min(1).max(1024);

  const registerBody = z
    .strictObject({ email: emailSchema, password, name: nameSchema })
    .superRefine((body, issues) => {
      const check = checkPassword(body.password, { ...passwordOptions, context: [body.email, body.name] });
      if (!check.ok)
        issues.addIssue({
          code: 'custom',
          path: ['password'],
          message: check.message,
          params: { code: check.code },
        });
    });

  /** A new access token in session `familyId`, with its refresh token (a new family at login). */
  const issuePair = async (user: UserRecord, session?: { refreshToken: string; familyId: string }) => {
    let refreshToken: string;
    let familyId: string;
    if (session) {
      ({ refreshToken, familyId } = session);
    } else {
      const family = startRefreshFamily({ userId: user.id, now: now() });
      await storage.refreshTokens.insert(family.record);
      refreshToken = family.token;
      familyId = family.record.familyId;
    }
    const access = await sessions.issuer.issue({ sub: user.id, role: user.role, extra: { sid: familyId } });
    return {
      access_token: access.token,
      token_type: 'Bearer' as const,
      expires_in: access.expiresIn,
      refresh_token: refreshToken,
    };
  };

  app.post(
    '/v1/auth/register',
    { preValidation: validateRequest(ctx, { body: registerBody }) },
    async (request, reply) => {
      const body = request.body as z.infer<typeof registerBody>;
      const at = now();
      const user: UserRecord = {
        id: newId('usr'),
        email: body.email,
        emailKey: emailKey(body.email),
        name: body.name,
        role: 'user',
        // Hash before the uniqueness check, so a taken email costs the same time as a new one.
        passwordHash: await hashPassword(body.password),
        createdAt: at,
        updatedAt: at,
        notBefore: null,
      };
      if ((await storage.users.create(user)) === 'email_taken') throw new RampartError('EMAIL_TAKEN');
      audit.record(eventFor(request, { type: 'user_created', outcome: 'success', actor: user.id }));
      return reply.code(201).send(publicUser(user, true));
    },
  );

  const loginBody = z.strictObject({ email: z.string().min(1).max(320), password: loginPassword });
  app.post(
    '/v1/auth/login',
    { preValidation: validateRequest(ctx, { body: loginBody }) },
    async (request, reply) => {
      const body = request.body as z.infer<typeof loginBody>;
      // Too many failures for this account or address: refused before the (costly) hash.
      await ctx.rateLimits.loginGate(request, reply, body);
      const user = await storage.users.getByEmailKey(emailKey(body.email));
      // An unknown email pays the same argon2id as a wrong password: timing tells nothing.
      const ok = user
        ? await verifyPassword(body.password, user.passwordHash)
        : await dummyVerify(body.password);
      if (!user || !ok) {
        audit.record(
          eventFor(request, {
            type: 'authn_login_fail',
            outcome: 'failure',
            ...(user ? { actor: user.id } : {}),
            detail: { reason: user ? 'wrong_password' : 'unknown_email' },
          }),
        );
        ctx.rateLimits.recordLoginFailure(request, body);
        throw new RampartError('INVALID_CREDENTIALS');
      }
      if (needsRehash(user.passwordHash)) {
        await storage.users.update(user.id, { passwordHash: await hashPassword(body.password) }, now());
      }
      audit.record(eventFor(request, { type: 'authn_login_success', outcome: 'success', actor: user.id }));
      return issuePair(user);
    },
  );

  const refreshBody = z.strictObject({ refresh_token: z.string().max(200) });
  app.post(
    '/v1/auth/refresh',
    { preValidation: validateRequest(ctx, { body: refreshBody }) },
    async (request) => {
      const { refresh_token: token } = request.body as z.infer<typeof refreshBody>;
      const refused = () => new RampartError('INVALID_REFRESH_TOKEN');
      if (!isRefreshTokenShape(token)) throw refused();
      const record = await storage.refreshTokens.get(hashRefreshToken(token));
      const successor = record?.replacedBy ? await storage.refreshTokens.get(record.replacedBy) : undefined;
      const decision = decideRefresh(record, now(), ctx.refreshPolicy, successor);
      const reuse = async () => {
        await storage.refreshTokens.revokeFamily(record!.familyId, now());
        await sessions.revokeSessions([record!.familyId]);
        audit.record(
          eventFor(request, {
            type: 'authn_token_reuse',
            outcome: 'failure',
            actor: record!.userId,
            detail: { family: record!.familyId },
          }),
        );
        return refused();
      };
      if (decision === 'REUSE_DETECTED') throw await reuse();
      if (decision !== 'ROTATE' && decision !== 'GRACE_REPLAY') {
        if (decision === 'REVOKED') {
          audit.record(
            eventFor(request, { type: 'authn_token_revoked', outcome: 'failure', actor: record!.userId }),
          );
        }
        throw refused();
      }
      const user = await storage.users.getById(record!.userId);
      if (!user) throw refused();
      const next = rotateRefreshRecord(record!, now());
      if (decision === 'GRACE_REPLAY') {
        // A retry inside the grace window: the successor it lost is revoked and replaced, so the
        // family keeps one live token.
        if (successor) await storage.refreshTokens.revokeToken(successor.tokenHash, now());
        await storage.refreshTokens.insert(next.record);
      } else if (!(await storage.refreshTokens.rotate(record!.tokenHash, next.record, now()))) {
        // Lost the race to a simultaneous refresh with the same token: that is a second use.
        throw await reuse();
      }
      return issuePair(user, { refreshToken: next.token, familyId: record!.familyId });
    },
  );

  const logoutBody = z.strictObject({ refresh_token: z.string().max(200).optional() });
  app.post(
    '/v1/auth/logout',
    {
      preHandler: authenticate(ctx, { accept: { bearer: true, apiKey: false } }),
      preValidation: validateRequest(ctx, { body: logoutBody }),
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = (request.body ?? {}) as z.infer<typeof logoutBody>;
      await sessions.revokeAccessToken(principal.tokenId!, principal.tokenExp!);
      const families = new Set<string>();
      if (principal.sessionId) families.add(principal.sessionId);
      if (body.refresh_token && isRefreshTokenShape(body.refresh_token)) {
        const record = await storage.refreshTokens.get(hashRefreshToken(body.refresh_token));
        // Only the caller's own family: a stolen refresh token must not let anyone end others' sessions.
        if (record && record.userId === principal.userId) families.add(record.familyId);
      }
      for (const family of families) await storage.refreshTokens.revokeFamily(family, now());
      await sessions.revokeSessions([...families]);
      return reply.code(204).send();
    },
  );

  const resetBody = z.strictObject({ email: z.string().min(1).max(320) });
  app.post(
    '/v1/auth/password-reset',
    { preValidation: validateRequest(ctx, { body: resetBody }) },
    async (request, reply) => {
      const { email } = request.body as z.infer<typeof resetBody>;
      const user = await storage.users.getByEmailKey(emailKey(email));
      if (user) {
        const token = `rst_${randomBase62(43)}`;
        await storage.ttl.put(RESET_PREFIX + sha256(token), user.id, now() + RESET_TTL_MS);
        // Not awaited: the answer (and its timing) must not depend on whether mail was sent.
        Promise.resolve(
          ctx.mailer.send({
            to: user.email,
            subject: 'Reset your password',
            text: resetMailText(token, ctx.config.resetUrl),
          }),
        ).catch((error: unknown) =>
          request.log.error({ err: { message: (error as Error).message } }, 'reset mail failed'),
        );
      }
      return reply.code(202).send({ status: 'accepted' });
    },
  );

  const confirmBody = z.strictObject({ token: z.string().max(200), password });
  app.post(
    '/v1/auth/password-reset/confirm',
    { preValidation: validateRequest(ctx, { body: confirmBody }) },
    async (request, reply) => {
      const body = request.body as z.infer<typeof confirmBody>;
      // take() is atomic: of two concurrent confirms with one token, one gets the user.
      const userId = /^rst_[0-9A-Za-z]{43}$/.test(body.token)
        ? await storage.ttl.take(RESET_PREFIX + sha256(body.token), now())
        : undefined;
      if (!userId) throw new RampartError('INVALID_RESET_TOKEN');
      await storage.users.update(userId, { passwordHash: await hashPassword(body.password) }, now());
      await sessions.endAllSessions(userId);
      audit.record(
        eventFor(request, {
          type: 'authn_password_change',
          outcome: 'success',
          actor: userId,
          detail: { via: 'reset' },
        }),
      );
      return reply.code(204).send();
    },
  );

  const changeBody = z.strictObject({ currentPassword: loginPassword, newPassword: password });
  app.post(
    '/v1/auth/password',
    {
      preHandler: authenticate(ctx, { accept: { bearer: true, apiKey: false } }),
      preValidation: validateRequest(ctx, { body: changeBody }),
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body as z.infer<typeof changeBody>;
      const user = await storage.users.getById(principal.userId!);
      if (!user || !(await verifyPassword(body.currentPassword, user.passwordHash))) {
        audit.record(
          eventFor(request, {
            type: 'authn_login_fail',
            outcome: 'failure',
            actor: principal.userId ?? undefined,
            detail: { reason: 'password_change' },
          }),
        );
        throw new RampartError('INVALID_CREDENTIALS');
      }
      await storage.users.update(user.id, { passwordHash: await hashPassword(body.newPassword) }, now());
      await sessions.endAllSessions(user.id);
      audit.record(
        eventFor(request, {
          type: 'authn_password_change',
          outcome: 'success',
          actor: user.id,
          detail: { via: 'change' },
        }),
      );
      return reply.code(204).send();
    },
  );

  app.get('/v1/me', { preHandler: authenticate(ctx) }, async (request) => {
    const principal = principalOf(request);
    const user = principal.userId ? await storage.users.getById(principal.userId) : undefined;
    if (!user) throw new RampartError('NOT_FOUND', { detail: 'No user stands behind this credential.' });
    return publicUser(user, false);
  });

  app.get(
    '/api/protected',
    { preHandler: authenticate(ctx, { accept: { bearer: true, apiKey: false } }) },
    async (request) => {
      const principal = principalOf(request);
      return { message: 'Access granted', user: { userId: principal.userId, role: principal.role } };
    },
  );

  app.get('/.well-known/jwks.json', async (_request, reply) => {
    // Public keys may be cached briefly; rotation publishes the next key before it signs.
    reply.header('cache-control', 'public, max-age=300');
    return ctx.keyRing.current().jwks();
  });
}

function publicUser(user: UserRecord, withCreated: boolean) {
  const out: Record<string, unknown> = { id: user.id, email: user.email, name: user.name, role: user.role };
  if (withCreated) out.createdAt = new Date(user.createdAt).toISOString();
  return out;
}

function resetMailText(token: string, resetUrl: string | undefined): string {
  const link = resetUrl ? `${resetUrl}${resetUrl.includes('?') ? '&' : '?'}token=${token}` : token;
  return `Someone asked to reset the password of this account.\n\nTo choose a new password, use:\n${link}\n\nIt works once, within 30 minutes. If it was not you, ignore this message.\n`;
}
