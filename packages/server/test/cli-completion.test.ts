import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AUDIT_EVENT_TYPES } from '../src/cli/audit.ts';
import { rampart } from './cli.ts';
import { tempDir } from './helpers.ts';

/** `rampart completion bash|zsh`: scripts generated from the command table, which bash parses and runs. */

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

function bashScript(): string {
  const run = rampart(['completion', 'bash']);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

/** What the bash completion offers for the words typed so far (the last one being completed). */
function complete(script: string, words: string[]): string[] {
  const file = join(tempDir(), 'rampart.bash');
  writeFileSync(file, script);
  const array = words.map((w) => `'${w}'`).join(' ');
  const run = spawnSync(
    'bash',
    [
      '-c',
      `source '${file}'; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _rampart; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n').filter(Boolean);
}

test('the bash script parses (bash -n), registers itself and lists every command', () => {
  const script = bashScript();
  const file = join(tempDir(), 'rampart.bash');
  writeFileSync(file, script);
  const parsed = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
  assert.equal(parsed.status, 0, parsed.stderr);
  assert.match(script, /^complete -o default -F _rampart rampart$/m);
  assert.deepEqual(complete(script, ['rampart', '']).sort(), [...COMMANDS, '--help', '--version'].sort());
});

test('bash completes subcommands, flags per subcommand and enumerated values', () => {
  const script = bashScript();
  assert.deepEqual(complete(script, ['rampart', 'au']), ['audit']);
  assert.deepEqual(
    complete(script, ['rampart', 'keys', '']).sort(),
    ['create', 'import', 'list', 'revoke', 'rotate', 'update', 'usage', '--help'].sort(),
  );
  assert.deepEqual(complete(script, ['rampart', 'keys', 'list', '--own']).sort(), ['--owner', '--ownerless']);
  assert.ok(!complete(script, ['rampart', 'keys', 'list', '--']).includes('--name'), 'list takes no --name');
  assert.deepEqual(complete(script, ['rampart', 'serve', '--p']), ['--port']);
  assert.deepEqual(complete(script, ['rampart', 'audit', '--type', 'authn_login_']).sort(), [
    'authn_login_fail',
    'authn_login_success',
  ]);
  assert.equal(complete(script, ['rampart', 'audit', '--type', '']).length, AUDIT_EVENT_TYPES.length);
  assert.deepEqual(complete(script, ['rampart', 'completion', '']).sort(), ['--help', 'bash', 'zsh']);
  assert.deepEqual(complete(script, ['rampart', 'export', '--in']), ['--include-secrets']);
});

test('the zsh script is a compdef function with every command, flag and value', () => {
  const run = rampart(['completion', 'zsh']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^#compdef rampart\n/);
  assert.match(run.stdout, /compdef _rampart rampart/);
  for (const command of COMMANDS) assert.match(run.stdout, new RegExp(`'${command}:`));
  assert.match(run.stdout, /'keys create'\)/);
  assert.match(run.stdout, /--type\) compadd -- authn_login_success /);
  assert.match(run.stdout, /--data-dir\) _files -\/;/);
  // zsh itself is not on every machine; when it is, it must parse the script too.
  const zsh = spawnSync('zsh', ['-n'], { input: run.stdout, encoding: 'utf8' });
  if (zsh.error === undefined) assert.equal(zsh.status, 0, zsh.stderr);
});
