/**
 * API key benchmarks, run on demand (never in the test suite):
 *
 *   ./node_modules/.bin/node bench/api-keys.ts            # verifications per second
 *   ./node_modules/.bin/node bench/api-keys.ts timing     # + latency of refused keys through the server
 *
 * Part 1, verifications per second in one process: Rampart against the tutorial's
 * `ApiKeyManager` (SHA-256 hex in a Map). "cold" means no verification cache: every
 * verification hashes the key and looks the hash up, in a Map (the floor) and in the real
 * SQLite store (10 000 keys, WAL).
 *
 * Part 2 (`timing`), whether latency tells refused keys apart: unknown, revoked and malformed
 * keys sent through a whole server on SQLite (Fastify `inject`, then real HTTP on loopback),
 * interleaved in random order per round, medians reported. "fresh" variants present a key never
 * seen before (a store lookup); the others repeat one key (a cache hit).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createVerificationCache } from 'rampart/internal/api-keys/cache.ts';
import { generateApiKey, parseApiKey } from 'rampart/internal/api-keys/format.ts';
import { createKeyHasher } from 'rampart/internal/api-keys/hashing.ts';
import { type ApiKeyRecord, createApiKeyIssuer } from 'rampart/internal/api-keys/record.ts';
import { createApiKeyVerifier } from 'rampart/internal/api-keys/verifier.ts';
import { decideKey } from 'rampart/internal/api-keys/verify.ts';
import { loadConfig } from '../packages/server/src/server/config.ts';
import { createRampartServer } from '../packages/server/src/server/server.ts';
import { sqliteStorage } from '../packages/server/src/storage/sqlite.ts';

const KEYS = 10_000;
const ROUNDS = 5;
const ROUND_MS = 400;

/** The tutorial's ApiKeyManager, as written there (validateKey included). */
function tutorialApiKeyManager() {
  const keys = new Map<string, { permissions: string[]; createdAt: number; lastUsed: number | null }>();
  return {
    generateKey(permissions: string[]): string {
      const key = randomBytes(32).toString('hex');
      const hash = createHash('sha256').update(key).digest('hex');
      keys.set(hash, { permissions, createdAt: Date.now(), lastUsed: null });
      return key;
    },
    validateKey(key: string, requiredPermission: string): boolean {
      const hash = createHash('sha256').update(key).digest('hex');
      const keyData = keys.get(hash);
      if (!keyData) return false;
      keyData.lastUsed = Date.now();
      return keyData.permissions.includes(requiredPermission);
    },
  };
}

function typo(key: string): string {
  const i = key.length - 10;
  return key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
}

