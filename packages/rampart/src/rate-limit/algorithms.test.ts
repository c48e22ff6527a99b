import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide, type RateRule, type RateState, rateRule, type SlidingWindowState } from './algorithms.ts';

/** A small deterministic PRNG (mulberry32): property tests that replay the same way every run. */
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

function run(rule: RateRule, times: number[], cost = 1) {
  let state: RateState | undefined;
  return times.map((t) => {
    const d = decide(state, rule, t, cost);
    state = d.state;
    return d;
  });
}

describe('fixed window', () => {
  const rule = rateRule({ algorithm: 'fixed-window', limit: 3, windowMs: 1000 });

  test('allows exactly the limit per window and refuses until the window ends', () => {
    const ds = run(rule, [10, 20, 30, 40, 999, 1000]);
    assert.deepEqual(
      ds.map((d) => d.allowed),
      [true, true, true, false, false, true],
    );
    assert.deepEqual(
      ds.map((d) => d.remaining),
      [2, 1, 0, 0, 0, 2],
    );
    assert.equal(ds[3]!.retryAfterMs, 960);
    assert.equal(ds[3]!.resetAt, 1000);
    assert.equal(ds[4]!.retryAfterMs, 1);
  });

  test('a clock behind the stored window keeps the stored count instead of opening a new window', () => {
    const ahead = decide(undefined, rule, 5_000, 3);
    const behind = decide(ahead.state, rule, 4_999);
    assert.equal(behind.allowed, false);
  });
});

describe('sliding window', () => {
  test('never admits more than the limit in any window-length interval (random traffic, many rules)', () => {
    const random = prng(42);
    for (let round = 0; round < 300; round++) {
      const limit = 1 + Math.floor(random() * 20);
      const windowMs = 10 + Math.floor(random() * 5000);
      const buckets = 1 + Math.floor(random() * Math.min(30, windowMs));
      const rule = rateRule({ algorithm: 'sliding-window', limit, windowMs, buckets });
      let state: RateState | undefined;
      let now = Math.floor(random() * 1e12);
      const admitted: Array<[number, number]> = [];
      for (let i = 0; i < 400; i++) {
        // Bursts (gap 0), steady traffic and pauses longer than the window, mixed.
        const r = random();
        now +=
          r < 0.3 ? 0 : r < 0.9 ? Math.floor(random() * (windowMs / 4)) : Math.floor(random() * 2 * windowMs);
        const cost = 1 + Math.floor(random() * Math.min(3, limit));
        const d = decide(state, rule, now, cost);
        state = d.state;
        if (d.allowed) admitted.push([now, cost]);
        else {
          // retryAfterMs is exact: one ms earlier is still refused, at that time it passes.
          assert.ok(d.retryAfterMs > 0);
          assert.equal(decide(state, rule, now + d.retryAfterMs - 1, cost).allowed, false);
          assert.equal(decide(state, rule, now + d.retryAfterMs, cost).allowed, true);
        }
      }
      for (let i = 0, j = 0, inWindow = 0; i < admitted.length; i++) {
        inWindow += admitted[i]![1];
        // Closed interval [t - windowMs, t].
        while (admitted[j]![0] < admitted[i]![0] - windowMs) inWindow -= admitted[j++]![1];
        assert.ok(inWindow <= limit, `round ${round}: ${inWindow} > ${limit} within ${windowMs} ms`);
      }
    }
  });

  test('a full quota returns at most one sub-window after the window, never later', () => {
    const rule = rateRule({ algorithm: 'sliding-window', limit: 5, windowMs: 1000, buckets: 10 });
    const ds = run(rule, [0, 0, 0, 0, 0, 1099, 1100]);
    assert.deepEqual(
      ds.map((d) => d.allowed),
      [true, true, true, true, true, false, true],
    );
    assert.equal(ds[5]!.retryAfterMs, 1);
  });

  test('units age out sub-window by sub-window, and the RateLimit reset is when the oldest leaves', () => {
    const rule = rateRule({ algorithm: 'sliding-window', limit: 2, windowMs: 1000, buckets: 10 });
    const ds = run(rule, [0, 500, 600, 1100]);
    assert.deepEqual(
      ds.map((d) => d.allowed),
      [true, true, false, true],
    );
    assert.equal(ds[1]!.resetAt, 1100);
    assert.equal(ds[2]!.retryAfterMs, 500);
    assert.equal(ds[3]!.remaining, 0);
  });

  test('refused requests are not counted: hammering while refused does not extend the wait', () => {
    const rule = rateRule({ algorithm: 'sliding-window', limit: 1, windowMs: 1000, buckets: 4 });
    let state = decide(undefined, rule, 0).state;
    for (let t = 1; t < 1250; t += 7) state = decide(state, rule, t).state;
    assert.equal(decide(state, rule, 1250).allowed, true);
  });

  test('state memory is bounded by the number of sub-windows, whatever the limit', () => {
    const rule = rateRule({ algorithm: 'sliding-window', limit: 1_000_000, windowMs: 60_000, buckets: 10 });
    let state: RateState | undefined;
    for (let t = 0; t < 600_000; t += 100) state = decide(state, rule, t).state;
    assert.equal(state?.algorithm, 'sliding-window');
    assert.ok((state as SlidingWindowState).buckets.length <= 2 * 11);
  });
});

