import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createKeyHasher } from '../api-keys/hashing.ts';
import { type ApiKeyRecord, createApiKeyIssuer } from '../api-keys/record.ts';
import { applyCredits } from '../api-keys/verify.ts';
import { memoryRateLimitStore } from '../rate-limit/memory-store.ts';
import type { RateLimitStore } from '../rate-limit/store.ts';
import { createAccessTokenIssuer } from '../tokens/access-token.ts';
import { createKeyRing, generateSigningKey } from '../tokens/signing-keys.ts';
import type { StandardSchemaV1 } from '../validation/standard-schema.ts';
import {
  createRampart,
  isRampart,
  type RampartOptions,
  type RequestView,
  type SecurityEvent,
} from './rampart.ts';

const T0 = Date.UTC(2026, 0, 1);
const now = () => T0;
const ISSUER = 'https://api.example.test';
const SECRET = 'a-test-secret-that-is-32-bytes-long';
const jwt = { secret: SECRET, issuer: ISSUER, audience: ISSUER };

function view(init: Partial<RequestView> & { header?: Record<string, string> } = {}): RequestView {
  const { header = {}, ...rest } = init;
  return { method: 'GET', path: '/api/x', ip: '203.0.113.7', headers: (name) => header[name], ...rest };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('createRampart: options', () => {
  const cases: Array<[string, RampartOptions, RegExp]> = [
    ['an unknown top-level option', { jwtt: {} } as RampartOptions, /^createRampart\.jwtt: unknown option/],
    ['a short secret', { jwt: { ...jwt, secret: 'short' } }, /^jwt\.secret: must be at least 32 bytes/],
    ['a missing issuer', { jwt: { secret: SECRET, audience: ISSUER } as never }, /^jwt\.issuer: required/],
    ['a missing audience', { jwt: { secret: SECRET, issuer: ISSUER } as never }, /^jwt\.audience: required/],
    ['two key sources', { jwt: { ...jwt, jwks: { keys: [] } } }, /^jwt: give exactly one of/],
    ['an algorithm the key cannot make', { jwt: { ...jwt, algorithms: ['RS256'] } }, /^jwt\.algorithms: /],
    ['a misspelt jwt option', { jwt: { ...jwt, isRevokd: () => false } as never }, /^jwt\.isRevokd: unknown/],
    [
      'a bad key prefix',
      { apiKeys: { verify: async () => ({ valid: false, code: 'NOT_FOUND' }), prefixes: ['X'] } },
      /^apiKeys\.prefixes\[0\]: /,
    ],
    ['no way to verify keys', { apiKeys: {} }, /^apiKeys: give verify/],
    ['a bad CORS origin', { cors: { origins: ['https://*.example.com'] } }, /^cors\.origins\[0\]: /],
    ['a bad window', { rateLimit: { api: { window: '15x' as never } } }, /^rateLimit\.api\.window: /],
    ['a bad failure limit', { authFailures: { limit: 0 } }, /^authFailures\.limit: /],
    ['a non-function hook', { onEvent: 'log' as never }, /^onEvent: expected a function/],
    ['a body limit in megabytes', { json: { limitBytes: 1e12 } }, /^json\.limitBytes: /],
    [
      'express-rate-limit’s max',
      { rateLimit: { api: { max: 100 } as never } },
      /^rateLimit\.api\.max: unknown/,
    ],
  ];
  for (const [name, options, message] of cases) {
    test(`${name} is a TypeError naming the field`, () => {
      assert.throws(
        () => createRampart(options),
        (error: unknown) => error instanceof TypeError && message.test(error.message),
      );
    });
  }

  test('the caller’s options object is not changed', () => {
    const options = { jwt: { ...jwt }, rateLimit: { api: { limit: 10 } } };
    const copy = structuredClone(options);
    void createRampart(options).apiLimiter;
    assert.deepEqual(options, copy);
  });

  test('isRampart tells a compiled policy from options', () => {
    assert.equal(isRampart(createRampart({})), true);
    assert.equal(isRampart({ jwt }), false);
  });
});

describe('authenticate', () => {
  test('a token from the configured secret passes with its principal; a role it lacks is 403', async () => {
    const rampart = createRampart({ jwt, now });
    const { token } = await rampart.issueAccessToken({ sub: 'usr_1', role: 'user', scopes: ['read'] });
    const passed = await rampart.authenticateToken(view({ header: bearer(token) }));
    assert.ok(passed.ok);
    assert.equal(passed.principal.userId, 'usr_1');
    assert.deepEqual(passed.principal.scopes, ['read']);
    const refused = await rampart.authenticate({ roles: ['admin'] })(view({ header: bearer(token) }));
    assert.ok(!refused.ok);
    assert.equal(refused.answer.status, 403);
    assert.match(refused.answer.headers['www-authenticate']!, /error="insufficient_scope"/);
  });

  test('tokens signed by another issuer verify against its JWKS, pinned to each key’s algorithm', async () => {
    const ring = createKeyRing({
      keys: [await generateSigningKey({ alg: 'EdDSA' })],
      accessTtlMs: 900_000,
      now,
    });
    const other = createAccessTokenIssuer({ ring, issuer: 'https://idp.example', audience: ISSUER, now });
    const rampart = createRampart({
      jwt: { jwks: ring.jwks(), issuer: 'https://idp.example', audience: ISSUER },
      now,
    });
    const { token } = await other.issue({ sub: 'usr_9', role: 'user' });
    const decision = await rampart.authenticateToken(view({ header: bearer(token) }));
    assert.ok(decision.ok);
    assert.equal(decision.principal.userId, 'usr_9');
    await assert.rejects(
      // @ts-expect-error: public keys only, so no issueAccessToken in the type (and a TypeError at run time)
      rampart.issueAccessToken({ sub: 'x', role: 'user' }),
      /issueAccessToken: needs jwt\.secret/,
    );
  });

  test('a JWKS holding a private key is refused at creation', async () => {
    const record = await generateSigningKey({ alg: 'ES256' });
    const leaked = { keys: [{ ...record.privateJwk, kid: record.kid, alg: 'ES256' }] };
    assert.throws(
      () => createRampart({ jwt: { jwks: leaked, issuer: ISSUER, audience: ISSUER } }),
      /^TypeError: jwt\.jwks\.keys\[0\]\.d: a private key member/,
    );
  });

  test('an API key lacking the route’s scope is 403 and spends none of its credits', async () => {
    const hasher = createKeyHasher({ peppers: { v1: randomBytes(32) }, current: 'v1' });
    const made = createApiKeyIssuer({ hasher, now }).issue({
      name: 'metered',
      scopes: ['write'],
      credits: { remaining: 3 },
    });
    assert.ok(made.ok);
    let credits: ApiKeyRecord['credits'] = made.record.credits;
    let spent = 0;
    const rampart = createRampart({
      apiKeys: {
        store: { findByHash: (hashes) => (hashes.includes(made.record.hash) ? made.record : undefined) },
        hasher,
        consumeCredits: (_record, cost, at) => {
          spent++;
          const outcome = applyCredits(credits, at, cost);
          credits = outcome.credits;
          return { allowed: outcome.allowed };
        },
      },
      now,
    });
    const request = view({ header: { 'x-api-key': made.key } });
    const refused = await rampart.validateApiKey('read')(request);
    assert.ok(!refused.ok);
    assert.equal(refused.answer.status, 403);
    assert.equal(spent, 0);
    const passed = await rampart.validateApiKey('write')(request);
    assert.ok(passed.ok);
    assert.equal(passed.principal.keyId, made.record.id);
    assert.equal(spent, 1);
  });

  test('after too many failed credentials a client is refused before any verification', async () => {
    let verified = 0;
    const rampart = createRampart({
      jwt: {
        ...jwt,
        isRevoked: () => {
          verified++;
          return false;
        },
        cache: false,
      },
      authFailures: { limit: 3, window: '15m' },
      now,
    });
    const { token } = await rampart.issueAccessToken({ sub: 'usr_1', role: 'user' });
    for (let i = 0; i < 3; i++) {
      assert.equal((await rampart.authenticateToken(view({ header: bearer('bad.token.here') }))).ok, false);
    }
    // Let the fire-and-forget failure counts land.
    await new Promise((resolve) => setImmediate(resolve));
    const blocked = await rampart.authenticateToken(view({ header: bearer(token) }));
    assert.ok(!blocked.ok);
    // A limit, not a bad token: 429 with Retry-After, even for a valid credential.
    assert.equal(blocked.answer.status, 429);
    assert.equal((blocked.answer.body as { code: string }).code, 'RATE_LIMITED');
    assert.match(blocked.answer.headers['Retry-After']!, /^[1-9]\d*$/);
    assert.match(blocked.answer.headers['RateLimit-Policy']!, /"auth-failures";q=3;w=900/);
    assert.equal(verified, 0);
    const elsewhere = await rampart.authenticateToken(view({ header: bearer(token), ip: '198.51.100.1' }));
    assert.ok(elsewhere.ok);
    await rampart.close();
  });

  test('simultaneous invented tokens from one address reach verification at most the budget times', async () => {
    let verified = 0;
    const rampart = createRampart({
      jwt: { ...jwt, cache: false, isRevoked: () => false },
      authFailures: { limit: 5, window: '15m' },
      now,
    });
    const stranger = createRampart({
      jwt: { secret: 'another-secret-that-is-32-bytes-long!', issuer: ISSUER, audience: ISSUER },
      now,
    });
    const forged = await Promise.all(
      Array.from({ length: 40 }, (_, i) => stranger.issueAccessToken({ sub: `usr_${i}`, role: 'admin' })),
    );
    const answers = await Promise.all(
      forged.map(({ token }) =>
        Promise.resolve(rampart.authenticateToken(view({ header: bearer(token) }))).then((d) => {
          if (!d.ok && d.answer.status === 401) verified++;
          return d;
        }),
      ),
    );
    assert.equal(verified, 5, 'only the reserved attempts were verified (and refused)');
    assert.equal(answers.filter((d) => !d.ok && d.answer.status === 429).length, 35);
    await rampart.close();
    await stranger.close();
  });

  test('a burst of requests with one fresh token is one attempt, not many: none is refused for the budget', async () => {
    const rampart = createRampart({ jwt, authFailures: { limit: 3, window: '15m' }, now });
    const { token } = await rampart.issueAccessToken({ sub: 'usr_1', role: 'user' });
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => rampart.authenticateToken(view({ header: bearer(token) }))),
    );
    assert.ok(answers.every((d) => d.ok));
    await rampart.close();
  });

  test('a valid credential of the wrong kind is refused without counting as a failed authentication', async () => {
    const events: SecurityEvent[] = [];
    const rampart = createRampart({
      jwt,
      apiKeys: { verify: async () => ({ valid: false, code: 'NOT_FOUND' }) },
      authFailures: { limit: 3, window: '15m' },
      onEvent: (event) => events.push(event),
      now,
    });
    const { token } = await rampart.issueAccessToken({ sub: 'usr_1', role: 'user' });
    const keysOnly = rampart.validateApiKey('read');
    for (let i = 0; i < 31; i++) {
      const refused = await keysOnly(view({ header: bearer(token) }));
      assert.ok(!refused.ok);
      assert.equal(refused.answer.status, 401);
    }
    // The developer's own address is not locked out: the same token works where it belongs.
    assert.ok((await rampart.authenticateToken(view({ header: bearer(token) }))).ok);
    assert.equal(events.filter((e) => e.detail.reason === 'NOT_ACCEPTED').length, 31);
    await rampart.close();
  });

  test('two Authorization headers (joined by the adapter) are refused 400, never first-wins', async () => {
    const rampart = createRampart({ jwt, now });
    const { token } = await rampart.issueAccessToken({ sub: 'usr_1', role: 'user' });
    const twice: Array<Record<string, string>> = [
      { authorization: `Bearer ${token}, Bearer ${token}` },
      { authorization: `Bearer ${token}, Basic dXNlcjpwYXNz` },
      { 'x-api-key': 'rk_live_a, rk_live_b' },
    ];
    for (const header of twice) {
      const refused = await rampart.authenticateToken(view({ header }));
      assert.ok(!refused.ok);
      assert.equal(refused.answer.status, 400);
      assert.match(refused.answer.headers['www-authenticate']!, /invalid_request/);
    }
    await rampart.close();
  });

  test('attempts(): 40 simultaneous wrong passwords with the right one among them get at most the budget through', async () => {
    const rampart = createRampart({ now });
    const gate = rampart.attempts({
      rules: [
        { name: 'login-account', key: (r) => (r.body as { email: string }).email, limit: 10, window: '15m' },
      ],
    });
    const right = 17;
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const decision = await gate(view({ method: 'POST', body: { email: 'ada@example.com' } }));
        if (!decision.ok) return decision.answer.status;
        // The "argon2" takes a while; every attempt is in flight at once.
        await new Promise((resolve) => setTimeout(resolve, 5));
        decision.attempt.settle(i === right);
        return i === right ? 200 : 401;
      }),
    );
    const through = outcomes.filter((status) => status !== 429).length;
    assert.ok(through <= 10, `${through} attempts reached the password check`);
    assert.equal(outcomes.filter((status) => status === 429).length, 40 - through);
    await rampart.close();
  });

  test('attempts(): a success gives its units back; failures stay counted until the budget refuses', async () => {
    const rampart = createRampart({ now, authFailures: { limit: 30, window: '15m' } });
    const gate = rampart.attempts({ rules: [{ name: 'change', key: 'ip', limit: 3, window: '15m' }] });
    for (let i = 0; i < 10; i++) {
      const decision = await gate(view({ method: 'POST' }));
      assert.ok(decision.ok);
      decision.attempt.settle(true);
    }
    for (let i = 0; i < 3; i++) {
      const decision = await gate(view({ method: 'POST' }));
      assert.ok(decision.ok);
      decision.attempt.settle(false);
    }
    const refused = await gate(view({ method: 'POST' }));
    assert.ok(!refused.ok);
    assert.equal(refused.answer.status, 429);
    await rampart.close();
  });

  test('a client rotating IPv6 addresses inside its /64 is blocked as one', async () => {
    const rampart = createRampart({ jwt, authFailures: { limit: 2, window: '15m' }, now });
    const { token } = await rampart.issueAccessToken({ sub: 'usr_1', role: 'user' });
    for (const ip of ['2001:db8:1:2::a', '2001:db8:1:2::b']) {
      await rampart.authenticateToken(view({ ip, header: bearer('bad.token.here') }));
    }
    await new Promise((resolve) => setImmediate(resolve));
    const blocked = await rampart.authenticateToken(view({ ip: '2001:db8:1:2::c', header: bearer(token) }));
    assert.equal(blocked.ok, false);
    const neighbour = await rampart.authenticateToken(view({ ip: '2001:db8:1:3::c', header: bearer(token) }));
    assert.equal(neighbour.ok, true);
    await rampart.close();
  });

  test('refusals become events that name the reason, never the credential', async () => {
    const events: SecurityEvent[] = [];
    const rampart = createRampart({ jwt, now, onEvent: (event) => events.push(event) });
    const { token } = await rampart.issueAccessToken({ sub: 'usr_1', role: 'user' });
    const tampered = `${token.slice(0, -4)}AAAA`;
    await rampart.authenticateToken(view({ header: bearer(tampered), requestId: 'req_1' }));
    await rampart.authenticate({ roles: ['admin'] })(view({ header: bearer(token) }));
    assert.deepEqual(
      events.map((e) => [e.type, e.detail.reason ?? e.detail.needed, e.requestId]),
      [
        ['authn_token_invalid', 'BAD_SIGNATURE', 'req_1'],
        ['authz_fail', ['role:admin'], undefined],
      ],
    );
    assert.ok(!JSON.stringify(events).includes(tampered.slice(20, 60)));
  });

  test('a throwing onEvent hook never fails a request', async () => {
    const rampart = createRampart({
      jwt,
      now,
      onEvent: () => {
        throw new Error('sink down');
      },
    });
    const warned = new Promise((resolve) => process.once('warning', resolve));
    const decision = await rampart.authenticateToken(view({ header: bearer('x.y.z') }));
    assert.equal(decision.ok, false);
    assert.match(String(((await warned) as Error).message), /onEvent threw: sink down/);
  });
});

