/**
 * The library package as users get it: the tarball of `packages/rampart` alone (packed once per
 * run, `test/harness/packages.ts`), installed into a fresh project (where Node does not strip
 * types: everything must be JavaScript); it brings none of the server's drivers, framework,
 * mailer, logger or metrics client, ships no source maps, type-checks code against every
 * export's `.d.ts`, and runs the Express example.
 *
 * Needs package.json's `exports` to point at `dist/` and `files` to list it (see
 * docs/library.md, "Packaging"). Dependencies come from the local npm cache when it has them
 * (`--prefer-offline`).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import {
  installedVersion,
  npmInstall,
  npmProject,
  packedPackages,
  tarballFiles,
} from './harness/packages.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const LIBRARY = join(ROOT, 'packages/rampart');
const work = mkdtempSync(join(tmpdir(), 'rampart-package-'));
after(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 240_000 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

test('the packed tarball installs, type-checks and runs the Express example', {
  timeout: 300_000,
}, async () => {
  const manifest = JSON.parse(readFileSync(join(LIBRARY, 'package.json'), 'utf8')) as {
    exports?: Record<string, unknown>;
    files?: string[];
  };
  for (const entry of ['.', './express', './fastify', './hono']) {
    assert.match(
      JSON.stringify(manifest.exports?.[entry] ?? null),
      /\.\/dist\//,
      `package.json "exports" must map "${entry}" to dist/ (docs/library.md, "Packaging")`,
    );
  }
  assert.ok(manifest.files?.includes('dist'), 'package.json "files" must list dist');
  const { library } = packedPackages();
  const contents = new Set(tarballFiles(library));
  for (const base of ['index', 'adapters/express/index', 'adapters/fastify/index', 'adapters/hono/index']) {
    assert.ok(contents.has(`dist/${base}.js`), `tarball lacks dist/${base}.js`);
    assert.ok(contents.has(`dist/${base}.d.ts`), `tarball lacks dist/${base}.d.ts`);
  }
  assert.deepEqual(
    [...contents].filter((path) => path.endsWith('.test.js') || path.startsWith('src/')),
    [],
    'tests and TypeScript sources stay out of the tarball',
  );
  // No source maps (tsconfig.build.json: sourceMap and declarationMap off): they would ship
  // paths of the build machine and point at sources the tarball does not hold.
  assert.deepEqual(
    [...contents].filter((path) => path.endsWith('.map')),
    [],
    'the tarball ships no source maps',
  );
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  run('tar', ['-xzf', library, '-C', unpacked], work);
  for (const path of [...contents].filter((p) => p.endsWith('.js') || p.endsWith('.d.ts'))) {
    const text = readFileSync(join(unpacked, 'package', path), 'utf8');
    assert.ok(!text.includes('sourceMappingURL'), `${path} names a source map`);
  }

  const project = join(work, 'app');
  // The tarball alone first: what it brings along is its own few dependencies, and none of
  // what only the server needs (the frameworks are optional peers).
  npmProject(project, library);
  const tree = run('npm', ['ls', '--omit=dev', '--all', '--parseable'], project);
  for (const name of ['pg', 'ioredis', 'fastify', 'nodemailer', 'pino', 'prom-client']) {
    assert.ok(
      !tree.split('\n').some((line) => line.endsWith(`/node_modules/${name}`)),
      `rampart brought ${name} along`,
    );
  }
  // Then the user's own choices.
  npmInstall(
    project,
    installedVersion('express'),
    installedVersion('fastify'),
    installedVersion('hono'),
    installedVersion('zod'),
    installedVersion('@types/express'),
    installedVersion('@types/node'),
  );

  // The example, as a user writes it: it imports the package by name.
  for (const dir of ['express', 'shared']) {
    mkdirSync(join(project, 'examples', dir), { recursive: true });
    for (const name of readdirSync(join(ROOT, 'examples', dir))) {
      const text = readFileSync(join(ROOT, 'examples', dir, name), 'utf8');
      assert.ok(!/from '\.\.?\/.*src\//.test(text), `examples/${dir}/${name} imports from a src/ folder`);
      writeFileSync(join(project, 'examples', dir, name), text);
    }
  }
  writeFileSync(
    join(project, 'every-export.ts'),
    [
      "import { createRampart, type Rampart } from 'rampart';",
      "import { createExpressRampart } from 'rampart/express';",
      "import { rampartPlugin } from 'rampart/fastify';",
      "import { createHonoRampart, type RampartEnv } from 'rampart/hono';",
      "const rampart: Rampart<'cors'> = createRampart({ cors: { origins: ['https://app.example.com'] } });",
      'export const pieces = [createExpressRampart(rampart), createHonoRampart(rampart), rampartPlugin];',
      "export type Env = RampartEnv['Variables']['principal'];",
    ].join('\n'),
  );
  cpSync(join(ROOT, 'tsconfig.json'), join(project, 'tsconfig.base.json'));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      extends: './tsconfig.base.json',
      compilerOptions: { skipLibCheck: false, customConditions: [] },
      include: ['examples', 'every-export.ts'],
    }),
  );
  run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', project], project);

  const child = spawn(process.execPath, ['examples/express/server.ts'], {
    cwd: project,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit');
  try {
    const lines = createInterface({ input: child.stdout! });
    const first = await Promise.race([
      once(lines, 'line').then(([line]) => line as string),
      exited.then(() => assert.fail(`the example exited:\n${stderr}`)),
    ]);
    const { listening, demoToken, demoApiKey } = JSON.parse(first) as Record<string, string>;
    const granted = await fetch(`${listening}/api/protected`, {
      headers: { authorization: `Bearer ${demoToken}` },
    });
    assert.equal(granted.status, 200);
    assert.deepEqual(await granted.json(), {
      message: 'Access granted',
      user: { userId: '123', role: 'admin' },
    });
    assert.equal(
      (await fetch(`${listening}/api/data`, { headers: { 'x-api-key': demoApiKey! } })).status,
      200,
    );
    const refused = await fetch(`${listening}/api/protected`);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = await exited;
  assert.equal(code, 0, stderr);
});
