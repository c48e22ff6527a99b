import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CORS_DEFAULTS, type CorsOptions, createCors, requestedHeadersAllowed } from './cors.ts';

const APP = 'https://app.example.com';
const VARY_PREFLIGHT = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

function corsHeaderNames(headers: Readonly<Record<string, string>>): string[] {
  return Object.keys(headers).filter((name) => name.toLowerCase().startsWith('access-control-'));
}

describe('createCors: origin matching', () => {
  const cors = createCors({ origins: [APP, 'http://localhost:5173'], credentials: true });

  test('an allowed origin is granted, with credentials, the exposed headers and Vary', () => {
    const decision = cors.decide({ method: 'GET', origin: APP });
    assert.equal(decision.preflight, false);
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.headers, {
      Vary: 'Origin',
      'Access-Control-Allow-Origin': APP,
      'Access-Control-Allow-Credentials': 'true',
      'Access-Control-Expose-Headers': 'ratelimit, ratelimit-policy, retry-after, x-request-id',
    });
    assert.equal(cors.decide({ method: 'POST', origin: 'http://localhost:5173' }).allowed, true);
  });

  test('hostile origins get no Access-Control-* header at all, only Vary', () => {
    for (const origin of [
      'null',
      'https://app.example.com.evil.example',
      'https://evil-app.example.com',
      'https://evilapp.example.com',
      'https://example.com',
      'http://app.example.com',
      'https://app.example.com:8443',
      'https://app.example.com/',
      'https://app.example.com.',
      ' https://app.example.com',
      'https://app.example.com\n',
      'https://APP.example.com',
      'HTTPS://app.example.com',
      'https://sub.app.example.com',
      'http://localhost:5174',
      '*',
      '',
    ]) {
      const decision = cors.decide({ method: 'GET', origin });
      assert.equal(decision.allowed, false, origin);
      assert.deepEqual(decision.headers, { Vary: 'Origin' }, origin);
    }
  });

  test('the allowed origin is never reflected from the request, only taken from the list', () => {
    const decision = cors.decide({ method: 'GET', origin: APP });
    assert.equal(decision.headers['Access-Control-Allow-Origin'], APP);
    assert.equal(
      createCors({ origins: ['HTTPS://App.Example.COM'] }).decide({ method: 'GET', origin: APP }).allowed,
      true,
    );
  });

  test('a request without Origin (same-origin or not a browser) gets only Vary', () => {
    const decision = cors.decide({ method: 'GET' });
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.headers, { Vary: 'Origin' });
  });

  test('prototype names are not origins', () => {
    for (const origin of ['__proto__', 'constructor', 'toString']) {
      assert.equal(cors.decide({ method: 'GET', origin }).allowed, false);
    }
  });

  test('decisions are frozen so one request cannot change the next one’s headers', () => {
    const decision = cors.decide({ method: 'GET', origin: APP });
    assert.ok(Object.isFrozen(decision));
    assert.ok(Object.isFrozen(decision.headers));
    assert.throws(() => {
      (decision.headers as Record<string, string>)['Access-Control-Allow-Origin'] = '*';
    }, TypeError);
  });
});

