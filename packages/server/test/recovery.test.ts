/**
 * Account recovery and key rotation, attacked (issue 12, items 5 to 7): a reset answers before
 * any per-account work, older reset tokens die with a later reset or change, the password
 * context rule holds on every path that sets a password, login finds an IDN address typed as
 * at registration, and a key can be rotated once however many ask at the same time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type TestServer, testServer } from './helpers.ts';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

const PASSWORD = 'correct horse battery staple';

async function server(options: Parameters<typeof testServer>[0] = {}): Promise<TestServer> {
  const s = await testServer(options);
  servers.push(s);
  return s;
}

async function register(s: TestServer, email: string, name = 'Grace Hopper'): Promise<void> {
  const res = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password: PASSWORD, name },
  });
  assert.equal(res.statusCode, 201, res.body);
}

async function login(s: TestServer, email: string, password = PASSWORD) {
  return s.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } });
}

/** Asks for a reset and returns the token the outbox received for it. */
async function resetToken(s: TestServer, email: string): Promise<string> {
  const before = outboxTokens(s).length;
  const res = await s.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email } });
  assert.equal(res.statusCode, 202);
  await s.idle();
  const tokens = outboxTokens(s);
  assert.equal(tokens.length, before + 1, 'one mail per request');
  return tokens.at(-1)!;
}

function outboxTokens(s: TestServer): string[] {
  let text = '';
  try {
    text = readFileSync(join(s.dataDir, 'outbox.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return [...text.matchAll(/rst_[0-9A-Za-z]{43}/g)].map((m) => m[0]);
}

function confirm(s: TestServer, token: string, password: string) {
  return s.app.inject({
    method: 'POST',
    url: '/v1/auth/password-reset/confirm',
    payload: { token, password },
  });
}

describe('a reset request tells nothing about the account', () => {
  test('a known address is answered 202 while its mail is still stuck at an SMTP server that never replies', {
    timeout: 20_000,
  }, async () => {
    // An SMTP server that accepts the connection and never says a word: any mail written before
    // the answer would hold the answer until the mailer gives up.
    const sockets = new Set<Socket>();
    const smtp = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.address() as { port: number }).port;
    try {
      const s = await testServer({ env: { RAMPART_SMTP_URL: `smtp://127.0.0.1:${port}` } });
      try {
        await register(s, 'known@example.com');
        const known = await s.app.inject({
          method: 'POST',
          url: '/v1/auth/password-reset',
          payload: { email: 'known@example.com' },
        });
        const unknown = await s.app.inject({
          method: 'POST',
          url: '/v1/auth/password-reset',
          payload: { email: 'nobody@example.com' },
        });
        assert.equal(known.statusCode, 202);
        assert.equal(known.body, unknown.body, 'the same body for both');
        const shape = (r: typeof known) =>
          Object.keys(r.headers)
            .filter((h) => h !== 'date')
            .sort();
        assert.deepEqual(shape(known), shape(unknown), 'the same headers for both');
        // The known address's mail did set off, after the answer: it reaches the SMTP server.
        while (sockets.size === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      } finally {
        for (const socket of sockets) socket.destroy();
        await s.close();
      }
    } finally {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  });
});

describe('after a reset or a password change', () => {
  test('every older reset token stops working: a second reset voids the first, a change voids both', async () => {
    const s = await server();
    await register(s, 'grace@example.com');
    const first = await resetToken(s, 'grace@example.com');
    const second = await resetToken(s, 'grace@example.com');
    assert.equal((await confirm(s, second, 'a brand new passphrase 1')).statusCode, 204);
    const stale = await confirm(s, first, 'another new passphrase 2');
    assert.equal(stale.statusCode, 400);
    assert.equal(stale.json().code, 'INVALID_RESET_TOKEN');
    assert.equal((await login(s, 'grace@example.com', 'a brand new passphrase 1')).statusCode, 200);

    // A token asked for, then a password change: the token is worthless afterwards.
    const pending = await resetToken(s, 'grace@example.com');
    const access = (await login(s, 'grace@example.com', 'a brand new passphrase 1')).json().access_token;
    const change = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/password',
      headers: { authorization: `Bearer ${access}` },
      payload: { currentPassword: 'a brand new passphrase 1', newPassword: 'changed on purpose 3' },
    });
    assert.equal(change.statusCode, 204, change.body);
    const after = await confirm(s, pending, 'an attacker picks this one');
    assert.equal(after.json().code, 'INVALID_RESET_TOKEN');
    assert.equal((await login(s, 'grace@example.com', 'changed on purpose 3')).statusCode, 200);
  });

  test('a new password containing the name or the e-mail is refused at reset and at change, as at register', async () => {
    const s = await server();
    await register(s, 'ada.lovelace@example.com', 'Ada Lovelace');
    const token = await resetToken(s, 'ada.lovelace@example.com');
    for (const weak of ['lovelace forever 1815', 'my ada.lovelace@example.com']) {
      const res = await confirm(s, token, weak);
      assert.equal(res.statusCode, 400, weak);
      assert.equal(res.json().code, 'VALIDATION_FAILED');
      assert.ok(!res.body.includes(weak), 'the password is never echoed');
    }
    // The refused tries set nothing and did not use the token up.
    assert.equal((await login(s, 'ada.lovelace@example.com')).statusCode, 200);
    assert.equal((await confirm(s, token, 'an unrelated passphrase')).statusCode, 204);
    assert.equal((await confirm(s, token, 'and once more, refused')).json().code, 'INVALID_RESET_TOKEN');

    const access = (await login(s, 'ada.lovelace@example.com', 'an unrelated passphrase')).json()
      .access_token;
    const change = await s.app.inject({
      method: 'POST',
      url: '/v1/auth/password',
      headers: { authorization: `Bearer ${access}` },
      payload: { currentPassword: 'an unrelated passphrase', newPassword: 'ADA LOVELACE rules' },
    });
    assert.equal(change.statusCode, 400, change.body);
    assert.equal(change.json().code, 'VALIDATION_FAILED');
    const still = await login(s, 'ada.lovelace@example.com', 'an unrelated passphrase');
    assert.equal(still.statusCode, 200, 'the password in place still works');
  });

  test('an IDN address logs in typed exactly as it was registered, in Unicode or in punycode', async () => {
    const s = await server();
    await register(s, 'Juergen@Bücher.example');
    assert.equal((await login(s, 'Juergen@Bücher.example')).statusCode, 200, 'as typed');
    assert.equal((await login(s, 'juergen@bücher.example')).statusCode, 200, 'in another case');
    assert.equal((await login(s, 'juergen@xn--bcher-kva.example')).statusCode, 200, 'the domain in punycode');
    const wrong = await login(s, 'juergen@bucher.example');
    assert.equal(wrong.statusCode, 401, 'a look-alike domain is another account');
  });

  test('an API key made before a reset keeps working (documented: keys are revoked by hand)', async () => {
    const s = await server();
    await register(s, 'owner@example.com');
    const access = (await login(s, 'owner@example.com')).json().access_token;
    const made = await s.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { authorization: `Bearer ${access}` },
      payload: { name: 'ci', scopes: [] },
    });
    assert.equal(made.statusCode, 201, made.body);
    const token = await resetToken(s, 'owner@example.com');
    assert.equal((await confirm(s, token, 'a fresh passphrase here')).statusCode, 204);
    const me = await s.app.inject({
      method: 'GET',
      url: '/v1/me',
      headers: { authorization: `Bearer ${access}` },
    });
    assert.equal(me.statusCode, 401, 'the session ended with the reset');
    const byKey = await s.app.inject({
      method: 'GET',
      url: '/v1/me',
      headers: { 'x-api-key': made.json().key },
    });
    assert.notEqual(byKey.statusCode, 401, 'the key still authenticates: docs/api-keys.md says to revoke it');
  });
});

