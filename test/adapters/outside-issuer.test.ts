/**
 * Tokens of an outside identity provider through all three adapters: `createRampart({ jwt: {
 * issuers } })` against a real OpenID Provider (panva's `oidc-provider`, started by the test
 * harness on loopback), tokens from a real client_credentials grant. Express, Fastify and Hono
 * must answer alike, and the untrusted-issuer case must cost the untrusted provider no request.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createKeyRegistry } from '../../examples/shared/key-registry.ts';
import { type OidcProviderServer, startOidcProvider } from '../harness/oidc.ts';
import { expressApp, fastifyApp, honoApp, type RunningApp } from './apps.ts';

const AUD = 'https://api.rampart.test';
let op: OidcProviderServer;
let stranger: OidcProviderServer;
let apps: RunningApp[] = [];
// The policy's clock: real time, moved forward by hand past the key-fetch cooldown.
let skew = 0;
const registry = createKeyRegistry({ pepper: new Uint8Array(32).fill(7) });

before(async () => {
  [op, stranger] = await Promise.all([
    startOidcProvider({ audiences: [AUD], accessTokenTtlSec: 3600 }),
    startOidcProvider({ audiences: [AUD], accessTokenTtlSec: 3600 }),
  ]);
  const policy = (events: unknown[]) => ({
    jwt: {
      issuers: [
        {
          issuer: op.issuer,
          discoveryUrl: op.discoveryUrl,
          audience: AUD,
          claims: { roles: [['realm_access', 'roles']] },
        },
      ],
    },
    now: () => Date.now() + skew,
    // The conformance apps' other routes need these; they play no part here.
    apiKeys: { store: registry.store, hasher: registry.hasher },
    cors: { origins: ['https://app.example.com'] },
    onEvent: (event: unknown) => events.push(event),
    onError: () => {},
  });
  apps = await Promise.all([expressApp(policy), fastifyApp(policy), honoApp(policy)]);
});

after(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await Promise.all([op.stop(), stranger.stop()]);
});

async function statuses(path: string, token: string): Promise<number[]> {
  return Promise.all(
    apps.map(
      async (app) =>
        (await fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).status,
    ),
  );
}

test("a provider's token is accepted by every adapter, and its subject is the principal", async () => {
  const token = await op.token();
  for (const app of apps) {
    const res = await fetch(`${app.url}/api/protected`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, app.name);
    const body = (await res.json()) as { user: { userId: string; role: string } };
    assert.equal(typeof body.user.userId, 'string');
    assert.equal(body.user.role, 'user');
  }
});

test('roles come from the configured claim path: an outside admin passes a role check that names it', async () => {
  assert.deepEqual(
    await statuses('/api/admin', await op.token({ claims: { realm_access: { roles: ['admin'] } } })),
    [200, 200, 200],
  );
  assert.deepEqual(
    await statuses('/api/admin', await op.token({ claims: { realm_access: { roles: ['viewer'] } } })),
    [403, 403, 403],
  );
});

test('a tampered token and one for another audience are refused 401 everywhere', async () => {
  const token = await op.token();
  const [head, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
  const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${signature}`;
  assert.deepEqual(await statuses('/api/protected', tampered), [401, 401, 401]);
});

test('a token of an untrusted issuer is refused without any request to it', async () => {
  const token = await stranger.token();
  stranger.resetRequests();
  assert.deepEqual(await statuses('/api/protected', token), [401, 401, 401]);
  assert.deepEqual(stranger.requests, []);
});

test("the provider's key rotation is picked up on the first token with the new kid", async () => {
  await op.rotate();
  skew += 31_000; // past the cooldown since the last fetch
  assert.deepEqual(await statuses('/api/protected', await op.token()), [200, 200, 200]);
});
