/**
 * The issuer verifier against a real OpenID Provider (panva's `oidc-provider`, started by
 * `test/harness/oidc.ts` on a loopback port): real discovery, a real JWKS endpoint, real JWT
 * access tokens from a client_credentials grant. Requests are counted at the provider, so
 * "no fetch" and "one fetch" are proven where they happen. The verifier's clock is frozen and
 * moved by hand; no test sleeps.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  type CountingServer,
  type OidcProviderServer,
  startCountingServer,
  startOidcProvider,
} from '../../../../test/harness/oidc.ts';
import {
  createIssuerVerifier,
  type IssuerTokenFailure,
  type IssuerVerifier,
  type IssuerVerifierOptions,
  type TrustedIssuer,
} from './issuers.ts';

const AUD = 'https://api.rampart.test';
const OTHER_AUD = 'https://other.rampart.test';
const COOLDOWN_MS = 30_000;
const MAX_AGE_MS = 600_000;

type Json = Record<string, unknown>;
const b64 = (value: Json | Uint8Array) =>
  Buffer.from(value instanceof Uint8Array ? value : JSON.stringify(value)).toString('base64url');

/** Signs a token by hand (RS256 or ES256), as an attacker or the provider's key holder would. */
function forge(header: Json, payload: Json, key?: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  if (key === undefined) return `${input}.${b64(randomBytes(256))}`;
  const signature =
    header.alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), key);
  return `${input}.${signature.toString('base64url')}`;
}

/** A frozen clock that tests move by hand. */
function frozenClock() {
  let ms = Date.now();
  return {
    now: () => ms,
    reset: () => {
      ms = Date.now();
    },
    advance: (by: number) => {
      ms += by;
    },
  };
}

function payloadFor(issuer: string, overrides: Json = {}): Json {
  const iat = Math.floor(Date.now() / 1000);
  return {
    iss: issuer,
    sub: 'svc',
    aud: AUD,
    iat,
    exp: iat + 300,
    jti: randomBytes(8).toString('hex'),
    ...overrides,
  };
}

async function refused(verifier: IssuerVerifier, token: unknown, code: IssuerTokenFailure, label?: string) {
  assert.deepEqual(await verifier.verify(token), { ok: false, code }, label);
}

