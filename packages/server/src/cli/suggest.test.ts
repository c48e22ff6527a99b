import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unknownConfigKeys } from '../server/config.ts';
import { parseFlags } from './args.ts';
import { UsageError } from './output.ts';
import { closest, didYouMean, editDistance } from './suggest.ts';

test('editDistance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('serve', 'serve'), 0);
  assert.equal(editDistance('--prot', '--port'), 1);
  assert.equal(editDistance('kyes', 'keys'), 1);
  assert.equal(editDistance('exprot', 'export'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('closest suggests plausible typos only, nearest first, and a known word by its last part', () => {
  assert.deepEqual(closest('serv', ['serve', 'keys', 'audit']), ['serve']);
  assert.deepEqual(closest('xyzzy', ['serve', 'keys', 'audit']), []);
  assert.deepEqual(closest('login_fail', ['authn_login_fail', 'authz_fail', 'key_created']), [
    'authn_login_fail',
  ]);
  assert.equal(didYouMean('lst', ['list', 'create']), '; did you mean "list"?');
  assert.equal(didYouMean('zzz', ['list']), '');
});

test('parseFlags refuses in its own words: unknown, missing values, values on booleans, bad choices, extras', () => {
  const options = {
    port: { type: 'string' },
    json: { type: 'boolean' },
    shell: { type: 'string', choices: ['bash', 'zsh'] },
  } as const;
  assert.deepEqual(parseFlags('t', ['--port', '80', '--json', '--shell=zsh'], options).values, {
    port: '80',
    json: true,
    shell: 'zsh',
  });
  assert.deepEqual(parseFlags('t', ['a', '--', '--json'], options, ['<a>', '<b>']).positionals, [
    'a',
    '--json',
  ]);
  const refusals: Array<[string[], RegExp]> = [
    [['--prot', '80'], /^t: unknown option --prot; did you mean "--port"\?$/],
    [['--port'], /--port needs a value/],
    [['--port', '--json'], /--port needs a value/],
    [['--json=1'], /--json takes no value/],
    [['--shell', 'bsh'], /"bsh" is not a known value; did you mean "bash"/],
    [['--port', '1', '--port', '2'], /--port given twice/],
    [['extra'], /unexpected argument "extra"/],
    [['-p'], /unknown option -p/],
  ];
  for (const [argv, message] of refusals) {
    assert.throws(
      () => parseFlags('t', argv, options),
      (e: Error) => e instanceof UsageError && message.test(e.message),
    );
  }
});

test('unknownConfigKeys names each unknown key with the keys allowed where it stands, arrays included', () => {
  assert.deepEqual(unknownConfigKeys({ logLevel: 'info' }), []);
  const found = unknownConfigKeys({
    cors: { orgins: [] },
    rateLimit: { rules: [{ route: 'POST /x', limit: 1, window: '1m', kye: 'ip' }] },
    tokns: {},
  });
  const byField = Object.fromEntries(found.map((f) => [f.field, f.allowed]));
  assert.ok(byField['cors.orgins']?.includes('origins'));
  assert.ok(byField['rateLimit.rules.0.kye']?.includes('key'));
  assert.ok(byField.tokns?.includes('tokens'));
});
