/**
 * The README's library section, built as a reader would: a fresh project per framework
 * (Express, Fastify, Hono) with the packed `rampart` (as "Installing before the first release"
 * says) and what "As a library" installs, the README's own `tsconfig.json`, `policy.ts`, the
 * framework's file, and each of the three `schema.ts` (Zod, ArkType, Valibot) in turn. Each is
 * type-checked with `tsc` under that strict tsconfig, then run with `node`, and every tutorial
 * route is called with the token and key it prints. No block of it holds a cast.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import ts from 'typescript';
import { blocksOf, type DocBlock } from './harness/doc-blocks.ts';
import { installedVersion, npmInstall, npmProject, packedPackages } from './harness/packages.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'rampart-readme-'));
after(() => rmSync(work, { recursive: true, force: true }));

const { blocks } = blocksOf('README.md', readFileSync(join(ROOT, 'README.md'), 'utf8'));
const named = (file: string): DocBlock[] => blocks.filter((block) => block.meta.file === file);
const only = (file: string): DocBlock => {
  const found = named(file);
  assert.equal(found.length, 1, `README.md has one ${file} block`);
  return found[0]!;
};

/** The schema alternatives, by the library each imports. */
const SCHEMAS = Object.fromEntries(
  ['zod', 'arktype', 'valibot'].map((library) => [
    library,
    named('schema.ts').find((block) => block.code.includes(`from '${library}'`))!,
  ]),
) as Record<'zod' | 'arktype' | 'valibot', DocBlock>;

/**
 * The casts in a TypeScript text: `x as T` (but `as const`), `<T>x`, `x!`, and `any`, each of
 * which would let a wrong type through. Found with TypeScript's own parser, not by pattern.
 */
function castsIn(code: string): string[] {
  const source = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isAsExpression(node) && node.type.getText(source) !== 'const') ||
      ts.isTypeAssertionExpression(node) ||
      ts.isNonNullExpression(node) ||
      node.kind === ts.SyntaxKind.AnyKeyword
    ) {
      found.push(node.getText(source));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const FRAMEWORKS = {
  express: ['express', '@types/express'],
  fastify: ['fastify'],
  hono: ['hono', '@hono/node-server'],
} as const;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Running {
  url: string;
  token: string;
  key: string;
  stop(): Promise<void>;
}

/** `node <file>` in the project, until it prints the lines to try it with. */
async function start(project: string, file: string): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [file], {
    cwd: project,
    env: {
      PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
      HOME: process.env.HOME ?? work,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, 'exit');
  const printed = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} printed nothing to try:\n${output}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/x-api-key: \S+"/.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    });
    void exited.then(() => reject(new Error(`${file} exited:\n${output}`)));
  });
  return {
    url: /listening on (\S+)/.exec(printed)![1]!,
    token: /Bearer (\S+)"/.exec(printed)![1]!,
    key: /x-api-key: (\S+)"/.exec(printed)![1]!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The tutorial's routes, as examples.test.ts calls them. */
async function tutorialRoutes({ url, token, key }: Running): Promise<void> {
  const anonymous = await fetch(`${url}/api/protected`);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="rampart"');
  assert.equal(anonymous.headers.get('content-type'), 'application/problem+json; charset=utf-8');

  const granted = await fetch(`${url}/api/protected`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(granted.status, 200);
  assert.deepEqual(await granted.json(), {
    message: 'Access granted',
    user: { userId: 'usr_123', role: 'admin' },
  });
  assert.equal(granted.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(granted.headers.get('ratelimit-policy'), '"api";q=100;w=900');

  const data = await fetch(`${url}/api/data`, { headers: { 'x-api-key': key } });
  assert.equal(data.status, 200);
  assert.deepEqual(((await data.json()) as { data: string[] }).data, ['alpha', 'beta']);
  assert.equal(
    // The last character changed (never to itself: a key can end in "x").
    (
      await fetch(`${url}/api/data`, {
        headers: { 'x-api-key': `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}` },
      })
    ).status,
    401,
  );

  const post = (body: unknown) =>
    fetch(`${url}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const invalid = await post({ email: 'x', password: 'hunter2', name: 'A' });
  assert.equal(invalid.status, 400);
  const problem = (await invalid.json()) as { code: string; errors: Array<{ path: string; code: string }> };
  assert.equal(problem.code, 'VALIDATION_FAILED');
  assert.deepEqual(problem.errors.map((error) => error.path).sort(), ['/email', '/name', '/password']);
  assert.ok(!JSON.stringify(problem).includes('hunter2'), 'the submitted password is never echoed');
  const created = await post({ email: 'Ada@Example.com', password: 'Sup3r$ecretX', name: '<i>Ada</i>' });
  assert.equal(created.status, 201);
  assert.deepEqual(await created.json(), { email: 'Ada@example.com', name: 'Ada' });

  const resets = [];
  for (let i = 0; i < 6; i++)
    resets.push((await fetch(`${url}/api/reset-password`, { method: 'POST' })).status);
  assert.deepEqual(resets, [202, 202, 202, 202, 202, 429]);

  const preflight = await fetch(`${url}/api/users`, {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.com');
  assert.equal((await fetch(`${url}/nowhere`)).status, 404);
}

test('the README has the blocks this test builds from, and none of them holds a cast', () => {
  const used = [only('tsconfig.json'), only('policy.ts'), ...Object.values(SCHEMAS)];
  for (const framework of Object.keys(FRAMEWORKS)) used.push(only(`${framework}.ts`));
  assert.equal(named('schema.ts').length, 3);
  // The check itself sees each kind of cast.
  assert.deepEqual(castsIn('const a = b as string; c!.d; let e: any; const f = [1] as const;'), [
    'b as string',
    'c!',
    'any',
  ]);
  for (const block of used.filter((b) => b.kind === 'typescript')) {
    assert.deepEqual(castsIn(block.code), [], `README.md:${block.line}`);
  }
});

describe('a fresh project per framework, from the README alone', () => {
  for (const [framework, dependencies] of Object.entries(FRAMEWORKS)) {
    test(`${framework}: type-checks and serves the tutorial's routes with Zod, ArkType and Valibot`, {
      timeout: 600_000,
    }, async () => {
      const project = join(work, framework);
      npmProject(project, packedPackages().library);
      npmInstall(
        project,
        ...[...dependencies, 'zod', 'arktype', 'valibot', '@types/node', 'typescript'].map(installedVersion),
      );
      writeFileSync(join(project, 'tsconfig.json'), only('tsconfig.json').code);
      writeFileSync(join(project, 'policy.ts'), only('policy.ts').code);
      writeFileSync(join(project, `${framework}.ts`), only(`${framework}.ts`).code);
      for (const [library, schema] of Object.entries(SCHEMAS)) {
        writeFileSync(join(project, 'schema.ts'), schema.code);
        const tsc = spawnSync(join(project, 'node_modules/.bin/tsc'), ['-p', project], {
          cwd: project,
          encoding: 'utf8',
          timeout: 240_000,
        });
        assert.equal(tsc.status, 0, `${framework} with ${library}: tsc\n${tsc.stdout}${tsc.stderr}`);
        const running = await start(project, `${framework}.ts`);
        try {
          await tutorialRoutes(running);
        } catch (error) {
          throw new Error(`${framework} with ${library}: ${(error as Error).message}`, { cause: error });
        } finally {
          await running.stop();
        }
      }
    });
  }
});
