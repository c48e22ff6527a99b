import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify, SignJWT } from 'jose';
import { SMTPServer } from 'smtp-server';
import { type TestServer, testServer } from './helpers.ts';

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function server(options: Parameters<typeof testServer>[0] = {}): Promise<TestServer> {
  const s = await testServer(options);
  servers.push(s);
  return s;
}

const PASSWORD = 'correct horse battery staple';
let counter = 0;

async function register(s: TestServer, email = `user${++counter}@example.com`, password = PASSWORD) {
  const res = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password, name: 'Ada Lovelace' },
  });
  assert.equal(res.statusCode, 201, res.body);
  return { email, password, user: res.json() };
}

async function login(s: TestServer, email: string, password = PASSWORD) {
  const res = await s.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as {
    access_token: string;
    refresh_token: string;
    expires_in: number;
    token_type: string;
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('accounts', () => {
  test('register answers the public user, never the hash', async () => {
    const s = await server();
    const { user } = await register(s, 'Ada@Example.COM');
    assert.match(user.id, /^usr_/);
    assert.equal(user.email, 'Ada@example.com');
    assert.equal(user.role, 'user');
    assert.ok(!Number.isNaN(Date.parse(user.createdAt)));
    assert.deepEqual(Object.keys(user).sort(), ['createdAt', 'email', 'emailVerified', 'id', 'name', 'role']);
    assert.equal(user.emailVerified, false);
  });

  test('an email is unique regardless of case: 409 EMAIL_TAKEN', async () => {
    const s = await server();
    await register(s, 'bob@example.com');
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { email: 'BOB@example.com', password: PASSWORD, name: 'Bob' },
    });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'EMAIL_TAKEN');
  });

  test('invalid input is 400 with field errors, and unknown properties (mass assignment) are refused', async () => {
    const s = await server();
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { email: 'not-an-email', password: 'password', name: '<script>x</script>', role: 'admin' },
    });
    assert.equal(res.statusCode, 400);
    const body = res.json();
    assert.equal(body.code, 'VALIDATION_FAILED');
    const paths = body.errors.map((e: { path: string }) => e.path);
    assert.ok(paths.includes('/email'), paths.join());
    assert.ok(
      body.errors.some((e: { code: string }) => e.code === 'unrecognized_keys'),
      JSON.stringify(body.errors),
    );
  });

  test('a common password is refused', async () => {
    const s = await server();
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { email: 'c@example.com', password: 'password1', name: 'Carol' },
    });
    assert.equal(res.statusCode, 400);
    assert.ok(
      res
        .json()
        .errors.some(
          (e: { path: string; code: string }) => e.path === '/password' && e.code === 'common_password',
        ),
    );
  });

  test('login: unknown email and wrong password get the same 401 answer', async () => {
    const s = await server();
    const { email } = await register(s);
    const wrong = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email, password: 'nope nope nope' },
    });
    const unknown = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'ghost@example.com', password: 'nope nope nope' },
    });
    for (const res of [wrong, unknown]) {
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().code, 'INVALID_CREDENTIALS');
    }
    const strip = (b: Record<string, unknown>) => ({ ...b, requestId: undefined });
    assert.deepEqual(strip(wrong.json()), strip(unknown.json()));
  });

  test('login issues an RFC 9068 access token and an opaque refresh token', async () => {
    const s = await server();
    const { email, user } = await register(s);
    const pair = await login(s, email);
    assert.equal(pair.token_type, 'Bearer');
    assert.equal(pair.expires_in, 900);
    assert.match(pair.refresh_token, /^rt_[0-9A-Za-z]{43}$/);
    const [header, payload] = pair.access_token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'EdDSA');
    assert.equal(typeof header.kid, 'string');
    assert.equal(payload.sub, user.id);
    for (const claim of ['iss', 'aud', 'exp', 'iat', 'jti']) assert.ok(payload[claim] !== undefined, claim);
    const me = await s.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(pair.access_token) });
    assert.deepEqual(me.json(), {
      id: user.id,
      email,
      name: 'Ada Lovelace',
      role: 'user',
      emailVerified: false,
    });
    const protectedRes = await s.app.inject({
      method: 'GET',
      url: '/api/protected',
      headers: bearer(pair.access_token),
    });
    assert.deepEqual(protectedRes.json(), {
      message: 'Access granted',
      user: { userId: user.id, role: 'user' },
    });
  });
});

