import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Decision, RateRule } from './algorithms.ts';
import { createRateLimiter, type RateLimiterOptions, type RefusalInfo } from './limiter.ts';
import { memoryRateLimitStore } from './memory-store.ts';
import { bodyEmailKey, type RateLimitRequest, type RateLimitRuleOptions } from './rules.ts';
import { sampleRules } from './sample-rules.fixture.ts';
import type { RateLimitStore } from './store.ts';

const T0 = 1_750_000_000_000;

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

const reset = (ip = '203.0.113.7', email = 'ada@example.com') =>
  req({ method: 'POST', route: '/v1/auth/password-reset', ip, body: { email } });

/** A store that works, fails or hangs on command: the failure modes a real backend has. */
function switchableStore() {
  const inner = memoryRateLimitStore({ sweepIntervalMs: 0 });
  let mode: 'ok' | 'fail' | 'hang' = 'ok';
  let calls = 0;
  const act = <T>(f: () => T): Promise<T> => {
    calls++;
    if (mode === 'fail') return Promise.reject(new Error('ECONNREFUSED'));
    if (mode === 'hang') return new Promise<T>(() => {});
    return Promise.resolve(f());
  };
  const store: RateLimitStore = {
    keyPrefix: '',
    consume: (key: string, rule: RateRule, now: number, cost?: number) =>
      act<Decision>(() => inner.consume(key, rule, now, cost)),
    peek: (key: string, rule: RateRule, now: number) => act<Decision>(() => inner.peek(key, rule, now)),
    refund: (key: string, rule: RateRule, now: number, cost?: number) =>
      act(() => inner.refund(key, rule, now, cost)),
    reset: (key: string) => act(() => inner.reset(key)),
    close: () => inner.close(),
  };
  return {
    store,
    set mode(m: 'ok' | 'fail' | 'hang') {
      mode = m;
    },
    get calls() {
      return calls;
    },
  };
}

