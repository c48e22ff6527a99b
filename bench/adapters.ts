/**
 * What Rampart's library face costs per request, measured side by side in one run:
 *
 * - the tutorial's Express app as the tutorial wrote it (jsonwebtoken + express-rate-limit)
 *   versus the same app on Rampart's Express adapter (security headers, the API limit, JWT);
 * - bare Express, Fastify and Hono (the same JSON, no checks) versus each with Rampart's
 *   adapter (security headers, the API limit, JWT): the library targets of `npm run bench`.
 *
 * Every contender answers GET /api/protected with a valid bearer token. The limits are raised
 * to 10^9 per 15 minutes on both sides so that the limiter counts every request and refuses
 * none. Rampart's verifier caches verified tokens by default (one token here, so every request
 * after the first is a cache hit); the `no token cache` rows turn that off, so each request
 * checks the HMAC as jsonwebtoken does.
 *
 *   ./node_modules/.bin/node bench/adapters.ts           (needs wrk and taskset)
 *
 * Each server runs pinned to CPU 0 (`taskset -c 0`), wrk pinned to CPU 1 (`taskset -c 1`,
 * one thread, 50 connections, 10 s, loopback), contenders interleaved over the rounds.
 * `node bench/adapters.ts <contender>` starts one contender alone.
 */
import jwt from 'jsonwebtoken';
import { type Contender, compare, table } from './lib.ts';

const SECRET = 'bench-secret-of-at-least-thirty-two-bytes';
const ISSUER = 'https://api.example.com';
const HUGE = 1_000_000_000;

type Variant =
  | 'express-bare'
  | 'hono-bare'
  | 'hono-rampart'
  | 'express-tutorial'
  | 'express-rampart'
  | 'express-rampart-nocache'
  | 'fastify-bare'
  | 'fastify-rampart'
  | 'fastify-rampart-nocache';

async function rampartPolicy(cache: boolean) {
  const { createRampart } = await import('rampart');
  return createRampart({
    jwt: {
      secret: SECRET,
      issuer: ISSUER,
      audience: ISSUER,
      accessTtl: '1h',
      ...(cache ? {} : { cache: false }),
    },
    rateLimit: { api: { limit: HUGE } },
    onEvent: () => {},
  });
}

