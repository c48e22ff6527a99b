import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SECRET_FIELD } from 'rampart/internal/audit/scrub.ts';
import { assertLinearTime, measureGrowth } from '../../../../test/harness/linear-time.ts';
import { MAX_LOGGED_URL, redactUrl, requestLine } from './request-log.ts';

const KEY = `rk_live_${'a'.repeat(43)}ABCDEF`;
const JWT = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJlLWJ5dGVz';

/**
 * The redactor this file replaced, kept here only as the known-bad control: its JWT branch
 * (`\beyJ[\w-]{4,}\.`) restarts after every `-` and rescans to the end, so a path of repeated
 * `eyJ-` takes quadratic time.
 */
const OLD_CREDENTIAL_IN_TEXT =
  /\b[a-z][a-z0-9]{1,15}_(?:[a-z0-9]{1,15}_)?[0-9A-Za-z]{49}\b|\b(?:rt|rst)_[0-9A-Za-z]{43}\b|\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;

function oldRedactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = url.slice(0, q === -1 ? url.length : q).replace(OLD_CREDENTIAL_IN_TEXT, '[redacted]');
  if (q === -1) return path;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq === -1 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replaceAll('+', ' '));
      } catch {}
      return SECRET_FIELD.test(name) && eq !== -1
        ? `${rawName}=[redacted]`
        : pair.replace(OLD_CREDENTIAL_IN_TEXT, '[redacted]');
    });
  return `${path}?${params.join('&')}`;
}

/** A path of `size` characters made of one fragment repeated; `variant` changes its last character. */
function repeated(fragment: string): (size: number, variant: number) => string {
  return (size, variant) =>
    `/${fragment.repeat(Math.ceil(size / fragment.length)).slice(0, size - 2)}${variant}`;
}

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
  assert.equal(redactUrl(`/r/rst_${'b'.repeat(43)}/x`), '/r/[redacted]/x');
  assert.equal(redactUrl(`/a-${JWT}-b/${KEY}`), '/a-[redacted]/[redacted]');
  assert.equal(redactUrl(`/eyJ-eyJ-x/${KEY}`), '/eyJ-eyJ-x/[redacted]');
});

test('ordinary URLs are left alone', () => {
  assert.equal(
    redactUrl('/v1/keys/key_3hK9abcdefghijklmnopqr?limit=10'),
    '/v1/keys/key_3hK9abcdefghijklmnopqr?limit=10',
  );
  assert.equal(redactUrl('/eyJ-not.a.jwt/x'), '/eyJ-not.a.jwt/x');
});

test('the redactor redacts exactly what the old regular expression did', () => {
  const body43 = 'Ab3'.repeat(15).slice(0, 43);
  const fragment = fc.constantFrom(
    'eyJ',
    'abcd',
    'ab',
    '.',
    '-',
    '_',
    '/',
    '?',
    '&',
    '=',
    'token',
    'q',
    'rt_',
    'rst_',
    'rk_live_',
    'acme_',
    body43,
    `${body43}XYZ123`,
    'A',
    '%2F',
    '+',
  );
  fc.assert(
    fc.property(fc.array(fragment, { maxLength: 14 }), (parts) => {
      const url = `/${parts.join('')}`;
      assert.equal(redactUrl(url), oldRedactUrl(url));
    }),
    { numRuns: 5000 },
  );
});

test(`a URL longer than ${MAX_LOGGED_URL} characters is cut there, never through a credential`, () => {
  const padding = `/${'p/'.repeat(MAX_LOGGED_URL / 2)}`.slice(0, MAX_LOGGED_URL - 20);
  // The cut falls inside the key: its first characters must not be logged either.
  const logged = redactUrl(`${padding}/${KEY}/more`);
  assert.ok(logged.endsWith('…[truncated]'), logged.slice(-40));
  assert.ok(!logged.includes('rk_live_'), logged.slice(-40));
  assert.ok(logged.length <= MAX_LOGGED_URL + '…[truncated]'.length);
  const jwtCut = redactUrl(`${padding}/${JWT}`);
  assert.ok(!jwtCut.includes('eyJ'), jwtCut.slice(-40));
  // A secret-named query value cut in the middle is still redacted.
  const query = redactUrl(`/x?${'a=1&'.repeat(MAX_LOGGED_URL / 4 - 3)}password=hunter2hunter2`);
  assert.ok(!query.includes('hunter'), query.slice(-40));
  assert.equal(redactUrl(`/${'a'.repeat(MAX_LOGGED_URL - 1)}`), `/${'a'.repeat(MAX_LOGGED_URL - 1)}`);
});

