import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Writable } from 'node:stream';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { pino } from 'pino';
import type { AuditRecorder, SecurityEventInput } from 'rampart/internal/audit/index.ts';
import { RampartError } from 'rampart/internal/errors.ts';
import { createClientIpResolver } from 'rampart/internal/http/client-ip.ts';
import { createCors } from 'rampart/internal/http/cors.ts';
import { parseJsonBody } from 'rampart/internal/http/json-body.ts';
import { PROBLEM_CONTENT_TYPE, problemAnswer, toRampartError } from 'rampart/internal/http/problem.ts';
import { securityHeaders } from 'rampart/internal/http/security-headers.ts';
import { newId } from 'rampart/internal/lib/ids.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { Storage } from '../storage/types.ts';
import type { ServerConfig } from './config.ts';
import { redactUrl } from './request-log.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The client address after the trusted-proxy walk (http/client-ip.ts). */
    clientIp: string;
  }
}

/** What the routes share: configuration, storage, the event recorder and the clock. */
export interface ServerContext {
  config: ServerConfig;
  storage: Storage;
  audit: AuditRecorder;
  now: Clock;
  /** Extra readiness checks (Redis when configured); each rejects when its dependency is down. */
  readiness: Array<{ name: string; check: () => Promise<void> }>;
}

/**
 * stdout written asynchronously: while one write is in flight the next lines gather and go
 * out together, so under load a write carries many lines instead of one syscall per request,
 * and when idle each line goes out at once. `flushLog()` empties it on stop.
 */
const stdoutLog = pino.destination({ dest: 1, sync: false, minLength: 0 });

/** Writes out buffered log lines (graceful stop). */
export function flushLog(): void {
  try {
    stdoutLog.flushSync();
  } catch {
    // Nothing buffered, or stdout is gone: nothing to save.
  }
}

export interface AppOptions {
  context: ServerContext;
  /** Where JSON log lines go; stdout by default. */
  logStream?: Writable;
}

/** Methods any route can have; anything else (TRACE, CONNECT, made-up verbs) is refused. */
const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** A well-formed inbound request id is kept (so traces join up); anything else is replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Builds Rampart's HTTP shell on Fastify: request ids, the JSON request log, security
 * headers on every response, CORS from an exact allow-list, the client-IP walk, strict JSON
 * bodies, problem+json for every error, and tight timeouts. Routes are added by the caller.
 */
export function createApp({ context, logStream }: AppOptions): FastifyInstance {
  const { config } = context;
  const https = config.tls !== undefined;
  const headers = securityHeaders({ https });
  const cors = createCors({ ...config.cors });
  const clientIp = createClientIpResolver({ trustProxy: config.trustProxy, header: config.clientIpHeader });

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

  const app = Fastify({
    // Request log lines carry no headers or bodies at all (secret-looking query values are
    // redacted in onResponse), so there is nothing left for pino to censor per line.
    logger: { level: config.logLevel, stream: logStream ?? stdoutLog },
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => {
      const inbound = req.headers['x-request-id'];
      return typeof inbound === 'string' && REQUEST_ID.test(inbound) ? inbound : newId('req');
    },
    requestIdHeader: false,
    bodyLimit: config.limits.bodyBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
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

  app.decorateRequest('clientIp', '');

  app.addHook('onRequest', async (request, reply) => {
    request.clientIp = clientIp(request.socket.remoteAddress ?? '', (name) => request.headers[name]);
    reply.headers(headers);
    reply.header('x-request-id', request.id);
    if (!(KNOWN_METHODS as readonly string[]).includes(request.method)) {
      throw new RampartError('METHOD_NOT_ALLOWED', { headers: { allow: allowedMethods(app, request.url) } });
    }
    const origin = request.headers.origin;
    const decision = cors.decide({
      method: request.method,
      origin,
      accessControlRequestMethod: single(request.headers['access-control-request-method']),
      accessControlRequestHeaders: single(request.headers['access-control-request-headers']),
    });
    reply.headers(decision.headers);
    if (decision.preflight) {
      // A preflight is answered here, allowed or not; a refused one simply carries no CORS
      // headers, which is how a browser learns "no".
      return reply.code(204).send();
    }
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8') {
      done(new RampartError('UNSUPPORTED_MEDIA_TYPE', { detail: 'JSON bodies must be UTF-8.' }), undefined);
      return;
    }
    try {
      done(null, parseJsonBody(body as Buffer, { maxDepth: config.limits.jsonDepth }));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.addHook('preValidation', async (request) => {
    // A state-changing request with a body must say it is JSON (the content-type parser
    // refuses every other type); a GET with a body is refused rather than half-read.
    if (
      !STATE_CHANGING.has(request.method) &&
      request.headers['content-length'] &&
      request.headers['content-length'] !== '0'
    ) {
      throw new RampartError('BAD_REQUEST', { detail: 'This method takes no body.' });
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: redactUrl(request.url),
        route: request.routeOptions.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        ip: request.clientIp,
        ua: request.headers['user-agent'],
      },
      'request',
    );
  });

  app.setErrorHandler(async (error: FastifyError | RampartError, request, reply) => {
    const rampartError = fromFastifyError(error);
    if (rampartError.code === 'STORE_UNAVAILABLE') {
      // Expected while a database or Redis is down: one line, not a stack per request.
      const cause = (rampartError.cause as Error | undefined)?.message;
      request.log.warn(
        { err: { code: rampartError.code, ...(cause ? { cause } : {}) } },
        'store unavailable',
      );
    } else if (rampartError.status >= 500) {
      request.log.error(
        {
          err: {
            type: (error as Error).name,
            message: (error as Error).message,
            stack: (error as Error).stack,
          },
        },
        'unhandled error',
      );
    }
    return sendProblem(reply, rampartError, request);
  });

  app.setNotFoundHandler(async (request, reply) => {
    const allow = allowedMethods(app, request.url);
    const error = allow
      ? new RampartError('METHOD_NOT_ALLOWED', { headers: { allow } })
      : new RampartError('NOT_FOUND', { detail: 'No route matches this method and path.' });
    return sendProblem(reply, error, request);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const checks: Record<string, 'ok' | 'down'> = {};
    const all = [{ name: 'storage', check: async () => context.storage.ping() }, ...context.readiness];
    await Promise.all(
      all.map(async ({ name, check }) => {
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
  });

  return app;
}

/** Writes a problem+json answer. Security headers were set in onRequest; set again for safety. */
export function sendProblem(reply: FastifyReply, error: RampartError, request: FastifyRequest): FastifyReply {
  const answer = problemAnswer(error, request.id);
  return reply.code(answer.status).headers(answer.headers).type(PROBLEM_CONTENT_TYPE).send(answer.body);
}

/** Records a security event with the request's id and client address filled in. */
export function eventFor(
  request: FastifyRequest,
  event: Omit<SecurityEventInput, 'ip' | 'requestId'>,
): SecurityEventInput {
  return { ...event, ip: request.clientIp, requestId: request.id };
}

const FASTIFY_CODES: Record<string, RampartError['code']> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
};

function fromFastifyError(error: FastifyError | RampartError): RampartError {
  if (error instanceof RampartError) return error;
  const code = typeof error.code === 'string' ? FASTIFY_CODES[error.code] : undefined;
  if (code) return new RampartError(code);
  return toRampartError(error);
}

function allowedMethods(app: FastifyInstance, url: string): string {
  const path = url.split('?', 1)[0]!;
  return KNOWN_METHODS.filter(
    (method) => method !== 'OPTIONS' && app.findRoute({ method, url: path }) !== null,
  ).join(', ');
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
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
