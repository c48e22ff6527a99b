import assert from 'node:assert/strict';
import { test } from 'node:test';
import { charsetOf, MAX_CONTENT_TYPE_LENGTH, mediaTypeOf } from './content-type.ts';

test('the media type is lower-cased and stripped of its parameters', () => {
  assert.equal(mediaTypeOf('application/json'), 'application/json');
  assert.equal(mediaTypeOf(' Application/JSON ; charset=utf-8'), 'application/json');
  assert.equal(mediaTypeOf(undefined), '');
  assert.equal(mediaTypeOf(''), '');
});

test('the charset is read whether bare or quoted, in any case, among other parameters', () => {
  assert.equal(charsetOf('application/json'), undefined);
  assert.equal(charsetOf(undefined), undefined);
  assert.equal(charsetOf('application/json;charset=utf-8'), 'utf-8');
  assert.equal(charsetOf('application/json; charset=UTF-8'), 'utf-8');
  assert.equal(charsetOf('application/json; Charset="utf-8"'), 'utf-8');
  assert.equal(charsetOf('application/json; a=1; charset=utf-16le ; b="x;y"'), 'utf-16le');
  assert.equal(charsetOf('application/json;'), undefined);
  assert.equal(charsetOf('application/json; ;charset=latin1;'), 'latin1');
  assert.equal(charsetOf('application/json; charset="utf\\-8"'), 'utf-8');
});

test("a charset hidden inside another parameter's quoted value is not the charset", () => {
  // A regex looking for `;\s*charset=` anywhere reads utf-16 here; the body is whatever the
  // real parameters say (none: UTF-8).
  assert.equal(charsetOf('application/json; x="; charset=utf-16"'), undefined);
  assert.equal(charsetOf('application/json; x="a\\"; charset=utf-16"'), undefined);
});

test('parameters that do not parse, or two charsets, answer null: which one would be true?', () => {
  for (const contentType of [
    'application/json; charset=utf-8; charset=utf-16',
    'application/json; charset',
    'application/json; charset = utf-8', // RFC 9110 §5.6.6: no whitespace around "="
    'application/json; charset=',
    'application/json; charset="utf-8',
    'application/json; charset="utf-8"x',
    'application/json; =utf-8',
    'application/json; charset=utf 8',
    'application/json; charset="a\u0000"',
    'application/json; x="\\',
  ]) {
    assert.equal(charsetOf(contentType), null, contentType);
  }
});

test(`a Content-Type longer than ${MAX_CONTENT_TYPE_LENGTH} characters is not read at all`, () => {
  const long = `application/json; charset=utf-8; x=${'a'.repeat(MAX_CONTENT_TYPE_LENGTH)}`;
  assert.equal(charsetOf(long), null);
  assert.equal(mediaTypeOf(long), '');
});
