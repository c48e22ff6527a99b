import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from '../../../../test/harness/redis.ts';
import { createRateLimiter, type RateLimitResult } from './limiter.ts';
import { redisClientOptions, redisRateLimitStore } from './redis-store.ts';
import type { RateLimitRequest } from './rules.ts';
import { sampleRules } from './sample-rules.fixture.ts';

let server: RedisServer;
const clients: Redis[] = [];

// Generous timeouts: these tests are about exactness and recovery, not latency; on a loaded CI
// machine 450 simultaneous scripts can exceed the 50 ms production default and (correctly) send
// the limiter to its local fallback, which is not what they test. A dead Redis still fails at
// once: the offline queue is off.
const CLIENT = redisClientOptions({ commandTimeoutMs: 2_000 });
const STORE_TIMEOUT_MS = 3_000;

async function connectedClient(): Promise<Redis> {
  const c = new Redis(server.url, { ...CLIENT, lazyConnect: true });
  c.on('error', () => {});
  await c.connect();
  clients.push(c);
  return c;
}

before(async () => {
  server = await startRedis();
});

after(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

const passwordReset = (ip: string): RateLimitRequest => ({
  method: 'POST',
  route: '/v1/auth/password-reset',
  ip,
  body: { email: `${ip}@example.com` },
});

const until = async (condition: () => boolean | Promise<boolean>, what: string, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('rate limiter on Redis', () => {
  test('150 simultaneous password-reset requests through Redis: exactly 5 accepted', async () => {
    const store = redisRateLimitStore({ client: await connectedClient(), keyPrefix: `t${randomUUID()}:` });
    const limiter = createRateLimiter({
      store,
      rules: sampleRules(),
      storeTimeoutMs: STORE_TIMEOUT_MS,
    });
    const results = await Promise.all(
      Array.from({ length: 150 }, () => limiter.check(passwordReset('203.0.113.7'))),
    );
    assert.equal(results.filter((r) => r.allowed).length, 5);
    assert.ok(results.every((r) => r.decisions.every((d) => d.source === 'store')));
    await limiter.close();
  });

  test('two instances with their own connections share one limit: exactly the limit across both', async () => {
    const keyPrefix = `t${randomUUID()}:`;
    const rules = [{ name: 'shared', limit: 7, window: '1h' as const }];
    const a = createRateLimiter({
      store: redisRateLimitStore({ client: await connectedClient(), keyPrefix }),
      rules,
    });
    const b = createRateLimiter({
      store: redisRateLimitStore({ client: await connectedClient(), keyPrefix }),
      rules,
    });
    const request: RateLimitRequest = { method: 'GET', route: '/v1/me', ip: '198.51.100.4' };
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => (i % 2 ? a : b).check(request)));
    assert.equal(results.filter((r) => r.allowed).length, 7);
    await a.close();
    await b.close();
  });

  test('Redis stopped under traffic: local limits, closed rules refuse, no throw; limits back after restart', async () => {
    const own = await startRedis();
    const client = new Redis(own.url, { ...CLIENT, lazyConnect: true });
    client.on('error', () => {});
    await client.connect();
    const events: string[] = [];
    const limiter = createRateLimiter({
      store: redisRateLimitStore({ client }),
      probeIntervalMs: 100,
      storeTimeoutMs: STORE_TIMEOUT_MS,
      rules: [
        { name: 'default', limit: 3, window: '1h' },
        {
          name: 'strict',
          routes: 'POST /v1/auth/password-reset',
          limit: 50,
          window: '1h',
          onStoreError: 'closed',
        },
      ],
      onStoreStateChange: (state) => events.push(state),
    });
    const get = (ip: string): RateLimitRequest => ({ method: 'GET', route: '/v1/me', ip });
    try {
      assert.equal((await limiter.check(get('192.0.2.1'))).decisions[0]!.source, 'store');

      await own.kill();
      const during: RateLimitResult[] = [];
      // Traffic in flight while Redis dies, from several clients at once.
      for (let round = 0; round < 5; round++) {
        during.push(
          ...(await Promise.all([get('192.0.2.10'), get('192.0.2.11')].map((r) => limiter.check(r)))),
        );
      }
      assert.deepEqual(events, ['down']);
      const tenth = during.filter((_, i) => i % 2 === 0);
      assert.deepEqual(
        tenth.map((r) => r.allowed),
        [true, true, true, false, false],
        'the local fallback holds the rule per instance',
      );
      assert.ok(during.slice(2).every((r) => r.decisions[0]!.source === 'local'));
      const strict = await limiter.check(passwordReset('192.0.2.12'));
      assert.equal(strict.failure, 'closed');
      assert.ok(strict.retryAfterSec! >= 1);

      await own.restart();
      // Requests keep coming; one background probe per interval finds Redis back.
      await until(async () => {
        await limiter.check(get('192.0.2.13'));
        return limiter.storeState === 'up';
      }, 'the limiter to see Redis again');
      assert.deepEqual(events, ['down', 'up']);
      const back: RateLimitResult[] = [];
      for (let i = 0; i < 4; i++) back.push(await limiter.check(get('192.0.2.20')));
      assert.deepEqual(
        back.map((r) => [r.allowed, r.decisions[0]!.source]),
        [
          [true, 'store'],
          [true, 'store'],
          [true, 'store'],
          [false, 'store'],
        ],
      );
    } finally {
      client.disconnect();
      await limiter.close();
      await own.stop();
    }
  });
});
