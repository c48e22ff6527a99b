import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { bearerToken, hasCredentialInQuery, MAX_AUTHORIZATION_LENGTH } from './credential-syntax.ts';

// The regular expressions these functions replace (policy/credentials.ts), kept to prove the
// hand-written scanners answer alike wherever the old ones were right.
const OLD_BEARER = /^Bearer +([\x21-\x7e]+)$/i;
const OLD_QUERY_CREDENTIAL = /(?:^|&)(?:access_token|token|api_key|apikey|api-key|key|x-api-key)=/i;

test('a Bearer token is the one run of visible ASCII after the scheme and its spaces', () => {
  assert.equal(bearerToken('Bearer abc.def-ghi'), 'abc.def-ghi');
  assert.equal(bearerToken('bearer   abc'), 'abc');
  assert.equal(bearerToken('  BEARER abc  '), 'abc');
  for (const header of [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Bearerabc',
    'Basic abc',
    'Bearer a b',
    'Bearer\tabc',
  ]) {
    assert.equal(bearerToken(header), undefined, JSON.stringify(header));
  }
  assert.equal(bearerToken('Bearer ab\u00e9'), undefined);
  assert.equal(bearerToken('Bearer ab\u0000'), undefined);
});

test('bearerToken answers as the old regex did, on any header made of the characters that matter', () => {
  const char = fc.constantFrom(
    'B',
    'b',
    'E',
    'e',
    'a',
    'R',
    'r',
    ' ',
    '\t',
    '\n',
    'x',
    '=',
    '.',
    '\u00a0',
    'é',
    '\u212a',
  );
  fc.assert(
    fc.property(fc.array(char, { maxLength: 16 }), fc.boolean(), (chars, prefixed) => {
      const header = (prefixed ? 'Bearer ' : '') + chars.join('');
      assert.equal(bearerToken(header), OLD_BEARER.exec(header.trim())?.[1]);
    }),
    { numRuns: 3000 },
  );
});

test(`an Authorization header longer than ${MAX_AUTHORIZATION_LENGTH} characters is not read`, () => {
  assert.equal(bearerToken(`Bearer ${'a'.repeat(MAX_AUTHORIZATION_LENGTH)}`), undefined);
  const longest = `Bearer ${'a'.repeat(MAX_AUTHORIZATION_LENGTH - 7)}`;
  assert.equal(bearerToken(longest)?.length, MAX_AUTHORIZATION_LENGTH - 7);
});

test('a credential in the query string is found by name, in any case, with any value', () => {
  for (const query of [
    'access_token=x',
    'page=1&token=',
    'API_KEY=rk_live_x',
    'a=1&apikey=k&b=2',
    'api-key=k',
    'key=k',
    'X-Api-Key=k',
  ]) {
    assert.equal(hasCredentialInQuery(query), true, query);
  }
  for (const query of [
    undefined,
    '',
    'keyword=x',
    'monkey=x',
    'token',
    'tokens=1',
    'a=token=1',
    'x_token=1',
    'page=2',
  ]) {
    assert.equal(hasCredentialInQuery(query), false, JSON.stringify(query));
  }
});

test('a percent-encoded credential name is refused too: the frameworks decode it into access_token', () => {
  assert.equal(hasCredentialInQuery('ac%63ess_token=eyJ'), true);
  assert.equal(hasCredentialInQuery('%61%70%69%5f%6b%65%79=x'), true);
  assert.equal(hasCredentialInQuery('%6B%65%79=x'), true);
  // Undecodable text is compared as it stands, and is no credential name.
  assert.equal(hasCredentialInQuery('%E0%A4%A=x&page=1'), false);
  // A Kelvin sign is not a K to any query parser.
  assert.equal(hasCredentialInQuery('\u212aey=x'), false);
});

test('hasCredentialInQuery answers as the old regex did on queries without percent-escapes', () => {
  const char = fc.constantFrom(
    'a',
    'k',
    'e',
    'y',
    'K',
    'E',
    'Y',
    't',
    'o',
    'n',
    '_',
    '-',
    '=',
    '&',
    'x',
    'p',
    'i',
    'c',
    's',
  );
  fc.assert(
    fc.property(
      fc.array(char, { maxLength: 24 }),
      fc.constantFrom('', 'key=', 'token=', '&key', 'x-api-key='),
      (chars, seed) => {
        const query = seed + chars.join('');
        assert.equal(hasCredentialInQuery(query), OLD_QUERY_CREDENTIAL.test(query), query);
      },
    ),
    { numRuns: 3000 },
  );
});
