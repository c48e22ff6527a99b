import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type } from 'arktype';
import * as v from 'valibot';
import * as z from 'zod';
import { ISSUE_WORDING, issueKind } from './issue-wording.ts';
import type { StandardSchemaV1 } from './standard-schema.ts';
import { validate } from './standard-schema.ts';

// What a client might submit that must never come back: a password, a number, an email.
const PASSWORD = 'hunter2-Qx7!zv';
const NUMBER = 987654321;
const EMAIL = 'victim.7731@example.org';

/** The attacker's body: every field wrong, each one carrying a secret-like value. */
const BODY = {
  password: PASSWORD, // too short and without a digit-free pattern match
  email: `${EMAIL}@`, // not an email
  pin: String(NUMBER), // a string where a number belongs
  age: NUMBER, // above the maximum
  role: PASSWORD, // not one of the allowed values
  step: NUMBER + 0.5, // not an integer / not a multiple
  tags: ['ok', PASSWORD], // array index 1 too long
  nested: { deep: { secret: EMAIL } }, // a string where a number belongs, three levels down
  isAdmin: PASSWORD, // an unknown key holding a secret value
};

/** Every way a submitted value could be echoed: the value, its JSON, its pieces. */
function assertNoEcho(errors: unknown, library: string): void {
  const text = JSON.stringify(errors);
  for (const secret of [PASSWORD, EMAIL, String(NUMBER), 'hunter2', 'victim', '98765']) {
    assert.ok(!text.includes(secret), `${library} echoed ${JSON.stringify(secret)}: ${text}`);
  }
}

function codesOf(errors: Array<{ path: string; code: string }>): string[] {
  return errors.map((e) => `${e.path}:${e.code}`).sort();
}

/** The same problems, as each library points at them. */
const EXPECTED = [
  '/age:too_big',
  '/email:invalid_format',
  '/nested/deep/secret:invalid_type',
  '/password:invalid_format',
  '/password:too_small',
  '/pin:invalid_type',
  '/role:invalid_value',
  '/step:not_multiple_of',
  '/tags/1:too_big',
];

const ZOD = z.strictObject({
  password: z
    .string()
    .min(20)
    .regex(/^[a-z]+$/),
  email: z.email(),
  pin: z.number(),
  age: z.number().int().max(120),
  role: z.enum(['user', 'admin']),
  step: z.number().multipleOf(2),
  tags: z.array(z.string().max(3)),
  nested: z.object({ deep: z.object({ secret: z.number() }) }),
});

const VALIBOT = v.strictObject({
  password: v.pipe(v.string(), v.minLength(20), v.regex(/^[a-z]+$/)),
  email: v.pipe(v.string(), v.email()),
  pin: v.number(),
  age: v.pipe(v.number(), v.integer(), v.maxValue(120)),
  role: v.picklist(['user', 'admin']),
  step: v.pipe(v.number(), v.multipleOf(2)),
  tags: v.array(v.pipe(v.string(), v.maxLength(3))),
  nested: v.object({ deep: v.object({ secret: v.number() }) }),
});

const ARKTYPE = type({
  '+': 'reject',
  password: type('string >= 20').and(/^[a-z]+$/),
  email: 'string.email',
  pin: 'number',
  age: 'number.integer <= 120',
  role: "'user' | 'admin'",
  step: 'number % 2',
  tags: 'string <= 3 []',
  nested: { deep: { secret: 'number' } },
});

test('Zod: no submitted value appears in the errors, and the codes are the kinds', async () => {
  const result = await validate(ZOD, BODY);
  assert.ok(!result.ok);
  assertNoEcho(result.errors, 'zod');
  assert.deepEqual(codesOf(result.errors), [...EXPECTED, ':unrecognized_keys'].sort());
});

