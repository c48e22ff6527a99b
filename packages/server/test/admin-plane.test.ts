import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConfigFile } from '../src/server/config.ts';
import {
  adminServer,
  call,
  creditRace,
  key,
  PASSWORD,
  ROOMY,
  START,
  user,
  xApiKey,
} from './admin-helpers.ts';

/**
 * The admin plane through HTTP: users, key changes, identities and plans, usage, and the
 * rate-limit operations, with the attacks each check blocks performed (widening by an owner,
 * another owner's objects, unknown fields, out-of-range values, races on one balance).
 */

describe('users', () => {
  test('search, role change, disable (tokens, refresh and login refused), enable, delete (keys revoked)', async () => {
    const { s, admin } = await adminServer();
    const ada = await user(s);
    const bob = await user(s);
    const search = await call(s, 'GET', `/v1/admin/users?email=${encodeURIComponent(ada.email)}`, admin);
    assert.equal(search.status, 200, search.body);
    assert.deepEqual(
      search.json().users.map((u: { id: string }) => u.id),
      [ada.id],
    );
    assert.equal(search.json().users[0].passwordHash, undefined, 'no hash in a listing');

    // A user is no admin: the admin plane answers 403.
    assert.equal((await call(s, 'GET', '/v1/admin/users', ada.token)).status, 403);
    assert.equal((await call(s, 'PATCH', `/v1/admin/users/${ada.id}`, admin, { role: 'admin' })).status, 200);
    assert.equal((await call(s, 'GET', '/metrics', ada.token)).status, 403, 'the old token says user');
    const relogin = await call(s, 'POST', '/v1/auth/login', undefined, {
      email: ada.email,
      password: PASSWORD,
    });
    assert.equal(
      (await call(s, 'GET', '/metrics', relogin.json().access_token)).status,
      200,
      'the next token is admin',
    );

    // The last enabled admin stays.
    const demote = await call(s, 'PATCH', `/v1/admin/users/${ada.id}`, admin, { role: 'user' });
    assert.equal(demote.status, 409);
    assert.equal(demote.json().code, 'LAST_ADMIN');
    assert.equal((await call(s, 'DELETE', `/v1/admin/users/${ada.id}`, admin)).json().code, 'LAST_ADMIN');

    const bobKey = await key(s, bob.token, { name: 'bob', scopes: [] });
    const disabled = await call(s, 'PATCH', `/v1/admin/users/${bob.id}`, admin, { disabled: true });
    assert.equal(disabled.status, 200, disabled.body);
    assert.equal(disabled.json().status, 'disabled');
    assert.equal((await call(s, 'GET', '/v1/me', bob.token)).status, 401, 'the access token is refused');
    assert.equal(
      (await call(s, 'POST', '/v1/auth/refresh', undefined, { refresh_token: bob.refresh })).status,
      401,
    );
    assert.equal(
      (await call(s, 'GET', '/t', undefined, undefined, xApiKey(bobKey.key))).status,
      401,
      'and the key',
    );
    const login = await call(s, 'POST', '/v1/auth/login', undefined, {
      email: bob.email,
      password: PASSWORD,
    });
    assert.equal(login.status, 403);
    assert.equal(login.json().code, 'ACCOUNT_DISABLED');
    const wrong = await call(s, 'POST', '/v1/auth/login', undefined, {
      email: bob.email,
      password: 'not the password!',
    });
    assert.equal(wrong.json().code, 'INVALID_CREDENTIALS', 'a guess learns nothing about the account');

    assert.equal(
      (await call(s, 'PATCH', `/v1/admin/users/${bob.id}`, admin, { disabled: false })).status,
      200,
    );
    const back = await call(s, 'POST', '/v1/auth/login', undefined, { email: bob.email, password: PASSWORD });
    assert.equal(back.status, 200, 'enabled again');

    const bobKey2 = await key(s, back.json().access_token, { name: 'bob2', scopes: [] });
    assert.equal((await call(s, 'DELETE', `/v1/admin/users/${bob.id}`, admin)).status, 204);
    assert.equal((await call(s, 'GET', `/v1/admin/users/${bob.id}`, admin)).status, 404);
    assert.equal(
      (await call(s, 'GET', '/t', undefined, undefined, xApiKey(bobKey2.key))).status,
      401,
      'keys revoked',
    );

    await s.context.audit.flush();
    const types = (await s.context.storage.audit.list({ limit: 100 })).events.map((e) => e.type);
    for (const type of ['user_updated', 'user_disabled', 'user_enabled', 'user_deleted'] as const) {
      assert.ok(types.includes(type), `${type} audited`);
    }
  });

  test('bad input: unknown fields, bad roles and unknown ids are refused with problem+json', async () => {
    const { s, admin } = await adminServer();
    const ada = await user(s);
    for (const [payload, path] of [
      [{ role: 'root' }, '/role'],
      [{ disabled: 'yes' }, '/disabled'],
      [{ role: 'user', isAdmin: true }, ''],
      [{}, ''],
    ] as const) {
      const res = await call(s, 'PATCH', `/v1/admin/users/${ada.id}`, admin, payload);
      assert.equal(res.status, 400, JSON.stringify(payload));
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      if (path) assert.equal(res.json().errors[0].path, path);
    }
    assert.equal((await call(s, 'GET', '/v1/admin/users?limit=501', admin)).status, 400);
    assert.equal((await call(s, 'GET', '/v1/admin/users/usr_nope', admin)).status, 404);
    assert.equal((await call(s, 'POST', `/v1/admin/users/${ada.id}/end-sessions`, admin)).status, 204);
    assert.equal((await call(s, 'GET', '/v1/me', ada.token)).status, 401, 'sessions ended');
  });
});

