import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RAMPART_DEFAULTS } from 'rampart';
import { isDuration, parseDuration } from 'rampart/internal/lib/duration.ts';
import { z } from 'zod';
import {
  type GatewayConfig,
  GatewayConfigError,
  gatewayConfig,
  gatewaySchema,
  routeSchema,
} from './gateway/config.ts';

/**
 * The server's configuration: API.md's environment variables plus the optional JSON file
 * named by RAMPART_CONFIG. Everything is validated at start; a bad value stops the start
 * with a `ConfigError` whose message names the field and what is wrong with it.
 */

const duration = z
  .string()
  .refine(isDuration, { message: 'expected a duration like "30s", "15m", "1h" or "7d"' });
const positiveInt = z.number().int().positive();

const rateRule = z.strictObject({
  limit: positiveInt,
  window: duration,
  algorithm: z.enum(['sliding-window', 'fixed-window', 'gcra']).optional(),
  onStoreError: z.enum(['local', 'closed', 'open']).optional(),
  /** A ban after the rule trips, outlasting the window (the engine's `blockFor`). */
  blockFor: duration.optional(),
});

const routePattern = z.string().regex(/^(?:(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|\*) )?\/\S*$/, {
  message: 'expected "METHOD /path", "/path" or "/prefix/*", e.g. "POST /v1/auth/login"',
});
/** An address-list entry: an address or CIDR, optionally for some routes only. */
const addressEntry = z.union([
  z.string().min(1).max(64),
  z.strictObject({
    cidr: z.string().min(1).max(64),
    routes: z.union([routePattern, z.array(routePattern).min(1)]).optional(),
  }),
]);

