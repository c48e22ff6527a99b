/**
 * What Rampart's HTTP shell costs per request: bare Fastify answering `{ "status": "ok" }`
 * versus `rampart serve` answering the same on /healthz with its whole shell (security
 * headers, request id, client-IP walk, CORS decision, the health route's own per-address
 * limit, JSON request log line to stdout, metrics). The health limit is raised so that it
 * counts every request and refuses none.
 *
 *   node --conditions=rampart-source bench/shell.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Contender, compare, table } from './lib.ts';

const node = process.execPath;
const root = new URL('..', import.meta.url).pathname;

function shellConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-bench-'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ rateLimit: { health: { limit: 1_000_000_000, window: '15m' } }, logLevel: 'info' }),
  );
  return dir;
}

export async function shellBench(
  options: { rounds: number; connections: number; seconds: number } = {
    rounds: 3,
    connections: 50,
    seconds: 5,
  },
): Promise<{ report: string; ratio: number }> {
  const dir = shellConfig();
  const contenders: Contender[] = [
    {
      name: 'bare fastify',
      command: [node, join(root, 'bench/contenders/bare-fastify.ts')],
      path: '/healthz',
    },
    {
      name: 'rampart shell',
      command: [node, join(root, 'packages/server/bin/rampart.js'), 'serve'],
      env: { RAMPART_DATA_DIR: dir, RAMPART_CONFIG: join(dir, 'config.json') },
      path: '/healthz',
    },
  ];
  const rows = await compare(contenders, options);
  const ratio =
    rows.find((r) => r.name === 'rampart shell')!.rps / rows.find((r) => r.name === 'bare fastify')!.rps;
  const how = `${options.connections} connections, ${options.seconds} s × ${options.rounds} interleaved rounds, medians`;
  return { report: `### The HTTP shell (GET /healthz, ${how})\n\n${table(rows, 'bare fastify')}\n`, ratio };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await shellBench()).report);
