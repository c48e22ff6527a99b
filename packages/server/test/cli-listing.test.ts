import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { newId } from 'rampart/internal/lib/ids.ts';
import { nextPageCommand } from '../src/cli/audit.ts';
import { sqliteStorage } from '../src/storage/sqlite.ts';
import type { ApiKeyRecord } from '../src/storage/types.ts';
import { rampart } from './cli.ts';
import { tempDir } from './helpers.ts';

/**
 * Listings: a filtered audit page's "More:" hint keeps every filter (following it stays in the
 * same listing), and one stored row with a time outside the date range is shown as invalid
 * instead of breaking `keys list` or `audit` for every page that holds it.
 */

test('the "More:" hint of a filtered audit listing keeps every filter, and following it stays filtered', () => {
  const dataDir = tempDir();
  const env = { RAMPART_DATA_DIR: dataDir };
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const made = rampart(['keys', 'create', '--name', `k${i}`, '--json'], { env });
    assert.equal(made.code, 0, made.stderr);
    ids.push(JSON.parse(made.stdout).id);
  }
  for (const id of ids) assert.equal(rampart(['keys', 'revoke', id], { env }).code, 0);

  const seen: string[] = [];
  let args = ['audit', '--type', 'key_created', '--actor', 'cli', '--since', '1h', '--limit', '1'];
  for (let page = 0; page < 5; page++) {
    const run = rampart(args, { env });
    assert.equal(run.code, 0, run.stderr);
    const rows = run.stdout.split('\n').filter((line) => /^\d{4}-/.test(line));
    assert.equal(rows.length, 1, run.stdout);
    assert.match(rows[0]!, /\bkey_created\b/, 'every page holds only the filtered type');
    seen.push(rows[0]!);
    const more = /^More: (.+)$/m.exec(run.stdout);
    if (!more) break;
    assert.match(more[1]!, /--type key_created/);
    assert.match(more[1]!, /--actor cli/);
    assert.match(more[1]!, /--since \d{4}-\d{2}-\d{2}T[\d:.]+Z/, 'a relative --since is made absolute');
    assert.match(more[1]!, /--limit 1/);
    assert.match(more[1]!, /--cursor \S+$/);
    args = more[1]!.split(' ').slice(1); // "rampart audit …": the words are plain, no quoting here
  }
  assert.equal(seen.length, 3, 'three key_created events in three pages, then no hint');
  assert.equal(new Set(seen).size, 3);
});

test('nextPageCommand quotes what the shell would split', () => {
  assert.equal(
    nextPageCommand({ limit: 50, actor: "usr_a b'c", type: 'authz_fail', since: 0 }, 'CUR'),
    `rampart audit --type authz_fail --since 1970-01-01T00:00:00.000Z --actor 'usr_a b'\\''c' --cursor CUR`,
  );
});

test('a key or event with a time outside the date range is listed as invalid; the others still list', async () => {
  const dataDir = tempDir();
  const env = { RAMPART_DATA_DIR: dataDir };
  const good = JSON.parse(rampart(['keys', 'create', '--name', 'good', '--json'], { env }).stdout);
  const storage = sqliteStorage({ path: join(dataDir, 'rampart.db') });
  const broken: ApiKeyRecord = {
    id: newId('key'),
    hash: `v1:${'A'.repeat(43)}`,
    hint: 'rk_live_xxxx…',
    prefix: 'rk_live_',
    name: 'far future',
    ownerId: null,
    scopes: [],
    createdAt: Date.now(),
    expiresAt: 9e15, // past the largest Date (8.64e15 ms)
    lastUsedAt: null,
    revokedAt: null,
    metadata: {},
    credits: null,
    rateLimit: null,
    rotatedFrom: null,
  };
  try {
    assert.ok(await storage.apiKeys.insert(broken));
    await storage.audit.append([
      { id: newId('evt'), type: 'sys_startup', at: -9e15, outcome: 'info', detail: {}, count: 1 },
    ]);
  } finally {
    await storage.close();
  }

  const table = rampart(['keys', 'list'], { env });
  assert.equal(table.code, 0, table.stderr);
  assert.ok(table.stdout.includes(good.id), 'the good key is listed');
  const row = table.stdout.split('\n').find((line) => line.startsWith(broken.id));
  assert.ok(row, table.stdout);
  assert.match(row, /\binvalid\b/);
  assert.match(
    table.stderr,
    new RegExp(`warning: ${broken.id} holds a time outside the date range \\(expiresAt 8640000000000000\\)`),
  );

  const listed = JSON.parse(rampart(['keys', 'list', '--json'], { env }).stdout);
  const shown = listed.keys.find((k: { id: string }) => k.id === broken.id);
  assert.equal(shown.expiresAt, 'invalid');
  // The storage layer clamps what it reads to the Date range (8.64e15 ms); the CLI shows the rest.
  assert.deepEqual(shown.invalid, { expiresAt: 8.64e15 });
  assert.equal(listed.keys.length, 2);

  const audit = rampart(['audit'], { env });
  assert.equal(audit.code, 0, audit.stderr);
  assert.match(audit.stdout, /^invalid\s+sys_startup/m);
  assert.match(audit.stdout, /key_created/);
  const events = JSON.parse(rampart(['audit', '--json'], { env }).stdout).events;
  assert.equal(events.find((e: { type: string }) => e.type === 'sys_startup').at, 'invalid');

  // And the CLI itself no longer stores such a time.
  const far = rampart(['keys', 'create', '--name', 'x', '--expires', '9000000000000000'], { env });
  assert.equal(far.code, 2);
  assert.match(far.stderr, /--expires: expected/);
});
