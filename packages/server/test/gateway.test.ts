/**
 * Gateway mode without a proxy in front: `rampart serve` itself enforces a route's policy and
 * proxies to a real upstream (a node:http server that records what reached it).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type GatewayServer, gatewayServer, send } from './gateway-helpers.ts';
import { startUpstream, type Upstream } from './upstream.ts';

let upstream: Upstream;
let hanging: Server;
let closedPort: number;
let s: GatewayServer;

before(async () => {
  upstream = await startUpstream();
  // Accepts connections and never answers: a hung upstream.
  hanging = createServer(() => {});
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  // A port nobody listens on: a stopped upstream.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  s = await gatewayServer({
    rateLimit: { default: { limit: 100_000, window: '15m' } },
    routes: [
      {
        name: 'orders',
        method: ['GET', 'POST'],
        path: '/orders/*',
        upstream: upstream.url,
        require: { credential: 'apiKey', scopes: ['orders:read'] },
      },
      {
        name: 'limited',
        method: 'GET',
        path: '/limited',
        upstream: upstream.url,
        require: { credential: 'apiKey' },
        rateLimit: [{ key: 'apiKey', limit: 2, window: '1h' }],
      },
      {
        name: 'public',
        method: '*',
        path: '/public/:name',
        upstream: upstream.url,
        require: { credential: 'none' },
      },
      {
        name: 'down',
        method: 'GET',
        path: '/down',
        upstream: `http://127.0.0.1:${closedPort}`,
        require: { credential: 'none' },
      },
      {
        name: 'hung',
        method: 'GET',
        path: '/hung',
        upstream: `http://127.0.0.1:${(hanging.address() as { port: number }).port}`,
        require: { credential: 'none' },
        timeouts: { headers: '400ms' },
      },
      {
        name: 'checked',
        method: 'POST',
        path: '/checked',
        upstream: upstream.url,
        require: { credential: 'none' },
        body: {
          schema: {
            type: 'object',
            additionalProperties: false,
            required: ['sku'],
            properties: {
              sku: { type: 'string', pattern: '^[A-Z]{3}-[0-9]+$' },
              quantity: { type: 'integer', minimum: 1 },
            },
          },
        },
      },
    ],
  });
});

after(async () => {
  await s?.close();
  await upstream?.stop();
  hanging?.close();
});

describe('the policy of a gateway route', () => {
  test('no credential: 401 with WWW-Authenticate, and the upstream sees nothing', async () => {
    const before = upstream.received.length;
    const res = await send(`${s.url}/orders/1`);
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="rampart"');
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json().code, 'UNAUTHENTICATED');
    assert.equal(upstream.received.length, before);
  });

  test('a key without the scope: 403 insufficient_scope, and the upstream sees nothing', async () => {
    const { key } = await s.key(['billing:read']);
    const before = upstream.received.length;
    const res = await send(`${s.url}/orders/1`, { headers: { 'x-api-key': key } });
    assert.equal(res.status, 403);
    assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope", scope="orders:read"/);
    assert.equal(upstream.received.length, before);
  });

  test('a valid key: 200 from the upstream, which sees the identity and never the credential', async () => {
    const { id, key } = await s.key(['orders:read']);
    const res = await send(`${s.url}/orders/1?expand=items`, {
      headers: {
        'x-api-key': key,
        cookie: 'session=secret',
        'x-rampart-roles': 'admin',
        'x-rampart-subject': 'forged',
      },
    });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json(), { ok: true });
    const seen = upstream.received.at(-1)!;
    assert.equal(seen.url, '/orders/1?expand=items');
    assert.equal(seen.headers['x-rampart-key-id'], id);
    assert.equal(seen.headers['x-rampart-subject'], id);
    assert.equal(seen.headers['x-rampart-scopes'], 'orders:read');
    assert.equal(
      seen.headers['x-rampart-roles'],
      undefined,
      'a role the client wrote in never reaches the upstream',
    );
    for (const name of ['authorization', 'x-api-key', 'cookie'])
      assert.equal(seen.headers[name], undefined, name);
    assert.doesNotMatch(JSON.stringify(seen.rawHeaders), new RegExp(key));
  });

  test('a bearer API key is stripped the same way', async () => {
    const { key } = await s.key(['orders:read']);
    assert.equal(
      (await send(`${s.url}/orders/2`, { headers: { authorization: `Bearer ${key}` } })).status,
      200,
    );
    assert.equal(upstream.received.at(-1)!.headers.authorization, undefined);
  });

  test("the route's limit: the next request is 429 with RateLimit fields and Retry-After", async () => {
    const { key } = await s.key([]);
    const first = await send(`${s.url}/limited`, { headers: { 'x-api-key': key } });
    assert.equal(first.status, 200);
    assert.match(String(first.headers.ratelimit), /"route-limited-1";r=1;t=\d+/);
    assert.equal((await send(`${s.url}/limited`, { headers: { 'x-api-key': key } })).status, 200);
    const before = upstream.received.length;
    const refused = await send(`${s.url}/limited`, { headers: { 'x-api-key': key } });
    assert.equal(refused.status, 429);
    assert.equal(refused.json().code, 'RATE_LIMITED');
    assert.match(String(refused.headers['retry-after']), /^\d+$/);
    assert.match(String(refused.headers['ratelimit-policy']), /"route-limited-1";q=2;w=3600/);
    assert.match(String(refused.headers.ratelimit), /"route-limited-1";r=0;t=\d+/);
    assert.equal(upstream.received.length, before);
  });
});

describe('what crosses to the upstream', () => {
  test('hop-by-hop fields, and a field the client lists in Connection, do not reach the upstream', async () => {
    const res = await send(`${s.url}/public/a`, {
      headers: {
        connection: 'keep-alive, x-secret',
        'x-secret': 'hunter2',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic eDp5',
        upgrade: 'websocket',
        'x-kept': 'yes',
      },
    });
    assert.equal(res.status, 200, res.body);
    const seen = upstream.received.at(-1)!;
    for (const name of ['x-secret', 'keep-alive', 'te', 'proxy-authorization', 'upgrade']) {
      assert.equal(seen.headers[name], undefined, name);
    }
    assert.notEqual(seen.headers.connection, 'keep-alive, x-secret');
    assert.equal(seen.headers['x-kept'], 'yes');
  });

  test('hop-by-hop fields of the upstream answer do not reach the client', async () => {
    upstream.handle = (_req, res) => {
      res.writeHead(200, {
        connection: 'x-internal',
        'x-internal': 'secret',
        'x-visible': 'ok',
        'content-type': 'text/plain',
      });
      res.end('hi');
    };
    try {
      const res = await send(`${s.url}/public/b`);
      assert.equal(res.body, 'hi');
      assert.equal(res.headers['x-internal'], undefined);
      assert.equal(res.headers['x-visible'], 'ok');
    } finally {
      upstream.handle = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      };
    }
  });

  test('X-Forwarded-For is the resolved client address: a spoofed one from an untrusted peer is not passed on', async () => {
    await send(`${s.url}/public/c`, {
      headers: {
        'x-forwarded-for': '203.0.113.66',
        'x-forwarded-host': 'evil.test',
        'x-forwarded-proto': 'https',
        host: 'shop.test',
      },
    });
    const seen = upstream.received.at(-1)!;
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], 'shop.test');
    assert.match(String(seen.headers['x-request-id']), /^req_/);
  });

  test('a path not in normal form is refused before the policy and the upstream (/public/..%2F)', async () => {
    const before = upstream.received.length;
    for (const path of [
      '/public/..%2Forders',
      '/orders/a/../../public/x',
      '/public/a%5C..',
      '/public/%2e%2e',
    ]) {
      const res = await send(`${s.url}${path}`);
      assert.equal(res.status, 400, path);
      assert.equal(res.json().code, 'BAD_REQUEST');
    }
    assert.equal(upstream.received.length, before);
  });
});

describe('upstream failures', () => {
  test('a stopped upstream is 502 problem+json', async () => {
    const res = await send(`${s.url}/down`);
    assert.equal(res.status, 502);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json().code, 'BAD_GATEWAY');
    assert.doesNotMatch(res.body, new RegExp(String(closedPort)));
  });

  test('a hung upstream is 504 problem+json once the headers timeout has passed', async () => {
    const started = performance.now();
    const res = await send(`${s.url}/hung`);
    const elapsed = performance.now() - started;
    assert.equal(res.status, 504);
    assert.equal(res.json().code, 'GATEWAY_TIMEOUT');
    // Not before the configured 400 ms (an upper bound would be a wall-clock threshold).
    assert.ok(elapsed >= 400, `answered after ${elapsed} ms`);
  });
});

describe('body validation by JSON Schema', () => {
  test('an invalid body is 400 VALIDATION_FAILED with field errors, and the upstream sees nothing', async () => {
    const before = upstream.received.length;
    const res = await send(`${s.url}/checked`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sku: 'nope', quantity: 0, extra: 1 }),
    });
    assert.equal(res.status, 400);
    assert.equal(res.json().code, 'VALIDATION_FAILED');
    assert.deepEqual(
      (res.json().errors as Array<{ path: string; code: string }>).map((e) => [e.path, e.code]),
      [
        ['', 'unrecognized_keys'],
        ['/sku', 'invalid_format'],
        ['/quantity', 'too_small'],
      ],
    );
    assert.equal(upstream.received.length, before);
  });

  test('a valid body reaches the upstream as the JSON that was checked (duplicate keys cannot smuggle another value)', async () => {
    const res = await send(`${s.url}/checked`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"sku":"<script>","sku":"ABC-1"}',
    });
    assert.equal(res.status, 200, res.body);
    const seen = upstream.received.at(-1)!;
    assert.equal(seen.body, '{"sku":"ABC-1"}');
    assert.equal(seen.headers['content-length'], String(seen.body.length));
  });

  test('a body of another type is 415', async () => {
    const res = await send(`${s.url}/checked`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    assert.equal(res.status, 415);
  });
});

test("Rampart's own routes keep precedence", async () => {
  const res = await send(`${s.url}/healthz`);
  assert.deepEqual(res.json(), { status: 'ok' });
});
