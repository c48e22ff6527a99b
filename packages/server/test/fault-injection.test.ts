import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers.ts';
import { startServe } from './process.ts';

/**
 * `kill -9` of a real `rampart serve` in the middle of a stream of acknowledged writes (users
 * registered, API keys created): after a restart on the same data dir, every write that got
 * its 201 is there.
 */
test('every acknowledged write survives kill -9 of the server', async () => {
  const dataDir = tempDir();
  const admin = `bootstrap-admin-${'k'.repeat(40)}`;
  const config = join(dataDir, 'config.json');
  writeFileSync(config, JSON.stringify({ rateLimit: { default: { limit: 1_000_000, window: '1m' } } }));
  const env = { RAMPART_DATA_DIR: dataDir, RAMPART_BOOTSTRAP_ADMIN_KEY: admin, RAMPART_CONFIG: config };
  const first = await startServe(env);
  const post = (url: string, path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': admin },
      body: JSON.stringify(body),
    });

  const users: string[] = [];
  const keys: string[] = [];
  let stop = false;
  const writer = async (n: number) => {
    for (let i = 0; !stop; i++) {
      try {
        if (i % 2 === 0) {
          const email = `w${n}-${i}@example.com`;
          const res = await fetch(`${first.url}/v1/auth/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email, password: 'correct horse battery staple', name: 'Writer' }),
          });
          if (res.status === 201) users.push(email);
          await res.arrayBuffer();
        } else {
          const res = await post(first.url, '/v1/keys', { name: `k${n}-${i}`, scopes: ['read'] });
          if (res.status === 201) keys.push(((await res.json()) as { key: string }).key);
          else await res.arrayBuffer();
        }
      } catch {
        return; // the connection died with the server: that write was never acknowledged
      }
    }
  };
  const writers = [writer(1), writer(2), writer(3)];
  while (users.length + keys.length < 40) await new Promise((r) => setTimeout(r, 20));
  first.child.kill('SIGKILL');
  stop = true;
  await first.exited;
  await Promise.all(writers);
  assert.ok(users.length > 0 && keys.length > 0);

  const second = await startServe(env);
  try {
    const lostUsers: string[] = [];
    for (const email of users) {
      const res = await fetch(`${second.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: 'correct horse battery staple' }),
      });
      if (res.status !== 200) lostUsers.push(email);
      await res.arrayBuffer();
    }
    const lostKeys: string[] = [];
    for (const key of keys) {
      const res = await post(second.url, '/v1/keys/verify', { key });
      const body = (await res.json()) as { valid: boolean };
      if (!body.valid) lostKeys.push(key.slice(0, 12));
    }
    assert.deepEqual(lostUsers, [], `${lostUsers.length} of ${users.length} acknowledged users lost`);
    assert.deepEqual(lostKeys, [], `${lostKeys.length} of ${keys.length} acknowledged keys lost`);
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
});
