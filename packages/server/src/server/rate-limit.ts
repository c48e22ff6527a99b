import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { AuditRecorder } from 'rampart/internal/audit/index.ts';
import { RampartError } from 'rampart/internal/errors.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import {
  type BlockedStat,
  createRateLimiter,
  type RateLimiter,
  type RateLimitResult,
} from 'rampart/internal/rate-limit/limiter.ts';
import { memoryRateLimitStore } from 'rampart/internal/rate-limit/memory-store.ts';
import { redisClientOptions, redisRateLimitStore } from 'rampart/internal/rate-limit/redis-store.ts';
import {
  bodyEmailKey,
  defaultRateLimitRules,
  type RateLimitRequest,
  type RateLimitRuleOptions,
} from 'rampart/internal/rate-limit/rules.ts';
import type { RateLimitStore } from 'rampart/internal/rate-limit/store.ts';
import type { ServerConfig } from './config.ts';
import { authenticate } from './guard.ts';
import type { Services } from './services.ts';

/**
 * The server's rate limiting, in three places of the request's life so that each rule runs as
 * early as its key allows and a refused request never reaches its handler:
 * - `onRequest`: rules keyed by client IP, before the body is even read;
 * - `preValidation`: rules keyed by a body field (the email of a password reset);
 * - after authentication: rules keyed by user or API key (`checkIdentity`).
 * Failure-counting rules (failed logins, invented tokens and keys) are asked before any
 * expensive verification (`isBlocked`) and fed by `recordFailure`.
 */
export interface ServerRateLimits {
  /** Adds the IP and body checks to the server's hooks (after the client IP is known). */
  install(app: FastifyInstance): void;
  /** Rules keyed by user or key, checked once the caller is known; throws 429 when refused. */
  checkIdentity(
    request: FastifyRequest,
    reply: FastifyReply,
    identity: { userId?: string | undefined; apiKeyId?: string | undefined },
  ): Promise<void>;
  /** Throws 429 when this client or account has failed to log in too often: before any hashing. */
  loginGate(request: FastifyRequest, reply: FastifyReply, body: unknown): Promise<void>;
  recordLoginFailure(request: FastifyRequest, body: unknown): void;
  /** For the authenticator: has this address presented too many bad tokens or keys? */
  authBlocked(ip: string): Promise<boolean>;
  recordAuthFailure(ip: string): void;
  blockedStats(): BlockedStat[];
  /** `'down'` while the shared store is unreachable and rules follow their failure policy. */
  readonly storeState: 'up' | 'down';
  close(): Promise<void>;
  readonly redis: Redis | undefined;
}

/** Routes a load balancer probes: never limited. */
const UNLIMITED = new Set(['/healthz', '/readyz']);

/** The rules of the configuration, in the limiter's terms. */
export function configuredRules(config: ServerConfig): RateLimitRuleOptions[] {
  const configured = config.rateLimit.rules.map((r) => ({
    name: r.name,
    limit: r.limit,
    window: r.windowMs,
    algorithm: r.algorithm,
    onStoreError: r.onStoreError,
    ...(r.route ? { routes: r.route } : {}),
    key: r.key === 'email' ? bodyEmailKey : r.key,
  }));
  const d = config.rateLimit.default;
  return [
    {
      name: 'default',
      limit: d.limit,
      window: d.windowMs,
      algorithm: d.algorithm,
      onStoreError: d.onStoreError,
      key: 'ip',
    },
    ...configured,
    // Failed authentications per client address and failed logins per account: the library's defaults.
    ...defaultRateLimitRules().filter((r) => r.counts === 'failures'),
  ];
}

