/**
 * Rate-limit figures, each beside a baseline measured in the same run:
 *
 *   node --expose-gc --conditions=rampart-source bench/rate-limit.ts [--no-redis]
 *
 * - decisions per second of the memory store (baseline: a bare Map counter) and of the Redis
 *   store (baseline: one bare INCR round trip, the least any Redis limiter pays), one at a time
 *   and 50 in flight; the same for the whole limiter (`check()` with the default rules);
 * - bytes per key of the memory store at 1,000,000 keys (V8 heap plus array buffers, which
 *   hold its typed arrays, after gc), per algorithm, and of Redis at 100,000 keys
 *   (`used_memory`). `--no-redis` skips the Redis part.
 *
 * Run on demand, never in the test suite.
 */
import { Redis } from 'ioredis';
import {
  createRateLimiter,
  memoryRateLimitStore,
  type RateLimitStore,
  type RateRule,
  rateRule,
  redisClientOptions,
  redisRateLimitStore,
} from 'rampart/internal/rate-limit/index.ts';
import { sampleRules } from '../packages/rampart/src/rate-limit/sample-rules.fixture.ts';
import { startRedis } from '../test/harness/redis.ts';

const gc = (globalThis as { gc?: () => void }).gc;
// The store keeps its state in typed arrays, outside the V8 heap: count both.
const memoryUsed = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const KEYS = 10_000;
const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

async function rate(ops: number, inFlight: number, op: (i: number) => unknown): Promise<number> {
  // Warm-up: JIT, script cache, connection.
  for (let i = 0; i < Math.min(2_000, ops / 10); i++) await op(i);
  const start = performance.now();
  if (inFlight === 1) {
    for (let i = 0; i < ops; i++) await op(i);
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < ops) await op(next++);
      }),
    );
  }
  return Math.round(ops / ((performance.now() - start) / 1000));
}

function syncRate(ops: number, op: (i: number) => unknown): number {
  for (let i = 0; i < 10_000; i++) op(i);
  const start = performance.now();
  for (let i = 0; i < ops; i++) op(i);
  return Math.round(ops / ((performance.now() - start) / 1000));
}

const fmt = (n: number) => n.toLocaleString('en-US');
const rows: Array<[string, string, string]> = [];
const row = (what: string, value: string, note = '') => {
  rows.push([what, value, note]);
  console.log(`${what.padEnd(62)} ${value.padStart(14)}  ${note}`);
};

// Throughput: limits high enough that every decision takes the write path (the costlier one).
const sliding = rateRule({ algorithm: 'sliding-window', limit: 1_000_000, windowMs: 900_000 });
const rules: Record<string, RateRule> = {
  'sliding-window': sliding,
  'fixed-window': rateRule({ algorithm: 'fixed-window', limit: 1_000_000, windowMs: 900_000 }),
  // GCRA state lives only as long as its debt: at 1,000,000 per 15 minutes it would expire within
  // a millisecond and every call would take the new-key path; 10,000 per day keeps it alive.
  gcra: rateRule({ algorithm: 'gcra', limit: 10_000, windowMs: 86_400_000 }),
};
// Memory per key: the default rule's shape (100 per 15 minutes), so state lives as it would.
const sized: Record<string, RateRule> = {
  'sliding-window': rateRule({ algorithm: 'sliding-window', limit: 100, windowMs: 900_000 }),
  'fixed-window': rateRule({ algorithm: 'fixed-window', limit: 100, windowMs: 900_000 }),
  gcra: rateRule({ algorithm: 'gcra', limit: 100, windowMs: 900_000 }),
};

console.log(`node ${process.version}, ${new Date().toISOString()}\n`);

// --- memory -----------------------------------------------------------------------------
{
  const N = 2_000_000;
  const counts = new Map<string, number>();
  row(
    'baseline: Map counter, one at a time (sync)',
    `${fmt(syncRate(N, (i) => counts.set(`default:${ip(i % KEYS)}`, (counts.get(`default:${ip(i % KEYS)}`) ?? 0) + 1)))}/s`,
  );
  for (const [name, rule] of Object.entries(rules)) {
    const store = memoryRateLimitStore({ sweepIntervalMs: 0 });
    row(
      `memory store ${name}, one at a time (sync)`,
      `${fmt(syncRate(N, (i) => store.consume(`default:${ip(i % KEYS)}`, rule, Date.now())))}/s`,
    );
    store.close();
  }
  const store = memoryRateLimitStore({ sweepIntervalMs: 0 });
  row(
    'memory store sliding-window, 50 in flight (awaited)',
    `${fmt(await rate(N / 2, 50, (i) => Promise.resolve(store.consume(`default:${ip(i % KEYS)}`, sliding, Date.now()))))}/s`,
  );
  store.close();
}

