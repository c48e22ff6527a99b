/**
 * The HTTP shell of `rampart serve`: Fastify with tight server timeouts, the server's own
 * request ids, one JSON log line per request, metrics, health and readiness, and the engine on
 * the Fastify adapter for everything the policy decides (security headers, request hygiene,
 * CORS, JSON bodies, limits, problem+json for every answer). The order of the `onRequest`
 * hooks is the order of the request's checks: headers first (every answer carries them), then
 * the address limit (so a refused method or a preflight still counts), then hygiene, then CORS.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Writable } from 'node:stream';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { pino } from 'pino';
import type { Decision, Rampart, RateLimitRule, Step } from 'rampart';
import { frameworkErrors, rampartPlugin } from 'rampart/fastify';
import { newId } from 'rampart/internal/lib/ids.ts';
import { z } from 'zod';
import type { ServerConfig } from './config.ts';
import { type LineSink, type LogFormat, prettySink } from './log-format.ts';
import type { Metrics } from './metrics.ts';
import { collectRoutes, routeDoc } from './openapi.ts';
import { redactUrl, requestLine } from './request-log.ts';

const readySchema = z.object({
  status: z.enum(['ready', 'unavailable']),
  checks: z.record(z.string(), z.enum(['ok', 'down'])),
});

/** A readiness check; it rejects while its dependency is down. */
export interface Readiness {
  name: string;
  check: () => Promise<void>;
}

/**
 * stdout written asynchronously: while one write is in flight the next lines gather and go
 * out together, so under load a write carries many lines instead of one syscall per request,
 * and when idle each line goes out at once. `flushLog()` empties it on stop.
 */
const stdoutLog = pino.destination({ dest: 1, sync: false, minLength: 0 });

/**
 * Where the log goes in this format: stdout as it is (JSON), or through the pretty formatter.
 * Anything else written to stdout (the banner) goes through `writeOut`, in order with the log.
 */
export function logDestination(format: LogFormat, color: boolean): LineSink {
  return format === 'pretty' ? prettySink(stdoutLog, color) : stdoutLog;
}

/** Writes text to stdout in order with the (asynchronously written) log lines. */
export function writeOut(text: string): void {
  stdoutLog.write(text);
}

/** Writes out buffered log lines (graceful stop). */
export function flushLog(): void {
  try {
    stdoutLog.flushSync();
  } catch {
    // Nothing buffered, or stdout is gone: nothing to save.
  }
}

export interface AppOptions {
  config: ServerConfig;
  rampart: Rampart;
  /**
   * The address-keyed and body-keyed limit rules (the identity-keyed ones run after
   * authentication), and the operational routes' own rules, each instead of `byAddress`.
   */
  limits: {
    byAddress: RateLimitRule[];
    byBody: RateLimitRule[];
    operational: ReadonlyArray<{ routes: readonly string[]; rule: RateLimitRule }>;
  };
  metrics: Metrics;
  readiness: Readiness[];
  /** Where JSON log lines go; stdout by default. */
  logStream?: Writable | LineSink;
}

/** A client's own request id, kept as a separate correlation field when it is well formed. */
const CORRELATION_ID = /^[A-Za-z0-9._:-]{8,128}$/;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `false`: the address limit does not count this route's requests. For the console's
     * static files, and for its relay, whose inner request to the API route counts instead
     * (so a console call counts once, as the same call with curl would).
     */
    addressLimit?: boolean;
  }
  interface FastifyRequest {
    /** A well-formed `X-Request-Id` the client sent: logged beside the server's own id, never as it. */
    correlationId: string | undefined;
  }
}

