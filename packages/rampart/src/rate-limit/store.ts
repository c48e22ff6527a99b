import type { Awaitable } from '../lib/types.ts';
import type { Decision, RateRule } from './algorithms.ts';

/**
 * Where rate-limit state lives. Every store runs the same algorithms (`algorithms.ts`), so a
 * rule means the same thing in memory and in Redis; `store-contract.ts` is the suite each one
 * passes.
 *
 * **Atomicity.** `consume` (and `refund`) is atomic per key: the read of the key's state, the decision and
 * the write of the new state happen as one step, so concurrent calls on one key are
 * serialised and never both see the last unit (no check-then-increment race). Calls on
 * different keys are independent; nothing is promised about their order. `peek` reads one
 * consistent state and writes nothing.
 *
 * **Keys.** `key` is the caller's identity of a bucket (the limiter passes `rule:identity`);
 * the store prepends its `keyPrefix`, so two stores with different prefixes never see each
 * other's keys. A key's state expires by itself once it is worth nothing (its window is over).
 *
 * **Failures.** A store that cannot answer rejects (or its promise times out); it never turns
 * a failure into a denial or an allowance. The limiter decides what a failure means.
 */
export interface RateLimitStore {
  /** Prepended to every key; lets several limiters or tenants share one backend. */
  readonly keyPrefix: string;
  /**
   * Decides `cost` units (default 1) for `key` under `rule` at `now` (ms) and records them if
   * allowed. A refusal records nothing.
   */
  consume(key: string, rule: RateRule, now: number, cost?: number): Awaitable<Decision>;
  /** What `consume` of one unit would answer now, without recording anything. */
  peek(key: string, rule: RateRule, now: number): Awaitable<Decision>;
  /**
   * Gives back `cost` units (default 1) of `key` under `rule` that a `consume` took a moment ago
   * (`algorithms.ts` `refund` says where they come off). Atomic per key like `consume`.
   */
  refund(key: string, rule: RateRule, now: number, cost?: number): Awaitable<void>;
  /** Forgets `key` under every algorithm: its next request starts with a full quota. */
  reset(key: string): Awaitable<void>;
  /** Releases timers or connections the store itself opened (never a client it was given). */
  close(): Awaitable<void>;
}

/** Does `value` look like a {@link RateLimitStore} (the methods every store has)? */
export function isRateLimitStore(value: unknown): value is RateLimitStore {
  const s = value as RateLimitStore | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.consume === 'function' &&
    typeof s.peek === 'function' &&
    typeof s.reset === 'function'
  );
}
