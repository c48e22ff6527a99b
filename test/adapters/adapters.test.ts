/**
 * What each adapter owes its framework beyond the shared answers of the conformance suite:
 * the Fastify plugin's encapsulation and lifecycle, Hono's body still readable by handlers,
 * Express passing a failed step to its error handler, and options checked at creation.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createRampart } from 'rampart';
import { createExpressRampart } from 'rampart/express';
import { rampartPlugin } from 'rampart/fastify';
import { createHonoRampart, type RampartEnv } from 'rampart/hono';
import * as z from 'zod';

const jwt = {
  secret: 'adapter-test-secret-of-32-bytes-min!',
  issuer: 'https://i.test',
  audience: 'https://i.test',
};

test('the Fastify plugin reaches routes in child plugins (skip-override)', async () => {
  const app = Fastify();
  await app.register(rampartPlugin, { policy: { jwt } });
  await app.register(async (child) => {
    child.get('/child', { preHandler: child.rampart.authenticateToken }, async (request) => ({
      user: request.principal?.userId,
    }));
  });
  const token = (await app.rampart.policy.issueAccessToken({ sub: 'usr_1', role: 'user' })).token;
  const granted = await app.inject({ url: '/child', headers: { authorization: `Bearer ${token}` } });
  assert.equal(granted.statusCode, 200);
  assert.deepEqual(granted.json(), { user: 'usr_1' });
  const refused = await app.inject({ url: '/child' });
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.headers['x-frame-options'], 'DENY');
  await app.close();
});

test('the Fastify plugin’s JSON errors keep their status under Fastify’s own error handler', async () => {
  const app = Fastify();
  await app.register(rampartPlugin, { policy: createRampart({}), errorHandler: false });
  app.post('/echo', async (request) => request.body);
  const answer = await app.inject({
    method: 'POST',
    url: '/echo',
    headers: { 'content-type': 'application/json' },
    payload: '{"__proto__":{"x":1}}',
  });
  assert.equal(answer.statusCode, 400);
  await app.close();
});

test('Hono handlers can still read the body after Rampart validated it', async () => {
  const security = createHonoRampart({});
  const app = new Hono<RampartEnv>();
  app.post('/echo', security.validateUserInput(z.object({ n: z.number() })), async (c) =>
    c.json({ raw: await c.req.json(), validated: c.get('validated')!.body }),
  );
  const answer = await app.request('/echo', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': '7' },
    body: '{"n":1}',
  });
  assert.equal(answer.status, 200);
  assert.deepEqual(await answer.json(), { raw: { n: 1 }, validated: { n: 1 } });
  await security.policy.close();
});

test('a step that fails (a revocation store down) reaches the Express error handler as problem+json', async () => {
  const rampart = createRampart({
    jwt: {
      ...jwt,
      isRevoked: () => {
        throw new Error('redis: connection refused');
      },
    },
    onError: () => {},
  });
  const security = createExpressRampart(rampart);
  const app = express();
  app.get('/x', security.authenticateToken, (_req, res) => res.json({ ok: true }));
  app.use(security.errorHandler);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const token = (await rampart.issueAccessToken({ sub: 'usr_1', role: 'user' })).token;
    const answer = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(answer.status, 500);
    assert.equal(answer.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.ok(!(await answer.text()).includes('redis'));
  } finally {
    server.closeAllConnections();
    server.close();
    await rampart.close();
  }
});

test('every adapter checks the policy options at creation, naming the field', async () => {
  const bad = { jwt: { ...jwt, secret: 'short' } };
  assert.throws(() => createExpressRampart(bad), /^TypeError: jwt\.secret: /);
  assert.throws(() => createHonoRampart(bad), /^TypeError: jwt\.secret: /);
  const app = Fastify();
  app.register(rampartPlugin, { policy: bad });
  await assert.rejects(async () => app.ready(), /jwt\.secret: /);
  assert.throws(
    // @ts-expect-error: no jwt option, so no authenticateToken in the type either
    () => createExpressRampart({}).authenticateToken,
    /^TypeError: authenticateToken: needs the jwt option/,
  );
});