describe('RFC 6750 answers', () => {
  test('no credentials: 401 with a bare Bearer challenge', async () => {
    const s = await server();
    const res = await s.app.inject({ method: 'GET', url: '/api/protected' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="rampart"');
    assert.equal(res.json().code, 'UNAUTHENTICATED');
  });

  test('a bad token: 401 invalid_token (the tutorial said 403)', async () => {
    const s = await server();
    for (const token of ['garbage', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'a.b.c.d.e']) {
      const res = await s.app.inject({ method: 'GET', url: '/api/protected', headers: bearer(token) });
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="rampart", error="invalid_token"');
      assert.equal(res.json().code, 'INVALID_TOKEN');
    }
  });

  test('a token in the query string is refused', async () => {
    const s = await server();
    const res = await s.app.inject({ method: 'GET', url: '/api/protected?access_token=abc' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'CREDENTIAL_IN_QUERY');
  });

  test('an HS256 token signed with the server public key (algorithm confusion) is refused', async () => {
    const s = await server();
    const jwks = (await s.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const publicJwk = JSON.stringify(jwks.keys[0]);
    const forged = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwks.keys[0].kid })
      .setSubject('usr_attacker')
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti('x')
      .sign(new TextEncoder().encode(publicJwk));
    const res = await s.app.inject({ method: 'GET', url: '/api/protected', headers: bearer(forged) });
    assert.equal(res.statusCode, 401);
  });

  test('a refresh token presented as an access token is refused', async () => {
    const s = await server();
    const { email } = await register(s);
    const pair = await login(s, email);
    const res = await s.app.inject({
      method: 'GET',
      url: '/api/protected',
      headers: bearer(pair.refresh_token),
    });
    assert.equal(res.statusCode, 401);
  });
});

describe('refresh tokens', () => {
  test('a refresh returns a new pair and the old refresh token stops working', async () => {
    const s = await server();
    const { email } = await register(s);
    const first = await login(s, email);
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: first.refresh_token },
    });
    assert.equal(res.statusCode, 200, res.body);
    const second = res.json();
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/api/protected', headers: bearer(second.access_token) }))
        .statusCode,
      200,
    );
    const again = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: first.refresh_token },
    });
    assert.equal(again.statusCode, 401);
    assert.equal(again.json().code, 'INVALID_REFRESH_TOKEN');
  });

  test('refresh token reuse revokes the whole family, access tokens included', async () => {
    const s = await server();
    const { email } = await register(s);
    const first = await login(s, email);
    const second = (
      await s.app.inject({
        method: 'POST',
        url: '/v1/auth/refresh',
        payload: { refresh_token: first.refresh_token },
      })
    ).json();
    // The thief replays the first token: the family dies.
    const replay = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: first.refresh_token },
    });
    assert.equal(replay.statusCode, 401);
    const legit = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: second.refresh_token },
    });
    assert.equal(legit.statusCode, 401, 'the successor died with its family');
    const access = await s.app.inject({
      method: 'GET',
      url: '/api/protected',
      headers: bearer(second.access_token),
    });
    assert.equal(access.statusCode, 401, 'access tokens of the family die too');
    await s.context.audit.flush();
    const events = (await s.context.storage.audit.list({ limit: 50, type: 'authn_token_reuse' })).events;
    assert.equal(events.length, 1);
  });

  test('20 simultaneous refreshes with one token: exactly one succeeds', async () => {
    const s = await server({ storage: 'sqlite' });
    const { email } = await register(s);
    const { refresh_token } = await login(s, email);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        s.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token } }),
      ),
    );
    assert.equal(results.filter((r) => r.statusCode === 200).length, 1);
    assert.ok(results.every((r) => r.statusCode === 200 || r.statusCode === 401));
  });
});

describe('logout and password changes', () => {
  test('logout ends the access token and its refresh family at once', async () => {
    const s = await server();
    const { email } = await register(s);
    const pair = await login(s, email);
    const out = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(pair.access_token),
    });
    assert.equal(out.statusCode, 204);
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(pair.access_token) })).statusCode,
      401,
    );
    const refresh = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: pair.refresh_token },
    });
    assert.equal(refresh.statusCode, 401);
  });

  test('logout cannot end another user session through their refresh token', async () => {
    const s = await server();
    const a = await register(s);
    const b = await register(s);
    const pa = await login(s, a.email);
    const pb = await login(s, b.email);
    await s.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: { ...bearer(pa.access_token), 'content-type': 'application/json' },
      payload: { refresh_token: pb.refresh_token },
    });
    const refresh = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: pb.refresh_token },
    });
    assert.equal(refresh.statusCode, 200);
  });

  test('the password-reset flow: 202 for everyone, single-use token, every session ended', async () => {
    const s = await server();
    const { email } = await register(s);
    const before = await login(s, email);
    const known = await s.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email } });
    const unknown = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset',
      payload: { email: 'nobody@example.com' },
    });
    assert.equal(known.statusCode, 202);
    assert.equal(unknown.statusCode, 202);
    assert.equal(known.body, unknown.body);
    await s.idle();
    const outbox = readFileSync(join(s.dataDir, 'outbox.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { subject: string; text: string })
      .filter((mail) => mail.subject === 'Reset your password');
    assert.equal(outbox.length, 1, 'mail only for the real account');
    const token = /rst_[0-9A-Za-z]{43}/.exec(outbox[0]!.text)![0];
    const newPassword = 'a brand new passphrase 42';
    const confirm = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset/confirm',
      payload: { token, password: newPassword },
    });
    assert.equal(confirm.statusCode, 204, confirm.body);
    const twice = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset/confirm',
      payload: { token, password: newPassword },
    });
    assert.equal(twice.statusCode, 400);
    assert.equal(twice.json().code, 'INVALID_RESET_TOKEN');
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(before.access_token) })).statusCode,
      401,
    );
    const oldRefresh = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: before.refresh_token },
    });
    assert.equal(oldRefresh.statusCode, 401);
    await login(s, email, newPassword);
    const oldPassword = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    assert.equal(oldPassword.statusCode, 401);
  });

  test('the reset mail travels over real SMTP', async () => {
    const received: string[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, _session, callback) {
        let data = '';
        stream.on('data', (d: Buffer) => {
          data += d.toString();
        });
        stream.on('end', () => {
          received.push(data);
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.server.address() as { port: number }).port;
    try {
      const s = await server({
        env: { RAMPART_SMTP_URL: `smtp://127.0.0.1:${port}`, RAMPART_MAIL_FROM: 'security@example.com' },
      });
      const { email } = await register(s);
      await s.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email } });
      await s.idle();
      const resets = () => received.filter((m) => m.includes('Subject: Reset your password'));
      for (let i = 0; i < 100 && resets().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(resets().length, 1);
      const mail = resets()[0]!;
      assert.match(mail, /To: user\d+@example\.com/);
      const token = /rst_[0-9A-Za-z]{43}/.exec(mail.replace(/=\r\n/g, ''))![0];
      const confirm = await s.app.inject({
        method: 'POST',
        url: '/v1/auth/password-reset/confirm',
        payload: { token, password: 'smtp delivered passphrase' },
      });
      assert.equal(confirm.statusCode, 204);
    } finally {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  });
});

