import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newId } from 'rampart/internal/lib/ids.ts';
import { generateSigningKey } from 'rampart/internal/tokens/signing-keys.ts';
import { apiKey, type MakeStorage, user } from './contract-fixtures.ts';
import { runIdentityContract } from './contract-identities.ts';
import { runKeyChangeContract } from './contract-keys.ts';
import { runUsageContract } from './contract-usage.ts';
import { runUserAdminContract } from './contract-users.ts';
import type { ApiKeyRecord, AuditEvent, SigningKeyStore } from './types.ts';

export { runSharedDatabaseContract } from './contract-shared.ts';

/**
 * The one contract every storage implementation passes. Each backend's test file calls this
 * with a factory that returns a fresh, empty storage.
 */
export function runStorageContract(name: string, make: MakeStorage): void {
  const event = (at: number, type: AuditEvent['type'] = 'authn_login_fail', actor?: string): AuditEvent => ({
    id: newId('evt'),
    type,
    at,
    outcome: 'failure',
    detail: { reason: 'x' },
    count: 1,
    ...(actor ? { actor } : {}),
  });

  describe(`storage contract: ${name}`, () => {
    test('a created user reads back by id and by email key', async () => {
      const s = await make();
      const u = user('Ada@Example.com');
      assert.equal(await s.users.create(u), 'created');
      assert.deepEqual(await s.users.getById(u.id), u);
      assert.deepEqual(await s.users.getByEmailKey('ada@example.com'), u);
      assert.equal(await s.users.getById(newId('usr')), undefined);
      assert.equal(await s.users.count(), 1);
      await s.close();
    });

    test('an email is unique regardless of case', async () => {
      const s = await make();
      assert.equal(await s.users.create(user('bob@example.com')), 'created');
      assert.equal(await s.users.create(user('BOB@example.com')), 'email_taken');
      assert.equal(await s.users.count(), 1);
      await s.close();
    });

    test('concurrent creates with one email let exactly one win', async () => {
      const s = await make();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => s.users.create(user('race@example.com'))),
      );
      assert.equal(results.filter((r) => r === 'created').length, 1);
      await s.close();
    });

    test('update changes only the named fields and bumps updatedAt', async () => {
      const s = await make();
      const u = user('carol@example.com');
      await s.users.create(u);
      assert.equal(await s.users.update(u.id, { passwordHash: 'new', notBefore: 5_000 }, 5_000), true);
      const after = await s.users.getById(u.id);
      assert.equal(after?.passwordHash, 'new');
      assert.equal(after?.notBefore, 5_000);
      assert.equal(after?.updatedAt, 5_000);
      assert.equal(after?.name, 'Ada');
      assert.equal(await s.users.update(newId('usr'), { name: 'x' }, 1), false);
      await s.close();
    });

    test('audit events list newest first with filters and cursor paging', async () => {
      const s = await make();
      const events = Array.from({ length: 25 }, (_, i) =>
        event(10_000 + i, i % 2 ? 'authn_login_fail' : 'key_created', i % 5 === 0 ? 'usr_a' : undefined),
      );
      await s.audit.append(events);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const result = await s.audit.list({ limit: 10, ...(cursor ? { cursor } : {}) });
        seen.push(...result.events.map((e) => e.id));
        if (!result.nextCursor) break;
        cursor = result.nextCursor;
      }
      const expected = [...events].sort((a, b) => b.at - a.at).map((e) => e.id);
      assert.deepEqual(seen, expected);
      const fails = await s.audit.list({ limit: 100, type: 'authn_login_fail' });
      assert.equal(fails.events.length, 12);
      assert.ok(fails.events.every((e) => e.type === 'authn_login_fail'));
      const byActor = await s.audit.list({ limit: 100, actor: 'usr_a' });
      assert.equal(byActor.events.length, 5);
      const window = await s.audit.list({ limit: 100, since: 10_005, until: 10_009 });
      assert.deepEqual(
        window.events.map((e) => e.at),
        [10_009, 10_008, 10_007, 10_006, 10_005],
      );
      const first = (await s.audit.list({ limit: 1 })).events[0];
      assert.deepEqual(first, events.at(-1));
      await s.close();
    });

    test('a forged audit cursor is ignored rather than trusted', async () => {
      const s = await make();
      await s.audit.append([event(1), event(2)]);
      const page = await s.audit.list({ limit: 10, cursor: "' OR 1=1 --" });
      assert.equal(page.events.length, 2);
      await s.close();
    });

    test('ttl entries expire, and take() hands a value out once', async () => {
      const s = await make();
      await s.ttl.put('reset:abc', 'usr_1', 2_000);
      assert.equal(await s.ttl.get('reset:abc', 1_000), 'usr_1');
      assert.equal(await s.ttl.get('reset:abc', 2_000), undefined);
      await s.ttl.put('once', 'v', 9_000);
      const takes = await Promise.all([s.ttl.take('once', 1), s.ttl.take('once', 1), s.ttl.take('once', 1)]);
      assert.deepEqual(
        takes.filter((t) => t !== undefined),
        ['v'],
      );
      await s.ttl.put('jti:a', '1', 9_000);
      await s.ttl.put('jti:b', '1', 50);
      await s.ttl.put('jtix', '1', 9_000);
      assert.deepEqual(
        (await s.ttl.list('jti:', 100)).map((e) => e.key),
        ['jti:a'],
      );
      await s.ttl.put('old', 'v', 10);
      assert.equal(await s.ttl.sweep(100), 2);
      await s.close();
    });

    test('of simultaneous rotations of one refresh token exactly one wins', async () => {
      const s = await make();
      const base = { familyId: 'fam_1', userId: 'usr_1', createdAt: 1, familyCreatedAt: 1 };
      await s.refreshTokens.insert({ ...base, tokenHash: 'h0' });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          s.refreshTokens.rotate('h0', { ...base, tokenHash: `h1-${i}`, createdAt: 2 }, 2),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      const used = await s.refreshTokens.get('h0');
      assert.equal(used?.usedAt, 2);
      const winner = results.indexOf(true);
      assert.equal(used?.replacedBy, `h1-${winner}`);
      assert.equal((await s.refreshTokens.get(`h1-${winner}`))?.familyId, 'fam_1');
      assert.equal(await s.refreshTokens.get(`h1-${(winner + 1) % 20}`), undefined);
      await s.close();
    });

    test('revoking a family or a user ends every token in it, and a revoked token cannot rotate', async () => {
      const s = await make();
      const base = { userId: 'usr_1', createdAt: 1, familyCreatedAt: 1 };
      await s.refreshTokens.insert({ ...base, familyId: 'fam_a', tokenHash: 'a1' });
      await s.refreshTokens.insert({ ...base, familyId: 'fam_a', tokenHash: 'a2' });
      await s.refreshTokens.insert({ ...base, familyId: 'fam_b', tokenHash: 'b1' });
      await s.refreshTokens.insert({ ...base, userId: 'usr_2', familyId: 'fam_c', tokenHash: 'c1' });
      assert.equal(await s.refreshTokens.revokeFamily('fam_a', 5), 2);
      assert.equal((await s.refreshTokens.get('a2'))?.revokedAt, 5);
      assert.equal(
        await s.refreshTokens.rotate('a2', { ...base, familyId: 'fam_a', tokenHash: 'a3' }, 6),
        false,
      );
      assert.deepEqual(await s.refreshTokens.revokeUser('usr_1', 7), ['fam_b']);
      assert.equal((await s.refreshTokens.get('b1'))?.revokedAt, 7);
      assert.equal((await s.refreshTokens.get('c1'))?.revokedAt, undefined);
      await s.close();
    });

    test('an api key reads back by id and by any of its candidate hashes, and nothing else matches', async () => {
      const s = await make();
      const k = apiKey({
        credits: { remaining: 5, refill: { amount: 5, intervalMs: 1_000, lastRefillAt: 1_000, max: 9 } },
        rateLimit: { limit: 10, windowMs: 60_000 },
        expiresAt: 9_000,
      });
      assert.equal(await s.apiKeys.insert(k), true);
      assert.deepEqual(await s.apiKeys.get(k.id), k);
      assert.deepEqual(await s.apiKeys.findByHash(['v2:other', k.hash, 'sha256:zz']), k);
      assert.equal(await s.apiKeys.findByHash(['v1:nope']), undefined);
      assert.equal(await s.apiKeys.findByHash([]), undefined);
      // A SQL-looking hash is data, not syntax.
      assert.equal(await s.apiKeys.findByHash(["' OR 1=1 --"]), undefined);
      assert.equal(await s.apiKeys.get(newId('key')), undefined);
      await s.close();
    });

    test('an api key with an id or hash already stored is not written twice', async () => {
      const s = await make();
      const k = apiKey();
      assert.equal(await s.apiKeys.insert(k), true);
      assert.equal(await s.apiKeys.insert({ ...k, hash: 'v1:different' }), false);
      assert.equal(await s.apiKeys.insert({ ...k, id: newId('key'), name: 'twin' }), false);
      assert.equal((await s.apiKeys.list({ limit: 10 })).keys.length, 1);
      await s.close();
    });

    test('records handed out are copies: changing one does not change the store', async () => {
      const s = await make();
      const k = apiKey();
      await s.apiKeys.insert(k);
      k.scopes.push('admin');
      const read = (await s.apiKeys.get(k.id))!;
      assert.deepEqual(read.scopes, ['read', 'keys:verify']);
      read.scopes.push('admin');
      (read.metadata as { team: string }).team = 'x';
      assert.deepEqual((await s.apiKeys.get(k.id))!.scopes, ['read', 'keys:verify']);
      assert.equal((await s.apiKeys.get(k.id))!.metadata.team, 'infra');
      await s.close();
    });

    test('api keys list newest first, by owner or ownerless, with cursor paging', async () => {
      const s = await make();
      const made: ApiKeyRecord[] = [];
      for (let i = 0; i < 23; i++) {
        const k = apiKey({
          createdAt: 5_000 + Math.floor(i / 2),
          ownerId: i % 3 === 0 ? null : `usr_${i % 2}`,
        });
        made.push(k);
        await s.apiKeys.insert(k);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const result = await s.apiKeys.list({ limit: 5, ...(cursor ? { cursor } : {}) });
        assert.ok(result.keys.length <= 5);
        seen.push(...result.keys.map((k) => k.id));
        if (!result.nextCursor) break;
        cursor = result.nextCursor;
      }
      const order = (a: ApiKeyRecord, b: ApiKeyRecord) =>
        b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
      assert.deepEqual(
        seen,
        [...made].sort(order).map((k) => k.id),
      );
      const ownerless = await s.apiKeys.list({ limit: 100, ownerId: null });
      assert.deepEqual(
        ownerless.keys.map((k) => k.id),
        made
          .filter((k) => k.ownerId === null)
          .sort(order)
          .map((k) => k.id),
      );
      const mine = await s.apiKeys.list({ limit: 100, ownerId: 'usr_1' });
      assert.ok(mine.keys.length > 0 && mine.keys.every((k) => k.ownerId === 'usr_1'));
      assert.equal((await s.apiKeys.list({ limit: 100, ownerId: 'usr_nobody' })).keys.length, 0);
      assert.equal((await s.apiKeys.list({ limit: 100, cursor: "' OR 1=1 --" })).keys.length, 23);
      await s.close();
    });

    test('a revocation only ever moves earlier, and a re-hash moves the lookup to the new hash', async () => {
      const s = await make();
      const k = apiKey();
      await s.apiKeys.insert(k);
      assert.equal((await s.apiKeys.update(k.id, { revokedAt: 8_000 }))?.revokedAt, 8_000);
      assert.equal((await s.apiKeys.update(k.id, { revokedAt: 9_000 }))?.revokedAt, 8_000);
      assert.equal((await s.apiKeys.update(k.id, { revokedAt: 7_000 }))?.revokedAt, 7_000);
      assert.equal((await s.apiKeys.update(k.id, {}))?.revokedAt, 7_000);
      const rehashed = await s.apiKeys.update(k.id, { hash: 'v2:new' });
      assert.equal(rehashed?.hash, 'v2:new');
      assert.equal(await s.apiKeys.findByHash([k.hash]), undefined);
      assert.equal((await s.apiKeys.findByHash(['v2:new']))?.id, k.id);
      assert.equal(await s.apiKeys.update(newId('key'), { revokedAt: 1 }), undefined);
      await s.close();
    });

    test('of simultaneous rotations of one api key exactly one wins, and the losers write nothing', async () => {
      const s = await make();
      const old = apiKey();
      await s.apiKeys.insert(old);
      const next = Array.from({ length: 20 }, () => apiKey({ rotatedFrom: old.id, createdAt: 2_000 }));
      const results = await Promise.all(
        next.map((k) =>
          s.apiKeys.insert(k, { id: old.id, expectedRevokedAt: null, revokedAt: 2_000 + 3_600_000 }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      const winner = next[results.indexOf(true)]!;
      // The successor spends the old key's budget: one balance for the chain.
      assert.deepEqual(await s.apiKeys.get(winner.id), { ...winner, budgetKeyId: old.id });
      assert.equal((await s.apiKeys.get(old.id))?.revokedAt, 2_000 + 3_600_000);
      assert.equal((await s.apiKeys.get(old.id))?.rotatedTo, winner.id);
      for (const k of next) if (k !== winner) assert.equal(await s.apiKeys.get(k.id), undefined);
      // A stale expectation (the key was revoked meanwhile) writes nothing either.
      const other = apiKey();
      await s.apiKeys.insert(other);
      await s.apiKeys.update(other.id, { revokedAt: 3_000 });
      const late = apiKey();
      assert.equal(
        await s.apiKeys.insert(late, { id: other.id, expectedRevokedAt: null, revokedAt: 4_000 }),
        false,
      );
      assert.equal(await s.apiKeys.get(late.id), undefined);
      assert.equal((await s.apiKeys.get(other.id))?.revokedAt, 3_000);
      assert.equal((await s.apiKeys.get(other.id))?.rotatedTo, null);
      await s.close();
    });

    test('simultaneous credit spends never spend one credit twice, and refills are lazy and capped', async () => {
      const s = await make();
      const k = apiKey({
        credits: { remaining: 5, refill: { amount: 3, intervalMs: 1_000, lastRefillAt: 1_000 } },
      });
      await s.apiKeys.insert(k);
      const spends = await Promise.all(
        Array.from({ length: 20 }, () => s.apiKeys.spendCredits(k.id, 1, 1_500)),
      );
      assert.equal(spends.filter((r) => r?.allowed).length, 5);
      assert.deepEqual(spends.at(-1), { allowed: false, remaining: 0 });
      // 2.5 intervals later: two refills of 3, capped at the amount (3).
      assert.deepEqual(await s.apiKeys.spendCredits(k.id, 1, 3_500), { allowed: true, remaining: 2 });
      assert.deepEqual((await s.apiKeys.get(k.id))?.credits, {
        remaining: 2,
        refill: { amount: 3, intervalMs: 1_000, lastRefillAt: 3_000 },
      });
      assert.deepEqual(await s.apiKeys.spendCredits(k.id, 5, 3_600), { allowed: false, remaining: 2 });
      assert.deepEqual(await s.apiKeys.spendCredits(k.id, 0, 3_600), { allowed: true, remaining: 2 });
      const unlimited = apiKey();
      await s.apiKeys.insert(unlimited);
      assert.deepEqual(await s.apiKeys.spendCredits(unlimited.id, 1, 1), { allowed: true, remaining: null });
      assert.equal(await s.apiKeys.spendCredits(newId('key'), 1, 1), undefined);
      await s.close();
    });

    test('last-used times are written in batches and only move forward', async () => {
      const s = await make();
      const a = apiKey();
      const b = apiKey();
      await s.apiKeys.insert(a);
      await s.apiKeys.insert(b);
      await s.apiKeys.touchMany(
        new Map([
          [a.id, 5_000],
          [b.id, 6_000],
          [newId('key'), 7_000],
        ]),
      );
      await s.apiKeys.touchMany(new Map([[a.id, 4_000]]));
      assert.equal((await s.apiKeys.get(a.id))?.lastUsedAt, 5_000);
      assert.equal((await s.apiKeys.get(b.id))?.lastUsedAt, 6_000);
      await s.apiKeys.touchMany(new Map());
      await s.close();
    });

    test('users and refresh tokens list newest first with cursor paging (export reads every row)', async () => {
      const s = await make();
      const users = Array.from({ length: 7 }, (_, i) => user(`u${i}@example.com`, 1_000 + Math.floor(i / 2)));
      for (const u of users) await s.users.create(u);
      const seenUsers: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const result = await s.users.list({ limit: 3, ...(cursor ? { cursor } : {}) });
        seenUsers.push(...result.users.map((u) => u.id));
        if (!result.nextCursor) break;
        cursor = result.nextCursor;
      }
      const order =
        <T>(at: (x: T) => number, id: (x: T) => string) =>
        (a: T, b: T) =>
          at(b) - at(a) || (id(a) < id(b) ? 1 : id(a) > id(b) ? -1 : 0);
      assert.deepEqual(
        seenUsers,
        [...users]
          .sort(
            order(
              (u) => u.createdAt,
              (u) => u.id,
            ),
          )
          .map((u) => u.id),
      );
      assert.deepEqual(
        (await s.users.list({ limit: 1 })).users[0],
        [...users].sort(
          order(
            (u) => u.createdAt,
            (u) => u.id,
          ),
        )[0],
      );

      const base = { familyId: 'fam_1', userId: 'usr_1', familyCreatedAt: 1 };
      // Hashes are base64url: '-' and '_' must survive the cursor.
      const hashes = ['a-b', 'A_b', 'zz', '0-9', '-x', '_y', 'Q'];
      for (const [i, tokenHash] of hashes.entries())
        await s.refreshTokens.insert({ ...base, tokenHash, createdAt: 10 + (i % 3) });
      await s.refreshTokens.revokeFamily('fam_1', 50);
      const seen: string[] = [];
      cursor = undefined;
      for (let page = 0; page < 10; page++) {
        const result = await s.refreshTokens.list({ limit: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...result.tokens.map((t) => t.tokenHash));
        assert.ok(result.tokens.every((t) => t.revokedAt === 50 && t.familyId === 'fam_1'));
        if (!result.nextCursor) break;
        cursor = result.nextCursor;
      }
      assert.deepEqual(
        seen,
        hashes
          .map((tokenHash, i) => ({ tokenHash, createdAt: 10 + (i % 3) }))
          .sort(
            order(
              (t) => t.createdAt,
              (t) => t.tokenHash,
            ),
          )
          .map((t) => t.tokenHash),
      );
      assert.equal((await s.users.list({ limit: 10, cursor: "' OR 1=1 --" })).users.length, 7);
      await s.close();
    });

    describe('accounts (admin plane)', () => runUserAdminContract(make));
    describe('keys that change', () => runKeyChangeContract(make));
    describe('identities and plans', () => runIdentityContract(make));
    describe('usage and retention', () => runUsageContract(make));
  });
}

