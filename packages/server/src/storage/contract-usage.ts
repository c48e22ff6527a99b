import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from 'rampart/internal/lib/ids.ts';
import { identityId, type MakeStorage } from './contract-fixtures.ts';
import type { AuditEvent, UsageEntry } from './types.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** 2024-03-05T10:20:30.000Z: inside a minute, an hour and a day that all start earlier. */
const T = Date.UTC(2024, 2, 5, 10, 20, 30);

/** `UsageStore` (counts by outcome in minute, hour and day buckets) and audit retention. */
export function runUsageContract(make: MakeStorage): void {
  test('verifications count per key and per identity by outcome, in minute, hour and day buckets', async () => {
    const s = await make();
    const key = newId('key');
    const other = newId('key');
    const team = identityId();
    await s.usage.add([
      { keyId: key, identityId: team, outcome: 'VALID', at: T },
      { keyId: key, identityId: team, outcome: 'VALID', at: T + 10_000, count: 4 },
      { keyId: key, identityId: team, outcome: 'RATE_LIMITED', at: T + 40_000 },
      { keyId: other, identityId: team, outcome: 'USAGE_EXCEEDED', at: T + HOUR },
      { keyId: other, outcome: 'VALID', at: T, count: 0 },
    ]);
    const startOf = (size: number, at: number) => Math.floor(at / size) * size;
    const minute = startOf(MINUTE, T);
    assert.deepEqual(await s.usage.read({ keyId: key, granularity: 'minute', since: 0, until: T + DAY }), [
      { start: minute, total: 5, outcomes: { VALID: 5 } },
      { start: minute + MINUTE, total: 1, outcomes: { RATE_LIMITED: 1 } },
    ]);
    assert.deepEqual(await s.usage.read({ keyId: key, granularity: 'hour', since: 0, until: T + DAY }), [
      { start: startOf(HOUR, T), total: 6, outcomes: { VALID: 5, RATE_LIMITED: 1 } },
    ]);
    assert.deepEqual(await s.usage.read({ identityId: team, granularity: 'day', since: 0, until: T + DAY }), [
      { start: startOf(DAY, T), total: 7, outcomes: { VALID: 5, RATE_LIMITED: 1, USAGE_EXCEEDED: 1 } },
    ]);
    assert.deepEqual(
      await s.usage.read({ identityId: team, granularity: 'hour', since: 0, until: T + DAY }),
      [
        { start: startOf(HOUR, T), total: 6, outcomes: { VALID: 5, RATE_LIMITED: 1 } },
        { start: startOf(HOUR, T) + HOUR, total: 1, outcomes: { USAGE_EXCEEDED: 1 } },
      ],
    );
    // since is inclusive and until exclusive, on bucket starts.
    assert.deepEqual(
      (await s.usage.read({ keyId: key, granularity: 'minute', since: minute + 1, until: T + DAY })).map(
        (b) => b.start,
      ),
      [minute + MINUTE],
    );
    assert.deepEqual(await s.usage.read({ keyId: key, granularity: 'minute', since: 0, until: minute }), []);
    // A key is not its identity, and a count of 0 writes nothing.
    assert.deepEqual(await s.usage.read({ keyId: team, granularity: 'day', since: 0, until: T + DAY }), []);
    assert.deepEqual(await s.usage.read({ keyId: other, granularity: 'day', since: 0, until: T + DAY }), [
      { start: startOf(DAY, T), total: 1, outcomes: { USAGE_EXCEEDED: 1 } },
    ]);
    await s.usage.add([]);
    await s.close();
  });

  test('batches add to what is stored, and concurrent batches on one storage sum exactly', async () => {
    const s = await make();
    const key = newId('key');
    const batch: UsageEntry[] = Array.from({ length: 30 }, (_, i) => ({
      keyId: key,
      outcome: i % 3 === 0 ? 'NOT_FOUND' : 'VALID',
      at: T + i * 1_000,
    }));
    await Promise.all(Array.from({ length: 20 }, () => s.usage.add(batch)));
    const [day] = await s.usage.read({ keyId: key, granularity: 'day', since: 0, until: T + DAY });
    assert.deepEqual(day?.outcomes, { NOT_FOUND: 200, VALID: 400 });
    assert.equal(day?.total, 600);
    await s.close();
  });

  test('a bad count or time is refused before anything is written', async () => {
    const s = await make();
    const key = newId('key');
    for (const bad of [{ count: -1 }, { count: 1.5 }, { at: Number.NaN }]) {
      await assert.rejects(async () => {
        await s.usage.add([
          { keyId: key, outcome: 'VALID', at: T },
          { keyId: key, outcome: 'VALID', at: T, ...bad },
        ]);
      }, TypeError);
    }
    assert.deepEqual(await s.usage.read({ keyId: key, granularity: 'day', since: 0, until: T + DAY }), []);
    await s.close();
  });

  test('retention prunes one granularity before an instant and answers how many buckets went', async () => {
    const s = await make();
    const key = newId('key');
    await s.usage.add([
      { keyId: key, outcome: 'VALID', at: T },
      { keyId: key, outcome: 'VALID', at: T + 2 * HOUR },
      { keyId: key, outcome: 'EXPIRED', at: T + 2 * HOUR },
    ]);
    const hourOfT = Math.floor(T / HOUR) * HOUR;
    assert.equal(await s.usage.prune(hourOfT + HOUR, 'minute'), 1);
    assert.equal(await s.usage.prune(hourOfT + HOUR, 'minute'), 0);
    const minutes = await s.usage.read({ keyId: key, granularity: 'minute', since: 0, until: T + DAY });
    assert.deepEqual(
      minutes.map((b) => b.total),
      [2],
    );
    assert.equal(
      (await s.usage.read({ keyId: key, granularity: 'hour', since: 0, until: T + DAY })).length,
      2,
    );
    assert.equal(await s.usage.prune(T + DAY * 2, 'hour'), 3);
    assert.equal(
      (await s.usage.read({ keyId: key, granularity: 'day', since: 0, until: T + DAY })).length,
      1,
    );
    await s.close();
  });

  test('audit retention deletes the events before an instant, keeps the rest, and answers how many', async () => {
    const s = await make();
    const event = (at: number): AuditEvent => ({
      id: newId('evt'),
      type: 'key_created',
      at,
      outcome: 'success',
      detail: {},
      count: 1,
    });
    const events = Array.from({ length: 12 }, (_, i) => event(1_000 + i));
    await s.audit.append(events);
    assert.equal(await s.audit.prune(1_005), 5);
    assert.equal(await s.audit.prune(1_005), 0);
    const left = await s.audit.list({ limit: 100 });
    assert.deepEqual(
      left.events.map((e) => e.at),
      [1_011, 1_010, 1_009, 1_008, 1_007, 1_006, 1_005],
    );
    assert.equal(await s.audit.prune(Number.MAX_SAFE_INTEGER), 7);
    assert.equal((await s.audit.list({ limit: 10 })).events.length, 0);
    await s.close();
  });
}
