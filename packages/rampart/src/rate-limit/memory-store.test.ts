import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Decision,
  decide,
  type RateRule,
  type RateState,
  rateRule,
  refund,
  toDecision,
} from './algorithms.ts';
import { memoryRateLimitStore } from './memory-store.ts';
import { runStoreContract } from './store-contract.ts';

runStoreContract('memory', (keyPrefix) => memoryRateLimitStore({ keyPrefix, sweepIntervalMs: 0 }));

describe('memory store bounds', () => {
  const rule = rateRule({ algorithm: 'sliding-window', limit: 3, windowMs: 1_000, buckets: 10 });

  test('a key whose state has expired is swept, and not before', () => {
    const store = memoryRateLimitStore({ sweepIntervalMs: 0 });
    store.consume('a', rule, 0);
    store.consume('b', rule, 500);
    // A unit counts for at most windowMs × (1 + 1/buckets).
    assert.equal(store.sweep(1_099), 0);
    assert.equal(store.sweep(1_100), 1);
    assert.equal(store.size, 1);
    assert.equal(store.sweep(1_600), 1);
    assert.equal(store.size, 0);
    store.close();
  });

  test('expired keys are dropped as traffic passes, without a timer', () => {
    const store = memoryRateLimitStore({ sweepIntervalMs: 0 });
    for (let i = 0; i < 100; i++) store.consume(`old${i}`, rule, 0);
    for (let i = 0; i < 100; i++) store.consume(`new${i}`, rule, 10_000);
    assert.equal(store.size, 100);
    store.close();
  });

  test('at maxKeys the least recently used key is evicted, so a key still sending keeps its count', () => {
    const store = memoryRateLimitStore({ maxKeys: 3, sweepIntervalMs: 0 });
    for (let i = 0; i < 3; i++) store.consume('attacker', rule, 0);
    store.consume('idle1', rule, 1);
    store.consume('idle2', rule, 2);
    // The attacker keeps sending (and is refused): that use keeps its key fresh.
    assert.equal(store.consume('attacker', rule, 3).allowed, false);
    store.consume('new1', rule, 4);
    store.consume('new2', rule, 5);
    assert.equal(store.size, 3);
    assert.equal(store.consume('attacker', rule, 6).allowed, false);
    // Eviction only loosens: the evicted idle key starts again with a full quota.
    assert.equal(store.peek('idle1', rule, 7).remaining, 3);
    store.close();
  });

  test('options are checked at creation and never written back', () => {
    const options = Object.freeze({ maxKeys: 10 });
    memoryRateLimitStore(options).close();
    assert.deepEqual(options, { maxKeys: 10 });
    assert.throws(() => memoryRateLimitStore({ maxKeys: 0 }), /^TypeError: maxKeys:/);
    assert.throws(() => memoryRateLimitStore({ sweepIntervalMs: -1 }), /^TypeError: sweepIntervalMs:/);
  });
});

/**
 * The store as it was before its state was packed into typed arrays: one `RateState` object
 * per key from `algorithms.ts`, in a Map whose insertion order is the LRU order. The packed
 * store must answer exactly as this one does.
 */
function referenceStore(maxKeys: number) {
  const entries = new Map<string, RateState>();
  return {
    get size() {
      return entries.size;
    },
    consume(id: string, rule: RateRule, now: number, cost: number): Decision {
      const before = entries.get(id);
      const result = decide(before, rule, now, cost);
      if (result.state !== undefined) {
        if (before !== undefined) entries.delete(id);
        else {
          for (let i = 0; i < 2; i++) {
            const head = entries.entries().next();
            if (head.done || head.value[1].expiresAt > now) break;
            entries.delete(head.value[0]);
          }
          if (entries.size >= maxKeys) entries.delete(entries.keys().next().value!);
        }
        entries.set(id, result.state);
      }
      return toDecision(result);
    },
    peek: (id: string, rule: RateRule, now: number) => toDecision(decide(entries.get(id), rule, now, 0)),
    refund(id: string, rule: RateRule, now: number, cost: number) {
      const before = entries.get(id);
      if (before === undefined) return;
      const next = refund(before, rule, now, cost);
      if (next !== undefined && next !== before) entries.set(id, next);
    },
    reset: (id: string) => void entries.delete(id),
    sweep(now: number) {
      let dropped = 0;
      for (const [key, state] of entries) {
        if (state.expiresAt <= now) {
          entries.delete(key);
          dropped++;
        }
      }
      return dropped;
    },
  };
}