describe('key changes', () => {
  test('disable then enable: DISABLED through verify, 401 on a route, then 200 with the same secret', async () => {
    const { s, admin } = await adminServer();
    const owner = await user(s);
    const k = await key(s, owner.token, { name: 'toggle', scopes: [] });
    assert.equal((await call(s, 'GET', '/t', undefined, undefined, xApiKey(k.key))).status, 200);
    const off = await call(s, 'PATCH', `/v1/keys/${k.id}`, owner.token, { enabled: false });
    assert.equal(off.status, 200, off.body);
    assert.equal(off.json().status, 'disabled');
    assert.ok(off.json().disabledAt);
    const verify = await call(s, 'POST', '/v1/keys/verify', admin, { key: k.key });
    assert.equal(verify.json().code, 'DISABLED');
    assert.equal((await call(s, 'GET', '/t', undefined, undefined, xApiKey(k.key))).status, 401);
    // Enabling widens: the owner may not, an admin may.
    assert.equal((await call(s, 'PATCH', `/v1/keys/${k.id}`, owner.token, { enabled: true })).status, 403);
    assert.equal((await call(s, 'PATCH', `/v1/keys/${k.id}`, admin, { enabled: true })).status, 200);
    assert.equal(
      (await call(s, 'GET', '/t', undefined, undefined, xApiKey(k.key))).status,
      200,
      'same secret',
    );
    await s.context.audit.flush();
    const updates = (await s.context.storage.audit.list({ limit: 50, type: 'key_updated' })).events;
    assert.equal(updates.length, 2);
    assert.deepEqual(updates[0]!.detail.fields, ['enabled']);
    assert.ok(!JSON.stringify(updates).includes(k.key), 'never the secret');
  });

  test('an owner narrows, only an admin widens; another owner gets 404; bad values are 400', async () => {
    const { s, admin } = await adminServer();
    const owner = await user(s);
    const other = await user(s);
    const k = await key(s, owner.token, {
      name: 'narrow',
      scopes: ['read', 'write'],
      expiresAt: '2031-01-01T00:00:00Z',
      credits: { remaining: 50 },
      rateLimit: { limit: 10, window: '1m' },
    });
    const patch = (credential: string, body: unknown) =>
      call(s, 'PATCH', `/v1/keys/${k.id}`, credential, body);
    assert.equal((await patch(owner.token, { scopes: ['read'] })).status, 200);
    assert.equal((await patch(owner.token, { expiresAt: '2030-06-01T00:00:00Z' })).status, 200);
    assert.equal((await patch(owner.token, { credits: { increment: -10 } })).json().credits.remaining, 40);
    assert.equal((await patch(owner.token, { rateLimit: { limit: 5, window: '1m' } })).status, 200);
    for (const widening of [
      { scopes: ['read', 'write'] },
      { scopes: ['read', 'admin'] },
      { expiresAt: null },
      { expiresAt: '2030-07-01T00:00:00Z' },
      { credits: { increment: 1 } },
      { credits: { remaining: 41 } },
      { credits: null },
      { rateLimit: null },
      { rateLimit: { limit: 6, window: '1m' } },
      { rateLimit: { limit: 5, window: '30s' } },
    ]) {
      const res = await patch(owner.token, widening);
      assert.equal(res.status, 403, JSON.stringify(widening));
    }
    assert.equal(
      (await patch(admin, { scopes: ['read', 'write'], credits: { increment: 60 } })).json().credits
        .remaining,
      100,
    );
    // Someone else's key is answered as an unknown one.
    const foreign = await patch(other.token, { name: 'mine now' });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.json().code, 'NOT_FOUND');
    for (const bad of [
      { nmae: 'typo' },
      { expiresAt: 1e16 },
      { expiresAt: '9999-12-31T23:59:59Z', extra: 1 },
      { expiresAt: '1969-12-31T00:00:00Z' },
      { rateLimit: { limit: 0, window: '1m' } },
      { credits: { remaining: -1 } },
      { credits: { increment: 1e13 } },
      { scopes: ['keys:*'] },
      {},
    ]) {
      const res = await patch(admin, bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(res.json().code, 'VALIDATION_FAILED');
    }
  });

  test('100 parallel spends after incrementing credits by 100 give exactly 100 successes; increments race without loss', async () => {
    const { s, admin } = await adminServer({ storage: 'sqlite' });
    await creditRace(s, admin);
  });

  test('a key made by a keys:write key may not outlive, out-spend or out-rate it', async () => {
    const { s } = await adminServer();
    const owner = await user(s);
    const parent = await key(s, owner.token, {
      name: 'parent',
      scopes: ['keys:write', 'read'],
      expiresAt: '2030-06-01T00:00:00Z',
      credits: { remaining: 100 },
      rateLimit: { limit: 10, window: '1m' },
    });
    const mint = (body: Record<string, unknown>) =>
      call(
        s,
        'POST',
        '/v1/keys',
        undefined,
        { name: 'child', scopes: ['read'], ...body },
        xApiKey(parent.key),
      );
    const ok = {
      expiresAt: '2030-05-01T00:00:00Z',
      credits: { remaining: 10 },
      rateLimit: { limit: 5, window: '1m' },
    };
    assert.equal((await mint(ok)).status, 201);
    for (const beyond of [
      { ...ok, expiresAt: null },
      { ...ok, expiresAt: '2030-07-01T00:00:00Z' },
      { ...ok, credits: null },
      { ...ok, credits: { remaining: 101 } },
      { ...ok, rateLimit: null },
      { ...ok, rateLimit: { limit: 5, window: '1s' } },
    ]) {
      assert.equal((await mint(beyond)).status, 403, JSON.stringify(beyond));
    }
    const child = (await mint(ok)).json();
    const widen = await call(
      s,
      'PATCH',
      `/v1/keys/${child.id}`,
      undefined,
      { expiresAt: null },
      xApiKey(parent.key),
    );
    assert.equal(widen.status, 403);
  });

  test('a rotated key shares its rate limit with its successor; a second rotation answers KEY_ROTATED', async () => {
    const { s, admin } = await adminServer();
    const k = await key(s, admin, { name: 'chain', scopes: [], rateLimit: { limit: 2, window: '1m' } });
    const rotated = await call(s, 'POST', `/v1/keys/${k.id}/rotate`, admin, { gracePeriod: '1h' });
    assert.equal(rotated.status, 201, rotated.body);
    const next = rotated.json().key as string;
    assert.equal((await call(s, 'GET', '/t', undefined, undefined, xApiKey(k.key))).status, 200);
    assert.equal((await call(s, 'GET', '/t', undefined, undefined, xApiKey(next))).status, 200);
    assert.equal(
      (await call(s, 'GET', '/t', undefined, undefined, xApiKey(next))).status,
      429,
      'one budget for the chain',
    );
    const again = await call(s, 'POST', `/v1/keys/${k.id}/rotate`, admin, {});
    assert.equal(again.status, 409);
    assert.equal(again.json().code, 'KEY_ROTATED');
  });
});

