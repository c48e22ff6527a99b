import {
  assertCost,
  type Decision,
  decide,
  RATE_RULE_DEFAULTS,
  type RateRule,
  type RateState,
  refund,
} from './algorithms.ts';
import type { RateLimitStore } from './store.ts';

/** Options of {@link memoryRateLimitStore}. */
export interface MemoryRateLimitStoreOptions {
  /**
   * The most keys kept; default 100,000. `bench/rate-limit.ts` measures about 125 bytes per key
   * with keys like `default:10.1.2.3` (heap and typed arrays, any algorithm; a sliding window
   * with counts in all of its 11 sub-windows about 230), so the default costs some 13–23 MB at
   * most. When full, the least recently used key is evicted.
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

// What a slot holds (`tag`). Per slot there are three numbers, `f0`, `c0` and `f1` (always the
// expiry), and for a sliding window with more than one live sub-window a block of numbers in
// the store's pool (`at`, `len`).
const FREE = 0;
/** Fixed window: f0 window start, c0 count. */
const FIXED = 1;
/** GCRA: f0 tat, c0 rem. */
const GCRA = 2;
/** Sliding window with one sub-window: f0 its index, c0 its count. */
const SLIDING_ONE = 3;
/**
 * Sliding window, 2+ sub-windows packed one number each: f0 the first index, the block holds
 * `(index − first) × 2^30 + count`, exact in a double while the offset is below 2^23 and the
 * count below 2^30 (any count a checked rule allows: limits are at most 10^9).
 */
const SLIDING_PACKED = 4;
/** Sliding window as `algorithms.ts` keeps it, `[index, count, …]` in the block (any other case, and none). */
const SLIDING_LIST = 5;

const PACK = 2 ** 30;
const MAX_OFFSET = 2 ** 23;
const MIN_CAPACITY = 16;
const MIN_POOL = 64;

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
 * Compact: one `Map` from key to a slot number, and the state of every slot in typed arrays
 * (no object per key, no timer per key); the least-recently-used order is a list threaded
 * through two more typed arrays, and the sub-windows of sliding windows that use several
 * live in one shared pool of numbers. A sweep that leaves the slots three-quarters empty
 * moves the live ones down and gives the rest back (the pool likewise, half empty). It counts
 * exactly as `algorithms.ts` does (the tests replay random traffic through both).
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

  const slotOf = new Map<string, number>();
  let capacity = 0;
  let tag = new Uint8Array(0);
  let f0 = new Float64Array(0);
  let c0 = new Float64Array(0);
  let f1 = new Float64Array(0);
  // The LRU list: `head` is the least recently used slot, `tail` the most; -1 ends it. Free
  // slots are chained through `next` from `free`.
  let prev = new Int32Array(0);
  let next = new Int32Array(0);
  let keys: Array<string | undefined> = [];
  // Sub-window blocks: slot `s` owns `pool[at[s] … at[s] + len[s])` (len 0: none). Free blocks
  // are chained by size, the next free offset kept in the block's first number.
  let at = new Int32Array(0);
  let len = new Int32Array(0);
  let pool = new Float64Array(0);
  let poolTop = 0;
  let poolLive = 0;
  const freeBlocks = new Map<number, number>();
  let head = -1;
  let tail = -1;
  let free = -1;
  // Slots ever handed out: those at and above it have never been used.
  let used = 0;

  /** The per-slot arrays at `size` slots, empty. */
  const columns = (size: number) =>
    [
      new Uint8Array(size),
      new Float64Array(size),
      new Float64Array(size),
      new Float64Array(size),
      new Int32Array(size),
      new Int32Array(size),
      new Int32Array(size),
      new Int32Array(size),
    ] as const;
  /** Makes `c` the store's arrays (as `columns` orders them). */
  const adopt = (c: ReturnType<typeof columns>, size: number): void => {
    [tag, f0, c0, f1, prev, next, at, len] = c;
    capacity = size;
  };
  const allocate = (size: number): void => {
    const c = columns(size);
    const keep = Math.min(used, size);
    [tag, f0, c0, f1, prev, next, at, len].forEach((old, i) => {
      c[i]!.set(old.subarray(0, keep) as never);
    });
    adopt(c, size);
  };
  const reset = (): void => {
    slotOf.clear();
    used = 0;
    allocate(0);
    keys = [];
    pool = new Float64Array(0);
    poolTop = poolLive = 0;
    freeBlocks.clear();
    head = tail = free = -1;
  };