const limiterRate = async (label: string, store: RateLimitStore, ops: number) => {
  const limiter = createRateLimiter({
    store,
    rules: sampleRules().map((r) => ({ ...r, limit: 1_000_000 })),
    storeTimeoutMs: 0,
  });
  const request = (i: number) => ({ method: 'GET', route: '/v1/me', ip: ip(i % KEYS) });
  row(`${label}, one at a time`, `${fmt(await rate(ops, 1, (i) => limiter.check(request(i))))}/s`);
  row(`${label}, 50 in flight`, `${fmt(await rate(ops, 50, (i) => limiter.check(request(i))))}/s`);
  await limiter.close();
};
await limiterRate(
  'limiter check() on memory (default rules)',
  memoryRateLimitStore({ sweepIntervalMs: 0 }),
  500_000,
);

// --- memory per key ---------------------------------------------------------------------
if (gc === undefined) {
  row('memory per key', 'skipped', 'run with --expose-gc');
} else {
  for (const [name, rule] of Object.entries(sized)) {
    gc();
    const before = memoryUsed();
    const store = memoryRateLimitStore({ maxKeys: 2_000_000, sweepIntervalMs: 0 });
    const now = Date.now();
    for (let i = 0; i < 1_000_000; i++) store.consume(`default:${ip(i)}`, rule, now);
    gc();
    const after = memoryUsed();
    row(
      `memory store ${name}: bytes per key at 1,000,000 keys`,
      fmt(Math.round((after - before) / 1e6)),
      'heap + array buffers after gc, keys like "default:10.1.2.3"',
    );
    store.close();
  }
  // A sliding key with traffic in every sub-window holds the most counters.
  gc();
  const before = memoryUsed();
  const store = memoryRateLimitStore({ maxKeys: 2_000_000, sweepIntervalMs: 0 });
  const now = Date.now();
  for (let b = 0; b < 11; b++) {
    for (let i = 0; i < 1_000_000; i++)
      store.consume(`default:${ip(i)}`, sized['sliding-window']!, now + b * 90_000);
  }
  gc();
  row(
    'memory store sliding-window, all 11 sub-windows used: bytes/key',
    fmt(Math.round((memoryUsed() - before) / 1e6)),
    'worst case',
  );
  store.close();
}

// --- redis ------------------------------------------------------------------------------
const server = process.argv.includes('--no-redis') ? undefined : await startRedis();
if (server)
  try {
    const client = new Redis(server.url, {
      ...redisClientOptions({ commandTimeoutMs: 1_000 }),
      lazyConnect: true,
    });
    await client.connect();
    const version = (await client.info('server')).match(/redis_version:(\S+)/)?.[1];
    console.log(`\nredis-server ${version} on loopback\n`);
    const N = 50_000;
    row(
      'baseline: bare INCR, one at a time',
      `${fmt(await rate(N, 1, (i) => client.incr(`b:${i % KEYS}`)))}/s`,
    );
    row(
      'baseline: bare INCR, 50 in flight',
      `${fmt(await rate(N * 2, 50, (i) => client.incr(`b:${i % KEYS}`)))}/s`,
    );
    for (const [name, rule] of Object.entries(rules)) {
      const store = redisRateLimitStore({ client, keyPrefix: `bench:${name}:` });
      row(
        `redis store ${name}, one at a time`,
        `${fmt(await rate(N, 1, (i) => store.consume(`default:${ip(i % KEYS)}`, rule, Date.now())))}/s`,
      );
      row(
        `redis store ${name}, 50 in flight`,
        `${fmt(await rate(N * 2, 50, (i) => store.consume(`default:${ip(i % KEYS)}`, rule, Date.now())))}/s`,
      );
    }
    await limiterRate(
      'limiter check() on redis (default rules)',
      redisRateLimitStore({ client, keyPrefix: 'bench:l:' }),
      N,
    );

    await client.flushall();
    for (const [name, rule] of Object.entries(sized)) {
      const used = async () => Number((await client.info('memory')).match(/used_memory:(\d+)/)![1]);
      const before = await used();
      const store = redisRateLimitStore({ client, keyPrefix: 'rampart:rl:' });
      const K = 100_000;
      await rate(K, 50, (i) => store.consume(`default:${ip(i + 5_000_000)}`, rule, Date.now()));
      row(
        `redis ${name}: bytes per key at 100,000 keys`,
        fmt(Math.round(((await used()) - before) / K)),
        'used_memory delta',
      );
      await client.flushall();
    }
    client.disconnect();
  } finally {
    await server.stop();
  }
