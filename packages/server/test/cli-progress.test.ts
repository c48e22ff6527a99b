import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { newId } from 'rampart/internal/lib/ids.ts';
import { progress } from '../src/cli/progress.ts';
import { sqliteStorage } from '../src/storage/sqlite.ts';
import { BIN, rampart } from './cli.ts';
import { tempDir } from './helpers.ts';

/** Progress of export and import: on stderr when it is a terminal, never into a pipe or a file. */

test('progress draws at once, then at most every everyMs of the injected clock, and clears its line', () => {
  let now = 1_000;
  const written: string[] = [];
  const p = progress({
    enabled: true,
    write: (t) => written.push(t),
    now: () => now,
    label: 'exporting',
    total: 3000,
    everyMs: 200,
  });
  assert.equal(written.length, 1);
  assert.match(written[0]!, /\r\u001b\[Kexporting 0 of 3,000 records \(0 s\)$/);
  p.tick(1000);
  assert.equal(written.length, 1, 'no redraw before everyMs');
  now += 200;
  p.tick(1000);
  assert.match(written.at(-1)!, /exporting 2,000 of 3,000 records/);
  now += 2_000;
  p.tick(1000);
  assert.match(written.at(-1)!, /exporting 3,000 of 3,000 records \(2 s\)/);
  p.done();
  assert.equal(written.at(-1), '\r\u001b[K');

  const silent: string[] = [];
  const off = progress({ enabled: false, write: (t) => silent.push(t), now: () => now, label: 'x' });
  off.tick(5);
  off.done();
  assert.deepEqual(silent, []);
});

/** Runs `command` with a pseudo-terminal as stdin, stdout and stderr (util-linux `script`). */
function inTerminal(command: string[], env: Record<string, string>) {
  const quoted = command.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  return spawnSync('script', ['-qec', quoted, '/dev/null'], {
    env: { PATH: process.env.PATH, NODE_OPTIONS: process.env.NODE_OPTIONS ?? '', TERM: 'dumb', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('export and import show progress on a terminal and print none into a pipe', async () => {
  const dataDir = tempDir();
  const storage = sqliteStorage({ path: join(dataDir, 'rampart.db') });
  const at = Date.now();
  await storage.audit.append(
    Array.from({ length: 2000 }, (_, i) => ({
      id: newId('evt'),
      type: 'sys_startup' as const,
      at: at - i,
      outcome: 'info' as const,
      detail: {},
      count: 1,
    })),
  );
  await storage.close();
  const file = join(tempDir(), 'export.jsonl');

  const piped = rampart(['export', '--out', file], { env: { RAMPART_DATA_DIR: dataDir } });
  assert.equal(piped.code, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, /\r|exporting \d/);
  assert.match(
    piped.stderr,
    /^exported 0 user, 0 apiKey, 0 refreshToken, 0 ttl, 0 signingKey, 2000 auditEvent/,
  );

  const shown = inTerminal([process.execPath, BIN, 'export', '--include-secrets'], {
    RAMPART_DATA_DIR: dataDir,
  });
  assert.equal(shown.status, 0, shown.stdout);
  assert.match(shown.stdout, /\r\u001b\[Kexporting \d[\d,]* records/);

  const target = tempDir();
  const quiet = rampart(['import', '--in', file], { env: { RAMPART_DATA_DIR: target } });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /\r|importing \d|checking \d/);

  const loud = inTerminal([process.execPath, BIN, 'import', '--in', file], { RAMPART_DATA_DIR: tempDir() });
  assert.equal(loud.status, 0, loud.stdout);
  assert.match(loud.stdout, /checking \d[\d,]* records/);
  assert.match(loud.stdout, /importing \d[\d,]* of 2,000 records/);
  assert.match(
    loud.stdout,
    /imported 0 user, 0 apiKey, 0 refreshToken, 0 ttl, 0 signingKey, 2000 auditEvent/,
  );
  assert.ok(readFileSync(file, 'utf8').length > 0);
});