describe('identities and plans', () => {
  test('two keys of one identity share 100 per minute: of 150 mixed calls exactly 100 pass; an override leaves the others on the plan', async () => {
    const { s, admin } = await adminServer();
    const plan = await call(s, 'POST', '/v1/plans', admin, {
      name: 'team',
      rateLimits: [{ limit: 100, window: '1m' }],
    });
    assert.equal(plan.status, 201, plan.body);
    const planId = plan.json().id as string;
    const make = async (externalId: string, extra: Record<string, unknown> = {}) => {
      const res = await call(s, 'POST', '/v1/identities', admin, {
        externalId,
        name: externalId,
        planId,
        ...extra,
      });
      assert.equal(res.status, 201, res.body);
      return res.json().id as string;
    };
    const acme = await make('acme');
    const globex = await make('globex');
    const a1 = await key(s, admin, { name: 'a1', scopes: [], identityId: acme });
    const a2 = await key(s, admin, { name: 'a2', scopes: [], identityId: acme });
    const answers = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        call(s, 'GET', '/t', undefined, undefined, xApiKey(i % 2 ? a1.key : a2.key)),
      ),
    );
    assert.equal(answers.filter((a) => a.status === 200).length, 100);
    assert.equal(answers.filter((a) => a.status === 429).length, 50);
    const ok = answers.find((a) => a.status === 200)!;
    assert.match(String(ok.headers['ratelimit-policy']), /"identity-default";q=100;w=60/);

    // An override on globex: 3 per minute for it, acme still on the plan.
    const g = await key(s, admin, { name: 'g', scopes: [], identityId: globex });
    const over = await call(s, 'PATCH', `/v1/identities/${globex}`, admin, {
      overrides: { rateLimits: [{ limit: 3, window: '1m' }] },
    });
    assert.equal(over.status, 200, over.body);
    assert.deepEqual(over.json().effective.rateLimits, [{ name: 'default', limit: 3, windowMs: 60_000 }]);
    const gAnswers = [];
    for (let i = 0; i < 5; i++)
      gAnswers.push((await call(s, 'GET', '/t', undefined, undefined, xApiKey(g.key))).status);
    assert.deepEqual(gAnswers, [200, 200, 200, 429, 429]);
    const acmeView = await call(s, 'GET', `/v1/identities/${acme}`, admin);
    assert.deepEqual(acmeView.json().effective.rateLimits, [
      { name: 'default', limit: 100, windowMs: 60_000 },
    ]);

    // A plan in use cannot go; an identity with live keys cannot go.
    assert.equal((await call(s, 'DELETE', `/v1/plans/${planId}`, admin)).json().code, 'IN_USE');
    assert.equal((await call(s, 'DELETE', `/v1/identities/${acme}`, admin)).json().code, 'IN_USE');
    assert.equal(
      (await call(s, 'POST', '/v1/identities', admin, { externalId: 'acme', name: 'x' })).json().code,
      'CONFLICT',
    );
  });

  test('identity credits are spent by its keys even when they have none of their own', async () => {
    const { s, admin } = await adminServer();
    const identity = await call(s, 'POST', '/v1/identities', admin, {
      externalId: 'metered',
      name: 'Metered',
      credits: { remaining: 3 },
    });
    const id = identity.json().id as string;
    const k = await key(s, admin, { name: 'm', scopes: [], identityId: id });
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await call(s, 'GET', '/t', undefined, undefined, xApiKey(k.key))).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const after = await call(s, 'PATCH', `/v1/identities/${id}`, admin, { credits: { increment: 1 } });
    assert.equal(after.json().credits.remaining, 1);
    assert.equal((await call(s, 'GET', '/t', undefined, undefined, xApiKey(k.key))).status, 200);
    // Concurrent increments and spends of the shared balance: none lost, none created.
    const mixed = await Promise.all([
      ...Array.from({ length: 20 }, () =>
        call(s, 'PATCH', `/v1/identities/${id}`, admin, { credits: { increment: 5 } }),
      ),
      ...Array.from({ length: 30 }, () => call(s, 'GET', '/t', undefined, undefined, xApiKey(k.key))),
    ]);
    assert.ok(mixed.slice(0, 20).every((a) => a.status === 200));
    const spent = mixed.slice(20).filter((a) => a.status === 200).length;
    const view = await call(s, 'GET', `/v1/identities/${id}`, admin);
    assert.equal(view.json().credits.remaining, 100 - spent);
  });

  test('bad input: unknown fields, out-of-range limits, unknown plans; non-admins are refused', async () => {
    const { s, admin } = await adminServer();
    const someone = await user(s);
    for (const body of [
      { name: 'p', rateLimits: [{ limit: 0, window: '1m' }] },
      {
        name: 'p',
        rateLimits: [
          { limit: 1, window: '1m' },
          { limit: 2, window: '1h' },
        ],
      },
      { name: 'p', credits: { amount: -1 } },
      { name: 'p', colour: 'red' },
    ]) {
      assert.equal((await call(s, 'POST', '/v1/plans', admin, body)).status, 400, JSON.stringify(body));
    }
    assert.equal(
      (await call(s, 'POST', '/v1/identities', admin, { externalId: 'x', name: 'x', planId: 'pln_unknown' }))
        .status,
      400,
    );
    assert.equal((await call(s, 'GET', '/v1/identities', someone.token)).status, 403);
    assert.equal((await call(s, 'POST', '/v1/plans', someone.token, { name: 'mine' })).status, 403);
    assert.equal(
      (await call(s, 'POST', '/v1/keys', someone.token, { name: 'k', scopes: [], identityId: 'idt_x' }))
        .status,
      403,
    );
  });
});

