/**
 * One conformance suite for the four faces of the engine: every request goes to the Express,
 * Fastify and Hono apps (the library's adapters) and to `rampart serve` (same policy, same
 * routes, same frozen clock, each on its own loopback port) and must get the same status, the
 * same relevant headers and the same body, and raise the same security events, which must also
 * be what the policy promises. What legitimately differs is normalised before comparing: the
 * server's own API keys and their ids, and the request id the server puts in every problem.
 * Each test stands alone (it passes when run by itself: `--test-name-pattern`).
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import {
  type ApiKeyRecord,
  applyCredits,
  createApiKeyIssuer,
  createKeyHasher,
  createRampart,
  type SecurityEvent,
} from 'rampart';
import {
  expressApp,
  fastifyApp,
  honoApp,
  type PolicyFactory,
  type RunningApp,
  SECRET_FAILURE,
  serverApp,
  type TargetKeys,
} from './apps.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const now = () => T0;
const ISSUER = 'https://api.example.test';
const SECRET = 'conformance-secret-of-at-least-32-bytes!';
const ORIGIN = 'https://app.example.com';
const LIMIT = 60;
const BODY_BYTES = 1024;
const FAILURE_BUDGET = 10_000;

// The library targets' key store: records by hash, credits spent atomically (one JavaScript
// turn) with the library's own applyCredits, as a user's store would inside a transaction.
const hasher = createKeyHasher({ peppers: { v1: new Uint8Array(32).fill(7) }, current: 'v1' });
const keyIssuer = createApiKeyIssuer({ hasher, now });
const records = new Map<string, ApiKeyRecord>();
const libraryKeys: TargetKeys = { read: '', write: '', revoked: '', names: {} };
for (const [name, scopes, credits] of [
  ['read', ['read'], undefined],
  ['write', ['write'], 3],
  ['revoked', ['read'], undefined],
] as const) {
  const made = keyIssuer.issue({
    name,
    scopes: [...scopes],
    ...(credits ? { credits: { remaining: credits } } : {}),
  });
  if (!made.ok) throw new Error('key');
  records.set(made.record.hash, name === 'revoked' ? { ...made.record, revokedAt: T0 - 1 } : made.record);
  libraryKeys[name] = made.key;
  libraryKeys.names[made.record.id] = name;
}
/** One app's own copy of the records (each app spends its own credits). */
function keyStoreOfOneApp() {
  const mine = new Map(records);
  return {
    store: {
      findByHash: (hashes: readonly string[]) => hashes.map((h) => mine.get(h)).find((r) => r !== undefined),
    },
    consumeCredits: (record: ApiKeyRecord, cost: number, at: number) => {
      const stored = mine.get(record.hash)!;
      const outcome = applyCredits(stored.credits, at, cost);
      if (outcome.allowed) mine.set(record.hash, { ...stored, credits: outcome.credits });
      return {
        allowed: outcome.allowed,
        ...(outcome.credits ? { remaining: outcome.credits.remaining } : {}),
      };
    },
  };
}

