/**
 * Every parser and regular expression of the library that runs on request data, fed the
 * shapes that make backtracking blow up (repeated fragments, long runs of near-matches,
 * nested separators) at growing sizes: the time must grow no faster than the input
 * (`test/harness/linear-time.ts` measures ratios of medians, never absolute times).
 *
 * Sizes (n and 16·n) stay under each function's own input bound where it has one (names and
 * emails 1 KiB, Content-Type 1 KiB, passwords 4 KiB, tokens 8 KiB, rich text 10,000), so what
 * is measured is the parsing, not the early refusal; the bound itself is tested beside each
 * function.
 */
import { test } from 'node:test';
import { assertLinearTime } from '../../../../test/harness/linear-time.ts';
import { isWellFormedApiKey, parseApiKey } from '../api-keys/format.ts';
import { scrub } from '../audit/scrub.ts';
import { createClientIpResolver } from '../http/client-ip.ts';
import { charsetOf, mediaTypeOf } from '../http/content-type.ts';
import { createCors, requestedHeadersAllowed } from '../http/cors.ts';
import { bearerToken, hasCredentialInQuery } from '../http/credential-syntax.ts';
import { parseJsonBody } from '../http/json-body.ts';
import { parseRequestTarget } from '../http/request-target.ts';
import { extractCredential } from '../policy/credentials.ts';
import { createRampart } from '../policy/rampart.ts';
import { sfString } from '../rate-limit/headers.ts';
import { createAccessTokenVerifier } from '../tokens/access-token.ts';
import { isRefreshTokenShape } from '../tokens/refresh-token.ts';
import { createKeyRing, hs256SigningKey } from '../tokens/signing-keys.ts';
import { checkEmail } from '../validation/email.ts';
import { checkName } from '../validation/name.ts';
import { checkPassword, tutorialPasswordPolicy } from '../validation/password.ts';
import { checkRichText } from '../validation/rich-text.ts';
import { decodeCursor } from './cursor.ts';
import { isDuration } from './duration.ts';
import { isId } from './ids.ts';
import { canonicalIp, ipKey, parseCidr, parseIpWithPort } from './ip.ts';

/** `fragment` repeated to `size` characters between `before` and `after`; `variant` ends it. */
function repeated(fragment: string, before = '', after = ''): (size: number, variant: number) => string {
  return (size, variant) =>
    `${before}${fragment.repeat(Math.max(1, Math.floor(size / fragment.length)))}${after}${variant}`;
}

async function eachShape(
  name: string,
  fn: (input: string) => unknown,
  shapes: ReadonlyArray<readonly [fragment: string, before?: string, after?: string]>,
  n: number,
): Promise<void> {
  for (const [fragment, before, after] of shapes) {
    const label = `${name}(${before ?? ''}${fragment}…${after ?? ''})`;
    await assertLinearTime(label, fn, repeated(fragment, before, after), n);
  }
}

test('Content-Type: mediaTypeOf and charsetOf are linear on hostile parameter lists', async () => {
  const shapes = [
    [';', 'application/json'],
    ['; ', 'application/json'],
    [';charset', 'application/json'],
    ['; charset=', 'application/json'],
    [' ', 'application/json;'],
    ['\\"', 'application/json; a="'],
    ['a', 'application/json; a="', '\\'],
    ['a;', 'application/json; a="'],
    ['x=1;', 'application/json;'],
    ['x=1 ', 'application/json;'],
  ] as const;
  await eachShape('charsetOf', charsetOf, shapes, 56);
  await eachShape('mediaTypeOf', mediaTypeOf, shapes, 56);
});