async function serve(variant: Variant): Promise<void> {
  const port = Number(process.env.PORT ?? 0);
  const barePayload = { message: 'Access granted', user: { userId: '123', role: 'admin' } };
  const bareToken = jwt.sign({ userId: '123', role: 'admin' }, SECRET, { expiresIn: '1h' });
  if (variant === 'express-bare') {
    // The same JSON with no checks at all: what Express itself costs.
    const express = (await import('express')).default;
    const app = express();
    app.disable('x-powered-by');
    app.get('/bench-token', (_req, res) => res.json({ token: bareToken }));
    app.get('/api/protected', (_req, res) => res.json(barePayload));
    const server = app.listen(port, '127.0.0.1', () =>
      console.log(`listening ${(server.address() as { port: number }).port}`),
    );
    process.on('SIGTERM', () => server.close(() => process.exit(0)));
    return;
  }
  if (variant.startsWith('hono-')) {
    const { serve: serveHono } = await import('@hono/node-server');
    const { Hono } = await import('hono');
    const app = new Hono();
    if (variant === 'hono-bare') {
      app.get('/bench-token', (c) => c.json({ token: bareToken }));
      app.get('/api/protected', (c) => c.json(barePayload));
    } else {
      const { createHonoRampart } = await import('rampart/hono');
      const rampart = await rampartPolicy(true);
      const security = createHonoRampart(rampart);
      app.use(security.securityHeaders, security.apiLimiter);
      app.get('/bench-token', async (c) =>
        c.json({ token: (await rampart.issueAccessToken({ sub: '123', role: 'admin' })).token }),
      );
      app.get('/api/protected', security.authenticateToken, (c) => {
        const { userId, role } = c.get('principal');
        return c.json({ message: 'Access granted', user: { userId, role } });
      });
      app.notFound(security.notFound);
      app.onError(security.errorHandler);
    }
    const server = serveHono({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) =>
      console.log(`listening ${info.port}`),
    );
    process.on('SIGTERM', () => server.close(() => process.exit(0)));
    return;
  }
  if (variant === 'express-tutorial') {
    // The tutorial's code, with the limit raised (and its 429 handler's Redis bookkeeping left
    // out: no request here is ever refused, so it would never run).
    const express = (await import('express')).default;
    const rateLimit = (await import('express-rate-limit')).default;
    const app = express();
    const JWT_SECRET = SECRET;
    const generateToken = (user: { id: string; role: string }) =>
      jwt.sign({ userId: user.id, role: user.role }, JWT_SECRET, { expiresIn: '1h', algorithm: 'HS256' });
    type TutorialRequest = import('express').Request & { user?: unknown };
    const authenticateToken = (req: TutorialRequest, res: import('express').Response, next: () => void) => {
      const authHeader = req.headers.authorization;
      const token = authHeader?.split(' ')[1];
      if (!token) return res.status(401).json({ error: 'No token provided' });
      jwt.verify(token, JWT_SECRET, (err: unknown, user: unknown) => {
        if (err) return res.status(403).json({ error: 'Invalid token' });
        req.user = user;
        next();
      });
    };
    const apiLimiter = rateLimit({
      windowMs: 15 * 60 * 1000,
      max: HUGE,
      message: 'Too many requests from this IP, please try again later',
    });
    app.use(apiLimiter);
    app.get('/bench-token', (_req, res) => res.json({ token: generateToken({ id: '123', role: 'admin' }) }));
    app.get('/api/protected', authenticateToken, (req: TutorialRequest, res) => {
      res.json({ message: 'Access granted', user: req.user });
    });
    const server = app.listen(port, '127.0.0.1', () =>
      console.log(`listening ${(server.address() as { port: number }).port}`),
    );
    process.on('SIGTERM', () => server.close(() => process.exit(0)));
    return;
  }
  if (variant.startsWith('express-rampart')) {
    const express = (await import('express')).default;
    const { createExpressRampart } = await import('rampart/express');
    const rampart = await rampartPolicy(variant === 'express-rampart');
    const security = createExpressRampart(rampart);
    const app = express();
    app.disable('x-powered-by');
    app.use(security.securityHeaders, security.apiLimiter);
    app.get('/bench-token', async (_req, res) => {
      res.json({ token: (await rampart.issueAccessToken({ sub: '123', role: 'admin' })).token });
    });
    app.get('/api/protected', security.authenticateToken, (req, res) => {
      res.json({
        message: 'Access granted',
        user: { userId: req.principal!.userId, role: req.principal!.role },
      });
    });
    app.use(security.notFound, security.errorHandler);
    const server = app.listen(port, '127.0.0.1', () =>
      console.log(`listening ${(server.address() as { port: number }).port}`),
    );
    process.on('SIGTERM', () => server.close(() => process.exit(0)));
    return;
  }
  const Fastify = (await import('fastify')).default;
  const app = Fastify({ logger: false });
  if (variant === 'fastify-bare') {
    app.get('/bench-token', async () => ({ token: bareToken }));
    app.get('/api/protected', async () => barePayload);
  } else {
    const { rampartPlugin } = await import('rampart/fastify');
    const rampart = await rampartPolicy(variant === 'fastify-rampart');
    await app.register(rampartPlugin, { policy: rampart });
    app.addHook('onRequest', app.rampart.apiLimiter);
    app.get('/bench-token', async () => ({
      token: (await rampart.issueAccessToken({ sub: '123', role: 'admin' })).token,
    }));
    app.get('/api/protected', { preHandler: app.rampart.authenticateToken }, async (request) => ({
      message: 'Access granted',
      user: { userId: request.principal!.userId, role: request.principal!.role },
    }));
  }
  await app.listen({ port, host: '127.0.0.1' });
  console.log(`listening ${(app.server.address() as { port: number }).port}`);
  process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
}