describe('gcra', () => {
  test('allows a burst at once, then one unit per emission interval, with an exact retry time', () => {
    const rule = rateRule({ algorithm: 'gcra', limit: 3, windowMs: 1000 });
    const ds = run(rule, [0, 0, 0, 0]);
    assert.deepEqual(
      ds.map((d) => d.allowed),
      [true, true, true, false],
    );
    assert.equal(ds[3]!.retryAfterMs, 334); // ceil(1000 / 3)
    let state = ds[2]!.state;
    assert.equal(decide(state, rule, 333).allowed, false);
    const next = decide(state, rule, 334);
    assert.equal(next.allowed, true);
    state = next.state;
    assert.equal(decide(state, rule, 334).allowed, false);
  });

  test('a separate burst allows more at once without raising the long-run rate', () => {
    const rule = rateRule({ algorithm: 'gcra', limit: 10, windowMs: 10_000, burst: 4 });
    let state: RateState | undefined;
    let allowed = 0;
    for (let t = 0; t <= 60_000; t += 50) {
      const d = decide(state, rule, t);
      state = d.state;
      if (d.allowed) allowed++;
    }
    // burst + one per second for 60 s.
    assert.equal(allowed, 4 + 60);
  });

  test('remaining and reset describe the bucket: full after a quiet period', () => {
    const rule = rateRule({ algorithm: 'gcra', limit: 4, windowMs: 1000 });
    const d = decide(undefined, rule, 0, 2);
    assert.equal(d.remaining, 2);
    assert.equal(d.resetAt, 250);
    const later = decide(d.state, rule, 10_000, 0);
    assert.equal(later.remaining, 4);
    assert.equal(later.resetAt, 10_000);
  });
});

describe('decide', () => {
  const rules = [
    rateRule({ algorithm: 'fixed-window', limit: 5, windowMs: 1000 }),
    rateRule({ algorithm: 'sliding-window', limit: 5, windowMs: 1000 }),
    rateRule({ algorithm: 'gcra', limit: 5, windowMs: 1000 }),
  ];

  for (const rule of rules) {
    test(`${rule.algorithm}: a cost takes several units; cost 0 inspects without recording`, () => {
      const a = decide(undefined, rule, 0, 3);
      assert.equal(a.allowed, true);
      assert.equal(a.remaining, 2);
      const peek = decide(a.state, rule, 0, 0);
      assert.equal(peek.state, a.state);
      assert.equal(peek.remaining, 2);
      assert.equal(peek.allowed, true);
      const b = decide(a.state, rule, 0, 3);
      assert.equal(b.allowed, false);
      const c = decide(b.state, rule, 0, 2);
      assert.equal(c.allowed, true);
      assert.equal(c.remaining, 0);
      assert.equal(decide(c.state, rule, 0, 0).allowed, false);
    });

    test(`${rule.algorithm}: a cost above the limit is a programming error, not a denial`, () => {
      assert.throws(() => decide(undefined, rule, 0, 6), RangeError);
      assert.throws(() => decide(undefined, rule, 0, 1.5), RangeError);
      assert.throws(() => decide(undefined, rule, 0, -1), RangeError);
    });
  }

  test('a state written by another algorithm is read as empty, not misread', () => {
    const fixed = decide(undefined, rules[0]!, 0, 5).state;
    assert.equal(decide(fixed, rules[1]!, 0, 5).allowed, true);
    assert.equal(decide(fixed, rules[2]!, 0, 5).allowed, true);
  });
});

describe('rateRule', () => {
  test('fills defaults into a frozen copy and leaves the input alone', () => {
    const input = { algorithm: 'sliding-window' as const, limit: 5, windowMs: 1000 };
    const rule = rateRule(Object.freeze(input));
    assert.deepEqual(rule, { algorithm: 'sliding-window', limit: 5, windowMs: 1000, buckets: 10 });
    assert.ok(Object.isFrozen(rule));
    assert.deepEqual(rateRule({ algorithm: 'gcra', limit: 5, windowMs: 1000 }).burst, 5);
  });

  test('names the wrong field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ algorithm: 'leaky', limit: 1, windowMs: 1 }, /^TypeError: r\.algorithm:/],
      [{ algorithm: 'gcra', limit: 0, windowMs: 1 }, /^TypeError: r\.limit:/],
      [{ algorithm: 'gcra', limit: 1, windowMs: 1.5 }, /^TypeError: r\.windowMs:/],
      [{ algorithm: 'sliding-window', limit: 1, windowMs: 5, buckets: 6 }, /^TypeError: r\.buckets:/],
      [{ algorithm: 'fixed-window', limit: 1, windowMs: 5, burst: 2 }, /^TypeError: r\.burst:/],
    ];
    for (const [input, message] of bad) {
      assert.throws(
        () => rateRule(input as RateRule, 'r'),
        (e: Error) => message.test(String(e)),
      );
    }
  });
});