describe('createRateLimiter: limits', () => {
  test('150 simultaneous password-reset requests: exactly 5 accepted, the rest refused with headers', async () => {
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      rules: sampleRules(),
      now: clock(),
    });
    const results = await Promise.all(Array.from({ length: 150 }, () => limiter.check(reset())));
    assert.equal(results.filter((r) => r.allowed).length, 5);
    const refused = results.find((r) => !r.allowed)!;
    assert.equal(refused.failure, undefined);
    assert.ok(refused.retryAfterSec! >= 1);
    assert.equal(refused.headers['Retry-After'], String(refused.retryAfterSec));
    assert.match(refused.headers['RateLimit-Policy']!, /"password-reset";q=5;w=3600/);
    assert.match(refused.headers.RateLimit!, /"password-reset";r=0;t=\d+/);
    await limiter.close();
  });

  test('several limits apply to one route and each appears in the headers', async () => {
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      rules: sampleRules(),
      now: clock(),
    });
    const r = await limiter.check(reset());
    assert.deepEqual(
      r.decisions.map((d) => d.rule),
      ['default', 'password-reset', 'password-reset-email'],
    );
    assert.equal(
      r.headers['RateLimit-Policy'],
      '"default";q=100;w=900,"password-reset";q=5;w=3600,"password-reset-email";q=5;w=3600',
    );
    // Per email: another IP asking for the same account is limited too (case and spaces folded).
    for (let i = 0; i < 4; i++) await limiter.check(reset(`198.51.100.${i}`, ' ADA@example.com'));
    const sixth = await limiter.check(reset('192.0.2.99', 'Ada@Example.com'));
    assert.equal(sixth.allowed, false);
    assert.deepEqual(
      sixth.decisions.filter((d) => !d.allowed).map((d) => d.rule),
      ['password-reset-email'],
    );
  });

  test('rules match method and canonical route pattern; a GET rule covers HEAD; prefixes stop at segments', async () => {
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      now: clock(),
      rules: [
        { name: 'reset', routes: 'POST /v1/auth/password-reset', limit: 1, window: '1h' },
        { name: 'keys', routes: ['GET /v1/keys/*'], limit: 1, window: '1h' },
      ],
    });
    const names = async (r: RateLimitRequest) => (await limiter.check(r)).decisions.map((d) => d.rule);
    assert.deepEqual(await names(req({ method: 'GET', route: '/v1/auth/password-reset' })), []);
    assert.deepEqual(await names(req({ method: 'POST', route: '/v1/auth/password-reset/confirm' })), []);
    assert.deepEqual(await names(req({ method: 'post', route: '/v1/auth/password-reset' })), ['reset']);
    assert.deepEqual(await names(req({ method: 'HEAD', route: '/v1/keys/:id', ip: '192.0.2.1' })), ['keys']);
    assert.deepEqual(await names(req({ method: 'GET', route: '/v1/keys', ip: '192.0.2.2' })), ['keys']);
    assert.deepEqual(await names(req({ method: 'GET', route: '/v1/keysets' })), []);
  });

  test('one bucket per rule and client, whatever route of the rule is hit', async () => {
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      now: clock(),
      rules: [{ name: 'auth', routes: ['POST /v1/auth/*'], limit: 2, window: '1m' }],
    });
    await limiter.check(req({ method: 'POST', route: '/v1/auth/login' }));
    await limiter.check(req({ method: 'POST', route: '/v1/auth/register' }));
    assert.equal((await limiter.check(req({ method: 'POST', route: '/v1/auth/refresh' }))).allowed, false);
  });

  test('IPv6 clients are keyed by /64: rotating addresses inside one prefix does not open buckets', async () => {
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      now: clock(),
      rules: [{ name: 'default', limit: 3, window: '1m' }],
    });
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2:ffff:1:2:3', '2001:DB8:1:2:abcd::9']) {
      assert.equal((await limiter.check(req({ ip }))).allowed, true);
    }
    const fourth = await limiter.check(req({ ip: '2001:db8:1:2::dead:beef' }));
    assert.equal(fourth.allowed, false);
    assert.equal(fourth.decisions[0]!.key, '2001:db8:1:2::/64');
    assert.equal((await limiter.check(req({ ip: '2001:db8:1:3::1' }))).allowed, true);
    // An IPv4-mapped address is the IPv4 client, not a fresh bucket.
    for (let i = 0; i < 3; i++) await limiter.check(req({ ip: '192.0.2.5' }));
    assert.equal((await limiter.check(req({ ip: '::ffff:192.0.2.5' }))).allowed, false);
  });

  test('user and API-key rules skip requests without that identity; long custom keys are hashed', async () => {
    const seen: string[] = [];
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      now: clock(),
      rules: [
        { name: 'per-user', key: 'user', limit: 1, window: '1m' },
        { name: 'per-key', key: 'apiKey', limit: 1, window: '1m' },
        {
          name: 'custom',
          limit: 10,
          window: '1m',
          key: (r) => {
            seen.push(r.route);
            return 'x'.repeat(500);
          },
        },
      ],
    });
    const anonymous = await limiter.check(req());
    assert.deepEqual(
      anonymous.decisions.map((d) => d.rule),
      ['custom'],
    );
    assert.match(anonymous.decisions[0]!.key, /^sha256:[\w-]{43}$/);
    assert.equal((await limiter.check(req({ userId: 'usr_1', apiKeyId: 'key_1' }))).allowed, true);
    const again = await limiter.check(req({ userId: 'usr_1', apiKeyId: 'key_2' }));
    assert.deepEqual(
      again.decisions.filter((d) => !d.allowed).map((d) => d.rule),
      ['per-user'],
    );
    assert.equal(seen.length, 3);
  });

  test('an address-less request is limited in one shared bucket, not let through', async () => {
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      now: clock(),
      rules: [{ name: 'default', limit: 1, window: '1m' }],
    });
    await limiter.check(req({ ip: '' }));
    const second = await limiter.check(req({ ip: '' }));
    assert.equal(second.allowed, false);
    assert.equal(second.decisions[0]!.key, 'unknown');
  });
});

