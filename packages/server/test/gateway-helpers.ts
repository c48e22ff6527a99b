/**
 * A listening `rampart serve` (in process, memory storage) with gateway routes, and the
 * credentials the gateway and forward-auth tests call it with.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ConfigFile } from '../src/server/config.ts';
import { type TestServer, testServer } from './helpers.ts';

export interface GatewayServer extends TestServer {
  url: string;
  port: number;
  admin: string;
  /** A new API key with these scopes (made by the admin key). */
  key(scopes: string[]): Promise<{ id: string; key: string }>;
}

export async function gatewayServer(file: ConfigFile): Promise<GatewayServer> {
  const s = await testServer({ file: { logLevel: 'warn', ...file } });
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (s.app.server.address() as AddressInfo).port;
  const admin = readFileSync(join(s.dataDir, 'admin-key'), 'utf8').trim();
  let n = 0;
  return {
    ...s,
    url: `http://127.0.0.1:${port}`,
    port,
    admin,
    async key(scopes) {
      const res = await s.app.inject({
        method: 'POST',
        url: '/v1/keys',
        headers: { 'x-api-key': admin },
        payload: { name: `gateway-test-${++n}`, scopes },
      });
      assert.equal(res.statusCode, 201, res.body);
      return { id: res.json().id, key: res.json().key };
    },
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): Record<string, unknown>;
}

/** One request with node:http, any header allowed (fetch refuses `Connection` and friends). */
export function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // The path as written: a URL parser would resolve `/a/../b` before it is ever sent.
    const [, host, port, path] = /^http:\/\/([^:/]+):(\d+)(\/.*)?$/.exec(url)!;
    const req = request(
      {
        host,
        port: Number(port),
        path: path ?? '/',
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => JSON.parse(body) as Record<string, unknown>,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
