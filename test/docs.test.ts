/**
 * Docs that run: every TypeScript and shell block of README.md, docs/** and the packages'
 * READMEs (`test/harness/doc-blocks.ts` finds them) is executed, so an example that breaks
 * fails the suite.
 *
 * - TypeScript: every block is type-checked, strictly, against the packed packages installed
 *   in a fresh project (the tarballs of this run), with the frameworks and schema libraries a
 *   reader installs. Then each one runs with Node: a module must end with exit code 0; a
 *   server (it listens on `PORT`) is probed on every route its code names, without
 *   credentials, and must answer each below 500, then it is stopped. Blocks that name a file
 *   (`ts file=schema.ts`) import each other.
 * - Shell: run with `set -euo pipefail` in a fresh working directory where `rampart serve`
 *   runs on its defaults (`./data`), with `rampart` (and `npx rampart`) the repository's CLI.
 *   The docs' default address, `localhost:8080`, stands for the test server's.
 *
 * A block marked `<!-- not-run: reason -->` is only type-checked (TypeScript) or
 * syntax-checked (`bash -n`). The test prints how many blocks it ran and how many a marker kept
 * from running.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { allBlocks, type DocBlock } from './harness/doc-blocks.ts';
import { installedVersion, npmInstall, npmProject, packedPackages } from './harness/packages.ts';
import { freePort } from './harness/proxies.ts';
import { type RedisServer, startRedis } from './harness/redis.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'packages/server/bin/rampart.js');
const work = mkdtempSync(join(tmpdir(), 'rampart-docs-'));
const children = new Set<ChildProcess>();
let redis: RedisServer | undefined;
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** What the docs' examples read from the environment, with test values. */
const EXAMPLE_ENV = {
  JWT_SECRET: 'the-docs-test-jwt-secret-of-32-bytes-or-more',
  API_KEY_PEPPER: Buffer.alloc(32, 7).toString('base64url'),
};

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Where a block is, for messages: `docs/library.md:42`. */
const where = (block: DocBlock) => `${block.doc}:${block.line}`;

/** The folder of a doc's blocks inside the project: `docs/library.md` → `docs-library`. */
const folderOf = (doc: string) => doc.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-');

interface Written {
  block: DocBlock;
  /** Path relative to the project. */
  path: string;
}

/** Writes every TypeScript block into the project: named blocks under their name, the rest by line. */
function writeTypeScript(project: string, blocks: DocBlock[]): Written[] {
  const written: Written[] = [];
  const taken = new Set<string>();
  for (const block of blocks) {
    const folder = folderOf(block.doc);
    const name = block.meta.file;
    let file = name !== undefined && !taken.has(`${folder}/${name}`) ? name : `block-${block.line}.ts`;
    if (name !== undefined && file !== name)
      file = `${name.replace(/\.ts$/, '')}.alternative-${block.line}.ts`;
    const path = `${folder}/${file}`;
    taken.add(path);
    mkdirSync(join(project, folder), { recursive: true });
    writeFileSync(join(project, path), block.code);
    written.push({ block, path });
  }
  return written;
}

/** tsc's errors, each named by the doc line it comes from. */
function typeCheck(project: string, written: Written[]): string[] {
  const tsc = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', project, '--pretty', 'false'], {
    cwd: project,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (tsc.status === 0) return [];
  const byPath = new Map(written.map((w) => [w.path, w.block]));
  return `${tsc.stdout}${tsc.stderr}`
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const match = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(line);
      const block = match ? byPath.get(match[1]!) : undefined;
      if (!match || !block) return line;
      return `${block.doc}:${block.line + Number(match[2])} (the block at line ${block.line}): ${match[4]}`;
    });
}

/** The paths a server block routes (`app.get('/api/data', …)`), with parameters filled in. */
function routesIn(code: string): Array<{ method: string; path: string }> {
  const routes = [...code.matchAll(/\.(get|post|put|patch|delete)\(\s*['"`](\/[^'"`]*)['"`]/g)].map((m) => ({
    method: m[1]!.toUpperCase(),
    path: m[2]!.replace(/:[A-Za-z]+/g, 'x1'),
  }));
  return routes.length > 0 ? routes : [{ method: 'GET', path: '/' }];
}

/** Runs one TypeScript block; resolves with what went wrong, or undefined. */
async function runTypeScript(project: string, { block, path }: Written): Promise<string | undefined> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: process.env.HOME ?? work,
    PORT: String(port),
    ...EXAMPLE_ENV,
  };
  if (block.code.includes('REDIS_URL')) {
    redis ??= await startRedis();
    env.REDIS_URL = redis.url;
  }
  const child = spawn(process.execPath, [join(project, path)], {
    cwd: dirname(join(project, path)),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const deadline = Date.now() + 30_000;
  try {
    // A module ends; a server listens on PORT.
    for (;;) {
      const ended = await Promise.race([
        exited,
        new Promise<undefined>((r) => setTimeout(r, 100, undefined)),
      ]);
      if (ended !== undefined) {
        const [code] = ended;
        return code === 0 ? undefined : `${where(block)}: exited with ${code}:\n${output}`;
      }
      if (await accepts(port)) break;
      if (Date.now() > deadline)
        return `${where(block)}: neither ended nor listened on PORT in 30 s:\n${output}`;
    }
    for (const { method, path: route } of routesIn(block.code)) {
      const answer = await fetch(`http://127.0.0.1:${port}${route}`, {
        method,
        ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
        signal: AbortSignal.timeout(10_000),
      });
      if (answer.status >= 500) {
        return `${where(block)}: ${method} ${route} answered ${answer.status}: ${await answer.text()}\n${output}`;
      }
    }
    return undefined;
  } finally {
    child.kill('SIGTERM');
    await exited;
    children.delete(child);
  }
}

