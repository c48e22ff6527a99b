import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type PostgresServer, startPostgres } from '../../../test/harness/postgres.ts';
import { type RedisServer, startRedis } from '../../../test/harness/redis.ts';
import { tempDir } from './helpers.ts';
import { type ServeProcess, startServe } from './process.ts';

/**
 * Three real `rampart serve` processes, each with its own data dir (as on three machines),
 * one real PostgreSQL and one real Redis: what one instance writes, revokes, counts or rotates,
 * the other two see. The one-second bound is the issue's; Redis pub/sub usually takes a few ms.
 */

const BIN = new URL('../bin/rampart.js', import.meta.url).pathname;
const ADMIN = 'multi-instance-bootstrap-admin-key-0123456789';
const PEPPER = 'c0ffee'.repeat(10) + 'abcd';
const PASSWORD = 'correct horse battery staple';

let postgres: PostgresServer;
let redis: RedisServer;
let databaseUrl: string;
let servers: ServeProcess[] = [];
let testNumber = 0;

before(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  databaseUrl = await postgres.createDatabase();
  const configDir = tempDir();
  const config = join(configDir, 'config.json');
  // Each test sends its own client address (through a trusted proxy header), so one test's
  // counters never meet another's; the default limit is raised out of the way.
  writeFileSync(
    config,
    JSON.stringify({
      trustProxy: ['127.0.0.1/32'],
      tokens: { issuer: 'https://auth.example.test' },
      // Exactness across instances holds while Redis answers within the store timeout; a loaded
      // test machine gets a generous one, so the local fallback never kicks in here.
      rateLimit: { default: { limit: 100_000, window: '15m' }, storeTimeout: '2s' },
    }),
  );
  const env = () => ({
    RAMPART_DATA_DIR: tempDir(),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    RAMPART_API_KEY_PEPPER: PEPPER,
    RAMPART_BOOTSTRAP_ADMIN_KEY: ADMIN,
    RAMPART_CONFIG: config,
  });
  // Started together: migrations, the first signing key and the admin key race on purpose.
  servers = await Promise.all([startServe(env()), startServe(env()), startServe(env())]);
});

after(async () => {
  for (const server of servers) {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }
  await redis?.stop();
  await postgres?.destroy();
});

interface Answer {
  status: number;
  json: ReturnType<typeof JSON.parse>;
  headers: Headers;
}