const fileSchema = z.strictObject({
  trustProxy: z.array(z.string().min(1)).optional(),
  clientIpHeader: z.enum(['x-forwarded-for', 'forwarded', 'x-real-ip']).optional(),
  cors: z
    .strictObject({
      origins: z.array(z.string()),
      credentials: z.boolean().optional(),
      methods: z.array(z.string()).optional(),
      allowedHeaders: z.array(z.string()).optional(),
      exposedHeaders: z.array(z.string()).optional(),
      maxAge: z.number().int().nonnegative().optional(),
    })
    .optional(),
  rateLimit: z
    .strictObject({
      default: rateRule.optional(),
      rules: z
        .array(
          rateRule.extend({
            route: z.string().regex(/^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \/\S*$/, {
              message: 'expected "METHOD /path", e.g. "POST /v1/auth/login"',
            }),
            key: z.enum(['ip', 'user', 'apiKey', 'email']).optional(),
            name: z
              .string()
              .regex(/^[a-z][a-z0-9-]{0,31}$/)
              .optional(),
          }),
        )
        .optional(),
      ipv6Prefix: z.number().int().min(32).max(128).optional(),
      storeTimeout: duration.optional(),
      /** Failed authentications of any kind per client address (invented tokens and keys, wrong passwords). */
      authFailures: z.strictObject({ limit: positiveInt, window: duration }).optional(),
      /** Failed logins per account, and failed current-password checks per user. */
      accountFailures: z.strictObject({ limit: positiveInt, window: duration }).optional(),
      /** Units a request to a route takes from every limit it counts against (`{ "POST /v1/keys": 5 }`). */
      costs: z.record(routePattern, z.number().int().min(1).max(1_000_000)).optional(),
      /** Addresses and networks never limited (static; admins add more at run time). */
      allow: z.array(addressEntry).max(10_000).optional(),
      /** Addresses and networks refused with 403 `ADDRESS_DENIED`. */
      deny: z.array(addressEntry).max(10_000).optional(),
      /** Routes only some networks may call (e.g. the admin plane from an internal range). */
      restrict: z
        .array(
          z.strictObject({
            routes: z.union([routePattern, z.array(routePattern).min(1)]),
            from: z.array(z.string().min(1).max(64)).min(1),
          }),
        )
        .max(1000)
        .optional(),
      /** `/healthz` and `/readyz`, per address, instead of the default rule. */
      health: rateRule.optional(),
      /** `/.well-known/jwks.json`, per address, instead of the default rule. */
      jwks: rateRule.optional(),
      /** `/metrics`, per address (its scraper), instead of the default rule. */
      metrics: rateRule.optional(),
    })
    .optional(),
  /** Verification counts per key and identity (`GET /v1/keys/{id}/usage`). */
  usage: z
    .strictObject({
      /** How often counts are written (batched, off the request path); default "1s". */
      flushInterval: duration.optional(),
      /** How long buckets of each size are kept; defaults 7d, 90d, 400d. */
      retention: z
        .strictObject({ minute: duration.optional(), hour: duration.optional(), day: duration.optional() })
        .optional(),
    })
    .optional(),
  /** The audit trail's retention: events older than this are pruned hourly; default kept forever. */
  audit: z.strictObject({ retention: duration.optional() }).optional(),
  tokens: z
    .strictObject({
      algorithm: z.enum(['EdDSA', 'ES256', 'RS256', 'HS256']).optional(),
      accessTtl: duration.optional(),
      refreshIdleTtl: duration.optional(),
      refreshAbsoluteTtl: duration.optional(),
      refreshGrace: duration.optional(),
      rotateEvery: duration.optional(),
      issuer: z.string().min(1).optional(),
      audience: z.string().min(1).optional(),
      /**
       * Outside identity providers whose access tokens are accepted too (the library's
       * `jwt.issuers`): checked in full by the engine at start, with the field named.
       */
      trustedIssuers: z
        .array(
          z.strictObject({
            issuer: z.string().min(1),
            jwksUri: z.string().min(1).optional(),
            discoveryUrl: z.string().min(1).optional(),
            audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
            audienceClaim: z.enum(['aud', 'client_id']).optional(),
            algorithms: z.array(z.string()).min(1).optional(),
            clockToleranceSec: z.number().int().min(0).max(300).optional(),
            typ: z.union([z.string().min(1), z.literal(false)]).optional(),
            requiredClaims: z.array(z.string().min(1)).optional(),
            claimEquals: z.record(z.string(), z.string()).optional(),
            claims: z
              .strictObject({
                scopes: z.array(z.array(z.string().min(1)).min(1)).optional(),
                roles: z.array(z.array(z.string().min(1)).min(1)).optional(),
                tenant: z.array(z.array(z.string().min(1)).min(1)).optional(),
              })
              .optional(),
          }),
        )
        .max(32)
        .optional(),
    })
    .optional(),
  limits: z
    .strictObject({
      bodyBytes: positiveInt.max(16 * 1024 * 1024).optional(),
      jsonDepth: positiveInt.max(256).optional(),
      headersTimeout: duration.optional(),
      requestTimeout: duration.optional(),
    })
    .optional(),
  passwords: z
    .strictObject({
      minLength: z.number().int().min(8).max(64).optional(),
      preset: z.enum(['nist', 'tutorial']).optional(),
    })
    .optional(),
  apiKeys: z
    .strictObject({
      prefix: z
        .string()
        .regex(/^[a-z][a-z0-9]{1,15}_(?:[a-z0-9]{1,15}_)?$/)
        .optional(),
    })
    .optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  accounts: z.strictObject({ requireVerifiedEmail: z.boolean().optional() }).optional(),
  /** The admin console at `/console` (docs/console.md). */
  console: z
    .strictObject({
      enabled: z.boolean().optional(),
      /** A session unused this long ends. */
      idleTimeout: duration.optional(),
      /** A session ends this long after sign-in, used or not. */
      absoluteTimeout: duration.optional(),
    })
    .optional(),
  // Forward auth and the gateway (docs/gateway.md): one route table for both.
  routes: z.array(routeSchema).max(256).optional(),
  gateway: gatewaySchema.optional(),
});

export type ConfigFile = z.infer<typeof fileSchema>;

export interface RateRuleConfig {
  name: string;
  route?: string;
  key: 'ip' | 'user' | 'apiKey' | 'email';
  limit: number;
  windowMs: number;
  algorithm: 'sliding-window' | 'fixed-window' | 'gcra';
  onStoreError: 'local' | 'closed' | 'open';
  /** The ban after the rule trips, ms. */
  blockForMs?: number;
}