describe('tokens from a real OpenID Provider', () => {
  let op: OidcProviderServer;
  const clock = frozenClock();
  const verifiers: IssuerVerifier[] = [];

  const trusted = (overrides: Partial<TrustedIssuer> = {}): TrustedIssuer => ({
    issuer: op.issuer,
    discoveryUrl: op.discoveryUrl,
    audience: AUD,
    algorithms: ['RS256'],
    ...overrides,
  });
  const verifierFor = (
    overrides: Partial<TrustedIssuer> = {},
    options: Partial<IssuerVerifierOptions> = {},
  ) => {
    const verifier = createIssuerVerifier({ issuers: [trusted(overrides)], now: clock.now, ...options });
    verifiers.push(verifier);
    return verifier;
  };

  before(async () => {
    op = await startOidcProvider({ audiences: [AUD, OTHER_AUD], accessTokenTtlSec: 3600 });
  });
  after(() => op.stop());
  afterEach(async () => {
    clock.reset();
    op.stall(false);
    await op.start();
    // A refresh a test left running behind a lookup must land before the next test counts.
    await Promise.all(verifiers.splice(0).map((verifier) => verifier.warm()));
    op.resetRequests();
  });

  test('a token from the provider verifies through discovery, and maps to its principal', async () => {
    const verifier = verifierFor({ claims: { roles: [['realm_access', 'roles']] } }, { cache: { max: 100 } });
    const token = await op.token({
      scope: 'read write',
      claims: { realm_access: { roles: ['ops'] }, org_id: 'org_7' },
    });
    op.resetRequests();

    const result = await verifier.verify(token);
    assert.equal(result.ok, true, JSON.stringify(result));
    if (!result.ok) return;
    assert.equal(result.issuer, op.issuer);
    assert.equal(result.kid, decodeProtectedHeader(token).kid);
    assert.equal(result.cached, false);
    assert.deepEqual(result.scopes, ['read', 'write']);
    assert.deepEqual(result.principal, {
      issuer: op.issuer,
      subject: 'rampart-test-client',
      clientId: 'rampart-test-client',
      scopes: ['read', 'write'],
      roles: ['ops'],
      tenant: 'org_7',
    });
    assert.ok(Object.isFrozen(result.claims) && Object.isFrozen(result.claims.realm_access));
    // Discovery once, then the JWKS it names.
    assert.deepEqual(op.requests, ['/.well-known/openid-configuration', '/jwks']);

    const again = await verifier.verify(token);
    assert.equal(again.ok && again.cached, true);
    const second = await verifier.verify(await op.token());
    assert.equal(second.ok && second.cached, false);
    assert.deepEqual(op.requests, ['/.well-known/openid-configuration', '/jwks', '/token'], 'no refetch');
  });

  test('the JWKS URL given directly works the same, without discovery', async () => {
    const verifier = verifierFor({ discoveryUrl: undefined, jwksUri: op.jwksUri });
    const token = await op.token();
    op.resetRequests();
    assert.equal((await verifier.verify(token)).ok, true);
    assert.deepEqual(op.requests, ['/jwks']);
  });

  test('tampered, expired and wrong-audience tokens are refused with their codes', async () => {
    const verifier = verifierFor();
    const token = await op.token({ scope: 'read' });
    assert.equal((await verifier.verify(token)).ok, true);
    const [header, payload, signature] = token.split('.') as [string, string, string];

    const escalated = b64({ ...decodeJwt(token), scope: 'read write admin' });
    await refused(verifier, `${header}.${escalated}.${signature}`, 'BAD_SIGNATURE', 'payload changed');
    const flipped = Buffer.from(signature, 'base64url');
    flipped[0]! ^= 1;
    await refused(
      verifier,
      `${header}.${payload}.${flipped.toString('base64url')}`,
      'BAD_SIGNATURE',
      'signature changed',
    );

    await refused(verifier, await op.token({ audience: OTHER_AUD }), 'WRONG_AUDIENCE');

    clock.advance((decodeJwt(token).exp! - Math.floor(clock.now() / 1000) + 6) * 1000);
    await refused(verifier, token, 'EXPIRED', 'past exp and the 5 s tolerance');
  });

  test('the provider’s key rotation is picked up on the first token with the new kid', async () => {
    const verifier = verifierFor({}, { cache: { max: 100 } });
    const before = await op.token();
    assert.equal((await verifier.verify(before)).ok, true);
    assert.equal(op.count('/jwks'), 1);

    // A real rotation comes long after the last fetch; here, one cooldown after it.
    clock.advance(COOLDOWN_MS);
    const key = await op.rotate();
    const rotated = await op.token();
    assert.equal(decodeProtectedHeader(rotated).kid, key.kid);
    const result = await verifier.verify(rotated);
    assert.equal(result.ok && result.kid, key.kid);
    assert.equal(op.count('/jwks'), 2, 'one fetch for the new kid');
    // The previous key is still published, so its tokens keep verifying, without a fetch.
    assert.equal((await verifier.verify(before)).ok, true);
    assert.equal(op.count('/jwks'), 2);
  });

  test('within the cooldown of the last fetch a new kid is refused without a fetch, then accepted after it', async () => {
    const verifier = verifierFor();
    assert.equal((await verifier.verify(await op.token())).ok, true);
    await op.rotate();
    const rotated = await op.token();
    await refused(verifier, rotated, 'UNKNOWN_KID');
    assert.equal(op.count('/jwks'), 1);
    clock.advance(COOLDOWN_MS);
    assert.equal((await verifier.verify(rotated)).ok, true);
    assert.equal(op.count('/jwks'), 2);
  });

  test('1,000 tokens with random kids cause at most one JWKS fetch per cooldown', async () => {
    const verifier = verifierFor();
    const randomKid = () =>
      forge(
        { alg: 'RS256', typ: 'at+jwt', kid: randomBytes(9).toString('base64url') },
        payloadFor(op.issuer),
      );

    // Cold: nothing held yet, 1,000 at once share the first fetch.
    const cold = await Promise.all(Array.from({ length: 1000 }, () => verifier.verify(randomKid())));
    assert.ok(cold.every((r) => !r.ok && r.code === 'UNKNOWN_KID'));
    assert.equal(op.count('/jwks'), 1);

    // Within the cooldown: no fetch at all, one after the other or all at once.
    for (let i = 0; i < 500; i++) await refused(verifier, randomKid(), 'UNKNOWN_KID');
    await Promise.all(Array.from({ length: 500 }, () => refused(verifier, randomKid(), 'UNKNOWN_KID')));
    assert.equal(op.count('/jwks'), 1);

    // Each later cooldown window: one fetch, whatever the number of unknown kids.
    for (let window = 2; window <= 4; window++) {
      clock.advance(COOLDOWN_MS);
      await Promise.all(Array.from({ length: 500 }, () => refused(verifier, randomKid(), 'UNKNOWN_KID')));
      for (let i = 0; i < 500; i++) await refused(verifier, randomKid(), 'UNKNOWN_KID');
      assert.equal(op.count('/jwks'), window);
    }
    assert.equal((await verifier.verify(await op.token())).ok, true, 'real tokens still verify');
  });

  test('provider stopped: held keys keep verifying, unknown kids are refused with a code, nothing throws', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const verifier = verifierFor();
      const tokens = [await op.token(), await op.token(), await op.token()];
      assert.equal((await verifier.verify(tokens[0])).ok, true);
      await op.stop();

      // Past maxAge: the held set is stale and a refresh is due; the provider is gone.
      clock.advance(MAX_AGE_MS + COOLDOWN_MS);
      assert.equal((await verifier.verify(tokens[1])).ok, true, 'a held key answers while the refresh fails');
      const [health] = await verifier.warm();
      assert.equal(health!.lastFailure, 'NETWORK');
      assert.equal(health!.ready, true);
      assert.equal((await verifier.verify(tokens[2])).ok, true);

      const unknown = forge({ alg: 'RS256', typ: 'at+jwt', kid: 'not-there' }, payloadFor(op.issuer));
      await refused(verifier, unknown, 'KEYS_UNAVAILABLE');
      clock.advance(COOLDOWN_MS);
      await refused(verifier, unknown, 'KEYS_UNAVAILABLE', 'after the cooldown, one more failed attempt');

      // Back up: after the cooldown the next fetch succeeds and the last failure clears.
      await op.start();
      clock.advance(COOLDOWN_MS);
      await refused(verifier, unknown, 'UNKNOWN_KID');
      assert.equal(verifier.health()[0]!.lastFailure, undefined);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('provider stalled: every verification ends within the fetch timeout with a code', {
    timeout: 30_000,
  }, async () => {
    const keyFetch = { timeout: 300 };
    const warm = verifierFor({}, { keyFetch });
    const [token, another] = [await op.token(), await op.token()];
    assert.equal((await warm.verify(token)).ok, true);
    const cold = verifierFor({}, { keyFetch });
    op.stall(true);
    op.resetRequests();

    // No keys held and the provider never answers: bounded by the timeout, then a code.
    await refused(cold, token, 'KEYS_UNAVAILABLE');
    assert.equal(cold.health()[0]!.lastFailure, 'TIMEOUT');
    // Held keys answer at once even while a refresh hangs behind them.
    clock.advance(MAX_AGE_MS + COOLDOWN_MS);
    assert.equal((await warm.verify(another)).ok, true);
    const unknown = forge({ alg: 'RS256', typ: 'at+jwt', kid: 'new' }, payloadFor(op.issuer));
    const results = await Promise.all(Array.from({ length: 50 }, () => warm.verify(unknown)));
    assert.ok(results.every((r) => !r.ok && r.code === 'KEYS_UNAVAILABLE'));
    // The stalled discovery (cold) and one stalled JWKS refresh (warm, shared by all 50).
    assert.equal(op.count('/.well-known/openid-configuration'), 1);
    assert.equal(op.count('/jwks'), 1);
  });

  test('jku, x5u, x5c and embedded-jwk tokens are refused without any fetch', async () => {
    const trap = await startCountingServer();
    try {
      const verifier = verifierFor(); // cold: not even the trusted JWKS has been fetched
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const jwk = publicKey.export({ format: 'jwk' });
      const base = { alg: 'RS256', typ: 'at+jwt', kid: 'attacker' };
      const hostile: Record<string, Json> = {
        jku: { ...base, jku: `${trap.url}/jwks.json` },
        x5u: { ...base, x5u: `${trap.url}/cert.pem` },
        x5c: { ...base, x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] },
        jwk: { ...base, jwk: { ...jwk, kid: 'attacker' } },
        crit: { ...base, crit: ['exp'] },
      };
      for (const [label, header] of Object.entries(hostile)) {
        await refused(verifier, forge(header, payloadFor(op.issuer), privateKey), 'FORBIDDEN_HEADER', label);
      }
      assert.deepEqual(trap.requests, []);
      assert.deepEqual(op.requests, []);
    } finally {
      await trap.stop();
    }
  });
});

