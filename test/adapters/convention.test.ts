/**
 * The one middleware convention (names that take nothing are ready middleware, names that
 * take something are factories) and the types that carry: each misuse below is a type error
 * (`@ts-expect-error`, checked by `tsc` in `npm test`: an expected error that went away fails
 * the type check) and, where JavaScript lets it happen anyway, a TypeError that says what to
 * write instead. Handlers read validated parts as the schemas' output types, with no cast.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createRampart } from 'rampart';
import { createExpressRampart } from 'rampart/express';
import { createFastifyRampart } from 'rampart/fastify';
import { createHonoRampart } from 'rampart/hono';
import * as z from 'zod';

const jwt = {
  secret: 'convention-test-secret-of-32-bytes!',
  issuer: 'https://api.test',
  audience: 'https://api.test',
};
const signup = z.object({ email: z.email(), age: z.coerce.number().int() });
const search = z.object({ page: z.coerce.number().int().default(1) });

async function listen(server: Server): Promise<string> {
  if (!server.listening) await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('the types follow the options: a step that needs an option exists only with it', () => {
  const tokensOnly = createRampart({ jwt });
  void tokensOnly.authenticateToken;
  void tokensOnly.issueAccessToken;
  // @ts-expect-error: no apiKeys option, so no validateApiKey
  void tokensOnly.validateApiKey;
  // Made only for its type (an empty key set would be refused at run time).
  const publicKeys = () => createRampart({ jwt: { jwks: { keys: [] }, issuer: 'i', audience: 'a' } });
  const signer = (policy: ReturnType<typeof publicKeys>) =>
    // @ts-expect-error: public keys only, so nothing to sign with
    policy.issueAccessToken;
  assert.equal(typeof signer, 'function');
  const misspelt = () => {
    // @ts-expect-error: a misspelt option is refused by the types too (and at run time)
    createRampart({ jwt: { ...jwt, isRevokd: () => false } });
  };
  assert.throws(misspelt, /jwt\.isRevokd: unknown option/);

  const security = createExpressRampart({ jwt });
  void security.authenticateToken;
  assert.throws(
    // @ts-expect-error: no cors option, so no ready cors middleware (corsWith(options) is there)
    () => security.cors,
    /^TypeError: cors\.origins: /,
  );
  void security.corsWith({ origins: ['https://app.example.com'] });
  // @ts-expect-error: no apiKeys option
  void createHonoRampart({ jwt }).validateApiKey;
  const hooks = createFastifyRampart({ cors: { origins: ['https://app.example.com'] } });
  assert.throws(
    // @ts-expect-error: no jwt option
    () => hooks.authenticateToken,
    /^TypeError: authenticateToken: needs the jwt option/,
  );
  // A policy passed as createRampart()'s result carries what it was configured with.
  void createExpressRampart(tokensOnly).authenticateToken;
  // @ts-expect-error: the policy has no apiKeys
  void createExpressRampart(tokensOnly).validateApiKey;
});

test('Express: ready middleware called like a factory, and a factory passed as middleware, both say what to write', async () => {
  const security = createExpressRampart({ jwt, cors: { origins: ['https://app.example.com'] } });
  const called = () => {
    // @ts-expect-error: ready middleware takes (req, res, next); it is not called to make one
    security.cors();
  };
  assert.throws(
    called,
    /^TypeError: security\.cors is ready middleware, not a factory: pass it as it is, e\.g\. app\.use\(security\.cors\)/,
  );
  const calledToo = () => {
    // @ts-expect-error: likewise
    security.jsonBody();
  };
  assert.throws(calledToo, /security\.jsonBody is ready middleware/);

  const errors: unknown[] = [];
  const logged = createExpressRampart({ jwt, onError: (error) => errors.push(error) });
  const app = express();
  // Express's types take any one-argument function as an error handler (`err: any`), so this
  // one compiles; it fails on the first request, and the 500's log line says why.
  app.use(logged.authenticate as unknown as express.RequestHandler);
  app.use(logged.notFound, logged.errorHandler);
  const server = app.listen(0, '127.0.0.1');
  try {
    const answer = await fetch(`${await listen(server)}/x`);
    assert.equal(answer.status, 500);
    assert.match(
      String(errors[0]),
      /^TypeError: authenticate is a factory, not middleware: call it and pass what it returns, e\.g\. security\.authenticate\(\{ roles: \['admin'\] \}\)/,
    );
  } finally {
    server.close();
  }
});

test('Express: handlers read the validated body and query as the schemas’ output, no cast', async () => {
  const security = createExpressRampart({ jwt });
  const app = express();
  app.post('/users', security.authenticateToken, security.validateUserInput(signup), (req, res) => {
    const { email, age } = req.body; // { email: string; age: number }
    const principal = security.principal(req); // a Principal, no `!`
    res.json({ email, nextAge: age + 1, user: principal.userId });
  });
  app.get('/search/:id', security.validate({ query: search }), (req, res) => {
    const page: number = req.query.page; // coerced and defaulted by the schema
    res.json({ page: page + 1, id: req.params.id });
  });
  app.get('/open', (req, res) => {
    // Without an authenticating middleware the accessor answers 401, never a crash.
    res.json(security.principal(req));
  });
  app.use(security.notFound, security.errorHandler);
  const server = app.listen(0, '127.0.0.1');
  try {
    const url = await listen(server);
    const { token } = await security.policy.issueAccessToken({ sub: 'usr_1', role: 'user' });
    const created = await fetch(`${url}/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', age: '36' }),
    });
    assert.deepEqual(await created.json(), { email: 'ada@example.com', nextAge: 37, user: 'usr_1' });
    assert.deepEqual(await (await fetch(`${url}/search/7?page=2`)).json(), { page: 3, id: '7' });
    const open = await fetch(`${url}/open`);
    assert.equal(open.status, 401);
    assert.equal(open.headers.get('www-authenticate'), 'Bearer realm="rampart"');
  } finally {
    server.close();
    await security.policy.close();
  }
});

test('Fastify: a route’s request.body and request.query are the schemas’ output; misuse says what to write', async () => {
  const security = createFastifyRampart({ jwt, onError: () => {} });
  const app = Fastify();
  await app.register(security.plugin);
  // @ts-expect-error: ready hooks are not called
  assert.throws(() => security.securityHeaders(), /security\.securityHeaders is ready middleware/);
  app.post(
    '/users',
    { onRequest: security.authenticateToken, preHandler: security.validateUserInput(signup) },
    async (request) => ({
      email: request.body.email,
      nextAge: request.body.age + 1,
      user: security.principal(request).userId,
    }),
  );
  app.get('/search', { preHandler: security.validate({ query: search }) }, async (request) => ({
    page: request.query.page + 1,
  }));
  // @ts-expect-error: a factory is not a hook
  app.get('/wrong', { preHandler: security.rateLimit }, async () => 'never');
  const { token } = await security.policy.issueAccessToken({ sub: 'usr_2', role: 'user' });
  const created = await app.inject({
    method: 'POST',
    url: '/users',
    headers: { authorization: `Bearer ${token}` },
    payload: { email: 'ada@example.com', age: '36' },
  });
  assert.deepEqual(created.json(), { email: 'ada@example.com', nextAge: 37, user: 'usr_2' });
  assert.deepEqual((await app.inject({ url: '/search?page=4' })).json(), { page: 5 });
  const wrong = await app.inject({ url: '/wrong' });
  assert.equal(wrong.statusCode, 500);
  await app.close();
});

type MyEnv = { Bindings: { region: string }; Variables: { tenant: string } };

test('Hono: works in an app with its own env; validated data by c.req.valid() and c.get(), no cast', async () => {
  const security = createHonoRampart({ jwt, onError: () => {} });
  const app = new Hono<MyEnv>();
  app.use(async (c, next) => {
    c.set('tenant', 'acme');
    await next();
  });
  app.use(security.securityHeaders, security.apiLimiter);
  app.post('/users', security.authenticateToken, security.validateUserInput(signup), (c) => {
    const body = c.req.valid('json'); // { email: string; age: number }
    const same = c.get('validated').body;
    return c.json({
      email: body.email,
      nextAge: same.age + 1,
      user: c.get('principal').userId, // a Principal after authenticateToken
      tenant: c.get('tenant'), // the app's own variable, still typed
    });
  });
  app.get('/search', security.validate({ query: search }), (c) =>
    c.json({ page: c.req.valid('query').page + 1 }),
  );
  // @ts-expect-error: a factory is not middleware
  app.get('/wrong', security.validateUserInput, (c) => c.text('never'));
  app.notFound(security.notFound);
  app.onError(security.errorHandler);
  // @ts-expect-error: ready middleware is not called
  assert.throws(() => security.apiLimiter(), /security\.apiLimiter is ready middleware/);

  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  try {
    const url = await listen(server);
    const { token } = await security.policy.issueAccessToken({ sub: 'usr_3', role: 'user' });
    const created = await fetch(`${url}/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', age: '36' }),
    });
    assert.deepEqual(await created.json(), {
      email: 'ada@example.com',
      nextAge: 37,
      user: 'usr_3',
      tenant: 'acme',
    });
    assert.deepEqual(await (await fetch(`${url}/search?page=1`)).json(), { page: 2 });
    const wrong = await fetch(`${url}/wrong`);
    assert.equal(wrong.status, 500);
    assert.equal((await fetch(`${url}/nowhere`)).status, 404);
  } finally {
    server.close();
    await security.policy.close();
  }
});
