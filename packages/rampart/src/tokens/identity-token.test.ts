import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createAccessTokenVerifier } from './access-token.ts';
import { createIdentityTokenIssuer, IDENTITY_TOKEN_TYPE } from './identity-token.ts';
import { createKeyRing, generateSigningKey, hs256SigningKey } from './signing-keys.ts';

const T0 = Date.UTC(2026, 0, 1);
const now = () => T0;
const ISSUER = 'https://auth.example.test';

async function ring() {
  return createKeyRing({
    keys: [await generateSigningKey({ alg: 'EdDSA', now })],
    accessTtlMs: 900_000,
    now,
  });
}

test('an upstream verifies the identity token with the public JWKS: typ, issuer, its own audience, the request', async () => {
  const keys = await ring();
  const identity = createIdentityTokenIssuer({ ring: keys, issuer: ISSUER, audience: 'upstreams', now });
  const token = await identity.issue({
    sub: 'usr_1',
    scopes: ['orders:read'],
    roles: ['user'],
    keyId: 'key_1',
    method: 'GET',
    path: '/orders',
  });
  assert.equal(decodeProtectedHeader(token).typ, IDENTITY_TOKEN_TYPE);
  const { payload } = await jwtVerify(token, createLocalJWKSet(keys.jwks() as never), {
    issuer: ISSUER,
    audience: 'upstreams',
    typ: IDENTITY_TOKEN_TYPE,
    currentDate: new Date(T0),
  });
  assert.deepEqual(
    [
      payload.sub,
      payload.scope,
      payload.roles,
      payload.key_id,
      payload.htm,
      payload.htu,
      payload.exp! - payload.iat!,
    ],
    ['usr_1', 'orders:read', ['user'], 'key_1', 'GET', '/orders', 60],
  );
});

test('an identity token replayed as an access token is refused, even with the same key and audience', async () => {
  const keys = await ring();
  // The worst case: an operator set the upstream audience equal to the API's. The typ alone refuses it.
  const identity = createIdentityTokenIssuer({ ring: keys, issuer: ISSUER, audience: 'rampart', now });
  const token = await identity.issue({ sub: 'usr_1', scopes: ['admin'], method: 'GET', path: '/x' });
  const verifier = createAccessTokenVerifier({
    ring: keys,
    issuer: ISSUER,
    audience: 'rampart',
    algorithms: ['EdDSA'],
    now,
  });
  assert.deepEqual(await verifier.verify(token), { ok: false, code: 'WRONG_TYPE' });
});

test('an HS256 ring cannot sign identity tokens (no upstream could verify them with the JWKS)', () => {
  const keys = createKeyRing({
    keys: [hs256SigningKey({ secret: 'x'.repeat(32), now })],
    accessTtlMs: 900_000,
    now,
  });
  assert.throws(
    () => createIdentityTokenIssuer({ ring: keys, issuer: ISSUER, audience: 'upstreams' }),
    /^TypeError: ring: identity tokens need an asymmetric key/,
  );
});