describe('usage', () => {
  test('verifications are counted per key and identity by outcome; the range is capped', async () => {
    const { s, admin } = await adminServer({ storage: 'sqlite' });
    const identity = (await call(s, 'POST', '/v1/identities', admin, { externalId: 'u', name: 'u' })).json()
      .id;
    const k = await key(s, admin, { name: 'counted', scopes: ['read'], identityId: identity });
    for (let i = 0; i < 7; i++) await call(s, 'POST', '/v1/keys/verify', admin, { key: k.key });
    for (let i = 0; i < 3; i++)
      await call(s, 'POST', '/v1/keys/verify', admin, { key: k.key, scope: 'write' });
    const usage = await call(s, 'GET', `/v1/keys/${k.id}/usage?granularity=minute`, admin);
    assert.equal(usage.status, 200, usage.body);
    assert.equal(usage.json().total, 10);
    assert.deepEqual(usage.json().outcomes, { VALID: 7, INSUFFICIENT_SCOPE: 3 });
    const byIdentity = await call(s, 'GET', `/v1/identities/${identity}/usage?granularity=day`, admin);
    assert.deepEqual(byIdentity.json().outcomes, { VALID: 7, INSUFFICIENT_SCOPE: 3 });
    const tooLong = await call(
      s,
      'GET',
      `/v1/keys/${k.id}/usage?granularity=minute&since=0&until=${START}`,
      admin,
    );
    assert.equal(tooLong.status, 400);
    assert.equal((await call(s, 'GET', `/v1/keys/${k.id}/usage?granularity=second`, admin)).status, 400);
    assert.equal((await call(s, 'GET', `/v1/keys/${k.id}/usage?since=99999-01-01`, admin)).status, 400);
  });
});