describe('rateLimit', () => {
  test('limits applied in turn name every policy in the RateLimit fields', async () => {
    const rampart = createRampart({ rateLimit: { api: { limit: 10 }, sensitive: { limit: 1 } }, now });
    const request = view({ method: 'POST' });
    assert.ok((await rampart.apiLimiter(request)).ok);
    const second = await rampart.sensitiveLimiter(request);
    assert.ok(second.ok);
    assert.match(second.headers['RateLimit-Policy']!, /^"api";q=10;w=900,"sensitive";q=1;w=3600$/);
    const again = view({ method: 'POST' });
    await rampart.apiLimiter(again);
    const refused = await rampart.sensitiveLimiter(again);
    assert.ok(!refused.ok);
    assert.equal(refused.answer.status, 429);
    assert.match(refused.answer.headers['Retry-After']!, /^\d+$/);
    assert.match(refused.answer.headers['RateLimit-Policy']!, /"api".*"sensitive"/);
    await rampart.close();
  });

  test('a store that is down under a closed policy answers 503, not 429, and says so once', async () => {
    const events: SecurityEvent[] = [];
    const down: RateLimitStore = {
      keyPrefix: '',
      consume: () => Promise.reject(new Error('ECONNREFUSED')),
      peek: () => Promise.reject(new Error('ECONNREFUSED')),
      refund: () => Promise.reject(new Error('ECONNREFUSED')),
      reset: () => undefined,
      close: () => undefined,
    };
    const rampart = createRampart({
      rateLimit: { store: down },
      now,
      onEvent: (event) => events.push(event),
    });
    const limit = rampart.rateLimit({ name: 'strict', limit: 5, window: '1m', onStoreError: 'closed' });
    for (let i = 0; i < 2; i++) {
      const decision = await limit(view());
      assert.ok(!decision.ok);
      assert.equal(decision.answer.status, 503);
      assert.equal((decision.answer.body as { code: string }).code, 'STORE_UNAVAILABLE');
    }
    assert.deepEqual(
      events.map((e) => e.type),
      ['sys_store_down'],
    );
    await rampart.close();
  });

  test('the default per-instance fallback keeps limiting while a shared store is down', async () => {
    const down: RateLimitStore = {
      keyPrefix: '',
      consume: () => Promise.reject(new Error('down')),
      peek: () => Promise.reject(new Error('down')),
      refund: () => Promise.reject(new Error('down')),
      reset: () => undefined,
      close: () => undefined,
    };
    const rampart = createRampart({ rateLimit: { store: down }, now, onEvent: () => {} });
    const limit = rampart.rateLimit({ name: 'two', limit: 2, window: '1m' });
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const decision = await limit(view());
      statuses.push(decision.ok ? 200 : decision.answer.status);
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    await rampart.close();
  });

  test('two limits with one name are refused: they would share counters', () => {
    const rampart = createRampart({ now });
    rampart.rateLimit({ name: 'login', limit: 5, window: '1m' });
    assert.throws(
      () => rampart.rateLimit({ name: 'login', limit: 10, window: '1h' }),
      /^TypeError: rateLimit\.name: "login" is already used/,
    );
  });

  test('a limit keyed by user counts each principal apart', async () => {
    const rampart = createRampart({ rateLimit: { store: memoryRateLimitStore() }, now });
    const limit = rampart.rateLimit({ name: 'per-user', limit: 1, window: '1m', key: 'user' });
    const principal = { kind: 'user' as const, userId: 'usr_1', role: 'user' as const, scopes: [] };
    assert.ok((await limit(view({ principal }))).ok);
    assert.ok(!(await limit(view({ principal }))).ok);
    assert.ok((await limit(view({ principal: { ...principal, userId: 'usr_2' } }))).ok);
    await rampart.close();
  });
});

