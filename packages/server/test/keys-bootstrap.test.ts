import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type TestServer, tempDir, testServer } from './helpers.ts';
import { startServe } from './process.ts';

/**
 * The first admin credential (API.md): RAMPART_BOOTSTRAP_ADMIN_KEY when set and no admin key
 * exists; otherwise a generated admin key in `<data dir>/admin-key` (0600) whose path, and
 * only its path, is printed.
 */

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function start(dataDir: string, env: Record<string, string> = {}) {
  const s = await testServer({ storage: 'sqlite', env: { RAMPART_DATA_DIR: dataDir, ...env } });
  servers.push(s);
  return s;
}

const metrics = (s: TestServer, headers: Record<string, string>) =>
  s.app.inject({ method: 'GET', url: '/metrics', headers });

describe('first start without a bootstrap key', () => {
  test('writes an admin key to <data dir>/admin-key with mode 0600 and prints only the path', async () => {
    const dataDir = tempDir();
    const env = { RAMPART_DATA_DIR: dataDir };
    const first = await startServe(env);
    const path = join(dataDir, 'admin-key');
    const key = readFileSync(path, 'utf8').trim();
    assert.match(key, /^rk_live_[0-9A-Za-z]{49}$/);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const output = () => first.stdout() + first.stderr();
    assert.ok(output().includes(path), 'the path is printed');
    assert.ok(!output().includes(key), 'the key is not');
    assert.ok(!output().includes(key.slice(8)), 'nor its secret part');

    const res = await fetch(`${first.url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    await res.text();
    first.child.kill('SIGTERM');
    await first.exited;
    assert.ok(!output().includes(key));

    // Second start: an admin key exists, so nothing new is made, even once the file is gone.
    rmSync(path);
    const second = await startServe(env);
    assert.ok(!existsSync(path));
    assert.ok(!(second.stdout() + second.stderr()).includes('admin-key'));
    const again = await fetch(`${second.url}/metrics`, { headers: { 'x-api-key': key } });
    assert.equal(again.status, 200);
    await again.text();
    second.child.kill('SIGTERM');
    await second.exited;
  });
});

describe('RAMPART_BOOTSTRAP_ADMIN_KEY', () => {
  test('any text of 32+ characters becomes the admin key, through x-api-key and Bearer; a near miss is refused', async () => {
    const dataDir = tempDir();
    const bootstrap = 'Operator chose this: 7f3c9a-correct-horse-battery';
    const s = await start(dataDir, { RAMPART_BOOTSTRAP_ADMIN_KEY: bootstrap });
    assert.ok(!existsSync(join(dataDir, 'admin-key')), 'no generated key when one was given');
    // A Bearer value that is neither a JWT nor prefixed: still recognised as the bootstrap key.
    const safe = 'Operator-chose-this:7f3c9a-correct-horse-battery';
    const s2 = await start(tempDir(), { RAMPART_BOOTSTRAP_ADMIN_KEY: safe });
    assert.equal((await metrics(s2, { authorization: `Bearer ${safe}` })).statusCode, 200);
    assert.equal((await metrics(s, { 'x-api-key': bootstrap })).statusCode, 200);
    for (const wrong of [
      `${bootstrap.slice(0, -1)}X`,
      bootstrap.slice(0, -1),
      `${bootstrap} `.trimStart() + 'x',
    ]) {
      assert.equal((await metrics(s, { 'x-api-key': wrong })).statusCode, 401);
    }
    assert.equal((await metrics(s2, { authorization: `Bearer ${safe}x` })).statusCode, 401);

    // It shows as an ownerless admin key with a non-secret hint, and it can be revoked.
    const list = await s.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': bootstrap } });
    const [record] = list.json().keys;
    assert.equal(record.hint, 'bootstrap');
    assert.deepEqual(record.scopes, ['admin']);
    assert.equal(record.ownerId, null);
    assert.ok(!list.body.includes(bootstrap));
    const del = await s.app.inject({
      method: 'DELETE',
      url: `/v1/keys/${record.id}`,
      headers: { 'x-api-key': bootstrap },
    });
    assert.equal(del.statusCode, 204);
    assert.equal((await metrics(s, { 'x-api-key': bootstrap })).statusCode, 401);
    await s.close();

    // Restarted with the same value: a revoked bootstrap key stays revoked; with no admin left,
    // a generated key is written to the file instead.
    const restarted = await start(dataDir, { RAMPART_BOOTSTRAP_ADMIN_KEY: bootstrap });
    assert.equal((await metrics(restarted, { 'x-api-key': bootstrap })).statusCode, 401);
    const generated = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    assert.equal((await metrics(restarted, { 'x-api-key': generated })).statusCode, 200);
    assert.ok(!restarted.logText().includes(bootstrap) && !s.logText().includes(bootstrap));
  });

  test('is ignored when an admin key already exists', async () => {
    const dataDir = tempDir();
    const first = await start(dataDir);
    const generated = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    await first.close();
    const bootstrap = 'late-bootstrap-key-that-must-not-work-0123';
    const s = await start(dataDir, { RAMPART_BOOTSTRAP_ADMIN_KEY: bootstrap });
    assert.equal((await metrics(s, { 'x-api-key': bootstrap })).statusCode, 401);
    assert.equal((await metrics(s, { 'x-api-key': generated })).statusCode, 200);
    assert.match(s.logText(), /RAMPART_BOOTSTRAP_ADMIN_KEY is ignored/);
  });

  test('a bootstrap key that starts with the key prefix works through Bearer too', async () => {
    const bootstrap = 'rk_live_this-is-my-own-bootstrap-secret-42';
    const s = await start(tempDir(), { RAMPART_BOOTSTRAP_ADMIN_KEY: bootstrap });
    assert.equal((await metrics(s, { authorization: `Bearer ${bootstrap}` })).statusCode, 200);
    assert.equal((await metrics(s, { 'x-api-key': bootstrap })).statusCode, 200);
  });

  test('rotating the bootstrap key yields a regular key and ends the bootstrap one', async () => {
    const bootstrap = 'rotate-me-bootstrap-key-000000000000000';
    const s = await start(tempDir(), { RAMPART_BOOTSTRAP_ADMIN_KEY: bootstrap });
    const [record] = (
      await s.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': bootstrap } })
    ).json().keys;
    const res = await s.app.inject({
      method: 'POST',
      url: `/v1/keys/${record.id}/rotate`,
      headers: { 'x-api-key': bootstrap },
      payload: {},
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.match(res.json().key, /^rk_live_[0-9A-Za-z]{49}$/);
    assert.deepEqual(res.json().scopes, ['admin']);
    assert.equal((await metrics(s, { 'x-api-key': bootstrap })).statusCode, 401);
    assert.equal((await metrics(s, { 'x-api-key': res.json().key })).statusCode, 200);
  });
});
