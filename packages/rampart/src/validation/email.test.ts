import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as z from 'zod';
import { checkEmail, emailKey, emailSchema } from './email.ts';
import { validateSync } from './standard-schema.ts';

function refusedWith(input: unknown, code: string, options?: Parameters<typeof checkEmail>[1]): void {
  const result = checkEmail(input, options);
  assert.equal(result.ok, false, `${JSON.stringify(input)} should be refused`);
  if (!result.ok) assert.equal(result.code, code, `${JSON.stringify(input)}: ${result.message}`);
}

test('a plain address is accepted unchanged', () => {
  assert.deepEqual(checkEmail('alice@example.com'), { ok: true, value: 'alice@example.com' });
});

test('the domain is lower-cased while the local part keeps its case', () => {
  assert.deepEqual(checkEmail('Alice.Smith@Example.COM'), { ok: true, value: 'Alice.Smith@example.com' });
});

test('an IDN domain is stored in its ASCII (Punycode) form', () => {
  assert.deepEqual(checkEmail('user@bücher.example'), { ok: true, value: 'user@xn--bcher-kva.example' });
  assert.deepEqual(checkEmail('user@ＥＸＡＭＰＬＥ.com'), { ok: true, value: 'user@example.com' });
});

test('the local part is not Gmail-canonicalized by default', () => {
  assert.deepEqual(checkEmail('A.B+news@gmail.com'), { ok: true, value: 'A.B+news@gmail.com' });
});

test('canonicalize gmail folds dots, +tags, case and googlemail.com into one inbox', () => {
  assert.deepEqual(checkEmail('A.B+news@GoogleMail.com', { canonicalize: 'gmail' }), {
    ok: true,
    value: 'ab@gmail.com',
  });
  // Other providers keep their local part: dots and + may be significant there.
  assert.deepEqual(checkEmail('A.B+news@example.com', { canonicalize: 'gmail' }), {
    ok: true,
    value: 'A.B+news@example.com',
  });
  refusedWith('+news@gmail.com', 'invalid_email', { canonicalize: 'gmail' });
});

test('an unknown canonicalize option is a TypeError naming the field', () => {
  assert.throws(() => checkEmail('a@example.com', { canonicalize: 'outlook' as 'gmail' }), /canonicalize/);
});

test('a local part of 64 octets passes and one of 65 is too long (RFC 5321 §4.5.3.1.1)', () => {
  assert.equal(checkEmail(`${'a'.repeat(64)}@example.com`).ok, true);
  refusedWith(`${'a'.repeat(65)}@example.com`, 'too_long');
});

