import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { API_KEY_REGEX, generateApiKey } from 'rampart/internal/api-keys/index.ts';
import { type TestServer, testServer } from './helpers.ts';

/**
 * API keys end to end through the HTTP API: the whole lifecycle, every verification code,
 * owners kept apart, grants bounded, and the one 401 every refused key gets.
 */

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const START = Date.parse('2030-01-01T00:00:00Z');

/** A server on a frozen clock (advance it with `clock.t += ms`) and its first-start admin key. */
async function server() {
  const clock = { t: START };
  const s = await testServer({ now: () => clock.t });
  servers.push(s);
  const admin = readFileSync(join(s.dataDir, 'admin-key'), 'utf8').trim();
  return { s, clock, admin };
}

const PASSWORD = 'correct horse battery staple';
let counter = 0;

async function user(s: TestServer) {
  const email = `keys${++counter}@example.com`;
  const reg = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password: PASSWORD, name: 'Key Owner' },
  });
  assert.equal(reg.statusCode, 201, reg.body);
  const login = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email, password: PASSWORD },
  });
  assert.equal(login.statusCode, 200, login.body);
  return { id: reg.json().id as string, token: login.json().access_token as string, email };
}

/** A fresh access token (after the frozen clock moved past the old one's 15 minutes). */
async function relogin(s: TestServer, email: string): Promise<string> {
  const login = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email, password: PASSWORD },
  });
  assert.equal(login.statusCode, 200, login.body);
  return login.json().access_token;
}

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
const xApiKey = (key: string) => ({ 'x-api-key': key });