/** An address-list entry as the file has it. */
export type AddressEntryConfig = z.infer<typeof addressEntry>;
/** How log lines are written: JSON, or short lines for a person (`auto`: pretty on a terminal). */
export type LogFormatSetting = 'auto' | 'json' | 'pretty';

/** The routes with limits of their own, instead of the default per-address rule. */
export const OPERATIONAL_ROUTES = {
  health: ['/healthz', '/readyz'],
  jwks: ['/.well-known/jwks.json'],
  metrics: ['/metrics'],
} as const;

/**
 * Their default limits, per client address. Generous for health and JWKS, which load balancers
 * and resource servers call often (many behind one NAT address); enough for a few Prometheus
 * replicas scraping every 15 seconds on `/metrics`.
 */
export const OPERATIONAL_LIMITS = {
  health: { limit: 1200, window: '1m' },
  jwks: { limit: 600, window: '1m' },
  metrics: { limit: 60, window: '1m' },
} as const;

export interface ServerConfig {
  port: number;
  host: string;
  dataDir: string;
  redisUrl: string | undefined;
  databaseUrl: string | undefined;
  /**
   * The PostgreSQL pool, with `DATABASE_URL`: `RAMPART_PG_POOL_SIZE` (default 10),
   * `RAMPART_PG_STATEMENT_TIMEOUT` (default "5s") and `RAMPART_PG_CONNECT_TIMEOUT` (default
   * "2s"). TLS is set in the URL (`?sslmode=verify-full&sslrootcert=/path/ca.pem`).
   */
  postgres: { poolSize: number; statementTimeoutMs: number; connectTimeoutMs: number };
  bootstrapAdminKey: string | undefined;
  tls: { cert: Buffer; key: Buffer } | undefined;
  trustProxy: string[];
  clientIpHeader: 'x-forwarded-for' | 'forwarded' | 'x-real-ip';
  cors: NonNullable<ConfigFile['cors']>;
  /**
   * `storeTimeoutMs`: how long a limit decision may wait for Redis (event-loop lag not counted)
   * before the rule's failure policy applies to that request. `authFailures`: the per-address
   * budget of failed authentications; `accountFailures`: failed logins per account.
   */
  rateLimit: {
    default: RateRuleConfig;
    rules: RateRuleConfig[];
    ipv6Prefix: number;
    storeTimeoutMs: number;
    authFailures: { limit: number; windowMs: number };
    accountFailures: { limit: number; windowMs: number };
    /** Units per request by route pattern, for every request-counting rule. */
    costs: Record<string, number>;
    allow: AddressEntryConfig[];
    deny: AddressEntryConfig[];
    restrict: Array<{ routes: string | string[]; from: string[] }>;
    /** The limits of the operational routes (OPERATIONAL_ROUTES), each instead of `default`. */
    operational: Record<keyof typeof OPERATIONAL_ROUTES, RateRuleConfig>;
  };
  /** Usage counting: batch interval and the retention of each bucket size, ms. */
  usage: { flushIntervalMs: number; retentionMs: { minute: number; hour: number; day: number } };
  /** The audit trail's retention, ms; null keeps every event. */
  audit: { retentionMs: number | null };
  tokens: {
    algorithm: 'EdDSA' | 'ES256' | 'RS256' | 'HS256';
    secret: string | undefined;
    accessTtlMs: number;
    refreshIdleTtlMs: number;
    refreshAbsoluteTtlMs: number;
    refreshGraceMs: number;
    rotateEveryMs: number;
    issuer: string;
    /** Whether `issuer` was set in the file (the default is this host's own address). */
    issuerConfigured: boolean;
    /** Outside identity providers (the engine's `jwt.issuers`), as written in the file. */
    trustedIssuers: NonNullable<NonNullable<ConfigFile['tokens']>['trustedIssuers']>;
    audience: string;
  };
  limits: { bodyBytes: number; jsonDepth: number; headersTimeoutMs: number; requestTimeoutMs: number };
  passwords: { minLength: number; preset: 'nist' | 'tutorial' };
  apiKeys: { prefix: string };
  logLevel: NonNullable<ConfigFile['logLevel']>;
  /** The admin console: on by default; sessions end after `idleTimeoutMs` unused (default 30 min) or `absoluteTimeoutMs` (default 8 h). */
  console: { enabled: boolean; idleTimeoutMs: number; absoluteTimeoutMs: number };
  /** `RAMPART_LOG_FORMAT` (`--log-format`): `json`, `pretty`, or `auto` (the default). */
  logFormat: LogFormatSetting;
  /** Where password-reset mail goes: SMTP when `RAMPART_SMTP_URL` is set, else the data dir's outbox. */
  mail: { smtpUrl: string | undefined; from: string };
  /** The reset page the mail links to (`?token=` is appended); the bare token when unset. */
  resetUrl: string | undefined;
  /** The verification page the mail links to (`?token=` is appended); the bare token when unset. */
  verifyUrl: string | undefined;
  /** `accounts.requireVerifiedEmail`: an account must prove its address before it creates API keys. */
  accounts: { requireVerifiedEmail: boolean };
  /** Forward auth and gateway routes (`routes`, `gateway`). */
  gateway: GatewayConfig;
}

