/**
 * `npm run soak` (never in CI): ten minutes of mixed traffic against one `rampart serve`:
 * logins, refreshes, protected calls, API-key verifications, and refused requests (bad
 * tokens, invented API keys, invalid bodies). The bad tokens and invented keys come from
 * 65,536 addresses (198.18.0.0/16, through X-Forwarded-For from the trusted loopback proxy),
 * as an attack would. Prints throughput and errors per minute, and every 30 s the server's
 * RSS beside its V8 heap and external memory (read from its own /metrics): RSS must level off,
 * not climb.
 *
 *   npm run soak                                   # 10 minutes
 *   npm run soak -- --minutes 2
 *   npm run soak -- --minutes 3 --snapshots 1,2.5  # heap snapshots of the server at those minutes
 *   npm run soak -- --node-options '--max-semi-space-size=4'   # flags for the server's node
 *   npm run soak -- --env MALLOC_ARENA_MAX=2 --workers 4        # server environment; clients
 *
 * Snapshots are written to a temp directory (printed) by the server itself
 * (`--heapsnapshot-signal`); load them in Chrome DevTools' Memory tab.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../packages/server/test/helpers.ts';
import { startServe } from '../packages/server/test/process.ts';

const arg = (name: string) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const minutes = Number(arg('--minutes') ?? 10);
const workers = Number(arg('--workers') ?? 8);
const extraEnv = Object.fromEntries(
  process.argv.flatMap((a, i) => (process.argv[i - 1] === '--env' ? [a.split(/=(.*)/s).slice(0, 2)] : [])),
);
const snapshotsAt = (arg('--snapshots') ?? '')
  .split(',')
  .filter((m) => m !== '')
  .map(Number);
const dataDir = tempDir('rampart-soak-');
const snapshotDir = snapshotsAt.length > 0 ? tempDir('rampart-soak-heap-') : undefined;
const nodeOptions = [
  arg('--node-options') ?? '',
  snapshotDir ? `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshotDir}` : '',
]
  .join(' ')
  .trim();
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
  ...(nodeOptions !== '' ? { NODE_OPTIONS: nodeOptions } : {}),
  ...extraEnv,
});
const url = server.url;
const status = (field: string) =>
  Number(
    new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))?.[1] ??
      0,
  ) / 1024;
const rss = () => status('VmRSS');
/**
 * The server's anonymous memory by kind of mapping, from /proc/<pid>/smaps, in MiB: V8 keeps
 * its heap in 256 KiB pages of their own; malloc's main arena is `[heap]`; larger anonymous
 * mappings are malloc's other arenas, big malloc blocks and thread stacks.
 */
