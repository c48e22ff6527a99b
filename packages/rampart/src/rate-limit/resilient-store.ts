/**
 * The one place where a rate-limit store's failures are handled: a timeout that tells a slow
 * reply from a dead connection and does not count the event loop's own lag, a circuit breaker
 * that opens on consecutive failures (never on one slow answer), and each rule's failure
 * policy (`local`, `closed`, `open`). The limiter, the per-key limits of API keys and the
 * failed-authentication gate all go through one of these, so a store means the same thing
 * everywhere and goes "down" once.
 *
 * Why each part:
 * - A shared limit is exact only while the shared store decides. A busy event loop (a burst, a
 *   GC pause) makes a timer fire late; counting that delay as the store's slowness flipped an
 *   exact cross-instance limit into a per-instance one (10 accepted where the rule said 5). So
 *   when the timer fires, the verdict waits for one turn of the loop (a reply already in the
 *   socket is read first), and the time the timer fired late is given back.
 * - One timed-out reply says little: the next may be fine. A dead connection says a lot: the
 *   client rejects at once (ioredis with its offline queue off), so that trips at once. Slow
 *   answers trip only after `failuresToTrip` in a row.
 * - While open, requests never touch the store; one background probe per `probeIntervalMs`
 *   checks it, and its first success closes the breaker.
 */
import { RampartError } from '../errors.ts';
import { wholeNumber } from '../lib/options.ts';
import type { Awaitable, Clock } from '../lib/types.ts';
import type { Decision, RateRule } from './algorithms.ts';
import { type MemoryRateLimitStore, memoryRateLimitStore } from './memory-store.ts';
import type { StoreErrorPolicy } from './rules.ts';
import { isRateLimitStore, type RateLimitStore } from './store.ts';

/** Where a decision came from: the store, the per-instance fallback, or the policy alone. */
export type DecisionSource = 'store' | 'local' | 'open' | 'closed';

/** A decision and where it came from. */
export interface GuardedDecision {
  readonly decision: Decision;
  readonly source: DecisionSource;
}

/** Options of {@link resilientStore}. */
export interface ResilientStoreOptions {
  /** The store to protect (Redis, or your own). */
  store: RateLimitStore;
  /**
   * Decides for `'local'` rules while `store` fails; default a memory store of 100,000 keys
   * (closed by `close()`).
   */
  fallback?: RateLimitStore;
  /**
   * How long one call may wait for the store, ms, not counting time the event loop itself was
   * blocked; default 1,000 (a timed-out command has usually still run on the store, so deciding
   * it again locally counts it twice: a slow answer is worth waiting for; a dead connection fails
   * at once anyway). 0 waits for ever (leave it to the client's own timeout).
   */
  timeoutMs?: number;
  /** Failures in a row (timeouts, errors) that open the breaker; default 3. A dead connection opens it at once. */
  failuresToTrip?: number;
  /** While open, how often one background probe tries the store, ms; default 500. */
  probeIntervalMs?: number;
  /** The clock, ms; default `Date.now`. */
  now?: Clock;
  /** Told once per transition: `'down'` with the error that opened the breaker, `'up'` on recovery. */
  onStateChange?: (state: 'up' | 'down', error?: unknown) => void;
}

/** A rate-limit store behind a timeout, a breaker and the rules' failure policies. */
export interface ResilientStore {
  /** Consumes `cost` units (0 peeks); a failing store answers by `policy`. Never rejects. */
  decide(
    key: string,
    rule: RateRule,
    now: number,
    cost: number,
    policy: StoreErrorPolicy,
  ): Awaitable<GuardedDecision>;
  /** Gives back units to wherever `source` says they were taken. Never rejects. */
  refund(key: string, rule: RateRule, now: number, cost: number, source: DecisionSource): Awaitable<void>;
  /** Forgets a key in the store and in the fallback. */
  reset(key: string): Promise<void>;
  /** `'down'` while the breaker is open. */
  readonly state: 'up' | 'down';
  /** The store behind it (for a caller that must ask it directly, e.g. an admin listing). */
  readonly store: RateLimitStore;
  /** Stops the probe and closes the fallback it made. The given stores stay open. */
  close(): void;
}

