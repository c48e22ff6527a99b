import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type PostgresServer, startPostgres } from '../../../test/harness/postgres.ts';
import { type RedisServer, startRedis } from '../../../test/harness/redis.ts';
import { clockCheck, redactUrl } from '../src/cli/doctor.ts';
import { rampart, serveWith } from './cli.ts';
import { tempDir } from './helpers.ts';

/**
 * `rampart doctor` on a good and on broken setups, as a real process: one verdict per line,
 * exit 1 when any check fails, and never a secret in what it prints.
 */

let postgres: PostgresServer;
let redis: RedisServer;
let served: string; // a data dir after a real first start

before(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  served = tempDir();
  const server = await serveWith(['--port', '0', '--data-dir', served], {});
  await server.stop();
});
after(async () => {
  await redis?.stop();
  await postgres?.destroy();
});

const VERDICT_LINE = /^(ok|warn|fail) +\S/;

function lines(stdout: string) {
  const body = stdout.trimEnd().split('\n\n')[0]!.split('\n');
  for (const line of body) assert.match(line, VERDICT_LINE);
  return body;
}

test('a good SQLite setup after its first start: every check ok, exit 0', () => {
  const run = rampart(['doctor', '--port', '0'], { env: { RAMPART_DATA_DIR: served } });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const body = lines(run.stdout);
  for (const name of [
    'config',
    'node',
    'listen',
    'data dir',
    'admin key',
    'pepper',
    'signing keys',
    'sqlite',
    'clock',
  ]) {
    assert.ok(
      body.some((l) => new RegExp(`^ok +${name} `).test(l)),
      `${name} ok:\n${run.stdout}`,
    );
  }
  assert.match(run.stdout, /admin-key \(mode 0600\)/);
  assert.match(run.stdout, /\n\d+ ok, 0 warn, 0 fail\n$/);
});

test('a broken setup: each problem is a fail line naming it, exit 1', () => {
  const dataDir = tempDir();
  const good = rampart(['doctor', '--port', '0', '--data-dir', dataDir]);
  assert.equal(good.code, 0, good.stdout);
  writeFileSync(join(dataDir, 'admin-key'), 'x'.repeat(40));
  chmodSync(join(dataDir, 'admin-key'), 0o644);
  writeFileSync(join(dataDir, 'pepper'), 'v1:' + 'ab'.repeat(32));
  chmodSync(join(dataDir, 'pepper'), 0o640);
  chmodSync(dataDir, 0o755);
  const run = rampart(['doctor', '--port', '0'], {
    env: { RAMPART_DATA_DIR: dataDir, RAMPART_DATADIR: '/elsewhere' },
  });
  assert.equal(run.code, 1, run.stdout);
  const body = lines(run.stdout);
  assert.ok(
    body.some((l) => /^fail +admin key .*admin-key has mode 0644: others can read it; chmod 600/.test(l)),
    run.stdout,
  );
  assert.ok(
    body.some((l) => /^fail +pepper .*pepper has mode 0640/.test(l)),
    run.stdout,
  );
  assert.ok(
    body.some((l) => /^warn +data dir .*mode 0755/.test(l)),
    run.stdout,
  );
  assert.ok(
    body.some((l) =>
      /^warn +environment +RAMPART_DATADIR is not a Rampart variable; did you mean "RAMPART_DATA_DIR"\?/.test(
        l,
      ),
    ),
  );
  assert.ok(
    !run.stdout.includes('ab'.repeat(32)) && !run.stdout.includes('x'.repeat(40)),
    'no secret printed',
  );

  const config = join(dataDir, 'bad.json');
  writeFileSync(config, JSON.stringify({ rateLimit: { default: { limit: 0, window: '15m' } } }));
  const badConfig = rampart(['doctor', '--config', config], { env: { RAMPART_DATA_DIR: dataDir } });
  assert.equal(badConfig.code, 1);
  assert.match(badConfig.stdout, /^fail +config +--config .*rateLimit\.default\.limit/m);
});

test('PostgreSQL and Redis that answer are ok with the clock compared to theirs; ones that do not, fail', async () => {
  const databaseUrl = await postgres.createDatabase();
  const pepper = 'v1:' + 'cd'.repeat(32);
  const env = {
    RAMPART_DATA_DIR: tempDir(),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    RAMPART_API_KEY_PEPPER: pepper,
  };
  assert.equal(rampart(['migrate'], { env }).code, 0);
  const run = rampart(['doctor', '--port', '0'], { env });
  assert.equal(run.code, 0, run.stdout);
  const body = lines(run.stdout);
  assert.ok(
    body.some((l) => /^ok +postgres +postgres:\/\/127\.0\.0\.1:\d+\/\S+ answers/.test(l)),
    run.stdout,
  );
  assert.ok(
    body.some((l) => /^ok +postgres +schema: \d+ migrations applied/.test(l)),
    run.stdout,
  );
  assert.ok(
    body.some((l) => /^ok +redis +redis:\/\/127\.0\.0\.1:\d+ answers PING/.test(l)),
    run.stdout,
  );
  assert.ok(
    body.some((l) => /^ok +clock +within 1 s of PostgreSQL/.test(l)),
    run.stdout,
  );
  assert.ok(
    body.some((l) => /^ok +clock +within 1 s of Redis/.test(l)),
    run.stdout,
  );
  assert.ok(!run.stdout.includes('cd'.repeat(32)));

  const closed = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
  const down = rampart(['doctor', '--port', '0'], {
    env: {
      ...env,
      DATABASE_URL: `postgres://rampart:hunter2@127.0.0.1:${closed}/rampart`,
      REDIS_URL: `redis://:hunter2@127.0.0.1:${closed}`,
      RAMPART_PG_CONNECT_TIMEOUT: '1s',
    },
  });
  assert.equal(down.code, 1, down.stdout);
  assert.match(
    down.stdout,
    new RegExp(`^fail +postgres +postgres://127\\.0\\.0\\.1:${closed}/rampart does not answer`, 'm'),
  );
  assert.match(
    down.stdout,
    new RegExp(`^fail +redis +redis://127\\.0\\.0\\.1:${closed} does not answer`, 'm'),
  );
  assert.ok(!down.stdout.includes('hunter2'), 'credentials in URLs are never printed');

  const noPepper = rampart(['doctor', '--port', '0'], { env: { ...env, RAMPART_API_KEY_PEPPER: '' } });
  assert.match(noPepper.stdout, /^fail +pepper +DATABASE_URL needs RAMPART_API_KEY_PEPPER/m);
});

test('clockCheck: ok within 1 s, warn within 30 s, fail beyond; redactUrl drops credentials and query', () => {
  assert.equal(clockCheck('PostgreSQL', 10_500, 10_000, 10_200).verdict, 'ok');
  assert.equal(clockCheck('PostgreSQL', 20_000, 10_000, 10_000).verdict, 'warn');
  assert.equal(clockCheck('PostgreSQL', 0, 60_000, 60_000).verdict, 'fail');
  assert.match(clockCheck('Redis', 0, 60_000, 60_000).detail, /60000 ms ahead of Redis/);
  assert.equal(
    redactUrl('postgres://u:p@db.internal:5432/rampart?sslmode=require&password=x'),
    'postgres://db.internal:5432/rampart',
  );
  assert.equal(redactUrl('redis://:secret@cache:6379'), 'redis://cache:6379');
});
