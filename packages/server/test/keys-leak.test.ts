import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type TestServer, testServer } from './helpers.ts';

/**
 * No plaintext key at rest or in the logs: a server on SQLite creates, uses, rotates, verifies,
 * mistypes and revokes keys (the bootstrap admin key included), then every file of the data
 * dir (database, -wal, -shm and the rest) and the whole log output are searched for every
 * key and for every key's secret part. Only hashes may be there.
 */

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const BOOTSTRAP = 'bootstrap-admin-key-for-the-leak-test-0123456789';

/** Every file of the data dir and what it holds, as latin1 (byte-for-byte searchable). */
function dataFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isFile()) files.set(name, readFileSync(path).toString('latin1'));
  }
  return files;
}

function assertAbsent(where: Map<string, string>, secrets: string[]) {
  for (const [name, content] of where) {
    for (const secret of secrets) {
      assert.ok(!content.includes(secret), `${name} holds a plaintext key (${secret.slice(0, 12)}…)`);
    }
  }
}

test('no key created, rotated, used or revoked is ever found in the database files or the log', async () => {
  const s = await testServer({ storage: 'sqlite', env: { RAMPART_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP } });
  servers.push(s);
  const admin = { 'x-api-key': BOOTSTRAP };
  const keys: string[] = [BOOTSTRAP];
  const create = async (payload: Record<string, unknown>) => {
    const res = await s.app.inject({ method: 'POST', url: '/v1/keys', headers: admin, payload });
    assert.equal(res.statusCode, 201, res.body);
    keys.push(res.json().key);
    return res.json() as { id: string; key: string };
  };

  const plain = await create({
    name: 'plain',
    scopes: ['keys:write'],
    ownerId: 'usr_leakOwner0000000000000',
  });
  const metered = await create({
    name: 'metered',
    scopes: [],
    ownerId: null,
    credits: { remaining: 3, refill: { amount: 3, interval: '1h' } },
    rateLimit: { limit: 100, window: '1m' },
    metadata: { note: 'metadata is stored, keys are not' },
  });
  const verifier = await create({ name: 'verifier', scopes: ['keys:verify'], ownerId: null });

  // Use every key through both headers, and mistype them.
  for (const key of [...keys]) {
    for (const headers of [{ 'x-api-key': key }, { authorization: `Bearer ${key}` }]) {
      await s.app.inject({ method: 'GET', url: '/v1/keys', headers });
    }
    await s.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': `${key.slice(0, -1)}Z` } });
    // A client that puts the key in the query string is refused, and the log keeps only the name.
    await s.app.inject({ method: 'GET', url: `/v1/keys?api_key=${key}` });
    await s.app.inject({
      method: 'POST',
      url: '/v1/keys/verify',
      headers: { 'x-api-key': verifier.key },
      payload: { key },
    });
    // A verify body with an extra field is refused by validation: the event names fields, never values.
    await s.app.inject({
      method: 'POST',
      url: '/v1/keys/verify',
      headers: { 'x-api-key': verifier.key },
      payload: { key, extra: key },
    });
  }
  for (let i = 0; i < 4; i++)
    await s.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': metered.key } });

  const rotated = await s.app.inject({
    method: 'POST',
    url: `/v1/keys/${plain.id}/rotate`,
    headers: admin,
    payload: { gracePeriod: '1h' },
  });
  keys.push(rotated.json().key);
  await s.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': rotated.json().key } });
  await s.app.inject({ method: 'DELETE', url: `/v1/keys/${metered.id}`, headers: admin });
  await s.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': metered.key } });

  // The secret part alone must not be there either (a key stored without its prefix is still a key).
  const secrets = [
    ...keys,
    ...keys.filter((k) => k.startsWith('rk_live_')).map((k) => k.slice('rk_live_'.length)),
  ];
  assert.equal(keys.length, 5);

  await s.context.audit.flush();
  const live = dataFiles(s.dataDir);
  assert.ok(live.has('rampart.db') && live.has('rampart.db-wal'), [...live.keys()].join());
  assertAbsent(live, secrets);
  // What is stored is the HMAC: the key's record is there, by id.
  assert.ok([...live.values()].some((c) => c.includes(plain.id)));

  await s.close();
  assertAbsent(dataFiles(s.dataDir), secrets);
  const log = s.logText();
  assert.ok(log.includes('"security_event"') && log.includes(plain.id), 'the log did record the activity');
  assertAbsent(new Map([['log', log]]), secrets);
});