/** mulberry32: deterministic, so a failure replays. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('memory store packing', () => {
  test('answers exactly as one RateState per key would: random traffic, rules, clocks, evictions and sweeps', () => {
    const random = prng(20_260_216);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    for (let round = 0; round < 60; round++) {
      const windowMs = pick([1, 7, 100, 1_000, 60_000, 900_000, 86_400_000]);
      const limit = pick([1, 2, 5, 100, 1_000_000_000]);
      const rules: RateRule[] = [
        rateRule({ algorithm: 'fixed-window', limit, windowMs }),
        rateRule({ algorithm: 'gcra', limit, windowMs, burst: pick([1, limit, Math.min(1e9, limit * 3)]) }),
        rateRule({
          algorithm: 'sliding-window',
          limit,
          windowMs,
          buckets: Math.min(windowMs, pick([1, 3, 10, 1000])),
        }),
        rateRule({
          algorithm: 'sliding-window',
          limit: Math.min(1e9, limit + 2),
          windowMs: windowMs * 3,
          buckets: Math.min(windowMs * 3, 2),
        }),
        // Not checked by rateRule: counts beyond what a packed sub-window holds.
        { algorithm: 'sliding-window', limit: 2 ** 40, windowMs, buckets: 4 },
        { algorithm: 'fixed-window', limit: 2 ** 40, windowMs },
      ];
      const maxKeys = pick([1, 3, 8, 50]);
      const packed = memoryRateLimitStore({ maxKeys, sweepIntervalMs: 0, keyPrefix: round % 2 ? 'p:' : '' });
      const reference = referenceStore(maxKeys);
      const keyNames = Array.from({ length: pick([2, 6, 20, 80]) }, (_, i) => `k${i}`);
      let now = Math.floor(random() * 1.8e12);
      for (let step = 0; step < 1_500; step++) {
        const r = random();
        // Mostly forward in small steps; sometimes a pause of many windows, or a clock behind.
        now +=
          r < 0.3
            ? 0
            : r < 0.8
              ? Math.floor(random() * windowMs)
              : r < 0.9
                ? Math.floor(random() * windowMs * 40)
                : r < 0.97
                  ? -Math.floor(random() * windowMs * 2)
                  : pick([-1, 1]) * Math.floor(random() * 3e7);
        const key = pick(keyNames);
        const id = round % 2 ? `p:${key}` : key;
        const rule = pick(rules);
        const max = rule.algorithm === 'gcra' ? (rule.burst ?? rule.limit) : rule.limit;
        const cost =
          random() < 0.1
            ? 0
            : random() < 0.02
              ? max + 1
              : 1 + Math.floor(random() * Math.min(max, random() < 0.05 ? 2 ** 31 : 3));
        const op = random();
        const where = `round ${round}, step ${step}: ${JSON.stringify(rule)} cost ${cost} at ${now}`;
        const both = <T>(a: () => T, b: () => T): [T | Error, T | Error] => {
          const run = (f: () => T) => {
            try {
              return f();
            } catch (e) {
              return e as Error;
            }
          };
          return [run(a), run(b)];
        };
        if (op < 0.7) {
          const [x, y] = both(
            () => packed.consume(key, rule, now, cost),
            () => reference.consume(id, rule, now, cost),
          );
          assert.deepEqual(x, y, where);
        } else if (op < 0.8) {
          assert.deepEqual(packed.peek(key, rule, now), reference.peek(id, rule, now), where);
        } else if (op < 0.9) {
          const [x, y] = both(
            () => packed.refund(key, rule, now, cost),
            () => reference.refund(id, rule, now, cost),
          );
          assert.deepEqual(x, y, where);
        } else if (op < 0.95) {
          packed.reset(key);
          reference.reset(id);
        } else {
          assert.equal(packed.sweep(now), reference.sweep(now), where);
        }
        assert.equal(packed.size, reference.size, where);
      }
      // Every key, under every rule, reads the same at the end.
      for (const key of keyNames)
        for (const rule of rules)
          assert.deepEqual(
            packed.peek(key, rule, now),
            reference.peek(round % 2 ? `p:${key}` : key, rule, now),
          );
      packed.close();
    }
  });

  test('a sweep that leaves most slots empty gives them back, and keys keep their state and LRU order', () => {
    const rule = rateRule({ algorithm: 'fixed-window', limit: 10, windowMs: 1_000 });
    const long = rateRule({ algorithm: 'fixed-window', limit: 10, windowMs: 1_000_000 });
    const store = memoryRateLimitStore({ maxKeys: 10_000, sweepIntervalMs: 0 });
    for (let i = 0; i < 5_000; i++) store.consume(`short${i}`, rule, 0);
    for (let i = 0; i < 10; i++) store.consume(`long${i}`, long, 0, i + 1);
    assert.equal(store.sweep(1_000), 5_000);
    assert.equal(store.size, 10);
    for (let i = 0; i < 10; i++) assert.equal(store.peek(`long${i}`, long, 1_000).remaining, 10 - (i + 1));
    // Still bounded by LRU after the move: long0 is the oldest, then long1.
    const small = memoryRateLimitStore({ maxKeys: 3, sweepIntervalMs: 0 });
    for (let i = 0; i < 40; i++) small.consume(`gone${i}`, rule, 0);
    small.consume('a', long, 1);
    small.consume('b', long, 2);
    small.consume('c', long, 3);
    small.sweep(5_000);
    small.consume('d', long, 4);
    assert.equal(small.peek('a', long, 5).remaining, 10);
    assert.equal(small.peek('b', long, 5).remaining, 9);
    store.close();
    small.close();
  });

  test('sub-windows of the keys left keep their counts when the pool of sub-windows is moved together', () => {
    const short = rateRule({ algorithm: 'sliding-window', limit: 100, windowMs: 1_000, buckets: 10 });
    const long = rateRule({ algorithm: 'sliding-window', limit: 100, windowMs: 1_000_000, buckets: 10 });
    const store = memoryRateLimitStore({ maxKeys: 10_000, sweepIntervalMs: 0 });
    for (let i = 0; i < 2_000; i++) for (const t of [0, 100, 200]) store.consume(`short${i}`, short, t);
    for (let i = 0; i < 20; i++)
      for (const t of [0, 100_000, 200_000]) store.consume(`long${i}`, long, t, i + 1);
    assert.equal(store.sweep(5_000), 2_000);
    for (let i = 0; i < 20; i++)
      assert.equal(store.peek(`long${i}`, long, 200_000).remaining, 100 - 3 * (i + 1));
    // Blocks change size (a fourth sub-window), are freed and reused, and move again.
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 500; i++)
        for (const t of [0, 100, 200, 300])
          store.consume(`churn${round}:${i}`, short, 10_000 * (round + 1) + t);
      for (let i = 0; i < 20; i++) store.consume(`long${i}`, long, 300_000 + round);
      store.sweep(10_000 * (round + 1) + 5_000);
    }
    for (let i = 0; i < 20; i++)
      assert.equal(store.peek(`long${i}`, long, 300_010).remaining, 100 - 3 * (i + 1) - 5);
    store.close();
    // Every key gains a sub-window at once, round after round: the blocks they leave are of
    // sizes nobody asks for any more, and the pool moves the live ones together as it grows.
    const growing = memoryRateLimitStore({ maxKeys: 10_000, sweepIntervalMs: 0 });
    for (let sub = 0; sub < 8; sub++)
      for (let i = 0; i < 1_000; i++) growing.consume(`g${i}`, long, sub * 100_000, 1 + (i % 3));
    for (let i = 0; i < 1_000; i++)
      assert.equal(growing.peek(`g${i}`, long, 700_000).remaining, 100 - 8 * (1 + (i % 3)));
    growing.close();
  });
});