async function createKey(s: TestServer, credential: string, body: Record<string, unknown>) {
  const res = await s.app.inject({
    method: 'POST',
    url: '/v1/keys',
    headers: bearer(credential),
    payload: body,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; key: string; [field: string]: unknown };
}

async function verify(s: TestServer, admin: string, key: string, scope?: string) {
  const res = await s.app.inject({
    method: 'POST',
    url: '/v1/keys/verify',
    headers: xApiKey(admin),
    payload: scope === undefined ? { key } : { key, scope },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

/** The 401 of a refused key, without its request id (the one part that differs). */
async function refusal(s: TestServer, headers: Record<string, string>) {
  const res = await s.app.inject({ method: 'GET', url: '/v1/keys', headers });
  assert.equal(res.statusCode, 401, res.body);
  const { requestId: _id, ...body } = res.json();
  return { body, challenge: res.headers['www-authenticate'], type: res.headers['content-type'] };
}

describe('API key lifecycle', () => {
  test('create → use through both headers → every verify code → rotate with grace → revoke → refused', async () => {
    const { s, clock, admin } = await server();
    const owner = await user(s);

    // Create: the plaintext comes back once, in the documented format.
    const created = await createKey(s, owner.token, { name: 'ci', scopes: ['read', 'keys:write'] });
    assert.match(created.key, new RegExp(`^${API_KEY_REGEX.source}$`));
    assert.ok(created.key.startsWith('rk_live_'));
    assert.equal(created.prefix, 'rk_live_');
    assert.equal(created.ownerId, owner.id);
    assert.deepEqual(created.scopes, ['read', 'keys:write']);
    assert.equal(created.createdAt, new Date(START).toISOString());
    assert.equal(created.expiresAt, null);
    assert.equal(created.hash, undefined);

    // Use: x-api-key and Authorization: Bearer both work.
    for (const headers of [xApiKey(created.key), bearer(created.key)]) {
      const me = await s.app.inject({ method: 'GET', url: '/v1/me', headers });
      assert.equal(me.statusCode, 200, me.body);
      assert.equal(me.json().id, owner.id);
    }
    // ...and never the query string.
    const inQuery = await s.app.inject({ method: 'GET', url: `/v1/me?api_key=${created.key}` });
    assert.equal(inQuery.statusCode, 400);
    assert.equal(inQuery.json().code, 'CREDENTIAL_IN_QUERY');
    assert.ok(!inQuery.body.includes(created.key));

    // Verify: VALID, INSUFFICIENT_SCOPE, NOT_FOUND (unknown and malformed).
    const valid = await verify(s, admin, created.key, 'read');
    assert.deepEqual(valid, {
      valid: true,
      code: 'VALID',
      keyId: created.id,
      ownerId: owner.id,
      scopes: ['read', 'keys:write'],
      expiresAt: null,
    });
    assert.deepEqual(await verify(s, admin, created.key, 'write'), {
      valid: false,
      code: 'INSUFFICIENT_SCOPE',
      keyId: created.id,
    });
    assert.deepEqual(await verify(s, admin, generateApiKey('rk_live_').key), {
      valid: false,
      code: 'NOT_FOUND',
    });
    // The last character changed (to one it is not: the test must not pass by chance 1 in 62).
    const flipped = `${created.key.slice(0, -1)}${created.key.endsWith('x') ? 'y' : 'x'}`;
    assert.deepEqual(await verify(s, admin, flipped), {
      valid: false,
      code: 'NOT_FOUND',
    });

    // EXPIRED, on the frozen clock.
    const expiring = await createKey(s, owner.token, {
      name: 'short',
      scopes: ['read'],
      expiresAt: new Date(START + 60_000).toISOString(),
    });
    assert.equal((await verify(s, admin, expiring.key)).code, 'VALID');
    clock.t += 60_000;
    assert.deepEqual(await verify(s, admin, expiring.key), {
      valid: false,
      code: 'EXPIRED',
      keyId: expiring.id,
    });

    // USAGE_EXCEEDED: two credits, two uses.
    const metered = await createKey(s, owner.token, {
      name: 'metered',
      scopes: [],
      credits: { remaining: 2 },
    });
    assert.equal((await verify(s, admin, metered.key)).remaining, 1);
    assert.equal((await verify(s, admin, metered.key)).remaining, 0);
    assert.deepEqual(await verify(s, admin, metered.key), {
      valid: false,
      code: 'USAGE_EXCEEDED',
      keyId: metered.id,
    });

    // RATE_LIMITED: two per minute.
    const limited = await createKey(s, owner.token, {
      name: 'limited',
      scopes: [],
      rateLimit: { limit: 2, window: '1m' },
    });
    assert.equal((await verify(s, admin, limited.key)).code, 'VALID');
    assert.equal((await verify(s, admin, limited.key)).code, 'VALID');
    const over = await verify(s, admin, limited.key);
    assert.equal(over.code, 'RATE_LIMITED');
    // Whole seconds; a sliding window frees its oldest sub-window up to one sub-window late.
    assert.ok(
      Number.isInteger(over.retryAfter) && over.retryAfter >= 1 && over.retryAfter <= 66,
      over.retryAfter,
    );

    // Rotate with a one-hour grace: both keys work, then only the new one.
    owner.token = await relogin(s, owner.email);
    const rotate = await s.app.inject({
      method: 'POST',
      url: `/v1/keys/${created.id}/rotate`,
      headers: bearer(owner.token),
      payload: { gracePeriod: '1h' },
    });
    assert.equal(rotate.statusCode, 201, rotate.body);
    const rotated = rotate.json();
    assert.notEqual(rotated.key, created.key);
    assert.equal(rotated.rotatedFrom, created.id);
    assert.deepEqual(rotated.scopes, created.scopes);
    assert.equal(rotated.previous.revokedAt, new Date(clock.t + 3_600_000).toISOString());
    assert.equal((await verify(s, admin, created.key)).code, 'VALID');
    assert.equal((await verify(s, admin, rotated.key)).code, 'VALID');
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/v1/me', headers: xApiKey(created.key) })).statusCode,
      200,
    );
    clock.t += 3_600_000;
    assert.deepEqual(await verify(s, admin, created.key), {
      valid: false,
      code: 'REVOKED',
      keyId: created.id,
    });
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/v1/me', headers: xApiKey(created.key) })).statusCode,
      401,
    );
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(rotated.key) })).statusCode,
      200,
    );

    // Revoke: 204, refused at once on this instance (the cached record is dropped).
    owner.token = await relogin(s, owner.email);
    const del = await s.app.inject({
      method: 'DELETE',
      url: `/v1/keys/${rotated.id}`,
      headers: bearer(owner.token),
    });
    assert.equal(del.statusCode, 204);
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(rotated.key) })).statusCode,
      401,
    );
    assert.deepEqual(await verify(s, admin, rotated.key), {
      valid: false,
      code: 'REVOKED',
      keyId: rotated.id,
    });
    const listed = await s.app.inject({
      method: 'GET',
      url: `/v1/keys/${rotated.id}`,
      headers: bearer(owner.token),
    });
    assert.equal(listed.json().status, 'revoked');
    assert.equal(listed.json().revokedAt, new Date(clock.t).toISOString());

    // The trail: created, rotated, revoked; no key in any event.
    await s.context.audit.flush();
    const audit = await s.app.inject({ method: 'GET', url: '/v1/audit?limit=500', headers: xApiKey(admin) });
    const types = audit.json().events.map((e: { type: string }) => e.type);
    for (const type of ['key_created', 'key_rotated', 'key_revoked']) assert.ok(types.includes(type), type);
    for (const key of [created.key, rotated.key, expiring.key, metered.key, limited.key, admin]) {
      assert.ok(!audit.body.includes(key));
    }
  });

  test('every refused key gets the same 401, whatever the reason (no oracle); a valid key over its own limits is told to wait', async () => {
    const { s, clock, admin } = await server();
    const owner = await user(s);
    const make = (body: Record<string, unknown>) =>
      createKey(s, admin, { ownerId: owner.id, scopes: ['keys:write'], ...body });
    const revoked = await make({ name: 'revoked' });
    await s.app.inject({ method: 'DELETE', url: `/v1/keys/${revoked.id}`, headers: bearer(admin) });
    const expired = await make({ name: 'expired', expiresAt: START + 1_000 });
    const spent = await make({ name: 'spent', credits: { remaining: 0 } });
    const limited = await make({ name: 'limited', rateLimit: { limit: 1, window: '1h' } });
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/v1/keys', headers: xApiKey(limited.key) })).statusCode,
      200,
    );
    clock.t += 2_000;

    const cases = {
      unknown: generateApiKey('rk_live_').key,
      malformed: 'rk_live_not-a-key',
      badChecksum: `${revoked.key.slice(0, -6)}000000`,
      revoked: revoked.key,
      expired: expired.key,
    };
    // A key of another prefix (rk_test_ on a live server) is refused the same way; as a
    // Bearer value it is not recognised as a key at all, so it is tried as x-api-key only.
    const answers = [JSON.stringify(await refusal(s, xApiKey(generateApiKey('rk_test_').key)))];
    for (const [name, key] of Object.entries(cases)) {
      for (const headers of [xApiKey(key), bearer(key)]) {
        const answer = await refusal(s, headers);
        assert.equal(answer.body.code, 'INVALID_API_KEY', name);
        answers.push(JSON.stringify(answer));
      }
    }
    assert.equal(new Set(answers).size, 1, 'one answer for every refused key');
    // Only the holder of a working key can see these, so they tell an attacker nothing new,
    // and they tell the holder what to do (RFC 6585: 429 with Retry-After).
    for (const [key, code] of [
      [spent.key, 'USAGE_EXCEEDED'],
      [limited.key, 'RATE_LIMITED'],
    ] as const) {
      const res = await s.app.inject({ method: 'GET', url: '/v1/keys', headers: xApiKey(key) });
      assert.equal(res.statusCode, 429);
      assert.equal(res.json().code, code);
      assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
    }
    assert.match(
      String(JSON.parse(answers[0]!).challenge),
      /^Bearer realm="rampart", error="invalid_token"$/,
    );
  });

  test('the precise codes are counted in the metrics, not shown to the caller', async () => {
    const { s, admin } = await server();
    await s.app.inject({ method: 'GET', url: '/v1/keys', headers: xApiKey(generateApiKey('rk_live_').key) });
    const metrics = await s.app.inject({ method: 'GET', url: '/metrics', headers: xApiKey(admin) });
    assert.match(metrics.body, /rampart_api_key_verifications_total\{code="NOT_FOUND"\} 1/);
    assert.match(
      metrics.body,
      /rampart_authentications_total\{credential="api_key",outcome="failure",reason="NOT_FOUND"\} 1/,
    );
  });

  test('rotation of a revoked key is refused, and a grace period is bounded', async () => {
    const { s, admin } = await server();
    const k = await createKey(s, admin, { name: 'x', scopes: [] });
    const long = await s.app.inject({
      method: 'POST',
      url: `/v1/keys/${k.id}/rotate`,
      headers: bearer(admin),
      payload: { gracePeriod: '31d' },
    });
    assert.equal(long.statusCode, 400);
    assert.equal(long.json().errors[0].path, '/gracePeriod');
    await s.app.inject({ method: 'DELETE', url: `/v1/keys/${k.id}`, headers: bearer(admin) });
    const res = await s.app.inject({
      method: 'POST',
      url: `/v1/keys/${k.id}/rotate`,
      headers: bearer(admin),
      payload: {},
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'BAD_REQUEST');
  });

  test('a create body is validated strictly: unknown fields, bad scopes and past expiry are 400', async () => {
    const { s, admin } = await server();
    const bad = [
      { name: 'x', scopes: [], hash: 'v1:mine' },
      { name: 'x', scopes: ['keys:*'] },
      { name: '', scopes: [] },
      { name: 'x' },
      { name: 'x', scopes: [], expiresAt: START - 1 },
      { name: 'x', scopes: [], expiresAt: 'tomorrow' },
      { name: 'x', scopes: [], rateLimit: { limit: 0, window: '1m' } },
      { name: 'x', scopes: [], credits: { remaining: -1 } },
      { name: 'x', scopes: [], credits: { remaining: 1, refill: { amount: 1, interval: 'monthly' } } },
      { name: 'x\u001b[31m', scopes: [] },
    ];
    for (const payload of bad) {
      const res = await s.app.inject({ method: 'POST', url: '/v1/keys', headers: bearer(admin), payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().code, 'VALIDATION_FAILED');
    }
  });
});

