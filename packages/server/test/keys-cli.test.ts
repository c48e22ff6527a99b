import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { API_KEY_REGEX } from 'rampart/internal/api-keys/index.ts';
import { type TestServer, tempDir, testServer } from './helpers.ts';

/**
 * `rampart keys` and `rampart audit` on a real data dir, as real processes: the key is printed
 * once, tables and JSON never show it again, and a server on the same data dir agrees.
 */

const BIN = new URL('../bin/rampart.js', import.meta.url).pathname;
const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

function rampart(dataDir: string, ...args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, RAMPART_DATA_DIR: dataDir },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('keys create prints the key once; list, rotate, revoke and audit work on the data dir and never show it again', async () => {
  const dataDir = tempDir();
  const created = rampart(
    dataDir,
    'keys',
    'create',
    '--name',
    'deploy bot',
    '--scopes',
    'keys:write,orders:read',
    '--owner',
    'usr_cliOwner000000000000000',
    '--json',
  );
  assert.equal(created.code, 0, created.stderr);
  const made = JSON.parse(created.stdout);
  assert.match(made.key, new RegExp(`^${API_KEY_REGEX.source}$`));
  assert.deepEqual(made.scopes, ['keys:write', 'orders:read']);
  assert.equal(made.hash, undefined);

  const text = rampart(dataDir, 'keys', 'create', '--name', 'plain', '--expires', '30d');
  assert.equal(text.code, 0, text.stderr);
  const plainKey = text.stdout.match(new RegExp(API_KEY_REGEX.source, 'g'));
  assert.equal(plainKey?.length, 1, 'the key appears exactly once');
  assert.equal(text.stderr, '');

  const table = rampart(dataDir, 'keys', 'list');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ID\s+NAME\s+HINT\s+OWNER\s+SCOPES\s+STATUS/);
  assert.ok(table.stdout.includes(made.id) && table.stdout.includes('deploy bot'));
  const listed = JSON.parse(rampart(dataDir, 'keys', 'list', '--json').stdout);
  assert.equal(listed.keys.length, 2);
  for (const k of listed.keys) {
    assert.equal(k.key, undefined);
    assert.equal(k.hash, undefined);
  }

  const rotated = JSON.parse(rampart(dataDir, 'keys', 'rotate', made.id, '--grace', '1h', '--json').stdout);
  assert.equal(rotated.rotatedFrom, made.id);
  assert.match(rotated.key, new RegExp(API_KEY_REGEX.source));
  const plainId = listed.keys.find((k: { name: string }) => k.name === 'plain').id;
  const revoke = rampart(dataDir, 'keys', 'revoke', plainId);
  assert.equal(revoke.code, 0, revoke.stderr);

  const audit = rampart(dataDir, 'audit', '--json');
  const types = JSON.parse(audit.stdout).events.map(
    (e: { type: string; actor: string }) => `${e.type}:${e.actor}`,
  );
  assert.deepEqual(types, ['key_revoked:cli', 'key_rotated:cli', 'key_created:cli', 'key_created:cli']);
  const filtered = JSON.parse(rampart(dataDir, 'audit', '--type', 'key_created', '--json').stdout);
  assert.equal(filtered.events.length, 2);
  assert.match(rampart(dataDir, 'audit').stdout, /^AT\s+TYPE\s+OUTCOME\s+ACTOR/);
  for (const out of [table.stdout, audit.stdout, JSON.stringify(listed)]) {
    for (const key of [made.key, plainKey![0], rotated.key]) assert.ok(!out.includes(key));
  }

  // A server on the same data dir agrees: the rotated key and its grace, the revoked one refused.
  const s = await testServer({ storage: 'sqlite', env: { RAMPART_DATA_DIR: dataDir } });
  servers.push(s);
  const use = (key: string) =>
    s.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': key } });
  assert.equal((await use(rotated.key)).statusCode, 200);
  assert.equal((await use(made.key)).statusCode, 200, 'the old key lives through its grace period');
  assert.equal((await use(plainKey![0])).statusCode, 401);
});

test('usage mistakes exit 2 with the usage, failures exit 1, and neither prints a key', () => {
  const dataDir = tempDir();
  for (const args of [
    ['keys'],
    ['keys', 'explode'],
    ['keys', 'create'],
    ['keys', 'create', '--name', 'x', '--scopes', 'keys:*'],
    ['keys', 'create', '--name', 'x', '--rate-limit', 'lots'],
    ['keys', 'create', '--name', 'x', '--unknown-flag'],
    ['keys', 'revoke', 'not-an-id'],
    ['keys', 'rotate', 'key_0000000000000000000000', '--grace', '90d'],
    ['audit', '--limit', '0'],
    ['audit', '--since', 'last tuesday'],
  ]) {
    const run = rampart(dataDir, ...args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /^rampart: /);
    assert.match(run.stderr, /See "rampart (keys|audit) --help"/);
    assert.ok(!API_KEY_REGEX.test(run.stdout + run.stderr));
  }
  const missing = rampart(dataDir, 'keys', 'revoke', 'key_0000000000000000000000');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no key key_0000000000000000000000/);
  assert.match(rampart(dataDir, 'keys', '--help').stdout, /rampart keys create/);
});
