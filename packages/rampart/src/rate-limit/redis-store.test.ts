import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from '../../../../test/harness/redis.ts';
import { decide, type RateRule, type RateState, rateRule, refund, toDecision } from './algorithms.ts';
import { type RedisClientSettings, redisClientOptions, redisRateLimitStore } from './redis-store.ts';
import { runStoreContract } from './store-contract.ts';

let server: RedisServer;
let client: Redis;

// Tests about exactness get a generous command timeout: on a loaded CI machine 150 simultaneous
// scripts can take longer than the 50 ms production default, and a timeout is not what they test.
// The fail-fast test below uses the defaults.
async function connectedClient(
  url: string,
  settings: RedisClientSettings = { commandTimeoutMs: 2_000 },
): Promise<Redis> {
  const c = new Redis(url, { ...redisClientOptions(settings), lazyConnect: true });
  c.on('error', () => {}); // connection errors surface as rejected commands
  await c.connect();
  return c;
}

before(async () => {
  server = await startRedis();
  client = await connectedClient(server.url);
});

after(async () => {
  client?.disconnect();
  await server?.stop();
});

runStoreContract('redis', (keyPrefix) => redisRateLimitStore({ client, keyPrefix, clock: 'caller' }));

const prefix = () => `t${randomUUID().slice(0, 8)}:`;

