import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SECURITY_HEADERS, type SecurityHeadersOptions, securityHeaders } from './security-headers.ts';

const BASE = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
};

describe('securityHeaders', () => {
  test('sniffing, framing, referrer leaks, cross-origin embedding and caching are all shut off', () => {
    assert.deepEqual(securityHeaders({ https: false }), BASE);
  });

  test('HSTS is sent over HTTPS with includeSubDomains, so a sibling subdomain cannot downgrade', () => {
    assert.deepEqual(securityHeaders({ https: true }), {
      ...BASE,
      'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
    });
  });

  test('HSTS is never sent over plain HTTP (it would pin a dev hostname to HTTPS)', () => {
    const headers = securityHeaders({ https: false, hstsMaxAge: 63_072_000, hstsPreload: true });
    assert.equal(headers['Strict-Transport-Security'], undefined);
  });

  test('preload and a longer max-age are opt-in', () => {
    assert.equal(
      securityHeaders({ https: true, hstsMaxAge: 63_072_000, hstsPreload: true })[
        'Strict-Transport-Security'
      ],
      'max-age=63072000; includeSubDomains; preload',
    );
  });

  test('a max-age under one year is refused (too short to protect, too short for preload)', () => {
    for (const hstsMaxAge of [0, 86_400, 31_535_999, -1]) {
      assert.throws(
        () => securityHeaders({ https: true, hstsMaxAge }),
        /^TypeError: securityHeaders\.hstsMaxAge: /,
      );
    }
  });

  test('a max-age given in milliseconds or not whole is refused', () => {
    for (const hstsMaxAge of [31_536_000_000, 31_536_000.5, Number.NaN]) {
      assert.throws(
        () => securityHeaders({ https: true, hstsMaxAge }),
        /^TypeError: securityHeaders\.hstsMaxAge: /,
      );
    }
  });

  test('wrong types and unknown options are refused', () => {
    assert.throws(
      () => securityHeaders({} as SecurityHeadersOptions),
      /^TypeError: securityHeaders\.https: /,
    );
    assert.throws(() => securityHeaders({ https: 'yes' } as never), /^TypeError: securityHeaders\.https: /);
    assert.throws(
      () => securityHeaders({ https: true, hstsPreload: 1 } as never),
      /^TypeError: securityHeaders\.hstsPreload: /,
    );
    assert.throws(
      () => securityHeaders({ https: true, hsts: false } as never),
      /^TypeError: securityHeaders\.hsts: unknown/,
    );
    assert.throws(() => securityHeaders(undefined as never), /^TypeError: securityHeaders: /);
  });

  test('the result is frozen, so a handler cannot weaken the headers of later responses', () => {
    for (const headers of [
      securityHeaders({ https: true }),
      securityHeaders({ https: false }),
      SECURITY_HEADERS,
    ]) {
      assert.ok(Object.isFrozen(headers));
      assert.throws(() => {
        (headers as Record<string, string>)['X-Frame-Options'] = 'ALLOWALL';
      }, TypeError);
    }
    assert.equal(SECURITY_HEADERS['X-Frame-Options'], 'DENY');
  });

  test('the caller options are left as given', () => {
    const options: SecurityHeadersOptions = { https: true };
    securityHeaders(options);
    assert.deepEqual(options, { https: true });
  });
});
