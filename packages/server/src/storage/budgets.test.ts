import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { effectiveLimits, spendShared } from './budgets.ts';

describe('budgets', () => {
  test('a key and its identity are spent both or neither, and due refills are kept either way', () => {
    const refill = { amount: 5, intervalMs: 1_000, lastRefillAt: 0 };
    const spent = spendShared({ remaining: 2 }, { remaining: 1, refill }, 1, 500);
    assert.deepEqual(spent, { allowed: true, budget: { remaining: 1 }, identity: { remaining: 0, refill } });
    // The identity has nothing left: the key's credit is not taken.
    const refused = spendShared({ remaining: 2 }, { remaining: 0, refill }, 1, 500);
    assert.deepEqual(refused, {
      allowed: false,
      budget: { remaining: 2 },
      identity: { remaining: 0, refill },
    });
    // Refused by the key after the identity refilled: the refill stays, the spend does not.
    const later = spendShared({ remaining: 0 }, { remaining: 0, refill }, 1, 2_500);
    assert.deepEqual(later, {
      allowed: false,
      budget: { remaining: 0 },
      identity: { remaining: 5, refill: { ...refill, lastRefillAt: 2_000 } },
    });
    // No identity: nothing about one in the answer; no credits anywhere: unlimited.
    assert.deepEqual(spendShared({ remaining: 1 }, undefined, 1, 0), {
      allowed: true,
      budget: { remaining: 0 },
    });
    assert.deepEqual(spendShared(null, null, 1, 0), { allowed: true, budget: null, identity: null });
  });

  test('an identity’s limits are its overrides field by field, else its plan’s', () => {
    const plan = {
      rateLimits: [{ name: 'burst', limit: 10, windowMs: 1_000 }],
      credits: { amount: 100, refill: { amount: 100, intervalMs: 86_400_000 } },
    };
    assert.deepEqual(effectiveLimits({ overrides: {} }, plan), plan);
    assert.deepEqual(effectiveLimits({ overrides: { credits: null } }, plan), {
      rateLimits: plan.rateLimits,
      credits: null,
    });
    const custom = [{ limit: 50, windowMs: 1_000 }];
    assert.deepEqual(effectiveLimits({ overrides: { rateLimits: custom } }, plan), {
      rateLimits: custom,
      credits: plan.credits,
    });
    assert.deepEqual(effectiveLimits({ overrides: {} }, undefined), { rateLimits: [], credits: null });
    // A copy: changing the answer does not change the plan.
    effectiveLimits({ overrides: {} }, plan).rateLimits.push({ limit: 1, windowMs: 1 });
    assert.equal(plan.rateLimits.length, 1);
  });
});
