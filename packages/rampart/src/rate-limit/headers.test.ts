import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatRateLimit,
  formatRateLimitPolicy,
  rateLimitHeaders,
  retryAfterSeconds,
  sfString,
} from './headers.ts';

test('RateLimit-Policy and RateLimit use the draft structured-field syntax, one item per policy', () => {
  const headers = rateLimitHeaders([
    { name: 'default', limit: 100, windowMs: 900_000, remaining: 42, resetAfterMs: 516_001 },
    { name: 'password-reset', limit: 5, windowMs: 3_600_000, remaining: 4, resetAfterMs: 3_600_000 },
  ]);
  assert.deepEqual(headers, {
    'RateLimit-Policy': '"default";q=100;w=900,"password-reset";q=5;w=3600',
    RateLimit: '"default";r=42;t=517,"password-reset";r=4;t=3600',
  });
});

test('a refusal adds Retry-After in whole seconds, rounded up and at least 1', () => {
  assert.equal(retryAfterSeconds(1), 1);
  assert.equal(retryAfterSeconds(0), 1);
  assert.equal(retryAfterSeconds(1000), 1);
  assert.equal(retryAfterSeconds(1001), 2);
  const headers = rateLimitHeaders(
    [{ name: 'default', limit: 5, windowMs: 1_000, remaining: 0, resetAfterMs: 250 }],
    250,
  );
  assert.equal(headers['Retry-After'], '1');
  assert.equal(headers.RateLimit, '"default";r=0;t=1');
});

test('no policy, no rate-limit headers; windows under a second still say w=1', () => {
  assert.deepEqual(rateLimitHeaders([]), {});
  assert.equal(formatRateLimitPolicy([{ name: 'x', limit: 1, windowMs: 10 }]), '"x";q=1;w=1');
  assert.equal(formatRateLimit([{ name: 'x', remaining: -3, resetAfterMs: -5 }]), '"x";r=0;t=0');
});

test('policy names are escaped as sf-strings and non-ASCII is refused (no header injection)', () => {
  assert.equal(sfString('a"b\\c'), '"a\\"b\\\\c"');
  assert.throws(() => sfString('a\r\nSet-Cookie: x'), TypeError);
  assert.throws(() => sfString('é'), TypeError);
});
