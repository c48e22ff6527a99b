/**
 * Standards and operations: the index at `/` (JSON for API clients, a tiny page for browsers,
 * under a CSP that allows exactly its style), `promtool check metrics` on the real `/metrics`,
 * health, JWKS and metrics under limits of their own, and `WWW-Authenticate` on every 401 of
 * every route (RFC 9110 §15.5.2), found by walking the server's own route table.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { parse } from 'parse5';
import { acceptQuality, INDEX_LINKS, prefersHtml } from '../src/server/routes/home.ts';
import { testServer } from './helpers.ts';

const ADMIN = 'an-admin-key-for-the-operations-tests-0123456789';

test('GET / answers API clients with a JSON index of links', async () => {
  const server = await testServer();
  try {
    for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/html;q=0.5']) {
      const answer = await server.app.inject({ url: '/', headers: accept ? { accept } : {} });
      assert.equal(answer.statusCode, 200);
      assert.match(answer.headers['content-type'] as string, /^application\/json/);
      assert.equal(answer.headers.vary, 'Accept');
      const body = answer.json() as { name: string; links: Array<{ rel: string; href: string }> };
      assert.equal(body.name, 'rampart');
      assert.deepEqual(
        body.links.map((link) => link.href),
        ['/healthz', '/readyz', '/.well-known/jwks.json', '/openapi.json', '/docs', '/console'],
      );
    }
    // Every link leads somewhere this server serves.
    for (const { href } of INDEX_LINKS) {
      const linked = await server.app.inject({ url: href });
      assert.ok(linked.statusCode < 400, `${href} answered ${linked.statusCode}`);
    }
  } finally {
    await server.close();
  }
});

test('GET / answers a browser with a tiny page whose CSP allows its one style and nothing else', async () => {
  const server = await testServer();
  try {
    const answer = await server.app.inject({
      url: '/',
      headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.headers['content-type'], 'text/html; charset=utf-8');
    const csp = answer.headers['content-security-policy'] as string;
    const style = /<style>([^<]*)<\/style>/.exec(answer.body)![1]!;
    const hash = createHash('sha256').update(style).digest('base64');
    assert.equal(
      csp,
      `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    // The rest of the security headers still hold.
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    assert.equal(answer.headers['cache-control'], 'no-store');
    // A well-formed page with every link and no script, image, frame or form.
    const tags: string[] = [];
    const walk = (node: { nodeName: string; childNodes?: unknown[] }) => {
      tags.push(node.nodeName);
      for (const child of node.childNodes ?? []) walk(child as typeof node);
    };
    walk(parse(answer.body) as unknown as { nodeName: string; childNodes?: unknown[] });
    for (const banned of ['script', 'img', 'iframe', 'form', 'object', 'embed'])
      assert.ok(!tags.includes(banned));
    for (const link of INDEX_LINKS) assert.ok(answer.body.includes(`href="${link.href}"`), link.href);
  } finally {
    await server.close();
  }
});

test('content negotiation follows the Accept qualities (RFC 9110 §12.5.1); a tie goes to JSON', () => {
  assert.equal(prefersHtml(undefined), false);
  assert.equal(prefersHtml('*/*'), false);
  assert.equal(prefersHtml('text/html'), true);
  assert.equal(prefersHtml('text/html;q=0.4, application/json'), false);
  assert.equal(prefersHtml('text/*, application/json;q=0.9'), true);
  assert.equal(prefersHtml('text/html;q=0, */*'), false);
  assert.equal(acceptQuality('image/png', 'application/json'), 0);
  assert.equal(
    acceptQuality(`${'x/y;q=1,'.repeat(500)}text/html`, 'text/html'),
    0,
    'read no further than 1 KiB',
  );
});

test('promtool check metrics passes on the real /metrics', async () => {
  const server = await testServer({ env: { RAMPART_BOOTSTRAP_ADMIN_KEY: ADMIN } });
  try {
    // Some traffic first, so counters, histograms and the refusal counter have samples.
    await server.app.inject({ url: '/healthz' });
    await server.app.inject({ url: '/api/protected', headers: { authorization: 'Bearer forged' } });
    const answer = await server.app.inject({ url: '/metrics', headers: { 'x-api-key': ADMIN } });
    assert.equal(answer.statusCode, 200);
    assert.match(answer.body, /rampart_http_requests_total\{/);
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: answer.body, encoding: 'utf8' });
    assert.equal(promtool.error, undefined, 'promtool (Debian package prometheus) must be installed');
    assert.equal(promtool.status, 0, `promtool check metrics:\n${promtool.stdout}${promtool.stderr}`);
  } finally {
    await server.close();
  }
});

