/**
 * Fair scheduling of password hashing. argon2id is deliberately expensive (about 25 ms and 19
 * MiB each, on libuv's small thread pool); unbounded, 90 simultaneous failing logins from one
 * address pushed everyone else's login from 37 ms to 1.2 s. So hashing runs through one queue:
 * at most `concurrency` hashes at once, at most `perSource` of them for one source (a client
 * address), and sources take turns (round robin), so a flood from one address waits behind
 * itself and cannot starve the others. A source with `maxQueued` jobs waiting is refused at
 * once (503 with Retry-After): its queue cannot grow without bound.
 */

import { availableParallelism } from 'node:os';
import { RampartError } from 'rampart/internal/errors.ts';

/** Options of {@link createHashQueue}. */
export interface HashQueueOptions {
  /**
   * Hashes running at once; default the machine's cores, at most 4 (libuv's default thread
   * pool). More hashes than cores finish no sooner, and each holds its 19 MiB meanwhile.
   */
  concurrency?: number;
  /** Hashes running at once for one source; default 1. */
  perSource?: number;
  /** Jobs waiting for one source before it is refused; default 64. */
  maxQueued?: number;
}

export interface HashQueue {
  /**
   * Runs `job` when a slot is free and it is `source`'s turn. Rejects with a 503
   * `SERVICE_UNAVAILABLE` RampartError (with Retry-After) when that source's queue is full.
   */
  run<T>(source: string, job: () => Promise<T>): Promise<T>;
  /** Jobs running now, and waiting (for observation and tests). */
  readonly running: number;
  readonly waiting: number;
}

interface Waiting {
  start(): void;
}

/** As many hashes at once as the machine has cores, and no more than libuv's 4 threads. */
export function defaultHashConcurrency(cores = availableParallelism()): number {
  return Math.max(1, Math.min(4, cores));
}

/**
 * @example
 * const queue = createHashQueue();
 * const ok = await queue.run(clientIp, () => verifyPassword(password, user.passwordHash));
 */
export function createHashQueue(options: HashQueueOptions = {}): HashQueue {
  const concurrency = options.concurrency ?? defaultHashConcurrency();
  const perSource = options.perSource ?? 1;
  const maxQueued = options.maxQueued ?? 64;
  for (const [field, value] of Object.entries({ concurrency, perSource, maxQueued })) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new TypeError(`${field}: expected a whole number ≥ 1`);
  }
  let running = 0;
  let waiting = 0;
  const active = new Map<string, number>();
  // Sources with work waiting, in turn order (a Map keeps insertion order: the round robin).
  const queues = new Map<string, Waiting[]>();

  const next = (): void => {
    while (running < concurrency && queues.size > 0) {
      let started = false;
      for (const [source, jobs] of queues) {
        if ((active.get(source) ?? 0) >= perSource) continue;
        const job = jobs.shift()!;
        queues.delete(source);
        // Back of the line: the next source goes first next time.
        if (jobs.length > 0) queues.set(source, jobs);
        waiting--;
        job.start();
        started = true;
        break;
      }
      if (!started) return;
    }
  };

  return {
    run<T>(source: string, job: () => Promise<T>): Promise<T> {
      const jobs = queues.get(source) ?? [];
      if (jobs.length >= maxQueued) {
        return Promise.reject(
          new RampartError('SERVICE_UNAVAILABLE', {
            detail: 'Too many password checks are waiting for this client; try again shortly.',
            headers: { 'retry-after': '1' },
          }),
        );
      }
      return new Promise<T>((resolve, reject) => {
        jobs.push({
          start() {
            running++;
            active.set(source, (active.get(source) ?? 0) + 1);
            job()
              .then(resolve, reject)
              .finally(() => {
                running--;
                const left = (active.get(source) ?? 1) - 1;
                if (left === 0) active.delete(source);
                else active.set(source, left);
                next();
              });
          },
        });
        waiting++;
        if (!queues.has(source)) queues.set(source, jobs);
        next();
      });
    },
    get running() {
      return running;
    },
    get waiting() {
      return waiting;
    },
  };
}
