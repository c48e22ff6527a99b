/**
 * `npm run soak` (never in CI): ten minutes of mixed traffic against one `rampart serve`:
 * logins, refreshes, protected calls, API-key verifications, and refused requests (bad
 * tokens, invented keys, invalid bodies). Prints throughput and errors per minute and the
 * server's RSS along the way: it must level off, not climb.
 *
 *   npm run soak                  # 10 minutes
 *   npm run soak -- --minutes 2
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../packages/server/test/helpers.ts';
import { startServe } from '../packages/server/test/process.ts';

const minutesArg = process.argv.indexOf('--minutes');
const minutes = minutesArg > 0 ? Number(process.argv[minutesArg + 1]) : 10;
const dataDir = tempDir('rampart-soak-');
writeFileSync(
  join(dataDir, 'config.json'),
  JSON.stringify({
    trustProxy: ['loopback'],
    rateLimit: { default: { limit: 1_000_000_000, window: '15m' } },
  }),
);
const admin = `soak-admin-key-${'s'.repeat(40)}`;
const server = await startServe({
  RAMPART_DATA_DIR: dataDir,
  RAMPART_CONFIG: join(dataDir, 'config.json'),
  RAMPART_BOOTSTRAP_ADMIN_KEY: admin,
});
const url = server.url;
const rss = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const json = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const password = 'correct horse battery staple';
for (let i = 0; i < 20; i++)
  await json('/v1/auth/register', { email: `soak${i}@example.com`, password, name: 'Soak' });
const keyRes = await json('/v1/keys', { name: 'soak', scopes: ['read'] }, { 'x-api-key': admin });
const { key } = (await keyRes.json()) as { key: string };

let ok = 0;
let refused = 0;
let errors = 0;
const errorKinds = new Map<string, number>();
const error = (kind: string) => {
  errors++;
  errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
};
const count = async (p: Promise<Response>, expectOk: boolean, what: string) => {
  try {
    const res = await p;
    const body = await res.text();
    if (expectOk && res.status < 300) ok++;
    else if (!expectOk && res.status >= 400 && res.status < 500) refused++;
    else error(`${what} ${res.status} ${body.slice(0, 80)}`);
  } catch (e) {
    error(`${what} ${(e as Error).message}`);
  }
};

const deadline = Date.now() + minutes * 60_000;
async function worker(n: number) {
  const email = `soak${n % 20}@example.com`;
  while (Date.now() < deadline) {
    const login = await json('/v1/auth/login', { email, password });
    if (login.status !== 200) {
      error(`login ${login.status}`);
      await login.arrayBuffer();
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    ok++;
    let pair = (await login.json()) as { access_token: string; refresh_token: string };
    for (let i = 0; i < 50 && Date.now() < deadline; i++) {
      await count(
        fetch(`${url}/api/protected`, { headers: { authorization: `Bearer ${pair.access_token}` } }),
        true,
        'protected',
      );
      await count(
        fetch(`${url}/v1/keys/verify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': admin },
          body: JSON.stringify({ key }),
        }),
        true,
        'verify',
      );
      // Refused traffic comes from many addresses (as an attack would), through the trusted
      // loopback proxy: one address sending only bad tokens is soon blocked outright.
      const attacker = `198.18.${(i * 7 + n) % 256}.${Math.floor(Math.random() * 256)}`;
      await count(
        fetch(`${url}/api/protected`, {
          headers: { authorization: 'Bearer invented.token.value', 'x-forwarded-for': attacker },
        }),
        false,
        'bad token',
      );
      await count(
        json('/v1/auth/register', { email: 'not-an-email', password: 'x', name: '' }),
        false,
        'bad body',
      );
      if (i % 10 === 9) {
        const refreshed = await json('/v1/auth/refresh', { refresh_token: pair.refresh_token });
        if (refreshed.status === 200) {
          ok++;
          pair = (await refreshed.json()) as typeof pair;
        } else {
          error(`refresh ${refreshed.status}`);
          await refreshed.arrayBuffer();
        }
      }
    }
  }
}

console.log(`soak: ${minutes} min against ${url}, RSS at start ${rss().toFixed(1)} MiB`);
const samples: string[] = [];
const started = Date.now();
let last = { ok: 0, refused: 0, errors: 0 };
const timer = setInterval(() => {
  const line = `${((Date.now() - started) / 60_000).toFixed(1)} min: ${ok - last.ok} ok, ${refused - last.refused} refused, ${errors - last.errors} errors in the last minute; RSS ${rss().toFixed(1)} MiB`;
  last = { ok, refused, errors };
  samples.push(line);
  console.log(line);
}, 60_000);
await Promise.all(Array.from({ length: 8 }, (_, n) => worker(n)));
clearInterval(timer);
const seconds = (Date.now() - started) / 1000;
console.log(
  `total: ${ok} ok, ${refused} refused as expected, ${errors} errors, ${((ok + refused) / seconds).toFixed(0)} req/s; RSS at end ${rss().toFixed(1)} MiB`,
);
if (errorKinds.size > 0) console.log('errors by kind:', Object.fromEntries(errorKinds));
server.child.kill('SIGTERM');
await server.exited;
