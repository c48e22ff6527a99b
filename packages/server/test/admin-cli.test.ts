import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { rampart } from './cli.ts';
import { tempDir } from './helpers.ts';

/** The admin plane's commands on a data dir: users, keys update and usage, plans and identities, audit export. */

describe('admin commands', () => {
  test('users create reads the password from stdin and never prints it; list, set-role, disable, enable, delete', () => {
    const env = { RAMPART_DATA_DIR: tempDir() };
    const password = 'correct horse battery staple';
    const made = rampart(
      ['users', 'create', '--email', 'Ada@Example.com', '--name', 'Ada', '--role', 'admin', '--json'],
      {
        env,
        input: `${password}\n`,
      },
    );
    assert.equal(made.code, 0, made.stderr);
    assert.ok(!made.stdout.includes(password) && !made.stderr.includes(password));
    const ada = JSON.parse(made.stdout);
    assert.equal(ada.role, 'admin');
    const weak = rampart(['users', 'create', '--email', 'b@example.com', '--name', 'Bo'], {
      env,
      input: 'short\n',
    });
    assert.equal(weak.code, 2);
    assert.match(weak.stderr, /password/);
    assert.equal(
      rampart(['users', 'create', '--email', 'b@example.com', '--name', 'Bob'], {
        env,
        input: `${password}\n`,
      }).code,
      0,
    );
    const list = rampart(['users', 'list', '--role', 'admin', '--json'], { env });
    assert.deepEqual(
      JSON.parse(list.stdout).users.map((u: { email: string }) => u.email),
      ['Ada@example.com'],
    );
    const last = rampart(['users', 'disable', 'ada@example.com'], { env });
    assert.equal(last.code, 1);
    assert.match(last.stderr, /last enabled admin/);
    assert.equal(rampart(['users', 'set-role', 'b@example.com', 'admin'], { env }).code, 0);
    assert.equal(rampart(['users', 'disable', ada.id], { env }).code, 0);
    assert.equal(JSON.parse(rampart(['users', 'show', ada.id, '--json'], { env }).stdout).status, 'disabled');
    assert.equal(rampart(['users', 'enable', ada.id], { env }).code, 0);
    assert.equal(rampart(['users', 'end-sessions', 'ada@example.com'], { env }).code, 0);
    assert.equal(rampart(['users', 'delete', 'ada@example.com'], { env }).code, 0);
    assert.equal(rampart(['users', 'show', 'ada@example.com'], { env }).code, 1);
    const audit = rampart(['audit', '--json', '--limit', '50'], { env });
    const types = JSON.parse(audit.stdout).events.map((e: { type: string }) => e.type);
    for (const type of [
      'user_created',
      'user_updated',
      'user_disabled',
      'user_enabled',
      'user_sessions_ended',
      'user_deleted',
    ]) {
      assert.ok(types.includes(type), type);
    }
  });

  test('keys update and usage, plans and identities, audit export as JSON Lines into a new 0600 file', () => {
    const dir = tempDir();
    const env = { RAMPART_DATA_DIR: dir };
    const made = JSON.parse(rampart(['keys', 'create', '--name', 'ci', '--json'], { env }).stdout);
    const updated = rampart(
      ['keys', 'update', made.id, '--disable', '--credits', '5', '--rate-limit', '10/1m', '--json'],
      { env },
    );
    assert.equal(updated.code, 0, updated.stderr);
    const view = JSON.parse(updated.stdout);
    assert.equal(view.status, 'disabled');
    assert.equal(view.credits.remaining, 5);
    assert.ok(!updated.stdout.includes(made.key), 'never the secret');
    assert.equal(
      JSON.parse(
        rampart(['keys', 'update', made.id, '--enable', '--add-credits=-2', '--json'], { env }).stdout,
      ).credits.remaining,
      3,
    );
    assert.equal(rampart(['keys', 'update', made.id], { env }).code, 2, 'nothing to change');
    assert.equal(rampart(['keys', 'update', made.id, '--enable', '--disable'], { env }).code, 2);
    const capped = rampart(['keys', 'usage', made.id, '--granularity', 'minute', '--since', '2d'], { env });
    assert.equal(capped.code, 2, 'a day of minute buckets at most');
    assert.equal(
      rampart(['keys', 'usage', made.id, '--granularity', 'minute', '--since', '2h'], { env }).code,
      0,
    );
    assert.match(rampart(['keys', 'usage', made.id, '--json'], { env }).stdout, /"total":0/);

    assert.equal(
      rampart(
        ['plans', 'create', '--name', 'pro', '--rate-limits', '100/1m,10000/1d:daily', '--credits', '1000'],
        { env },
      ).code,
      0,
    );
    const identity = JSON.parse(
      rampart(
        ['identities', 'create', '--external-id', 'cust-1', '--name', 'Acme', '--plan', 'pro', '--json'],
        { env },
      ).stdout,
    );
    assert.equal(identity.credits.remaining, 1000, 'the plan grants its credits');
    assert.deepEqual(
      identity.effective.rateLimits.map((l: { name: string }) => l.name),
      ['default', 'daily'],
    );
    const over = JSON.parse(
      rampart(['identities', 'update', 'cust-1', '--rate-limits', '5/1m', '--add-credits=-10', '--json'], {
        env,
      }).stdout,
    );
    assert.equal(over.credits.remaining, 990);
    assert.deepEqual(over.effective.rateLimits, [{ name: 'default', limit: 5, windowMs: 60_000 }]);
    assert.match(rampart(['plans', 'delete', 'pro'], { env }).stderr, /identities are on this plan/);
    assert.equal(rampart(['identities', 'delete', 'cust-1'], { env }).code, 0);
    assert.equal(rampart(['plans', 'delete', 'pro'], { env }).code, 0);

    const out = join(dir, 'audit.jsonl');
    const exported = rampart(['audit', 'export', '--out', out], { env });
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(lines.some((e) => e.type === 'key_updated' && e.detail.fields.includes('credits')));
    assert.ok(
      lines.some((e) => e.type === 'plan_created') && lines.some((e) => e.type === 'identity_updated'),
    );
    assert.equal(rampart(['audit', 'export', '--out', out], { env }).code, 1, 'never over an existing file');
    const stdout = rampart(['audit', 'export', '--type', 'plan_deleted'], { env });
    assert.equal(stdout.stdout.trim().split('\n').length, 1);
  });
});