describe('several trusted issuers', () => {
  let a: OidcProviderServer;
  let b: OidcProviderServer;
  let untrustedProvider: OidcProviderServer;
  let trap: CountingServer;
  const SHARED_KID = 'shared-kid';
  const staticKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const STATIC_ISS = 'https://static.rampart.test';
  let verifier: IssuerVerifier;

  before(async () => {
    [a, b, untrustedProvider, trap] = await Promise.all([
      startOidcProvider({ kid: SHARED_KID }),
      startOidcProvider({ kid: SHARED_KID }),
      startOidcProvider(),
      startCountingServer(),
    ]);
    verifier = createIssuerVerifier({
      issuers: [
        { issuer: a.issuer, discoveryUrl: a.discoveryUrl, audience: AUD },
        { issuer: b.issuer, jwksUri: b.jwksUri, audience: AUD },
        {
          issuer: STATIC_ISS,
          jwks: {
            keys: [{ ...staticKey.publicKey.export({ format: 'jwk' }), kid: SHARED_KID, alg: 'ES256' }],
          },
          audience: AUD,
          algorithms: ['ES256'],
        },
      ],
    });
  });
  after(() => Promise.all([a.stop(), b.stop(), untrustedProvider.stop(), trap.stop()]));

  test('an overlapping kid: each token verifies only with its own issuer’s keys', async () => {
    const fromA = await a.token();
    const fromB = await b.token();
    assert.equal(decodeProtectedHeader(fromA).kid, SHARED_KID);
    assert.equal(decodeProtectedHeader(fromB).kid, SHARED_KID);
    a.resetRequests();
    b.resetRequests();

    const okA = await verifier.verify(fromA);
    const okB = await verifier.verify(fromB);
    assert.equal(okA.ok && okA.issuer, a.issuer);
    assert.equal(okB.ok && okB.issuer, b.issuer);
    const header = { alg: 'RS256', typ: 'at+jwt', kid: SHARED_KID };
    const staticHeader = { alg: 'ES256', typ: 'at+jwt', kid: SHARED_KID };
    const staticToken = forge(staticHeader, payloadFor(STATIC_ISS), staticKey.privateKey);
    const okStatic = await verifier.verify(staticToken);
    assert.equal(okStatic.ok && okStatic.issuer, STATIC_ISS);

    // A's key holder claims to be B, or the static issuer: the kid matches there, the key does not.
    const aKey = a.signingKeys[0]!.privateKey;
    await refused(verifier, forge(header, payloadFor(b.issuer), aKey), 'BAD_SIGNATURE', 'A signs as B');
    await refused(
      verifier,
      forge(header, payloadFor(a.issuer), b.signingKeys[0]!.privateKey),
      'BAD_SIGNATURE',
    );
    await refused(
      verifier,
      forge(header, payloadFor(STATIC_ISS), aKey),
      'UNSUPPORTED_ALG',
      'RS256 is not pinned there',
    );
    await refused(
      verifier,
      forge(staticHeader, payloadFor(a.issuer), staticKey.privateKey),
      'UNSUPPORTED_ALG',
    );

    // Each issuer's keys were fetched from that issuer only, once.
    assert.deepEqual(a.requests, ['/.well-known/openid-configuration', '/jwks']);
    assert.deepEqual(b.requests, ['/jwks']);
  });

  test('an untrusted issuer is refused without any request reaching any server', async () => {
    a.resetRequests();
    b.resetRequests();
    const realButUntrusted = await untrustedProvider.token();
    untrustedProvider.resetRequests();
    const candidates: Record<string, string> = {
      'a real provider that is not configured': realButUntrusted,
      'a URL naming a listening server': forge(
        { alg: 'RS256', typ: 'at+jwt', kid: SHARED_KID },
        payloadFor(trap.url),
        a.signingKeys[0]!.privateKey,
      ),
      'a trusted issuer with a trailing slash': forge(
        { alg: 'RS256', typ: 'at+jwt', kid: SHARED_KID },
        payloadFor(`${a.issuer}/`),
      ),
      'a trusted issuer in other case': forge(
        { alg: 'RS256', typ: 'at+jwt', kid: SHARED_KID },
        payloadFor(a.issuer.toUpperCase()),
      ),
    };
    for (const [label, token] of Object.entries(candidates)) {
      await refused(verifier, token, 'UNTRUSTED_ISSUER', label);
    }
    await refused(verifier, forge({ alg: 'RS256', typ: 'at+jwt', kid: 'k' }, { sub: 'x' }), 'MISSING_CLAIM');
    await refused(verifier, forge({ alg: 'RS256', typ: 'at+jwt', kid: 'k' }, { iss: 7 }), 'MALFORMED');
    assert.deepEqual(untrustedProvider.requests, []);
    assert.deepEqual(trap.requests, []);
    assert.deepEqual(a.requests, []);
    assert.deepEqual(b.requests, []);
  });
});
