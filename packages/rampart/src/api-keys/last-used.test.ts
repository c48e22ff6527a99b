import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLastUsedBatcher } from './last-used.ts';

const T0 = 1_700_000_000_000;

/** Lets pending promise callbacks run (setImmediate is not mocked). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function recorder() {
  const writes: Array<Map<string, number>> = [];
  return { writes, flush: (entries: ReadonlyMap<string, number>) => void writes.push(new Map(entries)) };
}

describe('last-used batcher', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval'] }));
  afterEach(() => mock.timers.reset());

  test('many uses of a key in one interval become one write with the latest time', async () => {
    const clock = { t: T0 };
    const { writes, flush } = recorder();
    const batcher = createLastUsedBatcher({ flush, intervalMs: 5_000, now: () => clock.t });
    for (let i = 0; i < 1_000; i++) {
      clock.t = T0 + i;
      batcher.touch('key_a');
      if (i % 10 === 0) batcher.touch('key_b');
    }
    assert.equal(batcher.pending, 2);
    assert.equal(writes.length, 0, 'touch does no I/O');
    mock.timers.tick(5_000);
    await batcher.stop();
    assert.equal(writes.length, 1);
    assert.deepEqual(
      writes[0],
      new Map([
        ['key_a', T0 + 999],
        ['key_b', T0 + 990],
      ]),
    );
  });

  test('the store sees at most one write per key per interval, and nothing when idle', async () => {
    const { writes, flush } = recorder();
    const batcher = createLastUsedBatcher({ flush, intervalMs: 5_000, now: () => T0 });
    batcher.touch('key_a');
    mock.timers.tick(4_999);
    assert.equal(writes.length, 0);
    mock.timers.tick(1);
    assert.equal(writes.length, 1);
    await settle();
    mock.timers.tick(50_000);
    assert.equal(writes.length, 1, 'idle intervals write nothing');
    batcher.touch('key_a');
    mock.timers.tick(5_000);
    assert.equal(writes.length, 2);
    await batcher.stop();
  });

  test('stop flushes what is pending and stops the timer', async () => {
    const { writes, flush } = recorder();
    const batcher = createLastUsedBatcher({ flush, now: () => T0 });
    batcher.touch('key_a');
    await batcher.stop();
    assert.deepEqual(writes, [new Map([['key_a', T0]])]);
    batcher.touch('key_b');
    mock.timers.tick(60_000);
    assert.equal(writes.length, 1);
  });

  test('a failed write keeps its batch for the next one, merged with newer touches', async () => {
    const clock = { t: T0 };
    const writes: Array<Map<string, number>> = [];
    let failing = true;
    const errors: unknown[] = [];
    const batcher = createLastUsedBatcher({
      flush: (entries) => {
        if (failing) throw new Error('store down');
        writes.push(new Map(entries));
      },
      now: () => clock.t,
      onError: (error) => errors.push(error),
    });
    batcher.touch('key_a');
    batcher.touch('key_b');
    await assert.rejects(batcher.flush(), /store down/);
    assert.equal(batcher.pending, 2);
    clock.t = T0 + 10;
    batcher.touch('key_a');
    failing = false;
    await batcher.stop();
    assert.deepEqual(writes, [
      new Map([
        ['key_a', T0 + 10],
        ['key_b', T0],
      ]),
    ]);
  });

  test('a timed flush that fails is reported, not thrown', async () => {
    const errors: unknown[] = [];
    const batcher = createLastUsedBatcher({
      flush: () => Promise.reject(new Error('store down')),
      now: () => T0,
      onError: (error) => errors.push(error),
    });
    batcher.touch('key_a');
    mock.timers.tick(5_000);
    await settle();
    assert.equal(errors.length, 1);
    assert.equal(batcher.pending, 1);
  });

  test('writes never overlap: a flush waits for the one in progress', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let calls = 0;
    const batcher = createLastUsedBatcher({
      flush: async (entries) => {
        const n = ++calls;
        order.push(`start ${n} ${[...entries.keys()].join(',')}`);
        if (n === 1) await gate;
        order.push(`end ${n}`);
      },
      now: () => T0,
    });
    batcher.touch('key_a');
    const first = batcher.flush();
    batcher.touch('key_b');
    mock.timers.tick(5_000); // the timer skips while a write is in progress
    const second = batcher.flush();
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['start 1 key_a', 'end 1', 'start 2 key_b', 'end 2']);
  });

  test('bad options are refused at creation with a TypeError naming the field', () => {
    assert.throws(() => createLastUsedBatcher({} as never), {
      name: 'TypeError',
      message: /^lastUsedBatcher\.flush: /,
    });
    assert.throws(() => createLastUsedBatcher({ flush: () => {}, intervalMs: 0 }), {
      name: 'TypeError',
      message: /^lastUsedBatcher\.intervalMs: /,
    });
  });
});

test('a batcher never keeps the process alive (its timer is unref-ed)', () => {
  const module = fileURLToPath(new URL('./last-used.ts', import.meta.url));
  const script = `const { createLastUsedBatcher } = await import(${JSON.stringify(module)});
    const b = createLastUsedBatcher({ flush: () => {}, intervalMs: 1000 }); b.touch('key_a');`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
  assert.equal(child.signal, null, 'the process had to be killed: the timer kept it alive');
  assert.equal(child.status, 0, child.stderr.toString());
});