const policy: PolicyFactory = (events) => ({
  jwt: { secret: SECRET, issuer: ISSUER, audience: ISSUER },
  apiKeys: { ...keyStoreOfOneApp(), hasher },
  cors: { origins: [ORIGIN], credentials: true },
  json: { limitBytes: BODY_BYTES },
  // Named as rampart serve names its own: the RateLimit fields must read alike on all four.
  rateLimit: { api: { name: 'default', limit: LIMIT } },
  // The suite sends many bad credentials from one address; the budget is not what it tests.
  authFailures: { limit: FAILURE_BUDGET, window: '15m' },
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
  apps = await Promise.all([
    expressApp(policy),
    fastifyApp(policy),
    honoApp(policy),
    serverApp({
      secret: SECRET,
      issuer: ISSUER,
      origin: ORIGIN,
      now,
      limit: LIMIT,
      bodyBytes: BODY_BYTES,
      failureBudget: FAILURE_BUDGET,
    }),
  ]);
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

/** `{{read}}`, `{{write}}`, `{{revoked}}` in headers stand for the target's own keys. */
const KEY = { read: '{{read}}', write: '{{write}}', revoked: '{{revoked}}' } as const;

function keysOf(app: RunningApp): TargetKeys {
  return app.keys ?? libraryKeys;
}

/** The answer with what legitimately differs between targets made alike. */
function normalised(app: RunningApp, answer: Answer): Answer {
  const names = keysOf(app).names;
  const rename = (value: unknown): unknown => {
    if (typeof value === 'string' && names[value] !== undefined) return `key:${names[value]}`;
    if (Array.isArray(value)) return value.map(rename);
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) if (k !== 'requestId') out[k] = rename(v);
      return out;
    }
    return value;
  };
  return { ...answer, body: rename(answer.body) };
}

