/**
 * The conformance app, written once per face: the same policy (JWT, API key with a permission,
 * the two limits, body and query validation, CORS, security headers, problem+json errors) and
 * the same routes, on Express, Fastify and Hono through the library's adapters, and on
 * `rampart serve` itself (its own routes plus these, registered on the server's engine). Each
 * starts on 127.0.0.1, port 0, and is stopped by `close()`.
 */
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createRampart, type Rampart, type RampartOptions, type SecurityEvent } from 'rampart';
import { createExpressRampart } from 'rampart/express';
import { rampartPlugin } from 'rampart/fastify';
import { createHonoRampart, type RampartEnv } from 'rampart/hono';
import * as z from 'zod';
import { userInput } from '../../examples/shared/policy.ts';
import { loadConfig } from '../../packages/server/src/server/config.ts';
import { createRampartServer } from '../../packages/server/src/server/server.ts';
import { memoryStorage } from '../../packages/server/src/storage/memory.ts';

export const searchQuery = z.object({
  q: z.string().min(2),
  page: z.coerce.number().int().positive().default(1),
});

/** The API keys a target serves: the library targets share one registry; the server makes its own. */
export interface TargetKeys {
  /** Scope `read`. */
  read: string;
  /** Scope `write`, 3 credits. */
  write: string;
  /** Revoked. */
  revoked: string;
  /** Key id → what the key is, to compare events across targets. */
  names: Record<string, string>;
}

export interface RunningApp {
  name: 'express' | 'fastify' | 'hono' | 'rampart serve';
  url: string;
  events: SecurityEvent[];
  /** Set on the server target; the library targets use the shared registry's keys. */
  keys?: TargetKeys;
  close(): Promise<void>;
}

/** A failure planted in a route: its message must never reach the client. */
export const SECRET_FAILURE = 'connect ECONNREFUSED postgres://admin:hunter2@db:5432';

export type PolicyFactory = (events: SecurityEvent[]) => RampartOptions;

function policyOf(makePolicy: PolicyFactory): { rampart: Rampart; events: SecurityEvent[] } {
  const events: SecurityEvent[] = [];
  return { rampart: createRampart(makePolicy(events)), events };
}

async function listen(server: Server): Promise<string> {
  if (!server.listening) await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export async function expressApp(makePolicy: PolicyFactory): Promise<RunningApp> {
  const { rampart, events } = policyOf(makePolicy);
  const security = createExpressRampart(rampart);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // The limit comes before CORS: a preflight is a request too, and it is counted.
  app.use(security.securityHeaders, security.apiLimiter, security.cors, security.jsonBody);
  app.get('/api/protected', security.authenticateToken, (req, res) => {
    res.json({
      message: 'Access granted',
      user: { userId: req.principal!.userId, role: req.principal!.role },
    });
  });
  app.get('/api/admin', security.authenticate({ roles: ['admin'] }), (_req, res) => {
    res.json({ admin: true });
  });
  app.get('/api/data', security.validateApiKey('read'), (req, res) => {
    res.json({ data: ['alpha', 'beta'], keyId: req.principal!.keyId });
  });
  app.get('/api/write', security.validateApiKey('write'), (req, res) => {
    res.json({ written: true, keyId: req.principal!.keyId });
  });
  app.post('/api/users', security.validateUserInput(userInput), (req, res) => {
    res.status(201).json({ email: req.body.email, name: req.body.name });
  });
  app.get('/api/search', security.validate({ query: searchQuery }), (req, res) => {
    res.json({ query: req.validated!.query });
  });
  app.post('/api/reset-password', security.sensitiveLimiter, (_req, res) => {
    res.status(202).json({ status: 'accepted' });
  });
  app.get('/api/boom', () => {
    throw new Error(SECRET_FAILURE);
  });
  app.use(security.notFound, security.errorHandler);
  const server = app.listen(0, '127.0.0.1');
  return {
    name: 'express',
    url: await listen(server),
    events,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rampart.close();
    },
  };
}

