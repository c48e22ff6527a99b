import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createAuditRecorder } from '../audit/index.ts';
import type { Clock } from '../lib/types.ts';
import { sqliteStorage } from '../storage/sqlite.ts';
import type { Storage } from '../storage/types.ts';
import { createApp, type ServerContext } from './app.ts';
import type { ServerConfig } from './config.ts';
import { registerRoutes } from './routes.ts';

export interface RampartServer {
  app: FastifyInstance;
  context: ServerContext;
  /** Stops accepting, lets in-flight requests finish, flushes events, closes storage. */
  close(): Promise<void>;
}

export interface CreateServerOptions {
  /** Storage to use instead of the data dir's SQLite database (tests). */
  storage?: Storage;
  logStream?: Writable;
  now?: Clock;
  /** Extra routes registered after Rampart's own (tests, embedding). */
  routes?: (app: FastifyInstance, context: ServerContext) => void | Promise<void>;
}

/** Wires configuration, storage, events and routes into a ready-to-listen server. */
export async function createRampartServer(
  config: ServerConfig,
  options: CreateServerOptions = {},
): Promise<RampartServer> {
  const now = options.now ?? Date.now;
  const storage = options.storage ?? sqliteStorage({ path: join(config.dataDir, 'rampart.db') });
  let app: FastifyInstance | undefined;
  const audit = createAuditRecorder({
    store: storage.audit,
    now,
    log: (event) => app?.log.info({ event }, 'security_event'),
    onError: (error) => app?.log.error({ err: { message: (error as Error).message } }, 'audit write failed'),
  });
  const context: ServerContext = { config, storage, audit, now, readiness: [] };
  app = createApp({ context, ...(options.logStream ? { logStream: options.logStream } : {}) });
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
        audit.record({ type: 'sys_shutdown', outcome: 'info' });
        await audit.close();
        await storage.close();
      })();
      return closing;
    },
  };
}
