import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RampartError } from '../errors.ts';
import { parseJsonBody } from './json-body.ts';

const enc = (s: string) => new TextEncoder().encode(s);
function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof RampartError ? error.code : 'OTHER';
  }
  return undefined;
}

test('ordinary JSON parses', () => {
  assert.deepEqual(parseJsonBody(enc('{"a":[1,{"b":"c\\"}"}]}')), { a: [1, { b: 'c"}' }] });
});

test('a 6,000-deep array is refused before parsing', () => {
  assert.equal(
    code(() => parseJsonBody(enc('['.repeat(6000) + ']'.repeat(6000)))),
    'JSON_TOO_DEEP',
  );
  assert.equal(
    code(() => parseJsonBody(enc('{"a":'.repeat(33) + '1' + '}'.repeat(33)))),
    'JSON_TOO_DEEP',
  );
  assert.equal(
    code(() => parseJsonBody(enc('{"a":'.repeat(32) + '1' + '}'.repeat(32)))),
    undefined,
  );
});

test('brackets inside strings do not count as depth', () => {
  assert.deepEqual(parseJsonBody(enc(JSON.stringify({ s: '['.repeat(100) }))), { s: '['.repeat(100) });
});

test('__proto__ keys are refused, escaped spellings included', () => {
  assert.equal(
    code(() => parseJsonBody(enc('{"__proto__":{"admin":true}}'))),
    'FORBIDDEN_PROPERTY',
  );
  assert.equal(
    code(() => parseJsonBody(enc('{"a":{"\\u005f\\u005fproto\\u005f\\u005f":{"admin":true}}}'))),
    'FORBIDDEN_PROPERTY',
  );
  assert.equal(
    code(() => parseJsonBody(enc('{"\\u005F_proto__":1}'))),
    'FORBIDDEN_PROPERTY',
  );
});

test('constructor.prototype is refused, a plain "constructor" field is not', () => {
  assert.equal(
    code(() => parseJsonBody(enc('{"constructor":{"prototype":{"x":1}}}'))),
    'FORBIDDEN_PROPERTY',
  );
  assert.equal(
    code(() => parseJsonBody(enc('{"c\\u006fnstructor":{"prototype":{}}}'))),
    'FORBIDDEN_PROPERTY',
  );
  assert.deepEqual(parseJsonBody(enc('{"constructor":"Ada"}')), { constructor: 'Ada' });
});

test('malformed JSON and invalid UTF-8 are refused with their own codes', () => {
  assert.equal(
    code(() => parseJsonBody(enc('{"a":'))),
    'MALFORMED_JSON',
  );
  assert.equal(
    code(() => parseJsonBody(enc(''))),
    'MALFORMED_JSON',
  );
  assert.equal(
    code(() => parseJsonBody(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))),
    'INVALID_ENCODING',
  );
  assert.equal(
    code(() => parseJsonBody(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]))),
    'INVALID_ENCODING',
  );
});
