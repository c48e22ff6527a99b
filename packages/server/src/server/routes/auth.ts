import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RampartError } from 'rampart/internal/errors.ts';
import { CHALLENGE } from 'rampart/internal/policy/principal.ts';
import { emailSchema } from 'rampart/internal/validation/email.ts';
import { nameSchema } from 'rampart/internal/validation/name.ts';
import { checkPassword, passwordSchema } from 'rampart/internal/validation/password.ts';
import { z } from 'zod';
import {
  changePassword,
  confirmReset,
  login,
  logout,
  type PasswordProblem,
  refresh,
  register,
  requestReset,
  sendVerification,
  verifyEmail,
} from '../../accounts/accounts.ts';
import type { UserRecord } from '../../storage/types.ts';
import { routeDoc } from '../openapi.ts';
import type { Services } from '../services.ts';

/**
 * Accounts and sessions over HTTP: register, login, refresh, logout, password reset and
 * change, `/v1/me`, the tutorial's `/api/protected`, and the JWKS. Each handler runs one
 * use-case of `accounts/accounts.ts` and turns its outcome into an answer and an event; the
 * checks before it (validation, authentication, failure budgets, limits) are the engine's.
 */
export function authRoutes(app: FastifyInstance, ctx: Services): void {
  const { rampart } = app;
  const { accounts, limits } = ctx;
  const password = passwordSchema(accounts.passwords);
  // Login takes what register accepted, bounded, without re-running the policy (a policy
  // change must not lock existing users out).
  const loginPassword = z.string().min(1).max(1024);

  const registerBody = z
    .strictObject({ email: emailSchema, password, name: nameSchema })
    .superRefine((body, issues) => {
      const check = checkPassword(body.password, { ...accounts.passwords, context: [body.email, body.name] });
      if (!check.ok)
        issues.addIssue({
          code: 'custom',
          path: ['password'],
          message: check.message,
          params: { code: check.code },
        });
    });
  const weak = (problem: PasswordProblem) =>
    new RampartError('VALIDATION_FAILED', {
      errors: [{ path: problem.field, code: problem.rule, message: problem.message }],
    });
  /** The client address behind trusted proxies: whose turn it is in the hashing queue. */
  const source = (request: FastifyRequest) => rampart.policy.clientIp(rampart.view(request));
  // RFC 9110 §15.5.2: every 401 says how to authenticate.
  const wrongPassword = () =>
    new RampartError('INVALID_CREDENTIALS', { headers: { 'www-authenticate': CHALLENGE } });

  app.post(
    '/v1/auth/register',
    {
      config: routeDoc({
        summary: 'Register an account',
        tags: ['accounts'],
        body: registerBody,
        responses: {
          201: {
            description: 'The account',
            schema: z.object({
              id: z.string(),
              email: z.string(),
              name: z.string(),
              role: z.string(),
              createdAt: z.string(),
            }),
          },
        },
        errors: ['EMAIL_TAKEN'],
      }),
      preValidation: rampart.validate({ body: registerBody }),
    },
    async (request, reply) => {
      const outcome = await register(accounts, request.body as z.infer<typeof registerBody>, source(request));
      if (!outcome.ok) throw new RampartError('EMAIL_TAKEN');
      rampart.event(request, { type: 'user_created', outcome: 'success', actor: outcome.user.id });
      return reply.code(201).send(publicUser(outcome.user, true));
    },
  );

  const loginBody = z.strictObject({ email: z.string().min(1).max(320), password: loginPassword });
  app.post(
    '/v1/auth/login',
    {
      config: routeDoc({
        summary: 'Log in',
        description:
          'The same 401 for an unknown e-mail and a wrong password. A disabled account answers 403 ACCOUNT_DISABLED, after the right password only.',
        tags: ['accounts'],
        body: loginBody,
        responses: {
          200: {
            description: 'An access and a refresh token',
            schema: z.object({
              access_token: z.string(),
              token_type: z.literal('Bearer'),
              expires_in: z.number().int(),
              refresh_token: z.string(),
            }),
          },
        },
        errors: ['INVALID_CREDENTIALS', 'ACCOUNT_DISABLED'],
      }),

      preValidation: rampart.validate({ body: loginBody }),
      // Reserved before the (costly) hash, per account and per address: a burst of guesses
      // gets no more than the budget through, the right password among them or not.
      preHandler: rampart.attempts({ rules: [limits.loginAccount] }),
    },
    async (request) => {
      const outcome = await login(accounts, request.body as z.infer<typeof loginBody>, source(request));
      if (!outcome.ok && outcome.code === 'ACCOUNT_DISABLED') {
        // The password was right: not a guess, so the failure budget is not charged.
        request.attempt!.settle(true);
        rampart.event(request, {
          type: 'authn_login_fail',
          outcome: 'failure',
          actor: outcome.userId,
          detail: { reason: 'disabled' },
        });
        throw new RampartError('ACCOUNT_DISABLED', {
          detail: 'This account is disabled; ask an administrator.',
        });
      }
      if (!outcome.ok) {
        request.attempt!.settle(false);
        rampart.event(request, {
          type: 'authn_login_fail',
          outcome: 'failure',
          actor: outcome.userId,
          detail: { reason: outcome.reason },
        });
        throw wrongPassword();
      }
      request.attempt!.settle(true);
      rampart.event(request, { type: 'authn_login_success', outcome: 'success', actor: outcome.user.id });
      return outcome.tokens;
    },
  );

  const refreshBody = z.strictObject({ refresh_token: z.string().max(200) });
  app.post(
    '/v1/auth/refresh',
    {
      config: routeDoc({
        summary: 'Exchange a refresh token for a new pair',
        description:
          'The old refresh token stops working; presenting a used one revokes its whole family. Refused for a disabled account.',
        tags: ['accounts'],
        body: refreshBody,
        responses: {
          200: {
            description: 'A new pair',
            schema: z.object({
              access_token: z.string(),
              token_type: z.literal('Bearer'),
              expires_in: z.number().int(),
              refresh_token: z.string(),
            }),
          },
        },
        errors: ['INVALID_REFRESH_TOKEN'],
      }),
      preValidation: rampart.validate({ body: refreshBody }),
    },
    async (request) => {
      const outcome = await refresh(accounts, (request.body as z.infer<typeof refreshBody>).refresh_token);
      if (outcome.ok) return outcome.tokens;
      if (outcome.reuse) {
        rampart.event(request, {
          type: 'authn_token_reuse',
          outcome: 'failure',
          actor: outcome.reuse.userId,
          detail: { family: outcome.reuse.familyId },
        });
      } else if (outcome.revokedUser) {
        rampart.event(request, {
          type: 'authn_token_revoked',
          outcome: 'failure',
          actor: outcome.revokedUser,
        });
      }
      throw new RampartError('INVALID_REFRESH_TOKEN', { headers: { 'www-authenticate': CHALLENGE } });
    },
  );

  const logoutBody = z.strictObject({ refresh_token: z.string().max(200).optional() });
  app.post(
    '/v1/auth/logout',
    {
      config: routeDoc({
        summary: 'Log out',
        description: 'The access token and its session (and the refresh family given) stop working at once.',
        tags: ['accounts'],
        auth: 'bearer',
        body: logoutBody,
        responses: { 204: 'Logged out' },
      }),
      preHandler: ctx.protect({ accept: 'bearer' }),
      preValidation: rampart.validate({ body: logoutBody }),
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = (request.body ?? {}) as z.infer<typeof logoutBody>;
      await logout(
        accounts,
        {
          userId: principal.userId!,
          tokenId: principal.tokenId!,
          tokenExp: principal.tokenExp!,
          sessionId: principal.sessionId,
        },
        body.refresh_token,
      );
      return reply.code(204).send();
    },
  );

  const resetBody = z.strictObject({ email: z.string().min(1).max(320) });
  app.post(
    '/v1/auth/password-reset',
    {
      config: routeDoc({
        summary: 'Ask for a password-reset mail',
        description: 'Always 202, whether the account exists or not.',
        tags: ['accounts'],
        body: resetBody,
        responses: { 202: { description: 'Accepted', schema: z.object({ status: z.literal('accepted') }) } },
      }),
      preValidation: rampart.validate({ body: resetBody }),
    },
    async (request, reply) => {
      requestReset(accounts, (request.body as z.infer<typeof resetBody>).email);
      return reply.code(202).send({ status: 'accepted' });
    },
  );

  const confirmBody = z.strictObject({ token: z.string().max(200), password });
  app.post(
    '/v1/auth/password-reset/confirm',
    {
      config: routeDoc({
        summary: 'Set a new password with a reset token',
        description: 'The token works once; every session of the account ends.',
        tags: ['accounts'],
        body: confirmBody,
        responses: { 204: 'Password changed' },
        errors: ['INVALID_RESET_TOKEN'],
      }),
      preValidation: rampart.validate({ body: confirmBody }),
      preHandler: rampart.attempts(),
    },
    async (request, reply) => {
      const outcome = await confirmReset(
        accounts,
        request.body as z.infer<typeof confirmBody>,
        source(request),
      );
      if (!outcome.ok) {
        request.attempt!.settle(false);
        throw outcome.code === 'WEAK_PASSWORD' ? weak(outcome) : new RampartError('INVALID_RESET_TOKEN');
      }
      request.attempt!.settle(true);
      rampart.event(request, {
        type: 'authn_password_change',
        outcome: 'success',
        actor: outcome.userId,
        detail: { via: 'reset' },
      });
      return reply.code(204).send();
    },
  );

  const verifyBody = z.strictObject({ token: z.string().max(200) });
  app.post(
    '/v1/auth/verify-email',
    {
      config: routeDoc({
        summary: 'Confirm an e-mail address with a verification token',
        description: 'The token (`ver_…`, mailed at registration) works once.',
        tags: ['accounts'],
        body: verifyBody,
        responses: { 204: 'Address verified' },
        errors: ['INVALID_VERIFICATION_TOKEN'],
      }),
      preValidation: rampart.validate({ body: verifyBody }),
    },
    async (request, reply) => {
      const outcome = await verifyEmail(accounts, (request.body as z.infer<typeof verifyBody>).token);
      if (!outcome.ok) throw new RampartError('INVALID_VERIFICATION_TOKEN');
      rampart.event(request, { type: 'user_email_verified', outcome: 'success', actor: outcome.userId });
      return reply.code(204).send();
    },
  );

  app.post(
    '/v1/auth/verify-email/resend',
    // Limited like a reset (5 an hour per client): each one sends a mail.
    {
      config: routeDoc({
        summary: 'Send the verification mail again',
        description:
          'Answers 202 whether or not a mail goes out (none when the address is already verified); limited to 5 an hour per client.',
        tags: ['accounts'],
        auth: 'bearer',
        responses: { 202: 'Accepted' },
      }),
      preHandler: [...ctx.protect({ accept: 'bearer' }), rampart.sensitiveLimiter],
    },
    async (request, reply) => {
      const user = await ctx.storage.users.getById(principalOf(request).userId!);
      if (user && user.emailVerifiedAt === undefined) {
        accounts.later(() => sendVerification(accounts, user).catch(accounts.onMailError));
      }
      return reply.code(202).send({ status: 'accepted' });
    },
  );

  const changeBody = z.strictObject({ currentPassword: loginPassword, newPassword: password });
  app.post(
    '/v1/auth/password',
    {
      config: routeDoc({
        summary: 'Change the password',
        description: 'Proves the current password; every session of the account ends.',
        tags: ['accounts'],
        auth: 'bearer',
        body: changeBody,
        responses: { 204: 'Password changed' },
        errors: ['INVALID_CREDENTIALS'],
      }),

      preValidation: rampart.validate({ body: changeBody }),
      preHandler: [...ctx.protect({ accept: 'bearer' }), rampart.attempts({ rules: [limits.passwordUser] })],
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const outcome = await changePassword(
        accounts,
        principal.userId!,
        request.body as z.infer<typeof changeBody>,
        source(request),
      );
      if (!outcome.ok) {
        if (outcome.code === 'WEAK_PASSWORD') {
          request.attempt!.settle(true);
          throw weak(outcome);
        }
        request.attempt!.settle(false);
        rampart.event(request, {
          type: 'authn_login_fail',
          outcome: 'failure',
          actor: principal.userId,
          detail: { reason: 'password_change' },
        });
        throw wrongPassword();
      }
      request.attempt!.settle(true);
      rampart.event(request, {
        type: 'authn_password_change',
        outcome: 'success',
        actor: principal.userId,
        detail: { via: 'change' },
      });
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/me',
    {
      config: routeDoc({
        summary: 'The caller',
        tags: ['accounts'],
        auth: 'any',
        responses: {
          200: {
            description: 'The account behind the credential',
            schema: z.object({ id: z.string(), email: z.string(), name: z.string(), role: z.string() }),
          },
        },
        errors: ['NOT_FOUND'],
      }),
      preHandler: ctx.protect(),
    },
    async (request) => {
      const principal = principalOf(request);
      const user = principal.userId ? await ctx.storage.users.getById(principal.userId) : undefined;
      if (!user) throw new RampartError('NOT_FOUND', { detail: 'No user stands behind this credential.' });
      return publicUser(user, false);
    },
  );

  app.get(
    '/api/protected',
    {
      config: routeDoc({
        summary: "The tutorial's demo route",
        tags: ['accounts'],
        auth: 'bearer',
        responses: {
          200: {
            description: 'Access granted',
            schema: z.object({
              message: z.string(),
              user: z.object({ userId: z.string().nullable(), role: z.string().nullable() }),
            }),
          },
        },
      }),
      preHandler: ctx.protect({ accept: 'bearer' }),
    },
    async (request) => {
      const principal = principalOf(request);
      return { message: 'Access granted', user: { userId: principal.userId, role: principal.role } };
    },
  );

  app.get(
    '/.well-known/jwks.json',
    {
      config: routeDoc({
        summary: 'The public signing keys (RFC 7517)',
        tags: ['tokens'],
        responses: {
          200: {
            description: 'The JWK set: current and still-valid previous keys',
            schema: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }),
          },
        },
      }),
    },
    async (_request, reply) => {
      // Public keys may be cached briefly; rotation publishes the next key before it signs.
      reply.header('cache-control', 'public, max-age=300');
      return ctx.keyRing.current().jwks();
    },
  );
}

/** The principal of a route the engine authenticated. */
export function principalOf(request: FastifyRequest) {
  if (!request.principal) throw new RampartError('UNAUTHENTICATED');
  return request.principal;
}

function publicUser(user: UserRecord, withCreated: boolean) {
  const out: Record<string, unknown> = {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    emailVerified: user.emailVerifiedAt !== undefined,
  };
  if (withCreated) out.createdAt = new Date(user.createdAt).toISOString();
  return out;
}
