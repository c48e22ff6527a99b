import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RampartError } from 'rampart/internal/errors.ts';
import { isId, newId } from 'rampart/internal/lib/ids.ts';
import { z } from 'zod';
import { effectiveLimits } from '../../storage/budgets.ts';
import type {
  CreditsPatch,
  IdentityChange,
  IdentityPatch,
  IdentityRecord,
  PlanChange,
  PlanCredits,
  PlanLimits,
  PlanRecord,
  RateLimitSpec,
} from '../../storage/types.ts';
import { routeDoc } from '../openapi.ts';
import type { Services } from '../services.ts';
import { principalOf } from './auth.ts';
import { creditsPatchOf, duration, iso, keyView, keyViewSchema } from './keys.ts';
import { readUsage, USAGE_RANGE_DOC, usageQuery, usageSchema } from './usage.ts';

const LIMIT_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const rateLimits = z
  .array(
    z.strictObject({
      name: z
        .string()
        .regex(LIMIT_NAME, { message: 'a name is 1-32 lower-case letters, digits or -' })
        .optional(),
      limit: z.number().int().positive().max(1e9),
      window: duration.refine((ms) => ms >= 1000, { message: 'at least 1 s' }),
    }),
  )
  .max(8)
  .refine((list) => new Set(list.map((l) => l.name ?? 'default')).size === list.length, {
    message: 'each limit needs its own name',
  });
const refill = z.strictObject({
  amount: z.number().int().positive().max(1e12),
  interval: duration.refine((ms) => ms >= 1000, { message: 'at least 1 s' }),
  max: z.number().int().positive().max(1e12).optional(),
});
const planCredits = z.strictObject({
  amount: z.number().int().nonnegative().max(1e12),
  refill: refill.optional(),
});
const metadata = z.record(z.string(), z.unknown()).refine((m) => JSON.stringify(m).length <= 8192, {
  message: 'at most 8 KiB as JSON',
});
const text = z.string().min(1).max(200);

const planBody = z.strictObject({
  name: text,
  rateLimits: rateLimits.optional(),
  credits: planCredits.nullable().optional(),
  metadata: metadata.optional(),
});
const planPatch = z
  .strictObject({
    name: text.optional(),
    rateLimits: rateLimits.optional(),
    credits: planCredits.nullable().optional(),
    metadata: metadata.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'expected at least one field to change' });
const overrides = z.strictObject({
  rateLimits: rateLimits.optional(),
  credits: planCredits.nullable().optional(),
});
const identityCredits = z.strictObject({
  remaining: z.number().int().nonnegative().max(1e12),
  refill: refill.optional(),
});
const identityBody = z.strictObject({
  externalId: z.string().min(1).max(128),
  name: text,
  metadata: metadata.optional(),
  planId: z.string().max(64).nullable().optional(),
  overrides: overrides.optional(),
  /** The shared balance; default the plan's (or overrides') credits `amount`, else none (unlimited). */
  credits: identityCredits.nullable().optional(),
});
const identityPatch = z
  .strictObject({
    externalId: z.string().min(1).max(128).optional(),
    name: text.optional(),
    metadata: metadata.optional(),
    planId: z.string().max(64).nullable().optional(),
    overrides: overrides.optional(),
    credits: z
      .strictObject({
        remaining: z.number().int().nonnegative().max(1e12).optional(),
        increment: z.number().int().min(-1e12).max(1e12).optional(),
        refill: refill.nullable().optional(),
      })
      .nullable()
      .optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'expected at least one field to change' });
const idParams = z.strictObject({ id: z.string().max(64) });
const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(200).optional(),
});
const identityListQuery = pageQuery.extend({
  /** Only identities on this plan; "none" for those on none. */
  planId: z.string().min(1).max(64).optional(),
});
const specOf = (l: { name?: string | undefined; limit: number; window: number }): RateLimitSpec => ({
  ...(l.name !== undefined ? { name: l.name } : {}),
  limit: l.limit,
  windowMs: l.window,
});
const creditsOf = (c: z.infer<typeof planCredits>): PlanCredits => ({
  amount: c.amount,
  ...(c.refill
    ? {
        refill: {
          amount: c.refill.amount,
          intervalMs: c.refill.interval,
          ...(c.refill.max !== undefined ? { max: c.refill.max } : {}),
        },
      }
    : {}),
});
const overridesOf = (o: z.infer<typeof overrides>): PlanLimits => ({
  ...(o.rateLimits !== undefined ? { rateLimits: o.rateLimits.map(specOf) } : {}),
  ...(o.credits !== undefined ? { credits: o.credits === null ? null : creditsOf(o.credits) } : {}),
});

