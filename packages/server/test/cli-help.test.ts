import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { rampart, serveWith } from './cli.ts';
import { tempDir } from './helpers.ts';

/**
 * The command line a new user meets first: help that never runs anything, the version, "did
 * you mean" for every kind of typo (exit 2, in our words), and serve's flags honoured with
 * flags over environment.
 */

const COMMANDS = [
  'serve',
  'keys',
  'users',
  'identities',
  'plans',
  'audit',
  'signing-keys',
  'migrate',
  'export',
  'import',
  'doctor',
  'completion',
  'help',
  'version',
];
const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

test("help for any command, in any spelling, prints that command's help and starts, opens and writes nothing", () => {
  const cwd = tempDir();
  const dataDir = join(cwd, 'data');
  const env = { RAMPART_DATA_DIR: dataDir };
  // Every command, each in one of the three spellings (all three are seen across the list).
  for (const [i, command] of COMMANDS.entries()) {
    for (const args of [
      [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ][i % 3]!,
    ]) {
      const run = rampart(args, { env, cwd });
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stdout, new RegExp(`rampart ${command}`), args.join(' '));
      assert.equal(run.stderr, '');
    }
  }
  // After the flags too, and for subcommands: still help, still nothing run.
  for (const args of [
    ['serve', '--port', '9', '--help'],
    ['keys', 'create', '--name', 'x', '--help'],
    ['import', '-h'],
  ]) {
    const run = rampart(args, { env, cwd });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Usage:/);
  }
  assert.deepEqual(readdirSync(cwd), [], 'no data dir, no admin key, no database');
  assert.ok(!existsSync(dataDir));

  assert.match(rampart(['help', 'keys']).stdout, /rampart keys create --name/);
  assert.doesNotMatch(rampart(['help', 'keys']).stdout, /^Usage: rampart <command>/);
  for (const args of [[], ['--help'], ['-h'], ['help']]) {
    const run = rampart(args, { cwd });
    assert.equal(run.code, 0);
    for (const command of COMMANDS) assert.match(run.stdout, new RegExp(`^  ${command} `, 'm'));
  }
});

test('--version and rampart version print the package version', () => {
  for (const args of [['--version'], ['version']]) {
    const run = rampart(args);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `rampart ${VERSION}\n`);
  }
});

test('typos get "did you mean", exit 2 and our own words, never the argument parser\'s', () => {
  const cwd = tempDir();
  const env = { RAMPART_DATA_DIR: join(cwd, 'data') };
  const cases: Array<[string[], RegExp]> = [
    [['serv'], /unknown command "serve?"; did you mean "serve"/],
    [['kyes', 'list'], /unknown command "kyes"; did you mean "keys"\?/],
    [['help', 'exprot'], /did you mean "export"\?/],
    [['serve', '--prot', '8080'], /serve: unknown option --prot; did you mean "--port"\?/],
    [['keys', 'lst'], /keys: unknown subcommand "lst"; did you mean "list"\?/],
    [['keys', 'list', '--jsno'], /unknown option --jsno; did you mean "--json"\?/],
    [['keys', 'list', '--name', 'x'], /keys list: unknown option --name/],
    [['keys', 'create', '--name'], /--name needs a value/],
    [['keys', 'list', '--json=yes'], /--json takes no value/],
    [['keys', 'revoke', 'key_a', 'key_b'], /unexpected argument "key_b"/],
    [
      ['audit', '--type', 'login_fail'],
      /--type "login_fail" is not a known value; did you mean "authn_login_fail"\?/,
    ],
    [['audit', '--type', 'key_craeted'], /did you mean "key_created"\?/],
    [['audit', '-x'], /unknown option -x/],
    [['signing-keys', 'rotat'], /did you mean "rotate"\?/],
    [['completion', 'fish'], /no completion for "fish"/],
    [['completion', 'bsh'], /did you mean "bash"/],
    [['export', '--force'], /--force only goes with --out/],
  ];
  for (const [args, message] of cases) {
    const run = rampart(args, { env, cwd });
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /^rampart: /);
    assert.match(run.stderr, message, args.join(' '));
    assert.match(run.stderr, /See "rampart .*--help"/);
    assert.doesNotMatch(run.stderr, /To specify a positional argument|ERR_PARSE_ARGS|Unknown option '/);
    assert.equal(run.stdout, '');
  }
  // The refused `audit --type` lists the vocabulary instead of answering "No events."
  const typo = rampart(['audit', '--type', 'login_fail'], { env, cwd });
  assert.match(typo.stderr, /expected one of: authn_login_success, authn_login_fail/);
  assert.doesNotMatch(typo.stdout, /No events/);
  assert.ok(!existsSync(join(cwd, 'data')), 'a refused command opens no store');
});

