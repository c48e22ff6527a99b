/**
 * What Rampart's library face costs per request, measured side by side in one run:
 *
 * - the tutorial's Express app as the tutorial wrote it (jsonwebtoken + express-rate-limit)
 *   versus the same app on Rampart's Express adapter (security headers, the API limit, JWT);
 * - bare Fastify (the same JSON, no checks) versus Fastify with Rampart's plugin (security
 *   headers, the API limit, JWT).
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
    const token = jwt.sign({ userId: '123', role: 'admin' }, SECRET, { expiresIn: '1h' });
    app.get('/bench-token', async () => ({ token }));
    app.get('/api/protected', async () => ({
      message: 'Access granted',
      user: { userId: '123', role: 'admin' },
    }));
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
    command: [node, self, variant],
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

export async function adaptersBench(rounds = 2): Promise<string> {
  const options = { rounds, connections: 50, seconds: 10 };
  const expressRows = await compare(
    [
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
  const how = `50 connections, 10 s × ${rounds} interleaved rounds after a 2 s warm-up, medians; server on CPU 0, wrk on CPU 1`;
  return [
    `### Express: the tutorial's stack vs Rampart's adapter (GET /api/protected, ${how})`,
    '',
    table(expressRows, 'tutorial express (jsonwebtoken + express-rate-limit)'),
    '',
    `### Fastify: bare vs Rampart's plugin (GET /api/protected, ${how})`,
    '',
    table(fastifyRows, 'bare fastify'),
    '',
  ].join('\n');
}

const variant = process.argv[2] as Variant | undefined;
if (import.meta.url === `file://${process.argv[1]}`) {
  if (variant !== undefined) await serve(variant);
  else console.log(await adaptersBench(Number(process.env.ROUNDS ?? 2)));
}
