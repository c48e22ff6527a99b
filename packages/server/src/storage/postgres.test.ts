import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { RampartError } from 'rampart/internal/errors.ts';
import { type PostgresServer, startPostgres } from '../../../../test/harness/postgres.ts';
import { runSharedDatabaseContract, runSigningKeyStoreContract, runStorageContract } from './contract.ts';
import { migratePostgres, type PostgresStorage, postgresStorage } from './postgres.ts';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.ts';

/**
 * The one storage contract on a real PostgreSQL (started by the harness, one database per
 * test so each starts empty), plus what only PostgreSQL has: migrations under an advisory
 * lock, and a lost database answered as STORE_UNAVAILABLE within the configured bounds.
 */

let server: PostgresServer;
const opened: PostgresStorage[] = [];

before(async () => {
  server = await startPostgres();
});

after(async () => {
  for (const s of opened) await Promise.resolve(s.close()).catch(() => {});
  await server?.destroy();
});

async function fresh(
  options: { poolSize?: number; statementTimeoutMs?: number } = {},
): Promise<PostgresStorage> {
  const storage = await postgresStorage({ connectionString: await server.createDatabase(), ...options });
  opened.push(storage);
  return storage;
}

runStorageContract('postgres', () => fresh());
// Two pools on one database, as two instances of a deployment open it.
runSharedDatabaseContract('postgres', async () => {
  const url = await server.createDatabase();
  const a = await postgresStorage({ connectionString: url });
  const b = await postgresStorage({ connectionString: url });
  opened.push(a, b);
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});
runSigningKeyStoreContract('postgres', async () => {
  const storage = await fresh();
  return { store: storage.signingKeys, close: () => storage.close() };
});

describe('postgres only', () => {
  test('instances starting together apply each migration once (advisory lock)', async () => {
    const url = await server.createDatabase();
    const pools = Array.from({ length: 5 }, () => new pg.Pool({ connectionString: url, max: 2 }));
    try {
      const applied = await Promise.all(pools.map((pool) => migratePostgres(pool)));
      const all = POSTGRES_MIGRATIONS.map((m) => m.id);
      assert.deepEqual(applied.flat().sort(), [...all].sort());
      assert.equal(applied.filter((a) => a.length === all.length).length, 1);
      const rows = (await pools[0]!.query('SELECT id FROM schema_migrations ORDER BY id')).rows;
      assert.deepEqual(
        rows.map((r) => r.id),
        [...all].sort(),
      );
      assert.deepEqual(await migratePostgres(pools[0]!), []);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  test('a text holding U+0000 matches nothing instead of failing the request', async () => {
    const s = await fresh();
    assert.equal(await s.users.getByEmailKey('a\u0000@example.com'), undefined);
    assert.equal(await s.ttl.take('reset:\u0000', 1), undefined);
    assert.equal((await s.audit.list({ limit: 5, actor: 'x\u0000' })).events.length, 0);
  });

  test('a statement over the statement timeout is STORE_UNAVAILABLE, and the pool still serves after', async () => {
    const s = await fresh({ statementTimeoutMs: 200 });
    const lock = await s.pool.connect();
    try {
      // Hold the row lock a credit spend needs: the spend waits, then the server cancels it.
      await s.apiKeys.insert({
        id: 'key_locked',
        hash: 'v1:locked',
        hint: 'x',
        prefix: 'rk_live_',
        name: 'locked',
        ownerId: null,
        scopes: [],
        createdAt: 1,
        expiresAt: null,
        lastUsedAt: null,
        revokedAt: null,
        metadata: {},
        credits: { remaining: 5 },
        rateLimit: null,
        rotatedFrom: null,
      });
      await lock.query('BEGIN');
      await lock.query("SELECT * FROM api_keys WHERE id = 'key_locked' FOR UPDATE");
      await assert.rejects(
        Promise.resolve(s.apiKeys.spendCredits('key_locked', 1, 2)),
        (error: unknown) =>
          error instanceof RampartError &&
          error.code === 'STORE_UNAVAILABLE' &&
          error.status === 503 &&
          error.headers['retry-after'] === '5',
      );
      await lock.query('ROLLBACK');
    } finally {
      lock.release();
    }
    assert.deepEqual(await s.apiKeys.spendCredits('key_locked', 1, 2), { allowed: true, remaining: 4 });
  });

  test('a stopped database answers STORE_UNAVAILABLE at once, and the same storage recovers when it is back', async () => {
    const s = await fresh();
    assert.equal(await s.users.count(), 0);
    await server.stop();
    try {
      const started = performance.now();
      for (const attempt of [() => s.users.count(), () => s.ping(), () => s.ttl.take('k', 1)]) {
        await assert.rejects(
          Promise.resolve(attempt()),
          (error: unknown) => error instanceof RampartError && error.code === 'STORE_UNAVAILABLE',
        );
      }
      // Within the connect timeout (2 s by default): a refused connection fails at once.
      assert.ok(performance.now() - started < 6_000);
    } finally {
      await server.start();
    }
    assert.equal(await s.users.count(), 0);
    await s.ping();
  });

  test('options are checked at creation, naming the field', async () => {
    await assert.rejects(postgresStorage({ connectionString: 'mysql://x' }), /connectionString/);
    await assert.rejects(postgresStorage({ connectionString: server.url, poolSize: 1 }), /poolSize/);
    await assert.rejects(
      postgresStorage({ connectionString: server.url, statementTimeoutMs: 0 }),
      /statementTimeoutMs/,
    );
  });

  test('an unreachable database stops the open with a message that names no password', async () => {
    const url = `postgres://rampart:s3cret-pw@127.0.0.1:${server.port + 1}/nowhere`;
    await assert.rejects(
      postgresStorage({ connectionString: url, connectTimeoutMs: 1_000 }),
      (error: Error) => {
        assert.match(error.message, /cannot reach PostgreSQL/);
        assert.ok(!error.message.includes('s3cret-pw'));
        return true;
      },
    );
  });
});