/** A folder of commands that stand for the reader's: `rampart`, and `npx rampart`, run the repository's CLI. */
function shims(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const rampart = join(dir, 'rampart');
  writeFileSync(rampart, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  const npx = join(dir, 'npx');
  writeFileSync(
    npx,
    `#!/bin/sh\nif [ "$1" = rampart ]; then shift; exec '${rampart}' "$@"; fi\necho "docs test: npx $1 is not available here" >&2\nexit 127\n`,
  );
  chmodSync(rampart, 0o755);
  chmodSync(npx, 0o755);
  return dir;
}

interface Serving {
  address: string;
  stop(): Promise<void>;
}

/** `rampart serve` on its defaults in `cwd` (`./data`), on a free port. */
async function startServer(cwd: string, env: NodeJS.ProcessEnv): Promise<Serving> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, 'exit');
  const deadline = Date.now() + 30_000;
  while (!(await accepts(port))) {
    assert.ok(Date.now() < deadline, `rampart serve did not listen:\n${output}`);
    assert.equal(child.exitCode, null, `rampart serve exited:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    address: `127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      children.delete(child);
    },
  };
}

/** Runs one doc's shell blocks in order against one server; resolves with what went wrong. */
async function runShell(blocks: DocBlock[]): Promise<string[]> {
  const cwd = mkdtempSync(join(work, 'shell-'));
  const env: NodeJS.ProcessEnv = {
    PATH: `${shims(join(cwd, '.bin'))}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: process.env.HOME ?? cwd,
    NODE_OPTIONS: '',
  };
  const server = await startServer(cwd, env);
  const failures: string[] = [];
  try {
    for (const block of blocks) {
      const code = block.code.replace(/\b(localhost|127\.0\.0\.1):8080\b/g, server.address);
      // `set` inside, not as bash's flags: the system's startup files need not pass `-u`.
      const run = spawnSync('bash', ['-c', `set -euo pipefail\n${code}`], {
        cwd,
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (run.status !== 0) {
        failures.push(
          `${where(block)}: exited with ${run.status ?? run.signal}:\n${run.stderr}${run.stdout}`,
        );
      }
    }
  } finally {
    await server.stop();
  }
  return failures;
}

test('every TypeScript and shell block of the docs runs (or is marked, with a reason, not to)', {
  timeout: 900_000,
}, async () => {
  const { blocks, problems } = allBlocks(ROOT);
  assert.deepEqual(problems, [], 'not-run markers');
  const typescript = blocks.filter((b) => b.kind === 'typescript');
  const shell = blocks.filter((b) => b.kind === 'shell');
  const failures: string[] = [];

  // TypeScript: one project, the packed packages and what a reader installs beside them.
  const { library } = packedPackages();
  const project = join(work, 'project');
  npmProject(project, library);
  npmInstall(
    project,
    ...[
      'express',
      'fastify',
      'hono',
      '@hono/node-server',
      'zod',
      'valibot',
      'arktype',
      'ioredis',
      'jsonwebtoken',
      '@types/jsonwebtoken',
      '@types/express',
      '@types/node',
    ].map(installedVersion),
  );
  cpSync(join(ROOT, 'tsconfig.json'), join(project, 'tsconfig.base.json'));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      extends: './tsconfig.base.json',
      compilerOptions: { customConditions: [], noUnusedLocals: false },
      include: ['**/*.ts'],
      exclude: ['node_modules'],
    }),
  );
  const written = writeTypeScript(project, typescript);
  failures.push(...typeCheck(project, written));
  if (failures.length === 0) {
    for (const entry of written) {
      if (entry.block.notRun !== undefined) continue;
      const failure = await runTypeScript(project, entry);
      if (failure) failures.push(failure);
    }
  }

  // Shell: marked blocks are syntax-checked; the others run, one server per doc.
  for (const block of shell.filter((b) => b.notRun !== undefined)) {
    const check = spawnSync('bash', ['-n', '-c', block.code], { encoding: 'utf8' });
    if (check.status !== 0) failures.push(`${where(block)}: not valid shell:\n${check.stderr}`);
  }
  const runnable = shell.filter((b) => b.notRun === undefined);
  for (const doc of [...new Set(runnable.map((b) => b.doc))]) {
    failures.push(...(await runShell(runnable.filter((b) => b.doc === doc))));
  }

  const count = (list: DocBlock[], run: boolean) =>
    list.filter((b) => (b.notRun === undefined) === run).length;
  console.log(
    `docs: ${blocks.length} blocks in ${new Set(blocks.map((b) => b.doc)).size} files; ran ` +
      `${count(typescript, true)} TypeScript (all ${typescript.length} type-checked) and ` +
      `${count(shell, true)} shell; skipped by marker ${count(typescript, false)} TypeScript ` +
      `(type-checked only) and ${count(shell, false)} shell (syntax-checked only); ` +
      `${blocks.length - typescript.length - shell.length} other blocks (json, text, js) are not code to run`,
  );
  assert.deepEqual(failures, [], `doc blocks that fail:\n\n${failures.join('\n\n')}`);
});
