import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  type AccessTokenClaims,
  type AccessTokenVerifierOptions,
  createAccessTokenIssuer,
  createAccessTokenVerifier,
} from './access-token.ts';
import { createKeyRing, generateSigningKey, hs256SigningKey, type KeyRing } from './signing-keys.ts';

const T0 = Date.UTC(2025, 0, 1, 12);
const TTL = 15 * 60_000;
const ISS = 'https://auth.rampart.test';
const AUD = 'https://api.rampart.test';

function clock(start = T0) {
  let t = start;
  return { now: () => t, set: (ms: number) => (t = ms), advance: (ms: number) => (t += ms) };
}

async function setup(
  options: Partial<AccessTokenVerifierOptions> & { alg?: 'EdDSA' | 'ES256' | 'RS256' } = {},
) {
  const time = clock();
  const ring = createKeyRing({
    keys: [await generateSigningKey({ alg: options.alg ?? 'EdDSA', now: time.now })],
    accessTtlMs: TTL,
    now: time.now,
  });
  const issuer = createAccessTokenIssuer({ ring, issuer: ISS, audience: AUD, now: time.now });
  const verifier = createAccessTokenVerifier({
    ring,
    issuer: ISS,
    audience: AUD,
    algorithms: [ring.signingKey.alg],
    now: time.now,
    ...options,
  });
  return { time, ring, issuer, verifier };
}

describe('access tokens: issuing (RFC 9068 profile)', () => {
  test('header is exactly { alg, typ: at+jwt, kid } and claims are the profile', async () => {
    const { ring, issuer } = await setup();
    const issued = await issuer.issue({
      sub: 'usr_1',
      role: 'admin',
      scopes: ['keys:read', 'keys:write', 'keys:read'],
    });
    assert.deepEqual(decodeProtectedHeader(issued.token), {
      alg: 'EdDSA',
      typ: 'at+jwt',
      kid: ring.signingKey.kid,
    });
    const claims = decodeJwt(issued.token);
    assert.deepEqual(Object.keys(claims).sort(), [
      'aud',
      'client_id',
      'exp',
      'iat',
      'iss',
      'jti',
      'role',
      'scope',
      'sub',
    ]);
    assert.equal(claims.iss, ISS);
    assert.equal(claims.aud, AUD);
    assert.equal(claims.client_id, ISS, 'first-party login: client_id defaults to the issuer');
    assert.equal(claims.scope, 'keys:read keys:write');
    assert.equal(claims.iat, T0 / 1000);
    assert.equal(claims.exp, (T0 + TTL) / 1000);
    assert.match(String(claims.jti), /^[0-9A-Za-z]{22}$/);
    assert.equal(issued.expiresIn, TTL / 1000);
    assert.equal(issued.expiresAt, T0 + TTL);
  });

  test('every token has a fresh jti', async () => {
    const { issuer } = await setup();
    const jtis = new Set<string>();
    for (let i = 0; i < 50; i++) jtis.add((await issuer.issue({ sub: 'usr_1', role: 'user' })).jti);
    assert.equal(jtis.size, 50);
  });

  test('extra claims cannot override a registered or profile claim', async () => {
    const { issuer } = await setup();
    for (const name of ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope', 'role']) {
      await assert.rejects(issuer.issue({ sub: 'usr_1', role: 'user', extra: { [name]: 'x' } }), {
        name: 'TypeError',
        message: new RegExp(`^extra\\.${name}:`),
      });
    }
    const ok = await issuer.issue({ sub: 'usr_1', role: 'user', extra: { tenant: 't1' } });
    assert.equal(decodeJwt(ok.token).tenant, 't1');
  });

  test('a token cannot be issued to outlive its signing key (ttl above the ring accessTtl)', async () => {
    const { issuer } = await setup();
    await assert.rejects(
      issuer.issue({ sub: 'usr_1', role: 'user', ttlMs: TTL + 1000 }),
      /^TypeError: ttlMs:/,
    );
    const short = await issuer.issue({ sub: 'usr_1', role: 'user', ttlMs: 60_000 });
    assert.equal(short.expiresIn, 60);
  });

  test('a scope with a space or a quote is refused (it would split into two scopes)', async () => {
    const { issuer } = await setup();
    await assert.rejects(
      issuer.issue({ sub: 'usr_1', role: 'user', scopes: ['read admin'] }),
      /^TypeError: scopes:/,
    );
    await assert.rejects(
      issuer.issue({ sub: 'usr_1', role: 'user', scopes: ['a"b'] }),
      /^TypeError: scopes:/,
    );
  });

  test('options are validated at creation, naming the field', async () => {
    const { ring } = await setup();
    assert.throws(() => createAccessTokenIssuer({ ring, issuer: '', audience: AUD }), /^TypeError: issuer:/);
    assert.throws(
      () => createAccessTokenIssuer({ ring, issuer: ISS, audience: [] }),
      /^TypeError: audience:/,
    );
    assert.throws(
      () => createAccessTokenIssuer({ ring, issuer: ISS, audience: AUD, ttlMs: 10 }),
      /^TypeError: ttlMs:/,
    );
    const base = { ring, issuer: ISS, audience: AUD };
    assert.throws(() => createAccessTokenVerifier({ ...base, algorithms: [] }), /^TypeError: algorithms:/);
    assert.throws(
      () => createAccessTokenVerifier({ ...base, algorithms: ['none' as 'EdDSA'] }),
      /^TypeError: algorithms: "none"/,
    );
    assert.throws(
      () => createAccessTokenVerifier({ ...base, algorithms: ['RS256'] }),
      /^TypeError: algorithms: does not include the key ring's signing algorithm EdDSA/,
    );
    assert.throws(
      () => createAccessTokenVerifier({ ...base, algorithms: ['EdDSA'], maxTokenBytes: 10 }),
      /maxTokenBytes/,
    );
    assert.throws(
      () => createAccessTokenVerifier({ ...base, algorithms: ['EdDSA'], clockToleranceSec: -1 }),
      /^TypeError: clockToleranceSec:/,
    );
    assert.throws(
      () => createAccessTokenVerifier({ ...base, algorithms: ['EdDSA'], cache: { max: 0 } }),
      /cache\.max/,
    );
  });
});

