import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CONSOLE_CSP } from '../src/console/index.ts';
import { type TestServer, testServer } from './helpers.ts';

/**
 * The console's server side through `inject()`: sign-in refuses non-admins, the session
 * cookie's flags, CSRF on every state-changing call, idle and absolute timeouts, sign-out
 * that ends the session and its tokens, the relay reaching only the admin API with the
 * session's own credential, and what storage holds. The browser test drives the pages.
 */

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const PASSWORD = 'correct horse battery staple';

async function setup() {
  let clock = Date.UTC(2030, 0, 1);
  const s = await testServer({ now: () => clock });
  servers.push(s);
  const admin = readFileSync(join(s.dataDir, 'admin-key'), 'utf8').trim();
  return {
    s,
    admin,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

type Headers = Record<string, string>;

/** A browser of one console session: its cookie and CSRF token. */
async function signIn(s: TestServer, body: Record<string, string>) {
  const res = await s.app.inject({ method: 'POST', url: '/console/session', payload: body });
  const cookieHeader = res.headers['set-cookie'];
  const cookie = typeof cookieHeader === 'string' ? cookieHeader.split(';')[0]! : '';
  const view = res.statusCode === 200 ? (res.json() as { csrfToken: string }) : undefined;
  const call = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    payload?: unknown,
    headers: Headers = {},
  ) =>
    s.app.inject({
      method,
      url,
      headers: {
        cookie,
        ...(view && method !== 'GET' ? { 'x-csrf-token': view.csrfToken } : {}),
        ...headers,
      },
      ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
    });
  return { res, cookie, csrf: view?.csrfToken, call };
}

async function register(s: TestServer, admin: string, role: 'user' | 'admin') {
  const email = `${role}-${Math.random().toString(36).slice(2)}@example.com`;
  const reg = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password: PASSWORD, name: 'Ada' },
  });
  assert.equal(reg.statusCode, 201, reg.body);
  if (role === 'admin') {
    // No user admin route on this branch: promote through storage, as `rampart users` would.
    await s.context.storage.users.update(reg.json().id, { role: 'admin' }, Date.now());
  }
  void admin;
  return { email, id: reg.json().id as string };
}

describe('sign-in', () => {
  test('an admin key signs in: the cookie is HttpOnly, SameSite=Strict, scoped to /console, not Secure over HTTP', async () => {
    const { s, admin } = await setup();
    const { res, cookie } = await signIn(s, { apiKey: admin });
    assert.equal(res.statusCode, 200, res.body);
    const set = String(res.headers['set-cookie']);
    assert.match(
      set,
      /^rampart_console=[A-Za-z0-9_-]{43}; Path=\/console; Max-Age=28800; HttpOnly; SameSite=Strict$/,
    );
    assert.ok(!res.body.includes(admin), 'the key never comes back');
    const view = await s.app.inject({ method: 'GET', url: '/console/session', headers: { cookie } });
    assert.equal(view.json().signedIn, true);
    assert.equal(view.json().kind, 'apiKey');
    assert.match(view.json().csrfToken, /^[A-Za-z0-9_-]{43}$/);
  });

  test('a non-admin is refused at sign-in, by key and by password, and the tokens issued for the attempt end', async () => {
    const { s, admin } = await setup();
    const made = await s.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { 'x-api-key': admin },
      payload: { name: 'plain', scopes: ['orders:read'] },
    });
    const byKey = await signIn(s, { apiKey: made.json().key });
    assert.equal(byKey.res.statusCode, 403);
    assert.match(String(byKey.res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(byKey.res.json().code, 'INSUFFICIENT_SCOPE');
    assert.equal(byKey.res.headers['set-cookie'], undefined);

    const user = await register(s, admin, 'user');
    const byPassword = await signIn(s, { email: user.email, password: PASSWORD });
    assert.equal(byPassword.res.statusCode, 403);
    assert.equal(byPassword.res.headers['set-cookie'], undefined);
    // The refresh family issued for the refused attempt was revoked by the logout.
    const families = await s.context.storage.refreshTokens.list({ limit: 10 });
    assert.ok(families.tokens.length > 0);
    assert.ok(families.tokens.every((t) => t.revokedAt !== null));
  });

  test('a wrong key or password is 401 problem+json, and every refusal is in the audit trail', async () => {
    const { s, admin } = await setup();
    const bad = await signIn(s, { apiKey: `rk_live_${'a'.repeat(49)}` });
    assert.equal(bad.res.statusCode, 401);
    assert.match(String(bad.res.headers['content-type']), /^application\/problem\+json/);
    const admin2 = await register(s, admin, 'admin');
    const wrong = await signIn(s, { email: admin2.email, password: 'not the password at all' });
    assert.equal(wrong.res.statusCode, 401);
    assert.equal(wrong.res.json().code, 'INVALID_CREDENTIALS');
    await s.context.audit.flush();
    const fails = await s.context.storage.audit.list({ type: 'authn_login_fail', limit: 5 });
    assert.equal(fails.events.length, 1);
  });

  test('a sign-in posted by another site is refused', async () => {
    const { s, admin } = await setup();
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }]) {
      const res = await s.app.inject({
        method: 'POST',
        url: '/console/session',
        headers,
        payload: { apiKey: admin },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.headers['set-cookie'], undefined);
    }
  });
});

