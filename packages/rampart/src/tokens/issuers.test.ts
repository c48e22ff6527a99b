/**
 * The issuer verifier on its own: options refused at creation naming the field, the refusals
 * that come before any key (attacks built by hand, as in `attacks.test.ts`), the checks after
 * the signature, and the verification cache. Issuers here hold a JWKS given in configuration,
 * so nothing is fetched; `issuers-provider.test.ts` covers remote keys against a real provider.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { describe, test } from 'node:test';
import { CompactEncrypt } from 'jose';
import {
  createIssuerVerifier,
  type IssuerTokenFailure,
  type IssuerVerifier,
  type IssuerVerifierOptions,
  type TrustedIssuer,
} from './issuers.ts';

const T0 = Date.UTC(2025, 0, 1, 12);
const NOW_S = T0 / 1000;
const ISS = 'https://id.rampart.test';
const AUD = 'https://api.rampart.test';
const KID = 'key-1';

type Json = Record<string, unknown>;
const b64 = (value: Json | string | Uint8Array) =>
  Buffer.from(
    typeof value === 'string' || value instanceof Uint8Array ? value : JSON.stringify(value),
  ).toString('base64url');

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaJwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };

function signed(header: Json, payload: Json, key: KeyObject | string = rsa.privateKey): string {
  const input = `${b64({ alg: 'RS256', typ: 'at+jwt', kid: KID, ...header })}.${b64(payload)}`;
  const alg = (header.alg as string | undefined) ?? 'RS256';
  const signature =
    alg === 'HS256'
      ? createHmac('sha256', key as string)
          .update(input)
          .digest()
      : sign('sha256', Buffer.from(input), key as KeyObject);
  return `${input}.${signature.toString('base64url')}`;
}

function claims(overrides: Json = {}): Json {
  return { iss: ISS, sub: 'user-1', aud: AUD, iat: NOW_S, exp: NOW_S + 600, scope: 'read', ...overrides };
}

function issuer(overrides: Partial<TrustedIssuer> = {}): TrustedIssuer {
  return { issuer: ISS, jwks: { keys: [rsaJwk] }, audience: AUD, ...overrides };
}

function verifierWith(overrides: Partial<TrustedIssuer> = {}, options: Partial<IssuerVerifierOptions> = {}) {
  return createIssuerVerifier({ issuers: [issuer(overrides)], now: () => T0, ...options });
}

async function refused(verifier: IssuerVerifier, token: unknown, code: IssuerTokenFailure, label?: string) {
  assert.deepEqual(await verifier.verify(token), { ok: false, code }, label);
}

describe('options are checked at creation, naming the field', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['no options', undefined, /^\(options\): expected an object/],
    ['no issuers', { issuers: [] }, /^issuers: expected a list of 1 to 100/],
    ['an unknown option', { issuers: [issuer()], caches: {} }, /^caches: unknown option/],
    [
      'a misspelt issuer option',
      { issuers: [issuer(), { ...issuer(), audiance: AUD }] },
      /^issuers\[1\]\.audiance: unknown option/,
    ],
    [
      'no key source',
      { issuers: [{ issuer: ISS, audience: AUD }] },
      /^issuers\[0\]: give exactly one of jwksUri, discoveryUrl or jwks, got none/,
    ],
    [
      'two key sources',
      { issuers: [issuer({ jwksUri: 'https://id.rampart.test/jwks' })] },
      /^issuers\[0\]: give exactly one of jwksUri, discoveryUrl or jwks, got jwksUri and jwks/,
    ],
    [
      'a plain-http JWKS URL off loopback',
      { issuers: [issuer(), { issuer: 'https://b.test', jwksUri: 'http://b.test/jwks', audience: AUD }] },
      /^issuers\[1\]\.jwksUri: expected an https: URL \(http: only on a loopback host\)/,
    ],
    [
      'credentials in the discovery URL',
      {
        issuers: [
          {
            issuer: ISS,
            discoveryUrl: 'https://u:p@id.rampart.test/.well-known/openid-configuration',
            audience: AUD,
          },
        ],
      },
      /^issuers\[0\]\.discoveryUrl: expected an https: URL/,
    ],
    [
      'not a URL',
      { issuers: [{ issuer: ISS, jwksUri: 'jwks.json', audience: AUD }] },
      /^issuers\[0\]\.jwksUri:/,
    ],
    ['no issuer', { issuers: [{ ...issuer(), issuer: '' }] }, /^issuers\[0\]\.issuer: required/],
    [
      'the same issuer twice',
      { issuers: [issuer(), issuer()] },
      /^issuers\[1\]\.issuer: "https:\/\/id\.rampart\.test" appears twice/,
    ],
    ['no audience', { issuers: [{ ...issuer(), audience: [] }] }, /^issuers\[0\]\.audience: required/],
    [
      'a bad audience claim',
      { issuers: [issuer({ audienceClaim: 'azp' as never })] },
      /^issuers\[0\]\.audienceClaim: expected "aud" or "client_id"/,
    ],
    [
      'alg none',
      { issuers: [issuer({ algorithms: ['none' as never] })] },
      /^issuers\[0\]\.algorithms: "none" is refused/,
    ],
    [
      'HS256',
      { issuers: [issuer({ algorithms: ['RS256', 'HS256' as never] })] },
      /^issuers\[0\]\.algorithms: "HS256" is refused: .*public keys/,
    ],
    [
      'an unknown algorithm',
      { issuers: [issuer({ algorithms: ['RS257' as never] })] },
      /^issuers\[0\]\.algorithms: "RS257" is not one of/,
    ],
    [
      'empty algorithms',
      { issuers: [issuer({ algorithms: [] })] },
      /^issuers\[0\]\.algorithms: expected a non-empty list/,
    ],
    ['a bad typ', { issuers: [issuer({ typ: '' })] }, /^issuers\[0\]\.typ: expected a media type/],
    ['typ true', { issuers: [issuer({ typ: true as never })] }, /^issuers\[0\]\.typ:/],
    [
      'clock tolerance too large',
      { issuers: [issuer({ clockToleranceSec: 3600 })] },
      /^issuers\[0\]\.clockToleranceSec: expected a whole number from 0 to 300/,
    ],
    [
      'required claims not names',
      { issuers: [issuer({ requiredClaims: [''] })] },
      /^issuers\[0\]\.requiredClaims: expected a list of claim names/,
    ],
    [
      'claimEquals not strings',
      { issuers: [issuer({ claimEquals: { token_use: 1 as never } })] },
      /^issuers\[0\]\.claimEquals\.token_use: expected a string/,
    ],
    [
      'a claim path as a string',
      { issuers: [issuer({ claims: { roles: ['roles' as never] } })] },
      /^issuers\[0\]\.claims\.roles\[0\]: expected a claim path/,
    ],
    [
      'a JWKS with a private key',
      { issuers: [issuer({ jwks: { keys: [{ ...rsa.privateKey.export({ format: 'jwk' }), kid: 'k' }] } })] },
      /^issuers\[0\]\.jwks: keys\[0\]\.d: a private or symmetric key member/,
    ],
    [
      'a JWKS with a shared secret',
      { issuers: [issuer({ jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'k' }] } })] },
      /^issuers\[0\]\.jwks: keys\[0\]\.k:/,
    ],
    [
      'a JWKS without kids',
      { issuers: [issuer({ jwks: { keys: [{ ...rsaJwk, kid: undefined }] } })] },
      /^issuers\[0\]\.jwks: no key with a kid/,
    ],
    [
      'not a JWKS',
      { issuers: [issuer({ jwks: [] as never })] },
      /^issuers\[0\]\.jwks: expected a JWKS document/,
    ],
    [
      'a cooldown under a second',
      { issuers: [issuer()], keyFetch: { cooldown: 10 } },
      /^keyFetch\.cooldown: expected from 1000 to 3600000 ms/,
    ],
    [
      'a timeout as words',
      { issuers: [issuer()], keyFetch: { timeout: 'five seconds' } },
      /^keyFetch\.timeout: expected a duration/,
    ],
    [
      'an unknown keyFetch option',
      { issuers: [issuer()], keyFetch: { retries: 3 } },
      /^keyFetch\.retries: unknown option/,
    ],
    [
      'a huge token cap',
      { issuers: [issuer()], maxTokenBytes: 1 << 20 },
      /^maxTokenBytes: expected a whole number from 256 to 65536/,
    ],
    ['a cache without max', { issuers: [issuer()], cache: {} }, /^cache\.max: expected a whole number/],
  ];
  for (const [label, options, message] of cases) {
    test(label, () => {
      assert.throws(
        () => createIssuerVerifier(options as IssuerVerifierOptions),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `a TypeError, got ${String(error)}`);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  test('valid options build, with durations as text or ms, and the given objects are not written to', () => {
    const given = issuer({ typ: 'JWT', claims: { roles: [['realm_access', 'roles']] } });
    const snapshot = JSON.stringify(given);
    createIssuerVerifier({
      issuers: [
        given,
        {
          issuer: 'https://b.test',
          jwksUri: 'https://b.test/jwks',
          audience: [AUD, 'x'],
          algorithms: ['ES256', 'EdDSA'],
        },
        {
          issuer: 'http://127.0.0.1:4000',
          discoveryUrl: 'http://127.0.0.1:4000/.well-known/openid-configuration',
          audience: AUD,
        },
        {
          issuer: 'http://localhost',
          discoveryUrl: 'http://[::1]:4000/.well-known/openid-configuration',
          audience: AUD,
        },
      ],
      keyFetch: { timeout: '2s', cooldown: 60_000, maxAge: '1h', maxBytes: 10_000 },
      cache: { max: 10 },
    });
    assert.equal(JSON.stringify(given), snapshot);
  });
});

describe('refusals before any key is looked at', () => {
  const verifier = verifierWith();

  test('control: a good token verifies, with typ at+jwt in its accepted spellings', async () => {
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt']) {
      const result = await verifier.verify(signed({ typ }, claims()));
      assert.equal(result.ok, true, typ);
    }
  });

  test('not a string, too large, not three base64url parts: refused before decoding', async () => {
    await refused(verifier, undefined, 'MALFORMED');
    await refused(verifier, 42, 'MALFORMED');
    await refused(verifier, 'a'.repeat(8193), 'TOO_LARGE');
    await refused(verifier, 'a.b', 'MALFORMED');
    await refused(verifier, '.e30.x', 'MALFORMED');
    await refused(verifier, 'e30.e30.a+b', 'MALFORMED');
    await refused(verifier, `${b64('not json')}.${b64(claims())}.x`, 'MALFORMED');
    await refused(verifier, `${b64({ alg: 'RS256', typ: 'at+jwt', kid: KID })}.${b64('[1]')}.x`, 'MALFORMED');
  });

  test('a JWE (five parts) never reaches a decrypt path', async () => {
    const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims())))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: KID })
      .encrypt(rsa.publicKey);
    await refused(verifier, jwe, 'MALFORMED');
  });

  test('alg none in any casing, HS256 keyed with the public key, and algorithms not pinned', async () => {
    for (const none of ['none', 'None', 'NONE']) {
      await refused(
        verifier,
        `${b64({ alg: none, typ: 'at+jwt', kid: KID })}.${b64(claims())}.`,
        'UNSUPPORTED_ALG',
        none,
      );
    }
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    await refused(verifier, signed({ alg: 'HS256' }, claims(), pem), 'UNSUPPORTED_ALG', 'RS→HS confusion');
    await refused(verifier, signed({ alg: 'PS256' }, claims()), 'UNSUPPORTED_ALG', 'PS256 is not pinned');
    await refused(verifier, signed({ alg: 7 }, claims()), 'MALFORMED');
  });

  test('a pinned algorithm whose key is of another type is refused (ES256 naming an RSA kid)', async () => {
    const both = verifierWith({ algorithms: ['RS256', 'ES256'] });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: KID })}.${b64(claims())}`;
    const signature = sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    await refused(both, `${input}.${signature.toString('base64url')}`, 'UNSUPPORTED_ALG');
  });

  test('typ: another kind of JWT is refused; absent typ only where configured', async () => {
    await refused(verifier, signed({ typ: 'JWT' }, claims()), 'WRONG_TYPE');
    await refused(verifier, signed({ typ: 'id_token+jwt' }, claims()), 'WRONG_TYPE');
    await refused(verifier, signed({ typ: undefined }, claims()), 'WRONG_TYPE');
    const jwtTyp = verifierWith({ typ: 'JWT' });
    assert.equal((await jwtTyp.verify(signed({ typ: 'JWT' }, claims()))).ok, true);
    assert.equal((await jwtTyp.verify(signed({ typ: 'application/jwt' }, claims()))).ok, true);
    await refused(jwtTyp, signed({}, claims()), 'WRONG_TYPE', 'at+jwt where JWT is expected');
    const untyped = verifierWith({ typ: false });
    assert.equal((await untyped.verify(signed({ typ: undefined }, claims()))).ok, true);
  });

  test('kid: required, bounded, and only ever a key in this issuer’s set', async () => {
    await refused(verifier, signed({ kid: undefined }, claims()), 'UNKNOWN_KID');
    await refused(verifier, signed({ kid: '' }, claims()), 'UNKNOWN_KID');
    await refused(verifier, signed({ kid: 'k'.repeat(257) }, claims()), 'UNKNOWN_KID');
    await refused(verifier, signed({ kid: '../../etc/passwd' }, claims()), 'UNKNOWN_KID');
    await refused(verifier, signed({ kid: "' OR 1=1 --" }, claims()), 'UNKNOWN_KID');
    await refused(verifier, signed({ kid: 7 }, claims()), 'UNKNOWN_KID');
    await refused(verifier, signed({ kid: '__proto__' }, claims()), 'UNKNOWN_KID');
  });

  test('an empty signature is refused', async () => {
    const [header, payload] = signed({}, claims()).split('.');
    await refused(verifier, `${header}.${payload}.`, 'BAD_SIGNATURE');
  });

  test('headers that name key material are refused, whatever else the token says', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const headers: Record<string, Json> = {
      jku: { jku: 'https://attacker.test/jwks.json' },
      x5u: { x5u: 'https://attacker.test/cert.pem' },
      x5c: { x5c: ['MIIB'] },
      jwk: { jwk: publicKey.export({ format: 'jwk' }) },
      crit: { crit: ['b64'], b64: false },
    };
    for (const [label, header] of Object.entries(headers)) {
      await refused(verifier, signed(header, claims()), 'FORBIDDEN_HEADER', label);
      await refused(
        verifier,
        signed(header, claims({ iss: 'https://attacker.test' })),
        'FORBIDDEN_HEADER',
        label,
      );
    }
  });

  test('the issuer is chosen by iss exactly; an iss that is not configured is refused', async () => {
    await refused(verifier, signed({}, claims({ iss: 'https://attacker.test' })), 'UNTRUSTED_ISSUER');
    await refused(verifier, signed({}, claims({ iss: `${ISS}/` })), 'UNTRUSTED_ISSUER');
    await refused(verifier, signed({}, claims({ iss: ` ${ISS}` })), 'UNTRUSTED_ISSUER');
    await refused(verifier, signed({}, claims({ iss: undefined })), 'MISSING_CLAIM');
    await refused(verifier, signed({}, claims({ iss: [ISS] })), 'MALFORMED');
  });
});

describe('checks after the signature', () => {
  const verifier = verifierWith();

  test('exp, nbf and iat with the clock tolerance', async () => {
    await refused(verifier, signed({}, claims({ exp: NOW_S - 6 })), 'EXPIRED');
    assert.equal((await verifier.verify(signed({}, claims({ exp: NOW_S - 4 })))).ok, true, 'within 5 s');
    await refused(verifier, signed({}, claims({ nbf: NOW_S + 60 })), 'NOT_YET_VALID');
    await refused(verifier, signed({}, claims({ iat: NOW_S + 60 })), 'NOT_YET_VALID');
    const strict = verifierWith({ clockToleranceSec: 0 });
    await refused(strict, signed({}, claims({ exp: NOW_S - 1 })), 'EXPIRED');
  });

  test('exp, iat and sub are always required; requiredClaims adds more', async () => {
    await refused(verifier, signed({}, claims({ exp: undefined })), 'MISSING_CLAIM');
    await refused(verifier, signed({}, claims({ iat: undefined })), 'MISSING_CLAIM');
    await refused(verifier, signed({}, claims({ sub: undefined })), 'MISSING_CLAIM');
    await refused(verifier, signed({}, claims({ sub: '' })), 'MALFORMED');
    await refused(verifier, signed({}, claims({ exp: 'soon' })), 'MALFORMED');
    const rfc9068 = verifierWith({ requiredClaims: ['jti', 'client_id'] });
    await refused(rfc9068, signed({}, claims()), 'MISSING_CLAIM');
    assert.equal((await rfc9068.verify(signed({}, claims({ jti: 'j', client_id: 'c' })))).ok, true);
  });

  test('aud: one of the configured audiences, in a string or a list', async () => {
    await refused(verifier, signed({}, claims({ aud: 'https://other.test' })), 'WRONG_AUDIENCE');
    await refused(verifier, signed({}, claims({ aud: undefined })), 'MISSING_CLAIM');
    assert.equal((await verifier.verify(signed({}, claims({ aud: ['https://other.test', AUD] })))).ok, true);
  });

  test('Cognito style: the audience is client_id, token_use must be "access"', async () => {
    const cognito = verifierWith({
      audience: 'app-client-1',
      audienceClaim: 'client_id',
      typ: false,
      claimEquals: { token_use: 'access' },
      claims: { roles: [['cognito:groups']] },
    });
    const access = claims({
      aud: undefined,
      client_id: 'app-client-1',
      token_use: 'access',
      'cognito:groups': ['Admins'],
    });
    const result = await cognito.verify(signed({ typ: undefined }, access));
    assert.equal(result.ok && result.principal.roles[0], 'Admins');
    await refused(
      cognito,
      signed({ typ: undefined }, { ...access, client_id: 'other-app' }),
      'WRONG_AUDIENCE',
    );
    await refused(cognito, signed({ typ: undefined }, { ...access, client_id: undefined }), 'MISSING_CLAIM');
    await refused(
      cognito,
      signed({ typ: undefined }, { ...access, token_use: 'id' }),
      'WRONG_CLAIM',
      'an ID token',
    );
    await refused(cognito, signed({ typ: undefined }, { ...access, token_use: undefined }), 'MISSING_CLAIM');
  });

  test('the result: issuer, kid, scopes, deep-frozen claims and the principal', async () => {
    const mapped = verifierWith({ claims: { roles: [['realm_access', 'roles']] } });
    const result = await mapped.verify(
      signed({}, claims({ scope: 'read write', realm_access: { roles: ['ops'] }, tid: 't-1', azp: 'web' })),
    );
    assert.ok(result.ok);
    assert.equal(result.issuer, ISS);
    assert.equal(result.kid, KID);
    assert.deepEqual(result.scopes, ['read', 'write']);
    assert.deepEqual(result.principal, {
      issuer: ISS,
      subject: 'user-1',
      clientId: 'web',
      scopes: ['read', 'write'],
      roles: ['ops'],
      tenant: 't-1',
    });
    assert.ok(Object.isFrozen(result.claims) && Object.isFrozen((result.claims.realm_access as Json).roles));
  });
});

describe('the verification cache', () => {
  test('a repeated token skips the signature, and the cache stays within max (least recently used out)', async () => {
    const verifier = verifierWith({}, { cache: { max: 2 } });
    const [one, two, three] = ['a', 'b', 'c'].map((sub) => signed({}, claims({ sub })));
    assert.equal((await verifier.verify(one)).ok, true);
    const hit = await verifier.verify(one);
    assert.equal(hit.ok && hit.cached, true);
    await verifier.verify(two);
    await verifier.verify(one); // one is now the most recently used
    await verifier.verify(three);
    assert.equal(verifier.cacheSize, 2);
    const again = await verifier.verify(two);
    assert.equal(again.ok && again.cached, false, 'two was evicted');
    verifier.clear();
    assert.equal(verifier.cacheSize, 0);
  });

  test('never served past exp, even within the clock tolerance a full check would allow', async () => {
    let now = T0;
    const verifier = verifierWith({}, { cache: { max: 10 }, now: () => now });
    const token = signed({}, claims({ exp: NOW_S + 10 }));
    assert.equal((await verifier.verify(token)).ok, true);
    now = T0 + 10_000;
    const late = await verifier.verify(token);
    assert.equal(
      late.ok && late.cached,
      false,
      'at exp the cache steps aside; the full check applies its tolerance',
    );
    now = T0 + 16_000;
    await refused(verifier, token, 'EXPIRED');
  });

  test('entries are keyed per issuer and audience: the same bytes under another verifier are checked afresh', async () => {
    const a = verifierWith({}, { cache: { max: 10 } });
    const b = verifierWith({ audience: 'https://other.test' }, { cache: { max: 10 } });
    const token = signed({}, claims());
    assert.equal((await a.verify(token)).ok, true);
    await refused(b, token, 'WRONG_AUDIENCE');
    assert.equal(b.cacheSize, 0, 'refusals are not cached');
  });

  test('a refused token is never cached, and concurrent first uses share one verification', async () => {
    const verifier = verifierWith({}, { cache: { max: 10 } });
    const bad = signed({}, claims({ aud: 'https://other.test' }));
    await refused(verifier, bad, 'WRONG_AUDIENCE');
    assert.equal(verifier.cacheSize, 0);
    const token = signed({}, claims({ sub: 'concurrent' }));
    const results = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    assert.ok(results.every((r) => r.ok && !r.cached));
    assert.equal(verifier.cacheSize, 1);
  });

  test('a forged signature never becomes a cache hit for the real token’s bytes', async () => {
    const verifier = verifierWith({}, { cache: { max: 10 } });
    const real = signed({}, claims());
    assert.equal((await verifier.verify(real)).ok, true);
    const [header, payload] = real.split('.');
    await refused(verifier, `${header}.${payload}.${b64(randomBytes(256))}`, 'BAD_SIGNATURE');
  });
});

test('health of a static issuer: its kids, no fetch, ready', async () => {
  const verifier = verifierWith();
  assert.deepEqual(await verifier.warm(), [{ issuer: ISS, ready: true, kids: [KID], attempts: 0 }]);
});

test('the per-provider configurations in docs/tokens.md are accepted as written', async () => {
  const { readFile } = await import('node:fs/promises');
  const docs = await readFile(new URL('../../../../docs/tokens.md', import.meta.url), 'utf8');
  const section = docs.slice(docs.indexOf('### Per provider'), docs.indexOf('## Refresh tokens'));
  // Each block is a module: `export const auth0: TrustedIssuer = { … };` (docs/ blocks run).
  const blocks = [...section.matchAll(/```ts\n[\s\S]*?: TrustedIssuer = (\{[\s\S]*?\});\n```/g)].map(
    (match) => match[1]!,
  );
  assert.equal(blocks.length, 4, 'Auth0, Keycloak, Cognito, Entra');
  for (const block of blocks) {
    // The blocks are object literals with comments: plain JavaScript.
    const configured = new Function(`return (${block});`)() as TrustedIssuer;
    assert.doesNotThrow(() => createIssuerVerifier({ issuers: [configured] }), configured.issuer);
  }
});
