import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type PostgresServer, startPostgres } from '../../../test/harness/postgres.ts';
import { tempDir } from './helpers.ts';
import { type ServeProcess, startServe } from './process.ts';

/**
 * PostgreSQL stopped under traffic and started again, with a real `rampart serve` on it: every
 * answer while it is down is a 503 STORE_UNAVAILABLE with Retry-After (or a 2xx a cache could
 * give), never a 500 and never a hang; once it is back the server serves fully on its own,
 * without a restart.
 */

const ADMIN = 'outage-bootstrap-admin-key-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';
/** No request may take longer: the pool's connect timeout (2 s) plus margin on a busy machine. */
const NO_HANG_MS = 8_000;

let postgres: PostgresServer;
let server: ServeProcess;

before(async () => {
  postgres = await startPostgres();
  const dataDir = tempDir();
  writeFileSync(
    join(dataDir, 'config.json'),
    JSON.stringify({
      rateLimit: { default: { limit: 100_000, window: '15m' } },
      tokens: { issuer: 'https://auth.example.test' },
    }),
  );
  server = await startServe({
    RAMPART_DATA_DIR: dataDir,
    RAMPART_CONFIG: join(dataDir, 'config.json'),
    DATABASE_URL: await postgres.createDatabase(),
    RAMPART_API_KEY_PEPPER: 'ab'.repeat(32),
    RAMPART_BOOTSTRAP_ADMIN_KEY: ADMIN,
  });
});

after(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  await postgres?.destroy();
});

interface Outcome {
  route: string;
  /** When the request was sent, and when its answer came. */
  phase: 'up' | 'down' | 'back';
  endPhase: 'up' | 'down' | 'back';
  status: number;
  code?: string;
  retryAfter: string | null;
  ms: number;
  error?: string;
}

