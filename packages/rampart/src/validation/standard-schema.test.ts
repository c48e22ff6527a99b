import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as z from 'zod';
import { emailSchema } from './email.ts';
import { nameSchema } from './name.ts';
import { passwordSchema } from './password.ts';
import type { StandardSchemaV1 } from './standard-schema.ts';
import { jsonPointer, validate, validateSync } from './standard-schema.ts';

const user = z.object({
  email: z.string(),
  items: z.array(z.object({ name: z.string().min(2) })),
});

test('a valid input yields ok with the schema output', async () => {
  const schema = z.object({ n: z.coerce.number() });
  assert.deepEqual(await validate(schema, { n: '5' }), { ok: true, value: { n: 5 } });
  assert.deepEqual(validateSync(schema, { n: '5' }), { ok: true, value: { n: 5 } });
});

test('issue paths become JSON Pointers: /email, /items/0/name, and the root is empty', async () => {
  const result = await validate(user, { email: 3, items: [{ name: 'x' }] });
  assert.ok(!result.ok);
  assert.deepEqual(
    result.errors.map((e) => [e.path, e.code]),
    [
      ['/email', 'invalid_type'],
      ['/items/0/name', 'too_small'],
    ],
  );
  const root = await validate(z.string(), 42);
  assert.ok(!root.ok);
  assert.equal(root.errors[0]?.path, '');
});

test('~ and / in keys are escaped per RFC 6901, ~ first', async () => {
  const schema = z.object({ 'a/b': z.string(), 'c~d': z.string(), '~1': z.string() });
  const result = await validate(schema, {});
  assert.ok(!result.ok);
  assert.deepEqual(result.errors.map((e) => e.path).sort(), ['/a~1b', '/c~0d', '/~01']);
  assert.equal(jsonPointer(['items', 0, { key: 'x/y' }]), '/items/0/x~1y');
  assert.equal(jsonPointer(undefined), '');
});

test("zod's own codes are kept (unrecognized_keys, invalid_type, too_small)", () => {
  const result = validateSync(z.strictObject({ a: z.string() }), { a: 'x', extra: 1 });
  assert.ok(!result.ok);
  assert.deepEqual(
    result.errors.map((e) => [e.path, e.code]),
    [['', 'unrecognized_keys']],
  );
});

test("a custom zod issue keeps its author's params.code, but never the author's message", () => {
  const schema = z.string().superRefine((value, ctx) => {
    ctx.addIssue({ code: 'custom', message: `no: ${value}`, params: { code: 'not_allowed' }, input: value });
  });
  assert.deepEqual(validateSync(schema, 'hunter2'), {
    ok: false,
    errors: [{ path: '', code: 'not_allowed', message: 'The value is not valid' }],
  });
  const plain = validateSync(
    z.string().refine(() => false, 'nope'),
    'x',
  );
  assert.deepEqual(plain, {
    ok: false,
    errors: [{ path: '', code: 'custom', message: 'The value is not valid' }],
  });
});

test('an author code that is not a snake_case identifier is not passed through either', () => {
  const schema = z.string().superRefine((value, ctx) => {
    ctx.addIssue({ code: 'custom', message: 'x', params: { code: `Got ${value}` }, input: value });
  });
  assert.deepEqual(validateSync(schema, 'hunter2'), {
    ok: false,
    errors: [{ path: '', code: 'custom', message: 'The value is not valid' }],
  });
});

test("Rampart's own rules keep their codes and messages through validate", () => {
  const schema = z.object({ email: emailSchema, password: passwordSchema(), name: nameSchema });
  assert.deepEqual(validateSync(schema, { email: 'nope', password: 'short', name: 'A' }), {
    ok: false,
    errors: [
      { path: '/email', code: 'invalid_email', message: 'The email address must contain @' },
      { path: '/password', code: 'too_short', message: 'The password must be at least 8 characters' },
      { path: '/name', code: 'too_short', message: 'The name must be at least 2 characters' },
    ],
  });
});

test("a params.code and message copied from a rule's issue, without the mark, are not trusted", () => {
  const schema = z.string().superRefine((value, ctx) => {
    ctx.addIssue({
      code: 'custom',
      message: `The name ${value}`,
      params: { code: 'too_short' },
      input: value,
    });
  });
  const result = validateSync(schema, 'hunter2');
  assert.deepEqual(result, {
    ok: false,
    errors: [{ path: '', code: 'too_short', message: 'The value is not valid' }],
  });
});

test('works with a non-zod Standard Schema: its message is replaced and the code is "invalid"', async () => {
  const even: StandardSchemaV1<unknown, number> = {
    '~standard': {
      version: 1,
      vendor: 'hand-made',
      validate: (value) =>
        typeof value === 'number' && value % 2 === 0
          ? { value }
          : { issues: [{ message: 'must be even', path: [{ key: 'n' }, 'a~b'] }] },
    },
  };
  assert.deepEqual(await validate(even, 4), { ok: true, value: 4 });
  assert.deepEqual(await validate(even, 3), {
    ok: false,
    errors: [{ path: '/n/a~0b', code: 'invalid', message: 'The value is not valid' }],
  });
});

test('validate awaits an asynchronous schema', async () => {
  const schema = z.string().refine(async (value) => value === 'yes', 'say yes');
  assert.deepEqual(await validate(schema, 'yes'), { ok: true, value: 'yes' });
  const result = await validate(schema, 'no');
  assert.ok(!result.ok);
  assert.deepEqual(result.errors, [{ path: '', code: 'custom', message: 'The value is not valid' }]);
});

test('validateSync throws a TypeError for a schema that validates asynchronously', () => {
  const schema = z.string().refine(async () => true);
  assert.throws(() => validateSync(schema, 'x'), { name: 'TypeError', message: /asynchronously/ });
});

test('validateSync does not leave an unhandled rejection behind', async () => {
  let unhandled = false;
  const onUnhandled = (): void => {
    unhandled = true;
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const rejecting: StandardSchemaV1 = {
      '~standard': { version: 1, vendor: 'test', validate: () => Promise.reject(new Error('boom')) },
    };
    assert.throws(() => validateSync(rejecting, 'x'), TypeError);
    // Let the rejection settle: unhandled rejections are reported after the microtask queue drains.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(unhandled, false);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('an object that is not a Standard Schema is a TypeError, not a silent pass', async () => {
  await assert.rejects(validate({} as StandardSchemaV1, 'x'), TypeError);
  assert.throws(() => validateSync(null as unknown as StandardSchemaV1, 'x'), TypeError);
  const v2 = { '~standard': { version: 2, vendor: 'x', validate: () => ({ value: 1 }) } };
  assert.throws(() => validateSync(v2 as unknown as StandardSchemaV1, 'x'), TypeError);
});

test('an invalid input is a value, never a rejected promise', async () => {
  const result = await validate(user, 'not an object');
  assert.equal(result.ok, false);
});