function anonymousByKind(): string {
  const kinds = { v8Pages: 0, mallocHeap: 0, larger: 0 };
  let size = 0;
  let name = '';
  for (const line of readFileSync(`/proc/${server.child.pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      size = (Number.parseInt(head[2]!, 16) - Number.parseInt(head[1]!, 16)) / 1024;
      name = head[3]!;
      continue;
    }
    const anon = /^Anonymous:\s+(\d+)/.exec(line);
    if (anon === null) continue;
    const kib = Number(anon[1]);
    if (name === '[heap]') kinds.mallocHeap += kib;
    else if (name === '' && size <= 256) kinds.v8Pages += kib;
    else kinds.larger += kib;
  }
  const mib = (kib: number) => (kib / 1024).toFixed(0);
  return `V8 pages ${mib(kinds.v8Pages)}, malloc heap ${mib(kinds.mallocHeap)}, larger mappings ${mib(kinds.larger)}`;
}

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

// One of 65,536 addresses, at random.
const attacker = () => `198.18.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;

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
      await count(
        fetch(`${url}/api/protected`, {
          headers: { authorization: 'Bearer invented.token.value', 'x-forwarded-for': attacker() },
        }),
        false,
        'bad token',
      );
      // An invented API key, new each time (no cache can answer it), from another address.
      await count(
        fetch(`${url}/v1/me`, {
          headers: {
            'x-api-key': `rk_live_${randomBytes(24).toString('hex')}`,
            'x-forwarded-for': attacker(),
          },
        }),
        false,
        'invented key',
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

/** The server's V8 heap (used, total) and external memory in MiB, from its /metrics. */
async function heap(): Promise<string> {
  try {
    const text = await (await fetch(`${url}/metrics`, { headers: { 'x-api-key': admin } })).text();
    const mib = (name: string) =>
      (Number(new RegExp(`^rampart_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]) / 2 ** 20).toFixed(
        1,
      );
    const space = (name: string) =>
      (
        Number(
          new RegExp(`^rampart_nodejs_heap_space_size_total_bytes\\{space="${name}"\\} (\\S+)$`, 'm').exec(
            text,
          )?.[1],
        ) /
        2 ** 20
      ).toFixed(0);
    return `heap used ${mib('nodejs_heap_size_used_bytes')} of ${mib('nodejs_heap_size_total_bytes')} MiB (new ${space('new')}, old ${space('old')}, code ${space('code')}, large ${space('large_object')}), external ${mib('nodejs_external_memory_bytes')} MiB`;
  } catch (e) {
    return `heap unknown (${(e as Error).message})`;
  }
}

console.log(
  `soak: ${minutes} min, ${workers} clients, against ${url}${nodeOptions ? ` (NODE_OPTIONS ${nodeOptions})` : ''}${Object.keys(extraEnv).length > 0 ? ` (env ${JSON.stringify(extraEnv)})` : ''}, RSS at start ${rss().toFixed(1)} MiB; ${await heap()}`,
);
const started = Date.now();
const elapsed = () => (Date.now() - started) / 60_000;
let last = { ok: 0, refused: 0, errors: 0 };
const rssSeries: number[] = [];
const sampler = setInterval(async () => {
  const now = rss();
  rssSeries.push(Math.round(now));
  const split = `anon ${status('RssAnon').toFixed(0)}: ${anonymousByKind()}; file ${status('RssFile').toFixed(0)}`;
  console.log(`${elapsed().toFixed(1)} min: RSS ${now.toFixed(1)} MiB (${split}); ${await heap()}`);
}, 30_000);
const perMinute = setInterval(() => {
  console.log(
    `${elapsed().toFixed(1)} min: ${ok - last.ok} ok, ${refused - last.refused} refused, ${errors - last.errors} errors in the last minute`,
  );
  last = { ok, refused, errors };
}, 60_000);
const snapshots = snapshotsAt.map((at) =>
  setTimeout(() => {
    console.log(`${elapsed().toFixed(1)} min: heap snapshot requested (RSS ${rss().toFixed(1)} MiB)`);
    server.child.kill('SIGUSR2');
  }, at * 60_000),
);
await Promise.all(Array.from({ length: workers }, (_, n) => worker(n)));
clearInterval(sampler);
clearInterval(perMinute);
for (const t of snapshots) clearTimeout(t);
const seconds = (Date.now() - started) / 1000;
console.log(
  `total: ${ok} ok, ${refused} refused as expected, ${errors} errors, ${((ok + refused) / seconds).toFixed(0)} req/s; RSS at end ${rss().toFixed(1)} MiB; ${await heap()}`,
);
console.log(`RSS series (MiB, every 30 s): ${rssSeries.join(' ')}`);
if (errorKinds.size > 0) console.log('errors by kind:', Object.fromEntries(errorKinds));
if (snapshotDir) {
  // A snapshot is written synchronously by the server; wait until the last one is complete.
  await new Promise((r) => setTimeout(r, 1000));
  for (const f of readdirSync(snapshotDir)) console.log(`heap snapshot: ${join(snapshotDir, f)}`);
}
server.child.kill('SIGTERM');
await server.exited;