/** Median ops/s over ROUNDS rounds of ~ROUND_MS each, after one warm-up round. */
async function measure(run: (i: number) => unknown): Promise<number> {
  const rates: number[] = [];
  for (let round = -1; round < ROUNDS; round++) {
    let ops = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      for (let j = 0; j < 1_000; j++) {
        const out = run(ops++);
        if (out instanceof Promise) await out;
      }
      elapsed = performance.now() - start;
    }
    if (round >= 0) rates.push((ops / elapsed) * 1_000);
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

const tutorial = tutorialApiKeyManager();
const tutorialKeys = Array.from({ length: KEYS }, () => tutorial.generateKey(['read', 'write']));

const hasher = createKeyHasher({ peppers: { v1: randomBytes(32) }, current: 'v1' });
const issuer = createApiKeyIssuer({ hasher });
const byHash = new Map<string, ApiKeyRecord>();
const keys: string[] = [];
for (let i = 0; i < KEYS; i++) {
  const made = issuer.issue({ name: `bench ${i}`, scopes: ['read', 'write'] });
  if (!made.ok) throw new Error('bench setup');
  byHash.set(made.record.hash, made.record);
  keys.push(made.key);
}
const findByHash = (hashes: readonly string[]) => {
  for (const hash of hashes) {
    const found = byHash.get(hash);
    if (found !== undefined) return found;
  }
  return undefined;
};
const PARSE = { prefixes: ['rk_live_'] };
const storage = sqliteStorage({ path: join(mkdtempSync(join(tmpdir(), 'rampart-bench-')), 'rampart.db') });
for (const record of byHash.values()) storage.apiKeys.insert(record);
const cache = createVerificationCache({ maxEntries: KEYS * 2, ttlMs: 3_600_000 });
for (const key of keys) cache.set(hasher.hash(key), byHash.get(hasher.hash(key))!);
const lastUsed = { touch: (_id: string) => {} };
const coldVerifier = createApiKeyVerifier({ hasher, findByHash, lastUsed });
const sqliteVerifier = createApiKeyVerifier({
  hasher,
  findByHash: (hashes) => storage.apiKeys.findByHash(hashes),
  lastUsed,
});
const cachedVerifier = createApiKeyVerifier({ hasher, findByHash, lastUsed, cache });
const tutorialTypos = tutorialKeys.map(typo);
const typos = keys.map(typo);

const cases: Array<[string, (i: number) => unknown]> = [
  [
    'tutorial ApiKeyManager.validateKey (sha256 hex + Map)',
    (i) => tutorial.validateKey(tutorialKeys[i % KEYS]!, 'read'),
  ],
  [
    'rampart cold: parse + HMAC + Map lookup + constant-time match + decide',
    (i) => {
      const key = keys[i % KEYS]!;
      if (!parseApiKey(key, PARSE).ok) throw new Error('parse');
      const found = byHash.get(hasher.hash(key));
      return decideKey(found !== undefined && hasher.matches(found.hash, key) ? found : undefined, {
        now: Date.now(),
        scope: 'read',
      });
    },
  ],
  [
    'rampart cache hit: parse + HMAC + cache get + decide',
    (i) => {
      const key = keys[i % KEYS]!;
      if (!parseApiKey(key, PARSE).ok) throw new Error('parse');
      return decideKey(cache.get(hasher.hash(key)), { now: Date.now(), scope: 'read' });
    },
  ],
  [
    'rampart verifier.verify, cold (async, full path)',
    (i) => coldVerifier.verify(keys[i % KEYS], { scope: 'read' }),
  ],
  [
    'rampart verifier.verify, cold, SQLite store (10 000 keys)',
    (i) => sqliteVerifier.verify(keys[i % KEYS], { scope: 'read' }),
  ],
  [
    'rampart verifier.verify, cache hit (async, full path)',
    (i) => cachedVerifier.verify(keys[i % KEYS], { scope: 'read' }),
  ],
  [
    'tutorial, one-character typo (hash + Map miss)',
    (i) => tutorial.validateKey(tutorialTypos[i % KEYS]!, 'read'),
  ],
  ['rampart, one-character typo (refused by checksum)', (i) => coldVerifier.verify(typos[i % KEYS])],
];

console.log(`node ${process.version}, ${KEYS} keys, median of ${ROUNDS} rounds of ${ROUND_MS} ms\n`);
const results: Array<[string, number]> = [];
for (const [name, run] of cases) {
  const rate = await measure(run);
  results.push([name, rate]);
  console.log(`${name.padEnd(72)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} /s`);
}
const base = results[0]![1];
console.log('\nratio to the tutorial (valid keys):');
for (const [name, rate] of results.slice(1, 6))
  console.log(`  ${name.padEnd(70)} ${(rate / base).toFixed(2)}×`);
storage.close();

if (process.argv.includes('timing')) await timing();

/**
 * Latency of refused keys through the whole server: does the time of a 401 tell an unknown
 * key from a revoked or a malformed one? Each round sends one request of every kind, in a
 * random order, so drift (GC, JIT, CPU frequency) spreads over all kinds alike.
 */
async function timing(): Promise<void> {
  const N = Number(process.env.BENCH_REQUESTS ?? 2000);
  const dataDir = mkdtempSync(join(tmpdir(), 'rampart-timing-'));
  // Each request comes from its own address (a trusted proxy's X-Forwarded-For), so the
  // per-address limits (100 requests, 30 failed authentications) never answer for the verifier:
  // what is timed is the verification of a refused key, not the block in front of it.
  const configPath = join(dataDir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ trustProxy: ['127.0.0.1/32'] }));
  const env = {
    RAMPART_DATA_DIR: dataDir,
    RAMPART_CONFIG: configPath,
    RAMPART_BOOTSTRAP_ADMIN_KEY: `bench-bootstrap-${randomBytes(16).toString('hex')}`,
  };
  let client = 0;
  const from = () => {
    const c = ++client;
    return `10.${(c >> 16) & 255}.${(c >> 8) & 255}.${c & 255}`;
  };
  const server = await createRampartServer(loadConfig(env, dataDir), {
    env,
    logStream: new PassThrough().resume(),
  });
  const admin = { 'x-api-key': env.RAMPART_BOOTSTRAP_ADMIN_KEY };
  const make = async () => {
    const res = await server.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { ...admin, 'x-forwarded-for': from() },
      payload: { name: 'b', scopes: [] },
    });
    return res.json() as { id: string; key: string };
  };
  // One revoked key reused (cached), and N revoked keys each presented once (store lookup).
  const revoked = await make();
  await server.app.inject({
    method: 'DELETE',
    url: `/v1/keys/${revoked.id}`,
    headers: { ...admin, 'x-forwarded-for': from() },
  });
  const freshRevoked: string[] = [];
  for (let i = 0; i < N; i++) {
    const k = await make();
    await server.app.inject({
      method: 'DELETE',
      url: `/v1/keys/${k.id}`,
      headers: { ...admin, 'x-forwarded-for': from() },
    });
    freshRevoked.push(k.key);
  }
  const unknown = generateApiKey('rk_live_').key;
  const kinds: Record<string, (i: number) => string> = {
    'unknown (repeated)': () => unknown,
    'unknown (fresh)': () => generateApiKey('rk_live_').key,
    'revoked (repeated)': () => revoked.key,
    'revoked (fresh)': (i) => freshRevoked[i]!,
    'malformed (bad checksum)': () => `${unknown.slice(0, -6)}000000`,
    'malformed (garbage)': () => 'rk_live_not-even-close',
  };
  const names = Object.keys(kinds);

  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const shuffle = <T>(xs: T[]) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };

  async function run(label: string, send: (key: string) => Promise<number>) {
    const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    // Warm-up (JIT, caches): unmeasured, keys not taken from the fresh pools.
    for (let i = 0; i < 300; i++) for (const n of names) if (!n.includes('fresh')) await send(kinds[n]!(i));
    for (let i = 0; i < N; i++) {
      for (const n of shuffle([...names])) {
        const key = kinds[n]!(i);
        const t0 = process.hrtime.bigint();
        const status = await send(key);
        const dt = Number(process.hrtime.bigint() - t0) / 1000;
        if (status !== 401) throw new Error(`${n}: expected 401, got ${status}`);
        samples[n]!.push(dt);
      }
    }
    console.log(`\n${label}: median latency of a refused key, ${N} requests per kind, interleaved`);
    for (const n of names) console.log(`  ${n.padEnd(28)} ${median(samples[n]!).toFixed(1).padStart(8)} µs`);
  }

  await run('fastify inject (in process)', async (key) => {
    const res = await server.app.inject({
      method: 'GET',
      url: '/v1/keys',
      headers: { 'x-api-key': key, 'x-forwarded-for': from() },
    });
    return res.statusCode;
  });

  // The fresh pools are used up: refill them for the HTTP run.
  freshRevoked.length = 0;
  for (let i = 0; i < N; i++) {
    const k = await make();
    await server.app.inject({
      method: 'DELETE',
      url: `/v1/keys/${k.id}`,
      headers: { ...admin, 'x-forwarded-for': from() },
    });
    freshRevoked.push(k.key);
  }
  const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
  await run('real HTTP on loopback (fetch, keep-alive)', async (key) => {
    const res = await fetch(`${address}/v1/keys`, {
      headers: { 'x-api-key': key, 'x-forwarded-for': from() },
    });
    await res.arrayBuffer();
    return res.status;
  });
  await server.close();
}