describe('access tokens: verifying', () => {
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
    test(`${alg}: an issued token verifies with its claims and scopes`, async () => {
      const { issuer, verifier } = await setup({ alg });
      const { token } = await issuer.issue({ sub: 'usr_1', role: 'user', scopes: ['a', 'b'] });
      const result = await verifier.verify(token);
      assert.equal(result.ok, true);
      assert.ok(result.ok);
      assert.equal(result.claims.sub, 'usr_1');
      assert.equal(result.claims.role, 'user');
      assert.deepEqual(result.scopes, ['a', 'b']);
      assert.equal(result.cached, false);
    });
  }

  test('HS256 with a configured secret verifies', async () => {
    const time = clock();
    const ring = createKeyRing({
      keys: [hs256SigningKey({ secret: 's'.repeat(48) })],
      accessTtlMs: TTL,
      now: time.now,
    });
    const issuer = createAccessTokenIssuer({ ring, issuer: ISS, audience: AUD, now: time.now });
    const verifier = createAccessTokenVerifier({
      ring,
      issuer: ISS,
      audience: AUD,
      algorithms: ['HS256'],
      now: time.now,
    });
    const result = await verifier.verify((await issuer.issue({ sub: 'usr_1', role: 'user' })).token);
    assert.equal(result.ok, true);
  });

  test('interop: plain jose verifies a Rampart token against the published JWKS', async () => {
    const { ring, issuer } = await setup();
    const { token } = await issuer.issue({ sub: 'usr_1', role: 'user', scopes: ['x'] });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(ring.jwks()), {
      issuer: ISS,
      audience: AUD,
      typ: 'at+jwt',
      algorithms: ['EdDSA'],
      currentDate: new Date(T0),
    });
    assert.equal(payload.sub, 'usr_1');
    assert.equal(protectedHeader.kid, ring.signingKey.kid);
  });

  test('after a rotation, tokens of the previous key verify until they expire and new ones use the new key', async () => {
    const time = clock();
    let ring: KeyRing = createKeyRing({
      keys: [await generateSigningKey({ now: time.now })],
      accessTtlMs: TTL,
      now: time.now,
    });
    const issuer = createAccessTokenIssuer({ ring: () => ring, issuer: ISS, audience: AUD, now: time.now });
    const verifier = createAccessTokenVerifier({
      ring: () => ring,
      issuer: ISS,
      audience: AUD,
      algorithms: ['EdDSA'],
      clockToleranceSec: 0,
      now: time.now,
    });
    const old = await issuer.issue({ sub: 'usr_1', role: 'user' });
    time.advance(60_000);
    ring = await ring.rotate();
    const fresh = await issuer.issue({ sub: 'usr_1', role: 'user' });
    assert.notEqual(fresh.kid, old.kid);
    assert.equal((await verifier.verify(old.token)).ok, true);
    assert.equal((await verifier.verify(fresh.token)).ok, true);
    time.set(old.expiresAt);
    assert.deepEqual(await verifier.verify(old.token), { ok: false, code: 'EXPIRED' });
    time.set(T0 + 60_000 + TTL + 5_000);
    assert.deepEqual(
      await verifier.verify(old.token),
      { ok: false, code: 'UNKNOWN_KID' },
      'the old key has left',
    );
  });

  test('clock tolerance: a token expired by less than the tolerance still verifies, by more does not', async () => {
    const { time, issuer, verifier } = await setup({ clockToleranceSec: 5 });
    const { token, expiresAt } = await issuer.issue({ sub: 'usr_1', role: 'user' });
    time.set(expiresAt + 4_000);
    assert.equal((await verifier.verify(token)).ok, true);
    time.set(expiresAt + 5_000);
    assert.deepEqual(await verifier.verify(token), { ok: false, code: 'EXPIRED' });
  });

  test('verified claims are frozen (a caller cannot poison the cache)', async () => {
    const { issuer, verifier } = await setup({ cache: { max: 10 } });
    const { token } = await issuer.issue({ sub: 'usr_1', role: 'user' });
    const first = await verifier.verify(token);
    assert.ok(first.ok);
    assert.throws(() => {
      (first.claims as AccessTokenClaims).role = 'admin';
    }, TypeError);
    const second = await verifier.verify(token);
    assert.ok(second.ok);
    assert.equal(second.claims.role, 'user');
  });
});