test('credentials: bearerToken and hasCredentialInQuery are linear', async () => {
  await eachShape(
    'bearerToken',
    bearerToken,
    [
      [' ', 'Bearer'],
      ['a', 'Bearer '],
      ['a', 'Bearer ', ' '],
      ['a ', 'Bearer '],
      ['Bearer ', ''],
      ['b', 'bearer ', '\u00e9'],
    ],
    // Up to 16,000 characters: a whole default Node request head, so that even a quadratic
    // term as cheap as a repeated indexOf would show.
    1000,
  );
  await eachShape(
    'hasCredentialInQuery',
    hasCredentialInQuery,
    [
      ['&'],
      ['&', '', '='],
      ['a=&'],
      ['token'],
      ['%'],
      ['%61'],
      ['to=ken&'],
      ['=&'],
      ['&&&&x', '', '=1'],
      ['k', '', '='],
    ],
    1000,
  );
  // The engine's whole extraction (the two-credential check, the prefix and JWS-shape tests).
  const extract = (field: 'authorization' | 'x-api-key') => (value: string) => {
    try {
      return extractCredential(
        { header: (name) => (name === field ? value : undefined) },
        ['rk_live_'],
        () => false,
      );
    } catch {
      return undefined;
    }
  };
  await eachShape(
    'extractCredential(authorization)',
    extract('authorization'),
    [
      ['a', 'Bearer '],
      ['a.', 'Bearer '],
      ['.a', 'Bearer '],
      ['a,', 'Bearer '],
      ['Bearer ', ''],
      [', Bearer a', 'Bearer a'],
    ],
    1000,
  );
  await eachShape('extractCredential(x-api-key)', extract('x-api-key'), [['rk_live_'], ['a,'], [' ']], 1000);
});

test('CORS: requested header lists and origins are linear', async () => {
  const cors = createCors({ origins: ['https://app.example.com'] });
  const allowed = new Set(['content-type', 'authorization']);
  await eachShape(
    'requestedHeadersAllowed',
    (list) => requestedHeadersAllowed(list, allowed),
    [[','], [', '], ['content-type,'], [' ,'], ['a'], ['content-type'], ['\t']],
    256,
  );
  await eachShape(
    'cors.decide',
    (origin) =>
      cors.decide({
        method: 'OPTIONS',
        origin,
        accessControlRequestMethod: 'GET',
        accessControlRequestHeaders: origin,
      }),
    [['a'], ['https://app.example.com'], [',']],
    256,
  );
});

test('client IP: X-Forwarded-For, Forwarded and the IP parsers are linear', async () => {
  const header = (name: 'x-forwarded-for' | 'forwarded') => {
    const resolve = createClientIpResolver({ trustProxy: ['10.0.0.0/8'], header: name });
    return (value: string) => resolve('10.0.0.1', (asked) => (asked === name ? value : undefined));
  };
  const chains = [
    [','],
    [', '],
    ['10.0.0.2, '],
    ['1'],
    ['1.'],
    [':'],
    ['::1,'],
    ['[', '', ']'],
    ['"'],
    [' '],
  ] as const;
  await eachShape('x-forwarded-for', header('x-forwarded-for'), chains, 256);
  await eachShape(
    'forwarded',
    header('forwarded'),
    [
      ...chains,
      [';'],
      ['for=10.0.0.2;'],
      ['for=', '', '1'],
      ['a=b;', 'for=10.0.0.3;'],
      ['"for=1;', 'for="'],
      [':_a', 'for=1.2.3.4'],
      [':_', 'for=1.2.3.4'],
      ['\\"', 'for="'],
    ],
    256,
  );
  const addresses = [
    ['1'],
    ['1.'],
    [':'],
    ['::'],
    ['f:'],
    ['[', '', ']'],
    ['0'],
    ['1.1.1.1:'],
    ['a'],
  ] as const;
  await eachShape('parseIpWithPort', parseIpWithPort, addresses, 256);
  await eachShape('canonicalIp', canonicalIp, addresses, 256);
  await eachShape('ipKey', ipKey, addresses, 256);
  await eachShape(
    'parseCidr',
    (text) => {
      try {
        return parseCidr(text);
      } catch {
        return undefined;
      }
    },
    [['1'], ['/'], ['1.', '', '/8'], [':', '', '/64']],
    256,
  );
});

