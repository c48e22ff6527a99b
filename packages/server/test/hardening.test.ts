/**
 * The attacks of the second outside review that got through, performed against `rampart
 * serve`: each test fails on the code as it was and passes now. (Linear-time parsing,
 * validation messages and names are tested beside their functions; the CLI's export is in
 * cli-export-import.test.ts.)
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type RedisServer, startRedis } from '../../../test/harness/redis.ts';
import { type TestServer, testServer } from './helpers.ts';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function server(options: Parameters<typeof testServer>[0] = {}): Promise<TestServer> {
  const s = await testServer(options);
  servers.push(s);
  return s;
}

const PASSWORD = 'correct horse battery staple';

async function account(s: TestServer, email: string): Promise<void> {
  const res = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password: PASSWORD, name: 'Ada Lovelace' },
  });
  assert.equal(res.statusCode, 201, res.body);
}

async function loginRace(s: TestServer, email: string): Promise<number[]> {
  const attempts = Array.from({ length: 40 }, (_, i) =>
    s.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      remoteAddress: '203.0.113.40',
      payload: { email, password: i === 23 ? PASSWORD : `wrong password ${i}` },
    }),
  );
  return (await Promise.all(attempts)).map((res) => res.statusCode);
}

describe('failure budgets are reserved before the hash, atomically', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => redis.stop());

  for (const store of ['memory', 'redis'] as const) {
    test(`40 simultaneous logins for one account, the right password among them: at most 10 reach the hash (${store})`, async () => {
      const s = await server(store === 'redis' ? { env: { REDIS_URL: redis.url } } : {});
      await account(s, `race-${store}@example.com`);
      const statuses = await loginRace(s, `race-${store}@example.com`);
      const checked = statuses.filter((status) => status !== 429);
      assert.ok(checked.length <= 10, `${checked.length} logins were checked against a budget of 10`);
      assert.deepEqual(
        statuses.filter((status) => ![200, 401, 429].includes(status)),
        [],
      );
    });
  }

  test('a wrong current password at password change is throttled: 25 guesses meet a 429', async () => {
    const s = await server();
    await account(s, 'change@example.com');
    const login = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'change@example.com', password: PASSWORD },
    });
    const token = login.json().access_token as string;
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      const res = await s.app.inject({
        method: 'POST',
        url: '/v1/auth/password',
        headers: { authorization: `Bearer ${token}` },
        payload: { currentPassword: `guess ${i}`, newPassword: 'a whole new passphrase here' },
      });
      statuses.push(res.statusCode);
    }
    assert.ok(statuses.includes(429), `no 429 in ${statuses.join(',')}`);
    assert.ok(statuses.filter((status) => status === 401).length <= 10);
  });

  test('the per-address budget is configurable: with 3, the fourth invented token from one address is 429', async () => {
    const s = await server({ file: { rateLimit: { authFailures: { limit: 3, window: '15m' } } } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await s.app.inject({
        method: 'GET',
        url: '/v1/me',
        remoteAddress: '203.0.113.50',
        headers: { authorization: `Bearer invented.${i}.token` },
      });
      statuses.push(res.statusCode);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429]);
  });
});

describe('hashing is fair between addresses', () => {
  test('a flood of failing logins from one address does not hold back another address', async () => {
    const s = await server();
    await account(s, 'victim@example.com');
    const finished: string[] = [];
    // Different accounts, so only the per-address budget (30) stops the flood.
    const flood = Array.from({ length: 60 }, (_, i) =>
      s.app
        .inject({
          method: 'POST',
          url: '/v1/auth/login',
          remoteAddress: '198.51.100.66',
          payload: { email: `nobody-${i}@example.com`, password: 'not it at all' },
        })
        .then((res) => {
          if (res.statusCode === 401) finished.push('flood');
        }),
    );
    const victim = s.app
      .inject({
        method: 'POST',
        url: '/v1/auth/login',
        remoteAddress: '192.0.2.10',
        payload: { email: 'victim@example.com', password: PASSWORD },
      })
      .then((res) => {
        assert.equal(res.statusCode, 200);
        finished.push('victim');
      });
    await Promise.all([...flood, victim]);
    const position = finished.indexOf('victim');
    assert.ok(
      position >= 0 && position <= 3,
      `the legitimate login finished after ${position} of the flood's`,
    );
  });
});

describe('instants out of range', () => {
  test('a key expiring beyond year 9999 is refused 400, and nothing is stored', async () => {
    const s = await server();
    const admin = s.context.apiKeys.bootstrap;
    assert.equal(admin.kind, 'file');
    const { readFileSync } = await import('node:fs');
    const key = readFileSync((admin as { path: string }).path, 'utf8').trim();
    for (const expiresAt of [9e15, 8.64e15, '+275760-09-13T00:00:00.000Z', -1]) {
      const res = await s.app.inject({
        method: 'POST',
        url: '/v1/keys',
        headers: { 'x-api-key': key },
        payload: { name: 'far', scopes: [], expiresAt },
      });
      assert.equal(res.statusCode, 400, String(expiresAt));
      assert.equal(res.json().code, 'VALIDATION_FAILED');
    }
    const listed = await s.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': key } });
    assert.equal(listed.statusCode, 200);
    assert.ok(!listed.json().keys.some((k: { name: string }) => k.name === 'far'));
  });
});

describe('every answer is the engine’s', () => {
  test('a malformed percent-encoding in the path is problem+json with the headers, an id, a log line and a limit', async () => {
    const s = await server();
    const res = await s.app.inject({ method: 'GET', url: '/%ZZ' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(res.json().code, 'BAD_REQUEST');
    assert.ok(!res.body.includes('%ZZ'), 'the raw path is not echoed');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.match(String(res.headers['ratelimit-policy']), /"default";q=100;w=900/);
    assert.match(String(res.json().requestId), /^req_/);
  });

  test('two Authorization headers are refused 400, never "the first one wins"', async () => {
    const s = await server();
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = s.app.server.address() as { port: number };
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          'GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a.b.c\r\nAuthorization: Bearer d.e.f\r\nConnection: close\r\n\r\n',
        );
      });
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(head, /^HTTP\/1\.1 400 /);
    assert.match(head, /invalid_request/);
  });

  test('OPTIONS and TRACE requests are counted by the address limit', async () => {
    const s = await server({ file: { rateLimit: { default: { limit: 3, window: '15m' } } } });
    const statuses = [];
    for (const method of ['OPTIONS', 'TRACE', 'OPTIONS', 'GET'] as const) {
      statuses.push((await s.app.inject({ method, url: '/v1/me', remoteAddress: '203.0.113.9' })).statusCode);
    }
    assert.equal(statuses[3], 429, `GET after three preflights and traces: ${statuses.join(',')}`);
  });
});
