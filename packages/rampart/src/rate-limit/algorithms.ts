/**
 * Rate-limit algorithms as pure functions: `decide(state, rule, now, cost)` returns the
 * decision and the next state, touches nothing else, and reads no clock. Stores run them (the
 * memory store calls `decide` directly; the Redis store runs a Lua twin of it, see
 * `redis-script.ts`), so every store counts the same way.
 *
 * All arithmetic is on whole numbers below 2^53 (milliseconds, counts, and for GCRA
 * "milliseconds × limit"), so the JavaScript and the Lua versions, both on IEEE doubles, agree
 * to the unit; `redis-store.test.ts` replays one sequence through both and compares.
 */

/** How a rule counts. */
export type Algorithm = 'fixed-window' | 'sliding-window' | 'gcra';

/** The algorithms, for validation and documentation. */
export const ALGORITHMS: readonly Algorithm[] = Object.freeze(['fixed-window', 'sliding-window', 'gcra']);

/** What one limit allows: `limit` units per `windowMs`, counted by `algorithm`. */
export interface RateRule {
  readonly algorithm: Algorithm;
  /** Units (requests, unless a cost says otherwise) allowed per window; a whole number ≥ 1. */
  readonly limit: number;
  /** The window in milliseconds; a whole number ≥ 1. */
  readonly windowMs: number;
  /**
   * GCRA only: how many units may arrive at once after a quiet period; default `limit`.
   * The long-run rate is always `limit / windowMs`.
   */
  readonly burst?: number | undefined;
  /**
   * Sliding window only: how many sub-windows a window is cut into, 1–1000; default 10. More
   * sub-windows cost memory (one counter each) and bring the effective window closer to
   * `windowMs` (it is at most `windowMs × (1 + 1/buckets)`).
   */
  readonly buckets?: number | undefined;
}

/** The defaults of the optional rule fields, as data. */
export const RATE_RULE_DEFAULTS = Object.freeze({ buckets: 10 });

const MAX_BUCKETS = 1000;

/** Fixed window: the count inside the window that starts at `windowStart` (aligned to the epoch). */
export interface FixedWindowState {
  readonly algorithm: 'fixed-window';
  readonly windowStart: number;
  readonly count: number;
  /** After this time (ms) the state is worth nothing and may be dropped. */
  readonly expiresAt: number;
}

/** Sliding window: `[index, count, index, count, …]` of the live sub-windows, index ascending. */
export interface SlidingWindowState {
  readonly algorithm: 'sliding-window';
  readonly buckets: readonly number[];
  readonly expiresAt: number;
}

/**
 * GCRA: the theoretical arrival time, split into whole milliseconds `tat` and a remainder
 * `rem` in units of 1/limit ms, so the emission interval `windowMs / limit` never needs a
 * fraction.
 */
export interface GcraState {
  readonly algorithm: 'gcra';
  readonly tat: number;
  readonly rem: number;
  readonly expiresAt: number;
}

/** The state of one key under one rule. A state of another algorithm is read as empty. */
export type RateState = FixedWindowState | SlidingWindowState | GcraState;

/** The answer for one key and one rule. A refusal is a value (`allowed: false`), never a throw. */
export interface Decision {
  readonly allowed: boolean;
  /** The rule's `limit`, repeated for headers. */
  readonly limit: number;
  /** Units still available after this decision (0 when refused at the limit). */
  readonly remaining: number;
  /**
   * When (ms, same clock as `now`) more quota becomes available: the end of the "effective
   * window" of draft-ietf-httpapi-ratelimit-headers §4.1.2, within which the client can use no
   * more than `remaining`. Fixed window: the window's end. Sliding window: when the oldest
   * counted sub-window leaves. GCRA: when the next unit regenerates. `now` when nothing is used.
   */
  readonly resetAt: number;
  /** 0 when allowed; otherwise how long (ms) until a request of the same cost would pass. */
  readonly retryAfterMs: number;
}

/** A decision and the state to store for the next one. */
export interface DecideResult extends Decision {
  /** The next state; `undefined` only when there was none and nothing was recorded. */
  readonly state: RateState | undefined;
}

/**
 * Checks a cost against a rule.
 * @throws RangeError when `cost` is not a whole number from 0 to the limit (GCRA: the burst).
 */
