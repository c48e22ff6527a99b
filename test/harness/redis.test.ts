import assert from 'node:assert/strict';
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
