import { type Decision, decide, type RateRule, type RateState, refund, toDecision } from './algorithms.ts';
import type { RateLimitStore } from './store.ts';

/** Options of {@link memoryRateLimitStore}. */
export interface MemoryRateLimitStoreOptions {
  /**
   * The most keys kept; default 100,000. `bench/rate-limit.ts` measures about 185 bytes per key
   * (fixed window, GCRA) and 225–390 (sliding window, by how many sub-windows hold counts), so
   * the default costs some 20–40 MB at most. When full, the least recently used key is evicted.
   */
  maxKeys?: number;
  /** Prepended to every key; default `''`. */
  keyPrefix?: string;
  /**
   * How often (ms) an unref'd timer drops expired keys; default 60,000; 0 turns the timer off
   * (expired keys are then dropped only as traffic passes, and by {@link MemoryRateLimitStore.sweep}).
   */
  sweepIntervalMs?: number;
}

const MEMORY_STORE_DEFAULTS = { maxKeys: 100_000, keyPrefix: '', sweepIntervalMs: 60_000 } as const;

/** The memory store, with what only it can offer: its size and a sweep on demand. */
export interface MemoryRateLimitStore extends RateLimitStore {
  /** Synchronous: see {@link RateLimitStore.consume}. */
  consume(key: string, rule: RateRule, now: number, cost?: number): Decision;
  /** Synchronous: see {@link RateLimitStore.peek}. */
  peek(key: string, rule: RateRule, now: number): Decision;
  /** Synchronous: see {@link RateLimitStore.refund}. */
  refund(key: string, rule: RateRule, now: number, cost?: number): void;
  /** Synchronous: see {@link RateLimitStore.reset}. */
  reset(key: string): void;
  /** How many keys are held now. */
  readonly size: number;
  /** Drops every key whose state expired at `now`; returns how many were dropped. */
  sweep(now: number): number;
  /** Stops the sweep timer and drops every key. */
  close(): void;
}

// Expired keys dropped per write, from the least recently used end: amortised sweeping.
const SWEEP_PER_WRITE = 2;

/**
 * Rate-limit state in this process: per instance, synchronous, and bounded.
 *
 * Bounded twice: keys whose state expired are dropped (a few per write from the
 * least-recently-used end, and all of them by a periodic unref'd sweep), and at `maxKeys` the
 * least recently used key is evicted. **Eviction can only make a limit looser, and only for
 * the evicted key** (it starts again with a full quota); LRU is chosen so that the keys still
 * sending (an attacker in full flow) are the last to go, and a flood of fresh keys evicts
 * other idle keys first.
 *
 * Atomic per key because JavaScript runs one call at a time and `consume` never awaits.
 *
 * @example
 * const store = memoryRateLimitStore({ maxKeys: 50_000 });
 * store.consume('login:203.0.113.7', { algorithm: 'sliding-window', limit: 5, windowMs: 60_000 }, Date.now());
 */
export function memoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): MemoryRateLimitStore {
  const maxKeys = options.maxKeys ?? MEMORY_STORE_DEFAULTS.maxKeys;
  const keyPrefix = options.keyPrefix ?? MEMORY_STORE_DEFAULTS.keyPrefix;
  const sweepIntervalMs = options.sweepIntervalMs ?? MEMORY_STORE_DEFAULTS.sweepIntervalMs;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
    throw new TypeError(`maxKeys: expected a whole number ≥ 1, got ${JSON.stringify(maxKeys)}`);
  }
  if (typeof keyPrefix !== 'string') throw new TypeError('keyPrefix: expected a string');
  if (!Number.isSafeInteger(sweepIntervalMs) || sweepIntervalMs < 0) {
    throw new TypeError(
      `sweepIntervalMs: expected a whole number ≥ 0, got ${JSON.stringify(sweepIntervalMs)}`,
    );
  }

  // A Map iterates in insertion order; re-inserting on use makes its head the LRU end.
  const entries = new Map<string, RateState>();
  // The latest `now` seen: the timer sweeps on the callers' clock, not on one of its own.
  let lastNow = Number.NEGATIVE_INFINITY;

  const sweep = (now: number): number => {
    let dropped = 0;
    for (const [key, state] of entries) {
      if (state.expiresAt <= now) {
        entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  };

  const timer =
    sweepIntervalMs > 0
      ? setInterval(() => {
          if (lastNow > Number.NEGATIVE_INFINITY) sweep(lastNow);
        }, sweepIntervalMs).unref()
      : undefined;

  const dropExpiredHead = (now: number): void => {
    for (let i = 0; i < SWEEP_PER_WRITE; i++) {
      const head = entries.entries().next();
      if (head.done || head.value[1].expiresAt > now) return;
      entries.delete(head.value[0]);
    }
  };

  const consume = (key: string, rule: RateRule, now: number, cost = 1): Decision => {
    const id = keyPrefix === '' ? key : keyPrefix + key;
    if (now > lastNow) lastNow = now;
    const before = entries.get(id);
    const result = decide(before, rule, now, cost);
    if (result.state !== undefined) {
      // Refused calls move the key too: a key still sending is the last one to evict.
      if (before !== undefined) entries.delete(id);
      else {
        dropExpiredHead(now);
        if (entries.size >= maxKeys) entries.delete(entries.keys().next().value!);
      }
      entries.set(id, result.state);
    }
    return toDecision(result);
  };

  return {
    keyPrefix,
    get size() {
      return entries.size;
    },
    consume,
    peek(key, rule, now) {
      return toDecision(decide(entries.get(keyPrefix === '' ? key : keyPrefix + key), rule, now, 0));
    },
    refund(key, rule, now, cost = 1) {
      const id = keyPrefix === '' ? key : keyPrefix + key;
      const before = entries.get(id);
      if (before === undefined) return;
      const next = refund(before, rule, now, cost);
      if (next !== undefined && next !== before) entries.set(id, next);
    },
    reset(key) {
      entries.delete(keyPrefix === '' ? key : keyPrefix + key);
    },
    sweep,
    close() {
      if (timer !== undefined) clearInterval(timer);
      entries.clear();
    },
  };
}
