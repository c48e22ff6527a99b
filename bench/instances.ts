/**
 * Key-verification-heavy load on one instance with SQLite, one with PostgreSQL (without and
 * with Redis), and three instances on PostgreSQL + Redis, in one run. Never part of `npm test`.
 *
 *   node bench/instances.ts [--seconds 10] [--connections 50]
 *
 * Two loads, each answered only after an API key is verified:
 * - `GET /v1/me` with `x-api-key`: the key's verification (cached after the first request)
 *   plus one user read from storage per request;
 * - `POST /v1/keys/verify` by the admin key, verifying a key that carries usage credits: two
 *   cached verifications plus one credit spend per request, a write transaction in storage.
 *
 * Rampart servers run pinned to CPU 0 (all three instances together on it, so the three-instance
 * row shows the cost of sharing state, not more CPU); wrk, PostgreSQL and Redis on CPU 1. The
 * three-instance row sums three wrk processes, one per instance, splitting the connections.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { tempDir } from '../packages/server/test/helpers.ts';
import { startPostgres } from '../test/harness/postgres.ts';
import { startRedis } from '../test/harness/redis.ts';
import { requireWrk } from './lib.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' } },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const root = new URL('..', import.meta.url).pathname;
const ADMIN = 'bench-instances-bootstrap-admin-key-0123456789';
const PEPPER = 'be'.repeat(32);
const PASSWORD = 'correct horse battery staple';

interface Server {
  url: string;
  child: ChildProcess;
}

function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(
    'taskset',
    ['-c', '0', process.execPath, join(root, 'packages/server/bin/rampart.js'), 'serve'],
    {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        resolve({ url: `http://127.0.0.1:${m[1]}`, child });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited (${code}):\n${out}`)));
  });
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
    setTimeout(() => server.child.kill('SIGKILL'), 5_000).unref();
  });
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** A user with one plain key and one key with (practically endless) credits. */
async function prepare(url: string) {
  await post(`${url}/v1/auth/register`, {
    email: 'bench@example.com',
    password: PASSWORD,
    name: 'Bench User',
  });
  const { access_token } = await post(`${url}/v1/auth/login`, {
    email: 'bench@example.com',
    password: PASSWORD,
  });
  const auth = { authorization: `Bearer ${access_token}` };
  const plain = await post(`${url}/v1/keys`, { name: 'bench', scopes: ['read'] }, auth);
  const metered = await post(
    `${url}/v1/keys`,
    { name: 'metered', scopes: ['read'], credits: { remaining: 1_000_000_000 } },
    auth,
  );
  return { plain: String(plain.key), metered: String(metered.key) };
}

interface Load {
  name: string;
  path: string;
  script: (keys: { plain: string; metered: string }) => string;
}

const LOADS: Load[] = [
  {
    name: 'GET /v1/me (x-api-key)',
    path: '/v1/me',
    script: (k) => `wrk.headers["x-api-key"] = "${k.plain}"\n`,
  },
  {
    name: 'POST /v1/keys/verify (credits)',
    path: '/v1/keys/verify',
    script: (k) =>
      `wrk.method = "POST"\nwrk.body = '${JSON.stringify({ key: k.metered })}'\n` +
      `wrk.headers["content-type"] = "application/json"\nwrk.headers["x-api-key"] = "${ADMIN}"\n`,
  },
];

