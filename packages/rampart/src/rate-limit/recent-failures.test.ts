import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type FailureNews, type FailureNewsListener, recentFailures } from './recent-failures.ts';

const MINUTE = 60_000;

/** In-process news between several maps, as a Redis channel carries it between instances. */
function newsRoom() {
  const listeners: FailureNewsListener[] = [];
  const published: Array<[string, number]> = [];
  const news = (): FailureNews => ({
    publish(address, until) {
      published.push([address, until]);
      for (const l of listeners) l.heard(address, until);
    },
    listen(listener) {
      listeners.push(listener);
    },
  });
  return { news, listeners, published };
}

describe('recentFailures: exact (the budget counts in this process)', () => {
  test('an address that never failed may skip the read; one that failed may not, until its window passes', () => {
    let t = 0;
    const recent = recentFailures({ windowMs: 15 * MINUTE, now: () => t, max: 10 });
    assert.equal(recent.mayHave('198.51.100.1'), false);
    recent.note('198.51.100.1');
    assert.equal(recent.mayHave('198.51.100.1'), true);
    assert.equal(recent.mayHave('198.51.100.2'), false);
    t = 15 * MINUTE - 1;
    assert.equal(recent.mayHave('198.51.100.1'), true);
    t = 15 * MINUTE;
    assert.equal(recent.mayHave('198.51.100.1'), false);
  });
});

describe('recentFailures: told (the budget counts in a shared store)', () => {
  test('blind from the start until the news is sighted: every address is asked', () => {
    const room = newsRoom();
    const recent = recentFailures({ windowMs: 15 * MINUTE, now: () => 0, max: 10, news: room.news() });
    assert.equal(
      recent.mayHave('198.51.100.9'),
      true,
      'failures counted before this process listened are unknown',
    );
    room.listeners[0]!.sighted();
    assert.equal(recent.mayHave('198.51.100.9'), false);
    room.listeners[0]!.blind();
    assert.equal(recent.mayHave('198.51.100.9'), true, 'a lost subscription asks again');
  });

  test("another instance's failure reaches this one; the marker outlives the window by a quarter", () => {
    let t = 0;
    const room = newsRoom();
    const here = recentFailures({ windowMs: 16 * MINUTE, now: () => t, max: 10, news: room.news() });
    const there = recentFailures({ windowMs: 16 * MINUTE, now: () => t, max: 10, news: room.news() });
    for (const l of room.listeners) l.sighted();
    there.note('203.0.113.5');
    assert.equal(here.mayHave('203.0.113.5'), true);
    t = 20 * MINUTE - 1;
    assert.equal(here.mayHave('203.0.113.5'), true);
    t = 20 * MINUTE;
    assert.equal(here.mayHave('203.0.113.5'), false);
  });

  test('an address failing on and on is published once per quarter window, and every failure stays covered', () => {
    let t = 0;
    const room = newsRoom();
    const there = recentFailures({ windowMs: 16 * MINUTE, now: () => t, max: 10, news: room.news() });
    const here = recentFailures({ windowMs: 16 * MINUTE, now: () => t, max: 10, news: room.news() });
    for (const l of room.listeners) l.sighted();
    // A failure every minute for 12 minutes: published at 0, 5 and 10 (each more than 4 minutes
    // after the last news), not every minute.
    for (let minute = 0; minute <= 12; minute++) {
      t = minute * MINUTE;
      there.note('203.0.113.6');
    }
    assert.deepEqual(
      room.published.map(([, until]) => until / MINUTE),
      [20, 25, 30],
    );
    // The last failure (minute 12) is counted until minute 28: the other instance still asks.
    t = 28 * MINUTE - 1;
    assert.equal(here.mayHave('203.0.113.6'), true);
  });

  test('a told map that must forget an address asks for every address for a marker lifetime', () => {
    let t = 0;
    const room = newsRoom();
    const recent = recentFailures({ windowMs: 4 * MINUTE, now: () => t, max: 2, news: room.news() });
    room.listeners[0]!.sighted();
    recent.note('192.0.2.1');
    recent.note('192.0.2.2');
    recent.note('192.0.2.3'); // 192.0.2.1 is forgotten, its counts are not
    assert.equal(recent.mayHave('192.0.2.1'), true);
    assert.equal(recent.mayHave('192.0.2.99'), true);
    t = 5 * MINUTE - 1;
    assert.equal(recent.mayHave('192.0.2.99'), true);
    t = 5 * MINUTE;
    assert.equal(recent.mayHave('192.0.2.99'), false);
  });

  test('news that is not an address and a time is ignored', () => {
    const room = newsRoom();
    const recent = recentFailures({ windowMs: MINUTE, now: () => 0, max: 10, news: room.news() });
    const listener = room.listeners[0]!;
    listener.sighted();
    listener.heard('192.0.2.7', Number.NaN);
    listener.heard(42 as unknown as string, 10_000);
    assert.equal(recent.mayHave('192.0.2.7'), false);
  });
});
