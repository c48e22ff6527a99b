import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createAuditRecorder } from 'rampart/internal/audit/index.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import { createAuthenticator } from 'rampart/internal/policy/authenticate.ts';
import { refreshPolicy } from 'rampart/internal/tokens/refresh-token.ts';
import { type PostgresStorage, postgresStorage } from '../storage/postgres.ts';
import { sqliteStorage } from '../storage/sqlite.ts';
import type { Storage } from '../storage/types.ts';
import { createApiKeyService } from './api-keys.ts';
import { createApp, flushLog, type ServerContext } from './app.ts';
import type { ServerConfig } from './config.ts';
import { outboxMailer, smtpMailer } from './mailer.ts';
import { createServerRateLimits } from './rate-limit.ts';
import { createMetrics } from './routes/admin.ts';
import { registerRoutes } from './routes.ts';
import type { Services } from './services.ts';
import { createSessionService } from './sessions.ts';
import { openKeyRing } from './signing-keys.ts';

export interface RampartServer {
  app: FastifyInstance;
  context: Services;
  /** Stops accepting, lets in-flight requests finish, flushes events, closes storage. */
  close(): Promise<void>;
}

export interface CreateServerOptions {
  /** Storage to use instead of the data dir's SQLite database (tests). */
  storage?: Storage;
  logStream?: Writable;
  now?: Clock;
  /**
   * Where settings kept out of ServerConfig are read: the API key pepper
   * (`RAMPART_API_KEY_PEPPER`, `RAMPART_API_KEY_LEGACY_SHA256`). Default `process.env`.
   */
  env?: NodeJS.ProcessEnv;
  /** Extra routes registered after Rampart's own (tests, embedding). */
  routes?: (app: FastifyInstance, context: ServerContext) => void | Promise<void>;
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

/** Wires configuration, storage, events, tokens and routes into a ready-to-listen server. */
export async function createRampartServer(
  config: ServerConfig,
  options: CreateServerOptions = {},
): Promise<RampartServer> {
  const now = options.now ?? Date.now;
  let app: FastifyInstance | undefined;
  const startWarnings: string[] = [];
  const warn = (message: string) => (app ? app.log.warn(message) : startWarnings.push(message));
  const storage =
    options.storage ??
    (await openStorage(config, (error) =>
      warn(`a database connection broke (${error.message}); new ones are made as needed`),
    ));
  const audit = createAuditRecorder({
    store: storage.audit,
    now,
    log: (event) => app?.log.info({ event }, 'security_event'),
    onError: (error) => app?.log.error({ err: { message: (error as Error).message } }, 'audit write failed'),
  });
  const closeStorage = async (error: unknown): Promise<never> => {
    await storage.close();
    throw error;
  };
  // With shared storage the signing keys are in the database, so every instance signs and
  // publishes the same ones; otherwise in the data dir.
  const keyRing = await openKeyRing(
    config,
    now,
    storage.signingKeys ? { store: storage.signingKeys } : undefined,
  ).catch(closeStorage);
  const sessions = await createSessionService({ config, storage, keys: keyRing, now, warn }).catch(
    (error: unknown) => {
      keyRing.close();
      return closeStorage(error);
    },
  );
  const mailer = config.mail.smtpUrl
    ? smtpMailer({ url: config.mail.smtpUrl, from: config.mail.from })
    : outboxMailer(config.dataDir);
  const metrics = createMetrics();
  const readiness: Services['readiness'] = [];
  const apiKeys = await oneInstanceAtATime(storage)(() =>
    createApiKeyService({
      config,
      storage,
      now,
      ...(options.env ? { env: options.env } : {}),
      onVerification: (code) => metrics.keyVerifications.inc({ code }),
      warn,
    }),
  ).catch(async (error: unknown) => {
    keyRing.close();
    await sessions.close();
    await storage.close();
    throw error;
  });
  const rateLimits = await createServerRateLimits({
    config,
    audit,
    now,
    readiness,
    onRefusal: (rule) => metrics.rateLimitRefusals.inc({ rule }),
  }).catch(async (error: unknown) => {
    keyRing.close();
    await sessions.close();
    await apiKeys.close();
    await storage.close();
    throw error;
  });
  const context: Services = {
    rateLimits,
    config,
    storage,
    audit,
    now,
    readiness,
    keyRing,
    sessions,
    mailer,
    refreshPolicy: refreshPolicy({
      idleTtlMs: config.tokens.refreshIdleTtlMs,
      absoluteTtlMs: config.tokens.refreshAbsoluteTtlMs,
      graceMs: config.tokens.refreshGraceMs,
    }),
    metrics,
    apiKeys,
    authenticator: apiKeys.withBootstrapBearer(
      createAuthenticator({
        apiKeyPrefixes: [config.apiKeys.prefix],
        verifyAccessToken: (token) => sessions.verifier.verify(token),
        verifyApiKey: (key) => apiKeys.verify(key),
        isBlocked: (ip) => rateLimits.authBlocked(ip),
        onFailure: (failure) => {
          rateLimits.recordAuthFailure(failure.ip);
          metrics.authentications.inc({
            credential: failure.kind,
            outcome: 'failure',
            reason: failure.reason,
          });
          audit.record({
            type: failure.reason === 'REVOKED' ? 'authn_token_revoked' : 'authn_token_invalid',
            outcome: 'failure',
            ip: failure.ip,
            detail: {
              via: failure.kind,
              reason: failure.reason,
              ...(failure.keyId ? { keyId: failure.keyId } : {}),
            },
          });
        },
      }),
    ),
  };
  app = createApp({ context, ...(options.logStream ? { logStream: options.logStream } : {}) });
  for (const message of startWarnings) app.log.warn(message);
  rateLimits.install(app);
  if (apiKeys.bootstrap.kind === 'file') {
    // The path only: the key itself is never printed or logged.
    app.log.warn(
      { file: apiKeys.bootstrap.path },
      'created the first admin API key in this file (mode 0600): read it, store it safely, delete the file',
    );
  }
  await registerRoutes(app, context);
  await options.routes?.(app, context);
  await app.ready();
  let closing: Promise<void> | undefined;
  return {
    app,
    context,
    close() {
      closing ??= (async () => {
        await app.close();
        await apiKeys.close();
        await rateLimits.close();
        await sessions.close();
        keyRing.close();
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
