/**
 * `npm run bench`: every contender answers `GET /api/protected` with a Bearer JWT, on CPU 0,
 * driven by wrk on CPU 1, 50 connections, rounds interleaved; medians and ratios from this one
 * run are printed and written to BENCHMARKS.md with the machine, versions and command.
 * Never part of `npm test`.
 *
 *   npm run bench              # everything (about 12 minutes)
 *   npm run bench -- --quick   # one short round each
 *   npm run bench -- --only redis,shell   # some sections (memory, redis, shell, library,
 *                                          # gateway), printed only: BENCHMARKS.md is kept
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { startRedis } from '../test/harness/redis.ts';
import { adaptersBench } from './adapters.ts';
import { gatewayBench } from './gateway.ts';
import { type Contender, compare, freePort, table } from './lib.ts';
import { shellBench } from './shell.ts';

const quick = process.argv.includes('--quick');
const SECTIONS = ['memory', 'redis', 'shell', 'library', 'gateway'] as const;
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? (process.argv[onlyAt + 1] ?? '').split(',') : undefined;
for (const name of only ?? []) {
  if (!(SECTIONS as readonly string[]).includes(name)) {
    console.error(`--only: unknown section ${JSON.stringify(name)}; the sections are ${SECTIONS.join(', ')}`);
    process.exit(2);
  }
}
const runs = (section: (typeof SECTIONS)[number]) => only === undefined || only.includes(section);
const node = process.execPath;
const root = new URL('..', import.meta.url).pathname;
const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';
const LIMIT = '1000000000';
const hsToken = jwt.sign({ userId: '123', role: 'admin' }, SECRET, { algorithm: 'HS256', expiresIn: '1h' });

function rampartConfig(logLevel: 'info' | 'warn'): string {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-bench-'));
  const path = join(dir, 'config.json');
  // The limit is raised so every request runs the limiter without being refused.
  writeFileSync(
    path,
    JSON.stringify({ rateLimit: { default: { limit: Number(LIMIT), window: '15m' } }, logLevel }),
  );
  return dir;
}

async function rampartToken(url: string): Promise<Record<string, string>> {
  const account = { email: 'bench@example.com', password: 'correct horse battery staple', name: 'Bench' };
  await fetch(`${url}/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(account),
  });
  const res = await fetch(`${url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: account.email, password: account.password }),
  });
  const { access_token } = (await res.json()) as { access_token: string };
  return { authorization: `Bearer ${access_token}` };
}

function rampart(name: string, env: Record<string, string>, logLevel: 'info' | 'warn' = 'info'): Contender {
  const dir = rampartConfig(logLevel);
  return {
    name,
    command: [node, join(root, 'packages/server/bin/rampart.js'), 'serve'],
    env: { RAMPART_DATA_DIR: dir, RAMPART_CONFIG: join(dir, 'config.json'), ...env },
    path: '/api/protected',
    prepare: rampartToken,
  };
}

const baseline = (name: string, file: string, env: Record<string, string> = {}): Contender => ({
  name,
  command: [node, join(root, 'bench/baselines', file)],
  env: { JWT_SECRET: SECRET, BENCH_LIMIT: LIMIT, ...env },
  path: '/api/protected',
  headers: { authorization: `Bearer ${hsToken}` },
});

/** CPU time of the whole machine from /proc/stat: all, and stolen by the hypervisor. */
function cpuTimes(): { total: number; steal: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { total: fields.slice(0, 8).reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
}
const cpuBefore = cpuTimes();

const redis = await startRedis();
try {
  const options = quick
    ? { rounds: 1, connections: 50, seconds: 3 }
    : { rounds: 3, connections: 50, seconds: 8 };
  const memoryContenders = async () => [
    baseline('bare node:http (no checks)', 'bare-http.ts'),
    baseline('tutorial: express + jsonwebtoken + express-rate-limit', 'tutorial-express.ts'),
    baseline('fastify + @fastify/jwt + @fastify/rate-limit', 'fastify-plugins.ts'),
    rampart('rampart serve (memory)', {}),
    // The price of the request log line, the one default a configuration turns off.
    rampart('rampart serve (memory), no request log line', { PORT: String(await freePort()) }, 'warn'),
  ];
  const redisContenders = () => [
    baseline('tutorial + rate-limit-redis', 'tutorial-express.ts', { REDIS_URL: redis.url }),
    baseline('fastify plugins + redis', 'fastify-plugins.ts', { REDIS_URL: redis.url }),
    rampart('rampart serve (redis)', { REDIS_URL: redis.url }),
  ];
  const short = quick ? { rounds: 1, connections: 50, seconds: 3 } : undefined;
  if (only !== undefined) {
    // Some sections, printed and not written: a partial run is no record of the whole.
    if (runs('memory'))
      console.log(table(await compare(await memoryContenders(), options), 'bare node:http (no checks)'));
    if (runs('redis'))
      console.log(table(await compare(redisContenders(), options), 'tutorial + rate-limit-redis'));
    if (runs('shell')) console.log((await shellBench(short)).report);
    if (runs('library'))
      console.log((await adaptersBench(short ?? { rounds: 3, connections: 50, seconds: 6 })).report);
    if (runs('gateway')) console.log(await gatewayBench(short));
    await redis.stop();
    process.exit(0);
  }
  const memory = await compare(await memoryContenders(), options);
  await redis.restart();
  const onRedis = await compare(redisContenders(), options);
  const shell = await shellBench(short);
  const library = await adaptersBench(short ?? { rounds: 3, connections: 50, seconds: 6 });
  const gateway = await gatewayBench(short);
  const ratio = (rows: typeof memory, a: string, b: string) =>
    rows.find((r) => r.name === a)!.rps / rows.find((r) => r.name === b)!.rps;
  const r = 'rampart serve (memory)';
  const targets = [
    [
      '≥ 10× the tutorial stack',
      ratio(memory, r, 'tutorial: express + jsonwebtoken + express-rate-limit'),
      10,
    ],
    [
      '≥ 1.3× the Fastify plugin stack',
      ratio(memory, r, 'fastify + @fastify/jwt + @fastify/rate-limit'),
      1.3,
    ],
    ['≥ 0.5× bare node:http', ratio(memory, r, 'bare node:http (no checks)'), 0.5],
    [
      'on Redis ≥ 1.5× the Fastify plugin stack on Redis',
      ratio(onRedis, 'rampart serve (redis)', 'fastify plugins + redis'),
      1.5,
    ],
    ['the shell (/healthz) ≥ 0.8× bare Fastify', shell.ratio, 0.8],
    ...library.targets,
  ] as const;
  const p99 = (rows: typeof memory, name: string) => rows.find((x) => x.name === name)!.p99Ms;
  const cpuAfter = cpuTimes();
  const stolen = (100 * (cpuAfter.steal - cpuBefore.steal)) / Math.max(1, cpuAfter.total - cpuBefore.total);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}`;
  const report = `# Benchmarks

Measured by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${new Date().toISOString().slice(0, 10)}: ${machine}.
Each server runs pinned to CPU 0, wrk to CPU 1; ${options.connections} connections, ${options.seconds} s per round,
${options.rounds} interleaved round(s), medians. Every contender answers \`GET /api/protected\` with a Bearer JWT and runs
its rate limiter on every request (the limit is raised so nothing is refused). Baselines verify an HS256
token (the tutorial's choice); Rampart verifies its default EdDSA access token (RFC 9068) and also sends
security headers, a request id, and one JSON log line per request.

CPU time stolen by the hypervisor during the run: ${stolen.toFixed(0)}% of the machine's (from /proc/stat). On a
virtual machine whose host is busy, absolute figures fall and ratios move with it; compare runs with little steal.

## In memory

${table(memory, 'bare node:http (no checks)')}

## On Redis

${table(onRedis, 'tutorial + rate-limit-redis')}

## Targets

| target | measured | met |
| --- | ---: | :---: |
${targets.map(([name, value, goal]) => `| ${name} | ${value.toFixed(2)}× | ${value >= goal ? 'yes' : '**no**'} |`).join('\n')}
| p99 no worse than the plugin stack (memory) | ${p99(memory, r).toFixed(2)} ms vs ${p99(memory, 'fastify + @fastify/jwt + @fastify/rate-limit').toFixed(2)} ms | ${p99(memory, r) <= p99(memory, 'fastify + @fastify/jwt + @fastify/rate-limit') ? 'yes' : '**no**'} |
| p99 no worse than the plugin stack (Redis) | ${p99(onRedis, 'rampart serve (redis)').toFixed(2)} ms vs ${p99(onRedis, 'fastify plugins + redis').toFixed(2)} ms | ${p99(onRedis, 'rampart serve (redis)') <= p99(onRedis, 'fastify plugins + redis') ? 'yes' : '**no**'} |

${shell.report}
## The library

${library.report}
${gateway}`;
  console.log(report);
  writeFileSync(join(root, 'BENCHMARKS.md'), report);
} finally {
  await redis.stop();
}