/** Builds the shell; routes are added by the caller. */
export async function createApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, rampart, limits, metrics } = options;
  const https = config.tls !== undefined;
  const serverOptions = {
    headersTimeout: config.limits.headersTimeoutMs,
    requestTimeout: config.limits.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    // How often Node checks the two timeouts above; its default (30 s) would let a
    // slow-headers client hold a socket far longer than headersTimeout says.
    connectionsCheckingInterval: Math.max(
      250,
      Math.min(1_000, Math.floor(config.limits.headersTimeoutMs / 2)),
    ),
    maxHeaderSize: 16 * 1024,
    requireHostHeader: true,
  };

  // One limiter for the address rules: the hook below and Fastify's own early errors share it.
  const addressLimit = rampart.rateLimit(limits.byAddress);
  const logStream = options.logStream ?? stdoutLog;
  const app = Fastify({
    // Request log lines carry no headers or bodies at all (credential-shaped text in the URL is
    // redacted in onResponse), so there is nothing left for pino to censor per line.
    logger: { level: config.logLevel, stream: logStream },
    logController: new LogController({ disableRequestLogging: true }),
    // The server's own id, always: a client-chosen id must not become the name of the
    // request in logs and audit (it is kept as `correlationId` instead).
    genReqId: () => newId('req'),
    requestIdHeader: false,
    bodyLimit: config.limits.bodyBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Errors Fastify answers before any hook (a malformed percent-encoding in the path) go
    // through the engine's problem+json with the security headers too.
    frameworkErrors: frameworkErrors(rampart, { limit: addressLimit }),
    // Only read by Fastify to say "https://" in its listening line; serverFactory builds the server.
    ...(https ? { https: { cert: config.tls!.cert, key: config.tls!.key } } : {}),
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
      https
        ? createHttpsServer(
            { ...serverOptions, cert: config.tls!.cert, key: config.tls!.key, minVersion: 'TLSv1.2' },
            handler,
          )
        : createHttpServer(serverOptions, handler),
  }) as unknown as FastifyInstance;

  // The request id first, so that every answer carries it, a refusal of the hooks below too.
  app.decorateRequest('correlationId', undefined);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    const inbound = request.headers['x-request-id'];
    if (typeof inbound === 'string' && CORRELATION_ID.test(inbound)) request.correlationId = inbound;
    done();
  });
  // Health, JWKS and metrics have limits of their own, so that a load balancer, the resource
  // servers fetching keys and the scraper neither spend nor are refused by the API's budget.
  const operational = new Map<string, Step<Decision>>();
  for (const { routes, rule } of limits.operational) {
    const step = rampart.rateLimit(rule);
    for (const route of routes) operational.set(route, step);
  }
  // Routes whose inner calls count instead (the console's pages and relay), by `METHOD url`.
  const uncounted = new Set<string>();
  app.addHook('onRoute', (route) => {
    if (route.config?.addressLimit !== false) return;
    for (const method of [route.method].flat()) uncounted.add(`${method} ${route.url}`);
  });
  // One onRequest hook for the policy: headers, the address limit, hygiene, CORS.
  await app.register(rampartPlugin, {
    policy: rampart,
    requestId: true,
    securityHeaders: true,
    cors: true,
    screen: true,
    jsonOnly: true,
    limitFor: (request) => {
      const route = app.rampart.view(request).route;
      if (route === undefined) return addressLimit;
      return (
        operational.get(route) ?? (uncounted.has(`${request.method} ${route}`) ? undefined : addressLimit)
      );
    },
  });
  // Every route from here on is collected for the OpenAPI document (GET /openapi.json).
  collectRoutes(app);

  if (limits.byBody.length > 0) {
    const byBody = app.rampart.rateLimit(limits.byBody);
    app.addHook('preValidation', (request, reply, done) => {
      // A body rule is keyed by a body field: a request without a body has nothing to count.
      const route = app.rampart.view(request).route;
      if (request.body === undefined || (route !== undefined && operational.has(route))) return done();
      byBody(request, reply).then(() => {
        if (!reply.sent) done();
      }, done);
    });
  }

  // The request line goes where pino writes, in order with its lines (see `requestLine`).
  const logRequests = ['info', 'debug', 'trace'].includes(config.logLevel);
  app.addHook('onResponse', (request, reply, done) => {
    const view = app.rampart.view(request);
    const route = view.route ?? 'unmatched';
    const status = reply.statusCode;
    if (logRequests) {
      logStream.write(
        requestLine({
          reqId: request.id,
          method: request.method,
          url: redactUrl(request.url),
          route: view.route,
          status,
          ms: Math.round(reply.elapsedTime * 100) / 100,
          ip: rampart.clientIp(view),
          ua: request.headers['user-agent'],
          correlationId: request.correlationId,
        }),
      );
    }
    metrics.observeRequest(request.method, route, status, reply.elapsedTime / 1000);
    if (request.principal) {
      metrics.authentications.inc({
        credential: request.principal.kind === 'user' ? 'bearer' : 'api_key',
        outcome: 'success',
        reason: 'none',
      });
    }
    done();
  });

  app.get(
    '/healthz',
    {
      config: routeDoc({
        summary: 'Liveness',
        tags: ['operations'],
        responses: {
          200: { description: 'The process runs', schema: z.object({ status: z.literal('ok') }) },
        },
      }),
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      config: routeDoc({
        summary: 'Readiness',
        tags: ['operations'],
        responses: {
          200: { description: 'Storage (and Redis) answer', schema: readySchema },
          503: { description: 'A dependency is down', schema: readySchema },
        },
      }),
    },
    async (_request, reply) => {
      const checks: Record<string, 'ok' | 'down'> = {};
      await Promise.all(
        options.readiness.map(async ({ name, check }) => {
          try {
            await withTimeout(check(), 1_000);
            checks[name] = 'ok';
          } catch {
            checks[name] = 'down';
          }
        }),
      );
      const ready = Object.values(checks).every((s) => s === 'ok');
      if (!ready) reply.code(503).header('retry-after', '5');
      return { status: ready ? 'ready' : 'unavailable', checks };
    },
  );

  return app;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