const limitView = (l: RateLimitSpec) => ({ name: l.name ?? 'default', limit: l.limit, windowMs: l.windowMs });
const planCreditsView = (c: PlanCredits | null) => c;

export function planView(plan: PlanRecord) {
  return {
    id: plan.id,
    name: plan.name,
    rateLimits: plan.rateLimits.map(limitView),
    credits: planCreditsView(plan.credits),
    metadata: plan.metadata,
    createdAt: iso(plan.createdAt),
    updatedAt: iso(plan.updatedAt),
  };
}

export function identityView(identity: IdentityRecord, plan: PlanRecord | undefined) {
  const effective = effectiveLimits(identity, plan);
  return {
    id: identity.id,
    externalId: identity.externalId,
    name: identity.name,
    metadata: identity.metadata,
    planId: identity.planId,
    overrides: identity.overrides,
    credits:
      identity.credits === null
        ? null
        : {
            remaining: identity.credits.remaining,
            ...(identity.credits.refill
              ? {
                  refill: {
                    amount: identity.credits.refill.amount,
                    intervalMs: identity.credits.refill.intervalMs,
                    lastRefillAt: iso(identity.credits.refill.lastRefillAt),
                    ...(identity.credits.refill.max !== undefined
                      ? { max: identity.credits.refill.max }
                      : {}),
                  },
                }
              : {}),
          },
    /** What is in force: the overrides field by field, else the plan's. */
    effective: { rateLimits: effective.rateLimits.map(limitView), credits: effective.credits },
    createdAt: iso(identity.createdAt),
    updatedAt: iso(identity.updatedAt),
  };
}

const limitSchema = z.object({ name: z.string(), limit: z.number().int(), windowMs: z.number().int() });
const creditsSchema = z
  .object({
    amount: z.number().int(),
    refill: z
      .object({ amount: z.number().int(), intervalMs: z.number().int(), max: z.number().int().optional() })
      .optional(),
  })
  .nullable();
export const planSchema = z.object({
  id: z.string(),
  name: z.string(),
  rateLimits: z.array(limitSchema),
  credits: creditsSchema,
  metadata: z.record(z.string(), z.unknown()),
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
});
export const identitySchema = z.object({
  id: z.string(),
  externalId: z.string(),
  name: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  planId: z.string().nullable(),
  overrides: z.record(z.string(), z.unknown()),
  credits: z
    .object({ remaining: z.number().int(), refill: z.record(z.string(), z.unknown()).optional() })
    .nullable(),
  effective: z.object({ rateLimits: z.array(limitSchema), credits: creditsSchema }),
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
});

/**
 * `/v1/identities` and `/v1/plans`: owners of keys with shared credits and limits, and the
 * named sets of limits they subscribe to (admin role, or a key with scope `admin`). An
 * identity's limits in force are its overrides field by field, else its plan's; every key of
 * the identity draws from them (counted under `identity:<id>:<name>`). A change reaches every
 * instance at once (the key service's cache drops the identity over the bus).
 */
