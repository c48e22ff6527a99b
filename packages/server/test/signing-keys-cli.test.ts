import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { tempDir } from './helpers.ts';
import { startServe } from './process.ts';

test('rampart signing-keys rotate: the running server publishes the new key and old tokens keep working', async () => {
  const dataDir = tempDir();
  const server = await startServe({ RAMPART_DATA_DIR: dataDir });
  try {
    const jwks = async () =>
      (
        (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as {
          keys: Array<{ kid: string }>;
        }
      ).keys;
    const before = await jwks();
    assert.equal(before.length, 1);
    const account = { email: 'rot@example.com', password: 'correct horse battery staple', name: 'Rotation' };
    await fetch(`${server.url}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(account),
    });
    const login = await fetch(`${server.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: account.email, password: account.password }),
    });
    const { access_token } = (await login.json()) as { access_token: string };

    const cli = spawnSync(
      process.execPath,
      [new URL('../bin/rampart.js', import.meta.url).pathname, 'signing-keys', 'rotate', '--json'],
      {
        env: { PATH: process.env.PATH, RAMPART_DATA_DIR: dataDir },
        encoding: 'utf8',
      },
    );
    assert.equal(cli.status, 0, cli.stderr);
    const { kid } = JSON.parse(cli.stdout) as { kid: string };
    assert.notEqual(kid, before[0]!.kid);

    let after = before;
    for (let i = 0; i < 100 && after.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await jwks();
    }
    assert.deepEqual(after.map((k) => k.kid).sort(), [before[0]!.kid, kid].sort());
    const res = await fetch(`${server.url}/api/protected`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    assert.equal(res.status, 200, 'a token signed by the previous key still verifies');
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});