  /** Gives `slot` a block of `size` numbers (keeping its block when the size is the same). */
  const block = (slot: number, size: number): number => {
    if (len[slot] === size) return at[slot]!;
    release(slot);
    if (size === 0) return 0;
    let offset = freeBlocks.get(size) ?? -1;
    if (offset !== -1) {
      const after = pool[offset]!;
      if (after === -1) freeBlocks.delete(size);
      else freeBlocks.set(size, after);
    } else {
      if (poolTop + size > pool.length) {
        // A fifth or more in free blocks (of sizes asked for no more, as keys gain sub-windows):
        // move the live blocks together instead of growing; else grow by half.
        if (poolTop - poolLive > poolTop / 5) compactPool(size);
        else {
          const bigger = new Float64Array(Math.max(MIN_POOL, Math.ceil((poolTop + size) * 1.5)));
          bigger.set(pool.subarray(0, poolTop));
          pool = bigger;
        }
      }
      offset = poolTop;
      poolTop += size;
    }
    at[slot] = offset;
    len[slot] = size;
    poolLive += size;
    return offset;
  };
  const release = (slot: number): void => {
    const size = len[slot]!;
    if (size === 0) return;
    const offset = at[slot]!;
    pool[offset] = freeBlocks.get(size) ?? -1;
    freeBlocks.set(size, offset);
    poolLive -= size;
    len[slot] = 0;
  };
  /** Moves the live blocks together, in a pool with room for a quarter more and `room`. */
  const compactPool = (room: number): void => {
    const moved = new Float64Array(Math.max(MIN_POOL, Math.ceil((poolLive + room) * 1.25)));
    let top = 0;
    for (let slot = 0; slot < used; slot++) {
      const n = len[slot]!;
      if (n === 0) continue;
      moved.set(pool.subarray(at[slot]!, at[slot]! + n), top);
      at[slot] = top;
      top += n;
    }
    pool = moved;
    poolTop = top;
    freeBlocks.clear();
  };

  const unlink = (slot: number): void => {
    const p = prev[slot]!;
    const n = next[slot]!;
    if (p === -1) head = n;
    else next[p] = n;
    if (n === -1) tail = p;
    else prev[n] = p;
  };
  const append = (slot: number): void => {
    prev[slot] = tail;
    next[slot] = -1;
    if (tail === -1) head = slot;
    else next[tail] = slot;
    tail = slot;
  };
  const newSlot = (key: string): number => {
    // A key built by concatenation (`${rule}:${ip}`) is a rope of two or more strings; reading
    // a character by `at` makes V8 flatten it, and the next GC keeps only the flat copy: some
    // 24 bytes less for each key kept (measured by bench/rate-limit.ts). The key is unchanged.
    key.at(-1);
    let slot = free;
    if (slot !== -1) {
      free = next[slot]!;
      keys[slot] = key;
    } else {
      if (used === capacity) allocate(Math.min(maxKeys, Math.max(MIN_CAPACITY, capacity * 2)));
      slot = used++;
      keys.push(key);
    }
    append(slot);
    slotOf.set(key, slot);
    return slot;
  };
  const remove = (slot: number): void => {
    unlink(slot);
    slotOf.delete(keys[slot]!);
    keys[slot] = undefined;
    release(slot);
    tag[slot] = FREE;
    next[slot] = free;
    free = slot;
  };
  /** Moves the live slots to the front in LRU order and shrinks the arrays to `size`. */
  const compact = (size: number): void => {
    const order: number[] = [];
    for (let s = head; s !== -1; s = next[s]!) order.push(s);
    const [t, a, b, c, p, n, o, l] = columns(size);
    const k: Array<string | undefined> = [];
    for (let i = 0; i < order.length; i++) {
      const s = order[i]!;
      t[i] = tag[s]!;
      a[i] = f0[s]!;
      b[i] = c0[s]!;
      c[i] = f1[s]!;
      p[i] = i - 1;
      n[i] = i + 1 < order.length ? i + 1 : -1;
      o[i] = at[s]!;
      l[i] = len[s]!;
      k.push(keys[s]);
      slotOf.set(keys[s]!, i);
    }
    adopt([t, a, b, c, p, n, o, l], size);
    keys = k;
    used = order.length;
    head = used > 0 ? 0 : -1;
    tail = used - 1;
    free = -1;
  };

