import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from './request-log.ts';

const KEY = `rk_live_${'a'.repeat(43)}ABCDEF`;
const JWT = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJlLWJ5dGVz';

test('secret-named query values are redacted, others kept', () => {
  assert.equal(
    redactUrl('/x?token=abc&page=2&api_key=k&Password=p'),
    '/x?token=[redacted]&page=2&api_key=[redacted]&Password=[redacted]',
  );
});

test('credentials are redacted wherever they stand in the URL', () => {
  assert.equal(redactUrl(`/v1/keys/${KEY}`), '/v1/keys/[redacted]');
  assert.equal(redactUrl(`/x?q=${KEY}&n=1`), '/x?q=[redacted]&n=1');
  assert.equal(redactUrl(`/x?next=${JWT}`), '/x?next=[redacted]');
  assert.equal(redactUrl(`/r/rt_${'b'.repeat(43)}`), '/r/[redacted]');
});

test('ordinary URLs are left alone', () => {
  assert.equal(
    redactUrl('/v1/keys/key_3hK9abcdefghijklmnopqr?limit=10'),
    '/v1/keys/key_3hK9abcdefghijklmnopqr?limit=10',
  );
});
