/**
 * A gateway route that takes one outside identity provider's tokens only, against the real
 * OpenID Provider of the test harness; the identity token the upstream gets, verified with
 * Rampart's own JWKS and refused when replayed as an access token; and forward auth as Traefik
 * and Envoy call it (their headers, checked through inject: neither is packaged by Debian).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { type OidcProviderServer, startOidcProvider } from '../../../test/harness/oidc.ts';
import { type GatewayServer, gatewayServer, send } from './gateway-helpers.ts';
import { startUpstream, type Upstream } from './upstream.ts';

const AUD = 'https://api.rampart.test';
let op: OidcProviderServer;
let stranger: OidcProviderServer;
let upstream: Upstream;
let s: GatewayServer;

before(async () => {
  [op, stranger, upstream] = await Promise.all([
    startOidcProvider({ audiences: [AUD], accessTokenTtlSec: 3600 }),
    startOidcProvider({ audiences: [AUD], accessTokenTtlSec: 3600 }),
    startUpstream(),
  ]);
  s = await gatewayServer({
    trustProxy: ['10.0.0.0/8'],
    rateLimit: { default: { limit: 100_000, window: '15m' } },
    tokens: {
      trustedIssuers: [
        {
          issuer: op.issuer,
          discoveryUrl: op.discoveryUrl,
          audience: AUD,
          claims: { roles: [['realm_access', 'roles']] },
        },
      ],
    },
    routes: [
      {
        name: 'partners',
        method: 'GET',
        path: '/partners/*',
        upstream: upstream.url,
        require: { credential: 'jwt', issuer: op.issuer, scopes: ['read'] },
        forward: { identityToken: true },
      },
      {
        name: 'mine',
        method: 'GET',
        path: '/mine',
        upstream: upstream.url,
        require: { credential: 'any' },
        forward: { identityToken: true },
      },
    ],
  });
});

after(async () => {
  await s?.close();
  await Promise.all([op?.stop(), stranger?.stop(), upstream?.stop()]);
});

describe('a route for one outside issuer', () => {
  test("the provider's token passes; the upstream sees its subject and issuer, never the token", async () => {
    const token = await op.token({ claims: { realm_access: { roles: ['partner'] } } });
    const res = await send(`${s.url}/partners/1`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, res.body);
    const seen = upstream.received.at(-1)!;
    assert.equal(seen.headers['x-rampart-issuer'], op.issuer);
    assert.equal(seen.headers['x-rampart-roles'], 'partner');
    assert.ok(seen.headers['x-rampart-subject']);
    assert.equal(seen.headers.authorization, undefined);
  });

  test('a token of an untrusted issuer is refused 401 and never reaches the upstream', async () => {
    const before = upstream.received.length;
    const res = await send(`${s.url}/partners/1`, {
      headers: { authorization: `Bearer ${await stranger.token()}` },
    });
    assert.equal(res.status, 401);
    assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
    assert.equal(upstream.received.length, before);
  });

  test("Rampart's own valid API key is refused on a route that takes the provider's tokens only", async () => {
    const { key } = await s.key(['read']);
    const res = await send(`${s.url}/partners/1`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 401);
  });

  test('a config naming an issuer that is not trusted stops the start, naming the field', async () => {
    await assert.rejects(
      gatewayServer({
        routes: [
          {
            method: 'GET',
            path: '/x',
            upstream: upstream.url,
            require: { credential: 'jwt', issuer: stranger.issuer },
          },
        ],
      }),
      /routes\[0\]\.require\.issuer: .* is not one of tokens\.trustedIssuers/,
    );
  });
});

describe('the identity token', () => {
  test("the upstream verifies it with Rampart's JWKS: typ, issuer, its audience, the request", async () => {
    const { id, key } = await s.key(['orders:read']);
    assert.equal((await send(`${s.url}/mine`, { headers: { 'x-api-key': key } })).status, 200);
    const token = String(upstream.received.at(-1)!.headers['x-rampart-identity']);
    const jwks = createRemoteJWKSet(new URL(`${s.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: s.context.config.tokens.issuer,
      audience: s.context.config.gateway.identityToken.audience,
      typ: 'rampart-identity+jwt',
    });
    assert.equal(protectedHeader.typ, 'rampart-identity+jwt');
    assert.deepEqual(
      [payload.sub, payload.key_id, payload.scope, payload.htm, payload.htu],
      [id, id, 'orders:read', 'GET', '/mine'],
    );
  });

  test("replayed as an access token to Rampart's own API, it is refused 401", async () => {
    const { key } = await s.key(['orders:read']);
    await send(`${s.url}/mine`, { headers: { 'x-api-key': key } });
    const token = String(upstream.received.at(-1)!.headers['x-rampart-identity']);
    const res = await send(`${s.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
    assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
  });
});

describe('forward auth as Traefik and Envoy call it', () => {
  const inject = (options: { method?: string; url: string; headers: Record<string, string>; from: string }) =>
    s.app.inject({
      method: (options.method ?? 'GET') as 'GET',
      url: options.url,
      headers: options.headers,
      remoteAddress: options.from,
    });

  test("Traefik's X-Forwarded-Method/-Uri from a trusted proxy: the route's policy decides", async () => {
    const { key } = await s.key(['read']);
    const res = await inject({
      url: '/v1/auth/forward',
      from: '10.0.0.7',
      headers: {
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': '/mine',
        'x-forwarded-host': 'shop.test',
        'x-api-key': key,
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(res.headers['x-rampart-subject']);
    assert.ok(String(res.headers['x-rampart-identity']).split('.').length === 3);
  });

  test("Envoy's check request: the original method and path after /v1/auth/forward", async () => {
    const res = await inject({ url: '/v1/auth/forward/mine', from: '10.0.0.7', headers: {} });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="rampart"');
  });

  test('the same headers from an untrusted peer are ignored: it is judged on its own path', async () => {
    const { key } = await s.key(['read']);
    const res = await inject({
      url: '/v1/auth/forward',
      from: '203.0.113.5',
      headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/mine', 'x-api-key': key },
    });
    assert.equal(res.statusCode, 404, 'GET / matches no route');
  });

  test('a forwarded request that matches no route is 404 problem+json', async () => {
    const res = await inject({
      url: '/v1/auth/forward',
      from: '10.0.0.7',
      headers: { 'x-forwarded-uri': '/nothing-here' },
    });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'NOT_FOUND');
  });
});
