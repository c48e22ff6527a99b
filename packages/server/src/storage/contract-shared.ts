import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newId } from 'rampart/internal/lib/ids.ts';
import { apiKey, identity, user } from './contract-fixtures.ts';
import type { Storage, UsageEntry } from './types.ts';

/** Two `Storage` objects on one database (two instances of a deployment), and how to release them. */
export interface SharedDatabase {
  a: Storage;
  b: Storage;
  close(): Promise<void> | void;
}

/**
 * The contract of a database several instances share (one SQLite file, one PostgreSQL
 * database): what one instance writes, the other counts with, and their concurrent writes
 * neither lose nor create anything.
 */
export function runSharedDatabaseContract(name: string, open: () => Promise<SharedDatabase>): void {
  describe(`shared database contract: ${name}`, () => {
    test('two writers adding usage at once sum exactly', async () => {
      const { a, b, close } = await open();
      const key = newId('key');
      const team = `idt_${'t'.repeat(22)}`;
      const at = Date.UTC(2024, 0, 1, 12);
      const batch = (writer: number, i: number): UsageEntry[] =>
        Array.from({ length: 25 }, (_, j) => ({
          keyId: key,
          identityId: team,
          outcome: (i + j) % 4 === 0 ? 'RATE_LIMITED' : 'VALID',
          at: at + ((writer * 7 + i * 13 + j) % 120) * 1_000,
          count: 1 + (j % 3),
        }));
      const sum = (entries: UsageEntry[]) => entries.reduce((n, e) => n + (e.count ?? 1), 0);
      let expected = 0;
      const writes: Array<Promise<void> | void> = [];
      for (let i = 0; i < 40; i++) {
        for (const [w, storage] of [a, b].entries()) {
          const entries = batch(w, i);
          expected += sum(entries);
          writes.push(storage.usage.add(entries));
        }
      }
      await Promise.all(writes);
      for (const reader of [a, b]) {
        for (const granularity of ['minute', 'hour', 'day'] as const) {
          for (const subject of [{ keyId: key }, { identityId: team }]) {
            const buckets = await reader.usage.read({
              ...subject,
              granularity,
              since: 0,
              until: at + 86_400_000,
            });
            assert.equal(
              buckets.reduce((n, bucket) => n + bucket.total, 0),
              expected,
              `${granularity} ${JSON.stringify(subject)}`,
            );
          }
        }
      }
      await close();
    });

    test('spends through both after a top-up through one give exactly the credits granted', async () => {
      const { a, b, close } = await open();
      const team = identity({ credits: { remaining: 0 } });
      await a.identities.create(team);
      const k = apiKey({ credits: { remaining: 0 }, identityId: team.id });
      assert.equal(await a.apiKeys.insert(k), true);
      await a.apiKeys.update(k.id, { credits: { increment: 100 } });
      await b.identities.update(team.id, { credits: { increment: 60 } }, 2_000);
      const spends = await Promise.all(
        Array.from({ length: 160 }, (_, i) => (i % 2 ? a : b).apiKeys.spendCredits(k.id, 1, 2_500)),
      );
      assert.equal(spends.filter((r) => r?.allowed).length, 60);
      assert.equal((await b.apiKeys.get(k.id))?.credits?.remaining, 40);
      assert.equal((await a.identities.get(team.id))?.credits?.remaining, 0);
      await close();
    });

    test('rotations of one key through both: exactly one wins', async () => {
      const { a, b, close } = await open();
      const old = apiKey();
      await a.apiKeys.insert(old);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? a : b).apiKeys.insert(apiKey(), { id: old.id, expectedRevokedAt: null, revokedAt: 9_000 }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      await close();
    });

    test('two admins demoting each other through both: one admin is left', async () => {
      const { a, b, close } = await open();
      const x = user('x@example.com', 1_000, { role: 'admin' });
      const y = user('y@example.com', 1_000, { role: 'admin' });
      await a.users.create(x);
      await a.users.create(y);
      const [one, two] = await Promise.all([
        a.userAdmin.setRole(y.id, 'user', 2_000),
        b.userAdmin.setRole(x.id, 'user', 2_000),
      ]);
      assert.deepEqual([one.ok, two.ok].sort(), [false, true]);
      assert.equal(await b.userAdmin.countAdmins(), 1);
      await close();
    });
  });
}