describe('signing keys', () => {
  test('a token verifies with jose createRemoteJWKSet against the running server, before and after rotation', async () => {
    const s = await server();
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (s.app.server.address() as { port: number }).port;
    const { email } = await register(s);
    const check = async () => {
      const { access_token } = await login(s, email);
      const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(access_token, jwks, {
        issuer: s.context.config.tokens.issuer,
        audience: s.context.config.tokens.audience,
        typ: 'at+jwt',
      });
      return { payload, kid: protectedHeader.kid, token: access_token };
    };
    const before = await check();
    await s.context.keyRing.rotate();
    const afterRotation = await check();
    assert.notEqual(before.kid, afterRotation.kid);
    const jwks = (await s.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    assert.deepEqual(
      jwks.keys.map((k: { kid: string }) => k.kid).sort(),
      [before.kid, afterRotation.kid].sort(),
    );
    for (const key of jwks.keys)
      for (const secret of ['d', 'p', 'q', 'k']) assert.equal(key[secret], undefined);
    // The token signed before rotation still works until it expires.
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/api/protected', headers: bearer(before.token) }))
        .statusCode,
      200,
    );
  });

  test('the private key file is mode 0600', async () => {
    const s = await server();
    const { statSync } = await import('node:fs');
    assert.equal(statSync(join(s.dataDir, 'signing-keys.json')).mode & 0o777, 0o600);
  });
});

describe('no secrets in events, logs or the database', () => {
  test('passwords and tokens used in a session never appear in the log output or the database files', async () => {
    const s = await server({ storage: 'sqlite' });
    const password = 'unique-password-marker-7731';
    const { email } = await register(s, 'secret-test@example.com', password);
    await s.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email, password: 'wrong-password-marker-9912' },
    });
    const pair = await login(s, email, password);
    await s.app.inject({ method: 'GET', url: '/api/protected', headers: bearer(`${pair.access_token}x`) });
    const refreshed = (
      await s.app.inject({
        method: 'POST',
        url: '/v1/auth/refresh',
        payload: { refresh_token: pair.refresh_token },
      })
    ).json();
    await s.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: pair.refresh_token },
    });
    await s.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email } });
    await s.app.inject({ method: 'GET', url: `/api/protected?access_token=${pair.access_token}` });
    await s.close();
    const resetToken = /rst_[0-9A-Za-z]{43}/.exec(readFileSync(join(s.dataDir, 'outbox.jsonl'), 'utf8'))![0];
    const verifyToken = /ver_[0-9A-Za-z]{43}/.exec(readFileSync(join(s.dataDir, 'outbox.jsonl'), 'utf8'))![0];
    const secrets = [
      password,
      'wrong-password-marker-9912',
      pair.access_token,
      pair.access_token.split('.')[2]!,
      pair.refresh_token,
      refreshed.access_token,
      refreshed.refresh_token,
      resetToken,
      verifyToken,
    ];
    const haystacks: Array<[string, string]> = [['log output', s.logText()]];
    for (const file of readdirSync(s.dataDir)) {
      if (file === 'outbox.jsonl') continue; // the dev mailbox is where the reset token is meant to be
      haystacks.push([file, readFileSync(join(s.dataDir, file)).toString('latin1')]);
    }
    assert.ok(haystacks.some(([name]) => name === 'rampart.db'));
    for (const [name, text] of haystacks) {
      for (const secret of secrets)
        assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 6)}…) is in ${name}`);
    }
    assert.ok(s.logText().includes('authn_login_fail'), 'the events were logged');
  });
});
