import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as z from 'zod';
import type { NameOptions } from './name.ts';
import { checkName, nameSchema } from './name.ts';
import { validateSync } from './standard-schema.ts';

function refusedWith(input: unknown, code: string, options?: NameOptions): void {
  const result = checkName(input, options);
  assert.equal(result.ok, false, `${JSON.stringify(input)} should be refused`);
  if (!result.ok) assert.equal(result.code, code, result.message);
}

test('markup is stripped and the text kept: <b>Al</b> is the 2-character name Al', () => {
  assert.deepEqual(checkName('<b>Al</b>'), { ok: true, value: 'Al' });
});

test('script and style bodies vanish with their tags instead of leaking into the name', () => {
  assert.deepEqual(checkName('<script>alert(1)</script>Bob'), { ok: true, value: 'Bob' });
  assert.deepEqual(checkName('<style>body{}</style>Zed'), { ok: true, value: 'Zed' });
  assert.deepEqual(checkName('<img src=x onerror=alert(1)>Bob'), { ok: true, value: 'Bob' });
});

test('a name that is only a script is too short once cleaned', () => {
  refusedWith('<script>x</script>', 'too_short');
});

test('the result is plain text: entities are decoded, not left as &amp;', () => {
  assert.deepEqual(checkName('Tom &amp; Jerry'), { ok: true, value: 'Tom & Jerry' });
  assert.deepEqual(checkName('Tom & Jerry'), { ok: true, value: 'Tom & Jerry' });
  assert.deepEqual(checkName("O'Brien"), { ok: true, value: "O'Brien" });
});

test('entity-encoded markup cannot come back as a tag in the plain text', () => {
  refusedWith('&lt;script&gt;alert(1)&lt;/script&gt;', 'invalid_characters');
  refusedWith('&lt;img src=x onerror=alert(1)&gt;', 'invalid_characters');
});

test('the name is trimmed, including non-breaking spaces', () => {
  assert.deepEqual(checkName('  \u00A0Al\t\n'), { ok: true, value: 'Al' });
  assert.deepEqual(checkName('&nbsp;Al&nbsp;'), { ok: true, value: 'Al' });
});

test('the name is NFC-normalized: e + combining acute becomes é', () => {
  const result = checkName('Ame\u0301lie');
  assert.deepEqual(result, { ok: true, value: 'Am\u00E9lie' });
});

test('length is 2 to 50 grapheme clusters after cleaning', () => {
  refusedWith('A', 'too_short');
  refusedWith('李', 'too_short');
  assert.equal(checkName('李雷').ok, true);
  assert.equal(checkName('x'.repeat(50)).ok, true);
  refusedWith('x'.repeat(51), 'too_long');
  // Markup does not count: 50 letters wrapped in tags are still 50.
  assert.equal(checkName(`<i>${'x'.repeat(50)}</i>`).ok, true);
});

test('an emoji family is one character, not eight UTF-16 units', () => {
  const family = '👩‍👩‍👧';
  refusedWith(family, 'too_short');
  assert.deepEqual(checkName(family.repeat(2)), { ok: true, value: family.repeat(2) });
  assert.equal(checkName(family.repeat(50)).ok, true);
  refusedWith(family.repeat(51), 'too_long');
});

test('a huge input is refused as too_long before it is parsed', () => {
  refusedWith(`<b>${'x'.repeat(5000)}</b>`, 'too_long');
});

test('C0, DEL and C1 control characters inside a name are refused (log injection)', () => {
  for (const name of [
    'Al\u0000ice',
    'Al\nice',
    'Al\rice',
    'Al\tice',
    'Al\u007Fice',
    'Jo\u0085e',
    'Jo\u009Be',
    'Al\u2028ice',
  ]) {
    refusedWith(name, 'control_character');
  }
});

test('bidi overrides, isolates and marks are refused (Trojan Source spoofing)', () => {
  for (const char of [
    '\u202A',
    '\u202B',
    '\u202C',
    '\u202D',
    '\u202E',
    '\u2066',
    '\u2067',
    '\u2068',
    '\u2069',
    '\u200E',
    '\u200F',
    '\u061C',
  ]) {
    refusedWith(`adm${char}in`, 'control_character');
  }
});

test('a control character smuggled as an entity is refused too', () => {
  refusedWith('&#x202E;nimda', 'control_character');
  refusedWith('Al&#x1B;[2Jice', 'control_character'); // ESC: terminal escape injection
});

test('a lone surrogate is refused', () => {
  refusedWith('Al\uD800ice', 'invalid_characters');
});

test('non-strings are refused as invalid_type instead of throwing', () => {
  for (const input of [undefined, null, 42, {}, ['Al'], { toString: () => 'Al' }]) {
    refusedWith(input, 'invalid_type');
  }
});

test('limits are configurable and misconfiguration is a TypeError naming the field', () => {
  assert.equal(checkName('A', { minLength: 1 }).ok, true);
  refusedWith('Alice', 'too_long', { maxLength: 4 });
  assert.throws(() => checkName('Al', { maxLength: 0 }), /maxLength/);
  assert.throws(() => checkName('Al', { minLength: 10, maxLength: 5 }), /minLength/);
});

test('nameSchema cleans the name and reports rule codes through validate', () => {
  const schema = z.object({ name: nameSchema });
  assert.deepEqual(schema.parse({ name: ' <b>Al</b> ' }), { name: 'Al' });
  assert.deepEqual(validateSync(schema, { name: 'Bob\u202Eboj' }), {
    ok: false,
    errors: [
      {
        path: '/name',
        code: 'control_character',
        message: 'The name must not contain control or text-direction characters',
      },
    ],
  });
});
