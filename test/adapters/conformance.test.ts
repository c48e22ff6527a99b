/**
 * One conformance suite for the three adapters: every request goes to the Express, Fastify and
 * Hono apps (same policy, same routes, same frozen clock, each on its own loopback port) and
 * must get the same status, the same relevant headers and the same body, which must also be
 * the answer the policy promises.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { createRampart, type SecurityEvent } from 'rampart';
import { createKeyRegistry } from '../../examples/shared/key-registry.ts';
import {
  expressApp,
  fastifyApp,
  honoApp,
  type PolicyFactory,
  type RunningApp,
  SECRET_FAILURE,
} from './apps.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const now = () => T0;
const ISSUER = 'https://api.example.test';
const SECRET = 'conformance-secret-of-at-least-32-bytes!';
const ORIGIN = 'https://app.example.com';
const registry = createKeyRegistry({ pepper: new Uint8Array(32).fill(7), now });
const readKey = registry.generateKey(['read']);
const writeKey = registry.generateKey(['write']);
const revokedKey = registry.generateKey(['read']);
registry.revokeKey(revokedKey);

const policy: PolicyFactory = (events) => ({
  jwt: { secret: SECRET, issuer: ISSUER, audience: ISSUER },
  apiKeys: { store: registry.store, hasher: registry.hasher },
  cors: { origins: [ORIGIN], credentials: true },
  json: { limitBytes: 1024 },
  rateLimit: { api: { limit: 60 } },
  onEvent: (event) => events.push(event),
  onError: () => {},
  now,
});

const issuer = createRampart({ jwt: { secret: SECRET, issuer: ISSUER, audience: ISSUER }, now });
const stranger = createRampart({
  jwt: { secret: 'another-secret-that-is-32-bytes-long!!', issuer: ISSUER, audience: ISSUER },
  now,
});
let userToken = '';
let adminToken = '';
let forgedToken = '';
let apps: RunningApp[] = [];

before(async () => {
  userToken = (await issuer.issueAccessToken({ sub: 'usr_1', role: 'user' })).token;
  adminToken = (await issuer.issueAccessToken({ sub: 'usr_2', role: 'admin' })).token;
  forgedToken = (await stranger.issueAccessToken({ sub: 'usr_2', role: 'admin' })).token;
  apps = await Promise.all([expressApp(policy), fastifyApp(policy), honoApp(policy)]);
});

after(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await issuer.close();
  await stranger.close();
});

interface Sent {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** The headers the policy is responsible for; the rest (Date, Connection, ETag) is the framework's. */
const RELEVANT = [
  'content-type',
  'www-authenticate',
  'ratelimit-policy',
  'ratelimit',
  'retry-after',
  'vary',
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-expose-headers',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-max-age',
  'x-content-type-options',
  'content-security-policy',
  'referrer-policy',
  'cross-origin-resource-policy',
  'cache-control',
  'x-frame-options',
  'strict-transport-security',
];

const SECURITY = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
};