test('a domain over 255 octets and an address over 254 are too long', () => {
  const label = 'a'.repeat(63);
  const domainOver255 = `${label}.${label}.${label}.${label}.com`; // 4×63 + 4 dots + 3 = 259
  refusedWith(`a@${domainOver255}`, 'too_long');
  // 64 + 1 + 190 = 255 characters: each part within its own limit, the whole over 254.
  const domain190 = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com`;
  assert.equal(domain190.length, 190);
  refusedWith(`${'a'.repeat(64)}@${domain190}`, 'too_long');
  assert.equal(checkEmail(`${'a'.repeat(63)}@${domain190}`).ok, true);
});

test('a domain label over 63 octets is refused', () => {
  refusedWith(`a@${'b'.repeat(64)}.com`, 'invalid_domain');
  assert.equal(checkEmail(`a@${'b'.repeat(63)}.com`).ok, true);
});

test('a single-label domain is refused (a@b)', () => {
  refusedWith('a@b', 'invalid_domain');
  refusedWith('root@localhost', 'invalid_domain');
});

test('IP-literal and numeric domains are refused so no address names an internal host', () => {
  refusedWith('user@[127.0.0.1]', 'invalid_domain');
  refusedWith('user@[IPv6:::1]', 'invalid_domain');
  refusedWith('user@127.0.0.1', 'invalid_domain');
  // WHATWG host parsing would turn these into 127.0.0.1 and 1.2.0.3.
  refusedWith('user@0x7f.1', 'invalid_domain');
  refusedWith('user@1.2.3', 'invalid_domain');
});

test('labels starting or ending with a hyphen, empty labels and a trailing dot are refused', () => {
  for (const address of ['a@-x.com', 'a@x-.com', 'a@x..com', 'a@.x.com', 'a@x.com.', 'a@x.-com']) {
    refusedWith(address, 'invalid_domain');
  }
});

test('characters the URL host parser would rewrite are refused, not silently rewritten', () => {
  // Percent-decoding, truncation at a slash, and invisible characters dropped by IDNA mapping.
  for (const address of [
    'a@ex%41.com',
    'a@exa/mple.com',
    'a@ex\u00ADample.com',
    'a@ex\u200Bample.com',
    'a@ex_ample.com',
  ]) {
    refusedWith(address, 'invalid_domain');
  }
});

test('quoted local parts are refused with a message that says so', () => {
  const result = checkEmail('"john doe"@example.com');
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.code, 'invalid_email');
    assert.match(result.message, /Quoted/);
  }
  refusedWith('"john"@example.com', 'invalid_email');
});

test('whitespace and control characters anywhere are refused (header and log injection)', () => {
  for (const address of [
    ' a@example.com',
    'a@example.com ',
    'a b@example.com',
    'a@example.com\r\nBcc: victim@example.com',
    'a\u0000@example.com',
    'a\u0085@example.com',
    'a@example.com\u2028',
    'a\u00A0b@example.com',
  ]) {
    refusedWith(address, 'invalid_email');
  }
});

test('malformed dot-atoms and a missing part are refused', () => {
  for (const address of [
    'plainaddress',
    '@example.com',
    'a..b@example.com',
    '.a@example.com',
    'a.@example.com',
    'a@b@example.com',
    'a(comment)@example.com',
    'a,b@example.com',
  ]) {
    refusedWith(address, 'invalid_email');
  }
  refusedWith('a@', 'invalid_domain');
});

test('non-ASCII local parts (SMTPUTF8) are refused', () => {
  refusedWith('jösé@example.com', 'invalid_email');
});

test('every RFC 5322 atext special is accepted in the local part', () => {
  const local = "!#$%&'*+/=?^_`{|}~-";
  assert.deepEqual(checkEmail(`${local}@example.com`), { ok: true, value: `${local}@example.com` });
});

test('non-strings are refused as invalid_type instead of throwing', () => {
  for (const input of [undefined, null, 42, {}, ['a@example.com'], { toString: () => 'a@example.com' }]) {
    refusedWith(input, 'invalid_type');
  }
});

test('a huge input is refused as too_long before any parsing', () => {
  refusedWith(`${'a'.repeat(100_000)}@example.com`, 'too_long');
});

test('emailKey makes addresses unique regardless of case', () => {
  const first = checkEmail('Alice@Example.com');
  const second = checkEmail('aLiCe@EXAMPLE.COM');
  assert.ok(first.ok && second.ok);
  assert.notEqual(first.value, second.value);
  assert.equal(emailKey(first.value), emailKey(second.value));
  assert.equal(emailKey('Alice@example.com'), 'alice@example.com');
});

test('emailSchema outputs the normalized address and reports the rule code through validate', () => {
  const schema = z.object({ email: emailSchema });
  assert.deepEqual(schema.parse({ email: 'Ann@Bücher.Example' }), { email: 'Ann@xn--bcher-kva.example' });
  assert.deepEqual(validateSync(schema, { email: 'a@b' }), {
    ok: false,
    errors: [{ path: '/email', code: 'invalid_domain', message: 'The domain must contain a dot' }],
  });
  const wrongType = validateSync(schema, { email: 7 });
  assert.ok(!wrongType.ok);
  assert.equal(wrongType.errors[0]?.code, 'invalid_type');
});