describe('access tokens: revocation', () => {
  test('a revoked jti is refused, also when the token is in the cache', async () => {
    const denied = new Set<string>();
    const { issuer, verifier } = await setup({
      cache: { max: 100 },
      isRevoked: (claims) => denied.has(claims.jti),
    });
    const { token, jti } = await issuer.issue({ sub: 'usr_1', role: 'user' });
    assert.equal((await verifier.verify(token)).ok, true);
    assert.equal(verifier.cacheSize, 1);
    denied.add(jti);
    assert.deepEqual(await verifier.verify(token), { ok: false, code: 'REVOKED' });
    assert.equal(verifier.cacheSize, 0, 'the revoked token left the cache');
    assert.deepEqual(await verifier.verify(token), { ok: false, code: 'REVOKED' });
  });

  test('a per-user not-before (logout everywhere, password change) ends older tokens', async () => {
    const notBefore = new Map<string, number>();
    const { time, issuer, verifier } = await setup({
      cache: { max: 100 },
      isRevoked: async (claims) => claims.iat < (notBefore.get(claims.sub) ?? 0),
    });
    const before = await issuer.issue({ sub: 'usr_1', role: 'user' });
    assert.equal((await verifier.verify(before.token)).ok, true);
    time.advance(1000);
    notBefore.set('usr_1', Math.floor(time.now() / 1000));
    const after = await issuer.issue({ sub: 'usr_1', role: 'user' });
    assert.deepEqual(await verifier.verify(before.token), { ok: false, code: 'REVOKED' });
    assert.equal((await verifier.verify(after.token)).ok, true);
  });

  test('a revocation store failure propagates (a 503, never a silent accept)', async () => {
    const { issuer, verifier } = await setup({
      isRevoked: () => {
        throw new Error('store down');
      },
    });
    const { token } = await issuer.issue({ sub: 'usr_1', role: 'user' });
    await assert.rejects(verifier.verify(token), /store down/);
  });
});

