/**
 * The JWT attack suite: each case builds a hostile token the way an attacker would (by hand,
 * not through our issuer) and asserts the verifier refuses it with the right code. The
 * published attacks come from RFC 8725 §2, the jwt_tool playbook and the CVEs of JWT
 * libraries (alg none, RS/HS confusion, embedded jwk, jku/x5u, kid injection, psychic
 * signatures).
 */
import assert from 'node:assert/strict';
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CompactEncrypt, createLocalJWKSet, jwtVerify } from 'jose';
import {
  type AccessTokenFailure,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  createAccessTokenIssuer,
  createAccessTokenVerifier,
} from './access-token.ts';
import { createRefreshToken } from './refresh-token.ts';
import {
  createKeyRing,
  generateSigningKey,
  jwkThumbprint,
  type KeyRing,
  type SigningAlgorithm,
  type SigningKeyRecord,
} from './signing-keys.ts';

const T0 = Date.UTC(2025, 0, 1, 12);
const NOW_S = T0 / 1000;
const TTL = 15 * 60_000;
const ISS = 'https://auth.rampart.test';
const AUD = 'https://api.rampart.test';

type Json = Record<string, unknown>;

const b64 = (value: Json | string | Uint8Array) =>
  Buffer.from(
    typeof value === 'string' || value instanceof Uint8Array ? value : JSON.stringify(value),
  ).toString('base64url');

function claims(overrides: Json = {}): Json {
  return {
    iss: ISS,
    sub: 'usr_attacker',
    aud: AUD,
    exp: NOW_S + 900,
    iat: NOW_S,
    jti: 'jti-1',
    client_id: ISS,
    scope: 'admin',
    role: 'admin',
    ...overrides,
  };
}

/** Signs `header.payload` with a key the way the algorithm says, without any library checks. */
function signCompact(header: Json, payload: Json, key: KeyObject | Uint8Array | string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const alg = header.alg;
  let signature: Buffer;
  if (alg === 'HS256') {
    signature = createHmac('sha256', key as Uint8Array | string)
      .update(input)
      .digest();
  } else if (alg === 'EdDSA' || alg === 'Ed25519') {
    signature = cryptoSign(null, Buffer.from(input), key as KeyObject);
  } else if (alg === 'ES256') {
    signature = cryptoSign('sha256', Buffer.from(input), {
      key: key as KeyObject,
      dsaEncoding: 'ieee-p1363',
    });
  } else if (alg === 'RS256') {
    signature = cryptoSign('sha256', Buffer.from(input), key as KeyObject);
  } else {
    throw new Error(`test helper cannot sign ${String(alg)}`);
  }
  return `${input}.${signature.toString('base64url')}`;
}

interface Fixture {
  ring: KeyRing;
  record: SigningKeyRecord;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  verifier: AccessTokenVerifier;
  /** A well-formed token from our own issuer. */
  good: string;
  /** A token signed with the server's real key (the attacker cannot do this; it isolates one check). */
  signed(header?: Json, payload?: Json): string;
}

async function fixture(
  alg: Exclude<SigningAlgorithm, 'HS256'> = 'EdDSA',
  options: Partial<AccessTokenVerifierOptions> = {},
): Promise<Fixture> {
  const record = await generateSigningKey({ alg, now: () => T0 });
  const ring = createKeyRing({ keys: [record], accessTtlMs: TTL, now: () => T0 });
  const verifier = createAccessTokenVerifier({
    ring,
    issuer: ISS,
    audience: AUD,
    algorithms: [alg],
    now: () => T0,
    ...options,
  });
  const issuer = createAccessTokenIssuer({ ring, issuer: ISS, audience: AUD, now: () => T0 });
  const good = (await issuer.issue({ sub: 'usr_1', role: 'user', scopes: ['read'] })).token;
  const privateKey = createPrivateKey({ key: record.privateJwk as never, format: 'jwk' });
  const publicKey = createPublicKey({ key: record.publicJwk as never, format: 'jwk' });
  const kid = record.kid;
  return {
    ring,
    record,
    kid,
    privateKey,
    publicKey,
    verifier,
    good,
    signed: (header = {}, payload = {}) =>
      signCompact({ alg, typ: 'at+jwt', kid, ...header }, claims(payload), privateKey),
  };
}

