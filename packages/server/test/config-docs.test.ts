/**
 * The README's configuration tables name every field of the config file and every environment
 * variable the server reads: a key added without a line in the table fails here.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configFields } from '../src/server/config.ts';

const ROOT = new URL('../../..', import.meta.url).pathname;
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** Fields whose table line points to a page of their own instead of naming each child. */
const DOCUMENTED_ELSEWHERE: Record<string, string> = {
  gateway: 'docs/gateway.md',
};

/** The dotted names in the first cell of each row of the table after `heading`. */
function documented(heading: string): Set<string> {
  const start = README.indexOf(heading);
  assert.ok(start >= 0, `README.md has no "${heading}"`);
  const rows = README.slice(start).split('\n').slice(1);
  const names = new Set<string>();
  let seen = false;
  for (const row of rows) {
    if (!row.startsWith('|')) {
      if (seen) break;
      continue;
    }
    seen = true;
    const cell = row.split('|')[1] ?? '';
    let parent = '';
    for (const [, name] of cell.matchAll(/`([A-Za-z_.][A-Za-z0-9_.[\]]*)`/g)) {
      // `cors.credentials`, `.methods`: a name that starts with a dot continues the last parent.
      const full = name!.startsWith('.') ? parent + name : name!;
      names.add(full);
      if (!name!.startsWith('.')) parent = full.slice(0, full.lastIndexOf('.'));
    }
  }
  return names;
}

test('every config file field has a line in the README', () => {
  const names = documented('The config file (`RAMPART_CONFIG`)');
  const missing = configFields().filter((field) => {
    const top = field.split('.')[0]!;
    if (DOCUMENTED_ELSEWHERE[top] !== undefined && names.has(top)) return false;
    return ![...names].some((name) => name === field || name.startsWith(`${field}.`));
  });
  assert.deepEqual(missing, [], 'config fields the README table does not name');
});

test('every environment variable the server reads has a line in the README', () => {
  const names = documented('Environment variables (API.md)');
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return sources(path);
      return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
    });
  const read = new Set<string>();
  for (const file of sources(join(ROOT, 'packages/server/src'))) {
    const text = readFileSync(file, 'utf8');
    for (const [, name] of text.matchAll(/\benv\.((?:RAMPART_|REDIS_|DATABASE_)[A-Z0-9_]+|PORT|HOST)\b/g))
      read.add(name!);
    for (const [, name] of text.matchAll(/\benv, '((?:RAMPART|REDIS|DATABASE)_[A-Z0-9_]+)'/g))
      read.add(name!);
  }
  assert.ok(read.size >= 10, `found only ${read.size} variables: the scan is broken`);
  assert.deepEqual(
    [...read].filter((name) => !names.has(name)).sort(),
    [],
    'environment variables the README table does not name',
  );
});