export async function fastifyApp(makePolicy: PolicyFactory): Promise<RunningApp> {
  const { rampart, events } = policyOf(makePolicy);
  const app = Fastify();
  await app.register(rampartPlugin, { policy: rampart });
  app.addHook('onRequest', app.rampart.apiLimiter);
  app.addHook('onRequest', app.rampart.cors);
  app.get('/api/protected', { preHandler: app.rampart.authenticateToken }, async (request) => ({
    message: 'Access granted',
    user: { userId: request.principal!.userId, role: request.principal!.role },
  }));
  app.get('/api/admin', { preHandler: app.rampart.authenticate({ roles: ['admin'] }) }, async () => ({
    admin: true,
  }));
  app.get('/api/data', { preHandler: app.rampart.validateApiKey('read') }, async (request) => ({
    data: ['alpha', 'beta'],
    keyId: request.principal!.keyId,
  }));
  app.get('/api/write', { preHandler: app.rampart.validateApiKey('write') }, async (request) => ({
    written: true,
    keyId: request.principal!.keyId,
  }));
  app.post('/api/users', { preHandler: app.rampart.validateUserInput(userInput) }, async (request, reply) => {
    const body = request.body as { email: string; name: string };
    return reply.code(201).send({ email: body.email, name: body.name });
  });
  app.get('/api/search', { preHandler: app.rampart.validate({ query: searchQuery }) }, async (request) => ({
    query: request.query,
  }));
  app.post('/api/reset-password', { preHandler: app.rampart.sensitiveLimiter }, async (_request, reply) =>
    reply.code(202).send({ status: 'accepted' }),
  );
  app.get('/api/boom', async () => {
    throw new Error(SECRET_FAILURE);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    name: 'fastify',
    url: await listen(app.server),
    events,
    close: async () => {
      await app.close();
      await rampart.close();
    },
  };
}

export async function honoApp(makePolicy: PolicyFactory): Promise<RunningApp> {
  const { rampart, events } = policyOf(makePolicy);
  const security = createHonoRampart(rampart);
  const app = new Hono<RampartEnv>();
  // The limit comes before CORS: a preflight is a request too, and it is counted.
  app.use(security.securityHeaders, security.apiLimiter, security.cors, security.jsonBody);
  app.get('/api/protected', security.authenticateToken, (c) => {
    const principal = c.get('principal')!;
    return c.json({ message: 'Access granted', user: { userId: principal.userId, role: principal.role } });
  });
  app.get('/api/admin', security.authenticate({ roles: ['admin'] }), (c) => c.json({ admin: true }));
  app.get('/api/data', security.validateApiKey('read'), (c) =>
    c.json({ data: ['alpha', 'beta'], keyId: c.get('principal')!.keyId }),
  );
  app.get('/api/write', security.validateApiKey('write'), (c) =>
    c.json({ written: true, keyId: c.get('principal')!.keyId }),
  );
  app.post('/api/users', security.validateUserInput(userInput), (c) => {
    const body = c.get('validated')!.body as { email: string; name: string };
    return c.json({ email: body.email, name: body.name }, 201);
  });
  app.get('/api/search', security.validate({ query: searchQuery }), (c) =>
    c.json({ query: c.get('validated')!.query }),
  );
  app.post('/api/reset-password', security.sensitiveLimiter, (c) => c.json({ status: 'accepted' }, 202));
  app.get('/api/boom', () => {
    throw new Error(SECRET_FAILURE);
  });
  app.notFound(security.notFound);
  app.onError(security.errorHandler);
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  return {
    name: 'hono',
    url: await listen(server),
    events,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rampart.close();
    },
  };
}

/** What the server target is configured with, to match the library targets' policy. */
export interface ServerTargetOptions {
  secret: string;
  issuer: string;
  origin: string;
  now: () => number;
  /** The API limit (named `default`, as the library targets name theirs). */
  limit: number;
  bodyBytes: number;
  /** Failed authentications allowed per address. */
  failureBudget: number;
}

/**
 * `rampart serve` as a conformance target: its own configuration set to the library targets'
 * policy (HS256 with the same secret, issuer and audience, so one token works on all four; the
 * same CORS, body limit and API limit), the conformance routes registered on the server's own
 * engine, and API keys made by the server's key service (its store, its pepper).
 */
export async function serverApp(options: ServerTargetOptions): Promise<RunningApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rampart-conformance-'));
  const file = join(dataDir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      cors: { origins: [options.origin], credentials: true },
      limits: { bodyBytes: options.bodyBytes },
      rateLimit: {
        default: { limit: options.limit, window: '15m' },
        authFailures: { limit: options.failureBudget, window: '15m' },
      },
      tokens: { algorithm: 'HS256', issuer: options.issuer, audience: options.issuer },
      logLevel: 'silent',
    }),
  );
  const config = loadConfig(
    { RAMPART_DATA_DIR: dataDir, RAMPART_CONFIG: file, RAMPART_JWT_SECRET: options.secret },
    dataDir,
  );
  const events: SecurityEvent[] = [];
  const server = await createRampartServer(config, {
    storage: memoryStorage(),
    now: options.now,
    logStream: new PassThrough().resume(),
    onEvent: (event) => events.push(event),
    routes: (app, ctx) => {
      app.get('/api/admin', { preHandler: ctx.protect({ roles: ['admin'] }) }, async () => ({ admin: true }));
      app.get('/api/data', { preHandler: app.rampart.validateApiKey('read') }, async (request) => ({
        data: ['alpha', 'beta'],
        keyId: request.principal!.keyId,
      }));
      app.get('/api/write', { preHandler: app.rampart.validateApiKey('write') }, async (request) => ({
        written: true,
        keyId: request.principal!.keyId,
      }));
      app.post(
        '/api/users',
        { preHandler: app.rampart.validateUserInput(userInput) },
        async (request, reply) => {
          const body = request.body as { email: string; name: string };
          return reply.code(201).send({ email: body.email, name: body.name });
        },
      );
      app.get(
        '/api/search',
        { preHandler: app.rampart.validate({ query: searchQuery }) },
        async (request) => ({
          query: request.query,
        }),
      );
      app.post('/api/reset-password', { preHandler: app.rampart.sensitiveLimiter }, async (_request, reply) =>
        reply.code(202).send({ status: 'accepted' }),
      );
      app.get('/api/boom', async () => {
        throw new Error(SECRET_FAILURE);
      });
    },
  });
  const make = async (name: string, scopes: string[], credits?: number) => {
    const made = await server.context.apiKeys.create({
      name,
      ownerId: null,
      scopes,
      ...(credits !== undefined ? { credits: { remaining: credits } } : {}),
    });
    if (!made.ok) throw new Error(`could not make the ${name} key`);
    return made;
  };
  const read = await make('read', ['read']);
  const write = await make('write', ['write'], 3);
  const revoked = await make('revoked', ['read']);
  await server.context.apiKeys.revoke(revoked.record.id);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    name: 'rampart serve',
    url: await listen(server.app.server),
    events,
    keys: {
      read: read.key,
      write: write.key,
      revoked: revoked.key,
      names: { [read.record.id]: 'read', [write.record.id]: 'write', [revoked.record.id]: 'revoked' },
    },
    close: () => server.close(),
  };
}