export function identityRoutes(app: FastifyInstance, ctx: Services): void {
  const { rampart } = app;
  const { storage, now, apiKeys } = ctx;
  const admin = ctx.protect({ scopes: ['admin'] });
  const actorOf = (request: FastifyRequest) => {
    const p = principalOf(request);
    return p.userId ?? p.keyId ?? undefined;
  };
  const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
  const notFound = (what: string) => new RampartError('NOT_FOUND', { detail: `No such ${what}.` });
  const planOf = async (id: string | null) =>
    id === null ? undefined : isId(id, 'pln') ? await storage.plans.get(id) : undefined;
  const identityOf = async (id: string) => {
    const identity = isId(id, 'idt') ? await storage.identities.get(id) : undefined;
    if (identity === undefined) throw notFound('identity');
    return identity;
  };
  const identityChange = (change: IdentityChange): IdentityRecord => {
    if (change.ok) return change.identity;
    switch (change.code) {
      case 'NOT_FOUND':
        throw notFound('identity');
      case 'EXTERNAL_ID_TAKEN':
        throw new RampartError('CONFLICT', { detail: 'An identity with this externalId exists.' });
      case 'PLAN_NOT_FOUND':
        throw new RampartError('VALIDATION_FAILED', {
          errors: [{ path: '/planId', code: 'NOT_FOUND', message: 'no such plan' }],
        });
      case 'IN_USE':
        throw new RampartError('IN_USE', { detail: 'The identity still has live keys: revoke them first.' });
    }
  };
  const planChange = (change: PlanChange): PlanRecord => {
    if (change.ok) return change.plan;
    if (change.code === 'NOT_FOUND') throw notFound('plan');
    if (change.code === 'NAME_TAKEN')
      throw new RampartError('CONFLICT', { detail: 'A plan with this name exists.' });
    throw new RampartError('IN_USE', { detail: 'Identities are on this plan: move them first.' });
  };
  const checkPlanId = (planId: string | null | undefined) => {
    if (planId != null && !isId(planId, 'pln')) {
      throw new RampartError('VALIDATION_FAILED', {
        errors: [{ path: '/planId', code: 'NOT_FOUND', message: 'no such plan' }],
      });
    }
  };

  // Plans ------------------------------------------------------------------------------------

  app.get(
    '/v1/plans',
    {
      config: routeDoc({
        summary: 'List plans',
        tags: ['plans'],
        auth: 'admin',
        scopes: ['admin'],
        query: pageQuery,
        responses: {
          200: {
            description: 'A page of plans',
            schema: z.object({ plans: z.array(planSchema), nextCursor: z.string().nullable() }),
          },
        },
      }),
      onRequest: admin,
      preValidation: rampart.validate({ query: pageQuery }),
    },
    async (request) => {
      const q = request.query as z.infer<typeof pageQuery>;
      const page = await storage.plans.list({ limit: q.limit, ...(q.cursor ? { cursor: q.cursor } : {}) });
      return { plans: page.plans.map(planView), nextCursor: page.nextCursor };
    },
  );

  app.post(
    '/v1/plans',
    {
      config: routeDoc({
        summary: 'Create a plan',
        description: 'Named rate limits and credits that identities subscribe to.',
        tags: ['plans'],
        auth: 'admin',
        scopes: ['admin'],
        body: planBody,
        responses: { 201: { description: 'The plan', schema: planSchema } },
        errors: ['CONFLICT'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ body: planBody }),
    },
    async (request, reply) => {
      const body = request.body as z.infer<typeof planBody>;
      const at = now();
      const plan = planChange(
        await storage.plans.create({
          id: newId('pln'),
          name: body.name,
          rateLimits: (body.rateLimits ?? []).map(specOf),
          credits: body.credits ? creditsOf(body.credits) : null,
          metadata: body.metadata ?? {},
          createdAt: at,
          updatedAt: at,
        }),
      );
      rampart.event(request, {
        type: 'plan_created',
        outcome: 'success',
        actor: actorOf(request),
        detail: { planId: plan.id, name: plan.name },
      });
      return reply.code(201).send(planView(plan));
    },
  );

  app.get(
    '/v1/plans/:id',
    {
      config: routeDoc({
        summary: 'Show a plan',
        tags: ['plans'],
        auth: 'admin',
        scopes: ['admin'],
        params: idParams,
        responses: { 200: { description: 'The plan', schema: planSchema } },
        errors: ['NOT_FOUND'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: idParams }),
    },
    async (request) => {
      const plan = await planOf(idOf(request));
      if (plan === undefined) throw notFound('plan');
      return planView(plan);
    },
  );

  app.patch(
    '/v1/plans/:id',
    {
      config: routeDoc({
        summary: 'Change a plan',
        description: 'Reaches every identity on it at once (limits are read when they apply).',
        tags: ['plans'],
        auth: 'admin',
        scopes: ['admin'],
        params: idParams,
        body: planPatch,
        responses: { 200: { description: 'The plan after the change', schema: planSchema } },
        errors: ['NOT_FOUND', 'CONFLICT'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: idParams, body: planPatch }),
    },
    async (request) => {
      const id = idOf(request);
      if (!isId(id, 'pln')) throw notFound('plan');
      const body = request.body as z.infer<typeof planPatch>;
      const plan = planChange(
        await storage.plans.update(
          id,
          {
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.rateLimits !== undefined ? { rateLimits: body.rateLimits.map(specOf) } : {}),
            ...(body.credits !== undefined
              ? { credits: body.credits === null ? null : creditsOf(body.credits) }
              : {}),
            ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
          },
          now(),
        ),
      );
      await apiKeys.invalidateIdentity('*');
      rampart.event(request, {
        type: 'plan_updated',
        outcome: 'success',
        actor: actorOf(request),
        detail: { planId: plan.id, fields: Object.keys(body).sort() },
      });
      return planView(plan);
    },
  );

  app.delete(
    '/v1/plans/:id',
    {
      config: routeDoc({
        summary: 'Delete a plan',
        tags: ['plans'],
        auth: 'admin',
        scopes: ['admin'],
        params: idParams,
        responses: { 204: 'Deleted' },
        errors: ['NOT_FOUND', 'IN_USE'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: idParams }),
    },
    async (request, reply) => {
      const id = idOf(request);
      if (!isId(id, 'pln')) throw notFound('plan');
      const plan = planChange(await storage.plans.delete(id));
      rampart.event(request, {
        type: 'plan_deleted',
        outcome: 'success',
        actor: actorOf(request),
        detail: { planId: plan.id, name: plan.name },
      });
      return reply.code(204).send();
    },
  );

  // Identities -------------------------------------------------------------------------------

  app.get(
    '/v1/identities',
    {
      config: routeDoc({
        summary: 'List identities',
        tags: ['identities'],
        auth: 'admin',
        scopes: ['admin'],
        query: identityListQuery,
        responses: {
          200: {
            description: 'A page of identities',
            schema: z.object({ identities: z.array(identitySchema), nextCursor: z.string().nullable() }),
          },
        },
      }),
      onRequest: admin,
      preValidation: rampart.validate({ query: identityListQuery }),
    },
    async (request) => {
      const q = request.query as z.infer<typeof identityListQuery>;
      const page = await storage.identities.list({
        limit: q.limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(q.planId !== undefined ? { planId: q.planId === 'none' ? null : q.planId } : {}),
      });
      const plans = new Map<string, PlanRecord | undefined>();
      for (const identity of page.identities) {
        if (identity.planId !== null && !plans.has(identity.planId)) {
          plans.set(identity.planId, await storage.plans.get(identity.planId));
        }
      }
      return {
        identities: page.identities.map((i) => identityView(i, i.planId ? plans.get(i.planId) : undefined)),
        nextCursor: page.nextCursor,
      };
    },
  );

  app.post(
    '/v1/identities',
    {
      config: routeDoc({
        summary: 'Create an identity',
        description:
          'An owner of keys (a customer, a team) whose keys share its credits and rate limits. Without `credits`, the balance starts at the credits `amount` in force (overrides, else the plan), or none (unlimited).',
        tags: ['identities'],
        auth: 'admin',
        scopes: ['admin'],
        body: identityBody,
        responses: { 201: { description: 'The identity', schema: identitySchema } },
        errors: ['CONFLICT'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ body: identityBody }),
    },
    async (request, reply) => {
      const body = request.body as z.infer<typeof identityBody>;
      checkPlanId(body.planId);
      const at = now();
      const plan = await planOf(body.planId ?? null);
      const limits: PlanLimits = body.overrides ? overridesOf(body.overrides) : {};
      const start = effectiveLimits({ overrides: limits }, plan).credits;
      const credits =
        body.credits !== undefined
          ? body.credits === null
            ? null
            : {
                remaining: body.credits.remaining,
                ...(body.credits.refill
                  ? {
                      refill: {
                        amount: body.credits.refill.amount,
                        intervalMs: body.credits.refill.interval,
                        lastRefillAt: at,
                        ...(body.credits.refill.max !== undefined ? { max: body.credits.refill.max } : {}),
                      },
                    }
                  : {}),
              }
          : start === null
            ? null
            : {
                remaining: start.amount,
                ...(start.refill ? { refill: { ...start.refill, lastRefillAt: at } } : {}),
              };
      const identity = identityChange(
        await storage.identities.create({
          id: newId('idt'),
          externalId: body.externalId,
          name: body.name,
          metadata: body.metadata ?? {},
          planId: body.planId ?? null,
          overrides: limits,
          credits,
          createdAt: at,
          updatedAt: at,
        }),
      );
      rampart.event(request, {
        type: 'identity_created',
        outcome: 'success',
        actor: actorOf(request),
        detail: { identityId: identity.id, planId: identity.planId },
      });
      return reply.code(201).send(identityView(identity, plan));
    },
  );

  app.get(
    '/v1/identities/:id',
    {
      config: routeDoc({
        summary: 'Show an identity',
        description: 'With the limits in force (`effective`).',
        tags: ['identities'],
        auth: 'admin',
        scopes: ['admin'],
        params: idParams,
        responses: { 200: { description: 'The identity', schema: identitySchema } },
        errors: ['NOT_FOUND'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: idParams }),
    },
    async (request) => {
      const identity = await identityOf(idOf(request));
      return identityView(identity, await planOf(identity.planId));
    },
  );

  app.patch(
    '/v1/identities/:id',
    {
      config: routeDoc({
        summary: 'Change an identity',
        description:
          '`credits`: `null` removes them; `remaining` sets, `increment` adds (negative takes away, never below 0), `refill` sets or removes the rule. A credits change and concurrent spends all land (one transaction).',
        tags: ['identities'],
        auth: 'admin',
        scopes: ['admin'],
        params: idParams,
        body: identityPatch,
        responses: { 200: { description: 'The identity after the change', schema: identitySchema } },
        errors: ['NOT_FOUND', 'CONFLICT'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: idParams, body: identityPatch }),
    },
    async (request) => {
      const id = idOf(request);
      if (!isId(id, 'idt')) throw notFound('identity');
      const body = request.body as z.infer<typeof identityPatch>;
      checkPlanId(body.planId);
      const at = now();
      let credits: CreditsPatch | undefined;
      if (body.credits !== undefined) {
        const c = body.credits;
        credits = c === null ? null : creditsPatchOf(c, at);
      }
      const patch: IdentityPatch = {
        ...(body.externalId !== undefined ? { externalId: body.externalId } : {}),
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
        ...(body.planId !== undefined ? { planId: body.planId } : {}),
        ...(body.overrides !== undefined ? { overrides: overridesOf(body.overrides) } : {}),
        ...(credits !== undefined ? { credits } : {}),
      };
      const identity = identityChange(await storage.identities.update(id, patch, at));
      await apiKeys.invalidateIdentity(id);
      rampart.event(request, {
        type: 'identity_updated',
        outcome: 'success',
        actor: actorOf(request),
        detail: { identityId: id, fields: Object.keys(body).sort() },
      });
      return identityView(identity, await planOf(identity.planId));
    },
  );

  app.delete(
    '/v1/identities/:id',
    {
      config: routeDoc({
        summary: 'Delete an identity',
        description: 'Refused (IN_USE) while a key of the identity is live.',
        tags: ['identities'],
        auth: 'admin',
        scopes: ['admin'],
        params: idParams,
        responses: { 204: 'Deleted' },
        errors: ['NOT_FOUND', 'IN_USE'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: idParams }),
    },
    async (request, reply) => {
      const id = idOf(request);
      if (!isId(id, 'idt')) throw notFound('identity');
      identityChange(await storage.identities.delete(id, now()));
      await apiKeys.invalidateIdentity(id);
      rampart.event(request, {
        type: 'identity_deleted',
        outcome: 'success',
        actor: actorOf(request),
        detail: { identityId: id },
      });
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/identities/:id/keys',
    {
      config: routeDoc({
        summary: "An identity's keys",
        tags: ['identities', 'keys'],
        auth: 'admin',
        scopes: ['admin'],
        params: idParams,
        query: pageQuery,
        responses: {
          200: {
            description: 'A page of keys',
            schema: z.object({ keys: z.array(keyViewSchema), nextCursor: z.string().nullable() }),
          },
        },
        errors: ['NOT_FOUND'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: idParams, query: pageQuery }),
    },
    async (request) => {
      const identity = await identityOf(idOf(request));
      const q = request.query as z.infer<typeof pageQuery>;
      const page = await storage.apiKeys.list({
        identityId: identity.id,
        limit: q.limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      const at = now();
      return { keys: page.keys.map((k) => keyView(k, at)), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/identities/:id/usage',
    {
      config: routeDoc({
        summary: "An identity's verifications by outcome, in time buckets",
        description: `Every key of the identity, summed. At most ${USAGE_RANGE_DOC}.`,
        tags: ['identities', 'usage'],
        auth: 'admin',
        scopes: ['admin'],
        params: idParams,
        query: usageQuery,
        responses: { 200: { description: 'The buckets, oldest first, and their sums', schema: usageSchema } },
        errors: ['NOT_FOUND'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: idParams, query: usageQuery }),
    },
    async (request) => {
      const identity = await identityOf(idOf(request));
      return readUsage(ctx, { identityId: identity.id }, request.query as z.infer<typeof usageQuery>);
    },
  );
}
