import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES, isErrorCode, problemType, RampartError, toProblem } from './errors.ts';

test('docs/errors.md lists exactly the codes of src/errors.ts, with the same statuses', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
  const code = Object.entries(ERROR_CODES).map(([name, { status }]) => [name, status]);
  assert.deepEqual(rows.sort(), code.sort());
});

test('codes are UPPER_SNAKE and map to an error status', () => {
  for (const [name, { status }] of Object.entries(ERROR_CODES)) {
    assert.match(name, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    assert.ok(status >= 400 && status < 600, name);
  }
});

test('a problem document carries type, title, status, code and request id, and nothing else unasked', () => {
  const problem = toProblem(new RampartError('EMAIL_TAKEN'), 'req_1');
  assert.deepEqual(problem, {
    type: 'urn:rampart:problem:email-taken',
    title: ERROR_CODES.EMAIL_TAKEN.title,
    status: 409,
    code: 'EMAIL_TAKEN',
    requestId: 'req_1',
  });
  assert.equal(problemType('RATE_LIMITED'), 'urn:rampart:problem:rate-limited');
  assert.equal(isErrorCode('NOT_A_CODE'), false);
  assert.equal(isErrorCode('toString'), false);
});

test('a RampartError captures no stack trace (refusals stay cheap), and leaves the global limit as it was', () => {
  const before = Error.stackTraceLimit;
  const error = new RampartError('INVALID_TOKEN', { cause: new Error('inner') });
  assert.equal(Error.stackTraceLimit, before);
  assert.doesNotMatch(String(error.stack), /\n\s+at /);
  assert.equal(error instanceof Error, true);
  assert.equal(error.message, ERROR_CODES.INVALID_TOKEN.title);
  // The wrapped error is untouched: it keeps its own frames.
  assert.match(String((error.cause as Error).stack), /\n\s+at /);
  assert.match(String(new Error('plain').stack), /\n\s+at /);
});