test('health, JWKS and metrics have limits of their own, which spend nothing of the default one', async () => {
  const server = await testServer({
    env: { RAMPART_BOOTSTRAP_ADMIN_KEY: ADMIN },
    file: { rateLimit: { default: { limit: 3, window: '15m' }, jwks: { limit: 2, window: '1m' } } },
  });
  try {
    const policy = async (url: string, headers: Record<string, string> = {}) =>
      (await server.app.inject({ url, headers })).headers['ratelimit-policy'];
    assert.equal(await policy('/healthz'), '"health";q=1200;w=60');
    assert.equal(await policy('/readyz'), '"health";q=1200;w=60');
    assert.equal(await policy('/metrics', { 'x-api-key': ADMIN }), '"metrics";q=60;w=60');
    const jwks = [];
    for (let i = 0; i < 3; i++)
      jwks.push((await server.app.inject({ url: '/.well-known/jwks.json' })).statusCode);
    assert.deepEqual(jwks, [200, 200, 429]);
    // None of the above spent the default budget of 3.
    const first = await server.app.inject({ url: '/v1/me' });
    assert.equal(first.headers['ratelimit-policy'], '"default";q=3;w=900');
    assert.match(first.headers.ratelimit as string, /^"default";r=2;t=\d+$/);
  } finally {
    await server.close();
  }
});

/** The routes of a Fastify app, from `printRoutes()`' tree: `[method, path]` pairs. */
function routesOf(tree: string): Array<[string, string]> {
  const routes: Array<[string, string]> = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3})*)[└├]── (.*?) \(([^)]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    const path = (depth === 0 ? '' : stack[depth - 1]!) + match[2]!;
    stack.push(path);
    for (const method of match[3]!.split(', ')) if (method !== 'HEAD') routes.push([method, path]);
  }
  return routes;
}

test('every 401 of every route says how to authenticate: WWW-Authenticate (RFC 9110 §15.5.2)', async () => {
  const server = await testServer();
  try {
    const routes = routesOf(server.app.printRoutes({ commonPrefix: false }));
    assert.ok(routes.length >= 15, `found only ${routes.length} routes`);
    let unauthorized = 0;
    // Each call from an address of its own: forged credentials spend the per-address failure
    // budget, and a 429 would hide the 401 this test is about.
    let n = 0;
    for (const [method, path] of routes) {
      const url = path.replace(/:[A-Za-z]+/g, 'key_0000000000000000000000');
      for (const headers of [{}, { authorization: 'Bearer forged' }, { 'x-api-key': 'rk_live_forged' }]) {
        n++;
        const answer = await server.app.inject({
          method: method as 'GET',
          url,
          remoteAddress: `10.9.${n >> 8}.${n & 255}`,
          headers: {
            ...headers,
            ...(method === 'GET' || method === 'DELETE' ? {} : { 'content-type': 'application/json' }),
          },
          ...(method === 'GET' || method === 'DELETE' ? {} : { payload: '{}' }),
        });
        if (answer.statusCode !== 401) continue;
        unauthorized++;
        assert.match(
          String(answer.headers['www-authenticate']),
          /^Bearer realm="rampart"/,
          `${method} ${path} answered 401 without WWW-Authenticate`,
        );
      }
    }
    assert.ok(
      unauthorized >= 20,
      `only ${unauthorized} answers were 401: the walk found too few protected routes`,
    );
    // And the 401s a handler throws: a wrong password, a bad refresh token.
    const login = await server.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'nobody@example.com', password: 'wrong password' },
    });
    assert.equal(login.statusCode, 401);
    assert.equal(login.headers['www-authenticate'], 'Bearer realm="rampart"');
    const refresh = await server.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: 'rt_x' },
    });
    assert.equal(refresh.statusCode, 401);
    assert.equal(refresh.headers['www-authenticate'], 'Bearer realm="rampart"');
  } finally {
    await server.close();
  }
});
