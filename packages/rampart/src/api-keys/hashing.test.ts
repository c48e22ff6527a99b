import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { generateApiKey } from './format.ts';
import { createKeyHasher } from './hashing.ts';

const v1 = randomBytes(32);
const v2 = randomBytes(48);

describe('key hashing', () => {
  test('a key is stored as HMAC-SHA-256 under the current pepper, tagged with its version', () => {
    const hasher = createKeyHasher({ peppers: { v1 }, current: 'v1' });
    const { key } = generateApiKey();
    const stored = hasher.hash(key);
    assert.match(stored, /^v1:[A-Za-z0-9_-]{43}$/);
    assert.equal(hasher.hash(key), stored);
    assert.ok(!stored.includes(key.slice(8, 20)));
    // Without the pepper the stored form cannot be recomputed from the key.
    assert.notEqual(stored.slice(3), createHash('sha256').update(key).digest('base64url'));
    assert.notEqual(createKeyHasher({ peppers: { v1: randomBytes(32) }, current: 'v1' }).hash(key), stored);
  });

  test('pepper rotation: a key hashed under v1 is still found and matched after v2 becomes current', () => {
    const before = createKeyHasher({ peppers: { v1 }, current: 'v1' });
    const { key } = generateApiKey();
    const storedV1 = before.hash(key);

    const after = createKeyHasher({ peppers: { v1, v2 }, current: 'v2' });
    const storedV2 = after.hash(key);
    assert.match(storedV2, /^v2:/);
    assert.deepEqual(after.candidates(key), [storedV2, storedV1]);
    assert.equal(after.matches(storedV1, key), true);
    assert.equal(after.needsRehash(storedV1), true);
    assert.equal(after.needsRehash(storedV2), false);

    // Once v1 is retired its hashes match nothing.
    const retired = createKeyHasher({ peppers: { v2 }, current: 'v2' });
    assert.equal(retired.matches(storedV1, key), false);
    assert.deepEqual(retired.candidates(key), [storedV2]);
  });

  test('tutorial sha256 hashes import with a "sha256:" tag and match only in legacySha256 mode', () => {
    // The tutorial's ApiKeyManager: randomBytes(32).toString('hex'), stored as sha256 hex.
    const tutorialKey = randomBytes(32).toString('hex');
    const imported = `sha256:${createHash('sha256').update(tutorialKey).digest('hex')}`;

    const importing = createKeyHasher({ peppers: { v1 }, current: 'v1', legacySha256: true });
    assert.equal(importing.candidates(tutorialKey).at(-1), imported);
    assert.equal(importing.matches(imported, tutorialKey), true);
    assert.equal(importing.needsRehash(imported), true);

    const strict = createKeyHasher({ peppers: { v1 }, current: 'v1' });
    assert.ok(!strict.candidates(tutorialKey).includes(imported));
    assert.equal(strict.matches(imported, tutorialKey), false);
  });

  test('matches refuses another key, unknown versions and malformed stored hashes', () => {
    const hasher = createKeyHasher({ peppers: { v1 }, current: 'v1', legacySha256: true });
    const a = generateApiKey().key;
    const b = generateApiKey().key;
    assert.equal(hasher.matches(hasher.hash(a), b), false);
    for (const stored of [
      '',
      'v1',
      'v1:',
      'v9:abc',
      hasher.hash(a).replace('v1:', 'v2:'),
      `${hasher.hash(a)}x`,
    ]) {
      assert.equal(hasher.matches(stored, a), false, stored);
    }
  });

  test('the pepper is copied at creation: wiping the caller buffer changes nothing', () => {
    const pepper = Buffer.from(v1);
    const hasher = createKeyHasher({ peppers: { v1: pepper }, current: 'v1' });
    const key = generateApiKey().key;
    const stored = hasher.hash(key);
    pepper.fill(0);
    assert.equal(hasher.hash(key), stored);
  });

  test('bad options are refused at creation with a TypeError naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /^keyHasher: /],
      [
        { peppers: { v1: randomBytes(31) }, current: 'v1' },
        /^keyHasher\.peppers\.v1: .*at least 32 bytes, got 31/,
      ],
      [{ peppers: { v1: 'a'.repeat(64) }, current: 'v1' }, /^keyHasher\.peppers\.v1: expected a Uint8Array/],
      [{ peppers: { one: v1 }, current: 'one' }, /^keyHasher\.peppers: version names/],
      [{ peppers: { sha256: v1 }, current: 'sha256' }, /^keyHasher\.peppers: version names/],
      [{ peppers: {}, current: 'v1' }, /^keyHasher\.peppers: expected at least one/],
      [{ peppers: { v1 }, current: 'v2' }, /^keyHasher\.current: expected one of v1/],
      [{ peppers: { v1 }, current: 'v1', legacySha256: 'yes' }, /^keyHasher\.legacySha256: /],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => createKeyHasher(options as never), { name: 'TypeError', message });
    }
  });

  test('a pepper never appears in an error message', () => {
    const short = Buffer.from('0123456789abcdef');
    assert.throws(
      () => createKeyHasher({ peppers: { v1: short }, current: 'v1' }),
      (error: Error) => !error.message.includes('0123456789abcdef'),
    );
  });
});
