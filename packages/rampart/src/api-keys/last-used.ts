/**
 * `lastUsedAt` without a write per request: `touch` records the time in memory (one Map set,
 * no I/O) and a timer hands the batch to `flush` once per interval, so the store sees at most
 * one write per key per interval however busy the key is. The column may lag by an
 * interval; on a crash the last interval's touches are lost, which is the trade.
 */
import type { Awaitable, Clock } from '../lib/types.ts';

export interface LastUsedBatcherOptions {
  /**
   * Writes a batch: key id → last-use time (epoch ms). Keep writes monotonic in the store
   * (`SET last_used_at = max(last_used_at, ?)`): two instances may flush out of order.
   * When it throws, the batch is kept and retried with the next one.
   */
  flush: (entries: ReadonlyMap<string, number>) => Awaitable<void>;
  /** Time between flushes, ms. Default 5 000. */
  intervalMs?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: Clock;
  /** Told of a failed timed flush (the batch is kept for the next one). Default: `process.emitWarning`. */
  onError?: (error: unknown) => void;
}

export interface LastUsedBatcher {
  /** Notes that key `id` was used now. O(1), no I/O: safe on the request path. */
  touch(id: string): void;
  /** Writes what is pending now (after any flush in progress). Rejects when the write fails; the batch is kept. */
  flush(): Promise<void>;
  /** Stops the timer and flushes what is pending (call on shutdown). Rejects when that last write fails. */
  stop(): Promise<void>;
  /** Keys waiting for the next flush. */
  readonly pending: number;
}

/**
 * Creates a last-used batcher. Its timer is unref'd: it never keeps the process alive.
 *
 * @example
 * const lastUsed = createLastUsedBatcher({
 *   flush: (entries) => store.apiKeys.touchMany(entries),
 *   intervalMs: 5_000,
 * });
 * lastUsed.touch(record.id); // on each valid request
 * await lastUsed.stop();     // on SIGTERM, after the server stops taking requests
 */
export function createLastUsedBatcher(options: LastUsedBatcherOptions): LastUsedBatcher {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('lastUsedBatcher: expected an options object');
  }
  const { flush: write, intervalMs = 5_000, now = Date.now } = options;
  if (typeof write !== 'function') throw new TypeError('lastUsedBatcher.flush: expected a function');
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) {
    throw new TypeError(`lastUsedBatcher.intervalMs: expected milliseconds > 0, got ${String(intervalMs)}`);
  }
  if (typeof now !== 'function')
    throw new TypeError('lastUsedBatcher.now: expected a function returning epoch ms');
  const onError =
    options.onError ??
    ((error: unknown) =>
      process.emitWarning(
        `lastUsedBatcher: flush failed, retrying next interval: ${(error as Error)?.message ?? error}`,
      ));
  if (typeof onError !== 'function') throw new TypeError('lastUsedBatcher.onError: expected a function');

  let pending = new Map<string, number>();
  let inFlight: Promise<void> | undefined;

  function note(id: string, at: number): void {
    const known = pending.get(id);
    if (known === undefined || at > known) pending.set(id, at);
  }

  async function writePending(): Promise<void> {
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    try {
      await write(batch);
    } catch (error) {
      // Keep the batch, merged with touches made meanwhile (the later time wins).
      for (const [id, at] of batch) note(id, at);
      throw error;
    }
  }

  function flush(): Promise<void> {
    // One write at a time: a slow store must not see overlapping batches.
    const run = inFlight === undefined ? writePending() : inFlight.then(writePending);
    const settled = run.then(
      () => {},
      () => {},
    );
    inFlight = settled;
    void settled.then(() => {
      if (inFlight === settled) inFlight = undefined;
    });
    return run;
  }

  const timer = setInterval(() => {
    // A write still running from the last tick: skip this one rather than queue behind it.
    if (inFlight === undefined && pending.size > 0) flush().catch(onError);
  }, intervalMs);
  timer.unref();

  return {
    touch: (id) => note(id, now()),
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
    get pending() {
      return pending.size;
    },
  };
}
