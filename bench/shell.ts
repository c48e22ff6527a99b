/**
 * What Rampart's HTTP shell costs per request: bare Fastify answering `{ "status": "ok" }`
 * versus `rampart serve` answering the same on /healthz with its whole shell (security
 * headers, request id, client-IP walk, CORS decision, JSON request log line to stdout).
 *
 *   npm run bench -- shell
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Contender, compare, table } from './lib.ts';

const node = process.execPath;
const root = new URL('..', import.meta.url).pathname;
const contenders: Contender[] = [
  { name: 'bare fastify', command: [node, join(root, 'bench/contenders/bare-fastify.ts')], path: '/healthz' },
  {
    name: 'rampart shell',
    command: [node, join(root, 'packages/server/bin/rampart.js'), 'serve'],
    env: { RAMPART_DATA_DIR: mkdtempSync(join(tmpdir(), 'rampart-bench-')) },
    path: '/healthz',
  },
];

export async function shellBench(): Promise<string> {
  const rows = await compare(contenders, { rounds: 3, connections: 50, seconds: 5 });
  return `### The HTTP shell (GET /healthz, 50 connections, 5 s × 3 interleaved rounds, medians)\n\n${table(rows, 'bare fastify')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await shellBench());
