import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { type PostgresServer, startPostgres } from '../../../test/harness/postgres.ts';
import { loadConfig } from '../src/server/config.ts';
import { createRampartServer, type RampartServer } from '../src/server/server.ts';
import { postgresStorage } from '../src/storage/postgres.ts';
import { call, creditRace, key, xApiKey } from './admin-helpers.ts';
import type { TestServer } from './helpers.ts';
import { tempDir } from './helpers.ts';

/**
 * The admin plane on a real PostgreSQL, two server instances on one database (as two
 * machines): credits raised and spent through HTTP race exactly, and usage written by both
 * instances sums exactly to the calls made, by outcome.
 */

const ADMIN = 'admin-postgres-bootstrap-admin-key-0123456789';
const PEPPER = 'beef'.repeat(16);
let postgres: PostgresServer;
let databaseUrl: string;
const servers: RampartServer[] = [];

async function instance(): Promise<TestServer> {
  const dataDir = tempDir();
  const env = {
    RAMPART_DATA_DIR: dataDir,
    RAMPART_BOOTSTRAP_ADMIN_KEY: ADMIN,
  };
  const config = loadConfig(env, dataDir);
  config.rateLimit.default.limit = 100_000;
  // 110 spends of one balance queue on its row lock and on the pool; on a loaded machine the
  // last ones wait seconds, which the default timeouts (5 s a statement, 2 s for a pooled
  // connection) would turn into 503s. The test is about exactness, not latency.
  const storage = await postgresStorage({
    connectionString: databaseUrl,
    statementTimeoutMs: 60_000,
    connectTimeoutMs: 60_000,
  });
  const server = await createRampartServer(config, {
    storage,
    logStream: new PassThrough().resume(),
    env: { RAMPART_API_KEY_PEPPER: PEPPER },
    routes: (app, ctx) => {
      app.get('/t', { onRequest: ctx.protect() }, async () => ({ ok: true }));
    },
  });
  servers.push(server);
  return { ...server, dataDir, logs: () => [], logText: () => '' };
}

before(async () => {
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase();
});
after(async () => {
  for (const s of servers) await s.close();
  await postgres?.destroy();
});

describe('the admin plane on PostgreSQL', () => {
  test('100 parallel spends after incrementing credits by 100 give exactly 100 successes', async () => {
    const s = await instance();
    await creditRace(s, ADMIN);
  });

  test('usage written by two instances sums exactly to the calls made, by outcome', async () => {
    const [a, b] = [await instance(), await instance()];
    const identity = await call(a, 'POST', '/v1/identities', ADMIN, {
      externalId: 'two-instances',
      name: 'Two',
    });
    assert.equal(identity.status, 201, identity.body);
    const identityId = identity.json().id as string;
    const k = await key(a, ADMIN, { name: 'scripted', scopes: ['read'], identityId });
    const other = await key(b, ADMIN, { name: 'other', scopes: [], identityId });
    const script: Array<[TestServer, Record<string, unknown>, number]> = [
      [a, { key: k.key }, 23],
      [b, { key: k.key }, 17],
      [a, { key: k.key, scope: 'write' }, 4],
      [b, { key: k.key, scope: 'write' }, 6],
      [b, { key: other.key }, 9],
    ];
    await Promise.all(
      script.flatMap(([server, body, times]) =>
        Array.from({ length: times }, () => call(server, 'POST', '/v1/keys/verify', ADMIN, body)),
      ),
    );
    // Through real traffic too: the route's own verification counts.
    for (let i = 0; i < 5; i++)
      assert.equal((await call(b, 'GET', '/t', undefined, undefined, xApiKey(k.key))).status, 200);
    await Promise.all([a.context.usage.flush(), b.context.usage.flush()]);
    const byKey = await call(b, 'GET', `/v1/keys/${k.id}/usage?granularity=minute`, ADMIN);
    assert.equal(byKey.status, 200, byKey.body);
    assert.deepEqual(byKey.json().outcomes, { VALID: 23 + 17 + 5, INSUFFICIENT_SCOPE: 10 });
    assert.equal(byKey.json().total, 55);
    const byIdentity = await call(a, 'GET', `/v1/identities/${identityId}/usage?granularity=hour`, ADMIN);
    assert.deepEqual(byIdentity.json().outcomes, { VALID: 45 + 9, INSUFFICIENT_SCOPE: 10 });
    const days = await call(a, 'GET', `/v1/keys/${other.id}/usage?granularity=day`, ADMIN);
    assert.equal(days.json().total, 9);
  });
});