describe('createCors: preflight', () => {
  const cors = createCors({ origins: [APP], credentials: true });

  test('an allowed preflight lists only the configured methods and headers, with a bounded Max-Age', () => {
    const decision = cors.decide({
      method: 'OPTIONS',
      origin: APP,
      accessControlRequestMethod: 'PUT',
      accessControlRequestHeaders: 'Content-Type, Authorization',
    });
    assert.equal(decision.preflight, true);
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.headers, {
      Vary: VARY_PREFLIGHT,
      'Access-Control-Allow-Origin': APP,
      'Access-Control-Allow-Credentials': 'true',
      'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, PATCH, DELETE',
      'Access-Control-Allow-Headers': 'authorization, content-type, x-api-key, x-request-id',
      'Access-Control-Max-Age': '600',
    });
  });

  test('a preflight without requested headers is allowed', () => {
    const decision = cors.decide({ method: 'OPTIONS', origin: APP, accessControlRequestMethod: 'GET' });
    assert.equal(decision.allowed, true);
  });

  test('a requested header outside the list refuses the whole preflight, headers not echoed', () => {
    const decision = cors.decide({
      method: 'OPTIONS',
      origin: APP,
      accessControlRequestMethod: 'POST',
      accessControlRequestHeaders: 'content-type, x-admin-override',
    });
    assert.equal(decision.preflight, true);
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.headers, { Vary: VARY_PREFLIGHT });
  });

  test('a method outside the list is refused, and method names are case-sensitive', () => {
    for (const method of ['TRACE', 'CONNECT', 'PROPFIND', 'put', '', 'GET, TRACE']) {
      const decision = cors.decide({ method: 'OPTIONS', origin: APP, accessControlRequestMethod: method });
      assert.equal(decision.allowed, false, method);
      assert.deepEqual(corsHeaderNames(decision.headers), [], method);
    }
  });

  test('a preflight from a hostile origin gets no CORS headers', () => {
    for (const origin of ['null', 'https://app.example.com.evil.example', 'http://app.example.com']) {
      const decision = cors.decide({ method: 'OPTIONS', origin, accessControlRequestMethod: 'GET' });
      assert.equal(decision.preflight, true);
      assert.equal(decision.allowed, false);
      assert.deepEqual(decision.headers, { Vary: VARY_PREFLIGHT });
    }
  });

  test('requested header names compare case-insensitively and tolerate spacing and empty items', () => {
    const decision = cors.decide({
      method: 'OPTIONS',
      origin: APP,
      accessControlRequestMethod: 'POST',
      accessControlRequestHeaders: ' X-API-Key ,,authorization',
    });
    assert.equal(decision.allowed, true);
  });

  test('an OPTIONS without Access-Control-Request-Method is not a preflight', () => {
    const decision = cors.decide({ method: 'OPTIONS', origin: APP });
    assert.equal(decision.preflight, false);
    assert.equal(decision.allowed, true);
    assert.equal(decision.headers.Vary, 'Origin');
    assert.equal(decision.headers['Access-Control-Allow-Methods'], undefined);
  });

  test('an OPTIONS without Origin is not a preflight', () => {
    const decision = cors.decide({ method: 'OPTIONS', accessControlRequestMethod: 'GET' });
    assert.equal(decision.preflight, false);
    assert.equal(decision.allowed, false);
  });

  test('asking for an absurd number of headers is refused without scanning them all', () => {
    const many = Array.from({ length: 10_000 }, () => 'authorization').join(',');
    assert.equal(requestedHeadersAllowed(many, new Set(['authorization'])), false);
    assert.equal(requestedHeadersAllowed('authorization', new Set(['authorization'])), true);
    assert.equal(requestedHeadersAllowed(undefined, new Set()), true);
  });

  test('custom lists replace the defaults and are normalized', () => {
    const custom = createCors({
      origins: [APP],
      methods: ['get', 'post'],
      allowedHeaders: ['X-Custom'],
      exposedHeaders: [],
      maxAge: 7200,
    });
    const preflight = custom.decide({
      method: 'OPTIONS',
      origin: APP,
      accessControlRequestMethod: 'POST',
      accessControlRequestHeaders: 'x-custom',
    });
    assert.equal(preflight.headers['Access-Control-Allow-Methods'], 'GET, POST');
    assert.equal(preflight.headers['Access-Control-Allow-Headers'], 'x-custom');
    assert.equal(preflight.headers['Access-Control-Max-Age'], '7200');
    assert.equal(preflight.headers['Access-Control-Allow-Credentials'], undefined);
    assert.equal(
      custom.decide({ method: 'OPTIONS', origin: APP, accessControlRequestMethod: 'PUT' }).allowed,
      false,
    );
    const actual = custom.decide({ method: 'GET', origin: APP });
    assert.equal(actual.headers['Access-Control-Expose-Headers'], undefined);
  });
});

describe('createCors: wildcard', () => {
  const cors = createCors({ origins: ['*'] });

  test('"*" answers every origin with *, never reflecting it, and never with credentials', () => {
    const decision = cors.decide({ method: 'GET', origin: 'https://anyone.example' });
    assert.equal(decision.allowed, true);
    assert.equal(decision.headers['Access-Control-Allow-Origin'], '*');
    assert.equal(decision.headers['Access-Control-Allow-Credentials'], undefined);
    assert.equal(decision.headers.Vary, 'Origin');
  });

  test('"*" with credentials is refused at creation (it would hand every site the user session)', () => {
    assert.throws(() => createCors({ origins: ['*'], credentials: true }), /^TypeError: cors\.credentials: /);
  });

  test('"*" mixed with listed origins is refused', () => {
    assert.throws(() => createCors({ origins: [APP, '*'] }), /^TypeError: cors\.origins: /);
  });
});