/** A configuration problem: the message names the field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The built-in route rules (API.md: 5 password resets per hour per client and per e-mail), from the engine's defaults. */
export const DEFAULT_RATE_RULES: ReadonlyArray<RateRuleConfig> = (['ip', 'email'] as const).map((key) => ({
  name: key === 'ip' ? 'password-reset' : 'password-reset-email',
  route: 'POST /v1/auth/password-reset',
  key,
  limit: RAMPART_DEFAULTS.passwordReset.limit,
  windowMs: parseDuration(RAMPART_DEFAULTS.passwordReset.window),
  algorithm: 'sliding-window',
  onStoreError: 'local',
}));

/**
 * Reads the configuration from `env` (and the file it names). Throws ConfigError naming the
 * field on any invalid value.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ServerConfig {
  const file = readConfigFile(env.RAMPART_CONFIG, cwd);
  const port = intFromEnv(env, 'PORT', 8080, 0, 65535);
  const host = env.HOST?.trim() || '127.0.0.1';
  const dataDir = resolve(cwd, env.RAMPART_DATA_DIR?.trim() || './data');

  const bootstrapAdminKey = env.RAMPART_BOOTSTRAP_ADMIN_KEY;
  if (bootstrapAdminKey !== undefined && bootstrapAdminKey.length < 32) {
    throw new ConfigError('RAMPART_BOOTSTRAP_ADMIN_KEY: must be at least 32 characters');
  }
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL: expected a postgres:// or postgresql:// URL');
  }
  const postgres = {
    poolSize: intFromEnv(env, 'RAMPART_PG_POOL_SIZE', 10, 2, 1000),
    statementTimeoutMs: durationFromEnv(env, 'RAMPART_PG_STATEMENT_TIMEOUT', '5s'),
    connectTimeoutMs: durationFromEnv(env, 'RAMPART_PG_CONNECT_TIMEOUT', '2s'),
  };
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
    throw new ConfigError('REDIS_URL: expected a redis:// or rediss:// URL');
  }

  const tls = readTls(env, cwd);
  const rl = file.rateLimit ?? {};
  const defaultRule: RateRuleConfig = {
    name: 'default',
    key: 'ip',
    limit: rl.default?.limit ?? RAMPART_DEFAULTS.apiLimiter.limit,
    windowMs: parseDuration(rl.default?.window ?? RAMPART_DEFAULTS.apiLimiter.window),
    algorithm: rl.default?.algorithm ?? 'sliding-window',
    onStoreError: rl.default?.onStoreError ?? 'local',
    ...(rl.default?.blockFor !== undefined ? { blockForMs: parseDuration(rl.default.blockFor) } : {}),
  };
  const rules: RateRuleConfig[] = (rl.rules ?? []).map((r, i) => ({
    name: r.name ?? `rule-${i + 1}`,
    route: r.route,
    key: r.key ?? 'ip',
    limit: r.limit,
    windowMs: parseDuration(r.window),
    algorithm: r.algorithm ?? 'sliding-window',
    onStoreError: r.onStoreError ?? 'local',
    ...(r.blockFor !== undefined ? { blockForMs: parseDuration(r.blockFor) } : {}),
  }));
  // A configured rule for a route replaces the built-in ones for that route.
  const configuredRoutes = new Set(rules.map((r) => r.route));
  const builtIn = DEFAULT_RATE_RULES.filter((r) => !configuredRoutes.has(r.route));

  const operational = Object.fromEntries(
    (Object.keys(OPERATIONAL_ROUTES) as Array<keyof typeof OPERATIONAL_ROUTES>).map((name) => {
      const given = rl[name];
      const rule: RateRuleConfig = {
        name,
        key: 'ip',
        limit: given?.limit ?? OPERATIONAL_LIMITS[name].limit,
        windowMs: parseDuration(given?.window ?? OPERATIONAL_LIMITS[name].window),
        algorithm: given?.algorithm ?? 'sliding-window',
        onStoreError: given?.onStoreError ?? 'local',
      };
      return [name, rule];
    }),
  ) as Record<keyof typeof OPERATIONAL_ROUTES, RateRuleConfig>;

  const logFormat = env.RAMPART_LOG_FORMAT?.trim() || 'auto';
  if (logFormat !== 'auto' && logFormat !== 'json' && logFormat !== 'pretty') {
    throw new ConfigError(
      `RAMPART_LOG_FORMAT: expected json, pretty or auto, got ${JSON.stringify(logFormat)}`,
    );
  }

  const cors = file.cors ?? { origins: [] };
  if (cors.origins.includes('*') && cors.credentials) {
    throw new ConfigError(
      'cors.credentials: cannot be combined with the "*" origin (any site could read credentialed responses)',
    );
  }

  const t = file.tokens ?? {};
  const algorithm = t.algorithm ?? 'EdDSA';
  const secret = env.RAMPART_JWT_SECRET;
  if (algorithm === 'HS256' && (secret === undefined || Buffer.byteLength(secret) < 32)) {
    throw new ConfigError('RAMPART_JWT_SECRET: HS256 needs a secret of at least 32 bytes');
  }

  let gateway: GatewayConfig;
  try {
    gateway = gatewayConfig(file.routes, file.gateway, {
      trustedIssuers: (t.trustedIssuers ?? []).map((i) => i.issuer),
      algorithm,
      audience: t.audience ?? 'rampart',
      accessTtlMs: parseDuration(t.accessTtl ?? RAMPART_DEFAULTS.accessTtl),
    });
  } catch (error) {
    if (error instanceof GatewayConfigError)
      throw new ConfigError(`RAMPART_CONFIG ${env.RAMPART_CONFIG}: ${error.message}`);
    throw error;
  }

  return {
    port,
    host,
    dataDir,
    redisUrl,
    databaseUrl,
    postgres,
    bootstrapAdminKey,
    tls,
    trustProxy: file.trustProxy ?? [],
    clientIpHeader: file.clientIpHeader ?? 'x-forwarded-for',
    cors,
    rateLimit: {
      default: defaultRule,
      rules: [...builtIn, ...rules],
      ipv6Prefix: rl.ipv6Prefix ?? 64,
      storeTimeoutMs:
        rl.storeTimeout === undefined ? RAMPART_DEFAULTS.storeTimeoutMs : parseDuration(rl.storeTimeout),
      authFailures: {
        limit: rl.authFailures?.limit ?? RAMPART_DEFAULTS.authFailures.limit,
        windowMs: parseDuration(rl.authFailures?.window ?? RAMPART_DEFAULTS.authFailures.window),
      },
      accountFailures: {
        limit: rl.accountFailures?.limit ?? RAMPART_DEFAULTS.accountFailures.limit,
        windowMs: parseDuration(rl.accountFailures?.window ?? RAMPART_DEFAULTS.accountFailures.window),
      },
      costs: { ...(rl.costs ?? {}) },
      allow: rl.allow ?? [],
      deny: rl.deny ?? [],
      restrict: (rl.restrict ?? []).map((r) => ({ routes: r.routes, from: r.from })),
      operational,
    },
    usage: {
      flushIntervalMs: parseDuration(file.usage?.flushInterval ?? '1s'),
      retentionMs: {
        minute: parseDuration(file.usage?.retention?.minute ?? '7d'),
        hour: parseDuration(file.usage?.retention?.hour ?? '90d'),
        day: parseDuration(file.usage?.retention?.day ?? '400d'),
      },
    },
    audit: { retentionMs: file.audit?.retention === undefined ? null : parseDuration(file.audit.retention) },
    tokens: {
      algorithm,
      secret: algorithm === 'HS256' ? secret : undefined,
      accessTtlMs: parseDuration(t.accessTtl ?? RAMPART_DEFAULTS.accessTtl),
      refreshIdleTtlMs: parseDuration(t.refreshIdleTtl ?? '14d'),
      refreshAbsoluteTtlMs: parseDuration(t.refreshAbsoluteTtl ?? '30d'),
      refreshGraceMs: parseDuration(t.refreshGrace ?? '0s'),
      rotateEveryMs: parseDuration(t.rotateEvery ?? '30d'),
      issuer: t.issuer ?? `http://${host}:${port}`,
      issuerConfigured: t.issuer !== undefined,
      trustedIssuers: t.trustedIssuers ?? [],
      audience: t.audience ?? 'rampart',
    },
    limits: {
      bodyBytes: file.limits?.bodyBytes ?? RAMPART_DEFAULTS.json.limitBytes,
      jsonDepth: file.limits?.jsonDepth ?? RAMPART_DEFAULTS.json.maxDepth,
      headersTimeoutMs: parseDuration(file.limits?.headersTimeout ?? '10s'),
      requestTimeoutMs: parseDuration(file.limits?.requestTimeout ?? '30s'),
    },
    passwords: { minLength: file.passwords?.minLength ?? 8, preset: file.passwords?.preset ?? 'nist' },
    apiKeys: { prefix: file.apiKeys?.prefix ?? 'rk_live_' },
    logLevel: file.logLevel ?? 'info',
    console: consoleConfig(file.console),
    logFormat,
    mail: {
      smtpUrl: urlFromEnv(env, 'RAMPART_SMTP_URL', /^smtps?:$/),
      from: env.RAMPART_MAIL_FROM?.trim() || 'rampart@localhost',
    },
    resetUrl: urlFromEnv(env, 'RAMPART_RESET_URL', /^https?:$/),
    verifyUrl: urlFromEnv(env, 'RAMPART_VERIFY_URL', /^https?:$/),
    accounts: { requireVerifiedEmail: file.accounts?.requireVerifiedEmail ?? false },
    gateway,
  };
}

function consoleConfig(given: ConfigFile['console']): ServerConfig['console'] {
  const idleTimeoutMs = parseDuration(given?.idleTimeout ?? '30m');
  const absoluteTimeoutMs = parseDuration(given?.absoluteTimeout ?? '8h');
  if (idleTimeoutMs < 60_000 || idleTimeoutMs > absoluteTimeoutMs) {
    throw new ConfigError(
      'console.idleTimeout: expected at least "1m" and no more than console.absoluteTimeout',
    );
  }
  if (absoluteTimeoutMs > 7 * 86_400_000) {
    throw new ConfigError('console.absoluteTimeout: expected at most "7d"');
  }
  return { enabled: given?.enabled ?? true, idleTimeoutMs, absoluteTimeoutMs };
}

function readConfigFile(path: string | undefined, cwd: string): ConfigFile {
  if (path === undefined || path.trim() === '') return {};
  let text: string;
  try {
    text = readFileSync(resolve(cwd, path), 'utf8');
  } catch (error) {
    throw new ConfigError(
      `RAMPART_CONFIG: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`RAMPART_CONFIG: ${path} is not valid JSON (${(error as Error).message})`);
  }
  const result = fileSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    // `routes[2].upstream`: array indices in brackets, as the messages of the engine write them.
    const field =
      issue.path
        .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`))
        .join('') || '(root)';
    const keys = issue.code === 'unrecognized_keys' ? `: ${issue.keys.join(', ')}` : '';
    const where = issue.code === 'unrecognized_keys' && field === '(root)' ? '' : `${field}: `;
    throw new ConfigError(`RAMPART_CONFIG ${path}: ${where}${issue.message}${keys}`);
  }
  return result.data;
}

function urlFromEnv(env: NodeJS.ProcessEnv, name: string, protocols: RegExp): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name}: not a URL`);
  }
  if (!protocols.test(url.protocol)) throw new ConfigError(`${name}: unsupported scheme ${url.protocol}`);
  return raw;
}

/** A duration variable: "5s", "1m", or a whole number of milliseconds. */
function durationFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  const raw = env[name]?.trim() || fallback;
  const ms = /^\d{1,9}$/.test(raw) ? Number(raw) : isDuration(raw) ? parseDuration(raw) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > 3_600_000) {
    throw new ConfigError(
      `${name}: expected a duration like "5s" or a number of milliseconds (1 ms to 1h), got ${JSON.stringify(raw)}`,
    );
  }
  return ms;
}

function intFromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(
      `${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return Number(raw);
}

function readTls(env: NodeJS.ProcessEnv, cwd: string): ServerConfig['tls'] {
  const certPath = env.RAMPART_TLS_CERT?.trim();
  const keyPath = env.RAMPART_TLS_KEY?.trim();
  if (!certPath && !keyPath) return undefined;
  if (!certPath || !keyPath) {
    throw new ConfigError(
      `${certPath ? 'RAMPART_TLS_KEY' : 'RAMPART_TLS_CERT'}: HTTPS needs both RAMPART_TLS_CERT and RAMPART_TLS_KEY`,
    );
  }
  const read = (name: string, path: string) => {
    try {
      return readFileSync(resolve(cwd, path));
    } catch (error) {
      throw new ConfigError(
        `${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  };
  const cert = read('RAMPART_TLS_CERT', certPath);
  const key = read('RAMPART_TLS_KEY', keyPath);
  if (!cert.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError('RAMPART_TLS_CERT: not a PEM certificate');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) {
    throw new ConfigError('RAMPART_TLS_KEY: not a PEM private key');
  }
  return { cert, key };
}

/**
 * The unknown keys of a config file's JSON, each with its dotted field and the keys allowed
 * where it stands, so the CLI can answer "did you mean …?" (`"cors.orgins"` → `origins`).
 * Empty when the file has no unknown key (it may still be invalid otherwise).
 */