function send(base: string, sent: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${sent.path}`,
      { method: sent.method ?? 'GET', headers: { connection: 'close', ...sent.headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers: Record<string, string> = {};
          for (const name of RELEVANT) {
            const value = res.headers[name];
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
          }
          // Success bodies: frameworks differ on `; charset=utf-8` after application/json.
          if (headers['content-type']?.startsWith('application/json'))
            headers['content-type'] = 'application/json';
          let body: unknown = text;
          if (text !== '' && /json/.test(headers['content-type'] ?? '')) body = JSON.parse(text);
          resolve({ status: res.statusCode!, headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(sent.body);
  });
}

/**
 * Sends the same requests, in the same order, to every app; asserts the answers are identical
 * and returns them (as the Express app gave them) for the expectations of the case.
 */
async function conform(...requests: Sent[]): Promise<Answer[]> {
  const byApp: Answer[][] = [];
  for (const app of apps) {
    const answers: Answer[] = [];
    for (const sent of requests) answers.push(await send(app.url, sent));
    byApp.push(answers);
  }
  for (let i = 1; i < apps.length; i++) {
    assert.deepEqual(byApp[i], byApp[0], `${apps[i]!.name} answers as ${apps[0]!.name}`);
  }
  return byApp[0]!;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

function assertProblem(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status);
  assert.equal(answer.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal((answer.body as { code: string }).code, code);
  assert.equal((answer.body as { status: number }).status, status);
}

test('no credentials: 401 with the Bearer challenge, security and rate-limit headers', async () => {
  const [answer] = await conform({ path: '/api/protected' });
  assertProblem(answer!, 401, 'UNAUTHENTICATED');
  assert.equal(answer!.headers['www-authenticate'], 'Bearer realm="rampart"');
  for (const [name, value] of Object.entries(SECURITY)) assert.equal(answer!.headers[name], value);
  assert.equal(answer!.headers['ratelimit-policy'], '"api";q=60;w=900');
  assert.match(answer!.headers.ratelimit!, /^"api";r=59;t=\d+$/);
});

test('a malformed or foreign-signed token: 401 invalid_token (RFC 6750, not the tutorial 403)', async () => {
  const answers = await conform(
    { path: '/api/protected', headers: bearer('not.a.token') },
    { path: '/api/protected', headers: bearer(forgedToken) },
  );
  for (const answer of answers) {
    assertProblem(answer, 401, 'INVALID_TOKEN');
    assert.equal(answer.headers['www-authenticate'], 'Bearer realm="rampart", error="invalid_token"');
  }
});

test('a valid token: 200 with the principal', async () => {
  const [answer] = await conform({ path: '/api/protected', headers: bearer(userToken) });
  assert.equal(answer!.status, 200);
  assert.deepEqual(answer!.body, { message: 'Access granted', user: { userId: 'usr_1', role: 'user' } });
});

test('a token in the query string is refused: 400 CREDENTIAL_IN_QUERY', async () => {
  const [answer] = await conform({ path: `/api/protected?access_token=${userToken}` });
  assertProblem(answer!, 400, 'CREDENTIAL_IN_QUERY');
});

test('a role check: 403 insufficient_scope for a user, 200 for an admin', async () => {
  const [user, admin] = await conform(
    { path: '/api/admin', headers: bearer(userToken) },
    { path: '/api/admin', headers: bearer(adminToken) },
  );
  assertProblem(user!, 403, 'INSUFFICIENT_SCOPE');
  assert.equal(user!.headers['www-authenticate'], 'Bearer realm="rampart", error="insufficient_scope"');
  assert.equal(admin!.status, 200);
});

test('API keys: none, invented and revoked are 401; without the permission 403; with it 200', async () => {
  const [none, invented, revoked, lacking, good, viaBearer] = await conform(
    { path: '/api/data' },
    {
      path: '/api/data',
      headers: { 'x-api-key': 'rk_live_0000000000000000000000000000000000000000000000000' },
    },
    { path: '/api/data', headers: { 'x-api-key': revokedKey } },
    { path: '/api/data', headers: { 'x-api-key': writeKey } },
    { path: '/api/data', headers: { 'x-api-key': readKey } },
    { path: '/api/data', headers: bearer(readKey) },
  );
  assertProblem(none!, 401, 'UNAUTHENTICATED');
  assertProblem(invented!, 401, 'INVALID_API_KEY');
  assertProblem(revoked!, 401, 'INVALID_API_KEY');
  assertProblem(lacking!, 403, 'INSUFFICIENT_SCOPE');
  assert.equal(good!.status, 200);
  assert.match((good!.body as { keyId: string }).keyId, /^key_/);
  assert.equal(viaBearer!.status, 200);
});

test('a JWT on an API-key route is not taken for a key: 401', async () => {
  const [answer] = await conform({ path: '/api/data', headers: bearer(userToken) });
  assertProblem(answer!, 401, 'INVALID_TOKEN');
});

test('body validation: 400 with every field error; valid input comes out sanitized', async () => {
  const [bad, good] = await conform(
    { path: '/api/users', ...json({ email: 'nope', password: 'short', name: 'A' }) },
    {
      path: '/api/users',
      ...json({ email: 'ada@example.com', password: 'Sup3r$ecretX', name: ' <b>Ada</b> ' }),
    },
  );
  assertProblem(bad!, 400, 'VALIDATION_FAILED');
  assert.deepEqual(
    (bad!.body as { errors: Array<{ path: string; code: string }> }).errors.map((e) => `${e.path}:${e.code}`),
    ['/email:invalid_email', '/password:too_short', '/name:too_short'],
  );
  assert.equal(good!.status, 201);
  assert.deepEqual(good!.body, { email: 'ada@example.com', name: 'Ada' });
});

test('hostile bodies: malformed, __proto__, too deep, too large, not JSON', async () => {
  const [malformed, proto, deep, large, text, none] = await conform(
    { path: '/api/users', ...json('{"email":') },
    { path: '/api/users', ...json('{"__proto__":{"admin":true}}') },
    { path: '/api/users', ...json(`${'['.repeat(40)}${']'.repeat(40)}`) },
    { path: '/api/users', ...json({ name: 'x'.repeat(2000) }) },
    { path: '/api/users', method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' },
    { path: '/api/users', method: 'POST' },
  );
  assertProblem(malformed!, 400, 'MALFORMED_JSON');
  assertProblem(proto!, 400, 'FORBIDDEN_PROPERTY');
  assertProblem(deep!, 400, 'JSON_TOO_DEEP');
  assertProblem(large!, 413, 'PAYLOAD_TOO_LARGE');
  assertProblem(text!, 415, 'UNSUPPORTED_MEDIA_TYPE');
  assertProblem(none!, 400, 'VALIDATION_FAILED');
});

test('query validation: field errors under /query; valid values coerced', async () => {
  const [bad, good] = await conform({ path: '/api/search?q=a' }, { path: '/api/search?q=rampart&page=2' });
  assertProblem(bad!, 400, 'VALIDATION_FAILED');
  assert.deepEqual(
    (bad!.body as { errors: Array<{ path: string }> }).errors.map((e) => e.path),
    ['/query/q'],
  );
  assert.deepEqual(good!.body, { query: { q: 'rampart', page: 2 } });
});

test('the sensitive limit: 5 per hour, then 429 with Retry-After and both policies', async () => {
  const answers = await conform(
    ...Array.from({ length: 6 }, () => ({ path: '/api/reset-password', method: 'POST' })),
  );
  for (const answer of answers.slice(0, 5)) assert.equal(answer.status, 202);
  const refused = answers[5]!;
  assertProblem(refused, 429, 'RATE_LIMITED');
  assert.match(refused.headers['retry-after']!, /^[1-9][0-9]*$/);
  // Both limits applied, so both are named (the fields are lists).
  assert.match(refused.headers['ratelimit-policy']!, /^"api";q=60;w=900, ?"sensitive";q=5;w=3600$/);
  assert.match(refused.headers.ratelimit!, /^"api";r=\d+;t=\d+, ?"sensitive";r=0;t=\d+$/);
});

test('CORS: allowed preflight, refused preflight, and an actual request', async () => {
  const [allowed, refused, actual] = await conform(
    {
      path: '/api/users',
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
    },
    {
      path: '/api/users',
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    },
    { path: '/api/protected', headers: { origin: ORIGIN, ...bearer(userToken) } },
  );
  assert.equal(allowed!.status, 204);
  assert.equal(allowed!.headers['access-control-allow-origin'], ORIGIN);
  assert.equal(allowed!.headers['access-control-allow-credentials'], 'true');
  assert.equal(allowed!.headers['access-control-max-age'], '600');
  assert.equal(refused!.status, 204);
  assert.equal(refused!.headers['access-control-allow-origin'], undefined);
  assert.equal(actual!.status, 200);
  assert.equal(actual!.headers['access-control-allow-origin'], ORIGIN);
  assert.equal(actual!.headers.vary, 'Origin');
});

test('an unknown route: 404 problem+json with the security headers', async () => {
  const [answer] = await conform({ path: '/api/nothing-here' });
  assertProblem(answer!, 404, 'NOT_FOUND');
  assert.equal(answer!.headers['x-content-type-options'], 'nosniff');
});

test('a thrown error: 500 problem+json that says nothing of the failure', async () => {
  const [answer] = await conform({ path: '/api/boom' });
  assertProblem(answer!, 500, 'INTERNAL');
  assert.ok(!JSON.stringify(answer!.body).includes('hunter2'));
  assert.ok(!JSON.stringify(answer!.body).includes(SECRET_FAILURE));
  assert.equal(answer!.headers['cache-control'], 'no-store');
});

test('the API limit: every adapter refuses at the same request, 429 with Retry-After', async () => {
  const counts: number[] = [];
  const refusals: Answer[] = [];
  for (const app of apps) {
    let allowed = 0;
    for (;;) {
      const answer = await send(app.url, { path: '/api/protected', headers: bearer(userToken) });
      if (answer.status !== 200) {
        refusals.push(answer);
        break;
      }
      allowed++;
      assert.ok(allowed <= 60, `${app.name} never refused`);
    }
    counts.push(allowed);
  }
  assert.deepEqual(counts, [counts[0], counts[0], counts[0]]);
  assert.deepEqual(refusals[1], refusals[0]);
  assert.deepEqual(refusals[2], refusals[0]);
  assertProblem(refusals[0]!, 429, 'RATE_LIMITED');
  assert.equal(refusals[0]!.headers['ratelimit-policy'], '"api";q=60;w=900');
});

test('the same security events on every framework, with no secret in them', () => {
  const summary = (events: SecurityEvent[]) =>
    events.map(({ type, outcome, actor, ip, detail }) => ({ type, outcome, actor, ip, detail }));
  const [first, ...rest] = apps.map((app) => summary(app.events));
  for (const other of rest) assert.deepEqual(other, first);
  const types = new Set(first!.map((event) => event.type));
  for (const type of [
    'authn_token_invalid',
    'authz_fail',
    'input_validation_fail',
    'malicious_request',
    'excess_rate_limit_exceeded',
  ]) {
    assert.ok(types.has(type as SecurityEvent['type']), `no ${type} event`);
  }
  const text = JSON.stringify(apps.map((app) => app.events));
  for (const secret of [userToken, adminToken, readKey, writeKey, SECRET]) assert.ok(!text.includes(secret));
});
