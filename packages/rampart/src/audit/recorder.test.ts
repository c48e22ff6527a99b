import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEvent } from './events.ts';
import { memoryAuditStore } from './memory-store.ts';
import { createAuditRecorder } from './recorder.ts';

function setup() {
  let t = 1_000_000;
  const storage = { audit: memoryAuditStore() };
  const logged: AuditEvent[] = [];
  const recorder = createAuditRecorder({ store: storage.audit, log: (e) => logged.push(e), now: () => t });
  return { storage, logged, recorder, advance: (ms: number) => (t += ms) };
}

test('events reach storage only when flushed, not on the caller path', async () => {
  const { storage, recorder } = setup();
  recorder.record({ type: 'user_created', outcome: 'success', actor: 'usr_1' });
  assert.equal((await storage.audit.list({ limit: 10 })).events.length, 0);
  await recorder.flush();
  const [event] = (await storage.audit.list({ limit: 10 })).events;
  assert.equal(event?.type, 'user_created');
  assert.match(event?.id ?? '', /^evt_/);
  await recorder.close();
});

test('a flood of identical failures from one source becomes one row and one count', async () => {
  const { storage, logged, recorder, advance } = setup();
  for (let i = 0; i < 10_000; i++) {
    recorder.record({
      type: 'authn_token_invalid',
      outcome: 'failure',
      ip: '203.0.113.9',
      detail: { reason: 'x' },
    });
  }
  advance(61_000);
  await recorder.flush();
  const rows = (await storage.audit.list({ limit: 100 })).events;
  assert.equal(rows.length, 2);
  assert.equal(
    rows.reduce((n, e) => n + e.count, 0),
    10_000,
  );
  assert.equal(logged.length, 2);
  await recorder.close();
});

test('different sources are not collapsed together', async () => {
  const { storage, recorder } = setup();
  recorder.record({ type: 'authn_login_fail', outcome: 'failure', ip: '203.0.113.1' });
  recorder.record({ type: 'authn_login_fail', outcome: 'failure', ip: '203.0.113.2' });
  await recorder.close();
  assert.equal((await storage.audit.list({ limit: 10 })).events.length, 2);
});

test('secret-named detail fields never reach a row or a log line', async () => {
  const { storage, logged, recorder } = setup();
  recorder.record({
    type: 'authn_login_fail',
    outcome: 'failure',
    detail: {
      password: 'hunter2-secret',
      nested: { refresh_token: 'rt_abc', apiKey: 'rk_live_x' },
      keyId: 'key_1',
    },
  });
  await recorder.close();
  const text = JSON.stringify([logged, (await storage.audit.list({ limit: 10 })).events]);
  for (const secret of ['hunter2-secret', 'rt_abc', 'rk_live_x']) assert.ok(!text.includes(secret), secret);
  assert.ok(text.includes('key_1'));
});

test('close() writes out the counts of windows still open', async () => {
  const { storage, recorder } = setup();
  for (let i = 0; i < 5; i++) recorder.record({ type: 'authz_fail', outcome: 'failure', actor: 'usr_9' });
  await recorder.close();
  const rows = (await storage.audit.list({ limit: 10 })).events;
  assert.equal(
    rows.reduce((n, e) => n + e.count, 0),
    5,
  );
});

test('rows survive a failing store and are written when it returns', async () => {
  const storage = { audit: memoryAuditStore() };
  let failing = true;
  const errors: unknown[] = [];
  const recorder = createAuditRecorder({
    store: {
      append: (events) => {
        if (failing) throw new Error('disk full');
        return storage.audit.append(events);
      },
      list: (q) => storage.audit.list(q),
    },
    onError: (e) => errors.push(e),
  });
  recorder.record({ type: 'sys_startup', outcome: 'info' });
  await recorder.flush();
  assert.equal(errors.length, 1);
  failing = false;
  await recorder.close();
  assert.equal((await storage.audit.list({ limit: 10 })).events.length, 1);
});
