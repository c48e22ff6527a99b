import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { isId } from '../lib/ids.ts';
import { parseApiKey } from './format.ts';
import { createKeyHasher } from './hashing.ts';
import {
  type ApiKeyRecord,
  budgetKeyOf,
  checkKeySettings,
  createApiKeyIssuer,
  toPublicKey,
} from './record.ts';
import { decideKey } from './verify.ts';

const hasher = createKeyHasher({ peppers: { v1: randomBytes(32) }, current: 'v1' });
const T0 = 1_700_000_000_000;

function sample(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: 'key_0123456789abcdefghijkl',
    hash: 'v1:c2VjcmV0LWhhc2gtdGhhdC1tdXN0LW5vdC1sZWFr',
    hint: 'rk_live_abcd…',
    prefix: 'rk_live_',
    name: 'ci',
    ownerId: 'usr_0123456789abcdefghijkl',
    scopes: ['read'],
    createdAt: T0,
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    metadata: { team: 'infra' },
    credits: { remaining: 5, refill: { amount: 10, intervalMs: 60_000, lastRefillAt: T0 } },
    rateLimit: { limit: 10, windowMs: 1_000 },
    rotatedFrom: null,
    rotatedTo: null,
    disabledAt: null,
    identityId: null,
    budgetKeyId: null,
    ...overrides,
  };
}

