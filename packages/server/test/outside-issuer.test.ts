/**
 * `rampart serve` trusting an outside identity provider (`tokens.trustedIssuers`), against a
 * real OpenID Provider started by the test harness: its tokens reach protected routes, Rampart's
 * own tokens keep working beside them, an untrusted issuer costs no request, and a bad entry
 * stops the start naming the field.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type OidcProviderServer, startOidcProvider } from '../../../test/harness/oidc.ts';
import { loadConfig } from '../src/server/config.ts';
import { createRampartServer } from '../src/server/server.ts';
import { memoryStorage } from '../src/storage/memory.ts';
import { type TestServer, tempDir, testServer } from './helpers.ts';

const AUD = 'https://api.rampart.test';
let op: OidcProviderServer;
let stranger: OidcProviderServer;
let s: TestServer;

before(async () => {
  [op, stranger] = await Promise.all([
    startOidcProvider({ audiences: [AUD], accessTokenTtlSec: 3600 }),
    startOidcProvider({ audiences: [AUD], accessTokenTtlSec: 3600 }),
  ]);
  s = await testServer({
    file: {
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
    },
  });
});

after(async () => {
  await s?.close();
  await Promise.all([op.stop(), stranger.stop()]);
});

const get = (url: string, token: string) =>
  s.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

test("the provider's token reaches a protected route; Rampart's own tokens keep working beside it", async () => {
  const outside = await get('/api/protected', await op.token());
  assert.equal(outside.statusCode, 200, outside.body);
  await s.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email: 'own@example.com', password: 'correct horse battery staple', name: 'Own' },
  });
  const login = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email: 'own@example.com', password: 'correct horse battery staple' },
  });
  assert.equal((await get('/api/protected', login.json().access_token)).statusCode, 200);
});

test('an untrusted issuer is refused 401 with no request to it, and audited', async () => {
  const token = await stranger.token();
  stranger.resetRequests();
  const res = await get('/api/protected', token);
  assert.equal(res.statusCode, 401);
  assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
  assert.deepEqual(stranger.requests, []);
  await s.context.audit.flush();
  const events = await s.context.storage.audit.list({ limit: 20, type: 'authn_token_invalid' });
  assert.ok(events.events.some((e) => e.detail.scheme === 'bearer'));
});

test('an outside admin is not a Rampart admin: the admin plane stays closed to it', async () => {
  const token = await op.token({ claims: { realm_access: { roles: ['admin'] } } });
  assert.equal((await get('/metrics', token)).statusCode, 403);
});

test('a bad trusted issuer stops the start with the field named', async () => {
  const dataDir = tempDir();
  const config = loadConfig({ RAMPART_DATA_DIR: dataDir }, dataDir);
  const bad = {
    ...config,
    tokens: {
      ...config.tokens,
      trustedIssuers: [{ issuer: op.issuer, jwksUri: op.jwksUri, audience: AUD, algorithms: ['HS256'] }],
    },
  };
  await assert.rejects(
    createRampartServer(bad, { storage: memoryStorage() }),
    /^ConfigError: tokens\.trustedIssuers\[0\]\.algorithms/,
  );
});