describe('CSRF', () => {
  test('a state-changing call without the CSRF token, or with another session’s, is refused 403 problem+json', async () => {
    const { s, admin } = await setup();
    const a = await signIn(s, { apiKey: admin });
    const b = await signIn(s, { apiKey: admin });
    const body = { name: 'csrf', scopes: [] };
    for (const token of [undefined, 'x'.repeat(43), b.csrf!]) {
      const res = await s.app.inject({
        method: 'POST',
        url: '/console/api/v1/keys',
        headers: { cookie: a.cookie, ...(token ? { 'x-csrf-token': token } : {}) },
        payload: body,
      });
      assert.equal(res.statusCode, 403, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json().code, 'FORBIDDEN');
    }
    const signOut = await s.app.inject({
      method: 'DELETE',
      url: '/console/session',
      headers: { cookie: a.cookie },
    });
    assert.equal(signOut.statusCode, 403, 'sign-out needs the token too');
    const listed = await s.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': admin } });
    assert.ok(!listed.body.includes('"csrf"'), 'no key was created');
    const ok = await a.call('POST', '/console/api/v1/keys', body);
    assert.equal(ok.statusCode, 201, ok.body);
  });
});

describe('the relay', () => {
  test('a call runs the API route with the session’s credential: the same answers, limits and events as a direct call', async () => {
    const { s, admin } = await setup();
    const { call } = await signIn(s, { apiKey: admin });
    const list = await call('GET', '/console/api/v1/keys?limit=5');
    assert.equal(list.statusCode, 200);
    assert.ok(Array.isArray(list.json().keys));
    assert.match(String(list.headers.ratelimit), /^"default";r=\d+;t=\d+$/);
    assert.equal(list.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
    const invalid = await call('POST', '/console/api/v1/keys', { name: '', scopes: [] });
    assert.equal(invalid.statusCode, 400);
    assert.equal(invalid.json().code, 'VALIDATION_FAILED');
    const metrics = await call('GET', '/console/api/metrics');
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /rampart_http_requests_total/);
  });

  test('the relay reaches only the admin API: not the account routes, not the console itself, no dot segments', async () => {
    const { s, admin } = await setup();
    const { call } = await signIn(s, { apiKey: admin });
    for (const url of [
      '/console/api/v1/auth/logout',
      '/console/api/console/session',
      '/console/api/v1/../console/session',
      '/console/api/v1/%2e%2e/console/session',
      '/console/api/api/protected',
    ]) {
      const res = await call('POST', url, {});
      assert.equal(res.statusCode, 404, url);
    }
  });

  test('without a session the relay answers 401 and calls nothing', async () => {
    const { s } = await setup();
    const res = await s.app.inject({ method: 'GET', url: '/console/api/v1/keys' });
    assert.equal(res.statusCode, 401);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    const forged = await s.app.inject({
      method: 'GET',
      url: '/console/api/v1/keys',
      headers: { cookie: `rampart_console=${'A'.repeat(43)}` },
    });
    assert.equal(forged.statusCode, 401);
    assert.match(String(forged.headers['set-cookie']), /Max-Age=0/);
  });

  test('a revoked key ends the console session it signed in with', async () => {
    const { s, admin } = await setup();
    const made = await s.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { 'x-api-key': admin },
      payload: { name: 'second admin', scopes: ['admin'], ownerId: null },
    });
    const { call } = await signIn(s, { apiKey: made.json().key });
    assert.equal((await call('GET', '/console/api/v1/audit')).statusCode, 200);
    await s.app.inject({
      method: 'DELETE',
      url: `/v1/keys/${made.json().id}`,
      headers: { 'x-api-key': admin },
    });
    const after = await call('GET', '/console/api/v1/audit');
    assert.equal(after.statusCode, 401);
    assert.match(String(after.headers['set-cookie']), /Max-Age=0/);
    assert.equal((await call('GET', '/console/session')).json().signedIn, false);
  });

  test('a password session refreshes its access token, once for calls in flight together', async () => {
    const { s, admin, advance } = await setup();
    const user = await register(s, admin, 'admin');
    const { call } = await signIn(s, { email: user.email, password: PASSWORD });
    advance(16 * 60_000); // past the 15-minute access token
    const answers = await Promise.all([1, 2, 3, 4].map(() => call('GET', '/console/api/v1/keys')));
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      [200, 200, 200, 200],
    );
    await s.context.audit.flush();
    const reuse = await s.context.storage.audit.list({ type: 'authn_token_reuse', limit: 5 });
    assert.equal(reuse.events.length, 0, 'no refresh token was presented twice');
    advance(16 * 60_000);
    assert.equal((await call('GET', '/console/api/v1/keys')).statusCode, 200);
  });
});