export function assertCost(rule: RateRule, cost: number): void {
  const max = rule.algorithm === 'gcra' ? (rule.burst ?? rule.limit) : rule.limit;
  if (!Number.isSafeInteger(cost) || cost < 0 || cost > max) {
    // A cost above the limit could never pass: that is a programming error, not a denial.
    throw new RangeError(`cost: expected a whole number from 0 to ${max}, got ${String(cost)}`);
  }
}

/**
 * Fixed window: windows aligned to the epoch (`floor(now / windowMs)`), one counter each.
 * Cheap, but a client can send `limit` at the end of one window and `limit` at the start of the
 * next: up to 2 × limit in one window-length interval. Use it where that is acceptable.
 */
export function fixedWindow(
  state: RateState | undefined,
  rule: RateRule,
  now: number,
  cost = 1,
): DecideResult {
  assertCost(rule, cost);
  const { limit, windowMs } = rule;
  let start = Math.floor(now / windowMs) * windowMs;
  let count = 0;
  // A stored window at or after ours (another instance's clock runs ahead) is kept, not reset:
  // resetting on skew would hand out a fresh window.
  if (state?.algorithm === 'fixed-window' && state.windowStart >= start) {
    start = state.windowStart;
    count = state.count;
  }
  const resetAt = start + windowMs;
  const need = cost > 0 ? cost : 1;
  const allowed = count + need <= limit;
  let next: RateState | undefined = state;
  if (allowed && cost > 0) {
    count += cost;
    next = { algorithm: 'fixed-window', windowStart: start, count, expiresAt: resetAt };
  }
  return {
    state: next,
    allowed,
    limit,
    remaining: Math.max(0, limit - count),
    resetAt,
    retryAfterMs: allowed ? 0 : resetAt - now,
  };
}

/**
 * Sliding window with an exact guarantee: **no window-length interval, anywhere on the time
 * line, ever holds more than `limit` admitted units** (closed intervals included).
 *
 * How: the window is cut into `buckets` sub-windows of `windowMs / buckets`; sub-window `k`
 * holds the time `t` where `floor(t × buckets / windowMs) = k`. An admission at `t` in
 * sub-window `k` needs `sum(counts of k − buckets … k) + cost ≤ limit`. Any admission at most
 * `windowMs` before `t` lies in sub-window `k − buckets` or later (its index differs by at most
 * `buckets`), so it is in that sum, and the interval ending at `t` stays within the limit.
 * Cloudflare-style weighted estimates of the previous window do not give this.
 *
 * Why not a sliding log: it is exact too, but costs memory per admitted unit (a 10,000/h rule
 * would keep 10,000 timestamps per key). Here memory is at most `buckets + 1` counters per key,
 * whatever the limit. The price is strictness: a unit is counted for between `windowMs` and
 * `windowMs × (1 + 1/buckets)`, so the limit can bite up to one sub-window early, never late.
 *
 * Refused requests are not counted, so a client that keeps hammering while refused gets its
 * quota back on schedule instead of being locked out for ever.
 */
export function slidingWindow(
  state: RateState | undefined,
  rule: RateRule,
  now: number,
  cost = 1,
): DecideResult {
  assertCost(rule, cost);
  const { limit, windowMs } = rule;
  const n = rule.buckets ?? RATE_RULE_DEFAULTS.buckets;
  const k = Math.floor((now * n) / windowMs);
  const oldest = k - n;
  const kept: number[] = [];
  let used = 0;
  if (state?.algorithm === 'sliding-window') {
    const b = state.buckets;
    for (let i = 0; i < b.length; i += 2) {
      // Sub-windows newer than `k` (a clock behind another instance's) still count: dropping
      // them would loosen the limit.
      if (b[i]! >= oldest) {
        kept.push(b[i]!, b[i + 1]!);
        used += b[i + 1]!;
      }
    }
  }
  const need = cost > 0 ? cost : 1;
  const allowed = used + need <= limit;
  let next: RateState | undefined = state;
  if (allowed && cost > 0) {
    let i = 0;
    while (i < kept.length && kept[i]! < k) i += 2;
    if (i < kept.length && kept[i] === k) kept[i + 1]! += cost;
    else kept.splice(i, 0, k, cost);
    used += cost;
  }
  const leaves = (index: number) => Math.ceil(((index + n + 1) * windowMs) / n);
  if (cost > 0 && (allowed || kept.length > 0 || state !== undefined)) {
    const expiresAt = kept.length > 0 ? leaves(kept[kept.length - 2]!) : now;
    // slice(): an exact-size copy, without the slack `push` leaves (it is kept per key).
    next = { algorithm: 'sliding-window', buckets: kept.slice(), expiresAt };
  }
  let retryAfterMs = 0;
  if (!allowed) {
    let left = used;
    for (let i = 0; i < kept.length; i += 2) {
      left -= kept[i + 1]!;
      if (left + need <= limit) {
        retryAfterMs = leaves(kept[i]!) - now;
        break;
      }
    }
  }
  return {
    state: next,
    allowed,
    limit,
    remaining: Math.max(0, limit - used),
    resetAt: kept.length > 0 ? leaves(kept[0]!) : now,
    retryAfterMs,
  };
}

