import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../src/server/config.ts';
import { type TestServer, tempDir, testServer } from './helpers.ts';

/**
 * The HTTP shell of the foundation issue: every hygiene, header, CORS and client-IP case,
 * each performed as an attack, asserting the status, the problem code, and that the server
 * still answers afterwards.
 */

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function server(options: Parameters<typeof testServer>[0] = {}): Promise<TestServer> {
  const s = await testServer({
    ...options,
    routes: (app) => {
      app.post('/test/echo', async (request) => ({ body: request.body }));
      app.get('/test/boom', async () => {
        throw new Error('SELECT password_hash FROM users WHERE 1 -- /etc/rampart/secret rk_live_leak');
      });
    },
  });
  servers.push(s);
  return s;
}

async function stillHealthy(s: TestServer): Promise<void> {
  const res = await s.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(res.statusCode, 200);
}

function problem(
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  status: number,
  code: string,
) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = JSON.parse(res.body);
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.type, 'string');
  assert.equal(body.requestId, res.headers['x-request-id']);
  return body;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};

describe('health and headers', () => {
  test('/healthz answers and every response carries the security headers, errors included', async () => {
    const s = await server();
    for (const url of ['/healthz', '/nope', '/test/boom']) {
      const res = await s.app.inject({ method: 'GET', url });
      for (const [name, value] of Object.entries(SECURITY_HEADERS))
        assert.equal(res.headers[name], value, `${url} ${name}`);
      assert.equal(res.headers['x-powered-by'], undefined);
      assert.equal(res.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
    }
    assert.deepEqual((await s.app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
  });

  test('/readyz reports storage', async () => {
    const s = await server();
    const res = await s.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().checks.storage, 'ok');
  });

  test('/readyz answers 503 when storage does not answer', async () => {
    const s = await server();
    s.context.storage.ping = () => {
      throw new Error('database is locked');
    };
    const res = await s.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().checks.storage, 'down');
    assert.ok(!res.body.includes('locked'));
  });
});

describe('request ids', () => {
  test("the server names every request itself; a well-formed inbound X-Request-Id is logged as a correlation id, never as the server's", async () => {
    const s = await server();
    const res = await s.app.inject({
      method: 'GET',
      url: '/v1/nothing',
      headers: { 'x-request-id': 'trace-1234-abcd' },
    });
    const id = res.headers['x-request-id'] as string;
    assert.match(id, /^req_[0-9A-Za-z]{22}$/);
    assert.equal(res.json().requestId, id);
    const line = s.logs().find((l) => l.msg === 'request' && l.reqId === id);
    assert.ok(line, 'the request log line carries the server id');
    assert.equal(line.correlationId, 'trace-1234-abcd');
    assert.ok(
      !s.logs().some((l) => l.reqId === 'trace-1234-abcd'),
      'a client cannot choose the id logs and audit use',
    );
  });

  test('a malformed inbound X-Request-Id is replaced (no log injection)', async () => {
    const s = await server();
    for (const bad of ['<script>', 'a'.repeat(500), 'x\u2028y', 'short']) {
      const res = await s.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': bad } });
      assert.match(String(res.headers['x-request-id']), /^req_[0-9A-Za-z]{22}$/);
    }
  });
});

describe('errors are problem+json', () => {
  test('404 for an unknown path', async () => {
    const s = await server();
    problem(await s.app.inject({ method: 'GET', url: '/v1/nothing-here' }), 404, 'NOT_FOUND');
  });

  test('405 with Allow for a known path and the wrong method', async () => {
    const s = await server();
    const res = await s.app.inject({ method: 'DELETE', url: '/healthz' });
    problem(res, 405, 'METHOD_NOT_ALLOWED');
    assert.match(String(res.headers.allow), /GET/);
  });

  test('TRACE is refused (cross-site tracing)', async () => {
    const s = await server();
    problem(await s.app.inject({ method: 'TRACE', url: '/healthz' }), 405, 'METHOD_NOT_ALLOWED');
    await stillHealthy(s);
  });

  test('a 500 tells nothing of the failure: no message, SQL, path or secret', async () => {
    const s = await server();
    const res = await s.app.inject({ method: 'GET', url: '/test/boom' });
    const body = problem(res, 500, 'INTERNAL');
    assert.equal(body.detail, undefined);
    for (const leak of ['SELECT', 'password_hash', '/etc/', 'rk_live_leak', 'at '])
      assert.ok(!res.body.includes(leak), leak);
    await stillHealthy(s);
  });
});

describe('request hygiene', () => {
  const post = (s: TestServer, payload: string | Buffer, contentType = 'application/json') =>
    s.app.inject({ method: 'POST', url: '/test/echo', payload, headers: { 'content-type': contentType } });

  test('a body over the limit is 413', async () => {
    const s = await server();
    problem(await post(s, JSON.stringify({ a: 'x'.repeat(101 * 1024) })), 413, 'PAYLOAD_TOO_LARGE');
    await stillHealthy(s);
  });

  test('a 6,000-deep array is 400 JSON_TOO_DEEP', async () => {
    const s = await server();
    problem(await post(s, '['.repeat(6000) + ']'.repeat(6000)), 400, 'JSON_TOO_DEEP');
    await stillHealthy(s);
  });

  test('__proto__ and constructor.prototype keys are 400, escaped forms included', async () => {
    const s = await server();
    for (const payload of [
      '{"__proto__":{"isAdmin":true}}',
      '{"a":{"\\u005f\\u005fproto\\u005f\\u005f":{"isAdmin":true}}}',
      '{"constructor":{"prototype":{"isAdmin":true}}}',
    ]) {
      problem(await post(s, payload), 400, 'FORBIDDEN_PROPERTY');
    }
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    await stillHealthy(s);
  });

  test('malformed JSON and invalid UTF-8 are 400', async () => {
    const s = await server();
    problem(await post(s, '{"email": '), 400, 'MALFORMED_JSON');
    problem(
      await post(s, Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])),
      400,
      'INVALID_ENCODING',
    );
    await stillHealthy(s);
  });

  test('a state-changing route accepts application/json only', async () => {
    const s = await server();
    problem(await post(s, 'email=a@b.c', 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    problem(await post(s, '{"a":1}', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    problem(await post(s, '{"a":1}', 'application/json; charset=latin1'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const ok = await post(s, '{"a":1}', 'application/json; charset=utf-8');
    assert.deepEqual(ok.json(), { body: { a: 1 } });
  });
});

describe('CORS', () => {
  const file = { cors: { origins: ['https://app.example.com'], credentials: true } };

  test('an allowed origin gets exact CORS headers and Vary: Origin', async () => {
    const s = await server({ file });
    const res = await s.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://app.example.com' },
    });
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.match(String(res.headers.vary), /Origin/i);
  });

  test('hostile origins get no CORS headers at all', async () => {
    const s = await server({ file });
    for (const origin of [
      'null',
      'https://app.example.com.evil.example',
      'http://app.example.com',
      'https://evil.example',
    ]) {
      const res = await s.app.inject({ method: 'GET', url: '/healthz', headers: { origin } });
      const cors = Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));
      assert.deepEqual(cors, [], origin);
      assert.match(String(res.headers.vary), /Origin/i);
    }
  });

  test('a preflight answers only the allowed methods and headers, with a bounded Max-Age', async () => {
    const s = await server({ file });
    const ok = await s.app.inject({
      method: 'OPTIONS',
      url: '/healthz',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    assert.equal(ok.statusCode, 204);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.ok(Number(ok.headers['access-control-max-age']) <= 7200);
    const evil = await s.app.inject({
      method: 'OPTIONS',
      url: '/healthz',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' },
    });
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
    const badHeader = await s.app.inject({
      method: 'OPTIONS',
      url: '/healthz',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-evil',
      },
    });
    assert.equal(badHeader.headers['access-control-allow-origin'], undefined);
  });

  test('"*" together with credentials stops the start, naming the field', () => {
    const dir = tempDir();
    const path = `${dir}/c.json`;
    writeFileSync(path, JSON.stringify({ cors: { origins: ['*'], credentials: true } }));
    assert.throws(() => loadConfig({ RAMPART_CONFIG: path }, dir), /cors\.credentials/);
  });
});

describe('client IP', () => {
  const ipOf = (s: TestServer, id: string) =>
    s.logs().find((l) => l.correlationId === id && l.msg === 'request')?.ip;

  test('forwarding headers from an untrusted peer are ignored (spoofing)', async () => {
    const s = await server();
    await s.app.inject({
      method: 'GET',
      url: '/healthz',
      remoteAddress: '198.51.100.7',
      headers: {
        'x-request-id': 'spoof-0000-1',
        'x-forwarded-for': '1.2.3.4',
        'x-real-ip': '1.2.3.4',
        forwarded: 'for=1.2.3.4',
      },
    });
    assert.equal(ipOf(s, 'spoof-0000-1'), '198.51.100.7');
  });

  test('behind a trusted proxy the chain is walked from the right', async () => {
    const s = await server({ file: { trustProxy: ['10.0.0.0/8'] } });
    await s.app.inject({
      method: 'GET',
      url: '/healthz',
      remoteAddress: '10.0.0.2',
      headers: { 'x-request-id': 'proxy-0000-1', 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.1.1' },
    });
    assert.equal(ipOf(s, 'proxy-0000-1'), '203.0.113.9');
  });

  test('an IPv4-mapped IPv6 peer is folded to IPv4', async () => {
    const s = await server();
    await s.app.inject({
      method: 'GET',
      url: '/healthz',
      remoteAddress: '::ffff:198.51.100.8',
      headers: { 'x-request-id': 'mapped-000-1' },
    });
    assert.equal(ipOf(s, 'mapped-000-1'), '198.51.100.8');
  });
});

describe('logging', () => {
  test('credentials never reach the request log', async () => {
    const s = await server();
    await s.app.inject({
      method: 'POST',
      url: '/test/echo?token=qs-token-secret&api_key=qs-key-secret&page=2',
      headers: {
        authorization: 'Bearer header-token-secret',
        cookie: 'sid=cookie-secret',
        'x-api-key': 'rk_live_header-key-secret',
        'content-type': 'application/json',
      },
      payload: JSON.stringify({ password: 'body-password-secret' }),
    });
    const text = s.logText();
    assert.ok(text.includes('page=2'), 'the log line is there');
    for (const secret of [
      'qs-token-secret',
      'qs-key-secret',
      'header-token-secret',
      'cookie-secret',
      'header-key-secret',
      'body-password-secret',
    ]) {
      assert.ok(!text.includes(secret), secret);
    }
  });
});

describe('slow and oversized clients (real sockets)', () => {
  async function listening(file: import('../src/server/config.ts').ConfigFile = {}) {
    const s = await server({ file });
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const address = s.app.server.address();
    return { s, port: typeof address === 'object' && address ? address.port : 0 };
  }

  test('a client that never finishes its headers is cut off by the headers timeout', async () => {
    const { s, port } = await listening({ limits: { headersTimeout: '1s' } });
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '),
      );
      let data = '';
      socket.on('data', (d) => {
        data += d.toString();
      });
      socket.on('close', () => resolve(data));
    });
    assert.match(answer, /^HTTP\/1\.1 408/);
    await stillHealthy(s);
  });

  test('a declared body over the limit is refused before it is sent', async () => {
    const { s, port } = await listening();
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(
          'POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{',
        ),
      );
      let data = '';
      socket.on('data', (d) => {
        data += d.toString();
        if (data.includes('\r\n\r\n') && data.includes('}')) socket.destroy();
      });
      socket.on('close', () => resolve(data));
    });
    assert.match(answer, /^HTTP\/1\.1 413/);
    assert.match(answer, /PAYLOAD_TOO_LARGE/);
    await stillHealthy(s);
  });

  test('an unknown method on the wire is refused, and the server still answers', async () => {
    const { s, port } = await listening();
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write('FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n'),
      );
      let data = '';
      socket.on('data', (d) => {
        data += d.toString();
      });
      socket.on('close', () => resolve(data));
      setTimeout(() => socket.destroy(), 2000).unref();
    });
    assert.match(answer, /^HTTP\/1\.1 (400|405|501)/);
    await stillHealthy(s);
  });
});