describe('validate', () => {
  // Not Zod: any object with a "~standard" property of version 1 is a validator.
  const positiveInt: StandardSchemaV1<unknown, { page: number }> = {
    '~standard': {
      version: 1,
      vendor: 'hand-written',
      validate: (value) => {
        const page = Number((value as { page?: unknown }).page);
        return Number.isInteger(page) && page > 0
          ? { value: { page } }
          : { issues: [{ message: 'page must be a positive integer', path: ['page'] }] };
      },
    },
  };

  test('any Standard Schema works; query and params errors are JSON Pointers under /query and /params', async () => {
    const rampart = createRampart({ now });
    const check = rampart.validate({ query: positiveInt, params: positiveInt });
    const refused = await check(view({ query: 'page=0', params: { page: 'x' } }));
    assert.ok(!refused.ok);
    assert.deepEqual(
      (refused.answer.body as { errors: Array<{ path: string; code: string }> }).errors.map(
        (e) => `${e.path}:${e.code}`,
      ),
      ['/params/page:invalid', '/query/page:invalid'],
    );
    const passed = await check(view({ query: 'page=2&x=1&x=2', params: { page: '3' } }));
    assert.ok(passed.ok);
    assert.deepEqual(passed.value, { params: { page: 3 }, query: { page: 2 } });
  });

  test('a body in another media type is refused 415 before the schema sees it', async () => {
    const rampart = createRampart({ now });
    const decision = await rampart.validate({ body: positiveInt })(
      view({
        method: 'POST',
        body: 'page=1',
        header: { 'content-type': 'text/plain', 'content-length': '6' },
      }),
    );
    assert.ok(!decision.ok);
    assert.equal(decision.answer.status, 415);
  });

  test('a validator that is not a Standard Schema is a TypeError at creation', () => {
    assert.throws(
      () => createRampart({}).validate({ body: {} as never }),
      /^TypeError: validate\.body: expected a Standard Schema/,
    );
  });
});

