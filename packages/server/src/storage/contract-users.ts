import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from 'rampart/internal/lib/ids.ts';
import { everyPage, type MakeStorage, newestFirst, user } from './contract-fixtures.ts';
import type { Storage, UserRecord, UserSearchQuery } from './types.ts';

/** `UserAdminStore`: search, roles, disabling, deletion, and the last enabled admin. */
export function runUserAdminContract(make: MakeStorage): void {
  const search = (s: Storage, query: Omit<UserSearchQuery, 'limit' | 'cursor'>, limit = 2) =>
    everyPage(async (cursor) => {
      const page = await s.userAdmin.search({ ...query, limit, ...(cursor ? { cursor } : {}) });
      return { items: page.users.map((u) => u.email), nextCursor: page.nextCursor };
    });

  test('search filters by e-mail prefix, name part, role and disabled, and pages with a cursor', async () => {
    const s = await make();
    const people: UserRecord[] = [
      user('ada@example.com', 1_000, { name: 'Ada Lovelace', role: 'admin' }),
      user('Adam@Example.com', 1_001, { name: 'Adam Smith' }),
      user('grace@navy.mil', 1_002, { name: 'Grace HOPPER', role: 'admin' }),
      user('alan@example.com', 1_002, { name: 'Alan Turing' }),
      user('edsger@example.org', 1_003, { name: 'Edsger Dijkstra' }),
    ];
    for (const u of people) assert.equal(await s.users.create(u), 'created');
    assert.equal((await s.userAdmin.setDisabled(people[3]!.id, true, 2_000)).ok, true);

    const emails = (list: UserRecord[]) => [...list].sort(newestFirst).map((u) => u.email);
    assert.deepEqual(await search(s, {}), emails(people));
    // The prefix is on the lower-cased address, whatever case it is given in.
    assert.deepEqual(await search(s, { emailPrefix: 'ADA' }), emails([people[0]!, people[1]!]));
    assert.deepEqual(await search(s, { emailPrefix: 'ada@' }), emails([people[0]!]));
    // A name part, case-insensitive.
    assert.deepEqual(await search(s, { nameContains: 'hop' }), emails([people[2]!]));
    assert.deepEqual(await search(s, { nameContains: 'A' }), emails(people.filter((u) => /a/i.test(u.name))));
    assert.deepEqual(await search(s, { role: 'admin' }), emails([people[0]!, people[2]!]));
    assert.deepEqual(await search(s, { disabled: true }), emails([people[3]!]));
    assert.deepEqual(await search(s, { disabled: false, role: 'user' }), emails([people[1]!, people[4]!]));
    assert.deepEqual(await search(s, { emailPrefix: 'a', nameContains: 'smith' }), emails([people[1]!]));
    // Search text is data, not syntax.
    assert.deepEqual(await search(s, { nameContains: "%' OR 1=1 --" }), []);
    assert.deepEqual(await search(s, { emailPrefix: '%' }), []);
    await s.close();
  });

  test('roles change, accounts are disabled and enabled again, and disabledAt keeps the first instant', async () => {
    const s = await make();
    const u = user('bob@example.com');
    await s.users.create(u);
    const promoted = await s.userAdmin.setRole(u.id, 'admin', 2_000);
    assert.deepEqual(promoted, { ok: true, user: { ...u, role: 'admin', updatedAt: 2_000 } });
    assert.equal(await s.userAdmin.countAdmins(), 1);

    await s.users.create(user('root@example.com', 1_000, { role: 'admin' }));
    const disabled = await s.userAdmin.setDisabled(u.id, true, 3_000);
    assert.equal(disabled.ok && disabled.user.disabledAt, 3_000);
    const again = await s.userAdmin.setDisabled(u.id, true, 4_000);
    assert.equal(again.ok && again.user.disabledAt, 3_000, 'a second disable keeps the first instant');
    assert.equal((await s.users.getById(u.id))?.disabledAt, 3_000);
    assert.equal(await s.userAdmin.countAdmins(), 1, 'a disabled admin does not count');

    const enabled = await s.userAdmin.setDisabled(u.id, false, 5_000);
    assert.deepEqual(enabled, { ok: true, user: { ...u, role: 'admin', updatedAt: 5_000 } });
    assert.equal('disabledAt' in (await s.users.getById(u.id))!, false);
    assert.equal(await s.userAdmin.countAdmins(), 2);

    for (const change of [
      s.userAdmin.setRole(newId('usr'), 'admin', 1),
      s.userAdmin.setDisabled(newId('usr'), true, 1),
      s.userAdmin.delete(newId('usr')),
    ]) {
      assert.deepEqual(await change, { ok: false, code: 'NOT_FOUND' });
    }
    await s.close();
  });

  test('a disabled account round-trips through create (import keeps it disabled)', async () => {
    const s = await make();
    const u = user('off@example.com', 1_000, { disabledAt: 1_500 });
    await s.users.create(u);
    assert.deepEqual(await s.users.getById(u.id), u);
    await s.close();
  });

  test('deleting an account removes it and its refresh tokens, and nobody else’s', async () => {
    const s = await make();
    const gone = user('gone@example.com');
    const kept = user('kept@example.com');
    await s.users.create(gone);
    await s.users.create(kept);
    const base = { createdAt: 1, familyCreatedAt: 1 };
    await s.refreshTokens.insert({ ...base, tokenHash: 'g1', familyId: 'fam_g', userId: gone.id });
    await s.refreshTokens.insert({ ...base, tokenHash: 'g2', familyId: 'fam_g', userId: gone.id });
    await s.refreshTokens.insert({ ...base, tokenHash: 'k1', familyId: 'fam_k', userId: kept.id });

    assert.deepEqual(await s.userAdmin.delete(gone.id), { ok: true, user: gone });
    assert.equal(await s.users.getById(gone.id), undefined);
    assert.equal(await s.users.getByEmailKey('gone@example.com'), undefined);
    assert.equal(await s.refreshTokens.get('g1'), undefined);
    assert.equal(await s.refreshTokens.get('g2'), undefined);
    assert.equal((await s.refreshTokens.get('k1'))?.userId, kept.id);
    assert.equal(await s.users.count(), 1);
    // The address is free again.
    assert.equal(await s.users.create(user('gone@example.com')), 'created');
    assert.deepEqual(await s.userAdmin.delete(gone.id), { ok: false, code: 'NOT_FOUND' });
    await s.close();
  });

  test('the last enabled admin cannot be demoted, disabled or deleted; with another admin it can', async () => {
    const s = await make();
    const only = user('only@example.com', 1_000, { role: 'admin' });
    await s.users.create(only);
    const refused = { ok: false, code: 'LAST_ADMIN' };
    assert.deepEqual(await s.userAdmin.setRole(only.id, 'user', 2_000), refused);
    assert.deepEqual(await s.userAdmin.setDisabled(only.id, true, 2_000), refused);
    assert.deepEqual(await s.userAdmin.delete(only.id), refused);
    assert.deepEqual(await s.users.getById(only.id), only, 'a refusal writes nothing');
    // Changes that keep the admin are fine.
    assert.equal((await s.userAdmin.setRole(only.id, 'admin', 2_000)).ok, true);
    assert.equal((await s.userAdmin.setDisabled(only.id, false, 2_000)).ok, true);

    // A disabled admin is no second admin.
    const dormant = user('dormant@example.com', 1_000, { role: 'admin', disabledAt: 1_500 });
    await s.users.create(dormant);
    assert.deepEqual(await s.userAdmin.setRole(only.id, 'user', 3_000), refused);
    // …and can be deleted or demoted freely.
    assert.equal((await s.userAdmin.setRole(dormant.id, 'user', 3_000)).ok, true);

    const second = user('second@example.com', 1_000, { role: 'admin' });
    await s.users.create(second);
    assert.equal((await s.userAdmin.setRole(only.id, 'user', 4_000)).ok, true);
    assert.deepEqual(await s.userAdmin.delete(second.id), refused);
    assert.equal(await s.userAdmin.countAdmins(), 1);
    await s.close();
  });

  test('of admins demoting, disabling and deleting one another at once, exactly one admin is left', async () => {
    const s = await make();
    const admins = Array.from({ length: 8 }, (_, i) =>
      user(`admin${i}@example.com`, 1_000, { role: 'admin' }),
    );
    for (const a of admins) await s.users.create(a);
    const results = await Promise.all(
      admins.map((a, i) =>
        i % 3 === 0
          ? s.userAdmin.setRole(a.id, 'user', 2_000)
          : i % 3 === 1
            ? s.userAdmin.setDisabled(a.id, true, 2_000)
            : s.userAdmin.delete(a.id),
      ),
    );
    assert.equal(results.filter((r) => r.ok).length, admins.length - 1);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [{ ok: false, code: 'LAST_ADMIN' }],
    );
    assert.equal(await s.userAdmin.countAdmins(), 1);
    await s.close();
  });
}