const DEFAULTS = Object.freeze({
  timeoutMs: 100,
  failuresToTrip: 3,
  probeIntervalMs: 500,
  fallbackMaxKeys: 100_000,
});
const OPTION_KEYS = new Set([
  'store',
  'fallback',
  'timeoutMs',
  'failuresToTrip',
  'probeIntervalMs',
  'now',
  'onStateChange',
]);
/** A timer this late (ms) means the event loop was busy, not that the store was slow. */
const LATE_MS = 5;
/** However busy the loop, a call gives up after this many timeouts' worth of waiting. */
const MAX_STRETCH = 20;
const PROBE_KEY = 'rampart:probe';
const PROBE_RULE: RateRule = Object.freeze({ algorithm: 'fixed-window', limit: 1, windowMs: 1_000 });

/**
 * Errors that mean the connection is gone rather than slow: the client refused without
 * sending (ioredis with its offline queue off), or the socket broke.
 */
const DEAD =
  /ECONNREFUSED|ECONNRESET|EPIPE|ENOTCONN|EHOSTUNREACH|Connection is closed|Stream isn't writeable|enableOfflineQueue|Connection (?:lost|ended)/i;

/** Is this failure a dead connection (trip now) rather than a slow or odd answer? */
export function isDeadConnection(error: unknown): boolean {
  if (error instanceof RampartError) return false;
  const text =
    error instanceof Error
      ? `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`
      : String(error);
  return DEAD.test(text);
}

class StoreTimeout extends Error {
  override name = 'StoreTimeout';
}

/**
 * Waits for `value` at most `timeoutMs` of the event loop's available time: when the timer
 * fires, one `setImmediate` turn lets a reply that is already in the socket be read, and a
 * timer that fired late (the loop was blocked) is re-armed for the time it lost.
 */
