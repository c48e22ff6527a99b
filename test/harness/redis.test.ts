import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startRedis } from './redis.ts';

test('the Redis harness starts a real server that stops, dies and restarts on the same port', async () => {
  const redis = await startRedis();
  assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  const client = new Redis(redis.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  try {
    await client.connect();
    assert.equal(await client.ping(), 'PONG');
    assert.equal(await client.config('GET', 'save').then((r) => (r as string[])[1]), '');

    await redis.kill();
    await assert.rejects(client.set('k', 'v'));

    await redis.restart();
    if (client.status !== 'ready') await once(client, 'ready');
    assert.equal(await client.ping(), 'PONG');

    await redis.stop();
    await redis.stop(); // stopping a stopped server is a no-op
  } finally {
    client.disconnect();
    await redis.stop();
  }
});

test('without redis-server the harness fails with the Debian package and the command to install it', () => {
  const script = `import('${new URL('./redis.ts', import.meta.url).href}').then((m) => m.startRedis()).then(
    () => process.exit(0),
    (e) => { console.log(e.message); process.exit(3); })`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, PATH: '/nonexistent' },
    encoding: 'utf8',
  });
  assert.equal(result.status, 3, result.stderr);
  assert.match(result.stdout, /Debian package "redis-server"/);
  assert.match(result.stdout, /apt-get install -y redis-server/);
});