function send(app: RunningApp, sent: Sent): Promise<Answer> {
  const keys = keysOf(app);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(sent.headers ?? {})) {
    headers[name] = value.replace(
      /\{\{(read|write|revoked)\}\}/g,
      (_, k: 'read' | 'write' | 'revoked') => keys[k],
    );
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${app.url}${sent.path}`,
      { method: sent.method ?? 'GET', headers: { connection: 'close', ...headers }, agent: false },
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
          resolve(normalised(app, { status: res.statusCode!, headers, body }));
        });
      },
    );
    req.on('error', reject);
    req.end(sent.body);
  });
}

/** The parts of an event every face must agree on (no time, no request id), key ids named. */
function eventSummary(app: RunningApp, events: readonly SecurityEvent[]) {
  const names = keysOf(app).names;
  return events.map(({ type, outcome, actor, ip, detail }) => ({
    type,
    outcome,
    actor: actor !== undefined && names[actor] !== undefined ? `key:${names[actor]}` : actor,
    ip,
    detail,
  }));
}

/**
 * Sends the same requests, in the same order, to every app; asserts the answers and the
 * security events they raised are identical, and returns the answers (as the Express app gave
 * them) for the expectations of the case.
 */
async function conform(...requests: Sent[]): Promise<Answer[]> {
  const byApp: Answer[][] = [];
  const eventsByApp: ReturnType<typeof eventSummary>[] = [];
  for (const app of apps) {
    const before = app.events.length;
    const answers: Answer[] = [];
    for (const sent of requests) answers.push(await send(app, sent));
    byApp.push(answers);
    eventsByApp.push(eventSummary(app, app.events.slice(before)));
  }
  for (let i = 1; i < apps.length; i++) {
    assert.deepEqual(byApp[i], byApp[0], `${apps[i]!.name} answers as ${apps[0]!.name}`);
    assert.deepEqual(
      eventsByApp[i],
      eventsByApp[0],
      `${apps[i]!.name} raises the events ${apps[0]!.name} raises`,
    );
  }
  lastEvents = eventsByApp[0]!;
  return byApp[0]!;
}

/** The events the last `conform` raised (the same on every app). */
let lastEvents: ReturnType<typeof eventSummary> = [];

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
  assert.equal(answer!.headers['ratelimit-policy'], '"default";q=60;w=900');
  assert.match(answer!.headers.ratelimit!, /^"default";r=59;t=\d+$/);
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
    { path: '/api/data', headers: { 'x-api-key': KEY.revoked } },
    { path: '/api/data', headers: { 'x-api-key': KEY.write } },
    { path: '/api/data', headers: { 'x-api-key': KEY.read } },
    { path: '/api/data', headers: bearer(KEY.read) },
  );
  assertProblem(none!, 401, 'UNAUTHENTICATED');
  assertProblem(invented!, 401, 'INVALID_API_KEY');
  assertProblem(revoked!, 401, 'INVALID_API_KEY');
  assertProblem(lacking!, 403, 'INSUFFICIENT_SCOPE');
  assert.equal(good!.status, 200);
  assert.equal((good!.body as { keyId: string }).keyId, 'key:read');
  assert.equal(viaBearer!.status, 200);
  assert.deepEqual(
    lastEvents.map((e) => `${e.type}:${String(e.detail.reason ?? '')}`),
    ['authn_token_invalid:NOT_FOUND', 'authn_token_revoked:REVOKED', 'authz_fail:'],
  );
});

test('a key refused for a missing scope spends neither credits nor its limit: 403 twice, then all 3 credits', async () => {
  const answers = await conform(
    { path: '/api/data', headers: { 'x-api-key': KEY.write } },
    { path: '/api/data', headers: { 'x-api-key': KEY.write } },
    { path: '/api/write', headers: { 'x-api-key': KEY.write } },
    { path: '/api/write', headers: { 'x-api-key': KEY.write } },
    { path: '/api/write', headers: { 'x-api-key': KEY.write } },
    { path: '/api/write', headers: { 'x-api-key': KEY.write } },
  );
  assertProblem(answers[0]!, 403, 'INSUFFICIENT_SCOPE');
  assertProblem(answers[1]!, 403, 'INSUFFICIENT_SCOPE');
  assert.deepEqual(
    answers.slice(2, 5).map((a) => a.status),
    [200, 200, 200],
  );
  assertProblem(answers[5]!, 429, 'USAGE_EXCEEDED');
  assert.match(answers[5]!.headers['retry-after']!, /^[1-9][0-9]*$/);
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
  assert.match(refused.headers['ratelimit-policy']!, /^"default";q=60;w=900, ?"sensitive";q=5;w=3600$/);
  assert.match(refused.headers.ratelimit!, /^"default";r=\d+;t=\d+, ?"sensitive";r=0;t=\d+$/);
  assert.equal(lastEvents.filter((e) => e.type === 'excess_rate_limit_exceeded').length, 1);
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

test('the same security events on every face, with no secret in them', async () => {
  await conform(
    { path: '/api/protected', headers: bearer('not.a.token') },
    { path: '/api/admin', headers: bearer(userToken) },
    { path: '/api/users', ...json({ email: 'nope' }) },
    { path: '/api/users', ...json('{"__proto__":{"admin":true}}') },
    { path: '/api/data', headers: { 'x-api-key': KEY.read } },
  );
  const types = new Set(lastEvents.map((event) => event.type));
  for (const type of ['authn_token_invalid', 'authz_fail', 'input_validation_fail', 'malicious_request']) {
    assert.ok(types.has(type as SecurityEvent['type']), `no ${type} event`);
  }
  const text = JSON.stringify(apps.map((app) => app.events));
  for (const secret of [
    userToken,
    adminToken,
    SECRET,
    ...apps.flatMap((app) => Object.values(keysOf(app)).filter((v) => typeof v === 'string')),
  ]) {
    assert.ok(!text.includes(secret as string));
  }
});

// Last: it spends the API limit of every app (each test also passes alone).
test('the API limit: every face refuses at the same request, 429 with Retry-After', async () => {
  const counts: number[] = [];
  const refusals: Answer[] = [];
  for (const app of apps) {
    let allowed = 0;
    for (;;) {
      const answer = await send(app, { path: '/api/protected', headers: bearer(userToken) });
      if (answer.status !== 200) {
        refusals.push(answer);
        break;
      }
      allowed++;
      assert.ok(allowed <= LIMIT, `${app.name} never refused`);
    }
    counts.push(allowed);
  }
  assert.deepEqual(
    counts,
    apps.map(() => counts[0]),
  );
  for (const refusal of refusals.slice(1)) assert.deepEqual(refusal, refusals[0]);
  assertProblem(refusals[0]!, 429, 'RATE_LIMITED');
  assert.equal(refusals[0]!.headers['ratelimit-policy'], '"default";q=60;w=900');
});