describe('key records', () => {
  test('the public view carries no hash, not even under another name', () => {
    const record = sample();
    const view = toPublicKey(record);
    assert.equal('hash' in view, false);
    assert.ok(!JSON.stringify(view).includes(record.hash));
    assert.ok(!JSON.stringify(view).includes(record.hash.slice(3)));
    assert.deepEqual(
      Object.keys(view).sort(),
      Object.keys(record)
        .filter((k) => k !== 'hash')
        .sort(),
    );
  });

  test('the public view shows the lifecycle, identity and budget fields, null when unset', () => {
    const { hash: _hash, ...legacy } = sample();
    for (const field of ['rotatedTo', 'disabledAt', 'identityId', 'budgetKeyId'] as const)
      delete legacy[field];
    const view = toPublicKey({ ...legacy, hash: 'v1:x' });
    assert.equal(view.rotatedTo, null);
    assert.equal(view.disabledAt, null);
    assert.equal(view.identityId, null);
    assert.equal(view.budgetKeyId, null);
    const set = toPublicKey(
      sample({ rotatedTo: 'key_b', disabledAt: T0, identityId: 'idt_a', budgetKeyId: 'key_a' }),
    );
    assert.deepEqual(
      [set.rotatedTo, set.disabledAt, set.identityId, set.budgetKeyId],
      ['key_b', T0, 'idt_a', 'key_a'],
    );
  });

  test('the public view shows only known fields: a store column added later does not leak', () => {
    const row = { ...sample(), hash_v2: 'v2:secret', pepperVersion: 'v1' } as ApiKeyRecord;
    const view = toPublicKey(row) as unknown as Record<string, unknown>;
    assert.equal(view.hash_v2, undefined);
    assert.equal(view.pepperVersion, undefined);
  });

  test('the public view is a copy: changing it does not change the record', () => {
    const record = sample();
    const view = toPublicKey(record);
    view.scopes.push('admin');
    view.metadata.team = 'other';
    view.credits!.refill!.amount = 1_000;
    assert.deepEqual(record.scopes, ['read']);
    assert.equal(record.metadata.team, 'infra');
    assert.equal(record.credits!.refill!.amount, 10);
  });

  test('issuing returns the plaintext once and a record holding only its hash', () => {
    const issuer = createApiKeyIssuer({ hasher, now: () => T0 });
    const made = issuer.issue({
      name: 'deploy bot',
      ownerId: 'usr_1',
      scopes: ['read', 'write', 'read'],
      expiresAt: T0 + 86_400_000,
      credits: { remaining: 100, refill: { amount: 100, intervalMs: 86_400_000 } },
      rateLimit: { limit: 10, windowMs: 1_000 },
    });
    assert.equal(made.ok, true);
    if (!made.ok) return;
    const { key, record } = made;
    assert.equal(parseApiKey(key, { prefixes: ['rk_live_'] }).ok, true);
    assert.ok(isId(record.id, 'key'));
    assert.equal(hasher.matches(record.hash, key), true);
    assert.equal(record.hint, `${key.slice(0, 12)}…`);
    assert.deepEqual(record.scopes, ['read', 'write']);
    assert.deepEqual(record.credits, {
      remaining: 100,
      refill: { amount: 100, intervalMs: 86_400_000, lastRefillAt: T0 },
    });
    assert.equal(record.createdAt, T0);
    assert.equal(record.ownerId, 'usr_1');
    assert.equal(record.lastUsedAt, null);
    assert.equal(record.revokedAt, null);
    assert.ok(!JSON.stringify(record).includes(key.slice(8)), 'the record holds no plaintext');
  });

  test('an admin key has no owner', () => {
    const made = createApiKeyIssuer({ hasher }).issue({ name: 'bootstrap', scopes: ['admin'] });
    assert.ok(made.ok);
    assert.equal(made.record.ownerId, null);
    assert.equal(made.record.credits, null);
    assert.equal(made.record.rateLimit, null);
  });

  test('invalid settings come back as field errors (values), with JSON Pointer paths', () => {
    const issuer = createApiKeyIssuer({ hasher, now: () => T0 });
    const made = issuer.issue({
      name: '',
      scopes: ['keys:*', 'ok'],
      expiresAt: T0,
      credits: { remaining: -1, refill: { amount: 0, intervalMs: 1.5 } },
      rateLimit: { limit: 0, windowMs: 1_000 },
    });
    assert.equal(made.ok, false);
    if (made.ok) return;
    assert.equal(made.code, 'VALIDATION_FAILED');
    assert.deepEqual(made.errors.map((e) => e.path).sort(), [
      '/credits/refill/amount',
      '/credits/refill/intervalMs',
      '/credits/remaining',
      '/expiresAt',
      '/name',
      '/rateLimit/limit',
      '/scopes/0',
    ]);
  });

  test('names with control characters (terminal escapes) and oversized metadata are refused', () => {
    assert.deepEqual(
      checkKeySettings({ name: 'evil\u001b[2J' }, T0).map((e) => e.path),
      ['/name'],
    );
    assert.deepEqual(
      checkKeySettings({ name: 'big', metadata: { blob: 'x'.repeat(9_000) } }, T0).map((e) => e.code),
      ['TOO_LONG'],
    );
    assert.deepEqual(
      checkKeySettings(null, T0).map((e) => e.path),
      [''],
    );
    assert.deepEqual(checkKeySettings({ name: 'fine', scopes: ['keys:verify', 'audit:read'] }, T0), []);
  });

  test('an identity id is null or 1-128 characters', () => {
    assert.deepEqual(checkKeySettings({ name: 'ok', identityId: 'idt_acme' }, T0), []);
    assert.deepEqual(checkKeySettings({ name: 'ok', identityId: null }, T0), []);
    for (const bad of ['', 'x'.repeat(129), 42]) {
      assert.deepEqual(
        checkKeySettings({ name: 'ok', identityId: bad }, T0).map((e) => e.path),
        ['/identityId'],
      );
    }
  });

  test('bad issuer options are refused at creation with a TypeError naming the field', () => {
    assert.throws(() => createApiKeyIssuer({ hasher, prefix: 'Live' }), {
      name: 'TypeError',
      message: /^apiKeys\.prefix: /,
    });
    assert.throws(() => createApiKeyIssuer({ hasher: {} as never }), {
      name: 'TypeError',
      message: /^apiKeys\.hasher: /,
    });
  });

  describe('rotation', () => {
    let clock = T0;
    const issuer = createApiKeyIssuer({ hasher, now: () => clock });

    test('a rotated key keeps the settings, names its predecessor, and the old key ends after the grace period', () => {
      clock = T0;
      const first = issuer.issue({
        name: 'ci',
        ownerId: 'usr_1',
        scopes: ['read'],
        expiresAt: T0 + 10_000_000,
        metadata: { env: 'prod' },
        credits: { remaining: 7 },
      });
      assert.ok(first.ok);
      clock = T0 + 1_000;
      const rotated = issuer.rotate(first.record, { gracePeriodMs: 60_000 });
      assert.ok(rotated.ok);
      assert.notEqual(rotated.key, first.key);
      assert.notEqual(rotated.record.id, first.record.id);
      assert.equal(rotated.record.rotatedFrom, first.record.id);
      for (const field of [
        'name',
        'ownerId',
        'scopes',
        'expiresAt',
        'metadata',
        'credits',
        'rateLimit',
        'prefix',
      ] as const) {
        assert.deepEqual(rotated.record[field], first.record[field], field);
      }
      assert.equal(rotated.record.createdAt, T0 + 1_000);
      assert.equal(rotated.previous.revokedAt, T0 + 61_000);
      assert.equal(decideKey(rotated.previous, { now: T0 + 60_999 }).code, 'VALID');
      assert.equal(decideKey(rotated.previous, { now: T0 + 61_000 }).code, 'REVOKED');
    });

    test('a rotated key shares its chain budget, keeps its identity, and stays disabled when the old key was', () => {
      clock = T0;
      const first = issuer.issue({ name: 'ci', identityId: 'idt_acme', credits: { remaining: 3 } });
      assert.ok(first.ok);
      assert.equal(first.record.identityId, 'idt_acme');
      assert.equal(first.record.budgetKeyId, null);
      assert.equal(budgetKeyOf(first.record), first.record.id);
      const second = issuer.rotate(first.record, { gracePeriodMs: 60_000 });
      assert.ok(second.ok);
      const third = issuer.rotate({ ...second.record, disabledAt: T0 }, { gracePeriodMs: 60_000 });
      assert.ok(third.ok);
      // Every key of the chain spends the first key's balance and counts under its limit.
      assert.equal(second.record.budgetKeyId, first.record.id);
      assert.equal(third.record.budgetKeyId, first.record.id);
      assert.equal(budgetKeyOf(third.record), first.record.id);
      assert.equal(third.record.identityId, 'idt_acme');
      assert.equal(third.record.disabledAt, T0);
      assert.equal(second.record.disabledAt, null);
    });

    test('without a grace period the old key is refused at once', () => {
      clock = T0;
      const first = issuer.issue({ name: 'ci' });
      assert.ok(first.ok);
      const rotated = issuer.rotate(first.record);
      assert.ok(rotated.ok);
      assert.equal(decideKey(rotated.previous, { now: T0 }).code, 'REVOKED');
    });

    test('a grace period never postpones an earlier revocation', () => {
      clock = T0;
      const rotated = issuer.rotate(sample({ revokedAt: T0 + 5 }), { gracePeriodMs: 60_000 });
      assert.ok(rotated.ok);
      assert.equal(rotated.previous.revokedAt, T0 + 5);
    });

    test('revoked and expired keys cannot be rotated; a bad grace period is a field error', () => {
      clock = T0;
      assert.deepEqual(issuer.rotate(sample({ revokedAt: T0 })), { ok: false, code: 'REVOKED' });
      assert.deepEqual(issuer.rotate(sample({ expiresAt: T0 })), { ok: false, code: 'EXPIRED' });
      const bad = issuer.rotate(sample(), { gracePeriodMs: -1 });
      assert.equal(bad.ok, false);
      assert.equal(!bad.ok && bad.code, 'VALIDATION_FAILED');
    });

    test('an imported tutorial key rotates into a current-format key; a test key stays a test key', () => {
      clock = T0;
      const legacy = issuer.rotate(sample({ prefix: '', hint: 'ab12…' }));
      assert.ok(legacy.ok);
      assert.equal(legacy.record.prefix, 'rk_live_');
      const testKey = issuer.rotate(sample({ prefix: 'rk_test_' }));
      assert.ok(testKey.ok);
      assert.ok(testKey.key.startsWith('rk_test_'));
    });
  });
});
