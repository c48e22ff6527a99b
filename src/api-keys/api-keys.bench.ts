/**
 * Key verifications per second, Rampart against the tutorial's `ApiKeyManager` (SHA-256 hex
 * in a Map), in one process on one machine. Run on demand, never in the test suite:
 *
 *   ./node_modules/.bin/node src/api-keys/api-keys.bench.ts
 *
 * "cold" means no verification cache: every verification hashes the key and looks the hash up
 * in a Map (standing in for the store's index, so a real store only adds its round trip).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createVerificationCache } from './cache.ts';
import { parseApiKey } from './format.ts';
import { createKeyHasher } from './hashing.ts';
import { type ApiKeyRecord, createApiKeyIssuer } from './record.ts';
import { createApiKeyVerifier } from './verifier.ts';
import { decideKey } from './verify.ts';

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
const cache = createVerificationCache({ maxEntries: KEYS * 2, ttlMs: 3_600_000 });
for (const key of keys) cache.set(hasher.hash(key), byHash.get(hasher.hash(key))!);
const lastUsed = { touch: (_id: string) => {} };
const coldVerifier = createApiKeyVerifier({ hasher, findByHash, lastUsed });
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
for (const [name, rate] of results.slice(1, 5))
  console.log(`  ${name.padEnd(70)} ${(rate / base).toFixed(2)}×`);