test('the old redactor is caught by the growth check: quadratic on repeated eyJ- (the known-bad control)', async () => {
  const growth = await measureGrowth(oldRedactUrl, repeated('eyJ-'), 512, { samples: 7 });
  assert.ok(growth.ratio > growth.allowed, `old redactor grew only ${growth.ratio.toFixed(1)}×`);
});

test('redactUrl takes linear time below its bound, on every shape that makes backtracking blow up', async () => {
  for (const fragment of [
    'eyJ-',
    'eyJa-',
    'a-eyJ',
    'eyJaaaa.',
    'eyJaaaa.bbbb-',
    'rk_live_a-',
    'rt_a.',
    'a_',
    '%',
    '-',
  ]) {
    await assertLinearTime(`redactUrl(${fragment}…)`, redactUrl, repeated(fragment), 240);
  }
  for (const fragment of ['a=1&', 'token=', '&', '?', 'eyJ-=&', '%E0%A4%A&']) {
    await assertLinearTime(
      `redactUrl(?${fragment}…)`,
      redactUrl,
      (size, v) => `/x?${fragment.repeat(size / fragment.length)}${v}`,
      240,
    );
  }
});

test('a 16 KB path of repeated token-like fragments costs no more than a linear scan: reading stops at 4 KiB', async () => {
  // The review's request: ~16 KB of repeated token-like fragments, 125–200 ms each with the
  // old regex. 16× the input (1 KB to 16 KB) may cost at most 16× the time here, and it stays
  // nearly flat past the bound, where the old redactor takes about 256×.
  for (const fragment of ['eyJ-', 'eyJhbGciOi-', `rk_live_${'a'.repeat(20)}-`]) {
    await assertLinearTime(`redactUrl(16 KB of ${fragment})`, redactUrl, repeated(fragment), 2048, {
      slack: 1,
    });
  }
});

test('the request line is the line pino writes for the same fields', async () => {
  const { pino } = await import('pino');
  const { Writable } = await import('node:stream');
  const written: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      written.push(String(chunk));
      done();
    },
  });
  const fields = {
    reqId: 'req_1',
    method: 'GET',
    url: '/v1/keys?page=2',
    route: '/v1/keys',
    status: 200,
    ms: 1.25,
    ip: '127.0.0.1',
    ua: 'curl/8',
  };
  pino({ timestamp: () => ',"time":5' }, sink)
    .child({ reqId: fields.reqId })
    .info(
      {
        method: fields.method,
        url: fields.url,
        route: fields.route,
        status: 200,
        ms: 1.25,
        ip: fields.ip,
        ua: fields.ua,
      },
      'request',
    );
  const ours = requestLine({ ...fields, correlationId: undefined }).replace(/"time":\d+/, '"time":5');
  assert.equal(ours, written[0]);
});

test('a hostile user agent or URL stays inside its field: one line, quotes and newlines escaped', () => {
  const line = requestLine({
    reqId: 'req_1',
    method: 'GET',
    url: '/a"b\n{"level":60}',
    route: undefined,
    status: 404,
    ms: 1,
    ip: '::1',
    ua: 'x"\r\n{"level":60,"msg":"forged"}\u2028',
    correlationId: undefined,
  });
  assert.equal(line.indexOf('\n'), line.length - 1, 'the only newline ends the line');
  const parsed = JSON.parse(line);
  assert.equal(parsed.ua, 'x"\r\n{"level":60,"msg":"forged"}\u2028');
  assert.equal(parsed.url, '/a"b\n{"level":60}');
  assert.equal(parsed.level, 30);
  assert.equal('route' in parsed, false);
});
