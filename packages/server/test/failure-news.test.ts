/**
 * Instances on one Redis tell each other of failed authentications (`failure-news.ts`), so an
 * authenticated request from an address that failed nowhere lately reads no failure budget:
 * one Redis script per request instead of two. Each test performs the attack the saving must
 * not let through: an address that exhausted its budget on one instance, then calling another
 * with a valid token that instance has already verified and cached.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { FailureNewsListener } from 'rampart';
import { type RedisServer, startRedis } from '../../../test/harness/redis.ts';
import { redisFailureNews } from '../src/server/failure-news.ts';
import { connectRedis } from '../src/server/redis.ts';
import { type TestServer, testServer } from './helpers.ts';

let redis: RedisServer;
let admin: Redis;
const servers: TestServer[] = [];

before(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  admin?.disconnect();
  await redis?.stop();
});

async function instance(): Promise<TestServer> {
  const s = await testServer({ env: { REDIS_URL: redis.url }, file: { rateLimit: { storeTimeout: '2s' } } });
  servers.push(s);
  return s;
}

/** A valid access token of `s` (its own account: each test instance has its own storage). */
async function tokenOf(s: TestServer, email: string): Promise<string> {
  const password = 'correct horse battery staple';
  await s.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password, name: 'News' },
  });
  const login = await s.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } });
  assert.equal(login.statusCode, 200, login.body);
  return login.json().access_token;
}

const call = (s: TestServer, token: string, ip: string) =>
  s.app.inject({
    method: 'GET',
    url: '/api/protected',
    remoteAddress: ip,
    headers: { authorization: `Bearer ${token}` },
  });

/** Rate-limit scripts Redis has run so far. */
async function scripts(): Promise<number> {
  const stats = await admin.info('commandstats');
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

/** Scripts one call costs, once the instance has read the news (it is blind until then). */
async function scriptsPerCall(s: TestServer, token: string, ip: string): Promise<number> {
  let cost = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 100 && cost > 1; i++) {
    const before = await scripts();
    assert.equal((await call(s, token, ip)).statusCode, 200);
    cost = (await scripts()) - before;
    if (cost > 1) await new Promise((r) => setTimeout(r, 20));
  }
  return cost;
}

/** Spends the address's failure budget (30 by default) with invented tokens. */
async function exhaust(s: TestServer, ip: string): Promise<void> {
  for (let i = 0; i < 30; i++) {
    assert.equal((await call(s, `invented.${i}.token`, ip)).statusCode, 401);
  }
}

describe('failed-authentication news between instances on one Redis', () => {
  test('a clean address costs one script per authenticated request; a budget spent on one instance refuses a cached token on the other', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const token = await tokenOf(b, 'news-b@example.com');
    const attacker = '203.0.113.31';
    // The token is verified and cached on b, from the address that will attack through a.
    assert.equal((await call(b, token, attacker)).statusCode, 200);
    assert.equal(await scriptsPerCall(b, token, '198.51.100.31'), 1, 'the address limit only');
    await exhaust(a, attacker);
    const refused = await call(b, token, attacker);
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().code, 'RATE_LIMITED');
    assert.match(String(refused.headers['ratelimit-policy']), /"auth-failures";q=30;w=900/);
    // Other addresses are untouched, and still cost one script.
    assert.equal(await scriptsPerCall(b, token, '198.51.100.32'), 1);
  });

  test('an instance started after the failures reads them back before it skips a read', async () => {
    const a = await instance();
    const attacker = '203.0.113.41';
    await exhaust(a, attacker);
    const c = await instance();
    const token = await tokenOf(c, 'news-c@example.com');
    // Once c costs one script for a clean address it trusts its map; the attacker is in it.
    assert.equal(await scriptsPerCall(c, token, '198.51.100.41'), 1);
    assert.equal((await call(c, token, attacker)).statusCode, 429);
  });
});

describe('redisFailureNews', () => {
  test('a lost subscription makes the listener blind; after the reconnection it reads what was told meanwhile, then sees', async () => {
    const warnings: string[] = [];
    const mine = await connectRedis(redis.url, (m) => warnings.push(m));
    const theirs = await connectRedis(redis.url, (m) => warnings.push(m));
    const calls: string[] = [];
    const listener: FailureNewsListener = {
      heard: (address) => calls.push(`heard ${address}`),
      blind: () => calls.push('blind'),
      sighted: () => calls.push('sighted'),
    };
    const now = Date.now;
    const news = redisFailureNews({ redis: mine, now, limit: 100, warn: (m) => warnings.push(m) });
    const other = redisFailureNews({ redis: theirs, now, limit: 100, warn: (m) => warnings.push(m) });
    try {
      news.listen(listener);
      await waitFor(() => calls.includes('sighted'));
      calls.length = 0;
      // Kill the listening instance's subscriber connection, and publish while it is away
      // (it reconnects after 100 ms): the message is lost, the sorted set keeps the marker.
      await admin.client('KILL', 'TYPE', 'pubsub');
      other.publish('192.0.2.77', now() + 60_000);
      await waitFor(() => calls.includes('sighted') && calls.includes('heard 192.0.2.77'));
      assert.equal(calls[0], 'blind', `blind first after the loss: ${calls.join(', ')}`);
      assert.equal(calls.at(-1) === 'blind', false, `not left blind: ${calls.join(', ')}`);
    } finally {
      news.close();
      other.close();
      await mine.close();
      await theirs.close();
    }
  });
});

async function waitFor(condition: () => boolean, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