/**
 * GCRA (generic cell rate algorithm, the leaky bucket as a meter): one timestamp per key. Units
 * are emitted every `windowMs / limit`; up to `burst` may arrive at once after a quiet period.
 * It bounds the long-run rate and the burst, not the count per window: after a full burst a
 * client may send one more unit per emission interval, so a window-length interval can hold up
 * to `burst + limit` units. Use it for APIs that want smooth traffic; use the sliding window
 * where "never more than N per window" is the promise.
 *
 * Time is counted in units of 1/limit ms ("debt"), so all arithmetic stays whole.
 */
export function gcra(state: RateState | undefined, rule: RateRule, now: number, cost = 1): DecideResult {
  assertCost(rule, cost);
  const { limit, windowMs } = rule;
  const burst = rule.burst ?? limit;
  const capacity = burst * windowMs;
  let debt = 0;
  if (state?.algorithm === 'gcra') {
    debt = (state.tat - now) * limit + state.rem;
    if (debt < 0) debt = 0;
  }
  const need = cost > 0 ? cost : 1;
  const allowed = debt + need * windowMs <= capacity;
  let next: RateState | undefined = state;
  if (allowed && cost > 0) {
    debt += cost * windowMs;
    const whole = Math.floor(debt / limit);
    next = {
      algorithm: 'gcra',
      tat: now + whole,
      rem: debt - whole * limit,
      expiresAt: now + Math.ceil(debt / limit),
    };
  }
  const remaining = Math.max(0, Math.floor((capacity - debt) / windowMs));
  const resetAt =
    remaining < burst ? now + Math.ceil((debt - capacity + (remaining + 1) * windowMs) / limit) : now;
  return {
    state: next,
    allowed,
    limit,
    remaining,
    resetAt,
    retryAfterMs: allowed ? 0 : Math.ceil((debt + need * windowMs - capacity) / limit),
  };
}

const BY_ALGORITHM = {
  'fixed-window': fixedWindow,
  'sliding-window': slidingWindow,
  gcra,
} as const satisfies Record<Algorithm, typeof decide>;

/**
 * Decides one request of `cost` units for one key under `rule` at time `now` (ms), given the
 * key's previous state. `cost` 0 inspects: the decision says whether one unit would pass and
 * how much is left, and the state is returned unchanged.
 *
 * @throws RangeError when `cost` is not a whole number from 0 to the limit (or burst).
 * @example
 * const rule = { algorithm: 'sliding-window', limit: 5, windowMs: 3_600_000 } as const;
 * let state;
 * const d = decide(state, rule, Date.now());
 * state = d.state; // keep it for the next call; d.allowed, d.remaining, d.retryAfterMs
 */
export function decide(state: RateState | undefined, rule: RateRule, now: number, cost = 1): DecideResult {
  return BY_ALGORITHM[rule.algorithm](state, rule, now, cost);
}

/**
 * Gives back `cost` units that were consumed a moment ago (a reserved attempt that succeeded:
 * see the limiter's `reserve`), on the store's clock `now`. Pure: returns the next state.
 *
 * Units come off the newest part of the state that holds them: the current window (fixed; a
 * window that has already ended keeps its count, so a late refund never opens a new window),
 * the newest sub-windows at or before `now` (sliding), or the theoretical arrival time (GCRA,
 * never set back before `now`). A refund can only loosen a count by what it gives back, never
 * below what other calls recorded, and refunding what was never consumed is a no-op on an
 * empty state.
 *
 * @throws RangeError when `cost` is not a whole number from 1 to the limit (or burst).
 * @example state = refund(state, rule, Date.now(), 1);
 */
