import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileErrors, validate } from '@readme/openapi-parser';
import { collectedRoutes, openApiPath, undocumentedRoutes } from '../src/server/openapi.ts';
import { type TestServer, testServer } from './helpers.ts';

/**
 * The contract as data: `/openapi.json` passes a real OpenAPI 3.1 validator, and it describes
 * exactly the routes Fastify serves (a route added without a description, or a description
 * left behind by a removed route, fails here).
 */

let s: TestServer;
let document: {
  openapi: string;
  paths: Record<string, Record<string, { security: unknown[]; responses: Record<string, unknown> }>>;
};

before(async () => {
  s = await testServer();
  const res = await s.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  document = res.json();
});
after(() => s.close());

describe('the OpenAPI document', () => {
  test('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(document.openapi, '3.1.0');
    // The validator dereferences in place: give it a copy.
    const result = await validate(structuredClone(document) as never);
    assert.ok(result.valid, result.valid ? '' : compileErrors(result));
  });

  test('describes every route Fastify serves, and no route that does not exist', () => {
    assert.deepEqual(undocumentedRoutes(s.app), [], 'every route carries a routeDoc');
    const served = new Set(
      collectedRoutes(s.app)
        .filter((r) => r.method !== 'HEAD' && r.inContract)
        .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`),
    );
    const described = new Set(
      Object.entries(document.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method} ${path}`),
      ),
    );
    assert.deepEqual([...served].filter((r) => !described.has(r)).sort(), [], 'served but not described');
    assert.deepEqual([...described].filter((r) => !served.has(r)).sort(), [], 'described but not served');
    // The console's routes are described but kept out (the browser's, not a client's contract).
    assert.ok(collectedRoutes(s.app).some((r) => r.url === '/console/session' && !r.inContract));
    assert.ok(!Object.keys(document.paths).some((path) => path.startsWith('/console')));
    // The admin plane's routes are all in it.
    for (const route of [
      'patch /v1/keys/{id}',
      'get /v1/keys/{id}/usage',
      'get /v1/admin/users',
      'delete /v1/admin/rate-limits/blocks/{rule}/{key}',
      'post /v1/identities',
      'get /v1/identities/{id}/usage',
      'post /v1/plans',
    ]) {
      assert.ok(described.has(route), route);
    }
  });

  test("with gateway routes: forward auth is in it, the operator's routes are described but kept out", async () => {
    const g = await testServer({
      file: {
        routes: [
          {
            name: 'orders',
            method: 'GET',
            path: '/orders/*',
            upstream: 'http://127.0.0.1:9',
            require: { credential: 'apiKey' },
          },
          { name: 'decided', method: 'GET', path: '/decided', require: { credential: 'none' } },
        ],
      },
    });
    try {
      assert.deepEqual(undocumentedRoutes(g.app), []);
      const doc = (await g.app.inject({ method: 'GET', url: '/openapi.json' })).json() as typeof document;
      assert.ok(doc.paths['/v1/auth/forward']?.get, 'forward auth is described');
      assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/orders') || p.includes('*')));
      const result = await validate(structuredClone(doc) as never);
      assert.ok(result.valid, result.valid ? '' : compileErrors(result));
    } finally {
      await g.close();
    }
  });

  test('says how to authenticate and what every error looks like', () => {
    const doc = document as unknown as {
      components: { securitySchemes: Record<string, { type: string; name?: string; scheme?: string }> };
    };
    assert.equal(doc.components.securitySchemes.bearer?.scheme, 'bearer');
    assert.equal(doc.components.securitySchemes.apiKey?.name, 'x-api-key');
    const patch = document.paths['/v1/keys/{id}']!.patch!;
    assert.deepEqual(patch.security, [{ bearer: [] }, { apiKey: [] }]);
    for (const status of ['400', '401', '403', '404', '429', 'default']) {
      const answer = patch.responses[status] as { content?: Record<string, unknown> };
      assert.ok(answer?.content?.['application/problem+json'], `${status} is problem+json`);
    }
    assert.deepEqual(document.paths['/healthz']!.get!.security, []);
  });

  test('the API reference page is served from the package with a strict policy', async () => {
    const page = await s.app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<script src="\/docs\/scalar\.js"><\/script>/);
    assert.doesNotMatch(page.body, /https?:\/\//, 'no CDN');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self';/);
    const bundle = await s.app.inject({ method: 'GET', url: '/docs/scalar.js' });
    assert.equal(bundle.statusCode, 200);
    assert.match(bundle.body.slice(0, 5000), /tailwindcss|Scalar|scalar/);
    const init = await s.app.inject({ method: 'GET', url: '/docs/init.js' });
    assert.match(init.body, /"url":"\/openapi\.json"/);
    assert.match(init.body, /"telemetry":false/);
  });
});
