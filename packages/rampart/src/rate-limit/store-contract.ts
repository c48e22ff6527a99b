import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Awaitable } from '../lib/types.ts';
import { type Algorithm, type RateRule, rateRule } from './algorithms.ts';
import type { RateLimitStore } from './store.ts';

/** Makes a store on the backend under test; every call with a new prefix must see no old keys. */
export type MakeRateLimitStore = (keyPrefix: string) => Awaitable<RateLimitStore>;

// A fixed, window-aligned start on the injected clock (a multiple of every window used here).
const T0 = 1_750_000_000_000;

const rules = (limit: number, windowMs = 1000): Record<Algorithm, RateRule> => ({
  'fixed-window': rateRule({ algorithm: 'fixed-window', limit, windowMs }),
  'sliding-window': rateRule({ algorithm: 'sliding-window', limit, windowMs, buckets: 10 }),
  gcra: rateRule({ algorithm: 'gcra', limit, windowMs }),
});

/** The next deterministic random number in [0, 1) (xorshift32), so a failure replays. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/**
 * The contract every {@link RateLimitStore} passes (see its doc comment for the guarantees).
 * Registers node:test tests; call it from the backend's test file.
 *
 * @example runStoreContract('memory', (keyPrefix) => memoryRateLimitStore({ keyPrefix }));
 */