describe('readJson', () => {
  const config = createRampart({ json: { limitBytes: 16 } });

  test('no body is undefined, not an error', async () => {
    const decision = await config.readJson({ contentType: undefined, contentLength: undefined, body: null });
    assert.deepEqual(decision, { ok: true, headers: {}, value: undefined });
  });

  test('a length over the limit is 413 before a byte is read', async () => {
    let pulled = 0;
    async function* body() {
      pulled++;
      yield new Uint8Array(10);
    }
    const decision = await config.readJson({
      contentType: 'application/json',
      contentLength: '99',
      body: body(),
    });
    assert.ok(!decision.ok);
    assert.equal(decision.answer.status, 413);
    assert.equal(pulled, 0);
  });

  test('a chunked body is read only up to the limit', async () => {
    let pulled = 0;
    async function* body() {
      for (;;) {
        pulled++;
        yield new TextEncoder().encode('[1,2,3,4,5,');
      }
    }
    const decision = await config.readJson({
      contentType: 'application/json',
      contentLength: undefined,
      transferEncoding: 'chunked',
      body: body(),
    });
    assert.ok(!decision.ok);
    assert.equal(decision.answer.status, 413);
    assert.equal(pulled, 2);
  });
});

describe('the HTTP pieces', () => {
  test('errorAnswer keeps a 4xx, hides everything else as a 500, and tells onError', () => {
    const seen: unknown[] = [];
    const rampart = createRampart({ onError: (error) => seen.push(error) });
    const tooLarge = rampart.errorAnswer(Object.assign(new Error('entity too large'), { status: 413 }));
    assert.equal(tooLarge.status, 413);
    assert.equal((tooLarge.body as { code: string }).code, 'PAYLOAD_TOO_LARGE');
    const secret = new Error('password=hunter2 at /srv/app/db.ts');
    const hidden = rampart.errorAnswer(secret, view({ requestId: 'req_7' }));
    assert.deepEqual(hidden.body, {
      type: 'urn:rampart:problem:internal',
      title: 'Internal error',
      status: 500,
      code: 'INTERNAL',
      requestId: 'req_7',
    });
    assert.deepEqual(seen, [secret]);
  });

  test('clientIp believes X-Forwarded-For only from a trusted proxy', () => {
    const rampart = createRampart({ trustProxy: ['10.0.0.0/8'] });
    const header = { 'x-forwarded-for': '198.51.100.9' };
    assert.equal(rampart.clientIp(view({ ip: '10.0.0.2', header })), '198.51.100.9');
    assert.equal(rampart.clientIp(view({ ip: '203.0.113.5', header })), '203.0.113.5');
  });

  test('a CORS preflight is answered 204 with no body; cors() needs origins', () => {
    const rampart = createRampart({ cors: { origins: ['https://app.example.com'] } });
    const decision = rampart.cors()(
      view({
        method: 'OPTIONS',
        header: { origin: 'https://app.example.com', 'access-control-request-method': 'PUT' },
      }),
    );
    assert.ok(!decision.ok);
    assert.equal(decision.answer.status, 204);
    assert.equal(decision.answer.body, undefined);
    assert.equal(decision.answer.headers['Access-Control-Allow-Origin'], 'https://app.example.com');
    // @ts-expect-error: no cors option, so cors() needs its options (and a TypeError at run time)
    assert.throws(() => createRampart({}).cors(), /^TypeError: cors\.origins: /);
  });

  test('security headers default to plain HTTP (no HSTS) and add HSTS when asked', () => {
    const rampart = createRampart({});
    assert.equal(rampart.securityHeaders()['Strict-Transport-Security'], undefined);
    assert.match(rampart.securityHeaders({ https: true })['Strict-Transport-Security']!, /^max-age=31536000/);
  });
});

