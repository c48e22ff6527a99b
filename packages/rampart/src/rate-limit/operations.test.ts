import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRampart, type RequestView, type SecurityEvent } from '../policy/rampart.ts';
import { createAddressLists } from './address-lists.ts';
import { createRateLimiter } from './limiter.ts';
import { memoryRateLimitStore } from './memory-store.ts';
import { type RateLimitRequest, routeCosts } from './rules.ts';

const T0 = Date.UTC(2026, 0, 1);

function clock(start = T0) {
  let now = start;
  const fn = () => now;
  fn.advance = (ms: number) => {
    now += ms;
  };
  return fn;
}

const req = (over: Partial<RateLimitRequest> = {}): RateLimitRequest => ({
  method: 'GET',
  route: '/v1/me',
  ip: '203.0.113.7',
  ...over,
});

function view(init: Partial<RequestView> = {}): RequestView {
  return {
    method: 'GET',
    path: '/v1/x',
    route: '/v1/x',
    ip: '203.0.113.7',
    headers: () => undefined,
    ...init,
  };
}

describe('blockFor: a ban after a rule trips', () => {
  test('a tripped rule keeps refusing past its window until the ban ends', async () => {
    const now = clock();
    const limiter = createRateLimiter({
      store: memoryRateLimitStore({ sweepIntervalMs: 0 }),
      rules: [{ name: 'api', limit: 2, window: '1m', blockFor: '1h' }],
      now,
    });
    assert.equal((await limiter.check(req())).allowed, true);
    assert.equal((await limiter.check(req())).allowed, true);
    const tripped = await limiter.check(req());
    assert.equal(tripped.allowed, false);
    assert.equal(tripped.retryAfterSec, 3600, 'Retry-After names the ban, not the window');
    now.advance(5 * 60_000); // the window is long over
    const still = await limiter.check(req());
    assert.equal(still.allowed, false, 'the ban outlasts the window');
    assert.ok(still.retryAfterSec! <= 3600 - 300 && still.retryAfterSec! > 3000);
    assert.equal(
      (await limiter.check(req({ ip: '203.0.113.8' }))).allowed,
      true,
      'other clients are not banned',
    );
    now.advance(56 * 60_000);
    assert.equal((await limiter.check(req())).allowed, true, 'after the ban the client is back');
  });

  test('resetKey lifts the ban as well as the counter', async () => {
    const now = clock();
    const limiter = createRateLimiter({
      store: memoryRateLimitStore({ sweepIntervalMs: 0 }),
      rules: [{ name: 'api', limit: 1, window: '1m', blockFor: '1d' }],
      now,
    });
    await limiter.check(req());
    assert.equal((await limiter.check(req())).allowed, false);
    const listed = limiter.blockedStats();
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.expiresAt, T0 + 86_400_000, 'the block is listed for as long as the ban runs');
    await limiter.resetKey('api', listed[0]!.key);
    assert.equal((await limiter.check(req())).allowed, true);
    assert.equal(limiter.blockedStats().length, 0);
  });

  test('a blockFor shorter than a second is refused, the field named', () => {
    assert.throws(
      () =>
        createRateLimiter({
          store: memoryRateLimitStore({ sweepIntervalMs: 0 }),
          rules: [{ name: 'api', limit: 1, window: '1m', blockFor: 10 }],
        }),
      /^TypeError: rules\[0\]\.blockFor: expected at least 1 s/,
    );
  });
});

describe('cost: units per request', () => {
  test('an expensive route takes its cost from the same budget', async () => {
    const limiter = createRateLimiter({
      store: memoryRateLimitStore({ sweepIntervalMs: 0 }),
      rules: [{ name: 'api', limit: 10, window: '1m', cost: routeCosts({ 'POST /v1/reports': 4 }) }],
      now: clock(),
    });
    const report = req({ method: 'POST', route: '/v1/reports' });
    assert.equal((await limiter.check(report)).allowed, true);
    assert.equal((await limiter.check(report)).allowed, true);
    const third = await limiter.check(report);
    assert.equal(third.allowed, false, '4 + 4 + 4 > 10');
    assert.equal((await limiter.check(req())).allowed, true, 'a cheap request still fits (8 + 1)');
    assert.equal((await limiter.check(req())).allowed, true);
    assert.equal((await limiter.check(req())).allowed, false);
  });

  test('routeCosts refuses a cost that is not a whole number', () => {
    assert.throws(
      () => routeCosts({ 'POST /x': 0 }),
      /^TypeError: cost\["POST \/x"\]: expected a whole number/,
    );
    assert.throws(() => routeCosts({ 'BAD x': 2 }), /^TypeError: cost\["BAD x"\]: expected/);
  });
});

