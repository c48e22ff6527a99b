import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RampartError } from 'rampart/internal/errors.ts';
import { emailSchema } from 'rampart/internal/validation/email.ts';
import { nameSchema } from 'rampart/internal/validation/name.ts';
import { checkPassword, passwordSchema } from 'rampart/internal/validation/password.ts';
import { z } from 'zod';
import {
  type AdminOutcome,
  adminUserView,
  createUser,
  deleteUser,
  endSessions,
  searchUsers,
  setDisabled,
  setRole,
} from '../../accounts/admin.ts';
import type { UserRecord } from '../../storage/types.ts';
import { routeDoc } from '../openapi.ts';
import type { Services } from '../services.ts';
import { principalOf } from './auth.ts';

const userParams = z.strictObject({ id: z.string().max(64) });
const searchQuery = z.strictObject({
  /** The start of the address (`ada@`, `ada@exa`). */
  email: z.string().min(1).max(320).optional(),
  /** A part of the name. */
  name: z.string().min(1).max(200).optional(),
  role: z.enum(['user', 'admin']).optional(),
  status: z.enum(['active', 'disabled']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(200).optional(),
});
const patchBody = z
  .strictObject({ role: z.enum(['user', 'admin']).optional(), disabled: z.boolean().optional() })
  .refine((b) => b.role !== undefined || b.disabled !== undefined, {
    message: 'expected role or disabled',
  });

export const adminUserSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(['user', 'admin']),
  status: z.enum(['active', 'disabled']),
  disabledAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/**
 * `/v1/admin/users`: the admin plane's accounts (admin role, or a key with scope `admin`).
 * Search and show, create, set a role, disable and enable, delete, end every session; each
 * change is an audit event. The last enabled admin cannot be demoted, disabled or deleted
 * (409 `LAST_ADMIN`, decided atomically by the store).
 */
export function userRoutes(app: FastifyInstance, ctx: Services): void {
  const { rampart } = app;
  const { storage } = ctx;
  const admin = ctx.protect({ scopes: ['admin'] });
  const password = passwordSchema(ctx.accounts.passwords);
  const createBody = z
    .strictObject({
      email: emailSchema,
      password,
      name: nameSchema,
      role: z.enum(['user', 'admin']).default('user'),
    })
    .superRefine((body, issues) => {
      const check = checkPassword(body.password, {
        ...ctx.accounts.passwords,
        context: [body.email, body.name],
      });
      if (!check.ok) issues.addIssue({ code: 'custom', path: ['password'], message: check.message });
    });

  const actorOf = (request: FastifyRequest) => {
    const p = principalOf(request);
    return p.userId ?? p.keyId ?? undefined;
  };
  const userOf = async (id: string): Promise<UserRecord> => {
    const user = /^usr_[0-9A-Za-z]{22}$/.test(id) ? await storage.users.getById(id) : undefined;
    if (user === undefined) throw new RampartError('NOT_FOUND', { detail: 'No such user.' });
    return user;
  };
  const settled = (outcome: AdminOutcome) => {
    if (outcome.ok) return outcome;
    if (outcome.code === 'LAST_ADMIN') {
      throw new RampartError('LAST_ADMIN', {
        detail: 'Make another admin first: this is the last enabled one.',
      });
    }
    throw new RampartError('NOT_FOUND', { detail: 'No such user.' });
  };
  const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;

  app.get(
    '/v1/admin/users',
    {
      config: routeDoc({
        summary: 'List and search users',
        description:
          'Newest first; every filter given must match (email: the start of the address; name: a part of it).',
        tags: ['users'],
        auth: 'admin',
        scopes: ['admin'],
        query: searchQuery,
        responses: {
          200: {
            description: 'A page of users',
            schema: z.object({ users: z.array(adminUserSchema), nextCursor: z.string().nullable() }),
          },
        },
      }),
      onRequest: admin,
      preValidation: rampart.validate({ query: searchQuery }),
    },
    async (request) => {
      const q = request.query as z.infer<typeof searchQuery>;
      const page = await searchUsers(storage, {
        limit: q.limit,
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        ...(q.email !== undefined ? { emailPrefix: q.email.toLowerCase() } : {}),
        ...(q.name !== undefined ? { nameContains: q.name } : {}),
        ...(q.role !== undefined ? { role: q.role } : {}),
        ...(q.status !== undefined ? { disabled: q.status === 'disabled' } : {}),
      });
      return { users: page.users.map(adminUserView), nextCursor: page.nextCursor };
    },
  );

  app.post(
    '/v1/admin/users',
    {
      config: routeDoc({
        summary: 'Create a user',
        description:
          'An account with a role, under the same e-mail, name and password rules as registration.',
        tags: ['users'],
        auth: 'admin',
        scopes: ['admin'],
        body: createBody,
        responses: { 201: { description: 'The account', schema: adminUserSchema } },
        errors: ['EMAIL_TAKEN'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ body: createBody }),
    },
    async (request, reply) => {
      const body = request.body as z.infer<typeof createBody>;
      const made = await createUser(ctx.userAdmin, body);
      if (!made.ok) throw new RampartError('EMAIL_TAKEN');
      rampart.event(request, {
        type: 'user_created',
        outcome: 'success',
        actor: actorOf(request),
        detail: { userId: made.user.id, role: made.user.role, via: 'admin' },
      });
      return reply.code(201).send(adminUserView(made.user));
    },
  );

  app.get(
    '/v1/admin/users/:id',
    {
      config: routeDoc({
        summary: 'Show a user',
        tags: ['users'],
        auth: 'admin',
        scopes: ['admin'],
        params: userParams,
        responses: { 200: { description: 'The account', schema: adminUserSchema } },
        errors: ['NOT_FOUND'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: userParams }),
    },
    async (request) => adminUserView(await userOf(idOf(request))),
  );

  app.patch(
    '/v1/admin/users/:id',
    {
      config: routeDoc({
        summary: 'Set a role, disable or enable a user',
        description:
          'Disabling ends every session of the user on every instance within a second and disables their API keys (enabling the account does not enable them again). Demoting an admin ends their sessions too.',
        tags: ['users'],
        auth: 'admin',
        scopes: ['admin'],
        params: userParams,
        body: patchBody,
        responses: { 200: { description: 'The account after the change', schema: adminUserSchema } },
        errors: ['NOT_FOUND', 'LAST_ADMIN'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: userParams, body: patchBody }),
    },
    async (request) => {
      const user = await userOf(idOf(request));
      const body = request.body as z.infer<typeof patchBody>;
      let after = user;
      if (body.role !== undefined && body.role !== user.role) {
        after = settled(await setRole(ctx.userAdmin, user.id, body.role)).user;
        rampart.event(request, {
          type: 'user_updated',
          outcome: 'success',
          actor: actorOf(request),
          detail: { userId: user.id, fields: ['role'], from: user.role, to: body.role },
        });
      }
      if (body.disabled !== undefined && body.disabled !== (user.disabledAt != null)) {
        const outcome = settled(await setDisabled(ctx.userAdmin, user.id, body.disabled));
        after = outcome.user;
        rampart.event(request, {
          type: body.disabled ? 'user_disabled' : 'user_enabled',
          outcome: 'success',
          actor: actorOf(request),
          detail: { userId: user.id, ...(outcome.keys ? { keysDisabled: outcome.keys } : {}) },
        });
      }
      return adminUserView(after);
    },
  );

  app.delete(
    '/v1/admin/users/:id',
    {
      config: routeDoc({
        summary: 'Delete a user',
        description:
          'Ends their sessions, deletes the account and its refresh tokens, and revokes every key they own.',
        tags: ['users'],
        auth: 'admin',
        scopes: ['admin'],
        params: userParams,
        responses: { 204: 'Deleted' },
        errors: ['NOT_FOUND', 'LAST_ADMIN'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: userParams }),
    },
    async (request, reply) => {
      const user = await userOf(idOf(request));
      const outcome = settled(await deleteUser(ctx.userAdmin, user.id));
      rampart.event(request, {
        type: 'user_deleted',
        outcome: 'success',
        actor: actorOf(request),
        detail: { userId: user.id, keysRevoked: outcome.keys ?? [] },
      });
      return reply.code(204).send();
    },
  );

  app.post(
    '/v1/admin/users/:id/end-sessions',
    {
      config: routeDoc({
        summary: 'End every session of a user',
        description:
          'Refresh families revoked and their access tokens refused on every instance; the account stays.',
        tags: ['users'],
        auth: 'admin',
        scopes: ['admin'],
        params: userParams,
        responses: { 204: 'Ended' },
        errors: ['NOT_FOUND'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: userParams }),
    },
    async (request, reply) => {
      const user = await userOf(idOf(request));
      settled(await endSessions(ctx.userAdmin, user.id));
      rampart.event(request, {
        type: 'user_sessions_ended',
        outcome: 'success',
        actor: actorOf(request),
        detail: { userId: user.id },
      });
      return reply.code(204).send();
    },
  );
}