  // The latest `now` seen: the timer sweeps on the callers' clock, not on one of its own.
  let lastNow = Number.NEGATIVE_INFINITY;

  const sweep = (now: number): number => {
    let dropped = 0;
    for (let slot = 0; slot < used; slot++) {
      if (tag[slot] !== FREE && f1[slot]! <= now) {
        remove(slot);
        dropped++;
      }
    }
    const live = slotOf.size;
    if (capacity > MIN_CAPACITY && live * 4 < capacity) {
      let size = MIN_CAPACITY;
      while (size < live * 2) size *= 2;
      compact(Math.min(size, maxKeys));
    }
    if (pool.length > MIN_POOL && poolLive * 2 < pool.length) compactPool(0);
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
      if (head === -1 || f1[head]! > now) return;
      remove(head);
    }
  };

  // --- the algorithms, on slots ----------------------------------------------------------
  // Each mirrors its pure twin in `algorithms.ts` line for line (see there for the why), reads
  // the slot (-1: no state) and, when the twin would return a new state, leaves it in `w*`
  // with `write` set; the caller stores it. Sliding-window sub-windows go through `idx`/`cnt`.
  let write = false;
  let wTag = FREE;
  let wF0 = 0;
  let wC0 = 0;
  let wF1 = 0;
  const idx: number[] = [];
  const cnt: number[] = [];
  let pairs = 0;

  const fixed = (slot: number, rule: RateRule, now: number, cost: number): Decision => {
    const { limit, windowMs } = rule;
    let start = Math.floor(now / windowMs) * windowMs;
    let count = 0;
    if (slot !== -1 && tag[slot] === FIXED && f0[slot]! >= start) {
      start = f0[slot]!;
      count = c0[slot]!;
    }
    const resetAt = start + windowMs;
    const need = cost > 0 ? cost : 1;
    const allowed = count + need <= limit;
    if (allowed && cost > 0) {
      count += cost;
      write = true;
      wTag = FIXED;
      wF0 = start;
      wC0 = count;
      wF1 = resetAt;
    }
    return {
      allowed,
      limit,
      remaining: Math.max(0, limit - count),
      resetAt,
      retryAfterMs: allowed ? 0 : resetAt - now,
    };
  };

  const gcra = (slot: number, rule: RateRule, now: number, cost: number): Decision => {
    const { limit, windowMs } = rule;
    const burst = rule.burst ?? limit;
    const capacity = burst * windowMs;
    let debt = 0;
    if (slot !== -1 && tag[slot] === GCRA) {
      debt = (f0[slot]! - now) * limit + c0[slot]!;
      if (debt < 0) debt = 0;
    }
    const need = cost > 0 ? cost : 1;
    const allowed = debt + need * windowMs <= capacity;
    if (allowed && cost > 0) {
      debt += cost * windowMs;
      const whole = Math.floor(debt / limit);
      write = true;
      wTag = GCRA;
      wF0 = now + whole;
      wC0 = debt - whole * limit;
      wF1 = now + Math.ceil(debt / limit);
    }
    const remaining = Math.max(0, Math.floor((capacity - debt) / windowMs));
    const resetAt =
      remaining < burst ? now + Math.ceil((debt - capacity + (remaining + 1) * windowMs) / limit) : now;
    return {
      allowed,
      limit,
      remaining,
      resetAt,
      retryAfterMs: allowed ? 0 : Math.ceil((debt + need * windowMs - capacity) / limit),
    };
  };

  /** Reads a slot's sub-windows into `idx`/`cnt` (none unless it holds a sliding window). */
  const readPairs = (slot: number): void => {
    pairs = 0;
    if (slot === -1) return;
    const t = tag[slot];
    if (t === SLIDING_ONE) {
      idx[0] = f0[slot]!;
      cnt[0] = c0[slot]!;
      pairs = 1;
    } else if (t === SLIDING_PACKED) {
      const base = f0[slot]!;
      const from = at[slot]!;
      pairs = len[slot]!;
      for (let i = 0; i < pairs; i++) {
        const v = pool[from + i]!;
        const offset = Math.floor(v / PACK);
        idx[i] = base + offset;
        cnt[i] = v - offset * PACK;
      }
    } else if (t === SLIDING_LIST) {
      const from = at[slot]!;
      const end = from + len[slot]!;
      for (let i = from; i < end; i += 2) {
        idx[pairs] = pool[i]!;
        cnt[pairs++] = pool[i + 1]!;
      }
    }
  };

  const sliding = (slot: number, rule: RateRule, now: number, cost: number): Decision => {
    const { limit, windowMs } = rule;
    const n = rule.buckets ?? RATE_RULE_DEFAULTS.buckets;
    const k = Math.floor((now * n) / windowMs);
    const oldest = k - n;
    readPairs(slot);
    // Keep the live sub-windows (in place: `m` ≤ `i`).
    let m = 0;
    let used = 0;
    for (let i = 0; i < pairs; i++) {
      if (idx[i]! >= oldest) {
        idx[m] = idx[i]!;
        cnt[m] = cnt[i]!;
        used += cnt[m++]!;
      }
    }
    const need = cost > 0 ? cost : 1;
    const allowed = used + need <= limit;
    if (allowed && cost > 0) {
      let i = 0;
      while (i < m && idx[i]! < k) i++;
      if (i < m && idx[i] === k) cnt[i]! += cost;
      else {
        for (let j = m; j > i; j--) {
          idx[j] = idx[j - 1]!;
          cnt[j] = cnt[j - 1]!;
        }
        idx[i] = k;
        cnt[i] = cost;
        m++;
      }
      used += cost;
    }
    pairs = m;
    const leaves = (index: number) => Math.ceil(((index + n + 1) * windowMs) / n);
    if (cost > 0 && (allowed || m > 0 || slot !== -1)) {
      write = true;
      wTag = SLIDING_LIST; // the pairs in idx/cnt, encoded by `store`
      wF1 = m > 0 ? leaves(idx[m - 1]!) : now;
    }
    let retryAfterMs = 0;
    if (!allowed) {
      let left = used;
      for (let i = 0; i < m; i++) {
        left -= cnt[i]!;
        if (left + need <= limit) {
          retryAfterMs = leaves(idx[i]!) - now;
          break;
        }
      }
    }
    return {
      allowed,
      limit,
      remaining: Math.max(0, limit - used),
      resetAt: m > 0 ? leaves(idx[0]!) : now,
      retryAfterMs,
    };
  };

  /** Writes the pending state (`w*`, and for a sliding window `idx`/`cnt`) into `slot`. */
  const store = (slot: number): void => {
    f1[slot] = wF1;
    if (wTag !== SLIDING_LIST) {
      tag[slot] = wTag;
      f0[slot] = wF0;
      c0[slot] = wC0;
      release(slot);
      return;
    }
    if (pairs === 1) {
      tag[slot] = SLIDING_ONE;
      f0[slot] = idx[0]!;
      c0[slot] = cnt[0]!;
      release(slot);
      return;
    }
    let packable = pairs > 1;
    const base = idx[0]!;
    for (let i = 0; i < pairs && packable; i++) {
      const offset = idx[i]! - base;
      packable = offset >= 0 && offset < MAX_OFFSET && cnt[i]! >= 0 && cnt[i]! < PACK;
    }
    if (packable) {
      // The same number of sub-windows as before (the common case) keeps its block.
      const to = block(slot, pairs);
      for (let i = 0; i < pairs; i++) pool[to + i] = (idx[i]! - base) * PACK + cnt[i]!;
      tag[slot] = SLIDING_PACKED;
      f0[slot] = base;
    } else {
      const to = block(slot, pairs * 2);
      for (let i = 0; i < pairs; i++) {
        pool[to + 2 * i] = idx[i]!;
        pool[to + 2 * i + 1] = cnt[i]!;
      }
      tag[slot] = SLIDING_LIST;
    }
  };

  const evaluate = (slot: number, rule: RateRule, now: number, cost: number): Decision => {
    write = false;
    switch (rule.algorithm) {
      case 'sliding-window':
        assertCost(rule, cost);
        return sliding(slot, rule, now, cost);
      case 'fixed-window':
        assertCost(rule, cost);
        return fixed(slot, rule, now, cost);
      case 'gcra':
        assertCost(rule, cost);
        return gcra(slot, rule, now, cost);
      default:
        // Not an algorithm: the pure version says so the way it always has.
        return decide(stateOf(slot), rule, now, cost);
    }
  };

  /** The slot's state as `algorithms.ts` writes it (for the rare paths that use it). */
  const stateOf = (slot: number): RateState | undefined => {
    if (slot === -1) return undefined;
    const t = tag[slot];
    const expiresAt = f1[slot]!;
    if (t === FIXED)
      return { algorithm: 'fixed-window', windowStart: f0[slot]!, count: c0[slot]!, expiresAt };
    if (t === GCRA) return { algorithm: 'gcra', tat: f0[slot]!, rem: c0[slot]!, expiresAt };
    readPairs(slot);
    const buckets: number[] = [];
    for (let i = 0; i < pairs; i++) buckets.push(idx[i]!, cnt[i]!);
    return { algorithm: 'sliding-window', buckets, expiresAt };
  };
  /** Stores a state from `algorithms.ts` into `slot`. */
  const setState = (slot: number, state: RateState): void => {
    wF1 = state.expiresAt;
    if (state.algorithm === 'sliding-window') {
      wTag = SLIDING_LIST;
      pairs = 0;
      for (let i = 0; i < state.buckets.length; i += 2) {
        idx[pairs] = state.buckets[i]!;
        cnt[pairs++] = state.buckets[i + 1]!;
      }
    } else if (state.algorithm === 'fixed-window') {
      wTag = FIXED;
      wF0 = state.windowStart;
      wC0 = state.count;
    } else {
      wTag = GCRA;
      wF0 = state.tat;
      wC0 = state.rem;
    }
    store(slot);
  };

  const consume = (key: string, rule: RateRule, now: number, cost = 1): Decision => {
    const id = keyPrefix === '' ? key : keyPrefix + key;
    if (now > lastNow) lastNow = now;
    let slot = slotOf.get(id) ?? -1;
    const decision = evaluate(slot, rule, now, cost);
    if (slot !== -1) {
      // Refused calls move the key too: a key still sending is the last one to evict.
      if (slot !== tail) {
        unlink(slot);
        append(slot);
      }
      if (write) store(slot);
    } else if (write) {
      dropExpiredHead(now);
      if (slotOf.size >= maxKeys) remove(head);
      slot = newSlot(id);
      store(slot);
    }
    return decision;
  };

  return {
    keyPrefix,
    get size() {
      return slotOf.size;
    },
    consume,
    peek(key, rule, now) {
      return evaluate(slotOf.get(keyPrefix === '' ? key : keyPrefix + key) ?? -1, rule, now, 0);
    },
    refund(key, rule, now, cost = 1) {
      const slot = slotOf.get(keyPrefix === '' ? key : keyPrefix + key);
      if (slot === undefined) return;
      const before = stateOf(slot)!;
      const after = refund(before, rule, now, cost);
      if (after !== undefined && after !== before) setState(slot, after);
    },
    reset(key) {
      const slot = slotOf.get(keyPrefix === '' ? key : keyPrefix + key);
      if (slot !== undefined) remove(slot);
    },
    sweep,
    close() {
      if (timer !== undefined) clearInterval(timer);
      reset();
    },
  };
}
