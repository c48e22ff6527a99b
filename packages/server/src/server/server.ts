import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createRampart, type Rampart, type SecurityEvent } from 'rampart';
import { createAuditRecorder } from 'rampart/internal/audit/index.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import { memoryRateLimitStore } from 'rampart/internal/rate-limit/memory-store.ts';
import { MAX_RECENT_FAILURES } from 'rampart/internal/rate-limit/recent-failures.ts';
import { redisRateLimitStore } from 'rampart/internal/rate-limit/redis-store.ts';
import { refreshPolicy } from 'rampart/internal/tokens/refresh-token.ts';
import type { PasswordOptions } from 'rampart/internal/validation/password.ts';
import { tutorialPasswordPolicy } from 'rampart/internal/validation/password.ts';
import type { AccountDeps } from '../accounts/accounts.ts';
import { createHashQueue } from '../accounts/hash-queue.ts';
import { type PostgresStorage, postgresStorage } from '../storage/postgres.ts';
import { sqliteStorage } from '../storage/sqlite.ts';
import type { Storage } from '../storage/types.ts';
import { createAddressListService } from './address-lists.ts';
import { type ApiKeyService, createApiKeyService } from './api-keys/service.ts';
import { createApp, flushLog, type Readiness } from './app.ts';
import { ConfigError, type ServerConfig } from './config.ts';
import { redisFailureNews } from './failure-news.ts';
import { gatewayRoutes, recordOwnRoutes } from './gateway/routes.ts';
import type { LineSink } from './log-format.ts';
import { outboxMailer, smtpMailer } from './mailer.ts';
import { createMetrics } from './metrics.ts';
import { engineOptions, serverLimitRules } from './policy.ts';
import { connectRedis, type RedisConnections } from './redis.ts';
import { startRetention } from './retention.ts';
import { registerRoutes } from './routes.ts';
import type { Services } from './services.ts';
import { createSessionService } from './sessions.ts';
import { openKeyRing } from './signing-keys.ts';
import { createUsageRecorder } from './usage.ts';

export interface RampartServer {
  app: FastifyInstance;
  context: Services;
  /** The engine the server runs its policy through. */
  rampart: Rampart;
  /** Resolves when the work done after answers (reset and verification mail) is finished. */
  idle(): Promise<void>;
  /** Stops accepting, lets in-flight requests finish, flushes events, closes storage. */
  close(): Promise<void>;
}

export interface CreateServerOptions {
  /** Storage to use instead of the data dir's SQLite database (tests). */
  storage?: Storage;
  logStream?: Writable | LineSink;
  now?: Clock;
  /**
   * Where settings kept out of ServerConfig are read: the API key pepper
   * (`RAMPART_API_KEY_PEPPER`, `RAMPART_API_KEY_LEGACY_SHA256`). Default `process.env`.
   */
  env?: NodeJS.ProcessEnv;
  /** Extra routes registered after Rampart's own (tests, embedding), on the same engine. */
  routes?: (app: FastifyInstance, context: Services) => void | Promise<void>;
  /** Told of every security event as the engine emits it, before the audit trail batches it (tests, embedding). */
  onEvent?: (event: SecurityEvent) => void;
}

/**
 * The deployment's storage: PostgreSQL when `DATABASE_URL` is set (migrated on open, under an
 * advisory lock), else the data dir's SQLite file.
 */
export async function openStorage(
  config: ServerConfig,
  onIdleError?: (error: Error) => void,
): Promise<Storage> {
  if (config.databaseUrl) {
    return postgresStorage({
      connectionString: config.databaseUrl,
      poolSize: config.postgres.poolSize,
      statementTimeoutMs: config.postgres.statementTimeoutMs,
      connectTimeoutMs: config.postgres.connectTimeoutMs,
      ...(onIdleError ? { onIdleError } : {}),
    });
  }
  return sqliteStorage({ path: join(config.dataDir, 'rampart.db') });
}