const node = process.execPath;
const self = new URL(import.meta.url).pathname;

function contender(name: string, variant: Variant): Contender {
  return {
    name,
    command: [node, '--conditions=rampart-source', self, variant],
    path: '/api/protected',
    async prepare(url) {
      const { token } = (await (await fetch(`${url}/bench-token`)).json()) as { token: string };
      const headers = { authorization: `Bearer ${token}` };
      const check = await fetch(`${url}/api/protected`, { headers });
      if (check.status !== 200) throw new Error(`${name}: GET /api/protected answered ${check.status}`);
      return headers;
    },
  };
}

/** The library's rows: each adapter against its bare framework, and the targets they meet. */
export async function adaptersBench(
  options: { rounds: number; connections: number; seconds: number } = {
    rounds: 2,
    connections: 50,
    seconds: 10,
  },
): Promise<{ report: string; targets: ReadonlyArray<readonly [string, number, number]> }> {
  const expressRows = await compare(
    [
      contender('bare express (no checks)', 'express-bare'),
      contender('tutorial express (jsonwebtoken + express-rate-limit)', 'express-tutorial'),
      contender('rampart express adapter', 'express-rampart'),
      contender('rampart express adapter, no token cache', 'express-rampart-nocache'),
    ],
    options,
  );
  const fastifyRows = await compare(
    [
      contender('bare fastify', 'fastify-bare'),
      contender('fastify + rampart plugin', 'fastify-rampart'),
      contender('fastify + rampart plugin, no token cache', 'fastify-rampart-nocache'),
    ],
    options,
  );
  const honoRows = await compare(
    [contender('bare hono (@hono/node-server)', 'hono-bare'), contender('hono + rampart', 'hono-rampart')],
    options,
  );
  const rps = (rows: typeof expressRows, name: string) => rows.find((r) => r.name === name)!.rps;
  const targets = [
    [
      'library: Fastify plugin ≥ 0.75× bare Fastify',
      rps(fastifyRows, 'fastify + rampart plugin') / rps(fastifyRows, 'bare fastify'),
      0.75,
    ],
    [
      'library: Express adapter ≥ 0.85× bare Express',
      rps(expressRows, 'rampart express adapter') / rps(expressRows, 'bare express (no checks)'),
      0.85,
    ],
    [
      'library: Hono adapter ≥ 0.75× bare Hono',
      rps(honoRows, 'hono + rampart') / rps(honoRows, 'bare hono (@hono/node-server)'),
      0.75,
    ],
  ] as const;
  const how = `${options.connections} connections, ${options.seconds} s × ${options.rounds} interleaved rounds after a 2 s warm-up, medians; server on CPU 0, wrk on CPU 1`;
  const report = [
    `### Express: bare, the tutorial's stack, Rampart's adapter (GET /api/protected, ${how})`,
    '',
    table(expressRows, 'bare express (no checks)'),
    '',
    `### Fastify: bare vs Rampart's plugin (GET /api/protected, ${how})`,
    '',
    table(fastifyRows, 'bare fastify'),
    '',
    `### Hono on @hono/node-server: bare vs Rampart's middleware (GET /api/protected, ${how})`,
    '',
    table(honoRows, 'bare hono (@hono/node-server)'),
    '',
  ].join('\n');
  return { report, targets };
}

const variant = process.argv[2] as Variant | undefined;
if (import.meta.url === `file://${process.argv[1]}`) {
  if (variant !== undefined) await serve(variant);
  else {
    const { report, targets } = await adaptersBench({
      rounds: Number(process.env.ROUNDS ?? 2),
      connections: 50,
      seconds: 10,
    });
    console.log(report);
    for (const [name, value, goal] of targets)
      console.log(`${name}: ${value.toFixed(2)}× ${value >= goal ? 'met' : 'NOT met'}`);
  }
}