describe('address lists', () => {
  test('deny outranks allow; restricted routes answer only their networks', () => {
    const lists = createAddressLists({
      allow: ['10.1.2.3', { cidr: '192.0.2.0/24', routes: '/v1/*' }],
      deny: ['198.51.100.0/24'],
      restrict: [{ routes: '/v1/admin/*', from: ['10.0.0.0/8'] }],
    });
    assert.deepEqual(lists.decide('10.1.2.3', 'GET', '/v1/me', T0), { action: 'allow' });
    assert.deepEqual(lists.decide('192.0.2.9', 'GET', '/v1/me', T0), { action: 'allow' });
    assert.deepEqual(lists.decide('192.0.2.9', 'GET', '/other', T0), { action: 'none' });
    assert.deepEqual(lists.decide('198.51.100.4', 'GET', '/v1/me', T0), { action: 'deny', reason: 'denied' });
    assert.deepEqual(lists.decide('203.0.113.7', 'GET', '/v1/admin/rate-limits', T0), {
      action: 'deny',
      reason: 'restricted',
    });
    assert.deepEqual(lists.decide('10.9.9.9', 'GET', '/v1/admin/rate-limits', T0), { action: 'none' });
    assert.deepEqual(
      lists.decide('::ffff:10.1.2.3', 'GET', '/v1/me', T0),
      { action: 'allow' },
      'mapped IPv4',
    );
  });

  test('dynamic entries apply at once, end at their expiry, and can be removed', () => {
    const lists = createAddressLists();
    assert.equal(lists.empty, true);
    lists.put({ id: 'acl_1', list: 'deny', cidr: '203.0.113.0/24', expiresAt: T0 + 1000 });
    assert.equal(lists.decide('203.0.113.7', 'GET', '/x', T0).action, 'deny');
    assert.equal(lists.decide('203.0.113.7', 'GET', '/x', T0 + 1000).action, 'none');
    assert.equal(lists.entries(T0 + 1000).dynamic.length, 0);
    lists.put({ id: 'acl_2', list: 'allow', cidr: '2001:db8::/32' });
    assert.equal(lists.decide('2001:db8::5', 'GET', '/x', T0).action, 'allow');
    assert.equal(lists.remove('acl_2'), true);
    assert.equal(lists.remove('acl_2'), false);
    assert.equal(lists.decide('2001:db8::5', 'GET', '/x', T0).action, 'none');
  });

  test('a malformed entry is refused, the field named', () => {
    assert.throws(
      () => createAddressLists({ deny: ['10.0.0.1/8'] }),
      /^TypeError: rateLimit\.deny\[0\]\.cidr: .*host bits/,
    );
    assert.throws(
      () => createAddressLists({ restrict: [{ routes: '/a', from: [] }] }),
      /^TypeError: rateLimit\.restrict\[0\]\.from: expected a non-empty array/,
    );
    assert.throws(
      () => createRampart({ rateLimit: { allow: ['nope'] } }),
      /^TypeError: rateLimit\.allow\[0\]\.cidr/,
    );
  });

  test('through the engine: an allow-listed address is never refused, a denied one always is', async () => {
    const events: SecurityEvent[] = [];
    const rampart = createRampart({
      rateLimit: {
        allow: ['10.1.2.3'],
        deny: ['198.51.100.7'],
        restrict: [{ routes: '/v1/admin/*', from: ['10.0.0.0/8'] }],
      },
      onEvent: (e) => events.push(e),
      now: () => T0,
    });
    const step = rampart.rateLimit({ name: 'tight', limit: 1, window: '1h' });
    for (let i = 0; i < 20; i++) assert.equal((await step(view({ ip: '10.1.2.3' }))).ok, true);
    assert.equal((await step(view())).ok, true);
    assert.equal((await step(view())).ok, false, 'anyone else is limited');
    const denied = await step(view({ ip: '198.51.100.7' }));
    assert.equal(denied.ok, false);
    assert.equal(!denied.ok && denied.answer.status, 403);
    assert.equal(!denied.ok && (denied.answer.body as { code: string }).code, 'ADDRESS_DENIED');
    const outside = await step(view({ ip: '203.0.113.50', route: '/v1/admin/rate-limits' }));
    assert.equal(!outside.ok && outside.answer.status, 403);
    assert.ok(events.some((e) => e.type === 'authz_fail' && e.detail.reason === 'address_denied'));
    assert.ok(events.some((e) => e.type === 'authz_fail' && e.detail.reason === 'address_restricted'));
    // Dynamic entries through the policy's lists.
    rampart.limits.addresses.put({ id: 'acl_x', list: 'allow', cidr: '203.0.113.7' });
    assert.equal((await step(view())).ok, true, 'allow-listed at run time');
    await rampart.close();
  });

  test('through the engine: unblock lifts a ban and the next request passes', async () => {
    const rampart = createRampart({ now: () => T0 });
    const step = rampart.rateLimit({ name: 'banned', limit: 1, window: '1m', blockFor: '1h' });
    await step(view());
    assert.equal((await step(view())).ok, false);
    const [block] = rampart.limits.blocked();
    assert.equal(block?.rule, 'banned');
    assert.equal(await rampart.limits.unblock('banned', block!.key), true);
    assert.equal((await step(view())).ok, true);
    await rampart.close();
  });
});
