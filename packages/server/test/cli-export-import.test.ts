import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { sqliteStorage } from '../src/storage/sqlite.ts';
import { BIN, rampart, serveWith } from './cli.ts';
import { tempDir } from './helpers.ts';

/**
 * `rampart export` and `rampart import` on SQLite, as real processes: secrets leave only
 * through --out (0600) or --include-secrets; a truncated or corrupted export is refused with
 * the target untouched; an import whose writes fail midway removes what it wrote.
 */

const PASSWORD = 'correct horse battery staple';
let source: string;
let full: string; // a complete export with secrets

before(async () => {
  source = tempDir();
  const server = await serveWith(['--port', '0', '--data-dir', source], {});
  try {
    const url = `http://127.0.0.1:${server.port}`;
    const post = (path: string, body: unknown) =>
      fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal(
      (await post('/v1/auth/register', { email: 'ada@example.com', password: PASSWORD, name: 'Ada' })).status,
      201,
    );
    assert.equal(
      (await post('/v1/auth/login', { email: 'ada@example.com', password: PASSWORD })).status,
      200,
    );
  } finally {
    await server.stop();
  }
  const file = join(tempDir(), 'full.jsonl');
  const made = rampart(['export', '--out', file], { env: { RAMPART_DATA_DIR: source } });
  assert.equal(made.code, 0, made.stderr);
  full = readFileSync(file, 'utf8');
});

/** What a data dir's storage holds, kind by kind (and whether it has a signing-key file). */
async function contents(dataDir: string) {
  const storage = sqliteStorage({ path: join(dataDir, 'rampart.db') });
  try {
    return {
      users: await storage.users.count(),
      apiKeys: (await storage.apiKeys.list({ limit: 500 })).keys.length,
      refreshTokens: (await storage.refreshTokens.list({ limit: 500 })).tokens.length,
      ttl: (await storage.ttl.list('', Date.now())).length,
      audit: (await storage.audit.list({ limit: 500 })).events.map((e) => e.id),
      signingKeyFile: existsSync(join(dataDir, 'signing-keys.json')),
    };
  } finally {
    await storage.close();
  }
}

const EMPTY = { users: 0, apiKeys: 0, refreshTokens: 0, ttl: 0, audit: [], signingKeyFile: false };

test('a plain export to stdout leaves out password hashes and signing keys, says so, and import refuses it', () => {
  const run = rampart(['export'], { env: { RAMPART_DATA_DIR: source } });
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.equal(lines[0].secrets, false);
  assert.ok(lines.some((l) => l.kind === 'user'));
  assert.ok(!run.stdout.includes('passwordHash') && !run.stdout.includes('argon2'));
  assert.ok(!lines.some((l) => l.kind === 'signingKey'));
  assert.ok(!run.stdout.includes('privateJwk'));
  assert.equal(lines.at(-1).counts.signingKey, 0);
  assert.match(run.stderr, /WITHOUT password hashes and signing keys/);
  assert.match(run.stderr, /--out <file>/);

  const target = tempDir();
  const refused = rampart(['import'], { env: { RAMPART_DATA_DIR: target }, input: run.stdout });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /made without secrets .* cannot restore a deployment/);

  // The full export holds them: that is what makes it a backup.
  assert.ok(full.includes('passwordHash') && full.includes('privateJwk'));
});

test('--out makes a 0600 file, refuses an existing one, and --force replaces it, 0600 again', () => {
  const dir = tempDir();
  const file = join(dir, 'backup.jsonl');
  const env = { RAMPART_DATA_DIR: source };
  assert.equal(rampart(['export', '--out', file], { env }).code, 0);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  writeFileSync(file, 'keep me');
  chmodSync(file, 0o644);
  const again = rampart(['export', '--out', file], { env });
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists; choose a new file, or add --force/);
  assert.equal(readFileSync(file, 'utf8'), 'keep me');
  assert.equal(rampart(['export', '--out', file, '--force'], { env }).code, 0);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(readFileSync(file, 'utf8'), /^\{"format":"rampart-export"/);
});