/** Runs first-start work (the first admin key) one instance at a time on shared storage. */
function oneInstanceAtATime(storage: Storage): <T>(fn: () => Promise<T>) => Promise<T> {
  return storage.kind === 'postgres' && 'exclusive' in storage
    ? (fn) => (storage as PostgresStorage).exclusive(fn)
    : (fn) => fn();
}

/**
 * Creates the engine; an option it refuses came from the configuration, so the error names the
 * configuration's field (`tokens.trustedIssuers[0].jwksUri: …`) and stops the start as a
 * ConfigError would.
 */
function policyOrConfigError(make: () => Rampart, undo: { fail(error: unknown): Promise<never> }): Rampart {
  try {
    return make();
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    const message = error.message
      .replace(/^jwt\.issuers/, 'tokens.trustedIssuers')
      .replace(/^jwt\.keyFetch/, 'tokens.keyFetch');
    void undo.fail(new ConfigError(message)).catch(() => {});
    throw new ConfigError(message);
  }
}

/** Work done after an answer was sent, awaited on a graceful stop so none is lost. */
function backgroundTasks() {
  const pending = new Set<Promise<void>>();
  return {
    run(task: () => Promise<void>) {
      const running: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
        .then(task)
        .catch(() => {})
        .finally(() => pending.delete(running));
      pending.add(running);
    },
    async drain() {
      while (pending.size > 0) await Promise.all(pending);
    },
  };
}

/** Closes what was opened so far when a later step of the start fails. */
function cleanups() {
  const steps: Array<() => unknown> = [];
  return {
    add(step: () => unknown) {
      steps.unshift(step);
    },
    async fail(error: unknown): Promise<never> {
      for (const step of steps) await Promise.resolve(step()).catch(() => {});
      throw error;
    },
  };
}

/**
 * Wires configuration, storage, events, tokens and routes into a ready-to-listen server. The
 * policy is the engine's (`createRampart`, on the Fastify adapter); the server adds its routes,
 * storage, signing keys, mail and metrics.
 */
