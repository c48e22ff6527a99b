import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createVerificationCache } from './cache.ts';
import type { ApiKeyRecord } from './record.ts';

const T0 = 1_700_000_000_000;

function record(id: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id,
    hash: `v1:${id}`,
    hint: 'rk_live_abcd…',
    prefix: 'rk_live_',
    name: id,
    ownerId: null,
    scopes: [],
    createdAt: T0,
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    metadata: {},
    credits: null,
    rateLimit: null,
    ...overrides,
  };
}

function clockAt(start: number) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

describe('verification cache', () => {
  test('the least recently used record is evicted first', () => {
    const cache = createVerificationCache({ maxEntries: 2, now: () => T0 });
    cache.set('h:a', record('key_a'));
    cache.set('h:b', record('key_b'));
    assert.equal(cache.get('h:a')?.id, 'key_a'); // a is now the most recent
    cache.set('h:c', record('key_c'));
    assert.equal(cache.get('h:b'), undefined);
    assert.equal(cache.get('h:a')?.id, 'key_a');
    assert.equal(cache.get('h:c')?.id, 'key_c');
    assert.equal(cache.stats().evictions, 1);
    assert.equal(cache.stats().size, 2);
    // An evicted key's id no longer points anywhere.
    assert.equal(cache.invalidate('key_b'), false);
  });

  test('a record is trusted for ttlMs at most', () => {
    const clock = clockAt(T0);
    const cache = createVerificationCache({ ttlMs: 30_000, now: clock.now });
    cache.set('h:a', record('key_a'));
    clock.t = T0 + 29_999;
    assert.equal(cache.get('h:a')?.id, 'key_a');
    clock.t = T0 + 30_000;
    assert.equal(cache.get('h:a'), undefined);
    assert.equal(cache.stats().size, 0);
  });

  test('a record is never served past its expiry or its scheduled revocation', () => {
    const clock = clockAt(T0);
    const cache = createVerificationCache({ ttlMs: 30_000, now: clock.now });
    cache.set('h:exp', record('key_exp', { expiresAt: T0 + 1_000 }));
    cache.set('h:rev', record('key_rev', { revokedAt: T0 + 2_000 }));
    clock.t = T0 + 1_000;
    assert.equal(cache.get('h:exp'), undefined);
    assert.equal(cache.get('h:rev')?.id, 'key_rev');
    clock.t = T0 + 2_000;
    assert.equal(cache.get('h:rev'), undefined);
  });

  test('invalidate(id) drops the record at once: revocation takes effect on this instance', () => {
    const cache = createVerificationCache({ now: () => T0 });
    cache.set('h:a', record('key_a'));
    cache.set('h:b', record('key_b'));
    assert.equal(cache.invalidate('key_a'), true);
    assert.equal(cache.get('h:a'), undefined);
    assert.equal(cache.get('h:b')?.id, 'key_b');
    assert.equal(cache.invalidate('key_a'), false);
    assert.equal(cache.invalidate('key_unknown'), false);
  });

  test('a key cached under a new hash (pepper rotation) leaves no stale twin for invalidate to miss', () => {
    const cache = createVerificationCache({ now: () => T0 });
    cache.set('v1:old', record('key_a'));
    cache.set('v2:new', record('key_a'));
    assert.equal(cache.get('v1:old'), undefined);
    assert.equal(cache.invalidate('key_a'), true);
    assert.equal(cache.get('v2:new'), undefined);
    assert.equal(cache.stats().size, 0);
  });

  test('unknown hashes are remembered briefly and cannot evict real records', () => {
    const clock = clockAt(T0);
    const cache = createVerificationCache({
      maxEntries: 2,
      maxNegativeEntries: 3,
      negativeTtlMs: 5_000,
      now: clock.now,
    });
    cache.set('h:a', record('key_a'));
    for (let i = 0; i < 100; i++) cache.set(`h:invented${i}`, null);
    assert.equal(cache.get('h:a')?.id, 'key_a');
    assert.equal(cache.get('h:invented99'), null);
    assert.equal(cache.get('h:invented0'), undefined);
    assert.equal(cache.stats().negativeSize, 3);
    clock.t = T0 + 5_000;
    assert.equal(cache.get('h:invented99'), undefined);
  });

  test('a hash cached as unknown becomes known when its record is set', () => {
    const cache = createVerificationCache({ now: () => T0 });
    cache.set('h:a', null);
    cache.set('h:a', record('key_a'));
    assert.equal(cache.get('h:a')?.id, 'key_a');
    assert.equal(cache.stats().negativeSize, 0);
  });

  test('negative caching can be turned off', () => {
    const cache = createVerificationCache({ maxNegativeEntries: 0, now: () => T0 });
    cache.set('h:x', null);
    assert.equal(cache.get('h:x'), undefined);
  });

  test('clear and delete drop entries; stats count hits and misses', () => {
    const cache = createVerificationCache({ now: () => T0 });
    cache.set('h:a', record('key_a'));
    cache.set('h:b', record('key_b'));
    cache.set('h:n', null);
    assert.equal(cache.delete('h:b'), true);
    assert.equal(cache.delete('h:b'), false);
    assert.equal(cache.invalidate('key_b'), false);
    cache.get('h:a');
    cache.get('h:b');
    assert.deepEqual(cache.stats(), { size: 1, negativeSize: 1, hits: 1, misses: 1, evictions: 0 });
    cache.clear();
    assert.equal(cache.get('h:a'), undefined);
    assert.equal(cache.get('h:n'), undefined);
    assert.equal(cache.invalidate('key_a'), false);
  });

  test('bad options are refused at creation with a TypeError naming the field', () => {
    for (const [options, field] of [
      [{ maxEntries: 0 }, 'maxEntries'],
      [{ ttlMs: -1 }, 'ttlMs'],
      [{ ttlMs: '30s' }, 'ttlMs'],
      [{ maxNegativeEntries: 1.5 }, 'maxNegativeEntries'],
      [{ negativeTtlMs: 0 }, 'negativeTtlMs'],
      [{ now: 5 }, 'now'],
    ] as const) {
      assert.throws(() => createVerificationCache(options as never), {
        name: 'TypeError',
        message: new RegExp(`^verificationCache\\.${field}: `),
      });
    }
  });
});
