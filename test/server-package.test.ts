/**
 * The server package as users get it before (and after) the first release: `rampart-server`
 * and `rampart` from their tarballs (packed once per run, `test/harness/packages.ts`), installed
 * together into a fresh project; the installed `rampart` bin runs the built JavaScript (Node
 * strips no types under node_modules), resolving the library, `rampart/fastify` and
 * `rampart/internal/*.ts` to the library's own `dist/`. `--version` and a short `serve` run from
 * it, and `npm publish --dry-run` passes for both tarballs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { npmProject, packedPackages, tarballFiles } from './harness/packages.ts';

const work = mkdtempSync(join(tmpdir(), 'rampart-server-package-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A user's environment: Node 24 first on PATH (the bin's `#!/usr/bin/env node`), nothing of ours. */
const userEnv = () => ({
  PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
  HOME: process.env.HOME ?? work,
});

test('the server tarball holds the bin and built JavaScript: no sources, tests or source maps', () => {
  const files = tarballFiles(packedPackages().server);
  for (const needed of [
    'package.json',
    'LICENSE',
    'README.md',
    'bin/rampart.js',
    'dist/cli/main.js',
    'dist/server/serve.js',
    'dist/console/ui/index.html',
    'dist/vendor/scalar/standalone.js',
    'dist/vendor/scalar/NOTICE',
  ]) {
    assert.ok(files.includes(needed), `the tarball lacks ${needed}`);
  }
  const stray = files.filter(
    (path) =>
      path.startsWith('src/') || path.endsWith('.ts') || path.endsWith('.map') || path.includes('.test.'),
  );
  assert.deepEqual(stray, [], 'sources, tests and source maps stay out');
});

test('installed from the two tarballs, rampart --version and rampart serve run from the bin', {
  timeout: 600_000,
}, async () => {
  const { library, server } = packedPackages();
  const project = join(work, 'app');
  npmProject(project, library, server);
  // One library, the tarball's: the server's `rampart@0.1.0` dependency is met by it.
  const tree = spawnSync('npm', ['ls', '--all', '--parseable', 'rampart'], {
    cwd: project,
    encoding: 'utf8',
  });
  assert.deepEqual(
    tree.stdout.split('\n').filter((line) => line.endsWith('/rampart')),
    [join(project, 'node_modules/rampart')],
  );
  const bin = join(project, 'node_modules/.bin/rampart');
  assert.ok(existsSync(bin));
  assert.ok(!existsSync(join(project, 'node_modules/rampart-server/src')), 'no TypeScript is installed');
  assert.ok(
    !existsSync(join(project, 'node_modules/@scalar')),
    "the reference renderer's npm tree is not installed",
  );

  const version = spawnSync(bin, ['--version'], { cwd: project, env: userEnv(), encoding: 'utf8' });
  assert.equal(version.status, 0, version.stderr);
  const manifest = JSON.parse(
    readFileSync(join(project, 'node_modules/rampart-server/package.json'), 'utf8'),
  );
  assert.equal(version.stdout.trim(), `rampart ${manifest.version as string}`);

  const dataDir = join(work, 'data');
  const child = spawn(bin, ['serve', '--port', '0', '--data-dir', dataDir], {
    cwd: project,
    env: userEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = once(child, 'exit');
  try {
    const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start in time:\n${out}\n${err}`)), 60_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.includes('"msg":"started"'));
        if (line && out.includes(`${line}\n`)) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as Record<string, unknown>);
        }
      });
      void exited.then(() => reject(new Error(`serve exited:\n${err}\n${out}`)));
    });
    const url = String(started.url);
    assert.equal(started.dataDir, dataDir);
    assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
    const index = (await (await fetch(`${url}/`)).json()) as { name: string };
    assert.equal(index.name, 'rampart');
    const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    assert.ok(jwks.keys.length >= 1);
    // The console's files and the API reference's renderer are in the package.
    assert.equal((await fetch(`${url}/console/`)).status, 200);
    const renderer = await fetch(`${url}/docs/scalar.js`);
    assert.equal(renderer.status, 200);
    assert.ok((await renderer.arrayBuffer()).byteLength > 100_000);
    const refused = await fetch(`${url}/api/protected`);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), 'Bearer realm="rampart"');
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = await exited;
  assert.equal(code, 0, err);
});

test('npm publish --dry-run passes for both packages', { timeout: 300_000 }, () => {
  const { library, server } = packedPackages();
  for (const tarball of [library, server]) {
    const publish = spawnSync('npm', ['publish', tarball, '--dry-run', '--loglevel=notice'], {
      cwd: work,
      encoding: 'utf8',
      timeout: 240_000,
    });
    assert.equal(publish.status, 0, `npm publish --dry-run ${tarball}:\n${publish.stderr}`);
    assert.match(publish.stderr + publish.stdout, /\(dry-run\)/);
  }
});