export function refund(
  state: RateState | undefined,
  rule: RateRule,
  now: number,
  cost = 1,
): RateState | undefined {
  assertCost(rule, cost);
  if (cost === 0 || state === undefined || state.algorithm !== rule.algorithm) return state;
  if (state.algorithm === 'fixed-window') {
    const start = Math.floor(now / rule.windowMs) * rule.windowMs;
    if (state.windowStart < start) return state;
    return { ...state, count: Math.max(0, state.count - cost) };
  }
  if (state.algorithm === 'sliding-window') {
    const n = rule.buckets ?? RATE_RULE_DEFAULTS.buckets;
    const k = Math.floor((now * n) / rule.windowMs);
    const b = state.buckets.slice();
    let left = cost;
    // Only live sub-windows give units back: a stale one counts for nothing any more.
    for (let i = b.length - 2; i >= 0 && left > 0; i -= 2) {
      if (b[i]! > k || b[i]! < k - n) continue;
      const take = Math.min(left, b[i + 1]!);
      b[i + 1]! -= take;
      left -= take;
    }
    const kept: number[] = [];
    for (let i = 0; i < b.length; i += 2) if (b[i + 1]! > 0) kept.push(b[i]!, b[i + 1]!);
    return { algorithm: 'sliding-window', buckets: kept, expiresAt: state.expiresAt };
  }
  const { limit, windowMs } = rule;
  let debt = (state.tat - now) * limit + state.rem;
  if (debt < 0) debt = 0;
  debt -= cost * windowMs;
  if (debt < 0) debt = 0;
  const whole = Math.floor(debt / limit);
  return {
    algorithm: 'gcra',
    tat: now + whole,
    rem: debt - whole * limit,
    // The expiry stays: a state that lives a little longer than it matters costs nothing.
    expiresAt: state.expiresAt,
  };
}

/** The decision part of a result, without the state (which must not leave the store). */
export function toDecision(result: DecideResult): Decision {
  return {
    allowed: result.allowed,
    limit: result.limit,
    remaining: result.remaining,
    resetAt: result.resetAt,
    retryAfterMs: result.retryAfterMs,
  };
}

function positiveInteger(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new TypeError(`${field}: expected a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Checks a rule once, at creation, and returns a frozen copy with the defaults filled in (the
 * caller's object is never written to).
 *
 * @param field the path named in errors, e.g. `rules[2]`.
 * @throws TypeError naming the field that is wrong.
 * @example rateRule({ algorithm: 'gcra', limit: 10, windowMs: 1000, burst: 20 }, 'rule')
 */
export function rateRule(input: RateRule, field = 'rule'): RateRule {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(`${field}: expected a rule object`);
  }
  if (!ALGORITHMS.includes(input.algorithm)) {
    throw new TypeError(
      `${field}.algorithm: expected one of ${ALGORITHMS.join(', ')}, got ${JSON.stringify(input.algorithm)}`,
    );
  }
  if (input.burst !== undefined && input.algorithm !== 'gcra') {
    throw new TypeError(`${field}.burst: only the 'gcra' algorithm has a burst`);
  }
  if (input.buckets !== undefined && input.algorithm !== 'sliding-window') {
    throw new TypeError(`${field}.buckets: only the 'sliding-window' algorithm has buckets`);
  }
  const limit = positiveInteger(input.limit, `${field}.limit`, 1e9);
  // Keeps `now × buckets` and `burst × windowMs` below 2^53 (exact in doubles, in JS and Lua).
  const windowMs = positiveInteger(input.windowMs, `${field}.windowMs`, 366 * 86_400_000);
  if (input.algorithm === 'sliding-window') {
    const buckets = positiveInteger(
      input.buckets ?? RATE_RULE_DEFAULTS.buckets,
      `${field}.buckets`,
      Math.min(MAX_BUCKETS, windowMs),
    );
    return Object.freeze({ algorithm: input.algorithm, limit, windowMs, buckets });
  }
  if (input.algorithm === 'gcra') {
    const burst = positiveInteger(input.burst ?? limit, `${field}.burst`, 1e9);
    if (burst * windowMs > Number.MAX_SAFE_INTEGER / 4) {
      throw new TypeError(`${field}.burst: burst × windowMs is too large to count exactly`);
    }
    return Object.freeze({ algorithm: input.algorithm, limit, windowMs, burst });
  }
  return Object.freeze({ algorithm: input.algorithm, limit, windowMs });
}
