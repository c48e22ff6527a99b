import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

/**
 * The one-way import rule of ARCHITECTURE.md:
 *   lib ← domain folders ← storage ← policy ← adapters ← server ← cli
 * and no domain folder imports a framework or a driver (a type-only import of a driver's
 * client type is allowed: stores receive connected clients).
 */
const SRC = new URL('../src/', import.meta.url).pathname;
const LAYER: Record<string, number> = {
  lib: 0,
  'errors.ts': 0,
  tokens: 1,
  'api-keys': 1,
  'rate-limit': 1,
  validation: 1,
  http: 1,
  audit: 1,
  accounts: 1,
  storage: 2,
  policy: 3,
  adapters: 4,
  server: 5,
  cli: 6,
  'index.ts': 7,
};
const FRAMEWORKS = /^(fastify|express|hono|@fastify\/|@hono\/|koa)/;
const DRIVERS = /^(ioredis|pg|node:sqlite|redis|postgres)(\/|$)/;

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

function imports(source: string): Array<{ spec: string; typeOnly: boolean }> {
  const found: Array<{ spec: string; typeOnly: boolean }> = [];
  const re = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) found.push({ spec: m[3]!, typeOnly: m[2] !== undefined });
  for (const m of source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g))
    found.push({ spec: m[1]!, typeOnly: false });
  return found;
}

function topOf(path: string): string {
  return relative(SRC, path).split('/')[0]!;
}

test('imports flow one way and domain folders import no framework or driver', () => {
  const problems: string[] = [];
  for (const file of files(SRC)) {
    const top = topOf(file);
    const layer = LAYER[top];
    if (layer === undefined) {
      problems.push(`${relative(SRC, file)}: folder "${top}" is not in the layer table of ARCHITECTURE.md`);
      continue;
    }
    for (const { spec, typeOnly } of imports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = topOf(join(file, '..', spec));
        const targetLayer = LAYER[target];
        // Domain folders may use each other and storage's interface types, nothing above.
        const typesOfStorage = target === 'storage' && spec.endsWith('/types.ts');
        if (targetLayer !== undefined && targetLayer > layer && !typesOfStorage) {
          problems.push(`${relative(SRC, file)} imports ${spec} (${target} sits above ${top})`);
        }
      } else if (layer <= 3 && FRAMEWORKS.test(spec)) {
        problems.push(`${relative(SRC, file)} imports the framework ${spec}`);
      } else if (layer <= 1 && DRIVERS.test(spec) && !typeOnly) {
        problems.push(`${relative(SRC, file)} imports the driver ${spec}`);
      } else if (top === 'adapters') {
        const own = relative(SRC, file).split('/')[1];
        if (
          FRAMEWORKS.test(spec) &&
          !spec.startsWith(own === 'fastify' ? 'fastify' : own!) &&
          !spec.startsWith('@')
        )
          problems.push(`${relative(SRC, file)} imports another adapter's framework ${spec}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('the rule catches a violation (the checker itself is not blind)', () => {
  const found = imports("import Fastify from 'fastify';\nimport type { Redis } from 'ioredis';\n");
  assert.deepEqual(found, [
    { spec: 'fastify', typeOnly: false },
    { spec: 'ioredis', typeOnly: true },
  ]);
  assert.ok(FRAMEWORKS.test('fastify') && DRIVERS.test('node:sqlite') && !DRIVERS.test('node:crypto'));
});