async function request(
  method: string,
  path: string,
  options: { body?: unknown; bearer?: string; key?: string } = {},
): Promise<{ status: number; json: ReturnType<typeof JSON.parse>; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  if (options.key) headers['x-api-key'] = options.key;
  const res = await fetch(server.url + path, {
    method,
    headers,
    signal: AbortSignal.timeout(NO_HANG_MS),
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

test('PostgreSQL stopped under traffic: 503 with Retry-After while down, no 500, no hang, full service after', async () => {
  const made = await request('POST', '/v1/auth/register', {
    body: { email: 'ada@example.com', password: PASSWORD, name: 'Ada Lovelace' },
  });
  assert.equal(made.status, 201);
  const session = (
    await request('POST', '/v1/auth/login', { body: { email: 'ada@example.com', password: PASSWORD } })
  ).json as { access_token: string };
  const key = await request('POST', '/v1/keys', {
    bearer: session.access_token,
    body: { name: 'k', scopes: ['read'] },
  });
  assert.equal(key.status, 201);

  let n = 0;
  const routes: Array<[string, () => ReturnType<typeof request>]> = [
    [
      'register',
      () =>
        request('POST', '/v1/auth/register', {
          body: { email: `u${++n}@example.com`, password: PASSWORD, name: 'Grace Hopper' },
        }),
    ],
    [
      'login',
      () => request('POST', '/v1/auth/login', { body: { email: 'ada@example.com', password: PASSWORD } }),
    ],
    ['me (bearer)', () => request('GET', '/v1/me', { bearer: session.access_token })],
    ['me (key)', () => request('GET', '/v1/me', { key: key.json.key })],
    ['keys list', () => request('GET', '/v1/keys', { key: ADMIN })],
    ['key verify', () => request('POST', '/v1/keys/verify', { key: ADMIN, body: { key: key.json.key } })],
    ['readyz', () => request('GET', '/readyz')],
  ];

  let phase: Outcome['phase'] = 'up';
  let running = true;
  const outcomes: Outcome[] = [];
  const worker = async (offset: number) => {
    for (let i = offset; running; i++) {
      const [route, send] = routes[i % routes.length]!;
      const at = phase;
      const started = performance.now();
      try {
        const res = await send();
        outcomes.push({
          route,
          phase: at,
          endPhase: phase,
          status: res.status,
          code: res.json?.code,
          retryAfter: res.headers.get('retry-after'),
          ms: performance.now() - started,
        });
      } catch (error) {
        outcomes.push({
          route,
          phase: at,
          endPhase: phase,
          status: 0,
          retryAfter: null,
          ms: performance.now() - started,
          error: String(error),
        });
      }
    }
  };
  const workers = Array.from({ length: 6 }, (_, i) => worker(i));

  await new Promise((resolve) => setTimeout(resolve, 1_000));
  phase = 'down';
  await postgres.stop();
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  phase = 'back';
  await postgres.start();
  // Recovers on its own: a request that needs the database succeeds again without a restart.
  const deadline = performance.now() + 10_000;
  let recovered = false;
  while (!recovered && performance.now() < deadline) {
    const probe = await request('GET', '/v1/me', { bearer: session.access_token });
    recovered = probe.status === 200;
    if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  running = false;
  await Promise.all(workers);
  assert.ok(recovered, 'the server did not serve again within 10 s of PostgreSQL coming back');

  const summary = (list: Outcome[]) =>
    Object.entries(
      list.reduce<Record<string, number>>((acc, o) => {
        const k = `${o.route} ${o.status}`;
        acc[k] = (acc[k] ?? 0) + 1;
        return acc;
      }, {}),
    )
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');

  // No hang: every request was answered, in bounded time.
  const failed = outcomes.filter((o) => o.status === 0);
  assert.deepEqual(failed, [], `requests without an answer: ${failed.map((o) => o.error).join('; ')}`);
  const slow = outcomes.filter((o) => o.ms > NO_HANG_MS);
  assert.deepEqual(slow, []);
  // No 500, and every 503 says what and when to retry.
  const errors = outcomes.filter((o) => o.status >= 500);
  assert.ok(
    errors.every((o) => o.status === 503),
    `not 503: ${summary(errors.filter((o) => o.status !== 503))}`,
  );
  for (const o of errors) {
    assert.ok(Number(o.retryAfter) > 0, `${o.route}: 503 without Retry-After`);
    if (o.route !== 'readyz') assert.equal(o.code, 'STORE_UNAVAILABLE', o.route);
  }
  // Before the outage everything worked; during it, every route that needs the database said 503.
  const up = outcomes.filter((o) => o.endPhase === 'up');
  assert.ok(
    up.length > 0 && up.every((o) => o.status < 400),
    `${summary(up)}\n${server
      .stdout()
      .split('\n')
      .filter((l) => l.includes('store unavailable'))
      .slice(0, 3)
      .join('\n')}`,
  );
  const down = outcomes.filter((o) => o.phase === 'down');
  for (const route of ['register', 'login', 'me (bearer)', 'keys list', 'readyz']) {
    const seen = down.filter((o) => o.route === route);
    assert.ok(seen.length > 0, `no ${route} request while down`);
    assert.ok(
      seen.some((o) => o.status === 503),
      `${route} while down: ${summary(seen)}`,
    );
  }
  assert.ok(
    down.every((o) => o.status === 503 || o.status < 300),
    `while down, only 503 or a cached 2xx: ${summary(down)}`,
  );

  // Full service after: every route, including writes and a fresh key.
  assert.equal((await request('GET', '/readyz')).status, 200);
  const again = await request('POST', '/v1/auth/register', {
    body: { email: 'after@example.com', password: PASSWORD, name: 'Alan Turing' },
  });
  assert.equal(again.status, 201);
  const login = await request('POST', '/v1/auth/login', {
    body: { email: 'after@example.com', password: PASSWORD },
  });
  assert.equal(login.status, 200);
  const refreshed = await request('POST', '/v1/auth/refresh', {
    body: { refresh_token: login.json.refresh_token },
  });
  assert.equal(refreshed.status, 200);
  const fresh = await request('POST', '/v1/keys', {
    bearer: refreshed.json.access_token,
    body: { name: 'after', scopes: ['read'] },
  });
  assert.equal(fresh.status, 201);
  assert.equal((await request('GET', '/v1/me', { key: fresh.json.key })).status, 200);
  assert.equal(server.child.exitCode, null, 'the server kept running');
});
