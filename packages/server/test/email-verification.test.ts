/**
 * E-mail verification: a mail at registration, `POST /v1/auth/verify-email` (single use), a
 * resend, and `accounts.requireVerifiedEmail`, which keeps an unproven account from minting
 * API keys (a key is a credential that outlives a password reset).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type TestServer, testServer } from './helpers.ts';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

const PASSWORD = 'correct horse battery staple';

async function signUp(s: TestServer, email: string): Promise<string> {
  const res = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password: PASSWORD, name: 'Ada Lovelace' },
  });
  assert.equal(res.statusCode, 201);
  assert.equal(res.json().emailVerified, false);
  const login = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email, password: PASSWORD },
  });
  return login.json().access_token as string;
}

async function verificationTokens(s: TestServer, email: string): Promise<string[]> {
  await s.idle();
  return readFileSync(join(s.dataDir, 'outbox.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { to: string; subject: string; text: string })
    .filter((mail) => mail.to === email && mail.subject === 'Verify your e-mail address')
    .map((mail) => /ver_[0-9A-Za-z]{43}/.exec(mail.text)![0]);
}

test('registration mails a link; the token verifies the address once', async () => {
  const s = await testServer();
  servers.push(s);
  const token = await signUp(s, 'ada@example.com');
  const [link] = await verificationTokens(s, 'ada@example.com');
  assert.ok(link);
  const verify = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/verify-email',
    payload: { token: link },
  });
  assert.equal(verify.statusCode, 204);
  const me = await s.app.inject({
    method: 'GET',
    url: '/v1/me',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(me.json().emailVerified, true);
  const again = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/verify-email',
    payload: { token: link },
  });
  assert.equal(again.statusCode, 400);
  assert.equal(again.json().code, 'INVALID_VERIFICATION_TOKEN');
  for (const bad of ['ver_short', 'rst_' + 'A'.repeat(43), 'x'.repeat(200)]) {
    const res = await s.app.inject({ method: 'POST', url: '/v1/auth/verify-email', payload: { token: bad } });
    assert.equal(res.json().code, 'INVALID_VERIFICATION_TOKEN');
  }
});

test('with accounts.requireVerifiedEmail, an unverified account cannot mint API keys until it proves its address', async () => {
  const s = await testServer({ file: { accounts: { requireVerifiedEmail: true } } });
  servers.push(s);
  const token = await signUp(s, 'grace@example.com');
  const create = () =>
    s.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { authorization: `Bearer ${token}` },
      payload: { name: 'mine', scopes: [] },
    });
  const refused = await create();
  assert.equal(refused.statusCode, 403);
  assert.equal(refused.json().code, 'EMAIL_NOT_VERIFIED');
  // The resend sends a second link; either one works.
  const resend = await s.app.inject({
    method: 'POST',
    url: '/v1/auth/verify-email/resend',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(resend.statusCode, 202);
  const links = await verificationTokens(s, 'grace@example.com');
  assert.equal(links.length, 2);
  assert.equal(
    (await s.app.inject({ method: 'POST', url: '/v1/auth/verify-email', payload: { token: links[1] } }))
      .statusCode,
    204,
  );
  assert.equal((await create()).statusCode, 201);
});
