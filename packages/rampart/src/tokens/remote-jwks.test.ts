/**
 * Remote keys against hostile or broken endpoints: a real loopback HTTP server answers what
 * each test scripts (too large, redirects, errors, bad JSON, a discovery document naming
 * another issuer), and the issuer verifier must refuse the document, keep what it held, and
 * say why in `health()`.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createIssuerVerifier, type IssuerVerifier, type TrustedIssuer } from './issuers.ts';
import type { KeySetFailure } from './key-source.ts';

const AUD = 'https://api.rampart.test';
const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwkOf = (k: typeof key, kid: string) => ({
  ...k.publicKey.export({ format: 'jwk' }),
  kid,
  alg: 'RS256',
});

type Route = (res: ServerResponse) => void;
const json =
  (body: unknown): Route =>
  (res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

describe('remote keys from hostile or broken endpoints', () => {
  const routes = new Map<string, Route>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '/');
    const route = routes.get(req.url ?? '/');
    if (route) route(res);
    else res.writeHead(404).end();
  });
  let base = '';
  let ms = Date.now();
  const now = () => ms;

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  beforeEach(() => {
    routes.clear();
    requests.length = 0;
    ms = Date.now();
  });

  const tokenFor = (signer: typeof key, kid: string, iss = base) => {
    const iat = Math.floor(ms / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${encode({ alg: 'RS256', typ: 'at+jwt', kid })}.${encode({ iss, sub: 's', aud: AUD, iat, exp: iat + 3600 })}`;
    return `${input}.${sign('sha256', Buffer.from(input), signer.privateKey).toString('base64url')}`;
  };
  const verifierAt = (source: Partial<TrustedIssuer>, maxBytes = 4096): IssuerVerifier =>
    createIssuerVerifier({
      issuers: [{ issuer: base, audience: AUD, ...source } as TrustedIssuer],
      keyFetch: { maxBytes, timeout: 2000 },
      now,
    });
  const failsWith = async (verifier: IssuerVerifier, reason: KeySetFailure) => {
    assert.deepEqual(await verifier.verify(tokenFor(key, 'k1')), { ok: false, code: 'KEYS_UNAVAILABLE' });
    assert.equal(verifier.health()[0]!.lastFailure, reason);
    assert.equal(verifier.health()[0]!.ready, false);
  };

  test('a JWKS over the size cap is refused, whether its length is declared or streamed', async () => {
    const big = JSON.stringify({ keys: [jwkOf(key, 'k1')], padding: 'x'.repeat(8192) });
    routes.set('/declared', (res) =>
      res.writeHead(200, { 'content-length': Buffer.byteLength(big) }).end(big),
    );
    routes.set('/streamed', (res) => {
      res.writeHead(200, { 'content-type': 'application/json' }); // chunked, no length
      for (let i = 0; i < big.length; i += 1000) res.write(big.slice(i, i + 1000));
      res.end();
    });
    await failsWith(verifierAt({ jwksUri: `${base}/declared` }), 'TOO_LARGE');
    await failsWith(verifierAt({ jwksUri: `${base}/streamed` }), 'TOO_LARGE');
    routes.set('/fits', json({ keys: [jwkOf(key, 'k1')] }));
    assert.equal((await verifierAt({ jwksUri: `${base}/fits` }).verify(tokenFor(key, 'k1'))).ok, true);
  });

  test('a redirect is not followed: its target is never requested', async () => {
    routes.set('/moved', (res) => res.writeHead(302, { location: `${base}/elsewhere` }).end());
    routes.set('/elsewhere', json({ keys: [jwkOf(key, 'k1')] }));
    await failsWith(verifierAt({ jwksUri: `${base}/moved` }), 'HTTP_STATUS');
    assert.deepEqual(requests, ['/moved']);
  });

  test('an error status, a body that is not JSON, invalid UTF-8, a document that is not a JWKS', async () => {
    routes.set('/500', (res) => res.writeHead(500).end('{"keys":[]}'));
    routes.set('/html', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'));
    routes.set('/latin1', (res) => res.writeHead(200).end(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])));
    routes.set('/object', json({ keys: 'none' }));
    routes.set('/private', json({ keys: [{ ...key.privateKey.export({ format: 'jwk' }), kid: 'k1' }] }));
    await failsWith(verifierAt({ jwksUri: `${base}/500` }), 'HTTP_STATUS');
    await failsWith(verifierAt({ jwksUri: `${base}/html` }), 'NOT_JSON');
    await failsWith(verifierAt({ jwksUri: `${base}/latin1` }), 'NOT_JSON');
    await failsWith(verifierAt({ jwksUri: `${base}/object` }), 'BAD_JWKS');
    await failsWith(verifierAt({ jwksUri: `${base}/private` }), 'BAD_JWKS');
  });

  test('a discovery document naming another issuer is refused, and the jwks_uri it names is never fetched', async () => {
    routes.set('/.well-known/openid-configuration', json({ issuer: `${base}/`, jwks_uri: `${base}/jwks` }));
    routes.set('/jwks', json({ keys: [jwkOf(key, 'k1')] }));
    const verifier = verifierAt({ discoveryUrl: `${base}/.well-known/openid-configuration` });
    await failsWith(verifier, 'ISSUER_MISMATCH');
    assert.deepEqual(requests, ['/.well-known/openid-configuration']);
  });

  test('a discovery document with a jwks_uri that may not be fetched is refused', async () => {
    routes.set(
      '/a/.well-known/openid-configuration',
      json({ issuer: base, jwks_uri: 'http://keys.example/jwks' }),
    );
    routes.set('/b/.well-known/openid-configuration', json({ issuer: base }));
    routes.set('/c/.well-known/openid-configuration', json(['not', 'an', 'object']));
    await failsWith(
      verifierAt({ discoveryUrl: `${base}/a/.well-known/openid-configuration` }),
      'BAD_DISCOVERY',
    );
    await failsWith(
      verifierAt({ discoveryUrl: `${base}/b/.well-known/openid-configuration` }),
      'BAD_DISCOVERY',
    );
    await failsWith(
      verifierAt({ discoveryUrl: `${base}/c/.well-known/openid-configuration` }),
      'BAD_DISCOVERY',
    );
  });

  test('discovery is read once; later refreshes fetch only the JWKS', async () => {
    routes.set('/.well-known/openid-configuration', json({ issuer: base, jwks_uri: `${base}/keys` }));
    routes.set('/keys', json({ keys: [jwkOf(key, 'k1')] }));
    const verifier = verifierAt({ discoveryUrl: `${base}/.well-known/openid-configuration` });
    assert.equal((await verifier.verify(tokenFor(key, 'k1'))).ok, true);
    for (let i = 0; i < 3; i++) {
      ms += 60_000;
      await verifier.warm();
    }
    assert.deepEqual(requests, ['/.well-known/openid-configuration', '/keys', '/keys', '/keys', '/keys']);
    assert.equal(verifier.health()[0]!.jwksUri, `${base}/keys`);
  });

  test('a key the provider withdraws stops verifying once the held set is refreshed', async () => {
    let published = [jwkOf(key, 'k1'), jwkOf(otherKey, 'k2')];
    routes.set('/jwks', (res) => json({ keys: published })(res));
    const verifier = createIssuerVerifier({
      issuers: [{ issuer: base, jwksUri: `${base}/jwks`, audience: AUD }],
      cache: { max: 10 },
      now,
    });
    const withdrawn = tokenFor(otherKey, 'k2');
    assert.equal((await verifier.verify(withdrawn)).ok, true);
    assert.equal(((await verifier.verify(withdrawn)) as { cached: boolean }).cached, true);
    published = [jwkOf(key, 'k1')];
    ms += 600_000; // maxAge: the next lookup answers from the held set and refreshes behind it
    assert.equal((await verifier.verify(tokenFor(key, 'k1'))).ok, true);
    await verifier.warm();
    assert.deepEqual(verifier.health()[0]!.kids, ['k1']);
    // Cooling down, so no refetch for k2: refused, and the cached entry of k2 is not served.
    assert.deepEqual(await verifier.verify(withdrawn), { ok: false, code: 'UNKNOWN_KID' });
  });
});