test('an unknown config key is answered with the nearest known one, on serve and on every command', () => {
  const dir = tempDir();
  const file = join(dir, 'rampart.json');
  writeFileSync(file, JSON.stringify({ cors: { orgins: ['https://app.example.com'] }, tokns: {} }));
  for (const args of [['serve'], ['serve', '--config', file], ['keys', 'list'], ['doctor']]) {
    const run = rampart(args, { env: { RAMPART_DATA_DIR: join(dir, 'data'), RAMPART_CONFIG: file } });
    assert.notEqual(run.code, 0, args.join(' '));
    assert.match(
      run.stderr + run.stdout,
      /unknown key "cors\.orgins"; did you mean "cors\.origins"\?/,
      args.join(' '),
    );
    assert.match(run.stderr + run.stdout, /unknown key "tokns"; did you mean "tokens"\?/);
  }
  assert.equal(
    rampart(['serve'], { env: { RAMPART_CONFIG: file, RAMPART_DATA_DIR: join(dir, 'data') } }).code,
    2,
  );
});

function listen(): Promise<Server & { port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () =>
      resolve(Object.assign(server, { port: (server.address() as { port: number }).port })),
    );
  });
}

test('serve takes --port, --host, --data-dir and --config, each over its environment variable', async () => {
  const dir = tempDir();
  const taken = await listen(); // PORT names a busy port: only the flag can make the start work
  const free = await listen();
  const port = free.port;
  await new Promise((resolve) => free.close(resolve));
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ logLevel: 'info' }));
  const envDataDir = join(dir, 'from-env');
  const flagDataDir = join(dir, 'from-flag');
  try {
    const server = await serveWith(
      ['--port', String(port), '--host', '127.0.0.1', '--data-dir', flagDataDir, '--config', good],
      {
        PORT: String(taken.port),
        HOST: 'not-a-host.invalid',
        RAMPART_DATA_DIR: envDataDir,
        RAMPART_CONFIG: join(dir, 'missing.json'),
      },
    );
    try {
      assert.equal(server.port, port);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      assert.ok(existsSync(join(flagDataDir, 'admin-key')), 'the data dir of --data-dir is used');
      assert.ok(!existsSync(envDataDir), 'and the one of RAMPART_DATA_DIR is not');
    } finally {
      await server.stop();
    }
  } finally {
    taken.close();
  }
  const bad = rampart(['serve', '--port', 'eighty'], { env: { RAMPART_DATA_DIR: join(dir, 'x') } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--port: expected a whole number from 0 to 65535/);
  const missing = rampart(['serve', '--config', join(dir, 'nope.json')], {
    env: { RAMPART_DATA_DIR: join(dir, 'x') },
  });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--config: cannot read .*nope\.json \(ENOENT\)/);
  assert.ok(!existsSync(join(dir, 'x')), 'a refused start writes nothing');
});

test("on a Node older than 24.7, bin says so plainly and how to run it with the project's Node", () => {
  const major = Number(
    /^v(\d+)/.exec(execFileSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }))?.[1],
  );
  for (const env of [{}, { NODE_OPTIONS: '' }] as Array<Record<string, string>>) {
    const run = rampart(['keys', 'list'], { node: '/usr/bin/node', env });
    if (major < 24) {
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /^rampart: needs Node\.js 24\.7 or later; this is Node\.js \d+\./);
      assert.match(run.stderr, /npm start/);
      assert.match(run.stderr, /npx rampart <command>/);
      assert.doesNotMatch(run.stderr, /ERR_UNKNOWN_FILE_EXTENSION|SyntaxError|argon2/);
    } else {
      // A machine whose system Node is recent enough: bin must then simply run on it.
      assert.equal(rampart(['--version'], { node: '/usr/bin/node', env }).code, 0);
    }
  }
});