export async function createServerRateLimits(options: {
  config: ServerConfig;
  audit: AuditRecorder;
  now: Clock;
  readiness: Array<{ name: string; check: () => Promise<void> }>;
  /** Told of each refused request (metrics). */
  onRefusal?: (rule: string) => void;
}): Promise<ServerRateLimits> {
  const { config, audit, now } = options;
  let redis: Redis | undefined;
  let store: RateLimitStore;
  if (config.redisUrl) {
    redis = new Redis(config.redisUrl, {
      ...redisClientOptions({ commandTimeoutMs: config.rateLimit.storeTimeoutMs }),
      lazyConnect: true,
    });
    redis.on('error', () => {}); // state changes are reported by the limiter, once each
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      throw new Error(`REDIS_URL: Redis is unreachable (${(error as Error).message})`);
    }
    store = redisRateLimitStore({ client: redis });
    const client = redis;
    options.readiness.push({ name: 'redis', check: async () => void (await client.ping()) });
  } else {
    store = memoryRateLimitStore({ maxKeys: 1_000_000 });
  }

  const rules = configuredRules(config);
  const byKey = (k: (r: RateLimitRuleOptions) => boolean) => rules.filter(k);
  const isIdentity = (r: RateLimitRuleOptions) => r.key === 'user' || r.key === 'apiKey';
  const isBody = (r: RateLimitRuleOptions) => typeof r.key === 'function';
  const limiter = (set: RateLimitRuleOptions[]): RateLimiter =>
    createRateLimiter({
      // The limiter's own bound sits just above the client's command timeout.
      storeTimeoutMs: config.rateLimit.storeTimeoutMs + 50,
      store,
      rules: set,
      now,
      ipv6Prefix: config.rateLimit.ipv6Prefix,
      onRefused: (info) =>
        audit.record({
          type: 'excess_rate_limit_exceeded',
          outcome: 'blocked',
          ip: info.request.ip,
          actor: info.request.userId ?? info.request.apiKeyId,
          detail: { rule: info.rule, route: info.request.route, count: info.count },
        }),
      onFailOpen: (info) =>
        audit.record({
          type: 'sys_store_down',
          outcome: 'info',
          ip: info.request.ip,
          detail: { rule: info.rule, failOpen: true },
        }),
      onStoreStateChange: (state, error) =>
        audit.record({
          type: state === 'down' ? 'sys_store_down' : 'sys_store_up',
          outcome: 'info',
          detail: { store: 'rate-limit', ...(error ? { error: (error as Error).message } : {}) },
        }),
    });
  const byIp = limiter(byKey((r) => !isIdentity(r) && !isBody(r) && r.counts !== 'failures'));
  const byBody = limiter(byKey((r) => isBody(r) && r.counts !== 'failures'));
  const byIdentity = limiter(byKey((r) => isIdentity(r) && r.counts !== 'failures'));
  const failures = limiter(byKey((r) => r.counts === 'failures'));
  const all = [byIp, byBody, byIdentity, failures];

  const view = (request: FastifyRequest, extra: Partial<RateLimitRequest> = {}): RateLimitRequest => ({
    method: request.method,
    // The router's pattern, never the raw URL: `/x/`, `//x`, `/x?y` and encoded twins share a bucket.
    route: request.routeOptions.url ?? '*',
    ip: request.clientIp,
    ...extra,
  });

  const apply = (reply: FastifyReply, result: RateLimitResult) => {
    for (const [name, value] of Object.entries(result.headers)) {
      const prior = reply.getHeader(name);
      // Several limiters may each add policies: the structured-field lists are joined.
      reply.header(name, prior && name !== 'retry-after' ? `${prior}, ${value}` : value);
    }
    if (result.allowed) return;
    options.onRefusal?.(result.decisions.find((d) => !d.allowed)?.rule ?? 'unknown');
    if (result.failure === 'closed') {
      throw new RampartError('STORE_UNAVAILABLE', {
        headers: { 'retry-after': String(result.retryAfterSec ?? 5) },
      });
    }
    throw new RampartError('RATE_LIMITED', {
      detail: `Try again in ${result.retryAfterSec} seconds.`,
      headers: { 'retry-after': String(result.retryAfterSec ?? 1) },
    });
  };

  const anyRoute = (ip: string): RateLimitRequest => ({ method: 'GET', route: '*', ip });
  // In-flight requests' failed-authentication checks, by address (shared while they overlap).
  const blockedByIp = new Map<string, { refs: number; blocked: Promise<boolean> }>();
  return {
    redis,
    install(app) {
      app.addHook('onRequest', async (request, reply) => {
        if (UNLIMITED.has(request.routeOptions.url ?? '')) return;
        // The failed-authentication budget of this address is read now, alongside the IP
        // limit, so an authenticated request pays one round trip to a shared store, not two.
        const ip = request.clientIp;
        const entry = blockedByIp.get(ip);
        if (entry) entry.refs++;
        else {
          if (blockedByIp.size >= 50_000) blockedByIp.clear();
          blockedByIp.set(ip, {
            refs: 1,
            blocked: failures.isBlocked(anyRoute(ip)).then(
              (r) => r.blocked,
              () => false,
            ),
          });
        }
        apply(reply, await byIp.check(view(request)));
      });
      const release = async (request: FastifyRequest) => {
        const entry = blockedByIp.get(request.clientIp);
        if (entry && --entry.refs <= 0) blockedByIp.delete(request.clientIp);
      };
      app.addHook('onResponse', release);
      app.addHook('onRequestAbort', release);
      app.addHook('preValidation', async (request, reply) => {
        if (UNLIMITED.has(request.routeOptions.url ?? '')) return;
        apply(reply, await byBody.check(view(request, { body: request.body })));
      });
    },
    async checkIdentity(request, reply, identity) {
      apply(reply, await byIdentity.check(view(request, identity)));
    },
    async loginGate(request, reply, body) {
      const result = await failures.isBlocked(view(request, { body }));
      if (result.blocked) apply(reply, { ...result, allowed: false });
    },
    recordLoginFailure(request, body) {
      void failures.recordFailure(view(request, { body })).catch(() => {});
    },
    async authBlocked(ip) {
      const early = blockedByIp.get(ip);
      return early ? early.blocked : (await failures.isBlocked(anyRoute(ip))).blocked;
    },
    recordAuthFailure(ip) {
      void failures.recordFailure(anyRoute(ip)).catch(() => {});
    },
    blockedStats: () => all.flatMap((l) => l.blockedStats()),
    get storeState() {
      return all.some((l) => l.storeState === 'down') ? 'down' : 'up';
    },
    async close() {
      await Promise.all(all.map((l) => l.close()));
      await store.close();
      redis?.disconnect();
    },
  };
}

/** `GET /v1/admin/rate-limits`: the refused keys per rule, for admins (the tutorial's `blocked:<ip>`). */
export function rateLimitRoutes(app: FastifyInstance, ctx: Services): void {
  app.get('/v1/admin/rate-limits', { preHandler: authenticate(ctx, { roles: ['admin'] }) }, async () => ({
    store: ctx.rateLimits.redis ? 'redis' : 'memory',
    storeState: ctx.rateLimits.storeState,
    blocked: ctx.rateLimits.blockedStats(),
  }));
}