describe('migrating from jsonwebtoken', () => {
  test('a token signed by jsonwebtoken in the RFC 9068 profile verifies; the tutorial’s bare token does not', async () => {
    const { default: jsonwebtoken } = await import('jsonwebtoken');
    const { hs256SigningKey } = await import('../tokens/signing-keys.ts');
    const rampart = createRampart({ jwt });
    const { kid } = hs256SigningKey({ secret: SECRET });
    const profiled = jsonwebtoken.sign({ role: 'admin' }, SECRET, {
      algorithm: 'HS256',
      keyid: kid,
      header: { alg: 'HS256', typ: 'at+jwt' },
      subject: '123',
      issuer: ISSUER,
      audience: ISSUER,
      jwtid: 'jti-1',
      expiresIn: '1h',
    });
    const passed = await rampart.authenticateToken(view({ header: bearer(profiled) }));
    assert.ok(passed.ok);
    assert.deepEqual([passed.principal.userId, passed.principal.role], ['123', 'admin']);

    const tutorial = jsonwebtoken.sign({ userId: '123', role: 'admin' }, SECRET, {
      expiresIn: '1h',
      algorithm: 'HS256',
    });
    const refused = await rampart.authenticateToken(view({ header: bearer(tutorial) }));
    assert.ok(!refused.ok);
    assert.equal(refused.answer.status, 401);
  });
});

