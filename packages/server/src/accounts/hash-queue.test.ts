import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { createHashQueue, defaultHashConcurrency } from './hash-queue.ts';

/** A job that finishes when released, recording when it started. */
function gate() {
  const started: string[] = [];
  const release = new Map<string, () => void>();
  const job = (name: string) => () =>
    new Promise<string>((resolve) => {
      started.push(name);
      release.set(name, () => resolve(name));
    });
  return { started, release: (name: string) => release.get(name)!(), job };
}

test('at most `concurrency` jobs run, and at most `perSource` for one source', async () => {
  const queue = createHashQueue({ concurrency: 2, perSource: 1 });
  const g = gate();
  const done = ['a1', 'a2', 'a3', 'b1'].map((name) => queue.run(name[0]!, g.job(name)));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(g.started, ['a1', 'b1'], 'one of a at a time; b runs beside it');
  assert.equal(queue.running, 2);
  assert.equal(queue.waiting, 2);
  g.release('a1');
  await done[0];
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(g.started, ['a1', 'b1', 'a2']);
  g.release('b1');
  g.release('a2');
  await Promise.all([done[1], done[3]]);
  await new Promise((resolve) => setImmediate(resolve));
  g.release('a3');
  assert.deepEqual(await Promise.all(done), ['a1', 'a2', 'a3', 'b1']);
});

test('a flood from one source cannot starve another: sources take turns', async () => {
  const queue = createHashQueue({ concurrency: 1, perSource: 1 });
  const order: string[] = [];
  const job = (name: string) => async () => {
    order.push(name);
    await new Promise((resolve) => setImmediate(resolve));
  };
  const flood = Array.from({ length: 50 }, (_, i) => queue.run('attacker', job(`a${i}`)));
  const victim = queue.run('victim', job('victim'));
  await Promise.all([...flood, victim]);
  assert.ok(order.indexOf('victim') <= 2, `the victim ran at position ${order.indexOf('victim')}`);
});

test('a source with too many jobs waiting is refused at once with 503 and Retry-After', async () => {
  const queue = createHashQueue({ concurrency: 1, perSource: 1, maxQueued: 3 });
  const soon = () => new Promise<void>((resolve) => setImmediate(resolve));
  // One runs, three wait: the queue of `a` is full.
  const accepted = Array.from({ length: 4 }, () => queue.run('a', soon));
  await assert.rejects(
    queue.run('a', soon),
    (error: Error & { code?: string; headers?: Record<string, string> }) => {
      assert.equal(error.code, 'SERVICE_UNAVAILABLE');
      assert.equal(error.headers?.['retry-after'], '1');
      return true;
    },
  );
  // Another source still gets in, and everything accepted completes.
  await Promise.all([...accepted, queue.run('b', soon)]);
  assert.equal(queue.running + queue.waiting, 0);
});

test('by default as many hashes run at once as the machine has cores, never more than 4', async () => {
  assert.deepEqual(
    [1, 2, 3, 4, 8, 64].map((cores) => defaultHashConcurrency(cores)),
    [1, 2, 3, 4, 4, 4],
  );
  const queue = createHashQueue();
  const g = gate();
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  const done = names.map((name) => queue.run(name, g.job(name)));
  await new Promise((resolve) => setImmediate(resolve));
  const expected = Math.min(4, availableParallelism());
  assert.equal(queue.running, expected);
  assert.equal(queue.waiting, names.length - expected);
  // Release what runs until every job has started, then the rest.
  while (g.started.length < names.length) {
    for (const name of g.started) g.release(name);
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const name of names) g.release(name);
  assert.deepEqual(await Promise.all(done), names);
});
