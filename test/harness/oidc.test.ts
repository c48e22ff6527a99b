import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startCountingServer, startOidcProvider } from './oidc.ts';

test('the OIDC harness runs a real oidc-provider that issues JWT access tokens, rotates keys, stops and starts', async () => {
  const op = await startOidcProvider({ audiences: ['https://api.one.test', 'https://api.two.test'] });
  try {
    assert.match(op.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    const discovery = (await (await fetch(op.discoveryUrl)).json()) as Record<string, unknown>;
    assert.equal(discovery.issuer, op.issuer);
    assert.equal(discovery.jwks_uri, op.jwksUri);

    const token = await op.token({
      audience: 'https://api.two.test',
      scope: 'read',
      claims: { roles: ['r'] },
    });
    const header = decodeProtectedHeader(token);
    assert.deepEqual(header, { alg: 'RS256', typ: 'at+jwt', kid: op.signingKeys[0]!.kid });
    const claims = decodeJwt(token);
    assert.equal(claims.iss, op.issuer);
    assert.equal(claims.aud, 'https://api.two.test');
    assert.equal(claims.scope, 'read');
    assert.deepEqual(claims.roles, ['r']);

    const first = op.signingKeys[0]!.kid;
    const next = await op.rotate();
    assert.equal(decodeProtectedHeader(await op.token()).kid, next.kid);
    const jwks = (await (await fetch(op.jwksUri)).json()) as { keys: Array<{ kid: string; d?: string }> };
    assert.deepEqual(jwks.keys.map((key) => key.kid).sort(), [first, next.kid].sort());
    assert.ok(
      jwks.keys.every((key) => key.d === undefined),
      'the JWKS holds public keys only',
    );

    assert.equal(op.count('/jwks'), 1);
    assert.equal(op.count('/token'), 2);
    op.resetRequests();
    await op.stop();
    await assert.rejects(fetch(op.jwksUri));
    await op.start();
    assert.equal((await fetch(op.jwksUri)).status, 200);
    assert.deepEqual(op.requests, ['/jwks']);
  } finally {
    await op.stop();
  }
});

test('a stalled provider counts the request and never answers it', async () => {
  const op = await startOidcProvider();
  try {
    op.stall(true);
    await assert.rejects(fetch(op.jwksUri, { signal: AbortSignal.timeout(200) }), { name: 'TimeoutError' });
    assert.equal(op.count('/jwks'), 1);
    op.stall(false);
    assert.equal((await fetch(op.jwksUri)).status, 200);
  } finally {
    await op.stop();
  }
});

test('the counting server records what reaches it', async () => {
  const trap = await startCountingServer();
  try {
    assert.equal((await fetch(`${trap.url}/x?y=1`)).status, 404);
    assert.deepEqual(trap.requests, ['/x?y=1']);
  } finally {
    await trap.stop();
  }
});

test('without oidc-provider installed the harness fails naming the npm package', () => {
  // A copy of the harness outside the repository resolves no node_modules of ours.
  const dir = mkdtempSync(join(tmpdir(), 'rampart-oidc-harness-'));
  try {
    copyFileSync(new URL('./oidc.ts', import.meta.url), join(dir, 'oidc.ts'));
    const script = `import('${join(dir, 'oidc.ts')}').then((m) => m.startOidcProvider()).then(
      () => process.exit(0),
      (e) => { console.log(e.message); process.exit(3); })`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(result.status, 3, result.stderr);
    assert.match(result.stdout, /npm package "oidc-provider"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
