import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rateRule } from './algorithms.ts';
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