function client() {
  const ip = `203.0.113.${++testNumber}`;
  return async (
    server: ServeProcess,
    method: string,
    path: string,
    options: { body?: unknown; bearer?: string; key?: string } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = { 'x-forwarded-for': ip };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
    if (options.key) headers['x-api-key'] = options.key;
    const res = await fetch(server.url + path, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
}

async function account(call: ReturnType<typeof client>, on: ServeProcess, email: string) {
  const made = await call(on, 'POST', '/v1/auth/register', {
    body: { email, password: PASSWORD, name: 'Ada Lovelace' },
  });
  assert.equal(made.status, 201, JSON.stringify(made.json));
  return made.json as { id: string };
}

async function login(call: ReturnType<typeof client>, on: ServeProcess, email: string) {
  const res = await call(on, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json as { access_token: string; refresh_token: string };
}

/** Polls every server until `refused` says it refuses, failing one second after `since`. */
async function refusedEverywhereWithinOneSecond(
  since: number,
  attempt: (server: ServeProcess) => Promise<Answer>,
): Promise<void> {
  await Promise.all(
    servers.map(async (server, i) => {
      for (;;) {
        const res = await attempt(server);
        if (res.status === 401) return;
        assert.equal(res.status, 200);
        if (performance.now() - since > 1_000)
          assert.fail(`instance ${i} still accepted it after one second`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }),
  );
}

const jwks = async (server: ServeProcess) =>
  (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };

const kidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

describe('three instances, separate data dirs, one PostgreSQL, one Redis', () => {
  test('started together, they agree on one signing key and one bootstrap admin key', async () => {
    const sets = await Promise.all(servers.map(jwks));
    assert.equal(sets[0]!.keys.length, 1);
    assert.deepEqual(sets[1], sets[0]);
    assert.deepEqual(sets[2], sets[0]);
    const call = client();
    const keys = await call(servers[1]!, 'GET', '/v1/keys', { key: ADMIN });
    assert.equal(keys.status, 200);
    assert.equal(keys.json.keys.filter((k: { hint: string }) => k.hint === 'bootstrap').length, 1);
    for (const server of servers) {
      const ready = await call(server, 'GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.json.checks.storage, 'ok');
      assert.equal(ready.json.checks.redis, 'ok');
    }
  });

  test('register on one, log in on another, create a key on the third, revoke it on the first: refused everywhere within one second', async () => {
    const call = client();
    const [a, b, c] = servers as [ServeProcess, ServeProcess, ServeProcess];
    const user = await account(call, a, 'ada@example.com');
    const session = await login(call, b, 'ada@example.com');
    const created = await call(c, 'POST', '/v1/keys', {
      bearer: session.access_token,
      body: { name: 'shared', scopes: ['read'] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    // Every instance has now verified (and cached) the key: only the invalidation can drop it.
    for (const server of servers) {
      const me = await call(server, 'GET', '/v1/me', { key: created.json.key });
      assert.equal(me.status, 200);
      assert.equal(me.json.id, user.id);
    }
    const since = performance.now();
    const revoked = await call(a, 'DELETE', `/v1/keys/${created.json.id}`, { bearer: session.access_token });
    assert.equal(revoked.status, 204);
    await refusedEverywhereWithinOneSecond(since, (server) =>
      call(server, 'GET', '/v1/me', { key: created.json.key }),
    );
  });

  test('a token one instance issued works on the others, and a logout on one ends it everywhere within one second', async () => {
    const call = client();
    const [a, b, c] = servers as [ServeProcess, ServeProcess, ServeProcess];
    await account(call, b, 'grace@example.com');
    const session = await login(call, a, 'grace@example.com');
    for (const server of servers) {
      assert.equal(
        (await call(server, 'GET', '/api/protected', { bearer: session.access_token })).status,
        200,
      );
    }
    const since = performance.now();
    const out = await call(c, 'POST', '/v1/auth/logout', { bearer: session.access_token, body: {} });
    assert.equal(out.status, 204);
    await refusedEverywhereWithinOneSecond(since, (server) =>
      call(server, 'GET', '/api/protected', { bearer: session.access_token }),
    );
    // The family ended too: its refresh token is refused on every instance.
    assert.equal(
      (await call(b, 'POST', '/v1/auth/refresh', { body: { refresh_token: session.refresh_token } })).status,
      401,
    );
  });

  test('a refresh-token race spread over all three lets exactly one refresh win', async () => {
    const call = client();
    await account(call, servers[2]!, 'race@example.com');
    for (let round = 0; round < 3; round++) {
      const session = await login(call, servers[round]!, 'race@example.com');
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          call(servers[i % 3]!, 'POST', '/v1/auth/refresh', {
            body: { refresh_token: session.refresh_token },
          }),
        ),
      );
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 200).length, 1, `round ${round}: ${statuses.join(' ')}`);
      assert.equal(statuses.filter((s) => s === 401).length, 11, `round ${round}: ${statuses.join(' ')}`);
    }
  });

  test('the password-reset limit (5 an hour) holds across all three: exactly 5 of 15 per address, and per email', async () => {
    const byAddress = client();
    const results = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        byAddress(servers[i % 3]!, 'POST', '/v1/auth/password-reset', {
          body: { email: `nobody${i}@example.com` },
        }),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 202).length, 5, statuses.join(' '));
    assert.equal(statuses.filter((s) => s === 429).length, 10, statuses.join(' '));
    assert.ok(results.filter((r) => r.status === 429).every((r) => Number(r.headers.get('retry-after')) > 0));

    // One email from fifteen addresses: the per-email rule counts across instances too.
    const perEmail = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        client()(servers[i % 3]!, 'POST', '/v1/auth/password-reset', {
          body: { email: 'target@example.com' },
        }),
      ),
    );
    assert.equal(perEmail.filter((r) => r.status === 202).length, 5);
  });

  test('the audit trail is one: events written by each instance are read on any', async () => {
    const call = client();
    const [a, b, c] = servers as [ServeProcess, ServeProcess, ServeProcess];
    const user = await account(call, a, 'audit@example.com');
    const session = await login(call, b, 'audit@example.com');
    const created = await call(c, 'POST', '/v1/keys', {
      bearer: session.access_token,
      body: { name: 'audited', scopes: [] },
    });
    assert.equal(created.status, 201);
    const wanted = ['user_created', 'authn_login_success', 'key_created'];
    // Each instance writes its buffered events about once a second; every one reads them all.
    await Promise.all(
      servers.map(async (server, i) => {
        const deadline = performance.now() + 5_000;
        for (;;) {
          const page = await call(server, 'GET', `/v1/audit?actor=${user.id}&limit=50`, { key: ADMIN });
          assert.equal(page.status, 200);
          const types = new Set(page.json.events.map((e: { type: string }) => e.type));
          if (wanted.every((t) => types.has(t))) return;
          if (performance.now() > deadline)
            assert.fail(`instance ${i} misses ${wanted.filter((t) => !types.has(t)).join(', ')}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }),
    );
  });

  test('a signing key rotated once is published by all three within seconds, and signs everywhere once active', async () => {
    const call = client();
    await account(call, servers[0]!, 'rotate@example.com');
    const before = await login(call, servers[0]!, 'rotate@example.com');
    const cli = spawnSync(process.execPath, [BIN, 'signing-keys', 'rotate', '--json'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: databaseUrl,
        RAMPART_DATA_DIR: tempDir(),
      },
      encoding: 'utf8',
    });
    assert.equal(cli.status, 0, cli.stderr);
    const rotated = JSON.parse(cli.stdout) as { kid: string; activatesAt: string };
    // Published by every instance at its next read (every 5 s), before it signs anything.
    await Promise.all(
      servers.map(async (server) => {
        const deadline = performance.now() + 7_000;
        while (!(await jwks(server)).keys.some((k) => k.kid === rotated.kid)) {
          if (performance.now() > deadline) assert.fail('the new key was not published within 7 s');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }),
    );
    const wait = Date.parse(rotated.activatesAt) - Date.now() + 100;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    for (const [i, server] of servers.entries()) {
      const after = await login(call, server, 'rotate@example.com');
      assert.equal(kidOf(after.access_token), rotated.kid, `instance ${i} signs with the new key`);
      for (const other of servers) {
        assert.equal(
          (await call(other, 'GET', '/api/protected', { bearer: after.access_token })).status,
          200,
        );
        // Tokens signed with the previous key keep working until they expire.
        assert.equal(
          (await call(other, 'GET', '/api/protected', { bearer: before.access_token })).status,
          200,
        );
      }
    }
  });

  test('no process printed a key, a password or the database URL', () => {
    for (const server of servers) {
      const out = server.stdout() + server.stderr();
      assert.ok(!out.includes(ADMIN));
      assert.ok(!out.includes(PEPPER));
      assert.ok(!out.includes(PASSWORD));
      assert.ok(!out.includes(databaseUrl));
      assert.ok(!/rk_live_[0-9A-Za-z]{49}/.test(out));
    }
  });
});