describe('createCors: configuration', () => {
  test('dangerous or meaningless origin entries are refused, named by index', () => {
    const cases: Array<[string, RegExp]> = [
      ['null', /null/],
      ['https://*.example.com', /wildcard/],
      ['https://app*.example.com', /wildcard/],
      ['https://app.example.com/', /slash/],
      ['https://app.example.com/api', /path/],
      ['https://app.example.com?x=1', /path, query or fragment/],
      ['https://user@app.example.com', /user info/],
      ['app.example.com', /scheme/],
      ['https://', /not an origin/],
      ['https://app.example.com:0', /port/],
      ['https://app.example.com:65536', /port/],
      ['https://exämple.com', /xn--/],
      ['https://app .example.com', /not an origin/],
      ['https://.example.com', /not an origin/],
    ];
    for (const [origin, message] of cases) {
      assert.throws(
        () => createCors({ origins: [APP, origin] }),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, origin);
          assert.match(error.message, /^cors\.origins\[1\]: /, origin);
          assert.match(error.message, message, origin);
          return true;
        },
      );
    }
  });

  test('origins are lower-cased and lose a default port, the way browsers serialize them', () => {
    const cors = createCors({
      origins: ['HTTPS://App.Example.com:443', 'http://Localhost:80', 'http://[::1]:3000'],
    });
    assert.equal(cors.decide({ method: 'GET', origin: APP }).allowed, true);
    assert.equal(cors.decide({ method: 'GET', origin: 'http://localhost' }).allowed, true);
    assert.equal(cors.decide({ method: 'GET', origin: 'http://[::1]:3000' }).allowed, true);
    assert.equal(cors.decide({ method: 'GET', origin: 'https://app.example.com:443' }).allowed, false);
  });

  test('non-http schemes of hybrid apps can be listed exactly', () => {
    const cors = createCors({ origins: ['capacitor://localhost'] });
    assert.equal(cors.decide({ method: 'GET', origin: 'capacitor://localhost' }).allowed, true);
  });

  test('maxAge above 7200 seconds, negative or fractional is refused', () => {
    for (const maxAge of [7201, 86_400, -1, 1.5, Number.NaN]) {
      assert.throws(() => createCors({ origins: [APP], maxAge }), /^TypeError: cors\.maxAge: /);
    }
  });

  test('wildcard methods and headers are refused: list them', () => {
    assert.throws(() => createCors({ origins: [APP], methods: ['*'] }), /^TypeError: cors\.methods\[0\]: /);
    assert.throws(
      () => createCors({ origins: [APP], allowedHeaders: ['a', '*'] }),
      /^TypeError: cors\.allowedHeaders\[1\]: /,
    );
    assert.throws(
      () => createCors({ origins: [APP], exposedHeaders: ['bad header'] }),
      /^TypeError: cors\.exposedHeaders\[0\]: /,
    );
  });

  test('a wrong type or a misspelt option is refused', () => {
    assert.throws(() => createCors({ origins: APP } as never), /^TypeError: cors\.origins: /);
    assert.throws(() => createCors({ origins: [42] } as never), /^TypeError: cors\.origins\[0\]: /);
    assert.throws(
      () => createCors({ origins: [APP], credentials: 'true' } as never),
      /^TypeError: cors\.credentials: /,
    );
    assert.throws(() => createCors({ origin: [APP] } as never), /^TypeError: cors\.origin: unknown option/);
    assert.throws(() => createCors(undefined as never), /^TypeError: cors: /);
  });

  test('an empty origin list allows nobody', () => {
    const cors = createCors({ origins: [] });
    assert.equal(cors.decide({ method: 'GET', origin: APP }).allowed, false);
  });

  test('defaults are not written back into the caller options', () => {
    const options: CorsOptions = { origins: ['HTTPS://APP.example.com'] };
    createCors(options);
    assert.deepEqual(options, { origins: ['HTTPS://APP.example.com'] });
    assert.ok(Object.isFrozen(CORS_DEFAULTS));
    assert.ok(Object.isFrozen(CORS_DEFAULTS.methods));
  });
});
