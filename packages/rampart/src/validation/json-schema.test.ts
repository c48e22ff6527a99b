import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { jsonSchema } from './json-schema.ts';
import { validate } from './standard-schema.ts';

const ajv = new Ajv({ allErrors: true, strict: true });
const order = jsonSchema(
  ajv.compile({
    type: 'object',
    additionalProperties: false,
    required: ['sku', 'quantity'],
    properties: {
      sku: { type: 'string', pattern: '^[A-Z]{3}-\\d+$' },
      quantity: { type: 'integer', minimum: 1, maximum: 10 },
      note: { type: 'string', maxLength: 5 },
    },
  }),
);

test('a valid body passes unchanged', async () => {
  assert.deepEqual(await validate(order, { sku: 'ABC-1', quantity: 2 }), {
    ok: true,
    value: { sku: 'ABC-1', quantity: 2 },
  });
});

test("a JSON Schema's failures are field errors in Rampart's words: JSON Pointer paths, no value echoed", async () => {
  const result = await validate(order, { quantity: 11, note: 'hunter2-secret', extra: 'hunter2' });
  assert.equal(result.ok, false);
  const errors = !result.ok ? result.errors : [];
  assert.deepEqual(
    errors.map((e) => [e.path, e.code]),
    [
      ['/sku', 'invalid_type'],
      ['', 'unrecognized_keys'],
      ['/quantity', 'too_big'],
      ['/note', 'too_big'],
    ],
  );
  assert.doesNotMatch(JSON.stringify(errors), /hunter2|extra/);
});