describe('createRateLimiter: refusal tracking', () => {
  test('onRefused fires once per key per window; blockedStats counts every refusal and expires', async () => {
    const now = clock(29_166_666 * 60_000); // the start of a fixed one-minute window
    const refusals: RefusalInfo[] = [];
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      now,
      rules: [{ name: 'default', limit: 2, window: '1m', algorithm: 'fixed-window' }],
      onRefused: (info) => refusals.push(info),
    });
    for (let i = 0; i < 10; i++) await limiter.check(req({ body: { password: 'hunter2' } }));
    await limiter.check(req({ ip: '198.51.100.1' }));
    assert.equal(refusals.length, 1);
    assert.equal(refusals[0]!.key, '203.0.113.7');
    assert.equal(refusals[0]!.rule, 'default');
    assert.equal(JSON.stringify(refusals[0]).includes('hunter2'), false, 'the body never reaches a hook');
    assert.deepEqual(
      limiter.blockedStats().map(({ rule, key, count }) => ({ rule, key, count })),
      [{ rule: 'default', key: '203.0.113.7', count: 8 }],
    );
    // Same window: counted, no new event.
    now.advance(59_000);
    await limiter.check(req());
    assert.equal(refusals.length, 1);
    assert.equal(limiter.blockedStats()[0]!.count, 9);
    // Next window: refused again → one more event, and the counter goes on.
    now.advance(1_000);
    for (let i = 0; i < 3; i++) await limiter.check(req());
    assert.equal(refusals.length, 2);
    assert.equal(refusals[1]!.count, 10);
    // A quiet window later the counter is gone.
    now.advance(120_000);
    assert.deepEqual(limiter.blockedStats(), []);
  });

  test('a hook that throws does not turn a decision into an error', async () => {
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      now: clock(),
      rules: [{ name: 'default', limit: 1, window: '1m' }],
      onRefused: () => {
        throw new Error('logger down');
      },
    });
    const warned = new Promise((resolve) => process.once('warning', resolve));
    await limiter.check(req());
    const refused = await limiter.check(req());
    assert.equal(refused.allowed, false);
    assert.match(String(await warned), /logger down/);
  });
});

describe('createRateLimiter: cheap refusal of bad credentials', () => {
  test('failures count per IP; isBlocked refuses before any lookup and counts nothing itself', async () => {
    const now = clock();
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      now,
      rules: [
        { name: 'default', limit: 1000, window: '15m' },
        { name: 'auth-failures-ip', counts: 'failures', limit: 3, window: '15m' },
      ],
    });
    const attacker = req({ route: '/v1/me', ip: '198.51.100.66' });
    for (let i = 0; i < 10; i++) assert.equal((await limiter.isBlocked(attacker)).blocked, false);
    for (let i = 0; i < 3; i++) await limiter.recordFailure(attacker);
    const blocked = await limiter.isBlocked(attacker);
    assert.equal(blocked.blocked, true);
    assert.ok(blocked.retryAfterSec! >= 1);
    assert.match(blocked.headers.RateLimit!, /"auth-failures-ip";r=0/);
    assert.equal((await limiter.isBlocked(req({ ip: '198.51.100.67' }))).blocked, false);
    // Failures are not requests: check() ignores failure rules.
    assert.deepEqual(
      (await limiter.check(attacker)).decisions.map((d) => d.rule),
      ['default'],
    );
    now.advance(15 * 60_000 * 1.1);
    assert.equal((await limiter.isBlocked(attacker)).blocked, false);
  });

  test('a successful login can clear the per-account failure counter', async () => {
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      now: clock(),
      rules: sampleRules(),
    });
    const login = req({ method: 'POST', route: '/v1/auth/login', body: { email: 'ada@example.com' } });
    for (let i = 0; i < 10; i++) await limiter.recordFailure(login);
    const blocked = await limiter.isBlocked(login);
    assert.deepEqual(
      blocked.decisions.filter((d) => !d.allowed).map((d) => d.rule),
      ['login-failures-account'],
    );
    await limiter.reset(login, 'login-failures-account');
    assert.equal((await limiter.isBlocked(login)).blocked, false);
    await assert.rejects(limiter.reset(login, 'nope'), RangeError);
  });

  test('an admin can unblock a key listed by blockedStats', async () => {
    const limiter = createRateLimiter({
      store: memoryRateLimitStore(),
      now: clock(),
      rules: [{ name: 'default', limit: 1, window: '1h' }],
    });
    await limiter.check(req());
    await limiter.check(req());
    const [stat] = limiter.blockedStats();
    await limiter.resetKey(stat!.rule, stat!.key);
    assert.equal((await limiter.check(req())).allowed, true);
    assert.deepEqual(limiter.blockedStats(), []);
  });
});

