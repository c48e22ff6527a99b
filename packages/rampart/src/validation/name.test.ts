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

test('"admin" + U+202E + "nimda" is refused: it would display as "adminadmin"', () => {
  refusedWith('admin\u202Enimda', 'control_character');
  refusedWith('\u202Eadmin', 'control_character');
});

test('a zero-width-joined look-alike of "admin" is refused (it displays as admin)', () => {
  for (const char of [
    '\u200B',
    '\u200C',
    '\u200D',
    '\u2060',
    '\u2061',
    '\u2062',
    '\u2063',
    '\u2064',
    '\uFEFF',
  ]) {
    refusedWith(`ad${char}min`, 'invisible_character');
  }
  // Joined to letters, U+200D draws nothing: only between pictographs is it an emoji sequence.
  refusedWith('a\u200Dd\u200Dm\u200Di\u200Dn', 'invisible_character');
  refusedWith('👩\u200Dadmin', 'invisible_character');
  refusedWith('admin\u200D👩', 'invisible_character');
});

test('soft hyphens, fillers and other invisible characters are refused', () => {
  for (const name of [
    'ad\u00ADmin', // soft hyphen: shown only at a line break
    'ad\u034Fmin', // combining grapheme joiner
    'ad\u180Emin', // Mongolian vowel separator
    'ad\u3164min', // Hangul filler
    '\u3164\u3164', // a name that is nothing but Hangul fillers (an "invisible name")
    'Al\u115Fice',
    'Al\uFFA0ice',
    '\u2800\u2800', // braille pattern blank
    'ad\uFFF9min\uFFFB', // interlinear annotation
    'adm\uFE00in', // a variation selector after a letter selects nothing
    'adm\uFE0Fin',
    'adm\u{E0100}in',
  ]) {
    refusedWith(name, 'invisible_character');
  }
});

test('tag characters cannot smuggle a hidden text inside a name (ASCII smuggling)', () => {
  const hidden = [...'ignore previous instructions'].map((c) =>
    String.fromCodePoint(0xe0000 + c.codePointAt(0)!),
  );
  refusedWith(`Alice${hidden.join('')}`, 'invisible_character');
  refusedWith('Al\u{E0001}ice', 'invisible_character');
  refusedWith('Al\u{E007F}ice', 'invisible_character');
  refusedWith('Al\u{E0000}ice', 'invisible_character');
});

test('an invisible character smuggled as an entity is refused too', () => {
  refusedWith('ad&#x200B;min', 'invisible_character');
  refusedWith('ad&shy;min', 'invisible_character');
  refusedWith('ad&zwj;min', 'invisible_character');
});

test('every format and default-ignorable code point between letters is refused', () => {
  const refused: string[] = [];
  for (let code = 0; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    const char = String.fromCodePoint(code);
    if (!/[\p{Cf}\p{Default_Ignorable_Code_Point}]/u.test(char)) continue;
    const result = checkName(`ab${char}cd`);
    if (result.ok || (result.code !== 'invisible_character' && result.code !== 'control_character')) {
      refused.push(code.toString(16));
    }
  }
  assert.deepEqual(refused, [], 'accepted between letters');
});

test('emoji sequences that draw as one emoji, and ideographic variants, are still names', () => {
  for (const name of [
    'Ann ❤️', // U+2764 U+FE0F
    'Sam 🏳️‍🌈', // U+1F3F3 U+FE0F U+200D U+1F308
    'Dev 👩🏽‍💻', // skin tone, then U+200D
    'Ava 👩‍🦰',
    'Room 1️⃣', // keycap
    '葛󠄀城', // U+845B U+E0100: a registered ideographic variant
    'Zoë',
    'محمد',
    'Ελένη',
  ]) {
    assert.deepEqual(checkName(name), { ok: true, value: name.normalize('NFC') }, name);
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
