import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RampartError } from 'rampart/internal/errors.ts';
import { isId } from 'rampart/internal/lib/ids.ts';
import { z } from 'zod';
import type { AuditEvent } from '../../storage/types.ts';
import type { StoredAddressEntry } from '../address-lists.ts';
import type { RateRuleConfig } from '../config.ts';
import { routeDoc } from '../openapi.ts';
import type { Services } from '../services.ts';
import { principalOf } from './auth.ts';
import { instant as bodyInstant, iso } from './keys.ts';

const EPOCH_MS = /^\d{1,16}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** An instant in a query string: epoch milliseconds or an ISO 8601 date/time. */
const instant = z
  .string()
  .max(40)
  .transform((text, ctx) => {
    const ms = EPOCH_MS.test(text) ? Number(text) : ISO_DATE.test(text) ? Date.parse(text) : Number.NaN;
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: 'expected epoch milliseconds or an ISO 8601 date-time' });
      return z.NEVER;
    }
    return ms;
  });

const auditQuery = z.strictObject({
  type: z
    .string()
    .regex(/^[a-z][a-z_]{0,63}$/)
    .optional(),
  since: instant.optional(),
  until: instant.optional(),
  actor: z.string().min(1).max(128).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(200).optional(),
});

/** An event as the API shows it: times as ISO 8601. */
export function eventView(event: AuditEvent) {
  return { ...event, at: new Date(event.at).toISOString() };
}

/**
 * The admin plane: `GET /v1/audit` (admin or `audit:read`), `GET /metrics` (admin) and
 * `GET /v1/admin/rate-limits` (admin: the refused keys per rule, the tutorial's `blocked:<ip>`).
 */
