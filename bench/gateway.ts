/**
 * Forward auth and the gateway, in one run (part of `npm run bench`; alone:
 * `node --conditions=rampart-source bench/gateway.ts`). One upstream (bare node:http, small
 * JSON) pinned to CPU 0 beside each contender; wrk on CPU 1, as bench/lib.ts does.
 *
 * - the upstream called directly: the ceiling;
 * - nginx proxying alone (keep-alive to the upstream, no checks);
 * - `rampart serve` as the gateway (an API-key route with a scope and a per-key limit);
 * - forward-auth decisions per second: `/v1/auth/forward` itself, as nginx's subrequest asks;
 * - nginx with `auth_request` to Rampart, then the upstream (the tested configuration).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Contender, compare, type Running, start, stop, table } from './lib.ts';

const node = process.execPath;
const root = new URL('..', import.meta.url).pathname;
const ADMIN = 'bench-admin-key-bench-admin-key-bench-admin-key';

function rampart(name: string, upstream: string, path: string, headers: Record<string, string>): Contender {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-bench-gw-'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      trustProxy: ['loopback'],
      rateLimit: { default: { limit: 1_000_000_000, window: '15m' } },
      routes: [
        {
          name: 'orders',
          method: 'GET',
          path: '/orders',
          upstream,
          require: { credential: 'apiKey', scopes: ['orders:read'] },
          rateLimit: [{ key: 'apiKey', limit: 1_000_000_000, window: '15m' }],
        },
      ],
    }),
  );
  return {
    name,
    command: [node, join(root, 'packages/server/bin/rampart.js'), 'serve'],
    env: {
      RAMPART_DATA_DIR: dir,
      RAMPART_CONFIG: join(dir, 'config.json'),
      RAMPART_BOOTSTRAP_ADMIN_KEY: ADMIN,
    },
    path,
    headers: { 'x-api-key': ADMIN, ...headers },
  };
}

export async function gatewayBench(options = { rounds: 3, connections: 50, seconds: 5 }): Promise<string> {
  // The upstream runs for the whole benchmark; each contender is measured on its own.
  const upstream: Running = await start({
    name: 'upstream',
    command: [node, join(root, 'bench/contenders/upstream.ts')],
    path: '/orders',
  });
  const at = upstream.url.replace('http://', '');
  try {
    const direct = {
      name: 'upstream called directly',
      command: [node, join(root, 'bench/contenders/upstream.ts')],
      path: '/orders',
    };
    const nginx = (
      name: string,
      env: Record<string, string>,
      headers: Record<string, string> = {},
    ): Contender => ({
      name,
      command: [node, '--conditions=rampart-source', join(root, 'bench/contenders/nginx.ts')],
      env: { BENCH_UPSTREAM: at, ...env },
      path: '/orders',
      headers,
    });
    // Rampart for the nginx auth_request contender: its own process, started first to know its port.
    const behindNginx = await start(
      rampart('rampart (for nginx auth_request)', upstream.url, '/healthz', {}),
    );
    try {
      const rows = await compare(
        [
          direct,
          nginx('nginx proxy_pass alone', {}),
          rampart('rampart gateway (API key, scope, per-key limit)', upstream.url, '/orders', {}),
          rampart('rampart forward-auth decisions (/v1/auth/forward)', upstream.url, '/v1/auth/forward', {
            'x-original-method': 'GET',
            'x-original-uri': '/orders',
          }),
          nginx(
            'nginx auth_request → rampart → upstream',
            { BENCH_RAMPART: behindNginx.url.replace('http://', '') },
            { 'x-api-key': ADMIN },
          ),
        ],
        options,
      );
      return `### Forward auth and the gateway (GET /orders, ${options.connections} connections, ${options.seconds} s × ${options.rounds} interleaved rounds, medians)

The upstream (bare node:http, small JSON) shares CPU 0 with each contender; wrk on CPU 1. The
forward-auth row is Rampart answering the decision alone, as nginx's subrequest asks it.

${table(rows, 'upstream called directly')}
`;
    } finally {
      await stop(behindNginx);
    }
  } finally {
    await stop(upstream);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await gatewayBench());