describe('rotation', () => {
  test('10 simultaneous rotations of one key: exactly one succeeds, the others answer KEY_ROTATED or a conflict', async () => {
    const s = await server();
    const admin = readFileSync(join(s.dataDir, 'admin-key'), 'utf8').trim();
    const made = await s.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { 'x-api-key': admin },
      payload: { name: 'raced', scopes: [] },
    });
    assert.equal(made.statusCode, 201);
    const id = made.json().id as string;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        s.app.inject({
          method: 'POST',
          url: `/v1/keys/${id}/rotate`,
          headers: { 'x-api-key': admin },
          payload: { gracePeriod: '1h' },
        }),
      ),
    );
    const statuses = answers.map((a) => a.statusCode);
    assert.equal(statuses.filter((c) => c === 201).length, 1, String(statuses));
    for (const a of answers.filter((x) => x.statusCode !== 201)) {
      assert.equal(a.statusCode, 409, a.body);
      assert.ok(['KEY_ROTATED', 'CONFLICT'].includes(a.json().code), a.body);
    }
    const list = await s.app.inject({
      method: 'GET',
      url: '/v1/keys?limit=100',
      headers: { 'x-api-key': admin },
    });
    const named = (list.json().keys as Array<{ name: string }>).filter((k) => k.name === 'raced');
    assert.equal(named.length, 2, 'the key and one successor, no more');
  });
});