export function adminRoutes(app: FastifyInstance, ctx: Services): void {
  const { metrics, storage } = ctx;
  const { rampart } = app;

  app.get(
    '/v1/audit',
    {
      config: routeDoc({
        summary: 'The audit trail',
        description: 'Security events newest first, filtered by type, time, actor; paginated with cursor.',
        tags: ['audit'],
        auth: 'admin',
        scopes: ['audit:read'],
        query: auditQuery,
        responses: {
          200: {
            description: 'A page of events',
            schema: z.object({
              events: z.array(z.record(z.string(), z.unknown())),
              nextCursor: z.string().nullable(),
            }),
          },
        },
      }),
      // Authenticated before the query is even validated: a caller without the right learns nothing.
      onRequest: ctx.protect({ scopes: ['audit:read'] }),
      preValidation: rampart.validate({ query: auditQuery }),
    },
    async (request) => {
      const q = request.query as z.infer<typeof auditQuery>;
      const page = await storage.audit.list({
        limit: q.limit,
        ...(q.type !== undefined ? { type: q.type as AuditEvent['type'] } : {}),
        ...(q.since !== undefined ? { since: q.since } : {}),
        ...(q.until !== undefined ? { until: q.until } : {}),
        ...(q.actor !== undefined ? { actor: q.actor } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      });
      return { events: page.events.map(eventView), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/metrics',
    {
      config: routeDoc({
        summary: 'Prometheus metrics',
        tags: ['operations'],
        auth: 'admin',
        scopes: ['admin'],
        responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' } },
      }),
      onRequest: ctx.protect({ scopes: ['admin'] }),
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );

  rateLimitRoutes(app, ctx);
}

const blockParams = z.strictObject({ rule: z.string().min(1).max(64), key: z.string().min(1).max(200) });
const listParams = z.strictObject({ id: z.string().max(64) });
const routesField = z.union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).min(1).max(32)]);
const listEntryBody = z.strictObject({
  list: z.enum(['allow', 'deny']),
  /** An address or a network: `203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`. */
  cidr: z.string().min(1).max(64),
  /** The routes it applies to (`"POST /v1/auth/login"`, `"/v1/*"`); default every route. */
  routes: routesField.optional(),
  note: z.string().max(200).optional(),
  /** When the entry stops applying (a ban with an end); default never. */
  expiresAt: bodyInstant.optional(),
});
const entrySchema = z.object({
  id: z.string(),
  list: z.enum(['allow', 'deny']),
  cidr: z.string(),
  routes: routesField.optional(),
  note: z.string().optional(),
  expiresAt: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
});

function entryView(entry: StoredAddressEntry) {
  return {
    id: entry.id,
    list: entry.list,
    cidr: entry.cidr,
    ...(entry.routes !== undefined ? { routes: entry.routes } : {}),
    ...(entry.note !== undefined ? { note: entry.note } : {}),
    expiresAt: iso(entry.expiresAt ?? null),
    createdAt: new Date(entry.createdAt).toISOString(),
    createdBy: entry.createdBy,
  };
}

/**
 * `/v1/admin/rate-limits`: the limits in force, the keys refused lately (with their ban), and
 * the operations on them: lifting a block, and the dynamic allow and deny lists (stored, so a
 * block survives a restart and reaches every instance; see address-lists.ts). Admin only;
 * every change is an audit event.
 */
function rateLimitRoutes(app: FastifyInstance, ctx: Services): void {
  const { rampart } = app;
  const admin = ctx.protect({ scopes: ['admin'] });
  const actorOf = (request: FastifyRequest) => {
    const p = principalOf(request);
    return p.userId ?? p.keyId ?? undefined;
  };
  const ruleView = (r: RateRuleConfig) => ({
    name: r.name,
    route: r.route ?? null,
    key: r.key,
    limit: r.limit,
    windowMs: r.windowMs,
    algorithm: r.algorithm,
    onStoreError: r.onStoreError,
    blockForMs: r.blockForMs ?? null,
  });

  app.get(
    '/v1/admin/rate-limits',
    {
      config: routeDoc({
        summary: 'The rate limits, refused keys and address lists',
        description:
          '`blocked` lists the keys this instance refused lately (epoch ms; `expiresAt`: when the counter, or the ban of a rule with blockFor, ends); a block lives in the shared store, so lifting it on one instance lifts it everywhere.',
        tags: ['rate-limits'],
        auth: 'admin',
        scopes: ['admin'],
        responses: { 200: { description: 'The state', schema: z.record(z.string(), z.unknown()) } },
      }),
      preHandler: admin,
    },
    async () => {
      const lists = rampart.policy.limits.addresses.entries(ctx.now());
      return {
        store: ctx.config.redisUrl ? 'redis' : 'memory',
        storeState: rampart.policy.limits.state,
        rules: [ctx.config.rateLimit.default, ...ctx.config.rateLimit.rules].map(ruleView),
        costs: ctx.config.rateLimit.costs,
        // As before the admin plane grew: times in epoch ms.
        blocked: rampart.policy.limits.blocked(),
        lists: {
          allow: lists.allow,
          deny: lists.deny,
          restrict: lists.restrict,
          dynamic: ctx.addressLists.list().map(entryView),
        },
      };
    },
  );

  app.delete(
    '/v1/admin/rate-limits/blocks/:rule/:key',
    {
      config: routeDoc({
        summary: 'Lift a block',
        description:
          'Forgets the counter (and the blockFor ban) of one key under one rule, as `blocked` lists them; percent-encode the key (`2001%3Adb8%3A%3A%2F64`). The next request passes.',
        tags: ['rate-limits'],
        auth: 'admin',
        scopes: ['admin'],
        params: blockParams,
        responses: { 204: 'Lifted' },
        errors: ['NOT_FOUND'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: blockParams }),
    },
    async (request, reply) => {
      const { rule, key } = request.params as z.infer<typeof blockParams>;
      if (!(await rampart.policy.limits.unblock(rule, key))) {
        throw new RampartError('NOT_FOUND', { detail: 'No limit has this rule name.' });
      }
      rampart.event(request, {
        type: 'block_lifted',
        outcome: 'success',
        actor: actorOf(request),
        // 'bucket', not 'key': the audit scrubber blanks fields named like secrets.
        detail: { rule, bucket: key },
      });
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/admin/rate-limits/lists',
    {
      config: routeDoc({
        summary: 'The dynamic allow and deny entries',
        tags: ['rate-limits'],
        auth: 'admin',
        scopes: ['admin'],
        responses: {
          200: { description: 'The live entries', schema: z.object({ entries: z.array(entrySchema) }) },
        },
      }),
      onRequest: admin,
    },
    async () => ({ entries: ctx.addressLists.list().map(entryView) }),
  );

  app.post(
    '/v1/admin/rate-limits/lists',
    {
      config: routeDoc({
        summary: 'Add an allow or deny entry',
        description:
          'An allow-listed address is never counted nor refused by a limit; a denied one gets 403 ADDRESS_DENIED (deny outranks allow). Applies on every instance within a second (Redis) or 15 s.',
        tags: ['rate-limits'],
        auth: 'admin',
        scopes: ['admin'],
        body: listEntryBody,
        responses: { 201: { description: 'The entry', schema: entrySchema } },
      }),
      onRequest: admin,
      preValidation: rampart.validate({ body: listEntryBody }),
    },
    async (request, reply) => {
      const body = request.body as z.infer<typeof listEntryBody>;
      if (body.expiresAt !== undefined && body.expiresAt <= ctx.now()) {
        throw new RampartError('VALIDATION_FAILED', {
          errors: [{ path: '/expiresAt', code: 'OUT_OF_RANGE', message: 'must be in the future' }],
        });
      }
      let entry: StoredAddressEntry;
      try {
        entry = await ctx.addressLists.add({
          list: body.list,
          cidr: body.cidr,
          ...(body.routes !== undefined ? { routes: body.routes } : {}),
          ...(body.note !== undefined ? { note: body.note } : {}),
          ...(body.expiresAt !== undefined ? { expiresAt: body.expiresAt } : {}),
          createdBy: actorOf(request) ?? null,
        });
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
        const field = /\.routes|^routes/.test(error.message) ? '/routes' : '/cidr';
        throw new RampartError('VALIDATION_FAILED', {
          errors: [{ path: field, code: 'INVALID_FORMAT', message: error.message.replace(/^[^:]*: /, '') }],
        });
      }
      rampart.event(request, {
        type: 'address_list_changed',
        outcome: 'success',
        actor: actorOf(request),
        detail: { action: 'add', entryId: entry.id, list: entry.list, cidr: entry.cidr },
      });
      return reply.code(201).send(entryView(entry));
    },
  );

  app.delete(
    '/v1/admin/rate-limits/lists/:id',
    {
      config: routeDoc({
        summary: 'Remove an allow or deny entry',
        tags: ['rate-limits'],
        auth: 'admin',
        scopes: ['admin'],
        params: listParams,
        responses: { 204: 'Removed' },
        errors: ['NOT_FOUND'],
      }),
      onRequest: admin,
      preValidation: rampart.validate({ params: listParams }),
    },
    async (request, reply) => {
      const { id } = request.params as z.infer<typeof listParams>;
      const removed = isId(id, 'acl') ? await ctx.addressLists.remove(id) : undefined;
      if (removed === undefined) throw new RampartError('NOT_FOUND', { detail: 'No such entry.' });
      rampart.event(request, {
        type: 'address_list_changed',
        outcome: 'success',
        actor: actorOf(request),
        detail: { action: 'remove', entryId: id, list: removed.list, cidr: removed.cidr },
      });
      return reply.code(204).send();
    },
  );
}