/**
 * The contract of a shared signing-key store (`SigningKeyStore`): memory and PostgreSQL.
 * `make` returns a fresh, empty store and a function that releases it.
 */
export function runSigningKeyStoreContract(
  name: string,
  make: () => Promise<{ store: SigningKeyStore; close: () => Promise<void> | void }>,
): void {
  describe(`signing key store contract: ${name}`, () => {
    const key = async (at: number) => ({
      record: await generateSigningKey({ now: () => at }),
      activatesAt: at,
    });

    test('of instances generating the first key at once exactly one adds it, and all read the same', async () => {
      const { store, close } = await make();
      assert.deepEqual(await store.list(), []);
      const candidates = await Promise.all(Array.from({ length: 8 }, () => key(1_000)));
      const results = await Promise.all(candidates.map((k) => store.add(k, null, 0)));
      assert.equal(results.filter(Boolean).length, 1);
      const winner = candidates[results.indexOf(true)]!;
      assert.deepEqual(await store.list(), [winner]);
      await close();
    });

    test('a rotation adds after the expected key only, keeps activation order, and drops superseded keys', async () => {
      const { store, close } = await make();
      const first = await key(1_000);
      const second = await key(5_000);
      const third = await key(9_000);
      assert.equal(await store.add(first, null, 0), true);
      // A stale expectation (another instance rotated first) writes nothing.
      assert.equal(await store.add(second, null, 0), false);
      assert.equal(await store.add(second, first.record.kid, 0), true);
      assert.equal(await store.add(third, first.record.kid, 0), false);
      assert.deepEqual(
        (await store.list()).map((k) => [k.record.kid, k.activatesAt]),
        [
          [first.record.kid, 1_000],
          [second.record.kid, 5_000],
        ],
      );
      // The first key's successor activated at 5 000: with a cut-off after that, it goes.
      assert.equal(await store.add(third, second.record.kid, 6_000), true);
      const kept = await store.list();
      assert.deepEqual(
        kept.map((k) => k.record.kid),
        [second.record.kid, third.record.kid],
      );
      assert.deepEqual(kept[0], second);
      assert.equal(kept[0]!.record.retiredAt, undefined);
      await close();
    });
  });
}