export function withLoopAwareTimeout<T>(value: Promise<T>, timeoutMs: number): Promise<T> {
  if (timeoutMs === 0) return value;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let waited = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = (ms: number) => {
      const due = performance.now() + ms;
      timer = setTimeout(() => {
        const late = performance.now() - due;
        setImmediate(() => {
          if (settled) return;
          waited += ms;
          if (late > LATE_MS && waited < timeoutMs * MAX_STRETCH) return arm(Math.ceil(late));
          settled = true;
          reject(new StoreTimeout(`the rate-limit store did not answer within ${timeoutMs} ms`));
        });
      }, ms);
    };
    arm(timeoutMs);
    value.then(
      (v) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * Wraps a store in the timeout, breaker and failure policies described above.
 *
 * @throws TypeError naming the option that is wrong.
 * @example
 * const guarded = resilientStore({ store: redisRateLimitStore({ client }), onStateChange: console.warn });
 * const { decision, source } = await guarded.decide('login:203.0.113.7', rule, Date.now(), 1, 'local');
 */
export function resilientStore(options: ResilientStoreOptions): ResilientStore {
  if (typeof options !== 'object' || options === null) throw new TypeError('(options): expected an object');
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key))
      throw new TypeError(`${key}: unknown option; expected one of ${[...OPTION_KEYS].join(', ')}`);
  }
  if (!isRateLimitStore(options.store))
    throw new TypeError('store: expected a RateLimitStore (consume, peek, refund, reset)');
  if (options.fallback !== undefined && !isRateLimitStore(options.fallback)) {
    throw new TypeError('fallback: expected a RateLimitStore (consume, peek, refund, reset)');
  }
  const store = options.store;
  const timeoutMs = wholeNumber(options.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs', 0, 60_000);
  const failuresToTrip = wholeNumber(
    options.failuresToTrip ?? DEFAULTS.failuresToTrip,
    'failuresToTrip',
    1,
    1_000,
  );
  const probeIntervalMs = wholeNumber(
    options.probeIntervalMs ?? DEFAULTS.probeIntervalMs,
    'probeIntervalMs',
    1,
    60_000,
  );
  if (options.now !== undefined && typeof options.now !== 'function')
    throw new TypeError('now: expected a function');
  if (options.onStateChange !== undefined && typeof options.onStateChange !== 'function') {
    throw new TypeError('onStateChange: expected a function');
  }
  const clock = options.now ?? Date.now;
  const onStateChange = options.onStateChange;
  const ownFallback: MemoryRateLimitStore | undefined =
    options.fallback === undefined || options.fallback === store
      ? memoryRateLimitStore({ maxKeys: DEFAULTS.fallbackMaxKeys })
      : undefined;
  const fallback = ownFallback ?? options.fallback!;

  let state: 'up' | 'down' = 'up';
  let failuresInARow = 0;
  let probe: NodeJS.Timeout | undefined;

  const tell = (next: 'up' | 'down', error?: unknown) => {
    try {
      onStateChange?.(next, error);
    } catch (hookError) {
      process.emitWarning(`rate-limit store onStateChange threw: ${(hookError as Error).message}`);
    }
  };

  const startProbe = () => {
    if (probe !== undefined) return;
    probe = setInterval(() => {
      Promise.resolve()
        .then(() => store.peek(PROBE_KEY, PROBE_RULE, clock()))
        .then((answer) => (answer instanceof Promise ? withLoopAwareTimeout(answer, timeoutMs) : answer))
        .then(
          () => {
            if (state !== 'down') return;
            clearInterval(probe);
            probe = undefined;
            state = 'up';
            failuresInARow = 0;
            tell('up');
          },
          () => {},
        );
    }, probeIntervalMs);
    probe.unref();
  };

  const failed = (error: unknown) => {
    failuresInARow++;
    if (state === 'down') return;
    if (failuresInARow >= failuresToTrip || isDeadConnection(error)) {
      state = 'down';
      tell('down', error);
      startProbe();
    }
  };
  const succeeded = () => {
    failuresInARow = 0;
  };

  const byPolicy = (
    key: string,
    rule: RateRule,
    now: number,
    cost: number,
    policy: StoreErrorPolicy,
  ): Awaitable<GuardedDecision> => {
    if (policy === 'open') {
      return {
        decision: { allowed: true, limit: rule.limit, remaining: rule.limit, resetAt: now, retryAfterMs: 0 },
        source: 'open',
      };
    }
    const closed: GuardedDecision = {
      decision: {
        allowed: false,
        limit: rule.limit,
        remaining: 0,
        resetAt: now + probeIntervalMs,
        retryAfterMs: probeIntervalMs,
      },
      source: 'closed',
    };
    if (policy === 'closed') return closed;
    try {
      const answer = cost > 0 ? fallback.consume(key, rule, now, cost) : fallback.peek(key, rule, now);
      if (!(answer instanceof Promise)) return { decision: answer, source: 'local' };
      // A fallback that fails too leaves nothing to count on: refuse, as 'closed' would.
      return answer.then(
        (decision) => ({ decision, source: 'local' as const }),
        () => closed,
      );
    } catch {
      return closed;
    }
  };

  return {
    store,
    get state() {
      return state;
    },
    decide(key, rule, now, cost, policy) {
      if (state === 'down') return byPolicy(key, rule, now, cost, policy);
      let answer: Awaitable<Decision>;
      try {
        answer = cost > 0 ? store.consume(key, rule, now, cost) : store.peek(key, rule, now);
      } catch (error) {
        failed(error);
        return byPolicy(key, rule, now, cost, policy);
      }
      // Synchronous when the store answers synchronously (memory): no promise on that path.
      if (!(answer instanceof Promise)) {
        if (failuresInARow > 0) succeeded();
        return { decision: answer, source: 'store' };
      }
      return withLoopAwareTimeout(answer, timeoutMs).then(
        (decision) => {
          succeeded();
          return { decision, source: 'store' as const };
        },
        (error: unknown) => {
          failed(error);
          return byPolicy(key, rule, now, cost, policy);
        },
      );
    },
    refund(key, rule, now, cost, source) {
      if (cost <= 0 || (source !== 'store' && source !== 'local')) return;
      const target = source === 'store' ? store : fallback;
      if (typeof target.refund !== 'function') return;
      try {
        const done = target.refund(key, rule, now, cost);
        if (done instanceof Promise) {
          return withLoopAwareTimeout(done, timeoutMs).then(
            () => {},
            (error: unknown) => {
              if (source === 'store') failed(error);
            },
          );
        }
      } catch (error) {
        if (source === 'store') failed(error);
      }
    },
    async reset(key) {
      await fallback.reset(key);
      if (state === 'down') return;
      try {
        const done = store.reset(key);
        if (done instanceof Promise) await withLoopAwareTimeout(done, timeoutMs);
      } catch (error) {
        failed(error);
      }
    },
    close() {
      if (probe !== undefined) clearInterval(probe);
      probe = undefined;
      ownFallback?.close();
    },
  };
}
