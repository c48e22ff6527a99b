import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import {
  createKeyRing,
  generateSigningKey,
  hs256SigningKey,
  jwkThumbprint,
  rotateKeyRecords,
  type SigningKeyRecord,
} from './signing-keys.ts';

const T0 = Date.UTC(2025, 0, 1);
const TTL = 15 * 60_000;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

function clock(start = T0) {
  let t = start;
  const now = () => t;
  return { now, set: (ms: number) => (t = ms), advance: (ms: number) => (t += ms) };
}

describe('signing keys', () => {
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
    test(`${alg}: kid is the RFC 7638 thumbprint, the record survives JSON and signs what the JWKS verifies`, async () => {
      const record = await generateSigningKey({ alg, now: () => T0 });
      assert.equal(record.alg, alg);
      assert.equal(record.createdAt, T0);
      assert.equal(record.kid, await calculateJwkThumbprint(record.publicJwk!));
      const stored = JSON.parse(JSON.stringify(record)) as SigningKeyRecord;
      const ring = createKeyRing({ keys: [stored], accessTtlMs: TTL });
      const token = await new SignJWT({ sub: 'usr_1' })
        .setProtectedHeader({ alg, kid: ring.signingKey.kid })
        .sign(ring.signingKey.key);
      const { payload } = await jwtVerify(token, createLocalJWKSet(ring.jwks()));
      assert.equal(payload.sub, 'usr_1');
    });
  }

  test('the JWKS never contains private members (d, p, q, dp, dq, qi, k), even when a record carries extras', async () => {
    const keys = [
      await generateSigningKey({ alg: 'RS256', now: () => T0 - 3 }),
      await generateSigningKey({ alg: 'ES256', now: () => T0 - 2 }),
      await generateSigningKey({ alg: 'EdDSA', now: () => T0 - 1 }),
    ];
    keys[0]!.retiredAt = T0;
    keys[1]!.retiredAt = T0;
    // A record whose publicJwk was polluted with private members must still publish only public ones.
    keys[2] = { ...keys[2]!, publicJwk: { ...keys[2]!.publicJwk, d: keys[2]!.privateJwk.d } };
    const ring = createKeyRing({ keys, accessTtlMs: TTL, now: () => T0 });
    const jwks = ring.jwks();
    assert.equal(jwks.keys.length, 3);
    for (const jwk of jwks.keys) {
      for (const member of PRIVATE_MEMBERS)
        assert.equal(Object.hasOwn(jwk, member), false, `${jwk.kty} has ${member}`);
      assert.equal(jwk.use, 'sig');
      assert.ok(jwk.alg && jwk.kid);
    }
    assert.doesNotMatch(JSON.stringify(jwks), /"(d|p|q|dp|dq|qi|k)":/);
  });

  test('HS256 keys are never published and a short secret is refused naming the secret', () => {
    const ring = createKeyRing({ keys: [hs256SigningKey({ secret: 'x'.repeat(32) })], accessTtlMs: TTL });
    assert.deepEqual(ring.jwks(), { keys: [] });
    assert.throws(() => hs256SigningKey({ secret: 'short-secret-of-31-bytes-xxxxxx' }), {
      name: 'TypeError',
      message: /^secret: must be at least 32 bytes, got 31$/,
    });
    assert.throws(() => hs256SigningKey({ secret: 'é'.repeat(15) }), { message: /^secret: / }); // 30 bytes, 15 characters
  });

  test('the error for a short secret never contains the secret', () => {
    const secret = 'hunter2-super-secret';
    assert.throws(
      () => hs256SigningKey({ secret }),
      (error: Error) => !error.message.includes(secret),
    );
  });

  test('our synchronous thumbprint equals jose for every key type', async () => {
    for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
      const { publicJwk } = await generateSigningKey({ alg });
      assert.equal(jwkThumbprint(publicJwk!), await calculateJwkThumbprint(publicJwk!));
    }
    const { privateJwk } = hs256SigningKey({ secret: new Uint8Array(32).fill(7) });
    assert.equal(jwkThumbprint(privateJwk), await calculateJwkThumbprint(privateJwk));
    // RFC 7638 §3.1 example.
    const rfcKey = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
    };
    assert.equal(jwkThumbprint(rfcKey), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  test('an RSA modulus under 2048 bits is refused', async () => {
    await assert.rejects(generateSigningKey({ alg: 'RS256', modulusLength: 1024 }), {
      name: 'TypeError',
      message: /^modulusLength:/,
    });
  });

  test('a stored record whose kid was edited is refused (kid must be the thumbprint)', async () => {
    const record = await generateSigningKey();
    assert.throws(() => createKeyRing({ keys: [{ ...record, kid: '../../etc/passwd' }], accessTtlMs: TTL }), {
      name: 'TypeError',
      message: /^keys\[0\]\.kid:/,
    });
  });

  test('a record whose private key does not match its public key is refused', async () => {
    const a = await generateSigningKey();
    const b = await generateSigningKey();
    assert.throws(() => createKeyRing({ keys: [{ ...a, privateJwk: b.privateJwk }], accessTtlMs: TTL }), {
      name: 'TypeError',
      message: /^keys\[0\]\.privateJwk\.x:/,
    });
  });

  test('a ring needs exactly one current key', async () => {
    const a = await generateSigningKey();
    const b = await generateSigningKey();
    assert.throws(() => createKeyRing({ keys: [a, b], accessTtlMs: TTL }), /more than one current key/);
    assert.throws(
      () => createKeyRing({ keys: [{ ...a, retiredAt: T0 }], accessTtlMs: TTL }),
      /no current key/,
    );
    assert.throws(() => createKeyRing({ keys: [], accessTtlMs: TTL }), /^TypeError: keys:/);
    assert.throws(() => createKeyRing({ keys: [a], accessTtlMs: 0 }), /^TypeError: accessTtlMs:/);
  });

  test('rotation: the previous key keeps verifying until its last token has expired, then leaves the JWKS', async () => {
    const time = clock();
    const first = await generateSigningKey({ now: time.now });
    const ring1 = createKeyRing({ keys: [first], accessTtlMs: TTL, clockToleranceMs: 0, now: time.now });
    time.advance(60_000);
    const ring2 = await ring1.rotate();
    assert.notEqual(ring2.signingKey.kid, first.kid);
    assert.equal(ring2.records.find((r) => r.kid === first.kid)?.retiredAt, T0 + 60_000);
    assert.deepEqual(
      ring2
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
      [first.kid, ring2.signingKey.kid].sort(),
    );
    assert.ok(ring2.verificationKey(first.kid));

    time.set(T0 + 60_000 + TTL - 1);
    assert.ok(ring2.verificationKey(first.kid), 'a token signed just before rotation is still valid');
    time.set(T0 + 60_000 + TTL);
    assert.equal(ring2.verificationKey(first.kid), undefined);
    assert.deepEqual(
      ring2.jwks().keys.map((k) => k.kid),
      [ring2.signingKey.kid],
    );
    // The ring in hand (ring1) is unchanged: rotation answers a new ring.
    assert.equal(ring1.signingKey.kid, first.kid);
    assert.equal(ring1.records[0]!.retiredAt, undefined);
  });

  test('rotateKeyRecords is pure and prunes keys whose window has ended', async () => {
    const a = await generateSigningKey({ now: () => T0 });
    const b = await generateSigningKey({ now: () => T0 + 1 });
    const c = await generateSigningKey({ now: () => T0 + 2 });
    const afterB = rotateKeyRecords([a], b, { now: T0 + 10, accessTtlMs: TTL, clockToleranceMs: 0 });
    assert.equal(a.retiredAt, undefined, 'input not changed');
    const afterC = rotateKeyRecords(afterB, c, { now: T0 + 10 + TTL, accessTtlMs: TTL, clockToleranceMs: 0 });
    assert.deepEqual(
      afterC.map((r) => r.kid),
      [b.kid, c.kid],
    );
    assert.throws(() => rotateKeyRecords(afterC, c, { now: T0, accessTtlMs: TTL }), /already in the ring/);
  });

  test('an HS256 ring rotates only to a key made from a new configured secret', async () => {
    const ring = createKeyRing({ keys: [hs256SigningKey({ secret: 'a'.repeat(32) })], accessTtlMs: TTL });
    await assert.rejects(ring.rotate(), /HS256 keys come from a configured secret/);
    const next = await ring.rotate({ key: hs256SigningKey({ secret: 'b'.repeat(32) }) });
    assert.equal(next.verificationKeys().length, 2);
    await assert.rejects(
      ring.rotate({ key: hs256SigningKey({ secret: 'a'.repeat(32) }) }),
      /already in the ring/,
    );
  });

  test('rotation can change the algorithm (HS256 → EdDSA)', async () => {
    const ring = createKeyRing({ keys: [hs256SigningKey({ secret: 'a'.repeat(32) })], accessTtlMs: TTL });
    const next = await ring.rotate({ alg: 'EdDSA' });
    assert.equal(next.signingKey.alg, 'EdDSA');
    assert.equal(next.jwks().keys.length, 1);
  });

  test('a kid that is a path, SQL or a prototype name is only a Map miss', async () => {
    const ring = createKeyRing({ keys: [await generateSigningKey()], accessTtlMs: TTL });
    for (const kid of ['../../etc/passwd', "' OR 1=1 --", '__proto__', 'constructor', 'toString', '']) {
      assert.equal(ring.verificationKey(kid), undefined);
    }
  });
});
