import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createKeyHasher } from 'rampart/internal/api-keys/hashing.ts';
import { type ApiKeyRecord, createApiKeyIssuer } from 'rampart/internal/api-keys/record.ts';
import { decideKey } from 'rampart/internal/api-keys/verify.ts';
import { newId } from 'rampart/internal/lib/ids.ts';
import { apiKey, everyPage, identity, type MakeStorage, user } from './contract-fixtures.ts';
import { MAX_INSTANT } from './rows.ts';
import type { Storage } from './types.ts';

/** `ApiKeyStore.update` patches, disabling, credits under concurrency, and rotation's one budget. */
export function runKeyChangeContract(make: MakeStorage): void {
  const hasher = createKeyHasher({ peppers: { v1: randomBytes(32) }, current: 'v1' });
  const spendAll = (s: Storage, ids: string[], cost = 1, now = 1_500) =>
    Promise.all(ids.map((id) => s.apiKeys.spendCredits(id, cost, now)));
  const allowed = (spends: Array<{ allowed: boolean } | undefined>) =>
    spends.filter((r) => r?.allowed).length;

  test('a patch changes name, metadata, scopes and expiry, and leaves every other field', async () => {
    const s = await make();
    const k = apiKey({
      credits: { remaining: 5 },
      rateLimit: { limit: 3, windowMs: 1_000 },
      lastUsedAt: 1_200,
    });
    await s.apiKeys.insert(k);
    const patched = await s.apiKeys.update(k.id, {
      name: 'deploy',
      metadata: { team: 'ops' },
      scopes: ['read', 'read', 'write'],
      expiresAt: 90_000,
    });
    const expected: ApiKeyRecord = {
      ...k,
      name: 'deploy',
      metadata: { team: 'ops' },
      scopes: ['read', 'write'],
      expiresAt: 90_000,
    };
    assert.deepEqual(patched, expected);
    assert.deepEqual(await s.apiKeys.get(k.id), expected);
    assert.deepEqual(await s.apiKeys.update(k.id, { expiresAt: null }), { ...expected, expiresAt: null });
    assert.deepEqual(await s.apiKeys.update(k.id, { rateLimit: null }), {
      ...expected,
      expiresAt: null,
      rateLimit: null,
    });
    await s.close();
  });

  test('a disabled key is refused as DISABLED and the same secret works again once it is enabled', async () => {
    const s = await make();
    const k = apiKey({ scopes: ['keys:verify'] });
    await s.apiKeys.insert(k);
    const decide = async () =>
      decideKey(await s.apiKeys.findByHash([k.hash]), { now: 2_000, scope: 'keys:verify' }).code;
    assert.equal(await decide(), 'VALID');
    assert.equal((await s.apiKeys.update(k.id, { disabledAt: 1_900 }))?.disabledAt, 1_900);
    assert.equal(await decide(), 'DISABLED');
    assert.equal((await s.apiKeys.list({ limit: 10 })).keys[0]?.disabledAt, 1_900);
    assert.equal((await s.apiKeys.update(k.id, { disabledAt: null }))?.disabledAt, null);
    assert.equal(await decide(), 'VALID');
    assert.equal((await s.apiKeys.get(k.id))?.hash, k.hash, 'the secret did not change');
    await s.close();
  });

  test('credits are set, incremented, given a refill rule, and removed', async () => {
    const s = await make();
    const k = apiKey();
    await s.apiKeys.insert(k);
    const credits = async (patch: Parameters<Storage['apiKeys']['update']>[1]['credits']) =>
      (await s.apiKeys.update(k.id, { credits: patch }))?.credits;
    // A key without credits starts from 0.
    assert.deepEqual(await credits({ increment: 5 }), { remaining: 5 });
    assert.deepEqual(await credits({ increment: 3 }), { remaining: 8 });
    assert.deepEqual(await credits({ increment: -20 }), { remaining: 0 }, 'never below 0');
    assert.deepEqual(await credits({ remaining: 40 }), { remaining: 40 });
    const refill = { amount: 10, intervalMs: 1_000, lastRefillAt: 2_000, max: 50 };
    assert.deepEqual(await credits({ refill }), { remaining: 40, refill });
    assert.deepEqual(await credits({ remaining: 3, increment: 2 }), { remaining: 5, refill });
    assert.deepEqual(await credits({ refill: null }), { remaining: 5 });
    assert.equal(await credits(null), null);
    assert.deepEqual(await s.apiKeys.spendCredits(k.id, 1, 3_000), { allowed: true, remaining: null });
    await s.close();
  });

  test('100 parallel spends after an increment of 100 give exactly 100 successes', async () => {
    const s = await make();
    const k = apiKey({ credits: { remaining: 0 } });
    await s.apiKeys.insert(k);
    assert.deepEqual((await s.apiKeys.update(k.id, { credits: { increment: 100 } }))?.credits, {
      remaining: 100,
    });
    const spends = await spendAll(
      s,
      Array.from({ length: 100 }, () => k.id),
    );
    assert.equal(allowed(spends), 100);
    assert.deepEqual(
      spends.map((r) => r?.remaining).sort((a, b) => a! - b!),
      Array.from({ length: 100 }, (_, i) => i),
      'each spend saw its own balance',
    );
    assert.deepEqual(await s.apiKeys.spendCredits(k.id, 1, 1_500), { allowed: false, remaining: 0 });
    await s.close();
  });

  test('concurrent increments all land, and spends beside them neither lose nor create a credit', async () => {
    const s = await make();
    const k = apiKey({ credits: { remaining: 10 } });
    await s.apiKeys.insert(k);
    await Promise.all(
      Array.from({ length: 50 }, () => s.apiKeys.update(k.id, { credits: { increment: 2 } })),
    );
    assert.equal((await s.apiKeys.get(k.id))?.credits?.remaining, 110);

    const work: Array<Promise<unknown>> = [];
    const spends: Array<Promise<{ allowed: boolean } | undefined>> = [];
    for (let i = 0; i < 60; i++) {
      work.push(Promise.resolve(s.apiKeys.update(k.id, { credits: { increment: 1 } })));
      const spend = Promise.resolve(s.apiKeys.spendCredits(k.id, 3, 1_500));
      spends.push(spend);
      work.push(spend);
    }
    await Promise.all(work);
    const granted = allowed(await Promise.all(spends));
    assert.equal((await s.apiKeys.get(k.id))?.credits?.remaining, 110 + 60 - 3 * granted);
    assert.ok(granted >= 36, `at least the 110 credits there from the start were spendable (${granted})`);
    await s.close();
  });

  test('concurrent patches of different fields of one key lose no update', async () => {
    const s = await make();
    const k = apiKey({ credits: { remaining: 0 } });
    await s.apiKeys.insert(k);
    await Promise.all([
      s.apiKeys.update(k.id, { name: 'renamed' }),
      s.apiKeys.update(k.id, { metadata: { owner: 'ops' } }),
      s.apiKeys.update(k.id, { scopes: ['admin'] }),
      s.apiKeys.update(k.id, { disabledAt: 1_700 }),
      s.apiKeys.update(k.id, { rateLimit: { limit: 9, windowMs: 60_000 } }),
      s.apiKeys.update(k.id, { credits: { increment: 4 } }),
      s.apiKeys.update(k.id, { revokedAt: 80_000 }),
      s.apiKeys.update(k.id, { expiresAt: 70_000 }),
    ]);
    assert.deepEqual(await s.apiKeys.get(k.id), {
      ...k,
      name: 'renamed',
      metadata: { owner: 'ops' },
      scopes: ['admin'],
      disabledAt: 1_700,
      rateLimit: { limit: 9, windowMs: 60_000 },
      credits: { remaining: 4 },
      revokedAt: 80_000,
      expiresAt: 70_000,
    });
    await s.close();
  });

  test('a key is rotated once: a second rotation loses, even one that read the key after the first', async () => {
    const s = await make();
    const old = apiKey();
    await s.apiKeys.insert(old);
    const end = 2_000 + 3_600_000;
    assert.equal(
      await s.apiKeys.insert(apiKey(), { id: old.id, expectedRevokedAt: null, revokedAt: end }),
      true,
    );
    // The security review's case: a rotation that read the key after the first one saw its
    // scheduled end, passed it as expected, and used to win too.
    const reread = (await s.apiKeys.get(old.id))!;
    assert.equal(reread.revokedAt, end);
    const second = apiKey();
    assert.equal(
      await s.apiKeys.insert(second, { id: old.id, expectedRevokedAt: end, revokedAt: end }),
      false,
    );
    assert.equal(await s.apiKeys.get(second.id), undefined);
    // Ten rotations at once, each having read the key fresh: one wins.
    const fresh = apiKey();
    await s.apiKeys.insert(fresh);
    const reads = await Promise.all(Array.from({ length: 10 }, () => s.apiKeys.get(fresh.id)));
    const results = await Promise.all(
      reads.map((r) =>
        s.apiKeys.insert(apiKey(), { id: fresh.id, expectedRevokedAt: r!.revokedAt, revokedAt: end }),
      ),
    );
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(
      (await s.apiKeys.list({ limit: 100 })).keys.filter((k) => k.rotatedFrom === fresh.id).length,
      1,
    );
    await s.close();
  });

  test('a key and its successors share one budget: three rotations of a key with 3 credits allow 3 uses', async () => {
    const s = await make();
    let clock = 10_000;
    const issuer = createApiKeyIssuer({ hasher, now: () => clock });
    const first = issuer.issue({
      name: 'ci',
      credits: { remaining: 3 },
      rateLimit: { limit: 5, windowMs: 1_000 },
    });
    assert.ok(first.ok);
    assert.equal(await s.apiKeys.insert(first.record), true);
    const chain: ApiKeyRecord[] = [first.record];
    for (let i = 0; i < 3; i++) {
      clock += 1_000;
      const current = (await s.apiKeys.get(chain.at(-1)!.id))!;
      const rotated = issuer.rotate(current, { gracePeriodMs: 3_600_000 });
      assert.ok(rotated.ok);
      const replaces = {
        id: current.id,
        expectedRevokedAt: current.revokedAt,
        revokedAt: rotated.previous.revokedAt!,
      };
      assert.equal(await s.apiKeys.insert(rotated.record, replaces), true);
      chain.push(rotated.record);
    }
    // Every key of the chain is live (grace period) and shows the one balance and limit.
    for (const k of chain) {
      const read = (await s.apiKeys.get(k.id))!;
      assert.equal(decideKey(read, { now: clock }).code, 'VALID');
      assert.equal(read.budgetKeyId, k === first.record ? null : first.record.id);
      assert.deepEqual(read.credits, { remaining: 3 });
      assert.deepEqual(read.rateLimit, { limit: 5, windowMs: 1_000 });
    }
    // Eleven calls spread over the four keys: 3 credits, 3 successes.
    const spends = await spendAll(
      s,
      Array.from({ length: 11 }, (_, i) => chain[i % chain.length]!.id),
      1,
      clock,
    );
    assert.equal(allowed(spends), 3);
    for (const k of chain) assert.deepEqual((await s.apiKeys.get(k.id))?.credits, { remaining: 0 });
    // A top-up or a new limit on any key of the chain is the chain's.
    await s.apiKeys.update(chain[2]!.id, {
      credits: { increment: 2 },
      rateLimit: { limit: 7, windowMs: 500 },
    });
    const root = (await s.apiKeys.get(first.record.id))!;
    assert.deepEqual([root.credits, root.rateLimit], [{ remaining: 2 }, { limit: 7, windowMs: 500 }]);
    await s.close();
  });

  test('spends on a key and its successor at once share one balance', async () => {
    const s = await make();
    const old = apiKey({ credits: { remaining: 30 } });
    await s.apiKeys.insert(old);
    const next = apiKey({ credits: { remaining: 30 }, rotatedFrom: old.id });
    assert.equal(
      await s.apiKeys.insert(next, { id: old.id, expectedRevokedAt: null, revokedAt: 9_000 }),
      true,
    );
    const spends = await spendAll(
      s,
      Array.from({ length: 100 }, (_, i) => (i % 2 ? old.id : next.id)),
    );
    assert.equal(allowed(spends), 30);
    await s.close();
  });

  test('a rotation cannot copy a balance or leave its identity: the successor’s budget comes from the old key’s row', async () => {
    const s = await make();
    const old = apiKey({ credits: { remaining: 1 } });
    await s.apiKeys.insert(old);
    // A successor record that claims a budget of its own (a buggy or hostile caller).
    const greedy = apiKey({ credits: { remaining: 1_000 }, budgetKeyId: null, rotatedFrom: old.id });
    assert.equal(
      await s.apiKeys.insert(greedy, { id: old.id, expectedRevokedAt: null, revokedAt: 9_000 }),
      true,
    );
    const stored = (await s.apiKeys.get(greedy.id))!;
    assert.equal(stored.budgetKeyId, old.id);
    assert.deepEqual(stored.credits, { remaining: 1 });
    assert.equal(
      allowed(
        await spendAll(
          s,
          Array.from({ length: 5 }, () => greedy.id),
        ),
      ),
      1,
    );
    await s.close();
  });

  test('keys list by identity', async () => {
    const s = await make();
    const idt = await s.identities.create(identity());
    assert.ok(idt.ok);
    const mine = [
      apiKey({ identityId: idt.identity.id }),
      apiKey({ identityId: idt.identity.id, createdAt: 1_001 }),
    ];
    for (const k of [...mine, apiKey(), apiKey()]) assert.equal(await s.apiKeys.insert(k), true);
    const listed = await everyPage(async (cursor) => {
      const page = await s.apiKeys.list({
        identityId: idt.identity.id,
        limit: 1,
        ...(cursor ? { cursor } : {}),
      });
      return { items: page.keys.map((k) => k.id), nextCursor: page.nextCursor };
    });
    assert.deepEqual(listed, [mine[1]!.id, mine[0]!.id]);
    await s.close();
  });

  test('a page holding a row with an instant beyond the Date range still lists, clamped to the range', async () => {
    const s = await make();
    // What an older version stored for "never": 9e15 ms, past the last instant a Date holds.
    const far = 9e15;
    const odd = apiKey({ expiresAt: far, revokedAt: far, lastUsedAt: far, createdAt: 2_000 });
    const normal = apiKey({ createdAt: 1_000 });
    await s.apiKeys.insert(odd);
    await s.apiKeys.insert(normal);
    const page = await s.apiKeys.list({ limit: 10 });
    assert.deepEqual(
      page.keys.map((k) => k.id),
      [odd.id, normal.id],
    );
    const listed = page.keys[0]!;
    for (const at of [listed.expiresAt, listed.revokedAt, listed.lastUsedAt]) {
      assert.equal(at, MAX_INSTANT);
      assert.doesNotThrow(() => new Date(at!).toISOString());
    }
    // Clamped, it keeps its meaning: still far in the future.
    assert.equal(decideKey(listed, { now: Date.now() }).code, 'VALID');
    assert.equal((await s.apiKeys.findByHash([odd.hash]))?.expiresAt, MAX_INSTANT);

    const u = user('far@example.com', 1_000, { notBefore: far });
    await s.users.create(u);
    const users = await s.userAdmin.search({ limit: 10 });
    assert.equal(users.users[0]?.notBefore, MAX_INSTANT);
    assert.equal((await s.users.list({ limit: 10 })).users[0]?.notBefore, MAX_INSTANT);
    assert.equal(await s.apiKeys.update(newId('key'), { name: 'x' }), undefined);
    await s.close();
  });
}