test('Valibot: no submitted value appears in the errors (its messages quote the input)', async () => {
  // The attack, shown: Valibot's own message carries the password.
  const raw = await VALIBOT['~standard'].validate(BODY);
  assert.ok(raw.issues?.some((issue) => issue.message.includes(PASSWORD)));

  const result = await validate(VALIBOT, BODY);
  assert.ok(!result.ok);
  assertNoEcho(result.errors, 'valibot');
  // Like Zod, the error points at the object, not at the key the client made up.
  assert.deepEqual(codesOf(result.errors), [...EXPECTED, ':unrecognized_keys'].sort());
});

test('ArkType: no submitted value appears in the errors (its messages quote the input)', async () => {
  const raw = await ARKTYPE['~standard'].validate(BODY);
  assert.ok('issues' in raw && raw.issues?.some((issue) => issue.message.includes(PASSWORD)));

  const result = await validate(ARKTYPE, BODY);
  assert.ok(!result.ok);
  assertNoEcho(result.errors, 'arktype');
  // Like Zod, the error points at the object, not at the key the client made up.
  assert.deepEqual(codesOf(result.errors), [...EXPECTED, ':unrecognized_keys'].sort());
});

test('every message is one of ours, word for word, whatever the library', async () => {
  const ours = new Set(Object.values(ISSUE_WORDING).map((w) => w.message));
  for (const schema of [ZOD, VALIBOT, ARKTYPE] as StandardSchemaV1[]) {
    const result = await validate(schema, BODY);
    assert.ok(!result.ok);
    for (const error of result.errors) assert.ok(ours.has(error.message), error.message);
  }
});

test('more kinds, one value each, through all three libraries: nothing echoed', async () => {
  const secret = PASSWORD;
  const cases: Array<[string, StandardSchemaV1, unknown]> = [
    ['zod literal', z.literal('x'), secret],
    ['zod union', z.union([z.number(), z.boolean()]), secret],
    ['zod url', z.url(), secret],
    ['zod uuid', z.uuid(), secret],
    ['zod length', z.string().length(3), secret],
    ['zod record key', z.record(z.enum(['a']), z.string()), { a: 'x', [secret]: secret }],
    ['zod tuple', z.tuple([z.string()]), [secret, secret]],
    ['zod date', z.iso.datetime(), secret],
    ['zod min value', z.number().min(NUMBER + 1), NUMBER],
    ['zod array element', z.array(z.number()), [secret]],
    ['valibot literal', v.literal('x'), secret],
    ['valibot union', v.union([v.number(), v.boolean()]), secret],
    ['valibot url', v.pipe(v.string(), v.url()), secret],
    ['valibot uuid', v.pipe(v.string(), v.uuid()), secret],
    ['valibot length', v.pipe(v.string(), v.length(3)), secret],
    ['valibot record key', v.record(v.picklist(['a']), v.string()), { a: 'x', [secret]: secret }],
    ['valibot strict tuple', v.strictTuple([v.string()]), [secret, secret]],
    ['valibot iso date', v.pipe(v.string(), v.isoDateTime()), secret],
    ['valibot min value', v.pipe(v.number(), v.minValue(NUMBER + 1)), NUMBER],
    [
      'valibot check',
      v.pipe(
        v.string(),
        v.check(() => false),
      ),
      secret,
    ],
    ['valibot transform', v.pipe(v.string(), v.transform(Number), v.number()), secret],
    ['arktype literal', type("'x'"), secret],
    ['arktype union', type('number | boolean'), secret],
    ['arktype length', type('string == 3'), secret],
    ['arktype date', type('Date'), secret],
    ['arktype min value', type(`number > ${NUMBER}`), NUMBER],
    ['arktype narrow', type('string').narrow(() => false), secret],
    ['arktype parse', type('string.numeric.parse'), secret],
    ['arktype tuple', type(['string']), [secret, secret]],
  ];
  for (const [name, schema, input] of cases) {
    const result = await validate(schema, input);
    assert.ok(!result.ok, `${name} should refuse`);
    assertNoEcho(result.errors, name);
    assert.ok(result.errors.length > 0, name);
  }
});

