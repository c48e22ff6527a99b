/**
 * A limit shared by two `rampart serve` processes on one Redis stays exact with the DEFAULT
 * settings, on a machine that is not idle: 20 rounds of 60 simultaneous password resets split
 * across the two, exactly 5 accepted in every round, while both CPUs are kept busy by other
 * processes, and right after Redis was blocked for a few hundred milliseconds (`CLIENT PAUSE`,
 * the stall a fork or a failover causes). Before the resilient store, one slow reply flipped a
 * whole store to its per-instance fallback and a burst got 10 through where the rule says 5.
 * (Redis really stopped, and the fallback policy then, are in rate-limit.test.ts.)
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from '../../../test/harness/redis.ts';
import { type ServeProcess, startServe } from './process.ts';

let redis: RedisServer;
let client: Redis;
let a: ServeProcess;
let b: ServeProcess;

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  const dir = mkdtempSync(join(tmpdir(), 'rl-cluster-'));
  // Only the proxy is configured (each round comes from its own client address, so one
  // round's counters never meet another's); every rate-limit setting is the default.
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ trustProxy: ['127.0.0.1/32'] }));
  const env = (name: string) => ({
    RAMPART_DATA_DIR: mkdtempSync(join(tmpdir(), `rl-${name}-`)),
    RAMPART_CONFIG: join(dir, 'config.json'),
    REDIS_URL: redis.url,
  });
  [a, b] = await Promise.all([startServe(env('a')), startServe(env('b'))]);
});

after(async () => {
  for (const server of [a, b]) server?.child.kill('SIGTERM');
  await Promise.all([a?.exited, b?.exited]);
  client?.disconnect();
  await redis?.stop();
});

/** One round: 60 simultaneous resets for one address and one e-mail, half to each instance. */
async function round(n: number): Promise<number> {
  const ip = `198.51.${Math.floor(n / 250)}.${(n % 250) + 1}`;
  const answers = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      fetch(`${i % 2 ? a.url : b.url}/v1/auth/password-reset`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
        body: JSON.stringify({ email: `round-${n}@example.com` }),
      }).then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      }),
    ),
  );
  assert.deepEqual(
    answers.filter((status) => status !== 202 && status !== 429),
    [],
    'only accepted or limited',
  );
  return answers.filter((status) => status === 202).length;
}

/** Processes that keep both CPUs busy until stopped. */
function burners(): ChildProcess[] {
  return [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

test('20 rounds of 60 simultaneous resets across two instances: exactly 5 accepted every round, under load and after Redis stalls', async () => {
  const accepted: number[] = [];
  const busy = burners();
  try {
    for (let n = 0; n < 10; n++) accepted.push(await round(n));
  } finally {
    for (const burner of busy) burner.kill('SIGKILL');
  }
  for (let n = 10; n < 20; n++) {
    // Redis stops answering every client for 300 ms; the round starts as soon as it answers again.
    await client.client('PAUSE', 300, 'ALL');
    await client.ping();
    accepted.push(await round(n));
  }
  assert.deepEqual(accepted, Array(20).fill(5));
});