async function refused(
  verifier: AccessTokenVerifier,
  token: unknown,
  code: AccessTokenFailure,
  label?: string,
) {
  assert.deepEqual(await verifier.verify(token), { ok: false, code }, label);
}

function attackerEd25519() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  return { privateKey, publicKey, jwk, kid: jwkThumbprint(jwk as never) };
}

describe('JWT attack suite', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture('EdDSA');
  });

  test('control: a good token verifies, and so does typ application/at+jwt in any case', async () => {
    assert.equal((await f.verifier.verify(f.good)).ok, true);
    assert.equal((await f.verifier.verify(f.signed())).ok, true);
    assert.equal((await f.verifier.verify(f.signed({ typ: 'application/at+jwt' }))).ok, true);
    assert.equal((await f.verifier.verify(f.signed({ typ: 'AT+JWT' }))).ok, true);
    assert.equal((await f.verifier.verify(f.signed({ typ: 'Application/AT+JWT' }))).ok, true);
  });

  test('interop: an issued token verifies with plain jose against createLocalJWKSet(ring.jwks())', async () => {
    const { payload } = await jwtVerify(f.good, createLocalJWKSet(f.ring.jwks()), {
      issuer: ISS,
      audience: AUD,
      typ: 'at+jwt',
      currentDate: new Date(T0),
    });
    assert.equal(payload.sub, 'usr_1');
  });

  describe('alg: none (CVE-2015-9235 and friends)', () => {
    for (const none of ['none', 'None', 'NONE', 'nOnE']) {
      test(`alg "${none}" without a signature is refused`, async () => {
        const unsigned = `${b64({ alg: none, typ: 'at+jwt', kid: f.kid })}.${b64(claims())}.`;
        await refused(f.verifier, unsigned, 'UNSUPPORTED_ALG');
        await refused(
          f.verifier,
          `${b64({ alg: none, typ: 'at+jwt' })}.${b64(claims())}.`,
          'UNSUPPORTED_ALG',
        );
      });

      test(`alg "${none}" with a signature part is refused`, async () => {
        const realSignature = f.good.split('.')[2]!;
        const header = b64({ alg: none, typ: 'at+jwt', kid: f.kid });
        await refused(f.verifier, `${header}.${b64(claims())}.${realSignature}`, 'UNSUPPORTED_ALG');
        await refused(f.verifier, `${header}.${b64(claims())}.${b64(randomBytes(64))}`, 'UNSUPPORTED_ALG');
      });
    }

    test('two-part unsecured JWT (no trailing dot) is malformed', async () => {
      await refused(f.verifier, `${b64({ alg: 'none' })}.${b64(claims())}`, 'MALFORMED');
    });
  });

  describe('algorithm confusion (RFC 8725 §2.1): HS256 keyed with the server public key (CVE-2016-10555)', () => {
    for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
      test(`${alg} server: HS256 tokens keyed with its public key in every encoding are refused`, async () => {
        const g = alg === 'EdDSA' ? f : await fixture(alg);
        const pem = g.publicKey.export({ type: 'spki', format: 'pem' }) as string;
        const encodings: Record<string, string | Uint8Array> = {
          'PEM with trailing newline': pem,
          'PEM without trailing newline': pem.trimEnd(),
          'PEM with leading whitespace': `  \n${pem}`,
          'PEM with CRLF': pem.replaceAll('\n', '\r\n'),
          DER: g.publicKey.export({ type: 'spki', format: 'der' }),
          'JWK JSON string': JSON.stringify(g.record.publicJwk),
          'published JWKS entry': JSON.stringify(g.ring.jwks().keys[0]),
        };
        if (alg === 'RS256')
          encodings['PKCS#1 PEM'] = g.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
        for (const [label, secret] of Object.entries(encodings)) {
          const token = signCompact({ alg: 'HS256', typ: 'at+jwt', kid: g.kid }, claims(), secret);
          await refused(g.verifier, token, 'UNSUPPORTED_ALG', label);
          const noKid = signCompact({ alg: 'HS256', typ: 'at+jwt' }, claims(), secret);
          await refused(g.verifier, noKid, 'UNSUPPORTED_ALG', `${label}, no kid`);
        }
      });
    }

    test('even with HS256 also pinned (mixed config), an HS256 token naming an RS256 key is refused', async () => {
      const rsa = await generateSigningKey({ alg: 'RS256', now: () => T0 });
      const ring = createKeyRing({ keys: [rsa], accessTtlMs: TTL, now: () => T0 });
      const verifier = createAccessTokenVerifier({
        ring,
        issuer: ISS,
        audience: AUD,
        algorithms: ['RS256', 'HS256'],
        now: () => T0,
      });
      const pem = createPublicKey({ key: rsa.publicJwk as never, format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      }) as string;
      const token = signCompact({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid }, claims(), pem);
      await refused(verifier, token, 'UNSUPPORTED_ALG');
    });

    test('an algorithm that is not pinned is refused even when the key could verify it (Ed25519 vs EdDSA)', async () => {
      const token = signCompact({ alg: 'Ed25519', typ: 'at+jwt', kid: f.kid }, claims(), f.privateKey);
      await refused(f.verifier, token, 'UNSUPPORTED_ALG');
    });

    test('ES256 psychic signature (r = s = 0, CVE-2022-21449) is refused', async () => {
      const g = await fixture('ES256');
      const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: g.kid })}.${b64(claims())}`;
      await refused(g.verifier, `${input}.${b64(new Uint8Array(64))}`, 'BAD_SIGNATURE');
    });
  });

  describe('key material named by the token (RFC 8725 §3.10): never trusted, never fetched', () => {
    test('an embedded jwk header (CVE-2018-0114) is refused', async () => {
      const attacker = attackerEd25519();
      const header = { alg: 'EdDSA', typ: 'at+jwt', kid: attacker.kid, jwk: attacker.jwk };
      await refused(f.verifier, signCompact(header, claims(), attacker.privateKey), 'FORBIDDEN_HEADER');
      const sameKid = { ...header, kid: f.kid };
      await refused(f.verifier, signCompact(sameKid, claims(), attacker.privateKey), 'FORBIDDEN_HEADER');
    });

    describe('jku and x5u at a listener', () => {
      const hits: string[] = [];
      const server = createServer((request, response) => {
        hits.push(request.url ?? '');
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ keys: [] }));
      });
      let base = '';
      before(async () => {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      });
      after(() => new Promise<void>((resolve) => server.close(() => resolve())));

      test('jku, x5u and x5c headers are refused and the listener records no request', async () => {
        const attacker = attackerEd25519();
        const cases: Json[] = [
          { jku: `${base}/jwks.json`, kid: attacker.kid },
          { jku: `${base}/jwks.json`, kid: f.kid },
          { x5u: `${base}/cert.pem`, kid: attacker.kid },
          { x5u: `${base}/cert.pem` },
          { x5c: [b64(randomBytes(300))], kid: f.kid },
        ];
        for (const extra of cases) {
          const token = signCompact({ alg: 'EdDSA', typ: 'at+jwt', ...extra }, claims(), attacker.privateKey);
          await refused(f.verifier, token, 'FORBIDDEN_HEADER', Object.keys(extra).join(','));
        }
        assert.deepEqual(hits, [], 'the verifier fetched nothing');
        // Control: the listener does record requests, so the empty list above means something.
        await fetch(`${base}/control`).then((response) => response.arrayBuffer());
        assert.deepEqual(hits, ['/control']);
      });
    });
  });

  describe('kid injection: a kid is only a Map key', () => {
    for (const kid of [
      '../../etc/passwd',
      '../../../../../../dev/null',
      '/dev/null',
      "' OR 1=1 --",
      "x' UNION SELECT 'secret' --",
      '__proto__',
      'constructor',
      '| cat /etc/passwd',
      'http://127.0.0.1/key',
      '',
    ]) {
      test(`kid ${JSON.stringify(kid)} is an unknown kid`, async () => {
        // Signed with the pinned algorithm, so that the kid lookup is the check that refuses it.
        await refused(
          f.verifier,
          signCompact({ alg: 'EdDSA', typ: 'at+jwt', kid }, claims(), f.privateKey),
          'UNKNOWN_KID',
        );
      });
    }

    test('a kid that is not a string, or absurdly long, is an unknown kid', async () => {
      for (const kid of [42, null, { $ne: '' }, ['a'], 'k'.repeat(5000)]) {
        await refused(
          f.verifier,
          signCompact({ alg: 'EdDSA', typ: 'at+jwt', kid }, claims(), f.privateKey),
          'UNKNOWN_KID',
        );
      }
      await refused(
        f.verifier,
        signCompact({ alg: 'EdDSA', typ: 'at+jwt' }, claims(), f.privateKey),
        'UNKNOWN_KID',
      );
    });
  });

  describe('crit', () => {
    test('an unknown crit parameter is refused (RFC 7515 §4.1.11)', async () => {
      await refused(f.verifier, f.signed({ crit: ['exp'], exp: NOW_S + 60 }), 'FORBIDDEN_HEADER');
      await refused(f.verifier, f.signed({ crit: ['http://attacker/ext'] }), 'FORBIDDEN_HEADER');
    });

    test('crit b64:false (unencoded payload, RFC 7797) is refused', async () => {
      await refused(f.verifier, f.signed({ crit: ['b64'], b64: false }), 'FORBIDDEN_HEADER');
    });

    test('even an empty crit list is refused', async () => {
      await refused(f.verifier, f.signed({ crit: [] }), 'FORBIDDEN_HEADER');
    });
  });

  describe('signature part', () => {
    test('a stripped signature (trailing dot kept) is a bad signature', async () => {
      const [h, p] = f.good.split('.');
      await refused(f.verifier, `${h}.${p}.`, 'BAD_SIGNATURE');
    });

    test('a missing signature part (two parts) is malformed', async () => {
      const [h, p] = f.good.split('.');
      await refused(f.verifier, `${h}.${p}`, 'MALFORMED');
    });

    test('an extra fourth part is malformed', async () => {
      await refused(f.verifier, `${f.good}.${b64('x')}`, 'MALFORMED');
      await refused(f.verifier, `${f.good}.`, 'MALFORMED');
    });

    test('flipped signature bits are a bad signature', async () => {
      const [h, p, s] = f.good.split('.') as [string, string, string];
      const signature = Buffer.from(s, 'base64url');
      for (const bit of [0, 7, 100, 8 * signature.length - 1]) {
        const flipped = Buffer.from(signature);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        await refused(
          f.verifier,
          `${h}.${p}.${flipped.toString('base64url')}`,
          'BAD_SIGNATURE',
          `bit ${bit}`,
        );
      }
    });

    test('a truncated or lengthened signature is a bad signature', async () => {
      const [h, p, s] = f.good.split('.') as [string, string, string];
      await refused(f.verifier, `${h}.${p}.${s.slice(0, -4)}`, 'BAD_SIGNATURE');
      await refused(f.verifier, `${h}.${p}.${s}AAAA`, 'BAD_SIGNATURE');
    });

    test('a token signed by an attacker key under the server kid is a bad signature', async () => {
      const attacker = attackerEd25519();
      const token = signCompact({ alg: 'EdDSA', typ: 'at+jwt', kid: f.kid }, claims(), attacker.privateKey);
      await refused(f.verifier, token, 'BAD_SIGNATURE');
    });

    test('a token signed by an attacker key under its own kid is an unknown kid', async () => {
      const attacker = attackerEd25519();
      const token = signCompact(
        { alg: 'EdDSA', typ: 'at+jwt', kid: attacker.kid },
        claims(),
        attacker.privateKey,
      );
      await refused(f.verifier, token, 'UNKNOWN_KID');
    });
  });

  describe('shape', () => {
    test('a JWE (five parts) is refused without any decryption', async () => {
      const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims())))
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'at+jwt', kid: f.kid })
        .encrypt(new Uint8Array(32));
      assert.equal(jwe.split('.').length, 5);
      await refused(f.verifier, jwe, 'MALFORMED');
      await refused(f.verifier, 'a.b.c.d.e', 'MALFORMED');
    });

    test('a refresh token presented as an access token is malformed', async () => {
      await refused(f.verifier, createRefreshToken().token, 'MALFORMED');
    });

    test('non-base64url characters, padding and a Bearer prefix are malformed', async () => {
      const [h, p, s] = f.good.split('.') as [string, string, string];
      await refused(f.verifier, `${h}=.${p}.${s}`, 'MALFORMED');
      await refused(f.verifier, `${h}.${p.replaceAll('-', '+').replaceAll('_', '/')}+/.${s}`, 'MALFORMED');
      await refused(f.verifier, `Bearer ${f.good}`, 'MALFORMED');
      await refused(f.verifier, ` ${f.good}`, 'MALFORMED');
      await refused(f.verifier, `${f.good}\n`, 'MALFORMED');
    });

    test('a header or payload that is not a JSON object is malformed', async () => {
      const [, p, s] = f.good.split('.') as [string, string, string];
      await refused(f.verifier, `${b64('not json')}.${p}.${s}`, 'MALFORMED');
      await refused(f.verifier, `${b64('["alg","EdDSA"]')}.${p}.${s}`, 'MALFORMED');
      await refused(f.verifier, `${b64('null')}.${p}.${s}`, 'MALFORMED');
      await refused(f.verifier, `${b64(Uint8Array.of(0xff, 0xfe))}.${p}.${s}`, 'MALFORMED');
      await refused(f.verifier, `.${p}.${s}`, 'MALFORMED');
      const input = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: f.kid })}.${b64('[1,2]')}`;
      const signed = `${input}.${cryptoSign(null, Buffer.from(input), f.privateKey).toString('base64url')}`;
      await refused(f.verifier, signed, 'MALFORMED');
    });

    test('a value that is not a string is malformed', async () => {
      for (const value of [undefined, null, 42, {}, Buffer.from(f.good)])
        await refused(f.verifier, value, 'MALFORMED');
    });

    test('an oversized token is refused before any parsing (> maxTokenBytes)', async () => {
      const big = f.signed({}, { pad: 'x'.repeat(9000) });
      assert.ok(big.length > 8192);
      await refused(f.verifier, big, 'TOO_LARGE');
      await refused(f.verifier, 'a'.repeat(1_000_000), 'TOO_LARGE');
      const small = await fixture('EdDSA', { maxTokenBytes: 300 });
      await refused(small.verifier, small.good, 'TOO_LARGE');
    });
  });

  describe('tampering (re-encoded parts, old signature)', () => {
    test('a tampered payload (role: admin) is a bad signature', async () => {
      const [h, p, s] = f.good.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Json;
      await refused(f.verifier, `${h}.${b64({ ...payload, role: 'admin' })}.${s}`, 'BAD_SIGNATURE');
      await refused(f.verifier, `${h}.${b64({ ...payload, scope: 'read admin' })}.${s}`, 'BAD_SIGNATURE');
      await refused(
        f.verifier,
        `${h}.${b64({ ...payload, exp: (payload.exp as number) + 86_400 })}.${s}`,
        'BAD_SIGNATURE',
      );
    });

    test('a tampered header (same alg and kid, other fields) is a bad signature', async () => {
      const [h, p, s] = f.good.split('.') as [string, string, string];
      const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Json;
      await refused(f.verifier, `${b64({ ...header, x: 1 })}.${p}.${s}`, 'BAD_SIGNATURE');
      await refused(
        f.verifier,
        `${b64({ kid: header.kid, typ: header.typ, alg: header.alg })}.${p}.${s}`,
        'BAD_SIGNATURE',
      );
    });

    test('a payload re-encoded differently (same JSON, other whitespace) is a bad signature', async () => {
      const [h, p, s] = f.good.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Json;
      await refused(f.verifier, `${h}.${b64(JSON.stringify(payload, null, 1))}.${s}`, 'BAD_SIGNATURE');
    });
  });

  describe('time', () => {
    test('an expired token is refused', async () => {
      await refused(f.verifier, f.signed({}, { exp: NOW_S - 60, iat: NOW_S - 960 }), 'EXPIRED');
      await refused(
        f.verifier,
        f.signed({}, { exp: NOW_S - 5, iat: NOW_S - 905 }),
        'EXPIRED',
        'at the tolerance edge',
      );
    });

    test('a token with nbf in the future (beyond the tolerance) is not yet valid', async () => {
      await refused(f.verifier, f.signed({}, { nbf: NOW_S + 60 }), 'NOT_YET_VALID');
      assert.equal(
        (await f.verifier.verify(f.signed({}, { nbf: NOW_S + 5 }))).ok,
        true,
        'inside the tolerance',
      );
    });

    test('a token issued in the future (iat beyond the tolerance) is not yet valid', async () => {
      await refused(f.verifier, f.signed({}, { iat: NOW_S + 3600, exp: NOW_S + 4500 }), 'NOT_YET_VALID');
    });

    test('a token without exp (or iat, sub, jti) is missing a claim', async () => {
      for (const claim of ['exp', 'iat', 'sub', 'jti', 'iss', 'aud']) {
        await refused(f.verifier, f.signed({}, { [claim]: undefined }), 'MISSING_CLAIM', claim);
      }
    });

    test('time claims of the wrong type are malformed', async () => {
      await refused(f.verifier, f.signed({}, { exp: String(NOW_S + 900) }), 'MALFORMED');
      await refused(f.verifier, f.signed({}, { iat: 'now' }), 'MALFORMED');
      await refused(f.verifier, f.signed({}, { nbf: null }), 'MALFORMED');
      await refused(f.verifier, f.signed({}, { sub: 42 }), 'MALFORMED');
      await refused(f.verifier, f.signed({}, { scope: ['admin'] }), 'MALFORMED');
    });
  });

  describe('who the token is for, and what it is', () => {
    test('a wrong issuer is refused', async () => {
      await refused(f.verifier, f.signed({}, { iss: 'https://evil.test' }), 'WRONG_ISSUER');
      await refused(f.verifier, f.signed({}, { iss: `${ISS}/` }), 'WRONG_ISSUER');
      await refused(f.verifier, f.signed({}, { iss: [ISS] }), 'WRONG_ISSUER');
    });

    test('a wrong audience is refused', async () => {
      await refused(f.verifier, f.signed({}, { aud: 'https://other-api.test' }), 'WRONG_AUDIENCE');
      await refused(f.verifier, f.signed({}, { aud: ['https://other-api.test'] }), 'WRONG_AUDIENCE');
      assert.equal(
        (await f.verifier.verify(f.signed({}, { aud: ['https://other-api.test', AUD] }))).ok,
        true,
      );
    });

    test('a JWT of another type (typ JWT, application/jwt, logout+jwt, none) is refused', async () => {
      for (const typ of [
        'JWT',
        'jwt',
        'application/jwt',
        'at+jwt+x',
        'application/at+jwt; x=1',
        'logout+jwt',
      ]) {
        await refused(f.verifier, f.signed({ typ }), 'WRONG_TYPE', typ);
      }
      await refused(f.verifier, f.signed({ typ: undefined }), 'WRONG_TYPE', 'no typ');
      await refused(f.verifier, f.signed({ typ: ['at+jwt'] }), 'WRONG_TYPE', 'typ array');
    });

    test('a revoked token is refused (deny-list hook)', async () => {
      const g = await fixture('EdDSA', { isRevoked: (c) => c.jti === 'jti-1' });
      await refused(g.verifier, g.signed(), 'REVOKED');
    });
  });
});
