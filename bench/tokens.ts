/**
 * Token and password benchmarks, run on demand (never in the test suite):
 *
 *   ./node_modules/.bin/node bench/tokens.ts
 *
 * Prints access-token verifications per second (EdDSA, ES256, RS256, HS256; with and without
 * the verification cache; one request at a time and 64 in flight), issuing rate, and the
 * argon2id hash time at the default parameters. The baselines, measured in the same run:
 * `jsonwebtoken` (the tutorial's verifier, a devDependency) verifying HS256 and RS256 tokens, and a bare node:crypto HMAC check (the floor any HS256 verifier pays).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import os from 'node:os';
import { createAccessTokenIssuer, createAccessTokenVerifier } from 'rampart/internal/tokens/access-token.ts';
import {
  createKeyRing,
  generateSigningKey,
  hs256SigningKey,
  type SigningKeyRecord,
} from 'rampart/internal/tokens/signing-keys.ts';
import {
  createPasswordHasher,
  DEFAULT_ARGON2_PARAMS,
  verifyPassword,
} from '../packages/server/src/accounts/password-hash.ts';

const ISS = 'https://auth.rampart.test';
const AUD = 'https://api.rampart.test';
const RUN_MS = Number(process.env.BENCH_MS ?? 1500);

async function rate(fn: () => Promise<unknown>, concurrency = 1): Promise<number> {
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) await fn();
  let done = 0;
  const start = performance.now();
  const end = start + RUN_MS;
  async function worker() {
    while (performance.now() < end) {
      await fn();
      done++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((performance.now() - start) / 1000);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);

async function tokenBench(label: string, record: SigningKeyRecord) {
  const ring = createKeyRing({ keys: [record], accessTtlMs: 15 * 60_000 });
  const issuer = createAccessTokenIssuer({ ring, issuer: ISS, audience: AUD });
  const base = { ring, issuer: ISS, audience: AUD, algorithms: [record.alg] };
  const plain = createAccessTokenVerifier(base);
  const cached = createAccessTokenVerifier({ ...base, cache: { max: 10_000 } });
  const revocationAware = createAccessTokenVerifier({
    ...base,
    cache: { max: 10_000 },
    isRevoked: (claims) => denied.has(claims.jti),
  });
  const denied = new Set<string>();
  const tokens = await Promise.all(
    Array.from({ length: 1000 }, (_, i) =>
      issuer.issue({ sub: `usr_${i}`, role: 'user', scopes: ['read', 'write'] }).then((t) => t.token),
    ),
  );
  let i = 0;
  const next = () => tokens[i++ % tokens.length]!;
  const check = async (verifier: typeof plain) => {
    const result = await verifier.verify(next());
    if (!result.ok) throw new Error(`bench token refused: ${result.code}`);
  };
  const row = {
    'no cache, 1 in flight': await rate(() => check(plain)),
    'no cache, 64 in flight': await rate(() => check(plain), 64),
    'cache (1000 tokens), 1 in flight': await rate(() => check(cached)),
    'cache + isRevoked Set, 1 in flight': await rate(() => check(revocationAware)),
    'issue, 1 in flight': await rate(() => issuer.issue({ sub: 'usr_1', role: 'user', scopes: ['read'] })),
  };
  console.log(`\n${label}  (token ${tokens[0]!.length} bytes)`);
  for (const [name, value] of Object.entries(row)) console.log(`  ${name.padEnd(38)} ${fmt(value)} /s`);
}

/** The floor: HMAC-SHA256 over the signing input, compare, JSON.parse, exp check. No header checks. */
async function bareHmacBaseline() {
  const secret = Buffer.from('s'.repeat(48));
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(
    JSON.stringify({ sub: 'usr_1', iss: ISS, aud: AUD, exp: Math.floor(Date.now() / 1000) + 900 }),
  ).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  const token = `${header}.${payload}.${signature}`;
  const perSecond = await rate(async () => {
    const [h, p, s] = token.split('.') as [string, string, string];
    const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest();
    if (!timingSafeEqual(expected, Buffer.from(s, 'base64url'))) throw new Error('bad');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    if (claims.exp * 1000 < Date.now()) throw new Error('expired');
  });
  console.log(`\nbare node:crypto HS256 (jsonwebtoken-like floor, sync)  ${fmt(perSecond)} /s`);
}

/** The tutorial's verifier: jsonwebtoken, HS256 with a shared secret, and RS256. */
async function jsonwebtokenBaseline() {
  const jwt = (await import('jsonwebtoken')).default;
  const secret = 's'.repeat(48);
  const hs = jwt.sign({ sub: 'usr_1', role: 'user' }, secret, {
    algorithm: 'HS256',
    expiresIn: '15m',
    issuer: ISS,
    audience: AUD,
  });
  const hsRate = await rate(async () => {
    jwt.verify(hs, secret, { algorithms: ['HS256'], issuer: ISS, audience: AUD });
  });
  const { generateKeyPairSync } = await import('node:crypto');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rs = jwt.sign({ sub: 'usr_1' }, privateKey, { algorithm: 'RS256', expiresIn: '15m' });
  const rsRate = await rate(async () => {
    jwt.verify(rs, publicKey, { algorithms: ['RS256'] });
  });
  console.log(`
jsonwebtoken (the tutorial's verifier, sync, no cache)`);
  console.log(`  HS256                                  ${fmt(hsRate)} /s`);
  console.log(`  RS256 (2048)                           ${fmt(rsRate)} /s`);
}

async function argon2Bench() {
  const hasher = createPasswordHasher();
  const samples: number[] = [];
  await hasher.hash('warm-up password');
  let phc = '';
  for (let n = 0; n < 20; n++) {
    const t = performance.now();
    phc = await hasher.hash('correct horse battery staple');
    samples.push(performance.now() - t);
  }
  const verifySamples: number[] = [];
  const dummySamples: number[] = [];
  for (let n = 0; n < 20; n++) {
    let t = performance.now();
    await verifyPassword('correct horse battery staple', phc);
    verifySamples.push(performance.now() - t);
    t = performance.now();
    await hasher.dummyVerify('correct horse battery staple');
    dummySamples.push(performance.now() - t);
  }
  const parallel = performance.now();
  await Promise.all(Array.from({ length: 8 }, () => hasher.hash('correct horse battery staple')));
  const parallelMs = performance.now() - parallel;
  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `median ${sorted[sorted.length >> 1]!.toFixed(1)} ms, p90 ${sorted[Math.floor(sorted.length * 0.9)]!.toFixed(1)} ms, min ${sorted[0]!.toFixed(1)} ms`;
  };
  const { memory, passes, parallelism } = DEFAULT_ARGON2_PARAMS;
  console.log(`\nargon2id m=${memory} KiB, t=${passes}, p=${parallelism} (20 runs each)`);
  console.log(`  hash          ${stats(samples)}`);
  console.log(`  verify        ${stats(verifySamples)}`);
  console.log(`  dummyVerify   ${stats(dummySamples)}`);
  console.log(
    `  8 hashes at once: ${parallelMs.toFixed(0)} ms total (UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4})`,
  );
}

console.log(
  `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${RUN_MS} ms per row`,
);
await tokenBench('EdDSA (Ed25519)', await generateSigningKey({ alg: 'EdDSA' }));
await tokenBench('HS256', hs256SigningKey({ secret: 's'.repeat(48) }));
await tokenBench('ES256', await generateSigningKey({ alg: 'ES256' }));
await tokenBench('RS256 (2048)', await generateSigningKey({ alg: 'RS256' }));
await bareHmacBaseline();
await jsonwebtokenBaseline();
await argon2Bench();
