import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import type { AuditEvent } from '../../storage/types.ts';
import { authenticate, validateRequest } from '../guard.ts';
import type { Services } from '../services.ts';

/**
 * The server's Prometheus metrics, on a registry of their own (never prom-client's global
 * one, so two servers in one process, or an embedding application, never share counters).
 * Labels are bounded: routes are the route patterns (`/v1/keys/:id`), never raw URLs.
 */
export interface Metrics {
  readonly registry: Registry;
  /** `rampart_http_requests_total{method,route,status}`. */
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  /** `rampart_http_request_duration_seconds{method,route}`. */
  readonly httpDuration: Histogram<'method' | 'route'>;
  /** `rampart_authentications_total{credential,outcome,reason}`: credential `bearer`/`api_key`, outcome `success`/`failure`. */
  readonly authentications: Counter<'credential' | 'outcome' | 'reason'>;
  /** `rampart_rate_limit_refusals_total{rule}`: increment it wherever a request is refused with 429. */
  readonly rateLimitRefusals: Counter<'rule'>;
  /** `rampart_api_key_verifications_total{code}`: one per verification, by its code (`VALID`, `REVOKED`, …). */
  readonly keyVerifications: Counter<'code'>;
}

export interface MetricsOptions {
  /** Also collect Node's process metrics (CPU, memory, event-loop lag, GC). Default true. */
  processMetrics?: boolean;
}

/**
 * Creates the metrics of one server.
 *
 * @example
 * const metrics = createMetrics();
 * metrics.rateLimitRefusals.inc({ rule: 'default' });
 * reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'rampart_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'rampart_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'rampart_http_request_duration_seconds',
      help: 'Time from the request arriving to the response being sent, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    authentications: new Counter({
      name: 'rampart_authentications_total',
      help: 'Credentials presented, by kind (bearer, api_key), outcome (success, failure) and refusal reason.',
      labelNames: ['credential', 'outcome', 'reason'],
      registers,
    }),
    rateLimitRefusals: new Counter({
      name: 'rampart_rate_limit_refusals_total',
      help: 'Requests refused with 429 by a rate-limit rule.',
      labelNames: ['rule'],
      registers,
    }),
    keyVerifications: new Counter({
      name: 'rampart_api_key_verifications_total',
      help: 'API key verifications by code (VALID, NOT_FOUND, EXPIRED, REVOKED, INSUFFICIENT_SCOPE, RATE_LIMITED, USAGE_EXCEEDED).',
      labelNames: ['code'],
      registers,
    }),
  };
}

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
 * The admin plane: `GET /v1/audit` (admin or `audit:read`) and `GET /metrics` (admin), and
 * the `onResponse` hook that counts every request into the metrics.
 */
export function adminRoutes(app: FastifyInstance, ctx: Services): void {
  const { metrics, storage } = ctx;

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    if (request.principal) {
      metrics.authentications.inc({
        credential: request.principal.kind === 'user' ? 'bearer' : 'api_key',
        outcome: 'success',
        reason: 'none',
      });
    }
  });

  app.get(
    '/v1/audit',
    {
      // Authenticated before the query is even validated: a caller without the right learns nothing.
      onRequest: authenticate(ctx, { scopes: ['audit:read'] }),
      preValidation: validateRequest(ctx, { query: auditQuery }),
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

  app.get('/metrics', { onRequest: authenticate(ctx, { scopes: ['admin'] }) }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
