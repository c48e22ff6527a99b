import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiKeyCredits, ApiKeyRecord } from './record.ts';
import { applyCredits, decideKey, hasScope, refillCredits } from './verify.ts';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

function sample(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: 'key_0123456789abcdefghijkl',
    hash: 'v1:x',
    hint: 'rk_live_abcd…',
    prefix: 'rk_live_',
    name: 'ci',
    ownerId: 'usr_1',
    scopes: ['read'],
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

describe('decideKey', () => {
  test('no record is NOT_FOUND, and names no key', () => {
    assert.deepEqual(decideKey(undefined, { now: T0 }), { valid: false, code: 'NOT_FOUND' });
    assert.deepEqual(decideKey(null, { now: T0 }), { valid: false, code: 'NOT_FOUND' });
  });

  test('precedence: revoked beats expired beats scope', () => {
    const all = sample({ revokedAt: T0 - 2, expiresAt: T0 - 1 });
    assert.equal(decideKey(all, { now: T0, scope: 'write' }).code, 'REVOKED');
    assert.equal(decideKey(sample({ expiresAt: T0 - 1 }), { now: T0, scope: 'write' }).code, 'EXPIRED');
    assert.equal(decideKey(sample(), { now: T0, scope: 'write' }).code, 'INSUFFICIENT_SCOPE');
    assert.deepEqual(decideKey(sample({ revokedAt: T0 }), { now: T0 }), {
      valid: false,
      code: 'REVOKED',
      keyId: 'key_0123456789abcdefghijkl',
    });
  });

  test('a disabled key is DISABLED after the final states and before scope, and works again once enabled', () => {
    const disabled = sample({ disabledAt: T0 - 1 });
    assert.deepEqual(decideKey(disabled, { now: T0, scope: 'write' }), {
      valid: false,
      code: 'DISABLED',
      keyId: 'key_0123456789abcdefghijkl',
    });
    // Enabling would not bring back a revoked or expired key: those answers come first.
    assert.equal(decideKey(sample({ disabledAt: T0, revokedAt: T0 }), { now: T0 }).code, 'REVOKED');
    assert.equal(decideKey(sample({ disabledAt: T0, expiresAt: T0 }), { now: T0 }).code, 'EXPIRED');
    // Any instant disables, even one ahead of this clock (another instance's skew).
    assert.equal(decideKey(sample({ disabledAt: T0 + 60_000 }), { now: T0 }).code, 'DISABLED');
    assert.equal(decideKey(sample({ disabledAt: null }), { now: T0 }).code, 'VALID');
    assert.equal(decideKey({ ...disabled, disabledAt: null }, { now: T0, scope: 'read' }).code, 'VALID');
  });

  test('a valid key answers its id, owner, scopes and expiry', () => {
    assert.deepEqual(decideKey(sample({ expiresAt: T0 + 1 }), { now: T0, scope: 'read' }), {
      valid: true,
      code: 'VALID',
      keyId: 'key_0123456789abcdefghijkl',
      ownerId: 'usr_1',
      scopes: ['read'],
      expiresAt: T0 + 1,
    });
  });

  test('expiry is inclusive: at expiresAt the key is already expired', () => {
    const record = sample({ expiresAt: T0 });
    assert.equal(decideKey(record, { now: T0 - 1 }).code, 'VALID');
    assert.equal(decideKey(record, { now: T0 }).code, 'EXPIRED');
  });

  test('a scheduled revocation (rotation grace) lets the key work until then', () => {
    const record = sample({ revokedAt: T0 + 1_000 });
    assert.equal(decideKey(record, { now: T0 + 999 }).code, 'VALID');
    assert.equal(decideKey(record, { now: T0 + 1_000 }).code, 'REVOKED');
  });

  test('the decision does not hand out the record scopes array to be mutated', () => {
    const record = sample();
    const decision = decideKey(record, { now: T0 });
    assert.ok(decision.valid);
    decision.scopes.push('admin');
    assert.deepEqual(record.scopes, ['read']);
  });
});

describe('scopes', () => {
  test('admin implies every scope', () => {
    assert.equal(hasScope(['admin'], 'keys:write'), true);
    assert.equal(hasScope(['admin'], ['keys:write', 'audit:read']), true);
  });

  test('scopes are exact strings: no wildcard or prefix tricks', () => {
    assert.equal(hasScope(['keys:*'], 'keys:write'), false);
    assert.equal(hasScope(['keys'], 'keys:write'), false);
    assert.equal(hasScope(['keys:write'], 'keys'), false);
    assert.equal(hasScope(['*'], 'read'), false);
    assert.equal(hasScope(['Admin'], 'read'), false);
    assert.equal(hasScope(['keys:write'], 'keys:write'), true);
  });

  test('with several required scopes all are needed; none required passes', () => {
    assert.equal(hasScope(['read', 'write'], ['read', 'write']), true);
    assert.equal(hasScope(['read'], ['read', 'write']), false);
    assert.equal(hasScope([], []), true);
  });
});

describe('credits', () => {
  const refilling = (remaining: number, max?: number): ApiKeyCredits => ({
    remaining,
    refill: { amount: 100, intervalMs: HOUR, lastRefillAt: T0, ...(max === undefined ? {} : { max }) },
  });

  test('a key without credits is unlimited', () => {
    assert.deepEqual(applyCredits(null, T0), { allowed: true, credits: null });
  });

  test('each use spends its cost; with too few left it is refused and nothing is spent', () => {
    assert.deepEqual(applyCredits({ remaining: 2 }, T0), { allowed: true, credits: { remaining: 1 } });
    assert.deepEqual(applyCredits({ remaining: 2 }, T0, 2), { allowed: true, credits: { remaining: 0 } });
    assert.deepEqual(applyCredits({ remaining: 2 }, T0, 3), { allowed: false, credits: { remaining: 2 } });
    assert.deepEqual(applyCredits({ remaining: 0 }, T0), { allowed: false, credits: { remaining: 0 } });
    assert.deepEqual(applyCredits({ remaining: 0 }, T0, 0), { allowed: true, credits: { remaining: 0 } });
  });

  test('a cost that is not a whole number ≥ 0 is a programming error', () => {
    for (const cost of [-1, 1.5, Number.NaN]) {
      assert.throws(() => applyCredits({ remaining: 5 }, T0, cost), {
        name: 'TypeError',
        message: /^applyCredits\.cost/,
      });
    }
  });

  test('no refill before a whole interval has passed', () => {
    assert.deepEqual(refillCredits(refilling(3), T0 + HOUR - 1), refilling(3));
  });

  test('refill adds amount per whole interval, up to amount by default, and keeps the interval phase', () => {
    const after = refillCredits(refilling(30), T0 + HOUR + 5_000);
    assert.equal(after.remaining, 100);
    assert.equal(after.refill!.lastRefillAt, T0 + HOUR);
    const later = refillCredits(refilling(0), T0 + 3 * HOUR + 1);
    assert.equal(later.remaining, 100);
    assert.equal(later.refill!.lastRefillAt, T0 + 3 * HOUR);
  });

  test('with a higher max, unused refills accumulate up to it', () => {
    assert.equal(refillCredits(refilling(10, 1_000), T0 + 2 * HOUR).remaining, 210);
    assert.equal(refillCredits(refilling(10, 1_000), T0 + 50 * HOUR).remaining, 1_000);
  });

  test('a refill never lowers a balance above its cap (a large initial grant survives)', () => {
    const after = refillCredits(refilling(5_000), T0 + 10 * HOUR);
    assert.equal(after.remaining, 5_000);
  });

  test('a clock behind the last refill (skew between instances) refills nothing', () => {
    assert.deepEqual(refillCredits(refilling(1), T0 - HOUR), refilling(1));
  });

  test('a use after the refill boundary spends from the refilled balance', () => {
    const out = applyCredits(refilling(0), T0 + HOUR);
    assert.equal(out.allowed, true);
    assert.equal(out.credits!.remaining, 99);
    assert.equal(out.credits!.refill!.lastRefillAt, T0 + HOUR);
    // Refused, the refill is still reported so the store can persist it.
    const refused = applyCredits(refilling(0), T0 + HOUR, 500);
    assert.equal(refused.allowed, false);
    assert.equal(refused.credits!.remaining, 100);
  });

  test('spending is a pure function: the input is left as it was', () => {
    const credits = refilling(5);
    applyCredits(credits, T0 + 2 * HOUR);
    assert.deepEqual(credits, refilling(5));
  });
});
