import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as z from 'zod';
import type { PasswordOptions } from './password.ts';
import {
  checkPassword,
  isCommonPassword,
  normalizePassword,
  passwordSchema,
  tutorialPasswordPolicy,
} from './password.ts';
import { validateSync } from './standard-schema.ts';

function refusedWith(input: unknown, code: string, options?: PasswordOptions): void {
  const result = checkPassword(input, options);
  assert.equal(result.ok, false, `${JSON.stringify(input)?.slice(0, 40)} should be refused`);
  if (!result.ok) assert.equal(result.code, code, result.message);
}

test('a long passphrase without digits or symbols is accepted: no composition rules by default', () => {
  assert.deepEqual(checkPassword('correct horse battery staple'), {
    ok: true,
    value: 'correct horse battery staple',
  });
});

test('a 64-character random password is accepted', () => {
  const password = randomBytes(48).toString('base64'); // 64 characters
  assert.equal(password.length, 64);
  assert.deepEqual(checkPassword(password), { ok: true, value: password });
});

test('seven characters are too short and eight suffice by default', () => {
  refusedWith('xk7#qPz', 'too_short');
  assert.equal(checkPassword('xk7#qPz!').ok, true);
});

test('minLength is configurable', () => {
  refusedWith('xk7#qPz!vb', 'too_short', { minLength: 12 });
  assert.equal(checkPassword('xk7#qPz!vbW2', { minLength: 12 }).ok, true);
});

test('a 2000-character password is refused as too_long so it never reaches the hash', () => {
  refusedWith('a'.repeat(2000), 'too_long');
});

test('the byte cap refuses a password of few characters but many bytes', () => {
  // 1000 code points (under maxLength 1024) of 4 UTF-8 bytes each: 4000 bytes.
  assert.equal(checkPassword('😀'.repeat(1000), { maxBytes: 4096 }).ok, true);
  refusedWith('😀'.repeat(1000), 'too_long', { maxBytes: 2048 });
});

test('a megabyte-sized input is refused as too_long', () => {
  refusedWith('x'.repeat(1_000_000), 'too_long');
});

test('length counts code points after NFKC, not UTF-16 units', () => {
  // Seven emoji are 14 UTF-16 units but 7 code points: still too short.
  refusedWith('🔑'.repeat(7), 'too_short');
  assert.equal(checkPassword('🔑'.repeat(8)).ok, true);
});

test('the password is returned NFKC-normalized, so full-width and decomposed forms hash alike', () => {
  const result = checkPassword('ｃａｆｅ\u0301-ｌａｔｔｅ-42');
  assert.deepEqual(result, { ok: true, value: 'café-latte-42' });
  assert.equal(normalizePassword('ｃａｆｅ\u0301-ｌａｔｔｅ-42'), 'café-latte-42');
});

test('common passwords are refused, whatever their case', () => {
  for (const password of [
    'password',
    'PASSWORD',
    'Password1',
    'iloveyou',
    'qwertyuiop',
    '12345678',
    'P@ssw0rd',
  ]) {
    refusedWith(password, 'common_password');
  }
});

test('a common password written in full-width letters is still refused', () => {
  refusedWith('ｐａｓｓｗｏｒｄ', 'common_password');
});

test('isCommonPassword reads the zxcvbn-ts list', () => {
  assert.equal(isCommonPassword('PassWord1'), true);
  assert.equal(isCommonPassword('trustno1'), true);
  assert.equal(isCommonPassword('zq8!vk-mountain-otter'), false);
});

test('rejectCommon: false lets a listed password through', () => {
  assert.equal(checkPassword('password', { rejectCommon: false }).ok, true);
});

test('a password containing a context word is refused (email local part, name)', () => {
  const context = ['alice.smith@example.com', 'Alice Smith'];
  refusedWith('alice1984!', 'contains_context', { context });
  refusedWith('xXSMITHXx-2024', 'contains_context', { context });
  refusedWith('AliceSmith', 'contains_context', { context });
  assert.equal(checkPassword('zq8!vk-mountain-otter', { context }).ok, true);
});

test('short context pieces and the email domain do not refuse unrelated passwords', () => {
  // "al" and "com" would match far too much; the domain is not part of the context.
  assert.equal(checkPassword('total-welcome-example', { context: ['al@example.com', 'Al'] }).ok, true);
});

test('the tutorial policy reproduces its composition regex', () => {
  assert.deepEqual(checkPassword('Tr0ub4dor&3x', tutorialPasswordPolicy), {
    ok: true,
    value: 'Tr0ub4dor&3x',
  });
  refusedWith('correct horse battery staple', 'composition', tutorialPasswordPolicy);
  refusedWith('Tr0ub4dor#3x', 'composition', tutorialPasswordPolicy); // '#' is outside its class
  refusedWith('tr0ub4dor&3x', 'composition', tutorialPasswordPolicy); // no upper-case letter
  refusedWith('P@ssw0rd', 'common_password', tutorialPasswordPolicy);
});

test('non-strings are refused as invalid_type instead of throwing', () => {
  for (const input of [undefined, null, 12345678, {}, ['password123'], Buffer.from('hunter2hunter2')]) {
    refusedWith(input, 'invalid_type');
  }
});

test('a lone surrogate is refused, since it would hash like U+FFFD', () => {
  refusedWith('abcdefgh\uD800', 'invalid_characters');
});

test('misconfigured options are a TypeError naming the field', () => {
  assert.throws(() => checkPassword('whatever-long', { maxLength: 32 }), /maxLength/);
  assert.throws(() => checkPassword('whatever-long', { minLength: 0 }), /minLength/);
  assert.throws(() => checkPassword('whatever-long', { minLength: 2000 }), /minLength/);
  assert.throws(() => checkPassword('whatever-long', { maxBytes: 100 }), /maxBytes/);
  assert.throws(
    () => checkPassword('whatever-long', { composition: { pattern: /[A-Z]/g, message: 'x' } }),
    /composition\.pattern/,
  );
  assert.throws(() => passwordSchema({ maxLength: 10 }), /maxLength/);
});

test('an explicit undefined option means the default', () => {
  assert.equal(checkPassword('xk7#qPz!', { minLength: undefined, maxLength: undefined }).ok, true);
});

test('passwordSchema reports rule codes through validate and outputs the normalized password', () => {
  const schema = z.object({ password: passwordSchema({ minLength: 10 }) });
  assert.deepEqual(validateSync(schema, { password: 'password123' }), {
    ok: false,
    errors: [
      { path: '/password', code: 'common_password', message: 'This password is too common; choose another' },
    ],
  });
  const short = validateSync(schema, { password: 'xk7#qPz!' });
  assert.ok(!short.ok);
  assert.equal(short.errors[0]?.code, 'too_short');
  assert.deepEqual(schema.parse({ password: 'ｚｑ８-mountain-otter' }), { password: 'zq8-mountain-otter' });
});