export function unknownConfigKeys(json: unknown): Array<{ field: string; key: string; allowed: string[] }> {
  const result = fileSchema.safeParse(json);
  if (result.success) return [];
  return result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          field: [...issue.path.map(String), key].join('.'),
          key,
          allowed: allowedKeysAt(issue.path),
        }))
      : [],
  );
}

/**
 * The config file's fields, dotted, down to `depth` levels of objects (`cors.origins`,
 * `rateLimit.default`, `routes`): what the README's configuration table must name.
 */
export function configFields(depth = 2): string[] {
  const walk = (path: string[]): string[] =>
    allowedKeysAt(path).flatMap((key) => {
      const here = [...path, key];
      const below = here.length < depth ? walk(here) : [];
      return below.length > 0 ? below : [here.join('.')];
    });
  return walk([]);
}

function allowedKeysAt(path: readonly PropertyKey[]): string[] {
  const unwrap = (s: z.ZodType | undefined): z.ZodType | undefined =>
    s instanceof z.ZodOptional ? unwrap(s.unwrap() as z.ZodType) : s;
  let schema: z.ZodType | undefined = fileSchema;
  for (const step of path) {
    schema = unwrap(schema);
    if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
    else if (schema instanceof z.ZodObject)
      schema = (schema.shape as Record<string, z.ZodType>)[String(step)];
    else return [];
  }
  schema = unwrap(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}
