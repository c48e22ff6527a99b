import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiKey,
  everyPage,
  identity,
  identityId,
  type MakeStorage,
  newestFirst,
  plan,
  planId,
} from './contract-fixtures.ts';
import type { IdentityRecord, PlanRecord } from './types.ts';

/** `IdentityStore` and `PlanStore`, and the shared credits of an identity's keys. */
export function runIdentityContract(make: MakeStorage): void {
  test('an identity reads back by id and by external id; the external id is unique', async () => {
    const s = await make();
    const acme = identity({
      overrides: { rateLimits: [{ limit: 5, windowMs: 1_000 }] },
      credits: { remaining: 9 },
    });
    assert.deepEqual(await s.identities.create(acme), { ok: true, identity: acme });
    assert.deepEqual(await s.identities.get(acme.id), acme);
    assert.deepEqual(await s.identities.get({ externalId: acme.externalId }), acme);
    assert.equal(await s.identities.get(identityId()), undefined);
    assert.equal(await s.identities.get({ externalId: "' OR 1=1 --" }), undefined);
    assert.deepEqual(await s.identities.create(identity({ externalId: acme.externalId })), {
      ok: false,
      code: 'EXTERNAL_ID_TAKEN',
    });
    assert.deepEqual(await s.identities.create(identity({ planId: planId() })), {
      ok: false,
      code: 'PLAN_NOT_FOUND',
    });
    const racers = Array.from({ length: 10 }, () => identity({ externalId: 'race' }));
    const results = await Promise.all(racers.map((i) => s.identities.create(i)));
    assert.equal(results.filter((r) => r.ok).length, 1);
    await s.close();
  });

  test('identities list newest first, by plan or on none, with cursor paging', async () => {
    const s = await make();
    const pro = plan({ name: 'pro' });
    await s.plans.create(pro);
    const all: IdentityRecord[] = [];
    for (let i = 0; i < 9; i++) {
      const made = identity({ createdAt: 1_000 + Math.floor(i / 2), planId: i % 3 === 0 ? null : pro.id });
      all.push(made);
      assert.equal((await s.identities.create(made)).ok, true);
    }
    const ids = (planFilter?: string | null) =>
      everyPage(async (cursor) => {
        const page = await s.identities.list({
          limit: 2,
          ...(planFilter !== undefined ? { planId: planFilter } : {}),
          ...(cursor ? { cursor } : {}),
        });
        return { items: page.identities.map((i) => i.id), nextCursor: page.nextCursor };
      });
    const expect = (keep: (i: IdentityRecord) => boolean) =>
      all
        .filter(keep)
        .sort(newestFirst)
        .map((i) => i.id);
    assert.deepEqual(
      await ids(),
      expect(() => true),
    );
    assert.deepEqual(
      await ids(pro.id),
      expect((i) => i.planId === pro.id),
    );
    assert.deepEqual(
      await ids(null),
      expect((i) => i.planId === null),
    );
    await s.close();
  });

  test('an identity update changes what it names, and refuses a taken external id or an unknown plan', async () => {
    const s = await make();
    const a = identity();
    const b = identity();
    const basic = plan();
    await s.plans.create(basic);
    await s.identities.create(a);
    await s.identities.create(b);
    const changed = await s.identities.update(
      a.id,
      {
        name: 'Acme Corp',
        metadata: { region: 'eu' },
        planId: basic.id,
        overrides: { credits: null },
        credits: { remaining: 50, refill: { amount: 50, intervalMs: 1_000, lastRefillAt: 2_000 } },
      },
      2_000,
    );
    const expected: IdentityRecord = {
      ...a,
      name: 'Acme Corp',
      metadata: { region: 'eu' },
      planId: basic.id,
      overrides: { credits: null },
      credits: { remaining: 50, refill: { amount: 50, intervalMs: 1_000, lastRefillAt: 2_000 } },
      updatedAt: 2_000,
    };
    assert.deepEqual(changed, { ok: true, identity: expected });
    assert.deepEqual(await s.identities.get(a.id), expected);
    assert.deepEqual(await s.identities.update(a.id, { externalId: b.externalId }, 3_000), {
      ok: false,
      code: 'EXTERNAL_ID_TAKEN',
    });
    assert.deepEqual(await s.identities.update(a.id, { planId: planId() }, 3_000), {
      ok: false,
      code: 'PLAN_NOT_FOUND',
    });
    assert.deepEqual(await s.identities.get(a.id), expected, 'a refused update writes nothing');
    assert.deepEqual(await s.identities.update(identityId(), { name: 'x' }, 3_000), {
      ok: false,
      code: 'NOT_FOUND',
    });
    const renamed = await s.identities.update(a.id, { externalId: 'acme-2', planId: null }, 4_000);
    assert.equal(renamed.ok && renamed.identity.externalId, 'acme-2');
    assert.equal((await s.identities.get({ externalId: 'acme-2' }))?.id, a.id);
    assert.equal(await s.identities.get({ externalId: a.externalId }), undefined);
    await s.close();
  });

  test('a key of an unknown identity is not stored', async () => {
    const s = await make();
    const orphan = apiKey({ identityId: identityId() });
    assert.equal(await s.apiKeys.insert(orphan), false);
    assert.equal(await s.apiKeys.get(orphan.id), undefined);
    await s.close();
  });

  test('the keys of an identity spend its shared credits: 100 spends over two keys, 40 credits, 40 successes', async () => {
    const s = await make();
    const team = identity({ credits: { remaining: 40 } });
    await s.identities.create(team);
    const a = apiKey({ identityId: team.id });
    const b = apiKey({ identityId: team.id, credits: { remaining: 1_000 } });
    await s.apiKeys.insert(a);
    await s.apiKeys.insert(b);
    const spends = await Promise.all(
      Array.from({ length: 100 }, (_, i) => s.apiKeys.spendCredits(i % 2 ? a.id : b.id, 1, 1_500)),
    );
    assert.equal(spends.filter((r) => r?.allowed).length, 40);
    assert.equal((await s.identities.get(team.id))?.credits?.remaining, 0);
    // Refused by the identity, key b's own credits were not spent either: both or neither.
    const bSpent = spends.filter((r, i) => i % 2 === 0 && r?.allowed).length;
    assert.equal((await s.apiKeys.get(b.id))?.credits?.remaining, 1_000 - bSpent);
    assert.deepEqual(await s.apiKeys.spendCredits(b.id, 1, 1_500), {
      allowed: false,
      remaining: 1_000 - bSpent,
      identityRemaining: 0,
    });
    assert.deepEqual(await s.apiKeys.spendCredits(a.id, 0, 1_500), {
      allowed: true,
      remaining: null,
      identityRemaining: 0,
    });
    await s.close();
  });

  test('a key’s own credits limit it inside its identity, and an identity without credits adds no limit', async () => {
    const s = await make();
    const unlimited = identity();
    await s.identities.create(unlimited);
    const k = apiKey({ identityId: unlimited.id, credits: { remaining: 2 } });
    await s.apiKeys.insert(k);
    const spends = await Promise.all(Array.from({ length: 5 }, () => s.apiKeys.spendCredits(k.id, 1, 1_500)));
    assert.equal(spends.filter((r) => r?.allowed).length, 2);
    assert.deepEqual(
      spends.find((r) => !r?.allowed),
      { allowed: false, remaining: 0, identityRemaining: null },
    );
    await s.close();
  });

  test('concurrent top-ups of an identity all land beside spends of its keys', async () => {
    const s = await make();
    const team = identity({ credits: { remaining: 0 } });
    await s.identities.create(team);
    const k = apiKey({ identityId: team.id });
    await s.apiKeys.insert(k);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        s.identities.update(team.id, { credits: { increment: 2 } }, 2_000 + i),
      ),
    );
    assert.equal((await s.identities.get(team.id))?.credits?.remaining, 100);
    const spends = await Promise.all(
      Array.from({ length: 100 }, () => s.apiKeys.spendCredits(k.id, 1, 2_500)),
    );
    assert.equal(spends.filter((r) => r?.allowed).length, 100);
    assert.equal((await s.identities.get(team.id))?.credits?.remaining, 0);
    await s.close();
  });

  test('an identity with a live key cannot be deleted (a value); once its keys are revoked it can', async () => {
    const s = await make();
    const gone = identity();
    await s.identities.create(gone);
    const k = apiKey({ identityId: gone.id });
    await s.apiKeys.insert(k);
    assert.deepEqual(await s.identities.delete(gone.id, 2_000), { ok: false, code: 'IN_USE' });
    await s.apiKeys.update(k.id, { revokedAt: 3_000 });
    // A scheduled end (rotation's grace) is still live.
    assert.deepEqual(await s.identities.delete(gone.id, 2_999), { ok: false, code: 'IN_USE' });
    assert.deepEqual(await s.identities.delete(gone.id, 3_000), { ok: true, identity: gone });
    assert.equal(await s.identities.get(gone.id), undefined);
    assert.deepEqual(await s.identities.delete(gone.id, 3_000), { ok: false, code: 'NOT_FOUND' });
    // The revoked key keeps its history.
    assert.equal((await s.apiKeys.get(k.id))?.identityId, gone.id);
    await s.close();
  });

  test('a plan reads back by id and by name; names are unique; a rename to a taken name is refused', async () => {
    const s = await make();
    const pro = plan({ name: 'pro' });
    assert.deepEqual(await s.plans.create(pro), { ok: true, plan: pro });
    assert.deepEqual(await s.plans.get(pro.id), pro);
    assert.deepEqual(await s.plans.get({ name: 'pro' }), pro);
    assert.equal(await s.plans.get({ name: 'Pro' }), undefined, 'names are exact');
    assert.equal(await s.plans.get(planId()), undefined);
    assert.deepEqual(await s.plans.create(plan({ name: 'pro' })), { ok: false, code: 'NAME_TAKEN' });
    const racers = await Promise.all(Array.from({ length: 8 }, () => s.plans.create(plan({ name: 'race' }))));
    assert.equal(racers.filter((r) => r.ok).length, 1);

    const free = plan({ name: 'free', credits: null, rateLimits: [] });
    await s.plans.create(free);
    assert.deepEqual(await s.plans.update(free.id, { name: 'pro' }, 2_000), {
      ok: false,
      code: 'NAME_TAKEN',
    });
    const changed = await s.plans.update(
      free.id,
      {
        name: 'starter',
        rateLimits: [{ name: 'daily', limit: 100, windowMs: 86_400_000 }],
        credits: { amount: 10 },
      },
      2_000,
    );
    const expected: PlanRecord = {
      ...free,
      name: 'starter',
      rateLimits: [{ name: 'daily', limit: 100, windowMs: 86_400_000 }],
      credits: { amount: 10 },
      updatedAt: 2_000,
    };
    assert.deepEqual(changed, { ok: true, plan: expected });
    assert.deepEqual(await s.plans.get({ name: 'starter' }), expected);
    assert.deepEqual(await s.plans.update(planId(), { name: 'x' }, 1), { ok: false, code: 'NOT_FOUND' });

    const listed = await everyPage(async (cursor) => {
      const page = await s.plans.list({ limit: 1, ...(cursor ? { cursor } : {}) });
      return { items: page.plans.map((p) => p.id), nextCursor: page.nextCursor };
    });
    const raceWinner = racers.find((r) => r.ok);
    assert.ok(raceWinner?.ok);
    assert.deepEqual(listed.sort(), [pro.id, free.id, raceWinner.plan.id].sort());
    await s.close();
  });

  test('a plan in use cannot be deleted (a value); once no identity is on it, it can', async () => {
    const s = await make();
    const pro = plan();
    await s.plans.create(pro);
    const acme = identity({ planId: pro.id });
    await s.identities.create(acme);
    assert.deepEqual(await s.plans.delete(pro.id), { ok: false, code: 'IN_USE' });
    await s.identities.update(acme.id, { planId: null }, 2_000);
    assert.deepEqual(await s.plans.delete(pro.id), { ok: true, plan: pro });
    assert.deepEqual(await s.plans.delete(pro.id), { ok: false, code: 'NOT_FOUND' });
    assert.equal(await s.plans.get(pro.id), undefined);
    await s.close();
  });

  test('a plan deleted while identities subscribe to it, or an identity while keys are added, leaves no dangling reference', async () => {
    const s = await make();
    for (let round = 0; round < 5; round++) {
      const p = plan();
      await s.plans.create(p);
      const subscribers = Array.from({ length: 6 }, () => identity({ planId: p.id }));
      const [deleted, ...created] = await Promise.all([
        s.plans.delete(p.id),
        ...subscribers.map((i) => s.identities.create(i)),
      ]);
      const stored = created.filter((r) => r.ok).length;
      if (deleted!.ok) assert.equal(stored, 0, 'a plan that was deleted has no subscriber');
      else assert.deepEqual(deleted, { ok: false, code: 'IN_USE' });
      for (const [i, r] of created.entries()) {
        if (!r.ok) assert.equal(r.code, 'PLAN_NOT_FOUND');
        assert.equal((await s.identities.get(subscribers[i]!.id)) !== undefined, r.ok);
      }

      const owner = identity();
      await s.identities.create(owner);
      const keys = Array.from({ length: 6 }, () => apiKey({ identityId: owner.id }));
      const [dropped, ...inserted] = await Promise.all([
        s.identities.delete(owner.id, 5_000),
        ...keys.map((k) => s.apiKeys.insert(k)),
      ]);
      if (dropped!.ok) assert.equal(inserted.filter(Boolean).length, 0, 'a deleted identity has no live key');
      else assert.deepEqual(dropped, { ok: false, code: 'IN_USE' });
    }
    await s.close();
  });
}