export function runStoreContract(name: string, makeStore: MakeRateLimitStore): void {
  const fresh = () => makeStore(`t${randomUUID().slice(0, 8)}:`);

  describe(`rate-limit store contract: ${name}`, () => {
    for (const [algorithm, rule] of Object.entries(rules(5))) {
      test(`${algorithm}: exactly the limit is allowed, then refusals with a retry time`, async () => {
        const store = await fresh();
        const seen = [];
        for (let i = 0; i < 7; i++) seen.push(await store.consume('k', rule, T0 + i));
        assert.deepEqual(
          seen.map((d) => d.allowed),
          [true, true, true, true, true, false, false],
        );
        assert.deepEqual(
          seen.map((d) => d.remaining),
          [4, 3, 2, 1, 0, 0, 0],
        );
        assert.ok(seen[5]!.retryAfterMs > 0);
        assert.equal(seen[5]!.limit, 5);
        await store.close();
      });

      test(`${algorithm}: 150 simultaneous consumes on one key allow exactly the limit`, async () => {
        const store = await fresh();
        const all = await Promise.all(Array.from({ length: 150 }, () => store.consume('burst', rule, T0)));
        assert.equal(all.filter((d) => d.allowed).length, 5);
        await store.close();
      });

      test(`${algorithm}: the quota comes back once the retry time has passed`, async () => {
        const store = await fresh();
        for (let i = 0; i < 5; i++) await store.consume('k', rule, T0);
        const refused = await store.consume('k', rule, T0 + 10);
        assert.equal(refused.allowed, false);
        assert.equal((await store.consume('k', rule, T0 + 10 + refused.retryAfterMs - 1)).allowed, false);
        assert.equal((await store.consume('k', rule, T0 + 10 + refused.retryAfterMs)).allowed, true);
        // After a long quiet period the state has expired: a full quota.
        const later = await store.peek('k', rule, T0 + 3_600_000);
        assert.equal(later.remaining, 5);
        await store.close();
      });

      test(`${algorithm}: peek reports without recording; a refusal records nothing`, async () => {
        const store = await fresh();
        assert.equal((await store.peek('k', rule, T0)).remaining, 5);
        await store.consume('k', rule, T0, 4);
        const p = await store.peek('k', rule, T0);
        assert.equal(p.allowed, true);
        assert.equal(p.remaining, 1);
        assert.equal((await store.consume('k', rule, T0, 2)).allowed, false);
        assert.equal((await store.peek('k', rule, T0)).remaining, 1);
        assert.equal((await store.consume('k', rule, T0, 1)).remaining, 0);
        const empty = await store.peek('k', rule, T0);
        assert.equal(empty.allowed, false);
        assert.ok(empty.retryAfterMs > 0);
        await store.close();
      });

      test(`${algorithm}: reset gives the key a full quota again`, async () => {
        const store = await fresh();
        for (let i = 0; i < 5; i++) await store.consume('k', rule, T0);
        await store.reset('k');
        assert.equal((await store.consume('k', rule, T0)).remaining, 4);
        await store.close();
      });
    }

    test('keys are independent, and stores with different prefixes never share a key', async () => {
      const rule = rules(2)['sliding-window'];
      const a = await fresh();
      const b = await fresh();
      await a.consume('k', rule, T0, 2);
      assert.equal((await a.consume('k', rule, T0)).allowed, false);
      assert.equal((await a.consume('other', rule, T0)).allowed, true);
      assert.equal((await b.consume('k', rule, T0)).allowed, true);
      assert.notEqual(a.keyPrefix, b.keyPrefix);
      await a.reset('k');
      assert.equal((await b.peek('k', rule, T0)).remaining, 1);
      await a.close();
      await b.close();
    });

    test('a state written under one algorithm is never misread by another (a rule changed its algorithm)', async () => {
      const store = await fresh();
      const r = rules(3);
      await store.consume('k', r['fixed-window'], T0, 3);
      assert.equal((await store.consume('k', r.gcra, T0, 3)).remaining, 0);
      assert.equal((await store.consume('k', r['sliding-window'], T0, 3)).remaining, 0);
      await store.close();
    });

    test('sliding window: never more than the limit in any window-length interval', async () => {
      const store = await fresh();
      const random = xorshift(7);
      const rule = rateRule({ algorithm: 'sliding-window', limit: 7, windowMs: 1_000, buckets: 5 });
      const admitted: number[] = [];
      let now = T0 + 123;
      for (let i = 0; i < 600; i++) {
        const r = random();
        now += r < 0.4 ? 0 : r < 0.95 ? Math.floor(random() * 150) : Math.floor(random() * 1500);
        if ((await store.consume('s', rule, now)).allowed) admitted.push(now);
      }
      assert.ok(admitted.length > 50, 'the test traffic must get through often enough to mean something');
      for (let i = 0, j = 0; i < admitted.length; i++) {
        while (admitted[j]! < admitted[i]! - rule.windowMs) j++;
        assert.ok(
          i - j + 1 <= rule.limit,
          `${i - j + 1} admitted within ${rule.windowMs} ms ending at ${admitted[i]}`,
        );
      }
      await store.close();
    });

    for (const [algorithm, rule] of Object.entries(rules(3))) {
      test(`${algorithm}: a refund gives back what a reservation took, and never more`, async () => {
        const store = await fresh();
        for (let i = 0; i < 3; i++) assert.ok((await store.consume('r', rule, T0)).allowed);
        assert.equal((await store.consume('r', rule, T0)).allowed, false);
        // Two reserved attempts succeeded: their units come back.
        await store.refund('r', rule, T0, 2);
        assert.equal((await store.peek('r', rule, T0)).remaining, 2);
        // Refunding more than is held stops at empty: the quota never grows past the limit.
        await store.refund('r', rule, T0, 3);
        assert.equal((await store.peek('r', rule, T0)).remaining, 3);
        const after = [];
        for (let i = 0; i < 4; i++) after.push((await store.consume('r', rule, T0)).allowed);
        assert.deepEqual(after, [true, true, true, false]);
        // A refund of a key that holds nothing is a no-op, not a credit.
        await store.refund('empty', rule, T0, 1);
        assert.equal((await store.peek('empty', rule, T0)).remaining, 3);
        await store.close();
      });
    }

    test('reserve then refund under concurrency: the count equals the attempts that stayed failures', async () => {
      const store = await fresh();
      const rule = rules(50)['sliding-window'];
      // 40 attempts reserve at once; the 30 that "succeed" give their unit back.
      const reserved = await Promise.all(Array.from({ length: 40 }, () => store.consume('c', rule, T0)));
      assert.ok(reserved.every((d) => d.allowed));
      await Promise.all(Array.from({ length: 30 }, () => store.refund('c', rule, T0)));
      assert.equal((await store.peek('c', rule, T0)).remaining, 40);
      await store.close();
    });
  });
}
