import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { randomBase62 } from '../lib/ids.ts';
import {
  API_KEY_REGEX,
  apiKeyRegex,
  DEFAULT_API_KEY_PREFIX,
  generateApiKey,
  isValidApiKeyPrefix,
  isWellFormedApiKey,
  looksLikeApiKey,
  parseApiKey,
} from './format.ts';

const LIVE = { prefixes: ['rk_live_'] };
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// Every character that could be typed in place of another: base62, the separator, and a few more.
const TYPABLE = `${BASE62}_-.+/= `;

describe('key format', () => {
  test('a generated key has the prefix, 43 random and 6 checksum base62 characters, and parses back', () => {
    for (let i = 0; i < 200; i++) {
      const { key, prefix, hint } = generateApiKey();
      assert.equal(prefix, DEFAULT_API_KEY_PREFIX);
      assert.match(key, /^rk_live_[0-9A-Za-z]{49}$/);
      assert.equal(hint, `${key.slice(0, 12)}…`);
      assert.deepEqual(parseApiKey(key, LIVE), {
        ok: true,
        prefix: 'rk_live_',
        body: key.slice(8),
        legacy: false,
      });
    }
  });

  test('keys do not repeat (the random part comes from the CSPRNG)', () => {
    const keys = new Set(Array.from({ length: 2000 }, () => generateApiKey().key));
    assert.equal(keys.size, 2000);
  });

  test('the hint shows no more than the prefix and 4 random characters', () => {
    const { key, hint } = generateApiKey('acme_test_');
    assert.equal(hint, `acme_test_${key.slice(10, 14)}…`);
    assert.ok(!hint.includes(key.slice(14, 20)));
  });

  test('the checksum is CRC32 of prefix and random part, zero-padded to 6 base62 digits', () => {
    // Find a random part whose CRC32 is below 62^5, so its base62 form needs a leading zero.
    let random = '';
    for (const c of BASE62) {
      const candidate = 'A'.repeat(42) + c;
      if (crc32(`rk_live_${candidate}`) < 62 ** 5) {
        random = candidate;
        break;
      }
    }
    assert.notEqual(random, '', 'test setup: no small CRC found');
    const { key } = generateApiKey('rk_live_', () => random);
    const sum = key.slice(-6);
    assert.equal(sum[0], '0');
    let value = 0;
    for (const c of sum) value = value * 62 + BASE62.indexOf(c);
    assert.equal(value, crc32(`rk_live_${random}`));
    assert.equal(parseApiKey(key, LIVE).ok, true);
  });

  test('every one-character typo is refused by the checksum, at every position, with every typable character', () => {
    const { key } = generateApiKey();
    let tried = 0;
    for (let i = 0; i < key.length; i++) {
      for (const c of TYPABLE) {
        if (c === key[i]) continue;
        const typo = key.slice(0, i) + c + key.slice(i + 1);
        const parsed = parseApiKey(typo, LIVE);
        assert.equal(parsed.ok, false, `typo at ${i} passed`);
        tried++;
      }
    }
    assert.ok(tried > 3000);
  });

  test('random mutations of many keys never pass: substitutions, swaps, deletions, insertions', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let k = 0; k < 300; k++) {
      const { key } = generateApiKey();
      for (let m = 0; m < 40; m++) {
        const i = rand(key.length);
        let mutated: string;
        switch (m % 4) {
          case 0:
            mutated = key.slice(0, i) + TYPABLE[rand(TYPABLE.length)] + key.slice(i + 1);
            break;
          case 1: {
            const j = Math.min(i + 1, key.length - 1);
            mutated = key.slice(0, i) + key[j] + key[i] + key.slice(j + 1);
            break;
          }
          case 2:
            mutated = key.slice(0, i) + key.slice(i + 1);
            break;
          default:
            mutated = key.slice(0, i) + BASE62[rand(62)] + key.slice(i);
        }
        if (mutated === key) continue;
        assert.equal(parseApiKey(mutated, LIVE).ok, false, `mutation ${m % 4} at ${i} passed`);
      }
    }
  });

  test('invented keys of the right shape are refused by the checksum', () => {
    for (let i = 0; i < 50_000; i++) {
      assert.deepEqual(parseApiKey(`rk_live_${randomBase62(49)}`, LIVE), { ok: false, reason: 'CHECKSUM' });
    }
  });

  test('a well-formed key of another prefix is refused as PREFIX; a key moved to another prefix fails its checksum', () => {
    const test = generateApiKey('rk_test_');
    assert.deepEqual(parseApiKey(test.key, LIVE), { ok: false, reason: 'PREFIX' });
    assert.equal(parseApiKey(test.key, { prefixes: ['rk_live_', 'rk_test_'] }).ok, true);
    const moved = `rk_live_${test.key.slice('rk_test_'.length)}`;
    assert.deepEqual(parseApiKey(moved, LIVE), { ok: false, reason: 'CHECKSUM' });
  });

  test('text that is not a key is refused as FORMAT before any checksum work', () => {
    const { key } = generateApiKey();
    const notKeys: unknown[] = [
      undefined,
      null,
      42,
      ['rk_live_'],
      '',
      'rk_live_',
      key.slice(0, -1),
      `${key}x`,
      ` ${key}`,
      `${key}\n`,
      key.toUpperCase(),
      `Bearer ${key}`,
      'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3JfMSJ9.c2ln',
      'a'.repeat(10_000),
      'a'.repeat(64),
    ];
    for (const text of notKeys)
      assert.deepEqual(parseApiKey(text, LIVE), { ok: false, reason: 'FORMAT' }, String(text));
  });

  test('tutorial 64-hex keys are accepted only when legacyHex is asked for', () => {
    const legacy = 'ab'.repeat(32);
    assert.deepEqual(parseApiKey(legacy, LIVE), { ok: false, reason: 'FORMAT' });
    assert.deepEqual(parseApiKey(legacy, { ...LIVE, legacyHex: true }), {
      ok: true,
      prefix: '',
      body: legacy,
      legacy: true,
    });
    assert.equal(parseApiKey('AB'.repeat(32), { ...LIVE, legacyHex: true }).ok, false);
  });

  test('prefixes are validated: a TypeError names apiKeys.prefix', () => {
    for (const good of ['rk_', 'rk_live_', 'acme2_eu1_', `a${'b'.repeat(15)}_${'c'.repeat(15)}_`]) {
      assert.equal(isValidApiKeyPrefix(good), true, good);
      assert.doesNotThrow(() => generateApiKey(good));
    }
    for (const bad of [
      '',
      'r_',
      'rk',
      'rk_live',
      'RK_live_',
      'rk-live_',
      '1k_',
      `a${'b'.repeat(16)}_`,
      'rk_live_x_',
      'rk__',
    ]) {
      assert.equal(isValidApiKeyPrefix(bad), false, bad);
      assert.throws(() => generateApiKey(bad), { name: 'TypeError', message: /^apiKeys\.prefix: / });
    }
  });

  test('a broken injected random source is refused without echoing its output', () => {
    assert.throws(
      () => generateApiKey('rk_live_', () => 'short-secret'),
      (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.ok(!error.message.includes('short-secret'));
        return true;
      },
    );
  });

  test('Bearer credentials are told apart by prefix: a key is recognised, a JWT is not', () => {
    const { key } = generateApiKey();
    assert.equal(looksLikeApiKey(key, ['rk_live_']), true);
    assert.equal(looksLikeApiKey('eyJhbGciOiJFZERTQSJ9.e30.sig', ['rk_live_']), false);
    assert.equal(looksLikeApiKey(key, ['rk_test_']), false);
    assert.equal(looksLikeApiKey(undefined, ['rk_live_']), false);
    assert.equal(looksLikeApiKey('anything', ['']), false);
  });

  test('the scanner regexes find keys in text and nothing inside longer tokens', () => {
    const live = generateApiKey('rk_live_').key;
    const test = generateApiKey('rk_test_').key;
    const text = `config: RAMPART_KEY=${live}\n"other": "${test}", noise x${live} ${live}ZZ`;
    // The generic pattern also sees `xrk_live_…` (a valid prefix shape); the checksum drops it.
    const candidates = text.match(new RegExp(API_KEY_REGEX.source, 'g')) ?? [];
    assert.deepEqual(candidates, [live, test, `x${live}`]);
    assert.deepEqual(candidates.filter(isWellFormedApiKey), [live, test]);
    assert.deepEqual(text.match(apiKeyRegex('rk_test_', 'g')), [test]);
    assert.equal(apiKeyRegex('rk_live_').source, '\\brk_live_[0-9A-Za-z]{49}\\b');
    assert.throws(() => apiKeyRegex('nope'), /apiKeys\.prefix/);
  });
});
