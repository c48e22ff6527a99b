import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { generateApiKey } from 'rampart/internal/api-keys/index.ts';
import { newId } from 'rampart/internal/lib/ids.ts';
import type { AuditEvent } from '../src/storage/types.ts';
import { type TestServer, testServer } from './helpers.ts';

/**
 * The admin plane: one shared security test run against every admin route (so a route added
 * later without its guard fails here), then the audit query and the metrics.
 */

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function server(now?: () => number) {
  const s = await testServer(now ? { now } : {});
  servers.push(s);
  const admin = readFileSync(join(s.dataDir, 'admin-key'), 'utf8').trim();
  return { s, admin };
}

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
const xApiKey = (key: string) => ({ 'x-api-key': key });

async function userToken(s: TestServer): Promise<{ id: string; token: string }> {
  const email = `admin-test-${newId('req')}@example.com`;
  const password = 'correct horse battery staple';
  const reg = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password, name: 'Mallory' },
  });
  const login = await s.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } });
  return { id: reg.json().id, token: login.json().access_token };
}

async function createKey(s: TestServer, admin: string, body: Record<string, unknown>) {
  const res = await s.app.inject({ method: 'POST', url: '/v1/keys', headers: xApiKey(admin), payload: body });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; key: string };
}

interface AdminRoute {
  method: 'GET' | 'POST';
  url: string;
  payload?: Record<string, unknown>;
  /** The non-admin scope that also opens it, if any. */
  scope?: string;
}

/** Every route of the admin plane. A new admin route belongs in this list. */
const ADMIN_ROUTES: AdminRoute[] = [
  { method: 'GET', url: '/v1/audit', scope: 'audit:read' },
  { method: 'GET', url: '/v1/audit?type=key_created&limit=5', scope: 'audit:read' },
  { method: 'GET', url: '/metrics' },
  { method: 'POST', url: '/v1/keys/verify', payload: { key: 'rk_live_x' }, scope: 'keys:verify' },
];

describe('every admin route refuses whoever is not allowed', () => {
  for (const route of ADMIN_ROUTES) {
    test(`${route.method} ${route.url}: 401 without or with a bad credential, 403 for users and plain keys, 2xx for admins`, async () => {
      const { s, admin } = await server();
      const mallory = await userToken(s);
      const userKey = await createKey(s, admin, {
        name: 'user key',
        scopes: ['orders:read', 'keys:write'],
        ownerId: mallory.id,
      });
      const otherScopes = ['audit:read', 'keys:verify'].filter((x) => x !== route.scope);
      const sideKey = await createKey(s, admin, { name: 'side', scopes: otherScopes, ownerId: null });
      const send = (headers: Record<string, string>) =>
        s.app.inject({
          method: route.method,
          url: route.url,
          headers,
          ...(route.payload ? { payload: route.payload } : {}),
        });

      const none = await send({});
      assert.equal(none.statusCode, 401);
      assert.equal(none.json().code, 'UNAUTHENTICATED');
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="rampart"');

      for (const headers of [
        xApiKey(generateApiKey('rk_live_').key),
        bearer('eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9.'),
      ]) {
        const bad = await send(headers);
        assert.equal(bad.statusCode, 401);
        assert.match(String(bad.headers['www-authenticate']), /error="invalid_token"/);
      }

      for (const headers of [bearer(mallory.token), xApiKey(userKey.key), xApiKey(sideKey.key)]) {
        const refused = await send(headers);
        assert.equal(refused.statusCode, 403, refused.body);
        assert.equal(refused.json().code, 'INSUFFICIENT_SCOPE');
        assert.match(String(refused.headers['www-authenticate']), /error="insufficient_scope"/);
        assert.ok(!refused.body.includes('rampart_'), 'no metric leaks into a refusal');
      }

      for (const headers of [xApiKey(admin), bearer(admin)]) {
        const ok = await send(headers);
        assert.equal(ok.statusCode, 200, ok.body);
      }
      if (route.scope) {
        const scoped = await createKey(s, admin, { name: 'scoped', scopes: [route.scope], ownerId: null });
        assert.equal((await send(xApiKey(scoped.key))).statusCode, 200);
      }

      await s.context.audit.flush();
      const denials = await s.context.storage.audit.list({ type: 'authz_fail', limit: 50 });
      assert.ok(denials.events.length >= 1, 'the refusals are in the audit trail');
    });
  }
});

