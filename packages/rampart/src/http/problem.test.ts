import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RampartError } from '../errors.ts';
import { CHALLENGE, problemAnswer, toRampartError } from './problem.ts';

test('every 401 answer carries WWW-Authenticate (RFC 9110 §15.5.2), whoever threw it', () => {
  // A route's own UNAUTHENTICATED, without a challenge of its own.
  assert.equal(problemAnswer(new RampartError('UNAUTHENTICATED')).headers['www-authenticate'], CHALLENGE);
  // A framework's 401 (a plugin throwing { statusCode: 401 }).
  assert.equal(problemAnswer(toRampartError({ statusCode: 401 })).headers['www-authenticate'], CHALLENGE);
  // A challenge the thrower chose is kept, whatever its case.
  const own = new RampartError('INVALID_TOKEN', {
    headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
  });
  assert.deepEqual(
    Object.entries(problemAnswer(own).headers).filter(([name]) => name.toLowerCase() === 'www-authenticate'),
    [['WWW-Authenticate', 'Bearer error="invalid_token"']],
  );
  // Other statuses get none.
  assert.equal(problemAnswer(new RampartError('FORBIDDEN')).headers['www-authenticate'], undefined);
});
