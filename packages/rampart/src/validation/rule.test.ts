import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as z from 'zod';
import { emailSchema } from './email.ts';
import { nameSchema } from './name.ts';
import { passwordSchema } from './password.ts';
import { richTextSchema } from './rich-text.ts';
import { assertLimit, ruleSchema } from './rule.ts';
import { RULE_ISSUE } from './rule-issue.ts';

test('a rule schema outputs the cleaned value and refuses non-strings with invalid_type', () => {
  const trimmed = ruleSchema((input) =>
    input.trim() === '' ? { ok: false, code: 'empty', message: 'empty' } : { ok: true, value: input.trim() },
  );
  assert.equal(trimmed.parse('  x '), 'x');
  const refused = trimmed.safeParse('   ');
  assert.ok(!refused.success);
  assert.deepEqual(
    refused.error.issues.map((i) => [i.code, (i as { params?: { code?: unknown } }).params?.code]),
    [['custom', 'empty']],
  );
  // The mark validate() trusts: the rule's own code and message, nothing of the input.
  const params = (refused.error.issues[0] as { params?: Record<PropertyKey, unknown> }).params;
  assert.deepEqual(params?.[RULE_ISSUE], { code: 'empty', message: 'empty' });
  const wrongType = trimmed.safeParse(1);
  assert.ok(!wrongType.success);
  assert.equal(wrongType.error.issues[0]?.code, 'invalid_type');
});

test('the rule schemas still render as JSON Schema for OpenAPI (input side)', () => {
  const body = z.object({
    email: emailSchema,
    password: passwordSchema(),
    name: nameSchema,
    bio: richTextSchema.optional(),
  });
  const schema = z.toJSONSchema(body, { io: 'input' });
  assert.deepEqual(schema.properties, {
    email: { type: 'string' },
    password: { type: 'string' },
    name: { type: 'string' },
    bio: { type: 'string' },
  });
  assert.deepEqual(schema.required, ['email', 'password', 'name']);
});

test('assertLimit names the field of a bad option', () => {
  assert.equal(assertLimit('max', 5, 1, 10), 5);
  for (const bad of [0, 11, 1.5, Number.NaN, '5', undefined]) {
    assert.throws(() => assertLimit('max', bad, 1, 10), { name: 'TypeError', message: /^max:/ });
  }
});
