import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type PostgresServer, startPostgres } from '../../../test/harness/postgres.ts';
import { tempDir } from './helpers.ts';
import { type ServeProcess, startServe } from './process.ts';

/**
 * Moving a deployment from SQLite to PostgreSQL with `rampart migrate`, `rampart export` and
 * `rampart import`, through real processes: after the move, the same accounts log in, the same
 * API keys, access tokens and refresh tokens work, revocations still hold, and the JWKS and the
 * audit trail are the ones of before.
 */

const BIN = new URL('../bin/rampart.js', import.meta.url).pathname;
const PASSWORD = 'correct horse battery staple';

let postgres: PostgresServer;
const started: ServeProcess[] = [];

before(async () => {
  postgres = await startPostgres();
});

after(async () => {
  for (const server of started) {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }
  await postgres?.destroy();
});

const cli = (args: string[], env: Record<string, string>, input?: string) =>
  spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
    ...(input !== undefined ? { input } : {}),
  });

async function call(
  server: ServeProcess,
  method: string,
  path: string,
  options: { body?: unknown; bearer?: string; key?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  if (options.key) headers['x-api-key'] = options.key;
  const res = await fetch(server.url + path, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function stop(server: ServeProcess) {
  server.child.kill('SIGTERM');
  await server.exited;
}

test('a SQLite deployment moved to PostgreSQL keeps its accounts, keys, sessions, revocations, signing keys and audit trail', async () => {
  const oldDir = tempDir();
  // One issuer, named in the config as a cluster must: the tokens the SQLite server issued
  // are accepted by the PostgreSQL one.
  const configFile = join(tempDir(), 'config.json');
  writeFileSync(configFile, JSON.stringify({ tokens: { issuer: 'https://auth.example.test' } }));
  const sqlite = await startServe({ RAMPART_DATA_DIR: oldDir, RAMPART_CONFIG: configFile });
  started.push(sqlite);
  const adminKey = readFileSync(join(oldDir, 'admin-key'), 'utf8').trim();
  assert.equal(
    (
      await call(sqlite, 'POST', '/v1/auth/register', {
        body: { email: 'ada@example.com', password: PASSWORD, name: 'Ada Lovelace' },
      })
    ).status,
    201,
  );
  const login = async (server: ServeProcess) =>
    (await call(server, 'POST', '/v1/auth/login', { body: { email: 'ada@example.com', password: PASSWORD } }))
      .json as { access_token: string; refresh_token: string };
  const kept = await login(sqlite);
  const ended = await login(sqlite);
  assert.equal(
    (await call(sqlite, 'POST', '/v1/auth/logout', { bearer: ended.access_token, body: {} })).status,
    204,
  );
  const key = await call(sqlite, 'POST', '/v1/keys', {
    bearer: kept.access_token,
    body: { name: 'ci', scopes: ['read'] },
  });
  assert.equal(key.status, 201);
  const jwksBefore = (await call(sqlite, 'GET', '/.well-known/jwks.json')).json;
  await stop(sqlite);

  // To stdout, secrets (password hashes, signing keys) come only on request: this goes into a pipe.
  const exported = cli(['export', '--include-secrets'], { RAMPART_DATA_DIR: oldDir });
  assert.equal(exported.status, 0, exported.stderr);
  const lines = exported.stdout.trim().split('\n');
  assert.equal(JSON.parse(lines[0]!).source, 'sqlite');
  const end = JSON.parse(lines.at(-1)!) as { kind: string; counts: Record<string, number> };
  assert.equal(end.kind, 'end');
  assert.equal(end.counts.user, 1);
  assert.equal(end.counts.apiKey, 2);
  assert.equal(end.counts.signingKey, 1);
  assert.ok(end.counts.refreshToken >= 2 && end.counts.ttl >= 2 && end.counts.auditEvent >= 3);
  assert.ok(!exported.stdout.includes(adminKey), 'the export holds hashes, never a key');

  const databaseUrl = await postgres.createDatabase();
  const target = { DATABASE_URL: databaseUrl, RAMPART_DATA_DIR: tempDir() };
  const migrated = cli(['migrate', '--json'], target);
  assert.equal(migrated.status, 0, migrated.stderr);
  assert.ok(JSON.parse(migrated.stdout).applied.includes('001_users'));
  assert.deepEqual(JSON.parse(cli(['migrate', '--json'], target).stdout).applied, []);

  // A cut-off export is refused rather than half-imported unnoticed.
  const cut = cli(['import'], target, lines.slice(0, -1).join('\n'));
  assert.notEqual(cut.status, 0);
  assert.match(cut.stderr, /end line/);
  const fresh = { ...target, DATABASE_URL: await postgres.createDatabase() };
  const imported = cli(['import'], fresh, exported.stdout);
  assert.equal(imported.status, 0, imported.stderr);
  assert.notEqual(
    cli(['import'], fresh, exported.stdout).status,
    0,
    'a second import into filled storage is refused',
  );

  // The pepper comes along outside the database, as the docs say.
  const pepper = readFileSync(join(oldDir, 'pepper'), 'utf8');
  const onPostgres = await startServe({
    ...fresh,
    RAMPART_API_KEY_PEPPER: pepper,
    RAMPART_CONFIG: configFile,
  });
  started.push(onPostgres);
  assert.deepEqual((await call(onPostgres, 'GET', '/.well-known/jwks.json')).json, jwksBefore);
  assert.equal((await call(onPostgres, 'GET', '/api/protected', { bearer: kept.access_token })).status, 200);
  assert.equal((await call(onPostgres, 'GET', '/api/protected', { bearer: ended.access_token })).status, 401);
  assert.equal((await call(onPostgres, 'GET', '/v1/me', { key: key.json.key })).status, 200);
  assert.equal((await call(onPostgres, 'GET', '/v1/keys', { key: adminKey })).status, 200);
  const refreshed = await call(onPostgres, 'POST', '/v1/auth/refresh', {
    body: { refresh_token: kept.refresh_token },
  });
  assert.equal(refreshed.status, 200);
  assert.equal(
    (await call(onPostgres, 'POST', '/v1/auth/refresh', { body: { refresh_token: ended.refresh_token } }))
      .status,
    401,
  );
  assert.equal((await login(onPostgres)).access_token.split('.').length, 3);
  const audit = await call(onPostgres, 'GET', '/v1/audit?type=user_created', { key: adminKey });
  assert.equal(audit.json.events.length, 1);
  await stop(onPostgres);

  // `--out` makes the file itself, readable by its owner only.
  const file = join(tempDir(), 'rampart.jsonl');
  assert.equal(cli(['export', '--out', file], fresh).status, 0);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!).source, 'postgres');
});

test('with DATABASE_URL and no tokens.issuer, the server refuses to start (hosts would split the cluster by issuer)', async () => {
  const run = cli(['serve'], {
    DATABASE_URL: await postgres.createDatabase(),
    RAMPART_API_KEY_PEPPER: 'ab'.repeat(32),
    RAMPART_DATA_DIR: tempDir(),
    PORT: '0',
  });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /tokens\.issuer: with DATABASE_URL every instance must name the same issuer/);
});

test('with DATABASE_URL and no pepper anywhere, the server refuses to start rather than make one of its own', async () => {
  const configFile = join(tempDir(), 'config.json');
  writeFileSync(configFile, JSON.stringify({ tokens: { issuer: 'https://auth.example.test' } }));
  const run = cli(['serve'], {
    RAMPART_CONFIG: configFile,
    DATABASE_URL: await postgres.createDatabase(),
    RAMPART_DATA_DIR: tempDir(),
    PORT: '0',
  });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /RAMPART_API_KEY_PEPPER/);
});