describe('rate-limit operations', () => {
  const file: ConfigFile = {
    trustProxy: ['127.0.0.1/32'],
    rateLimit: {
      default: { limit: 100_000, window: '15m' },
      rules: [{ name: 'tight', route: 'GET /t', limit: 2, window: '1m', blockFor: '1h' }],
      allow: ['10.9.9.9'],
      restrict: [{ routes: '/v1/admin/*', from: ['127.0.0.1/32', '10.0.0.0/8'] }],
    },
  };
  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  test('an allow-listed address is never refused; a blockFor ban outlasts its window; unblock lets the next request through; each is audited', async () => {
    const clock = { t: START };
    const { s, admin } = await adminServer({ file, clock });
    const k = await key(s, admin, { name: 'traffic', scopes: [] });
    const get = (ip: string) =>
      call(s, 'GET', '/t', undefined, undefined, { ...xApiKey(k.key), ...from(ip) });

    for (let i = 0; i < 25; i++) assert.equal((await get('10.9.9.9')).status, 200, 'allow-listed');

    assert.equal((await get('203.0.113.5')).status, 200);
    assert.equal((await get('203.0.113.5')).status, 200);
    const tripped = await get('203.0.113.5');
    assert.equal(tripped.status, 429);
    assert.equal(tripped.headers['retry-after'], '3600');
    clock.t += 5 * 60_000; // the 1-minute window is long over
    assert.equal((await get('203.0.113.5')).status, 429, 'the ban outlasts the window');

    const state = await call(s, 'GET', '/v1/admin/rate-limits', admin, undefined, from('10.0.0.1'));
    assert.equal(state.status, 200, state.body);
    const block = state.json().blocked.find((b: { rule: string }) => b.rule === 'tight');
    assert.equal(block.key, '203.0.113.5');
    assert.equal(block.expiresAt, START + 3_600_000, 'listed until the ban ends');
    const lifted = await call(
      s,
      'DELETE',
      `/v1/admin/rate-limits/blocks/tight/${encodeURIComponent(block.key)}`,
      admin,
      undefined,
      from('10.0.0.1'),
    );
    assert.equal(lifted.status, 204);
    assert.equal((await get('203.0.113.5')).status, 200, 'the next request passes');
    assert.equal(
      (
        await call(
          s,
          'DELETE',
          '/v1/admin/rate-limits/blocks/nope/1.2.3.4',
          admin,
          undefined,
          from('10.0.0.1'),
        )
      ).status,
      404,
    );

    // Dynamic lists: a deny entry refuses at once, and goes when removed.
    const entry = await call(
      s,
      'POST',
      '/v1/admin/rate-limits/lists',
      admin,
      { list: 'deny', cidr: '198.51.100.0/24', note: 'scraper' },
      from('10.0.0.1'),
    );
    assert.equal(entry.status, 201, entry.body);
    const denied = await get('198.51.100.77');
    assert.equal(denied.status, 403);
    assert.equal(denied.json().code, 'ADDRESS_DENIED');
    const allowEntry = await call(
      s,
      'POST',
      '/v1/admin/rate-limits/lists',
      admin,
      { list: 'allow', cidr: '192.0.2.1' },
      from('10.0.0.1'),
    );
    for (let i = 0; i < 5; i++)
      assert.equal((await get('192.0.2.1')).status, 200, 'allow-listed at run time');
    assert.equal(
      (
        await call(
          s,
          'DELETE',
          `/v1/admin/rate-limits/lists/${entry.json().id}`,
          admin,
          undefined,
          from('10.0.0.1'),
        )
      ).status,
      204,
    );
    assert.equal((await get('198.51.100.77')).status, 200);
    assert.equal(
      (
        await call(
          s,
          'DELETE',
          `/v1/admin/rate-limits/lists/${entry.json().id}`,
          admin,
          undefined,
          from('10.0.0.1'),
        )
      ).status,
      404,
    );
    assert.ok(allowEntry.json().id);

    await s.context.audit.flush();
    const events = (await s.context.storage.audit.list({ limit: 200 })).events;
    assert.ok(events.some((e) => e.type === 'excess_rate_limit_exceeded' && e.detail.rule === 'tight'));
    assert.ok(events.some((e) => e.type === 'block_lifted' && e.detail.bucket === '203.0.113.5'));
    assert.equal(events.filter((e) => e.type === 'address_list_changed').length, 3);
    assert.ok(events.some((e) => e.type === 'authz_fail' && e.detail.reason === 'address_denied'));
  });

  test('the admin plane answers only its networks, whatever the credential', async () => {
    const { s, admin } = await adminServer({ file });
    const outside = await call(s, 'GET', '/v1/admin/rate-limits', admin, undefined, from('203.0.113.9'));
    assert.equal(outside.status, 403);
    assert.equal(outside.json().code, 'ADDRESS_DENIED');
    assert.equal((await call(s, 'GET', '/v1/admin/users', admin, undefined, from('10.1.1.1'))).status, 200);
  });

  test('bad list entries are refused with the field named', async () => {
    const { s, admin } = await adminServer();
    for (const [body, path] of [
      [{ list: 'deny', cidr: '10.0.0.1/8' }, '/cidr'],
      [{ list: 'deny', cidr: 'not-an-ip' }, '/cidr'],
      [{ list: 'maybe', cidr: '10.0.0.1' }, '/list'],
      [{ list: 'deny', cidr: '10.0.0.1', routes: 'BAD route' }, '/routes'],
      [{ list: 'deny', cidr: '10.0.0.1', expiresAt: '1999-01-01T00:00:00Z' }, '/expiresAt'],
      [{ list: 'deny', cidr: '10.0.0.1', why: 'x' }, ''],
    ] as const) {
      const res = await call(s, 'POST', '/v1/admin/rate-limits/lists', admin, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      if (path) assert.equal(res.json().errors[0].path, path, JSON.stringify(body));
    }
  });
});

describe('audit, complete', () => {
  test('a signing-key rotation is an event; retention prunes old events on its timer and says so', async () => {
    const clock = { t: START };
    const { s } = await adminServer({ clock, file: { ...ROOMY, audit: { retention: '30d' } } });
    await s.context.keyRing.rotate();
    await s.context.audit.flush();
    const rotated = (await s.context.storage.audit.list({ limit: 10, type: 'signing_key_rotated' })).events;
    assert.equal(rotated.length, 1);
    assert.equal(rotated[0]!.detail.scheduled, false);
    clock.t += 31 * 86_400_000;
    const pruned = await s.context.retention.run();
    assert.ok(pruned.audit >= 1, 'the old events are gone');
    await s.context.audit.flush();
    const left = (await s.context.storage.audit.list({ limit: 50 })).events;
    assert.ok(left.every((e) => e.at >= clock.t - 30 * 86_400_000));
    assert.ok(left.some((e) => e.type === 'audit_pruned'));
  });
});
