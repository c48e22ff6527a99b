import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

/**
 * The layout of ARCHITECTURE.md, enforced. Two packages:
 *
 * - the library (`packages/rampart/src`): `lib ← domain folders ← policy (the engine) ←
 *   adapters ← index`; no database driver anywhere, no framework outside its own adapter, and
 *   never an import of the server;
 * - the server (`packages/server/src`): `storage, accounts ← server ← cli`; it reaches the
 *   library only through the package name (`rampart`, `rampart/fastify`, `rampart/internal/…`),
 *   never by a relative path into the library's folder.
 *
 * The checker is a pure function of a file → imports table, so the tests below can also prove
 * that it reports what it should on trees made up for the purpose.
 */
const REPO = new URL('..', import.meta.url).pathname;

export type Layers = Record<string, number>;

export const LIBRARY_LAYERS: Layers = {
  lib: 0,
  'errors.ts': 0,
  tokens: 1,
  'api-keys': 1,
  'rate-limit': 1,
  validation: 1,
  http: 1,
  audit: 1,
  policy: 2,
  adapters: 3,
  'index.ts': 4,
};
export const SERVER_LAYERS: Layers = { storage: 0, accounts: 0, server: 1, console: 1, cli: 2 };

const FRAMEWORKS = /^(fastify|express|hono|@fastify\/|@hono\/|koa)(\/|$)/;
const DRIVERS = /^(ioredis|pg|node:sqlite|redis|postgres|nodemailer|pino|prom-client)(\/|$)/;
const LIBRARY_BY_NAME = /^rampart(\/|$)/;

export interface SourceFile {
  /** Path inside its package's `src/`, e.g. `policy/rampart.ts`. */
  path: string;
  imports: Array<{ spec: string; typeOnly: boolean }>;
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory()
      ? files(path)
      : path.endsWith('.ts') && !path.endsWith('.test.ts')
        ? [path]
        : [];
  });
}

export function importsOf(source: string): SourceFile['imports'] {
  const found: SourceFile['imports'] = [];
  const re = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) found.push({ spec: m[3]!, typeOnly: m[2] !== undefined });
  for (const m of source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g))
    found.push({ spec: m[1]!, typeOnly: false });
  return found;
}

function read(srcDir: string): SourceFile[] {
  return files(srcDir).map((path) => ({
    path: relative(srcDir, path),
    imports: importsOf(readFileSync(path, 'utf8')),
  }));
}

const topOf = (path: string) => path.split('/')[0]!;

/** The library's rule, as a list of problems (empty when the tree keeps it). */
export function libraryProblems(tree: SourceFile[], layers: Layers = LIBRARY_LAYERS): string[] {
  const problems: string[] = [];
  for (const file of tree) {
    const top = topOf(file.path);
    const layer = layers[top];
    if (layer === undefined) {
      problems.push(`${file.path}: folder "${top}" is not in the layer table`);
      continue;
    }
    for (const { spec } of file.imports) {
      if (spec.startsWith('.')) {
        const target = relative('.', join(file.path, '..', spec));
        if (target.startsWith('..')) {
          problems.push(`${file.path} imports ${spec}, outside the library`);
          continue;
        }
        const targetLayer = layers[topOf(target)];
        if (targetLayer !== undefined && targetLayer > layer) {
          problems.push(`${file.path} imports ${spec} (${topOf(target)} sits above ${top})`);
        }
      } else if (LIBRARY_BY_NAME.test(spec) || spec.startsWith('rampart-server')) {
        problems.push(`${file.path} imports ${spec}: the library reaches itself by relative paths only`);
      } else if (DRIVERS.test(spec)) {
        problems.push(`${file.path} imports ${spec}: the library takes connected clients, never a driver`);
      } else if (FRAMEWORKS.test(spec)) {
        const own = top === 'adapters' ? file.path.split('/')[1] : undefined;
        const allowed =
          own !== undefined && (spec === own || spec.startsWith(`${own}/`) || spec.startsWith(`@${own}/`));
        if (!allowed) problems.push(`${file.path} imports the framework ${spec}`);
      }
    }
  }
  return problems;
}

/** The server's rule, as a list of problems. */
export function serverProblems(tree: SourceFile[], layers: Layers = SERVER_LAYERS): string[] {
  const problems: string[] = [];
  for (const file of tree) {
    const top = topOf(file.path);
    const layer = layers[top];
    if (layer === undefined) {
      problems.push(`${file.path}: folder "${top}" is not in the layer table`);
      continue;
    }
    for (const { spec } of file.imports) {
      if (!spec.startsWith('.')) continue;
      const target = relative('.', join(file.path, '..', spec));
      if (target.startsWith('..')) {
        problems.push(`${file.path} imports ${spec}: reach the library by its package name`);
        continue;
      }
      const targetLayer = layers[topOf(target)];
      if (targetLayer !== undefined && targetLayer > layer) {
        problems.push(`${file.path} imports ${spec} (${topOf(target)} sits above ${top})`);
      }
    }
  }
  return problems;
}

const library = read(join(REPO, 'packages/rampart/src'));
const server = read(join(REPO, 'packages/server/src'));

test('the library: imports flow one way, no driver, each framework only in its adapter', () => {
  assert.deepEqual(libraryProblems(library), []);
});

test('the server: imports flow one way, and the library is reached by its package name', () => {
  assert.deepEqual(serverProblems(server), []);
});

test('the checkers are not blind: the real trees break an inverted layer table', () => {
  const invert = (layers: Layers): Layers =>
    Object.fromEntries(Object.entries(layers).map(([name, n]) => [name, -n]));
  assert.ok(libraryProblems(library, invert(LIBRARY_LAYERS)).length > 10);
  assert.ok(serverProblems(server, invert(SERVER_LAYERS)).length > 10);
});

test('the checkers report each kind of violation on a made-up tree', () => {
  const tree: SourceFile[] = [
    { path: 'tokens/x.ts', imports: [{ spec: '../policy/rampart.ts', typeOnly: false }] },
    { path: 'http/y.ts', imports: [{ spec: 'ioredis', typeOnly: true }] },
    { path: 'policy/z.ts', imports: [{ spec: 'fastify', typeOnly: false }] },
    { path: 'adapters/hono/index.ts', imports: [{ spec: 'express', typeOnly: false }] },
    { path: 'adapters/hono/ok.ts', imports: [{ spec: '@hono/node-server', typeOnly: false }] },
    { path: 'lib/w.ts', imports: [{ spec: '../../../server/src/cli/main.ts', typeOnly: false }] },
  ];
  const found = libraryProblems(tree);
  assert.equal(found.length, 5, found.join('\n'));
  assert.deepEqual(
    serverProblems([
      { path: 'server/a.ts', imports: [{ spec: '../../../rampart/src/index.ts', typeOnly: false }] },
    ]).length,
    1,
  );
  assert.equal(importsOf("import Fastify from 'fastify';\nimport type { X } from './x.ts';\n").length, 2);
});
