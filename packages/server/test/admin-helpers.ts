import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import type { ConfigFile } from '../src/server/config.ts';
import type { Storage } from '../src/storage/types.ts';
import { type TestServer, testServer } from './helpers.ts';

/** Helpers of the admin-plane tests: servers with a protected `/t` route, users, keys, calls. */

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

export const START = Date.parse('2030-01-01T00:00:00Z');
export const PASSWORD = 'correct horse battery staple';
export const ROOMY: ConfigFile = { rateLimit: { default: { limit: 100_000, window: '15m' } } };

export async function adminServer(
  options: { file?: ConfigFile; storage?: Storage | 'sqlite'; clock?: { t: number } } = {},
) {
  const clock = options.clock ?? { t: START };
  const s = await testServer({
    now: () => clock.t,
    file: options.file ?? ROOMY,
    ...(options.storage ? { storage: options.storage } : {}),
    routes: (app, ctx) => {
      // A protected route for traffic tests: any valid credential, the usual identity limits.
      app.get('/t', { onRequest: ctx.protect() }, async () => ({ ok: true }));
    },
  });
  servers.push(s);
  const admin = readFileSync(join(s.dataDir, 'admin-key'), 'utf8').trim();
  return { s, clock, admin };
}

let counter = 0;
export const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
export const xApiKey = (key: string) => ({ 'x-api-key': key });

export async function call(
  s: TestServer,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  credential?: string,
  payload?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await s.app.inject({
    method,
    url,
    headers: { ...(credential ? bearer(credential) : {}), ...headers },
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  });
  return { status: res.statusCode, json: () => res.json(), body: res.body, headers: res.headers };
}

export async function user(s: TestServer) {
  const email = `admin-plane${++counter}@example.com`;
  const reg = await call(s, 'POST', '/v1/auth/register', undefined, {
    email,
    password: PASSWORD,
    name: 'Plane User',
  });
  assert.equal(reg.status, 201, reg.body);
  const login = await call(s, 'POST', '/v1/auth/login', undefined, { email, password: PASSWORD });
  assert.equal(login.status, 200, login.body);
  return {
    id: reg.json().id as string,
    email,
    token: login.json().access_token as string,
    refresh: login.json().refresh_token as string,
  };
}

export async function key(s: TestServer, credential: string, body: Record<string, unknown>) {
  const res = await call(s, 'POST', '/v1/keys', credential, body);
  assert.equal(res.status, 201, res.body);
  return res.json() as { id: string; key: string };
}

/** Credits from 0, +100 by PATCH, then 110 parallel uses: exactly 100 pass. */
export async function creditRace(s: TestServer, admin: string) {
  const k = await key(s, admin, { name: 'credits', scopes: [], credits: { remaining: 0 } });
  assert.equal((await call(s, 'GET', '/t', undefined, undefined, xApiKey(k.key))).status, 429);
  const raised = await call(s, 'PATCH', `/v1/keys/${k.id}`, admin, { credits: { increment: 100 } });
  assert.equal(raised.json().credits.remaining, 100);
  const answers = await Promise.all(
    Array.from({ length: 110 }, () => call(s, 'GET', '/t', undefined, undefined, xApiKey(k.key))),
  );
  const statuses: Record<number, number> = {};
  for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  assert.equal(answers.filter((a) => a.status === 200).length, 100, JSON.stringify(statuses));
  const codes = answers.filter((a) => a.status !== 200).map((a) => a.json().code);
  assert.ok(
    codes.every((c) => c === 'USAGE_EXCEEDED'),
    JSON.stringify(codes),
  );
  // 20 increments of 5 at once, with spends between them: none is lost, none created.
  const mixed = await Promise.all([
    ...Array.from({ length: 20 }, () =>
      call(s, 'PATCH', `/v1/keys/${k.id}`, admin, { credits: { increment: 5 } }),
    ),
    ...Array.from({ length: 30 }, () => call(s, 'GET', '/t', undefined, undefined, xApiKey(k.key))),
  ]);
  const spent = mixed.slice(20).filter((a) => a.status === 200).length;
  const after = await call(s, 'GET', `/v1/keys/${k.id}`, admin);
  assert.equal(after.json().credits.remaining, 100 - spent);
}