describe('createRateLimiter: reserved attempts', () => {
  const budget: RateLimitRuleOptions[] = [
    { name: 'per-account', counts: 'failures', limit: 10, window: '15m', key: bodyEmailKey },
    { name: 'per-address', counts: 'failures', limit: 30, window: '15m', key: 'ip' },
  ];
  const login = (ip = '203.0.113.7') =>
    req({ method: 'POST', route: '/login', ip, body: { email: 'ada@example.com' } });

  test('95 simultaneous attempts on a budget of 10: at most 10 reach the expensive work', async () => {
    const limiter = createRateLimiter({ store: memoryRateLimitStore(), now: clock(), rules: budget });
    const reservations = await Promise.all(Array.from({ length: 95 }, () => limiter.reserve(login())));
    const through = reservations.filter((r) => r.allowed);
    assert.equal(through.length, 10);
    const refused = reservations.find((r) => !r.allowed)!;
    assert.match(refused.headers['Retry-After']!, /^[1-9]\d*$/);
    assert.match(refused.headers['RateLimit-Policy']!, /"per-account"/);
    await limiter.close();
  });

  test('a released reservation gives its units back to every rule; a kept one counts as a failure', async () => {
    const limiter = createRateLimiter({ store: memoryRateLimitStore(), now: clock(), rules: budget });
    for (let i = 0; i < 25; i++) await (await limiter.reserve(login())).release();
    assert.equal((await limiter.isBlocked(login())).blocked, false);
    for (let i = 0; i < 10; i++) assert.ok((await limiter.reserve(login())).allowed); // kept: failures
    assert.equal((await limiter.reserve(login())).allowed, false);
    // The per-address budget was not drained by the refusals: a refusal keeps nothing.
    const other = await limiter.reserve(
      req({ method: 'POST', route: '/login', body: { email: 'bob@example.com' } }),
    );
    assert.ok(other.allowed);
    assert.equal(other.decisions.find((d) => d.rule === 'per-address')!.remaining, 19);
    await limiter.close();
  });
});

describe('createRateLimiter: store failures', () => {
  const rule = { name: 'default', limit: 3, window: '1m' } as const;

  test("'local': a dead connection is one 'down' event, the same limit per instance, no store call while down, 'up' after a probe", async () => {
    const now = clock();
    const backend = switchableStore();
    const events: string[] = [];
    const limiter = createRateLimiter({
      store: backend.store,
      now,
      rules: [rule],
      probeIntervalMs: 5,
      onStoreStateChange: (state) => events.push(state),
    });
    backend.mode = 'fail'; // ECONNREFUSED: the connection is gone, not slow
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await limiter.check(req()));
    assert.deepEqual(
      results.map((r) => r.allowed),
      [true, true, true, false, false],
    );
    assert.deepEqual(
      results.map((r) => r.decisions[0]!.source),
      ['local', 'local', 'local', 'local', 'local'],
    );
    assert.match(results[3]!.headers.RateLimit!, /"default";r=0/);
    assert.deepEqual(events, ['down']);
    assert.equal(limiter.storeState, 'down');
    assert.equal(backend.calls, 1, 'the store is not asked per request while down');

    backend.mode = 'ok';
    while (limiter.storeState === 'down') await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(events, ['down', 'up']);
    const back = await limiter.check(req({ ip: '192.0.2.2' }));
    assert.equal(back.decisions[0]!.source, 'store');
    await limiter.close();
  });

  test('one slow answer is decided by the policy for that request only; slow answers in a row mark the store down', async () => {
    const backend = switchableStore();
    const events: string[] = [];
    const limiter = createRateLimiter({
      store: backend.store,
      now: clock(),
      rules: [rule],
      storeTimeoutMs: 20,
      failuresToTrip: 3,
      onStoreStateChange: (state) => events.push(state),
    });
    backend.mode = 'hang';
    const slow = await limiter.check(req());
    assert.equal(slow.decisions[0]!.source, 'local');
    assert.deepEqual(events, [], 'one timeout does not flip the store');
    backend.mode = 'ok';
    assert.equal((await limiter.check(req())).decisions[0]!.source, 'store');
    backend.mode = 'hang';
    await Promise.all([limiter.check(req()), limiter.check(req()), limiter.check(req())]);
    assert.deepEqual(events, ['down']);
    await limiter.close();
  });

  test('time the event loop was blocked is not counted as the store being slow', async () => {
    const inner = memoryRateLimitStore({ sweepIntervalMs: 0 });
    // Answers 30 ms after being asked (a reply on its way), and the loop is then blocked for
    // 100 ms: when it frees, the 20 ms timeout and the reply are both due. Then an answer that
    // only starts its 15 ms trip once the loop is free.
    let delay: 'due' | 'after' = 'due';
    const store: RateLimitStore = {
      keyPrefix: '',
      consume: (key, r, at, cost) =>
        new Promise((resolve) => {
          const answer = () => resolve(inner.consume(key, r, at, cost));
          if (delay === 'due') setTimeout(answer, 30);
          else setTimeout(() => setTimeout(answer, 15), 0);
        }),
      peek: (key, r, at) => Promise.resolve(inner.peek(key, r, at)),
      refund: (key, r, at, cost) => Promise.resolve(inner.refund(key, r, at, cost)),
      reset: (key) => Promise.resolve(inner.reset(key)),
      close: () => inner.close(),
    };
    const events: string[] = [];
    const limiter = createRateLimiter({
      store,
      now: clock(),
      rules: [rule],
      storeTimeoutMs: 20,
      failuresToTrip: 1,
      onStoreStateChange: (state) => events.push(state),
    });
    const block = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) {}
    };
    for (const mode of ['due', 'after'] as const) {
      delay = mode;
      const pending = limiter.check(req());
      block(100);
      assert.equal((await pending).decisions[0]!.source, 'store', `reply ${mode}`);
    }
    assert.deepEqual(events, []);
    await limiter.close();
  });

  test("'closed' refuses with failure 'closed' and a Retry-After; 'open' allows uncounted and reports once", async () => {
    const now = clock();
    const backend = switchableStore();
    const opened: string[] = [];
    const options: RateLimiterOptions = {
      store: backend.store,
      now,
      probeIntervalMs: 2_000,
      rules: [
        { ...rule, name: 'strict', routes: 'POST /v1/auth/password-reset', onStoreError: 'closed' },
        { ...rule, name: 'lenient', onStoreError: 'open' },
      ],
      onFailOpen: (info) => opened.push(`${info.rule}:${info.key}`),
    };
    const limiter = createRateLimiter(options);
    backend.mode = 'fail';
    const closed = await limiter.check(reset());
    assert.equal(closed.allowed, false);
    assert.equal(closed.failure, 'closed');
    assert.equal(closed.retryAfterSec, 2);
    assert.equal(closed.headers['Retry-After'], '2');
    for (let i = 0; i < 10; i++) assert.equal((await limiter.check(req())).allowed, true);
    const open = await limiter.check(req());
    assert.equal(open.decisions[0]!.source, 'open');
    assert.deepEqual(open.headers, {});
    assert.deepEqual(opened, ['lenient:203.0.113.7']);
    assert.deepEqual(limiter.blockedStats(), [], 'a closed refusal is an outage, not a client blocked');
  });
});