test('validation rules: email, password, name and rich text are linear under their bounds', async () => {
  await eachShape(
    'checkEmail',
    checkEmail,
    [
      ['a.'],
      ['a.', '', '!@example.com'],
      ['.a'],
      ['a', '', '@'],
      ['@'],
      ['a@'],
      ['a', 'x@', '.'],
      ['a-', 'x@'],
      ['é', 'x@'],
      ['a.', 'x@'],
    ],
    60,
  );
  // 120 × 16 characters stay under the 4096-byte cap even when each takes two bytes.
  await eachShape('checkPassword', (text) => checkPassword(text), [['a'], ['aA1!'], [' '], ['é']], 120);
  // The tutorial's composition pattern: four `(?=.*X)` lookaheads, each a linear scan.
  await eachShape(
    'tutorial composition',
    (text) => checkPassword(text, tutorialPasswordPolicy),
    [['a'], ['aA1'], ['aA1', '', ' '], ['aA1@', '', '\n'], ['\n']],
    120,
  );
  await eachShape(
    'checkName',
    checkName,
    [
      ['<'],
      ['<a'],
      ['<a '],
      ['&'],
      ['&#'],
      ['\u200d'],
      ['👩\u200d'],
      ['\ufe0f'],
      ['a\u0301'],
      ['<!--'],
      ['<b>'],
    ],
    60,
  );
  await eachShape(
    'checkRichText',
    checkRichText,
    [
      ['<'],
      ['<a href="'],
      ['<a href="x">'],
      ['<b>'],
      ['<p><b>'],
      ['</b>'],
      ['&'],
      ['<!--'],
      ['<script>'],
      ['<a href=javascript:'],
    ],
    300,
  );
});

test('token, key, id, cursor and duration shapes are linear (most read a bounded prefix)', async () => {
  const ring = createKeyRing({ keys: [hs256SigningKey({ secret: 'x'.repeat(32) })], accessTtlMs: 900_000 });
  const verifier = createAccessTokenVerifier({
    ring,
    issuer: 'https://issuer.test',
    audience: 'https://api.test',
    algorithms: ['HS256'],
  });
  // Refused before any crypto: the measured part is the size cap, the split and the shape check.
  await eachShape(
    'verifyAccessToken',
    (token) => verifier.verify(token),
    [['a'], ['a.'], ['eyJ', '', '..'], ['a', 'eyJhbGciOiJIUzI1NiJ9.', '.x'], ['-_', '', '.a.'], ['.']],
    480,
  );
  const shapes = [
    ['a'],
    ['rk_live_'],
    ['_'],
    ['0'],
    ['rt_'],
    ['a', 'rk_live_'],
    ['A', 'usr_'],
    ['1', '', 'x'],
  ] as const;
  await eachShape(
    'parseApiKey',
    (key) => parseApiKey(key, { prefixes: ['rk_live_'], legacyHex: true }),
    shapes,
    256,
  );
  await eachShape('isWellFormedApiKey', isWellFormedApiKey, shapes, 256);
  await eachShape('isRefreshTokenShape', isRefreshTokenShape, shapes, 256);
  await eachShape('isId', isId, shapes, 256);
  await eachShape('decodeCursor', decodeCursor, [...shapes, ['MTox'], ['=']], 256);
  await eachShape('isDuration', isDuration, shapes, 256);
  await eachShape('sfString', sfString, [['a'], ['"'], ['\\']], 256);
});

test('bodies and audit details: parseJsonBody and scrub are linear', async () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  await eachShape(
    'parseJsonBody',
    (text) => {
      try {
        return parseJsonBody(bytes(text), { maxDepth: 32 });
      } catch {
        return undefined;
      }
    },
    [
      ['['],
      ['[1,', '', '1]'],
      ['"\\\\', ''],
      ['"a', '"', '"'],
      ['{"__proto__":1,', '{', '}'],
      ['\\u005f', '"', '"'],
      [' '],
    ],
    256,
  );
  // Secret-looking field names are tested by a regular expression on every key of an event.
  await eachShape('scrub', (key) => scrub({ [key]: 1 }), [['pas'], ['api_'], ['api-'], ['x'], ['tok']], 256);
});

test('forward auth: the request target and the forwarded host are linear', async () => {
  await eachShape(
    'parseRequestTarget',
    parseRequestTarget,
    [['/a'], ['/.'], ['%2'], ['%2e'], ['/..'], ['a', '/', '?'], ['&', '/x?'], ['\\'], ['//']],
    512,
  );
  const rampart = createRampart({ trustProxy: ['10.0.0.0/8'] });
  const forwarded = (host: string) =>
    rampart.forwarded(
      {
        method: 'GET',
        path: '/v1/auth/forward',
        ip: '10.0.0.5',
        headers: (name) =>
          name === 'x-forwarded-host' ? host : name === 'x-forwarded-uri' ? '/x' : undefined,
      },
      { pathPrefix: '/v1/auth/forward' },
    );
  await eachShape(
    'forwarded host',
    forwarded,
    [['a'], ['a.'], ['[::'], ['a:1'], ['-'], ['a', '', ':99999']],
    512,
  );
});
