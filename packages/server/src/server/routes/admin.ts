import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditEvent } from '../../storage/types.ts';
import type { Services } from '../services.ts';

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

  app.get('/metrics', { onRequest: ctx.protect({ scopes: ['admin'] }) }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  app.get('/v1/admin/rate-limits', { preHandler: ctx.protect({ roles: ['admin'] }) }, async () => ({
    store: ctx.config.redisUrl ? 'redis' : 'memory',
    storeState: rampart.policy.limits.state,
    blocked: rampart.policy.limits.blocked(),
  }));
}
