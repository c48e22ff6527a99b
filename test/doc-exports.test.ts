/**
 * Every store and type the docs name is public: a backticked name in README.md, docs/ or a
 * package README that the library declares as an export of one of its modules (a PascalCase
 * type or class, or a `…Store`/`…store` factory) must be exported from `rampart` or one of
 * its adapters, so a reader can import what the docs tell them about.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { docFiles } from './harness/doc-blocks.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const SRC = join(ROOT, 'packages/rampart/src');
const ENTRIES = [
  'index.ts',
  'adapters/express/index.ts',
  'adapters/fastify/index.ts',
  'adapters/hono/index.ts',
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !/\.(test|fixture|bench)\.ts$/.test(path) ? [path] : [];
  });
}

function isExported(statement: ts.Statement): boolean {
  const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
  return modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) === true;
}

/** The names a module declares with `export`, and those it re-exports by name. */
function exportsOf(path: string): { declared: string[]; named: string[] } {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const declared: string[] = [];
  const named: string[] = [];
  for (const statement of source.statements) {
    if (
      ts.isExportDeclaration(statement) &&
      statement.exportClause &&
      ts.isNamedExports(statement.exportClause)
    ) {
      for (const element of statement.exportClause.elements) named.push(element.name.text);
    }
    if (!isExported(statement)) continue;
    if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isClassDeclaration(statement)) &&
      statement.name
    ) {
      declared.push(statement.name.text);
    }
    if (ts.isVariableStatement(statement)) {
      for (const d of statement.declarationList.declarations)
        if (ts.isIdentifier(d.name)) declared.push(d.name.text);
    }
  }
  return { declared, named };
}

test('every store and type the docs name can be imported from the package', () => {
  const declaredIn = new Map<string, string>();
  for (const path of sources(SRC))
    for (const name of exportsOf(path).declared) declaredIn.set(name, relative(SRC, path));
  const exported = new Set<string>();
  for (const entry of ENTRIES) {
    const { declared, named } = exportsOf(join(SRC, entry));
    for (const name of [...declared, ...named]) exported.add(name);
  }
  const missing: string[] = [];
  for (const doc of docFiles(ROOT)) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    for (const match of text.matchAll(/`([A-Za-z_$][\w$]*)(?:\([^`]*\))?`/g)) {
      const name = match[1]!;
      const storeOrType = /^[A-Z][a-z]/.test(name) || /[sS]tore$/.test(name);
      if (storeOrType && declaredIn.has(name) && !exported.has(name)) {
        missing.push(`${doc}: \`${name}\` (declared in src/${declaredIn.get(name)}) is not exported`);
      }
    }
  }
  assert.deepEqual([...new Set(missing)], []);
  assert.ok(
    exported.has('memoryAuditStore') && exported.has('RateLimitStore') && exported.has('TrustedIssuer'),
  );
});
