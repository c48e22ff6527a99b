/**
 * The route table is checked at start: a wrong field stops the start with a message naming it
 * (`routes[2].upstream: …`), and a gateway route may not take requests of Rampart's own routes.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ConfigFile } from '../src/server/config.ts';
import { loadConfig } from '../src/server/config.ts';
import { createRampartServer } from '../src/server/server.ts';
import { memoryStorage } from '../src/storage/memory.ts';
import { tempDir } from './helpers.ts';

function load(file: unknown, env: Record<string, string> = {}) {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(file));
  return loadConfig({ RAMPART_DATA_DIR: dir, RAMPART_CONFIG: join(dir, 'config.json'), ...env }, dir);
}

const ok = { method: 'GET', path: '/orders', upstream: 'http://127.0.0.1:9000' };

describe('routes: each field checked at start, named', () => {
  for (const [name, routes, message, env] of [
    [
      'a bad upstream',
      [ok, { ...ok, path: '/y' }, { ...ok, path: '/x', upstream: 'ftp://files' }],
      /routes\[2\]\.upstream: unsupported scheme ftp:/,
    ],
    [
      'credentials in the upstream URL',
      [{ ...ok, upstream: 'http://u:p@127.0.0.1:9000' }],
      /routes\[0\]\.upstream: must not carry credentials/,
    ],
    ['an unknown field', [{ ...ok, upstrem: 'x' }], /routes\[0\]: .*upstrem/],
    ['a path not in normal form', [{ ...ok, path: '/a/../b' }], /routes\[0\]\.path: .*dot segment/],
    ['a path with a bad segment', [{ ...ok, path: '/a/*/b' }], /routes\[0\]\.path: segment "\*"/],
    [
      'the same method and path twice',
      [ok, { ...ok, name: 'again' }],
      /routes\[1\]\.path: GET \/orders is already a route/,
    ],
    [
      'an issuer that is not trusted',
      [{ ...ok, require: { credential: 'jwt', issuer: 'https://idp.test' } }],
      /routes\[0\]\.require\.issuer: .*not one of tokens\.trustedIssuers/,
    ],
    [
      'scopes on a public route',
      [{ ...ok, require: { credential: 'none', scopes: ['a'] } }],
      /routes\[0\]\.require\.credential: "none" cannot require scopes/,
    ],
    [
      'a user limit on a public route',
      [{ ...ok, require: { credential: 'none' }, rateLimit: [{ key: 'user', limit: 1, window: '1m' }] }],
      /routes\[0\]\.rateLimit\[0\]\.key: "user" needs a credential/,
    ],
    [
      'an invalid JSON Schema',
      [{ ...ok, method: 'POST', body: { schema: { type: 'object', propertiez: {} } } }],
      /routes\[0\]\.body\.schema: strict mode: unknown keyword: "propertiez"/,
    ],
    [
      'a body on a GET route',
      [{ ...ok, body: { schema: { type: 'object' } } }],
      /routes\[0\]\.body: a route of GET/,
    ],
    [
      'a timeout out of range',
      [{ ...ok, timeouts: { connect: '2h' } }],
      /routes\[0\]\.timeouts\.connect: expected at most 60 seconds/,
    ],
    [
      'an identity token with HS256',
      [{ ...ok, forward: { identityToken: true } }],
      /routes\[0\]\.forward\.identityToken: needs an asymmetric/,
      { RAMPART_JWT_SECRET: 'x'.repeat(32) },
    ],
  ] as const) {
    test(`${name} stops the start`, () => {
      const file: Record<string, unknown> = { routes };
      if (env) file.tokens = { algorithm: 'HS256' };
      assert.throws(() => load(file, env ?? {}), message);
    });
  }

  test('an identity token audience equal to the access tokens audience stops the start', () => {
    assert.throws(
      () => load({ routes: [ok], gateway: { identityToken: { audience: 'rampart' } } }),
      /gateway\.identityToken\.audience: must differ from tokens\.audience/,
    );
  });

  test('an identity header that is a credential or transport header stops the start', () => {
    assert.throws(
      () => load({ routes: [ok], gateway: { identityHeaders: { subject: 'Authorization' } } }),
      /gateway\.identityHeaders\.subject: Authorization is a header Rampart sets or strips itself/,
    );
  });
});

describe("Rampart's own routes keep precedence", () => {
  const start = (routes: ConfigFile['routes']) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ routes }));
    const config = loadConfig({ RAMPART_DATA_DIR: dir, RAMPART_CONFIG: join(dir, 'config.json') }, dir);
    return createRampartServer(config, { storage: memoryStorage() });
  };

  for (const [route, own] of [
    [{ method: 'GET', path: '/v1/keys/special' }, 'GET /v1/keys/:id'],
    [{ method: 'POST', path: '/v1/auth/login' }, 'POST /v1/auth/login'],
    [{ method: 'GET', path: '/healthz' }, 'GET /healthz'],
    [{ method: 'GET', path: '/v1/auth/forward/x' }, 'GET /v1/auth/forward/*'],
  ] as const) {
    test(`a gateway route ${route.method} ${route.path} is refused: it would take ${own}`, async () => {
      await assert.rejects(start([{ ...route, upstream: 'http://127.0.0.1:9000' }]), (error: Error) =>
        error.message.includes(
          `routes[0].path: ${route.method} ${route.path} would take requests of Rampart's own route ${own}`,
        ),
      );
    });
  }

  test('a wider gateway route is allowed: the router still serves Rampart its own paths', async () => {
    const server = await start([
      { method: '*', path: '/*', upstream: 'http://127.0.0.1:9', require: { credential: 'none' } },
    ]);
    try {
      const res = await server.app.inject({ method: 'GET', url: '/healthz' });
      assert.deepEqual(res.json(), { status: 'ok' });
    } finally {
      await server.close();
    }
  });
});