test('--include-secrets into a shell-made, world-readable file makes that file 0600 first', () => {
  const file = join(tempDir(), 'backup.jsonl');
  const fd = openSync(file, 'w', 0o644); // what `> backup.jsonl` does under umask 022
  try {
    const run = spawnSync(process.execPath, [BIN, 'export', '--include-secrets'], {
      env: { PATH: process.env.PATH, NODE_OPTIONS: process.env.NODE_OPTIONS, RAMPART_DATA_DIR: source },
      stdio: ['ignore', fd, 'pipe'],
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /made it mode 0600/);
  } finally {
    closeSync(fd);
  }
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(readFileSync(file, 'utf8').includes('passwordHash'));
});

test('a truncated or corrupted export is refused before the first write: the target stays empty', async () => {
  const lines = full.trimEnd().split('\n');
  const userLine = lines.findIndex((l) => l.includes('"kind":"user"'));
  const auditLine = lines.findLastIndex((l) => l.includes('"kind":"auditEvent"'));
  const corrupt = (index: number, edit: (line: string) => string) =>
    lines.map((l, i) => (i === index ? edit(l) : l)).join('\n');
  const cases: Array<[string, string, RegExp]> = [
    ['cut before the end line', lines.slice(0, -1).join('\n'), /ends without its end line/],
    ['cut inside the last record', `${lines.slice(0, -1).join('\n').slice(0, -20)}`, /not JSON|end line/],
    [
      'a garbled line near the end',
      corrupt(auditLine, (l) => l.slice(0, 30)),
      new RegExp(`line ${auditLine + 1}: not JSON`),
    ],
    [
      'a record with a field of the wrong type',
      corrupt(auditLine, (l) => l.replace(/"at":\d+/, '"at":"soon"')),
      /not a valid auditEvent record/,
    ],
    [
      'a user without a password hash',
      corrupt(userLine, (l) => l.replace(/"passwordHash":"[^"]*",/, '')),
      /not a valid user record/,
    ],
    [
      'the end line counting too many',
      corrupt(lines.length - 1, (l) => l.replace(/"user":1/, '"user":2')),
      /the end line counts 2 user but the file holds 1/,
    ],
    [
      'a duplicated record',
      [...lines.slice(0, -1), lines[auditLine], lines.at(-1)].join('\n'),
      /a second auditEvent/,
    ],
    ['not an export at all', 'hello\n', /line 1: not a rampart-export version 1 file/],
  ];
  for (const [name, input, message] of cases) {
    const target = tempDir();
    const viaStdin = rampart(['import'], { env: { RAMPART_DATA_DIR: target }, input });
    assert.equal(viaStdin.code, 1, `${name}: ${viaStdin.stderr}`);
    assert.match(viaStdin.stderr, message, name);
    assert.deepEqual(await contents(target), EMPTY, name);
    const file = join(target, 'in.jsonl');
    writeFileSync(file, input);
    const viaFile = rampart(['import', '--in', file], { env: { RAMPART_DATA_DIR: target } });
    assert.equal(viaFile.code, 1, name);
    assert.deepEqual(await contents(target), EMPTY, name);
  }
  // The same target then takes the whole export.
  const target = tempDir();
  assert.equal(
    rampart(['import'], { env: { RAMPART_DATA_DIR: target }, input: lines.slice(0, -1).join('\n') }).code,
    1,
  );
  const ok = rampart(['import'], { env: { RAMPART_DATA_DIR: target }, input: full });
  assert.equal(ok.code, 0, ok.stderr);
  const after = await contents(target);
  assert.equal(after.users, 1);
  assert.ok(after.apiKeys >= 1 && after.refreshTokens >= 1 && after.signingKeyFile);
});

test('an import whose writes fail midway removes everything it wrote, and only that', async () => {
  const target = tempDir();
  // The target already holds one audit event that is also in the export (the emptiness check
  // allows audit events): the users, keys and tokens are written before the events collide.
  const event = full
    .split('\n')
    .filter((l) => l.includes('"kind":"auditEvent"'))
    .map((l) => JSON.parse(l).record)
    .at(-1);
  const storage = sqliteStorage({ path: join(target, 'rampart.db') });
  await storage.audit.append([event]);
  await storage.close();

  const run = rampart(['import'], { env: { RAMPART_DATA_DIR: target }, input: full });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /UNIQUE|constraint/i);
  assert.match(run.stderr, /records written so far were removed again: the storage is as empty as before/);
  assert.deepEqual(await contents(target), { ...EMPTY, audit: [event.id] }, 'what was there before is kept');
});

test('an export whose reader closes the pipe early stops quietly: exit 141, no stack trace', async () => {
  const child = spawn(process.execPath, [BIN, 'export', '--include-secrets'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
      RAMPART_DATA_DIR: source,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The reader is gone before the first line is written (an import that refused its input).
  child.stdout!.destroy();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = await once(child, 'exit');
  assert.equal(code, 141, stderr);
  assert.ok(!/\n\s+at /.test(stderr) && !stderr.includes('EPIPE'), `no stack trace:\n${stderr}`);
});