export async function createRampartServer(
  config: ServerConfig,
  options: CreateServerOptions = {},
): Promise<RampartServer> {
  if (config.databaseUrl !== undefined && !config.tokens.issuerConfigured) {
    // The default issuer is this host's own address: instances on different hosts would sign
    // with different `iss` and refuse each other's tokens, silently splitting the cluster.
    throw new ConfigError(
      'tokens.issuer: with DATABASE_URL every instance must name the same issuer; set tokens.issuer in RAMPART_CONFIG (for example "https://auth.example.com")',
    );
  }
  const now = options.now ?? Date.now;
  let app: FastifyInstance | undefined;
  const startWarnings: string[] = [];
  const warn = (message: string) => (app ? app.log.warn(message) : startWarnings.push(message));
  const undo = cleanups();
  const storage =
    options.storage ??
    (await openStorage(config, (error) =>
      warn(`a database connection broke (${error.message}); new ones are made as needed`),
    ));
  undo.add(() => storage.close());
  const audit = createAuditRecorder({
    store: storage.audit,
    now,
    log: (event) => app?.log.info({ event }, 'security_event'),
    onError: (error) => app?.log.error({ err: { message: (error as Error).message } }, 'audit write failed'),
  });
  undo.add(() => audit.close());
  const metrics = createMetrics();
  const readiness: Readiness[] = [{ name: 'storage', check: async () => storage.ping() }];

  let redis: RedisConnections | undefined;
  if (config.redisUrl) {
    redis = await connectRedis(config.redisUrl, warn).catch((error: unknown) => undo.fail(error));
    const connections = redis;
    undo.add(() => connections.close());
    readiness.push({ name: 'redis', check: () => connections.ping() });
  }
  // With shared storage the signing keys are in the database, so every instance signs and
  // publishes the same ones; otherwise in the data dir.
  const keyRing = await openKeyRing(
    config,
    now,
    storage.signingKeys ? { store: storage.signingKeys } : undefined,
    ({ kid, alg, scheduled }) =>
      audit.record({
        type: 'signing_key_rotated',
        outcome: 'success',
        actor: 'system',
        detail: { kid, alg, scheduled },
      }),
  ).catch((error: unknown) => undo.fail(error));
  undo.add(() => keyRing.close());
  const sessions = await createSessionService({
    config,
    storage,
    keys: keyRing,
    now,
    ...(redis ? { bus: redis.bus } : {}),
  }).catch((error: unknown) => undo.fail(error));
  undo.add(() => sessions.close());

  const usage = createUsageRecorder({
    store: storage.usage,
    intervalMs: config.usage.flushIntervalMs,
    now,
    onError: (error) =>
      warn(`could not write usage counts (kept for the next try): ${(error as Error).message}`),
  });
  undo.add(() => usage.close());
  const failureNews = redis ? redisFailureNews({ redis, now, limit: MAX_RECENT_FAILURES, warn }) : undefined;
  if (failureNews) undo.add(() => failureNews.close());
  // The engine comes first: the key service counts per-key limits on the engine's store.
  let apiKeys: ApiKeyService | undefined;
  const rampart = policyOrConfigError(
    () =>
      createRampart(
        engineOptions(config, {
          tokens: sessions.verifier,
          keys: {
            verify: (key, verifyOptions) =>
              apiKeys!.verify(key, verifyOptions.scope ? { scope: verifyOptions.scope } : {}),
            isKnown: (key) => apiKeys?.isKnown(key) ?? false,
            isBootstrapKey: (text) => apiKeys?.isBootstrapKey(text) ?? false,
          },
          store: redis
            ? redisRateLimitStore({ client: redis.client })
            : memoryRateLimitStore({ maxKeys: 1_000_000 }),
          storeShared: redis !== undefined,
          ...(failureNews ? { failureNews } : {}),
          onEvent: (event) => {
            options.onEvent?.(event);
            audit.record(event);
            if (event.type === 'authn_token_invalid' || event.type === 'authn_token_revoked') {
              metrics.authentications.inc({
                credential: String(event.detail.scheme),
                outcome: 'failure',
                reason: String(event.detail.reason),
              });
            }
          },
          onError: (error, view) => {
            const err = error as Error & { code?: string; cause?: unknown };
            if (err?.code === 'STORE_UNAVAILABLE' || err?.code === 'SERVICE_UNAVAILABLE') {
              // Expected while a database or Redis is down: one line, not a stack per request.
              const cause = (err.cause as Error | undefined)?.message;
              app?.log.warn(
                { reqId: view?.requestId, err: { code: err.code, ...(cause ? { cause } : {}) } },
                'store unavailable',
              );
            } else {
              app?.log.error(
                {
                  reqId: view?.requestId,
                  err: { type: err?.name, message: err?.message, stack: err?.stack },
                },
                'unhandled error',
              );
            }
          },
          onRateLimited: (rule) => metrics.rateLimitRefusals.inc({ rule }),
          now,
        }),
      ),
    undo,
  );
  undo.add(() => rampart.close());
  apiKeys = await oneInstanceAtATime(storage)(() =>
    createApiKeyService({
      config,
      storage,
      now,
      limits: () => rampart.limits.store,
      ...(redis ? { bus: redis.bus } : {}),
      ...(options.env ? { env: options.env } : {}),
      onVerification: (code) => metrics.keyVerifications.inc({ code }),
      usage,
      warn,
    }),
  ).catch((error: unknown) => undo.fail(error));
  const keys = apiKeys;
  undo.add(() => keys.close());
  const addressLists = await createAddressListService({
    storage,
    lists: rampart.limits.addresses,
    now,
    ...(redis ? { bus: redis.bus } : {}),
  }).catch((error: unknown) => undo.fail(error));
  undo.add(() => addressLists.close());

  const limits = serverLimitRules(config);
  const later = backgroundTasks();
  const mailer = config.mail.smtpUrl
    ? smtpMailer({ url: config.mail.smtpUrl, from: config.mail.from })
    : outboxMailer(config.dataDir);
  const passwords: PasswordOptions =
    config.passwords.preset === 'tutorial'
      ? { ...tutorialPasswordPolicy, minLength: config.passwords.minLength }
      : { minLength: config.passwords.minLength };
  const accounts: AccountDeps = {
    storage,
    sessions: {
      issue: ({ sub, role, sid }) => sessions.issuer.issue({ sub, role, extra: { sid } }),
      revokeAccessToken: (jti, exp) => sessions.revokeAccessToken(jti, exp),
      revokeSessions: (sids) => sessions.revokeSessions(sids),
      endAllSessions: (userId) => sessions.endAllSessions(userId),
    },
    refreshPolicy: refreshPolicy({
      idleTtlMs: config.tokens.refreshIdleTtlMs,
      absoluteTtlMs: config.tokens.refreshAbsoluteTtlMs,
      graceMs: config.tokens.refreshGraceMs,
    }),
    mailer,
    now,
    passwords,
    resetUrl: config.resetUrl,
    verifyUrl: config.verifyUrl,
    onMailError: (error) =>
      app?.log.error({ err: { message: (error as Error).message } }, 'reset mail failed'),
    later: (task) => later.run(task),
    hashing: createHashQueue(),
  };

  app = await createApp({
    config,
    rampart,
    limits: { byAddress: limits.byAddress, byBody: limits.byBody, operational: limits.operational },
    metrics,
    readiness,
    ...(options.logStream ? { logStream: options.logStream } : {}),
  }).catch((error: unknown) => undo.fail(error));
  const shell = app;
  for (const message of startWarnings) shell.log.warn(message);
  if (keys.bootstrap.kind === 'file') {
    // The path only: the key itself is never printed or logged.
    shell.log.warn(
      { file: keys.bootstrap.path },
      'created the first admin API key in this file (mode 0600): read it, store it safely, delete the file',
    );
  }
  const byIdentity = limits.byIdentity.length > 0 ? shell.rampart.rateLimit(limits.byIdentity) : undefined;
  const retention = startRetention({
    config,
    storage,
    now,
    onError: (error) => shell.log.warn({ err: { message: (error as Error).message } }, 'retention failed'),
    onAuditPruned: (count, before) =>
      audit.record({
        type: 'audit_pruned',
        outcome: 'success',
        actor: 'system',
        detail: { count, before: new Date(before).toISOString() },
      }),
  });
  undo.add(() => retention.close());
  const context: Services = {
    config,
    storage,
    now,
    audit,
    keyRing,
    sessions,
    apiKeys: keys,
    accounts,
    metrics,
    limits,
    readiness,
    usage,
    retention,
    addressLists,
    userAdmin: {
      storage,
      now,
      endAllSessions: (userId) => sessions.endAllSessions(userId),
      endKeys: (userId, how) => keys.endOwnedBy(userId, how),
    },
    protect: (authOptions) => [shell.rampart.authenticate(authOptions), ...(byIdentity ? [byIdentity] : [])],
  };
  const ownRoutes = recordOwnRoutes(shell);
  await registerRoutes(shell, context);
  await options.routes?.(shell, context);
  // Forward auth and gateway routes come last: they may not shadow any route above.
  await gatewayRoutes(shell, context, ownRoutes).catch((error: unknown) =>
    shell.close().then(() => undo.fail(error)),
  );
  await shell.ready();
  let closing: Promise<void> | undefined;
  return {
    app: shell,
    context,
    rampart,
    idle: () => later.drain(),
    close() {
      closing ??= (async () => {
        await shell.close();
        await later.drain();
        retention.close();
        addressLists.close();
        await keys.close();
        await usage.close();
        await rampart.close();
        await sessions.close();
        keyRing.close();
        await redis?.close();
        audit.record({ type: 'sys_shutdown', outcome: 'info' });
        await audit.close();
        await mailer.close?.();
        await storage.close();
        flushLog();
      })();
      return closing;
    },
  };
}
