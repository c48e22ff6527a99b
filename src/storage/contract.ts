import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newId } from '../lib/ids.ts';
import type { AuditEvent, Storage, UserRecord } from './types.ts';

/**
 * The one contract every storage implementation passes. Each backend's test file calls this
 * with a factory that returns a fresh, empty storage.
 */
export function runStorageContract(name: string, make: () => Promise<Storage> | Storage): void {
  const user = (email: string, at = 1_000): UserRecord => ({
    id: newId('usr'),
    email,
    emailKey: email.toLowerCase(),
    name: 'Ada',
    role: 'user',
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    createdAt: at,
    updatedAt: at,
    notBefore: null,
  });
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
  });
}