interface Result {
  rps: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

function runWrk(url: string, script: string, connections: number, seconds: number): Promise<Result> {
  const file = join(tempDir('rampart-wrk-'), 'load.lua');
  writeFileSync(file, script);
  return new Promise((resolve, reject) => {
    execFile(
      'taskset',
      [
        '-c',
        '1',
        'wrk',
        '-t',
        '1',
        '-c',
        String(connections),
        '-d',
        `${seconds}s`,
        '--latency',
        '-s',
        file,
        url,
      ],
      { encoding: 'utf8' },
      (error, out) => {
        if (error) return reject(error);
        const toMs = (v: string, unit: string) =>
          Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
        const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
        const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
        resolve({
          rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
          p99Ms: p99 ? toMs(p99[1]!, p99[2]!) : Number.NaN,
          non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
          errors: socket ? socket.slice(1).reduce((n, v) => n + Number(v), 0) : 0,
        });
      },
    );
  });
}

/** Drives every server at once (connections split between them) and sums. */
async function measure(servers: Server[], load: Load, keys: { plain: string; metered: string }) {
  const script = load.script(keys);
  const share = (i: number) =>
    Math.floor(CONNECTIONS / servers.length) + (i < CONNECTIONS % servers.length ? 1 : 0);
  await Promise.all(servers.map((s, i) => runWrk(s.url + load.path, script, share(i), 2))); // warm-up
  const results = await Promise.all(
    servers.map((s, i) => runWrk(s.url + load.path, script, share(i), SECONDS)),
  );
  return {
    rps: results.reduce((n, r) => n + r.rps, 0),
    p99Ms: Math.max(...results.map((r) => r.p99Ms)),
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
  };
}

function pin(pid: number | undefined, cpu: number): void {
  if (pid === undefined) return;
  execFileSync('taskset', ['-a', '-c', '-p', String(cpu), String(pid)], { stdio: 'ignore' });
}

requireWrk();
const config = join(tempDir('rampart-bench-'), 'config.json');
// The default limit is raised so every request runs the limiter without being refused.
writeFileSync(config, JSON.stringify({ rateLimit: { default: { limit: 1_000_000_000, window: '15m' } } }));
const base = { RAMPART_CONFIG: config, RAMPART_API_KEY_PEPPER: PEPPER, RAMPART_BOOTSTRAP_ADMIN_KEY: ADMIN };

const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
// The stores share CPU 1 with wrk: CPU 0 is the servers' alone.
pin(Number(readFileSync(join(postgres.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]), 1);
const probe = new Redis(redis.url);
pin(Number(/process_id:(\d+)/.exec(await probe.info('server'))?.[1]), 1);
const versions = {
  postgres: execFileSync('psql', ['--version'], { encoding: 'utf8' }).trim(),
  redis: (/redis_version:(\S+)/.exec(await probe.info('server'))?.[1] ?? '?').trim(),
};
probe.disconnect();

const scenarios: Array<{ name: string; count: number; env: () => Promise<Record<string, string>> }> = [
  { name: '1 instance, SQLite', count: 1, env: async () => ({}) },
  {
    name: '1 instance, PostgreSQL',
    count: 1,
    env: async () => ({ DATABASE_URL: await postgres.createDatabase() }),
  },
  {
    name: '1 instance, PostgreSQL + Redis',
    count: 1,
    env: async () => ({ DATABASE_URL: await postgres.createDatabase(), REDIS_URL: redis.url }),
  },
  {
    name: '3 instances, PostgreSQL + Redis',
    count: 3,
    env: async () => ({ DATABASE_URL: await postgres.createDatabase(), REDIS_URL: redis.url }),
  },
];

const rows: string[] = [];
try {
  for (const scenario of scenarios) {
    const shared = await scenario.env();
    const servers: Server[] = [];
    try {
      for (let i = 0; i < scenario.count; i++) {
        servers.push(await startServer({ ...base, ...shared, RAMPART_DATA_DIR: tempDir() }));
      }
      const keys = await prepare(servers[0]!.url);
      for (const load of LOADS) {
        const r = await measure(servers, load, keys);
        process.stderr.write(`${scenario.name} · ${load.name}: ${Math.round(r.rps)} req/s\n`);
        rows.push(
          `| ${scenario.name} | ${load.name} | ${Math.round(r.rps)} | ${r.p99Ms.toFixed(2)} | ${r.non2xx + r.errors} |`,
        );
      }
    } finally {
      await Promise.all(servers.map(stopServer));
    }
  }
} finally {
  await redis.stop();
  await postgres.destroy();
}

console.log(`Measured by \`node bench/instances.ts --seconds ${SECONDS} --connections ${CONNECTIONS}\` on ${new Date().toISOString().slice(0, 10)}:
${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${versions.postgres}, Redis ${versions.redis}.
Servers pinned to CPU 0 (the three instances share it), wrk + PostgreSQL + Redis on CPU 1; ${CONNECTIONS} connections
in total, ${SECONDS} s after a 2 s warm-up, one run.

| storage | load | req/s | p99 ms (worst instance) | non-2xx + socket errors |
| --- | --- | ---: | ---: | ---: |
${rows.join('\n')}`);
