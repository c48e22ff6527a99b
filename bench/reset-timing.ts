/**
 * Does `POST /v1/auth/password-reset` tell, by its timing, whether an account exists?
 *
 *   node --conditions=rampart-source bench/reset-timing.ts [--per 200]
 *
 * Starts `rampart serve` (a real process, pinned to CPU 0 when taskset exists), registers
 * `--per` accounts, then sends `--per` resets for known addresses and `--per` for unknown ones,
 * interleaved in random order over one keep-alive connection, each from its own client address
 * (through a trusted proxy header, so no limit refuses any), and compares the two latency
 * samples: medians, and the Mann–Whitney rank-sum z (|z| < 2: no difference this test can see;
 * the review measured 88% right guesses from one request when the known path wrote the token
 * and the mail before answering). A benchmark, never a test: it prints, it asserts nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const per = Number(process.argv[process.argv.indexOf('--per') + 1] ?? 200) || 200;
const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'rampart-reset-timing-'));
writeFileSync(join(dir, 'config.json'), JSON.stringify({ trustProxy: ['127.0.0.1/32'] }));
const pin = spawnSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' }).status === 0;
const command = [process.execPath, join(root, 'packages/server/bin/rampart.js'), 'serve'];
const child = spawn(pin ? 'taskset' : command[0]!, pin ? ['-c', '0', ...command] : command.slice(1), {
  env: { ...process.env, PORT: '0', RAMPART_DATA_DIR: dir, RAMPART_CONFIG: join(dir, 'config.json') },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise<number>((resolve, reject) => {
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const match = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (match) resolve(Number(match[1]));
  });
  child.once('exit', (code) => reject(new Error(`rampart serve exited (${code})`)));
});
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let client = 0;

function post(path: string, body: unknown): Promise<{ status: number; ms: number }> {
  const payload = JSON.stringify(body);
  client++;
  const ip = `10.${(client >> 16) & 255}.${(client >> 8) & 255}.${client & 255}`;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'x-forwarded-for': ip,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode!, ms: Number(process.hrtime.bigint() - started) / 1e6 }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const known = Array.from({ length: per }, (_, i) => `known-${i}@example.com`);
for (const email of known) {
  const res = await post('/v1/auth/register', {
    email,
    password: 'correct horse battery staple',
    name: 'Timing',
  });
  if (res.status !== 201) throw new Error(`register answered ${res.status}`);
}
const unknown = Array.from({ length: per }, (_, i) => `unknown-${i}@example.com`);
const order = [
  ...known.map((email) => ({ email, known: true })),
  ...unknown.map((email) => ({ email, known: false })),
];
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [order[i], order[j]] = [order[j]!, order[i]!];
}
// Warm up the route (JIT, pools) with throw-away addresses.
for (let i = 0; i < 30; i++) await post('/v1/auth/password-reset', { email: `warm-${i}@example.com` });
const samples = { known: [] as number[], unknown: [] as number[] };
for (const { email, known: isKnown } of order) {
  const { status, ms } = await post('/v1/auth/password-reset', { email });
  if (status !== 202) throw new Error(`reset answered ${status}`);
  (isKnown ? samples.known : samples.unknown).push(ms);
}
child.kill('SIGTERM');
agent.destroy();

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
/** Mann–Whitney U with its normal approximation (ties get mid-ranks; the tie correction is applied). */
function rankSumZ(a: number[], b: number[]): number {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[k] = rank;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    i = j + 1;
  }
  const n1 = a.length;
  const n2 = b.length;
  const r1 = all.reduce((sum, item, k) => (item.g === 0 ? sum + ranks[k]! : sum), 0);
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  return (u - (n1 * n2) / 2) / sigma;
}

const z = rankSumZ(samples.known, samples.unknown);
console.log(
  `password-reset timing, ${per} known and ${per} unknown addresses, interleaved, one keep-alive connection`,
);
console.log(`  known:   median ${median(samples.known).toFixed(3)} ms`);
console.log(`  unknown: median ${median(samples.unknown).toFixed(3)} ms`);
console.log(`  rank-sum z = ${z.toFixed(2)} (|z| < 2: no difference this sample can detect)`);