describe('owners and grants', () => {
  test("owners cannot see or touch each other's keys: 404, as for an unknown id, and it is audited", async () => {
    const { s, admin } = await server();
    const alice = await user(s);
    const bob = await user(s);
    const aliceKey = await createKey(s, alice.token, { name: 'alice', scopes: ['keys:write'] });
    const bobKey = await createKey(s, bob.token, { name: 'bob', scopes: ['keys:write'] });

    for (const credential of [bob.token, bobKey.key]) {
      const attempts = [
        { method: 'GET' as const, url: `/v1/keys/${aliceKey.id}` },
        { method: 'DELETE' as const, url: `/v1/keys/${aliceKey.id}` },
        { method: 'POST' as const, url: `/v1/keys/${aliceKey.id}/rotate`, payload: {} },
      ];
      for (const attempt of attempts) {
        const theirs = await s.app.inject({ ...attempt, headers: bearer(credential) });
        const unknown = await s.app.inject({
          ...attempt,
          url: attempt.url.replace(aliceKey.id, 'key_0000000000000000000000'),
          headers: bearer(credential),
        });
        assert.equal(theirs.statusCode, 404, `${attempt.method} ${attempt.url}`);
        assert.equal(theirs.json().code, unknown.json().code);
        assert.equal(theirs.json().detail, unknown.json().detail);
      }
      const list = await s.app.inject({ method: 'GET', url: '/v1/keys', headers: bearer(credential) });
      const ids = list.json().keys.map((k: { id: string }) => k.id);
      assert.deepEqual(ids, [bobKey.id]);
      // Asking for someone else's keys by owner changes nothing for a non-admin.
      const asked = await s.app.inject({
        method: 'GET',
        url: `/v1/keys?ownerId=${alice.id}`,
        headers: bearer(credential),
      });
      assert.deepEqual(
        asked.json().keys.map((k: { id: string }) => k.id),
        [bobKey.id],
      );
    }
    // Alice's key is untouched and still works.
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/v1/me', headers: xApiKey(aliceKey.key) })).json().id,
      alice.id,
    );
    // Admins see every key.
    const all = await s.app.inject({ method: 'GET', url: '/v1/keys', headers: xApiKey(admin) });
    const allIds = all.json().keys.map((k: { id: string }) => k.id);
    assert.ok(allIds.includes(aliceKey.id) && allIds.includes(bobKey.id));
    await s.context.audit.flush();
    const denials = await s.app.inject({
      method: 'GET',
      url: '/v1/audit?type=authz_fail',
      headers: xApiKey(admin),
    });
    assert.ok(
      denials.json().events.some((e: { detail: { keyId?: string } }) => e.detail.keyId === aliceKey.id),
    );
  });

  test('a user cannot create a key for someone else or grant admin-only scopes (403, audited)', async () => {
    const { s, admin } = await server();
    const alice = await user(s);
    const bob = await user(s);
    const attempts = [
      { name: 'x', scopes: [], ownerId: bob.id },
      { name: 'x', scopes: [], ownerId: null },
      { name: 'x', scopes: ['admin'] },
      { name: 'x', scopes: ['keys:verify'] },
      { name: 'x', scopes: ['audit:read'] },
    ];
    for (const payload of attempts) {
      const res = await s.app.inject({
        method: 'POST',
        url: '/v1/keys',
        headers: bearer(alice.token),
        payload,
      });
      assert.equal(res.statusCode, 403, JSON.stringify(payload));
      assert.equal(res.json().code, 'INSUFFICIENT_SCOPE');
      assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope"/);
    }
    // A user may grant application scopes and keys:write on their own keys.
    await createKey(s, alice.token, { name: 'app', scopes: ['orders:read', 'keys:write'] });
    await s.context.audit.flush();
    const denials = await s.app.inject({
      method: 'GET',
      url: `/v1/audit?type=authz_fail&actor=${alice.id}`,
      headers: xApiKey(admin),
    });
    // Identical denials within a minute collapse into one row (its count is written when the window ends).
    const needed = new Set(
      denials.json().events.map((e: { detail: { needed: string[] } }) => e.detail.needed.join()),
    );
    assert.deepEqual([...needed].sort(), ['admin', 'audit:read', 'keys:verify']);
  });

  test('a key can only mint keys narrower than itself, and only with keys:write', async () => {
    const { s } = await server();
    const alice = await user(s);
    const plain = await createKey(s, alice.token, { name: 'plain', scopes: ['orders:read'] });
    const manager = await createKey(s, alice.token, {
      name: 'manager',
      scopes: ['orders:read', 'keys:write'],
    });

    const noWrite = await s.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: xApiKey(plain.key),
      payload: { name: 'x', scopes: [] },
    });
    assert.equal(noWrite.statusCode, 403);
    assert.match(String(noWrite.headers['www-authenticate']), /scope="keys:write"/);
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/v1/keys', headers: xApiKey(plain.key) })).statusCode,
      403,
    );

    const broader = await s.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: xApiKey(manager.key),
      payload: { name: 'x', scopes: ['orders:write'] },
    });
    assert.equal(broader.statusCode, 403);
    const child = await createKey(s, manager.key, { name: 'child', scopes: ['orders:read'] });
    assert.equal(child.ownerId, alice.id);
  });

  test('an admin creates ownerless and user-owned keys; an admin key with keys:verify-only scope cannot manage keys', async () => {
    const { s, admin } = await server();
    const alice = await user(s);
    const verifier = await createKey(s, admin, { name: 'gateway', scopes: ['keys:verify'], ownerId: null });
    assert.equal(verifier.ownerId, null);
    const forAlice = await createKey(s, admin, {
      name: 'for alice',
      scopes: ['orders:read'],
      ownerId: alice.id,
    });
    assert.equal(forAlice.ownerId, alice.id);
    const aliceList = await s.app.inject({ method: 'GET', url: '/v1/keys', headers: bearer(alice.token) });
    assert.deepEqual(
      aliceList.json().keys.map((k: { id: string }) => k.id),
      [forAlice.id],
    );
    // The gateway key verifies keys but cannot list or create them.
    const v = await s.app.inject({
      method: 'POST',
      url: '/v1/keys/verify',
      headers: xApiKey(verifier.key),
      payload: { key: forAlice.key, scope: 'orders:read' },
    });
    assert.equal(v.json().code, 'VALID');
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/v1/keys', headers: xApiKey(verifier.key) })).statusCode,
      403,
    );
    const ownerless = await s.app.inject({
      method: 'GET',
      url: '/v1/keys?ownerId=null',
      headers: xApiKey(admin),
    });
    assert.ok(ownerless.json().keys.every((k: { ownerId: string | null }) => k.ownerId === null));
  });
});
