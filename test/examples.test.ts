/**
 * The examples: the tutorial's app on Express, Fastify and Hono with Rampart. Each is started
 * in-process on a loopback port and its routes are hit; each `server.ts` is also run the one
 * way the docs say (`node examples/<framework>/server.ts`) and stopped with SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import { createApp as createExpressExample } from '../examples/express/app.ts';
import { createApp as createFastifyExample } from '../examples/fastify/app.ts';
import { createApp as createHonoExample } from '../examples/hono/app.ts';
import type { ExampleOptions } from '../examples/shared/policy.ts';

const options: ExampleOptions = {
  jwtSecret: 'example-test-secret-of-32-bytes-or-more',
  pepper: new Uint8Array(32).fill(3),
  onEvent: () => {},
  onError: () => {},
};

interface Started {
  url: string;
  generateToken(user: { id: string; role: 'user' | 'admin' }): Promise<string>;
  keys: { generateKey(permissions: string[]): string };
  stop(): Promise<void>;
}

async function address(server: Server): Promise<string> {
  if (!server.listening) await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const examples: Record<string, () => Promise<Started>> = {
  express: async () => {
    const example = createExpressExample(options);
    const server = example.app.listen(0, '127.0.0.1');
    return {
      ...example,
      url: await address(server),
      stop: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await example.rampart.close();
      },
    };
  },
  fastify: async () => {
    const example = await createFastifyExample(options);
    const url = await example.app.listen({ port: 0, host: '127.0.0.1' });
    return { ...example, url, stop: () => example.app.close() };
  },
  hono: async () => {
    const example = createHonoExample(options);
    const server = serve({ fetch: example.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    return {
      ...example,
      url: await address(server),
      stop: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await example.rampart.close();
      },
    };
  },
};

for (const [name, start] of Object.entries(examples)) {
  describe(`the ${name} example`, () => {
    test('serves the tutorial routes behind the policy', async () => {
      const app = await start();
      try {
        const token = await app.generateToken({ id: '123', role: 'admin' });
        const key = app.keys.generateKey(['read', 'write']);

        const anonymous = await fetch(`${app.url}/api/protected`);
        assert.equal(anonymous.status, 401);
        assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="rampart"');
        assert.equal(anonymous.headers.get('content-type'), 'application/problem+json; charset=utf-8');

        const granted = await fetch(`${app.url}/api/protected`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(granted.status, 200);
        assert.deepEqual(await granted.json(), {
          message: 'Access granted',
          user: { userId: '123', role: 'admin' },
        });
        assert.equal(granted.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(granted.headers.get('ratelimit-policy'), '"api";q=100;w=900');

        const data = await fetch(`${app.url}/api/data`, { headers: { 'x-api-key': key } });
        assert.equal(data.status, 200);
        const readOnly = app.keys.generateKey(['write']);
        assert.equal(
          (await fetch(`${app.url}/api/data`, { headers: { 'x-api-key': readOnly } })).status,
          403,
        );

        const post = (body: unknown) =>
          fetch(`${app.url}/api/users`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        const invalid = await post({ email: 'x', password: 'password', name: 'A' });
        assert.equal(invalid.status, 400);
        assert.equal(((await invalid.json()) as { code: string }).code, 'VALIDATION_FAILED');
        const created = await post({
          email: 'ada@example.com',
          password: 'Sup3r$ecretX',
          name: '<i>Ada</i>',
        });
        assert.equal(created.status, 201);
        assert.deepEqual(await created.json(), { email: 'ada@example.com', name: 'Ada' });

        const resets = [];
        for (let i = 0; i < 6; i++) {
          resets.push((await fetch(`${app.url}/api/reset-password`, { method: 'POST' })).status);
        }
        assert.deepEqual(resets, [202, 202, 202, 202, 202, 429]);

        const preflight = await fetch(`${app.url}/api/users`, {
          method: 'OPTIONS',
          headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
        });
        assert.equal(preflight.status, 204);
        assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.com');
      } finally {
        await app.stop();
      }
    });

    test('runs with one command and stops on SIGTERM', async () => {
      const child = spawn(process.execPath, [`examples/${name}/server.ts`], {
        cwd: new URL('..', import.meta.url).pathname,
        env: { ...process.env, PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
        const { listening, demoToken } = JSON.parse(line) as { listening: string; demoToken: string };
        const answer = await fetch(`${listening}/api/protected`, {
          headers: { authorization: `Bearer ${demoToken}` },
        });
        assert.equal(answer.status, 200);
      } finally {
        child.kill('SIGTERM');
      }
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
    });
  });
}