describe('GET /v1/audit', () => {
  test('filters by type, actor and time (ISO or epoch ms), pages with a cursor, newest first', async () => {
    let t = Date.parse('2031-05-01T00:00:00Z');
    const { s, admin } = await server(() => t);
    const at = (i: number) => Date.parse('2031-01-01T00:00:00Z') + i * 60_000;
    const events: AuditEvent[] = Array.from({ length: 30 }, (_, i) => ({
      id: newId('evt'),
      type: i % 3 === 0 ? 'authn_login_fail' : 'key_created',
      at: at(i),
      outcome: 'failure',
      actor: i % 2 === 0 ? 'usr_even' : 'usr_odd',
      detail: { i },
      count: 1,
    }));
    await s.context.storage.audit.append(events);
    const get = (query: string) =>
      s.app.inject({ method: 'GET', url: `/v1/audit?${query}`, headers: xApiKey(admin) });

    const fails = (await get('type=authn_login_fail&limit=500')).json().events;
    assert.equal(fails.length, 10);
    assert.ok(fails.every((e: { type: string }) => e.type === 'authn_login_fail'));
    assert.deepEqual(
      fails.map((e: { detail: { i: number } }) => e.detail.i),
      [27, 24, 21, 18, 15, 12, 9, 6, 3, 0],
    );
    assert.equal(fails[0].at, new Date(at(27)).toISOString());

    const odd = (await get('actor=usr_odd&limit=500')).json().events;
    assert.equal(odd.length, 15);

    const iso = (
      await get(`since=${encodeURIComponent(new Date(at(5)).toISOString())}&until=${at(9)}`)
    ).json().events;
    assert.deepEqual(
      iso.map((e: { detail: { i: number } }) => e.detail.i),
      [9, 8, 7, 6, 5],
    );

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`type=key_created&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.statusCode, 200);
      const page = res.json();
      assert.ok(page.events.length <= 7);
      seen.push(...page.events.map((e: { detail: { i: number } }) => e.detail.i));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(
      seen,
      events
        .filter((e) => e.type === 'key_created')
        .map((e) => e.detail.i as number)
        .reverse(),
    );

    const defaults = (await get('')).json();
    assert.ok(defaults.events.length <= 50);
    t += 1;
  });

  test('bad filters are 400 with the field named, and a forged cursor finds nothing it should not', async () => {
    const { s, admin } = await server();
    for (const [query, path] of [
      ['limit=0', '/query/limit'],
      ['limit=501', '/query/limit'],
      ['limit=ten', '/query/limit'],
      ['since=yesterday', '/query/since'],
      ['until=2031-13-45T99:00:00Z', '/query/until'],
      ['type=DROP%20TABLE', '/query/type'],
      ['unknown=1', '/query'],
    ] as const) {
      const res = await s.app.inject({ method: 'GET', url: `/v1/audit?${query}`, headers: xApiKey(admin) });
      assert.equal(res.statusCode, 400, query);
      assert.equal(res.json().code, 'VALIDATION_FAILED');
      assert.ok(
        res.json().errors.some((e: { path: string }) => e.path.startsWith(path)),
        `${query}: ${res.body}`,
      );
    }
    const forged = await s.app.inject({
      method: 'GET',
      url: `/v1/audit?cursor=${encodeURIComponent("' OR 1=1 --")}`,
      headers: xApiKey(admin),
    });
    assert.equal(forged.statusCode, 200);
  });
});

describe('GET /metrics', () => {
  test('Prometheus text with requests by route and status, latency, authentications and key verifications', async () => {
    const { s, admin } = await server();
    await s.app.inject({ method: 'GET', url: '/healthz' });
    await s.app.inject({ method: 'GET', url: '/nowhere/at/all' });
    await s.app.inject({ method: 'GET', url: '/v1/keys', headers: xApiKey(admin) });
    await s.app.inject({ method: 'GET', url: '/v1/keys', headers: xApiKey(generateApiKey('rk_live_').key) });
    await s.app.inject({
      method: 'GET',
      url: '/v1/keys/key_0000000000000000000000',
      headers: xApiKey(admin),
    });
    s.context.metrics.rateLimitRefusals.inc({ rule: 'default' });

    const res = await s.app.inject({ method: 'GET', url: '/metrics', headers: bearer(admin) });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    assert.match(text, /rampart_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
    assert.match(text, /rampart_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/);
    assert.match(text, /rampart_http_requests_total\{method="GET",route="\/v1\/keys\/:id",status="404"\} 1/);
    assert.match(
      text,
      /rampart_http_request_duration_seconds_bucket\{le="0.0005",method="GET",route="\/healthz"\}/,
    );
    assert.match(
      text,
      /rampart_authentications_total\{credential="api_key",outcome="success",reason="none"\} 2/,
    );
    assert.match(
      text,
      /rampart_authentications_total\{credential="api_key",outcome="failure",reason="NOT_FOUND"\} 1/,
    );
    assert.match(text, /rampart_api_key_verifications_total\{code="VALID"\} 3/);
    assert.match(text, /rampart_api_key_verifications_total\{code="NOT_FOUND"\} 1/);
    assert.match(text, /rampart_rate_limit_refusals_total\{rule="default"\} 1/);
    assert.match(text, /rampart_process_cpu_user_seconds_total/);
    // Raw URLs never become labels (an attacker could otherwise grow the series without bound).
    assert.ok(!text.includes('/nowhere/at/all'));
    assert.ok(!text.includes(admin));
  });

  test('two servers in one process keep separate metrics (no global registry)', async () => {
    const a = await server();
    const b = await server();
    await a.s.app.inject({ method: 'GET', url: '/healthz' });
    await a.s.app.inject({ method: 'GET', url: '/healthz' });
    const text = (await b.s.app.inject({ method: 'GET', url: '/metrics', headers: xApiKey(b.admin) })).body;
    assert.ok(!/route="\/healthz",status="200"\} 2/.test(text));
  });
});