describe('access tokens: the verification cache', () => {
  test('verifyNow answers a cached token at once, and a revoked, expired or unknown one never passes', async () => {
    const revoked = new Set<string>();
    const { time, issuer, verifier } = await setup({
      cache: { max: 10 },
      isRevoked: (claims) => revoked.has(claims.jti),
    });
    const { token } = await issuer.issue({ sub: 'usr_1', role: 'user' });
    assert.equal(verifier.verifyNow(token), undefined, 'never verified: only verify() can tell');
    assert.ok((await verifier.verify(token)).ok);
    const now = verifier.verifyNow(token);
    assert.ok(now?.ok && now.cached && now.claims.sub === 'usr_1');
    revoked.add(now.claims.jti);
    assert.deepEqual(verifier.verifyNow(token), { ok: false, code: 'REVOKED' });
    assert.equal(verifier.verifyNow(token), undefined, 'the revoked token left the cache');
    const other = await issuer.issue({ sub: 'usr_2', role: 'user' });
    assert.ok((await verifier.verify(other.token)).ok);
    time.advance(TTL + 10_000);
    assert.equal(verifier.verifyNow(other.token), undefined, 'past exp: verify() decides (and refuses)');
    assert.equal((await verifier.verify(other.token)).ok, false);
  });

  test('verifyNow leaves cache hits to verify() when the revocation check waits on a store', async () => {
    let checks = 0;
    const { issuer, verifier } = await setup({
      cache: { max: 10 },
      isRevoked: async () => {
        checks++;
        return true;
      },
    });
    const { token } = await issuer.issue({ sub: 'usr_1', role: 'user' });
    assert.equal((await verifier.verify(token)).ok, false);
    assert.equal(verifier.verifyNow(token), undefined);
    assert.ok(checks >= 1);
  });

  test('a second verification of the same token is a cache hit', async () => {
    const { issuer, verifier } = await setup({ cache: { max: 10 } });
    const { token } = await issuer.issue({ sub: 'usr_1', role: 'user' });
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    assert.ok(first.ok && second.ok);
    assert.equal(first.cached, false);
    assert.equal(second.cached, true);
  });

  test('a cache entry is never used past exp, even inside the clock tolerance', async () => {
    const { time, issuer, verifier } = await setup({ cache: { max: 10 }, clockToleranceSec: 5 });
    const { token, expiresAt } = await issuer.issue({ sub: 'usr_1', role: 'user' });
    assert.equal((await verifier.verify(token)).ok, true);
    time.set(expiresAt);
    const atExp = await verifier.verify(token);
    assert.ok(atExp.ok, 'the full check still allows the tolerance');
    assert.equal(atExp.cached, false);
    time.set(expiresAt + 5_000);
    assert.deepEqual(await verifier.verify(token), { ok: false, code: 'EXPIRED' });
  });

  test('the cache is bounded and evicts the least recently used token', async () => {
    const { issuer, verifier } = await setup({ cache: { max: 2 } });
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => issuer.issue({ sub: 'usr_1', role: 'user' })));
    await verifier.verify(a!.token);
    await verifier.verify(b!.token);
    await verifier.verify(a!.token); // a is now the most recent
    await verifier.verify(c!.token); // evicts b
    assert.equal(verifier.cacheSize, 2);
    const again = await Promise.all([a!, b!, c!].map((t) => verifier.verify(t.token)));
    assert.deepEqual(
      again.map((r) => r.ok && r.cached),
      [true, false, true],
    );
  });

  test('drop(jti) and clear() empty the cache', async () => {
    const { issuer, verifier } = await setup({ cache: { max: 10 } });
    const a = await issuer.issue({ sub: 'usr_1', role: 'user' });
    const b = await issuer.issue({ sub: 'usr_2', role: 'user' });
    await verifier.verify(a.token);
    await verifier.verify(b.token);
    verifier.drop(a.jti);
    assert.equal(verifier.cacheSize, 1);
    const aAgain = await verifier.verify(a.token);
    assert.ok(aAgain.ok && !aAgain.cached);
    verifier.clear();
    assert.equal(verifier.cacheSize, 0);
  });

  test('a cached token is refused once its key leaves the ring (key compromise)', async () => {
    const time = clock();
    const good = createKeyRing({
      keys: [await generateSigningKey({ now: time.now })],
      accessTtlMs: TTL,
      now: time.now,
    });
    let ring = good;
    const issuer = createAccessTokenIssuer({ ring: () => ring, issuer: ISS, audience: AUD, now: time.now });
    const verifier = createAccessTokenVerifier({
      ring: () => ring,
      issuer: ISS,
      audience: AUD,
      algorithms: ['EdDSA'],
      cache: { max: 10 },
      now: time.now,
    });
    const { token } = await issuer.issue({ sub: 'usr_1', role: 'user' });
    assert.equal((await verifier.verify(token)).ok, true);
    // The compromised key is removed outright (not retired): a new ring without it.
    ring = createKeyRing({
      keys: [await generateSigningKey({ now: time.now })],
      accessTtlMs: TTL,
      now: time.now,
    });
    assert.deepEqual(await verifier.verify(token), { ok: false, code: 'UNKNOWN_KID' });
  });
});

test('concurrent uses of one cached token are all served from the cache', async () => {
  const ring = createKeyRing({ keys: [await generateSigningKey()], accessTtlMs: 900_000 });
  const common = { ring, issuer: 'https://iss.example', audience: 'api' };
  const { token } = await createAccessTokenIssuer(common).issue({ sub: 'usr_1', role: 'user' });
  let revocationChecks = 0;
  const verifier = createAccessTokenVerifier({
    ...common,
    algorithms: ['EdDSA'],
    cache: { max: 10 },
    isRevoked: async () => {
      revocationChecks++;
      await new Promise((r) => setImmediate(r));
      return false;
    },
  });
  const first = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
  assert.equal(first.filter((r) => r.ok && !r.cached).length, 20, 'one shared first check');
  const again = await Promise.all(Array.from({ length: 50 }, () => verifier.verify(token)));
  assert.ok(
    again.every((r) => r.ok && r.cached),
    'no concurrent request fell back to a full verification',
  );
  assert.equal(revocationChecks, 70, 'revocation is still checked on every use');
});