test('an enum value the client guessed at is not listed back, nor the allowed ones', async () => {
  for (const schema of [z.enum(['user', 'admin']), v.picklist(['user', 'admin']), type("'user' | 'admin'")]) {
    const result = await validate(schema as StandardSchemaV1, 'root');
    assert.ok(!result.ok);
    assert.deepEqual(result.errors, [
      { path: '', code: 'invalid_value', message: 'The value is not one of the allowed values' },
    ]);
  }
});

test('a library we do not know gets the generic wording, whatever its issue says', async () => {
  const foreign: StandardSchemaV1 = {
    '~standard': {
      version: 1,
      vendor: 'some-new-library',
      validate: (value) => ({
        issues: [{ message: `expected a short string, received ${JSON.stringify(value)}`, path: ['a'] }],
      }),
    },
  };
  assert.deepEqual(await validate(foreign, PASSWORD), {
    ok: false,
    errors: [{ path: '/a', code: 'invalid', message: 'The value is not valid' }],
  });
});

test('issueKind classifies by the names each library gives, and unknown names are invalid', () => {
  const issue = (fields: Record<string, unknown>) => ({ message: 'm', ...fields });
  assert.equal(issueKind('zod', issue({ code: 'too_small', origin: 'string' })), 'too_short');
  assert.equal(issueKind('zod', issue({ code: 'too_small', origin: 'number' })), 'too_small');
  assert.equal(issueKind('zod', issue({ code: 'invalid_format', format: 'email' })), 'email');
  assert.equal(issueKind('zod', issue({ code: 'invalid_string', validation: 'email' })), 'email');
  assert.equal(issueKind('zod', issue({ code: 'invalid_enum_value' })), 'value');
  assert.equal(issueKind('zod', issue({ code: 'something_new' })), 'invalid');
  assert.equal(issueKind('valibot', issue({ kind: 'validation', type: 'min_length' })), 'too_short');
  assert.equal(issueKind('valibot', issue({ kind: 'validation', type: 'rfc_email' })), 'email');
  assert.equal(issueKind('valibot', issue({ kind: 'schema', type: 'string' })), 'type');
  assert.equal(issueKind('valibot', issue({ kind: 'validation', type: 'brand_new' })), 'invalid');
  assert.equal(issueKind('valibot', issue({ kind: 'transformation', type: 'to_number' })), 'invalid');
  assert.equal(issueKind('arktype', issue({ code: 'minLength' })), 'too_short');
  assert.equal(issueKind('arktype', issue({ code: 'predicate', expected: 'removed' })), 'unknown_keys');
  assert.equal(issueKind('arktype', issue({ code: 'morph' })), 'invalid');
  assert.equal(issueKind('', issue({ code: 'too_small' })), 'invalid');
});

test('keys the client made up are not echoed: one error points at their object', async () => {
  const input = { o: { a: 'x', [PASSWORD]: 1, [EMAIL]: 2 } };
  const strict = [
    z.object({ o: z.strictObject({ a: z.string() }) }),
    v.object({ o: v.strictObject({ a: v.string() }) }),
    type({ o: { '+': 'reject', a: 'string' } }),
  ] as StandardSchemaV1[];
  for (const schema of strict) {
    assert.deepEqual(await validate(schema, input), {
      ok: false,
      errors: [
        { path: '/o', code: 'unrecognized_keys', message: 'The object has properties that are not allowed' },
      ],
    });
  }
  const record = await validate(v.object({ o: v.record(v.picklist(['a']), v.string()) }), {
    o: { [PASSWORD]: 'x' },
  });
  assert.deepEqual(record, {
    ok: false,
    errors: [{ path: '/o', code: 'invalid_key', message: 'The object has a key that is not valid' }],
  });
});

test('ArkType: several failed constraints of one value are reported one by one', async () => {
  const result = await validate(type('string >= 20').and(/^[a-z]+$/), PASSWORD);
  assert.ok(!result.ok);
  assertNoEcho(result.errors, 'arktype');
  assert.deepEqual(codesOf(result.errors), [':invalid_format', ':too_small']);
});