describe('authenticate({ issuers })', () => {
  test('each issuer must be one of jwt.issuers, and only bearer tokens have one', () => {
    const rampart = createRampart({
      jwt: {
        ...jwt,
        issuers: [
          { issuer: 'https://idp.example.test', jwksUri: 'https://idp.example.test/jwks', audience: ISSUER },
        ],
      },
      now,
    });
    assert.equal(typeof rampart.authenticate({ issuers: ['https://idp.example.test'] }), 'function');
    assert.throws(
      () => rampart.authenticate({ issuers: ['https://other.example.test'] }),
      /^TypeError: authenticate\.issuers\[0\]: "https:\/\/other\.example\.test" is not one of the trusted issuers/,
    );
    assert.throws(
      () => rampart.authenticate({ accept: 'any', issuers: ['https://idp.example.test'] }),
      /^TypeError: authenticate\.issuers: only bearer tokens/,
    );
  });

  test("Rampart's own valid token is refused 401 on a route that takes one outside issuer only, and costs no failure", async () => {
    const events: SecurityEvent[] = [];
    const rampart = createRampart({
      jwt: {
        ...jwt,
        issuers: [
          { issuer: 'https://idp.example.test', jwksUri: 'https://idp.example.test/jwks', audience: ISSUER },
        ],
      },
      authFailures: { limit: 1, window: '15m' },
      onEvent: (e) => events.push(e),
      now,
    });
    const { token } = await rampart.issueAccessToken({ sub: 'usr_1', role: 'user' });
    const step = rampart.authenticate({ issuers: ['https://idp.example.test'] });
    for (let i = 0; i < 3; i++) {
      const d = await step(view({ header: bearer(token) }));
      assert.equal(!d.ok && d.answer.status, 401);
    }
    assert.ok(events.every((e) => e.detail.reason === 'ISSUER_NOT_ACCEPTED'));
  });
});