describe('createRateLimiter: options', () => {
  test('are checked at creation with the field named, and never written back', () => {
    const store = memoryRateLimitStore();
    const rules = Object.freeze([Object.freeze({ name: 'default', limit: 5, window: '1m' as const })]);
    const options = Object.freeze({ store, rules });
    createRateLimiter(options);
    assert.deepEqual(Object.keys(options), ['store', 'rules']);
    const bad: Array<[unknown, RegExp]> = [
      [{ store, rules, probeIntervalMs: 0 }, /^TypeError: probeIntervalMs:/],
      [{ store, rules, onStoreErorr: 'closed' }, /^TypeError: onStoreErorr: unknown/],
      [{ store: {}, rules }, /^TypeError: store:/],
      [{ store, rules: [{ name: 'a', limit: 5, window: '1 hour' }] }, /^TypeError: rules\[0\]\.window:/],
      [{ store, rules: [...rules, { name: 'x', limit: 0, window: '1m' }] }, /^TypeError: rules\[1\]\.limit:/],
      [{ store, rules: [...rules, ...rules] }, /^TypeError: rules\[1\]\.name:.*twice/],
      [{ store, rules: [{ ...rules[0], onStoreErorr: 'closed' }] }, /^TypeError: rules\[0\]\.onStoreErorr:/],
      [{ store, rules: [{ ...rules[0], routes: 'POST v1/login' }] }, /^TypeError: rules\[0\]\.routes:/],
      [{ store, rules: [{ ...rules[0], name: 'a b' }] }, /^TypeError: rules\[0\]\.name:/],
      [{ store, rules: [{ ...rules[0], key: 'email' }] }, /^TypeError: rules\[0\]\.key:/],
    ];
    for (const [input, message] of bad) {
      assert.throws(
        () => createRateLimiter(input as RateLimiterOptions),
        (e: Error) => message.test(String(e)),
        String(message),
      );
    }
  });

  test('bodyEmailKey folds case and spaces and keeps the address out of the key', () => {
    const a = bodyEmailKey(req({ body: { email: ' Ada@Example.COM ' } }));
    assert.equal(a, bodyEmailKey(req({ body: { email: 'ada@example.com' } })));
    assert.equal(a?.includes('ada'), false);
    assert.equal(bodyEmailKey(req({ body: { email: 42 } })), undefined);
    assert.equal(bodyEmailKey(req({ body: 'x' })), undefined);
  });
});
