/**
 * Forward auth through real proxies: Debian's nginx (`auth_request`) and Caddy
 * (`forward_auth`), started by the harness with the very configurations docs/gateway.md shows
 * (`test/harness/proxy-configs.ts`), in front of a real upstream that records what reached it.
 * Every answer is checked as the client receives it from the proxy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, type ProxyServer, startCaddy, startNginx } from '../../../test/harness/proxies.ts';
import { caddySite, nginxSite } from '../../../test/harness/proxy-configs.ts';
import { type GatewayServer, gatewayServer, send } from './gateway-helpers.ts';
import { startUpstream, type Upstream } from './upstream.ts';

let upstream: Upstream;
let s: GatewayServer;
const proxies: Record<string, ProxyServer> = {};

before(async () => {
  upstream = await startUpstream();
  s = await gatewayServer({
    trustProxy: ['loopback'],
    rateLimit: { default: { limit: 100_000, window: '15m' } },
    routes: [
      {
        name: 'orders',
        method: ['GET', 'POST'],
        path: '/orders/*',
        require: { credential: 'apiKey', scopes: ['orders:read'] },
      },
      { name: 'public', method: 'GET', path: '/public/*', require: { credential: 'none' } },
      {
        name: 'limited',
        method: 'GET',
        path: '/limited',
        require: { credential: 'apiKey' },
        rateLimit: [{ key: 'apiKey', limit: 2, window: '1h' }],
      },
    ],
  });
  const at = { rampart: `127.0.0.1:${s.port}`, upstream: `127.0.0.1:${upstream.port}` };
  const [nginxPort, caddyPort] = [await freePort(), await freePort()];
  proxies.nginx = await startNginx(nginxSite({ ...at, listen: `127.0.0.1:${nginxPort}` }), nginxPort);
  proxies.caddy = await startCaddy(caddySite({ ...at, listen: `127.0.0.1:${caddyPort}` }), caddyPort);
});

after(async () => {
  await Promise.all(Object.values(proxies).map((p) => p.stop()));
  await s?.close();
  await upstream?.stop();
});

for (const name of ['nginx', 'caddy']) {
  describe(`forward auth through ${name}`, () => {
    const url = (path: string) => `${proxies[name]!.url}${path}`;

    test('no credential: 401 with WWW-Authenticate, and the upstream sees nothing', async () => {
      const before = upstream.received.length;
      const res = await send(url('/orders/1'));
      assert.equal(res.status, 401, proxies[name]!.log());
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="rampart"');
      assert.equal(upstream.received.length, before);
    });

    test('a key without the scope: 403, and the upstream sees nothing', async () => {
      const { key } = await s.key(['billing:read']);
      const before = upstream.received.length;
      const res = await send(url('/orders/1'), { headers: { 'x-api-key': key } });
      assert.equal(res.status, 403, proxies[name]!.log());
      assert.equal(upstream.received.length, before);
    });

    test('a valid key: 200, the upstream sees the identity headers and never the credential', async () => {
      const { id, key } = await s.key(['orders:read']);
      const res = await send(url('/orders/7?expand=items'), {
        headers: { 'x-api-key': key, 'x-rampart-roles': 'admin', 'x-rampart-subject': 'forged' },
      });
      assert.equal(res.status, 200, `${res.body}\n${proxies[name]!.log()}`);
      const seen = upstream.received.at(-1)!;
      assert.equal(seen.url, '/orders/7?expand=items');
      assert.equal(seen.headers['x-rampart-subject'], id);
      assert.equal(seen.headers['x-rampart-key-id'], id);
      assert.equal(seen.headers['x-rampart-scopes'], 'orders:read');
      assert.ok(seen.headers['x-rampart-issuer']);
      assert.ok(
        !seen.headers['x-rampart-roles'],
        `a role the client wrote in never reaches the upstream: ${JSON.stringify(seen.headers)}`,
      );
      assert.equal(seen.headers['x-api-key'], undefined);
      assert.equal(seen.headers.authorization, undefined);
      assert.doesNotMatch(JSON.stringify(seen.rawHeaders), new RegExp(key));
    });

    test('a bearer key: the upstream never sees Authorization', async () => {
      const { key } = await s.key(['orders:read']);
      const res = await send(url('/orders/8'), { headers: { authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200, res.body);
      assert.equal(upstream.received.at(-1)!.headers.authorization, undefined);
    });

    test("over the route's limit: 429 with RateLimit fields and Retry-After, as the client receives them", async () => {
      const { key } = await s.key([]);
      for (let i = 0; i < 2; i++) {
        assert.equal((await send(url('/limited'), { headers: { 'x-api-key': key } })).status, 200);
      }
      const before = upstream.received.length;
      const res = await send(url('/limited'), { headers: { 'x-api-key': key } });
      assert.equal(res.status, 429, `${res.body}\n${proxies[name]!.log()}`);
      assert.match(String(res.headers['retry-after']), /^\d+$/);
      assert.match(String(res.headers['ratelimit-policy']), /"route-limited-1";q=2;w=3600/);
      assert.match(String(res.headers.ratelimit), /"route-limited-1";r=0;t=\d+/);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json().code, 'RATE_LIMITED');
      assert.equal(upstream.received.length, before);
    });

    test("a client's own description of the request (the header family the proxy does not set) never decides it", async () => {
      const before = upstream.received.length;
      // Without it the route is public: the proxy's description of /orders/1 must be the one judged.
      const forgeries: Record<string, string>[] = [
        { 'x-original-uri': '/public/x', 'x-original-method': 'GET' },
        { 'x-forwarded-uri': '/public/x', 'x-forwarded-method': 'GET' },
      ];
      for (const forged of forgeries) {
        const res = await send(url('/orders/1'), { headers: forged });
        assert.ok([400, 401].includes(res.status), `${JSON.stringify(forged)}: ${res.status} ${res.body}`);
      }
      assert.equal(upstream.received.length, before);
      assert.equal((await send(url('/public/x'))).status, 200, 'the public route itself is open');
    });

    test('a path that would be routed as another one (/orders/../admin) never reaches the upstream', async () => {
      const before = upstream.received.length;
      const { key } = await s.key(['orders:read']);
      const res = await send(url('/orders/x/%2e%2e/%2e%2e/admin'), { headers: { 'x-api-key': key } });
      assert.notEqual(res.status, 200);
      assert.equal(upstream.received.length, before);
    });
  });
}
