/**
 * `forwarded()`: the original request of a forward-auth call, read from a trusted proxy only.
 * Each refusal here is an attack on a policy chosen by path: a client picking the request it
 * is judged on, or a path that the proxy and the upstream would read as another route.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRequestTarget } from '../http/request-target.ts';
import { createRampart, type RequestView } from './rampart.ts';

const PROXY = '10.0.0.5';
const rampart = createRampart({ trustProxy: ['10.0.0.0/8'] });

function check(init: {
  ip?: string;
  method?: string;
  path?: string;
  query?: string;
  header?: Record<string, string>;
}) {
  const header = init.header ?? {};
  const view: RequestView = {
    method: init.method ?? 'GET',
    path: init.path ?? '/v1/auth/forward',
    query: init.query,
    ip: init.ip ?? PROXY,
    headers: (name) => header[name],
    requestId: 'req_1',
  };
  return rampart.forwarded(view, { pathPrefix: '/v1/auth/forward' });
}

describe('forwarded(): where each proxy names the original request', () => {
  test("nginx's X-Original-Method and X-Original-URI, from a trusted proxy", () => {
    const d = check({
      header: { 'x-original-method': 'POST', 'x-original-uri': '/orders/7?expand=1', host: 'api.test' },
    });
    assert.ok(d.ok);
    assert.equal(d.view.method, 'POST');
    assert.equal(d.view.path, '/orders/7');
    assert.equal(d.view.query, 'expand=1');
    assert.equal(d.host, 'api.test');
    assert.equal(d.proxied, true);
  });

  test("Caddy's and Traefik's X-Forwarded-Method, -Uri, -Host and -Proto", () => {
    const d = check({
      header: {
        'x-forwarded-method': 'DELETE',
        'x-forwarded-uri': '/orders/7',
        'x-forwarded-host': 'shop.test',
        'x-forwarded-proto': 'https',
        host: 'rampart.internal',
      },
    });
    assert.ok(d.ok);
    assert.deepEqual(
      [d.view.method, d.view.path, d.host, d.proto],
      ['DELETE', '/orders/7', 'shop.test', 'https'],
    );
  });

  test("Envoy's check request: its own method, the path after the prefix, its Host", () => {
    const d = check({
      method: 'PUT',
      path: '/v1/auth/forward/orders/7',
      query: 'a=b',
      header: { host: 'shop.test' },
    });
    assert.ok(d.ok);
    assert.deepEqual(
      [d.view.method, d.view.path, d.view.query, d.host],
      ['PUT', '/orders/7', 'a=b', 'shop.test'],
    );
  });

  test('forwarding headers from an untrusted peer are ignored: the client cannot choose what is judged', () => {
    const d = check({
      ip: '203.0.113.9',
      header: {
        'x-original-uri': '/public',
        'x-forwarded-method': 'GET',
        'x-forwarded-host': 'evil.test',
        host: 'api.test',
      },
      method: 'POST',
      path: '/v1/auth/forward/admin',
    });
    assert.ok(d.ok);
    assert.deepEqual(
      [d.view.method, d.view.path, d.host, d.proto, d.proxied],
      ['POST', '/admin', 'api.test', undefined, false],
    );
  });

  test('with no proxy trusted at all, nothing forwarded is believed', () => {
    const none = createRampart({});
    const d = none.forwarded(
      {
        method: 'GET',
        path: '/x',
        ip: '127.0.0.1',
        headers: (n) => (n === 'x-original-uri' ? '/admin' : undefined),
      },
      {},
    );
    assert.ok(d.ok);
    assert.equal(d.view.path, '/x');
  });
});

describe('forwarded(): refusals', () => {
  for (const [name, uri] of [
    ['a dot segment (/public/../admin)', '/public/../admin'],
    ['an encoded dot segment (/public/%2e%2e/admin)', '/public/%2e%2e/admin'],
    ['an encoded slash (/public%2F..%2Fadmin)', '/public%2F..%2Fadmin'],
    ['a double-encoded dot (/public/%252e%252e/admin)', '/public/%252e%252e/admin'],
    ['an empty segment (//admin)', '//admin'],
    ['a backslash (/public\\..\\admin)', '/public\\..\\admin'],
    ['two values of the header (a client copy beside the proxy one)', '/public, /admin'],
    ['an absolute URI', 'http://evil.test/admin'],
  ] as const) {
    test(`a target with ${name} is 400`, () => {
      const d = check({ header: { 'x-original-uri': uri } });
      assert.equal(d.ok, false);
      assert.equal(!d.ok && d.answer.status, 400);
      assert.equal(!d.ok && (d.answer.body as { code: string }).code, 'BAD_REQUEST');
    });
  }

  // Each proxy overwrites its own family of headers and passes the client's others through:
  // whichever family a client adds, the decision must not be about the request it names.
  for (const [proxy, forged, header, view] of [
    ['Caddy or Traefik', 'X-Original-URI', { 'x-forwarded-uri': '/admin', 'x-original-uri': '/public' }, {}],
    ['nginx', 'X-Forwarded-Uri', { 'x-original-uri': '/admin', 'x-forwarded-uri': '/public' }, {}],
    ['Envoy', 'X-Original-URI', { 'x-original-uri': '/public' }, { path: '/v1/auth/forward/admin' }],
    ['Envoy', 'X-Forwarded-Uri', { 'x-forwarded-uri': '/public' }, { path: '/v1/auth/forward/admin' }],
    [
      'Caddy or Traefik',
      'X-Original-Method',
      { 'x-forwarded-method': 'DELETE', 'x-original-method': 'GET', 'x-forwarded-uri': '/x' },
      {},
    ],
    [
      'nginx',
      'X-Forwarded-Method',
      { 'x-original-method': 'DELETE', 'x-forwarded-method': 'GET', 'x-original-uri': '/x' },
      {},
    ],
    [
      'Envoy',
      'X-Forwarded-Method',
      { 'x-forwarded-method': 'GET' },
      { method: 'DELETE', path: '/v1/auth/forward/x' },
    ],
  ] as const) {
    test(`behind ${proxy}, a client's ${forged} beside the proxy's description is 400`, () => {
      const d = check({ header, ...view });
      assert.equal(d.ok, false, JSON.stringify(d.ok && d.view));
      assert.equal(!d.ok && d.answer.status, 400);
      assert.match(!d.ok ? String((d.answer.body as { detail: string }).detail) : '', /described twice/);
    });
  }

  test('two descriptions that agree are one request', () => {
    const d = check({
      method: 'POST',
      path: '/v1/auth/forward/orders/7',
      header: { 'x-forwarded-uri': '/orders/7', 'x-original-uri': '/orders/7', 'x-forwarded-method': 'POST' },
    });
    assert.ok(d.ok);
    assert.deepEqual([d.view.method, d.view.path], ['POST', '/orders/7']);
  });

  test('TRACE or a made-up method is 405', () => {
    for (const method of ['TRACE', 'GET, POST', 'PROPFIND']) {
      const d = check({ header: { 'x-forwarded-method': method, 'x-forwarded-uri': '/x' } });
      assert.equal(!d.ok && d.answer.status, 405, method);
    }
  });

  test('a forwarded host that is not one host name, or a scheme that is not http(s), is 400', () => {
    assert.equal(
      check({ header: { 'x-forwarded-uri': '/x', 'x-forwarded-host': 'a.test, b.test' } }).ok,
      false,
    );
    assert.equal(check({ header: { 'x-forwarded-uri': '/x', 'x-forwarded-proto': 'gopher' } }).ok, false);
  });
});

describe('parseRequestTarget', () => {
  test('ordinary API paths pass unchanged, percent-encodings included', () => {
    for (const target of [
      '/',
      '/orders',
      '/orders/',
      '/orders/7',
      '/a%20b/c',
      '/caf%C3%A9',
      '/x?q=a%2Fb&r=..',
    ]) {
      const t = parseRequestTarget(target);
      assert.ok(t.ok, target);
      assert.equal(t.path + (t.query === undefined ? '' : `?${t.query}`), target);
    }
  });

  test('raw spaces, control characters, non-ASCII and fragments are refused', () => {
    for (const target of ['/a b', '/a\u0000', '/caf\u00e9', '/a#frag', '/a%zz', '/a%2']) {
      assert.equal(parseRequestTarget(target).ok, false, JSON.stringify(target));
    }
  });
});