describe('timeouts and sign-out', () => {
  test('a session unused for the idle timeout ends; one used all along ends at the absolute timeout', async () => {
    const { s, admin, advance } = await setup();
    const idle = await signIn(s, { apiKey: admin });
    advance(29 * 60_000);
    assert.equal((await idle.call('GET', '/console/api/v1/audit')).statusCode, 200);
    advance(29 * 60_000);
    assert.equal(
      (await idle.call('GET', '/console/api/v1/audit')).statusCode,
      200,
      'use moved the idle clock',
    );
    advance(31 * 60_000);
    assert.equal((await idle.call('GET', '/console/api/v1/audit')).statusCode, 401);

    const busy = await signIn(s, { apiKey: admin });
    for (let i = 0; i < 8 * 3 - 1; i++) {
      advance(20 * 60_000);
      assert.equal(
        (await busy.call('GET', '/console/api/v1/audit')).statusCode,
        200,
        `after ${(i + 1) * 20} min`,
      );
    }
    advance(20 * 60_000);
    assert.equal((await busy.call('GET', '/console/api/v1/audit')).statusCode, 401, 'past 8 hours');
  });

  test('sign-out ends the session on the server and revokes its access token and refresh family', async () => {
    const { s, admin } = await setup();
    const user = await register(s, admin, 'admin');
    const session = await signIn(s, { email: user.email, password: PASSWORD });
    assert.equal((await session.call('GET', '/console/api/v1/keys')).statusCode, 200);
    const out = await session.call('DELETE', '/console/session');
    assert.equal(out.statusCode, 204);
    assert.match(String(out.headers['set-cookie']), /^rampart_console=; Path=\/console; Max-Age=0/);
    // The old cookie, replayed, is dead.
    assert.equal((await session.call('GET', '/console/api/v1/keys')).statusCode, 401);
    const families = await s.context.storage.refreshTokens.list({ limit: 10 });
    assert.ok(
      families.tokens.every((t) => t.revokedAt !== null),
      'the refresh family is revoked',
    );
    const denied = await s.context.storage.ttl.list('jti:', s.context.now());
    assert.equal(denied.length, 1, 'the access token is on the deny-list');
  });

  test('storage holds neither the session id, nor the key, nor a token', async () => {
    const { s, admin } = await setup();
    const byKey = await signIn(s, { apiKey: admin });
    const user = await register(s, admin, 'admin');
    const byPassword = await signIn(s, { email: user.email, password: PASSWORD });
    const entries = await s.context.storage.ttl.list('console:', s.context.now());
    assert.equal(entries.length, 2);
    const text = JSON.stringify(entries);
    for (const secret of [
      admin,
      byKey.cookie.split('=')[1]!,
      byPassword.cookie.split('=')[1]!,
      'eyJhbGci',
      PASSWORD,
    ]) {
      assert.ok(!text.includes(secret), `no secret in the stored session: ${secret.slice(0, 6)}`);
    }
  });
});

describe('pages', () => {
  test('the pages carry the console CSP; the API keeps its own; files are served only from the list', async () => {
    const { s } = await setup();
    const page = await s.app.inject({ method: 'GET', url: '/console/' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-security-policy'], CONSOLE_CSP);
    assert.match(CONSOLE_CSP, /script-src 'self'/);
    assert.match(CONSOLE_CSP, /frame-ancestors 'none'/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe|https?:/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.doesNotMatch(page.body, /<script>|style=/, 'no inline script or style');
    const js = await s.app.inject({
      method: 'GET',
      url: '/console/js/app.js',
      headers: { 'accept-encoding': 'gzip' },
    });
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['content-encoding'], 'gzip');
    const again = await s.app.inject({
      method: 'GET',
      url: '/console/js/app.js',
      headers: { 'if-none-match': String(js.headers.etag) },
    });
    assert.equal(again.statusCode, 304);
    const hooks = await s.app.inject({ method: 'GET', url: '/console/vendor/hooks.js' });
    assert.match(hooks.body, /from"\.\/preact\.js"/);
    for (const url of ['/console/../package.json', '/console/%2e%2e/package.json', '/console/nope.js']) {
      const res = await s.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    }
    const api = await s.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(api.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
    assert.equal((await s.app.inject({ method: 'GET', url: '/console' })).headers.location, '/console/');
  });

  test('console.enabled: false leaves no console route', async () => {
    const s = await testServer({ file: { console: { enabled: false } } });
    servers.push(s);
    assert.equal((await s.app.inject({ method: 'GET', url: '/console/' })).statusCode, 404);
  });
});