describe('redis store', () => {
  test('the Lua script and the JavaScript algorithms agree decision for decision, refunds included', async () => {
    const shapes: RateRule[] = [
      rateRule({ algorithm: 'fixed-window', limit: 7, windowMs: 1_000 }),
      rateRule({ algorithm: 'fixed-window', limit: 1, windowMs: 333 }),
      rateRule({ algorithm: 'sliding-window', limit: 9, windowMs: 1_000, buckets: 7 }),
      rateRule({ algorithm: 'sliding-window', limit: 3, windowMs: 900_000, buckets: 10 }),
      rateRule({ algorithm: 'sliding-window', limit: 20, windowMs: 997, buckets: 1 }),
      rateRule({ algorithm: 'gcra', limit: 3, windowMs: 1_000 }),
      rateRule({ algorithm: 'gcra', limit: 7, windowMs: 999, burst: 11 }),
      rateRule({ algorithm: 'gcra', limit: 1_000, windowMs: 3_600_000, burst: 50 }),
    ];
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (const [i, rule] of shapes.entries()) {
      const store = redisRateLimitStore({ client, keyPrefix: prefix(), clock: 'caller' });
      let state: RateState | undefined;
      let now = 1_750_000_000_000 + Math.floor(random() * 1e6);
      for (let step = 0; step < 300; step++) {
        const r = random();
        // Mostly forward, sometimes back (another instance's clock), so skew handling agrees too.
        now +=
          r < 0.3
            ? 0
            : r < 0.85
              ? Math.floor(random() * (rule.windowMs / 5))
              : r < 0.95
                ? Math.floor(random() * rule.windowMs)
                : -Math.floor(random() * rule.windowMs);
        const max = rule.algorithm === 'gcra' ? (rule.burst ?? rule.limit) : rule.limit;
        const cost = random() < 0.1 ? 0 : 1 + Math.floor(random() * Math.min(3, max));
        if (random() < 0.15) {
          // A refund (a reserved attempt that succeeded) must leave both in the same state.
          state = refund(state, rule, now, cost === 0 ? 1 : cost);
          await store.refund('k', rule, now, cost === 0 ? 1 : cost);
          continue;
        }
        const expected = decide(state, rule, now, cost);
        state = expected.state;
        const got = cost === 0 ? await store.peek('k', rule, now) : await store.consume('k', rule, now, cost);
        assert.deepEqual(
          got,
          toDecision(expected),
          `rule ${i} (${rule.algorithm}) step ${step} at ${now} cost ${cost}`,
        );
      }
    }
  });

  test('on the Redis clock, instances whose clocks disagree by hours still share one limit', async () => {
    const keyPrefix = prefix();
    const fast = redisRateLimitStore({ client, keyPrefix });
    const slow = redisRateLimitStore({ client, keyPrefix });
    for (const algorithm of ['fixed-window', 'sliding-window', 'gcra'] as const) {
      const rule = rateRule({ algorithm, limit: 4, windowMs: 60_000 });
      let allowed = 0;
      for (let i = 0; i < 10; i++) {
        const callerNow = Date.now() + (i % 2 ? 3_600_000 : -3_600_000);
        const d = await (i % 2 ? fast : slow).consume(algorithm, rule, callerNow);
        if (d.allowed) allowed++;
        // resetAt is put on the caller's own clock, whatever that clock says.
        assert.ok(d.resetAt - callerNow <= 60_000 * 1.1 + 1000, `${algorithm}: reset within the window`);
        assert.ok(d.resetAt - callerNow >= 0);
      }
      assert.equal(allowed, 4, algorithm);
    }
  });

  test('150 simultaneous consumes decided on the Redis clock allow exactly the limit', async () => {
    const store = redisRateLimitStore({ client, keyPrefix: prefix() });
    const rule = rateRule({ algorithm: 'sliding-window', limit: 5, windowMs: 3_600_000 });
    const all = await Promise.all(Array.from({ length: 150 }, () => store.consume('pw', rule, Date.now())));
    assert.equal(all.filter((d) => d.allowed).length, 5);
  });

  test('keys carry a {hash tag} around the identity and a TTL no longer than the state lives', async () => {
    const keyPrefix = prefix();
    const store = redisRateLimitStore({ client, keyPrefix, clock: 'caller' });
    const now = 1_750_000_000_000;
    const windows = { 'fixed-window': 60_000, 'sliding-window': 60_000 * 1.1, gcra: 60_000 / 10 };
    for (const algorithm of ['fixed-window', 'sliding-window', 'gcra'] as const) {
      await store.consume('rule:203.0.113.7', rateRule({ algorithm, limit: 10, windowMs: 60_000 }), now);
    }
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    assert.deepEqual(keys.sort(), [
      `${keyPrefix}{rule:203.0.113.7}:fw`,
      `${keyPrefix}{rule:203.0.113.7}:gc`,
      `${keyPrefix}{rule:203.0.113.7}:sw`,
    ]);
    for (const key of keys) {
      const ttl = await client.pttl(key);
      const algorithm = key.endsWith(':fw')
        ? 'fixed-window'
        : key.endsWith(':sw')
          ? 'sliding-window'
          : 'gcra';
      assert.ok(ttl > 0 && ttl <= windows[algorithm], `${key}: PTTL ${ttl}`);
    }
    await store.reset('rule:203.0.113.7');
    assert.equal(await client.exists(...keys), 0);
  });

  test('a dead Redis makes calls reject (never hang), and they succeed again after a restart', async () => {
    const own = await startRedis();
    const c = await connectedClient(own.url, {});
    try {
      const store = redisRateLimitStore({ client: c, keyPrefix: prefix() });
      const rule = rateRule({ algorithm: 'sliding-window', limit: 5, windowMs: 1_000 });
      assert.equal((await store.consume('k', rule, Date.now())).allowed, true);
      await own.kill();
      await assert.rejects(Promise.resolve(store.consume('k', rule, Date.now())));
      await own.restart();
      const deadline = Date.now() + 10_000;
      while (c.status !== 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // The script cache died with the server: the client loads the script again by itself.
      assert.equal((await store.consume('k', rule, Date.now())).allowed, true);
    } finally {
      c.disconnect();
      await own.stop();
    }
  });

  test('options are checked at creation', () => {
    assert.throws(() => redisRateLimitStore({ client: {} as Redis }), /^TypeError: client:/);
    assert.throws(() => redisRateLimitStore({ client, keyPrefix: 'a{b}' }), /^TypeError: keyPrefix:/);
    assert.throws(() => redisRateLimitStore({ client, clock: 'local' as 'redis' }), /^TypeError: clock:/);
  });

  test('client options turn the offline queue off and bound every command', () => {
    const options = redisClientOptions();
    assert.equal(options.enableOfflineQueue, false);
    assert.equal(options.commandTimeout, 50);
    assert.equal(options.maxRetriesPerRequest, 0);
    assert.ok((options.retryStrategy?.(1000) ?? 0) <= 1_000);
    assert.equal(redisClientOptions({ commandTimeoutMs: 80 }).commandTimeout, 80);
    assert.throws(() => redisClientOptions({ commandTimeoutMs: 0 }), /^TypeError: commandTimeoutMs:/);
  });
});
