/**
 * The first start explains itself: on a terminal (`rampart serve` under a pseudo-terminal, made
 * by util-linux `script`) a banner says where the server listens, where the data dir and the
 * admin key are, and the next three commands, and the log is short lines for a person; into a
 * pipe every line is JSON, with a `started` line of the same facts. `--log-format` chooses
 * either way. The admin key itself is never printed, on either.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers.ts';

const BIN = new URL('../bin/rampart.js', import.meta.url).pathname;
const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

interface Run {
  output: string;
  cwd: string;
}

/**
 * Runs `rampart serve --port 0 …args` in a fresh working directory, on a terminal or into a
 * pipe, until `done(output)` says enough was printed; then stops it (its whole process group).
 */
async function serve(args: string[], terminal: boolean, done: (output: string) => boolean): Promise<Run> {
  const cwd = tempDir('rampart-first-start-');
  const command = [process.execPath, BIN, 'serve', '--port', '0', ...args];
  const [file, argv] = terminal
    ? ['script', ['-qfec', command.map(quote).join(' '), '/dev/null']]
    : [command[0]!, command.slice(1)];
  const child = spawn(file, argv, {
    cwd,
    detached: true,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SHELL: '/bin/sh',
      TERM: 'xterm',
      NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let seen = '';
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no output in time:\n${output}`)), 30_000);
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (seen === '' && done(output)) {
        // What it printed up to here, before `script` adds its own words on the way out.
        seen = output;
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`rampart serve ended early:\n${output}`));
    });
  });
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
  return { output: seen.replaceAll('\r\n', '\n'), cwd };
}

const bannerShown = (output: string) => output.includes('Ctrl-C stops the server');
const startedLogged = (output: string) => /"msg":"started"\}\r?\n/.test(output);

test('on a terminal: a banner with the URL, the data dir, where the admin key is, and three next commands', async () => {
  const { output, cwd } = await serve([], true, bannerShown);
  const key = readFileSync(join(cwd, 'data', 'admin-key'), 'utf8').trim();
  assert.ok(!output.includes(key), 'the admin key itself is never printed');
  const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
  const url = /Rampart \d+\.\d+\.\d+ is running at (http:\/\/127\.0\.0\.1:\d+)/.exec(plain)?.[1];
  assert.ok(url, plain);
  assert.match(plain, /^ {2}data dir {4}\.\/data \(SQLite\)$/m);
  assert.match(
    plain,
    /^ {2}admin key {3}\.\/data\/admin-key \(new: read it, keep it safe, then delete the file\)$/m,
  );
  const next = plain
    .slice(plain.indexOf('Next:\n') + 'Next:\n'.length)
    .split('\n')
    .slice(0, 3);
  assert.deepEqual(
    next.map((line) => line.replace(/\s+#.*$/, '').trim()),
    [
      `curl ${url}/`,
      `curl -H "x-api-key: $(cat ./data/admin-key)" ${url}/v1/keys`,
      'npx rampart keys create --name my-app --scopes read',
    ],
  );
  // The log is for a person: short lines, not JSON.
  assert.match(plain, /^\d\d:\d\d:\d\d INFO {2}Server listening at http:\/\/127\.0\.0\.1:\d+$/m);
  assert.ok(!plain.split('\n').some((line) => line.startsWith('{"level"')), plain);
});

test('into a pipe: JSON lines only, with a started line of the same facts and no banner', async () => {
  const { output, cwd } = await serve([], false, startedLogged);
  const lines = output.split('\n').filter((line) => line !== '');
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(!output.includes('Next:'), output);
  const started = entries.find((entry) => entry.msg === 'started')!;
  assert.match(String(started.url), /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(started.dataDir, join(cwd, 'data'));
  assert.equal(started.storage, 'sqlite');
  assert.deepEqual(started.adminKey, { file: join(cwd, 'data', 'admin-key'), created: true });
  const key = readFileSync(join(cwd, 'data', 'admin-key'), 'utf8').trim();
  assert.ok(!output.includes(key), 'the admin key itself is never logged');
});

test('--log-format chooses either way: JSON on a terminal, the banner into a pipe', async () => {
  const json = await serve(['--log-format', 'json'], true, startedLogged);
  assert.ok(!json.output.includes('Next:'), json.output);
  for (const line of json.output.split('\n').filter((l) => l.trim() !== '')) JSON.parse(line);

  const pretty = await serve(['--log-format', 'pretty'], false, bannerShown);
  assert.match(pretty.output, /is running at http:\/\/127\.0\.0\.1:\d+/);
  // No terminal, no colours.
  assert.ok(!pretty.output.includes('\u001b['), pretty.output);
});

test('a bad --log-format is refused, naming the flag', async () => {
  const cwd = tempDir('rampart-first-start-');
  const child = spawn(process.execPath, [BIN, 'serve', '--log-format', 'xml'], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: process.env.NODE_OPTIONS ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
  assert.match(stderr, /--log-format/);
});
