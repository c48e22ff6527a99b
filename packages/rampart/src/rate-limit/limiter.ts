import { RampartError } from '../errors.ts';
import { ipKey } from '../lib/ip.ts';
import type { Awaitable, Clock } from '../lib/types.ts';
import type { Decision, RateRule } from './algorithms.ts';
import { policyFormatter, retryAfterSeconds } from './headers.ts';
import { type MemoryRateLimitStore, memoryRateLimitStore } from './memory-store.ts';
import { type CompiledRule, compileRule, type RateLimitRequest, type RuleSet } from './rules.ts';
import type { RateLimitStore } from './store.ts';

/** Where a rule's decision came from. */
export type DecisionSource = 'store' | 'local' | 'open' | 'closed';

/** One rule's decision for one request. */
export interface RuleDecision extends Decision {
  /** The rule's name. */
  readonly rule: string;
  /** The bucket identity, e.g. `203.0.113.7`, `2001:db8:1:2::/64`, `usr_…`. */
  readonly key: string;
  readonly windowMs: number;
  /**
   * `'store'`: the configured store decided. `'local'`: the store had failed and the
   * per-instance fallback decided. `'open'`/`'closed'`: the store had failed and the rule's
   * policy allowed or refused without counting.
   */
  readonly source: DecisionSource;
}

/** The answer of `check()`. A refusal is a value: `allowed: false`, never a thrown error. */
export interface RateLimitResult {
  readonly allowed: boolean;
  /** One per rule that applied (matched the route and found an identity). */
  readonly decisions: readonly RuleDecision[];
  /** `RateLimit-Policy` and `RateLimit` when a rule applied; `Retry-After` when refused. */
  readonly headers: Record<string, string>;
  /** When refused: whole seconds to wait, ≥ 1 (the `Retry-After` value). */
  readonly retryAfterSec?: number;
  /** `'closed'` when a rule refused because its store is down (answer 503, not 429). */
  readonly failure?: 'closed';
}

/** The answer of `isBlocked()`. */
export interface BlockCheck {
  /** Refuse before any expensive work: too many recent failures for this client or account. */
  readonly blocked: boolean;
  readonly decisions: readonly RuleDecision[];
  /** `RateLimit-Policy`, `RateLimit` and `Retry-After` of the blocking rules; empty if not blocked. */
  readonly headers: Record<string, string>;
  readonly retryAfterSec?: number;
  readonly failure?: 'closed';
}

/** The part of a request that hooks and stats may see: never the body (it may hold a password). */
export interface RequestSummary {
  readonly method: string;
  readonly route: string;
  readonly ip: string;
  readonly userId?: string;
  readonly apiKeyId?: string;
}

/** Given to `onRefused`: the first refusal of a key in a window. */
export interface RefusalInfo {
  readonly rule: string;
  readonly key: string;
  /** Refusals of this key since its counter last expired. */
  readonly count: number;
  readonly at: number;
  readonly decision: RuleDecision;
  readonly request: RequestSummary;
}

/** Given to `onFailOpen`: a rule with `onStoreError: 'open'` let a request through uncounted. */
export interface FailOpenInfo {
  readonly rule: string;
  readonly key: string;
  readonly at: number;
  readonly request: RequestSummary;
}

/** A refused key, as `blockedStats()` lists it. */
export interface BlockedStat {
  readonly rule: string;
  readonly key: string;
  readonly count: number;
  readonly firstAt: number;
  readonly lastAt: number;
  /** The counter is forgotten at this time unless the key is refused again. */
  readonly expiresAt: number;
}

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Where the counters live (memory, Redis, or your own). */
  store: RateLimitStore;
  /** The rules; every rule that matches a request applies. */
  rules: RuleSet;
  /** The clock, ms; default `Date.now`. */
  now?: Clock;
  /**
   * The per-instance store used by rules with `onStoreError: 'local'` while `store` is down;
   * default a memory store of 100,000 keys (closed by `close()`).
   */
  fallback?: RateLimitStore;
  /**
   * A store call with no answer after this many ms counts as a failure; default 100; 0 waits
   * for ever (leave the timeout to the client, e.g. ioredis `commandTimeout`).
   */
  storeTimeoutMs?: number;
  /**
   * While the store is down, how often (ms) one background probe checks whether it is back;
   * default 1,000. Requests never wait for the probe.
   */
  probeIntervalMs?: number;
  /** The IPv6 prefix length that forms an `'ip'` key, 32–128; default 64. */
  ipv6Prefix?: number;
  /** The most keys tracked for refusal stats and hook de-duplication; default 10,000 (LRU). */
  maxTrackedKeys?: number;
  /** Called once per transition: `'down'` with the error on the first failure, `'up'` on recovery. */
  onStoreStateChange?: (state: 'down' | 'up', error?: unknown) => void;
  /** Called on the first refusal of a key per window (not on every refused request). */
  onRefused?: (info: RefusalInfo) => void;
  /** Called when an `'open'` rule lets a key through uncounted; at most once per key per window. */
  onFailOpen?: (info: FailOpenInfo) => void;
}

/** The limiter: runs the rules for a request on a store. */
export interface RateLimiter {
  /** Counts the request against every matching `'requests'` rule; refuses if any is over. */
  check(request: RateLimitRequest): Promise<RateLimitResult>;
  /**
   * Cheap refusal of bad credentials: call before any expensive lookup (argon2, database).
   * Blocked when a matching `'failures'` rule has no unit left. Counts nothing.
   */
  isBlocked(request: RateLimitRequest): Promise<BlockCheck>;
  /** Counts one failed authentication against every matching `'failures'` rule. */
  recordFailure(request: RateLimitRequest): Promise<void>;
  /**
   * Forgets the request's buckets under every matching rule, or only under `rule` (e.g. the
   * failed-login counter of an account after a successful login).
   */
  reset(request: RateLimitRequest, rule?: string): Promise<void>;
  /** Forgets one bucket by rule name and key, as `blockedStats()` lists them (admin unblock). */
  resetKey(rule: string, key: string): Promise<void>;
  /** The keys refused recently on this instance, most refused first. */
  blockedStats(): BlockedStat[];
  /** Whether the store is currently believed to answer. */
  readonly storeState: 'up' | 'down';
  /** Closes the fallback store the limiter created. The given stores stay open. */
  close(): Promise<void>;
}

const LIMITER_DEFAULTS = Object.freeze({
  storeTimeoutMs: 100,
  probeIntervalMs: 1_000,
  ipv6Prefix: 64,
  maxTrackedKeys: 10_000,
  fallbackMaxKeys: 100_000,
});

const OPTION_KEYS = new Set([
  'store',
  'rules',
  'now',
  'fallback',
  'storeTimeoutMs',
  'probeIntervalMs',
  'ipv6Prefix',
  'maxTrackedKeys',
  'onStoreStateChange',
  'onRefused',
  'onFailOpen',
]);

const PROBE_KEY = 'rampart:probe';
const PROBE_RULE: RateRule = Object.freeze({ algorithm: 'fixed-window', limit: 1, windowMs: 1_000 });

function isStore(value: unknown): value is RateLimitStore {
  const s = value as RateLimitStore | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.consume === 'function' &&
    typeof s.peek === 'function' &&
    typeof s.reset === 'function'
  );
}

function wholeNumber(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(
      `${field}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function optionalFunction<T>(value: T | undefined, field: string): T | undefined {
  if (value !== undefined && typeof value !== 'function')
    throw new TypeError(`${field}: expected a function`);
  return value;
}

function summary(request: RateLimitRequest): RequestSummary {
  const s: { -readonly [K in keyof RequestSummary]: RequestSummary[K] } = {
    method: request.method,
    route: request.route,
    ip: request.ip,
  };
  if (request.userId !== undefined) s.userId = request.userId;
  if (request.apiKeyId !== undefined) s.apiKeyId = request.apiKeyId;
  return s;
}

interface Tracked {
  rule: string;
  key: string;
  count: number;
  firstAt: number;
  lastAt: number;
  expiresAt: number;
  notifiedUntil: number;
}

/**
 * Creates a rate limiter over a store. Framework-free: adapters build a
 * {@link RateLimitRequest} and turn the {@link RateLimitResult} into a response (429 with the
 * headers, or 503 for `failure: 'closed'`).
 *
 * Guarantees: each rule is decided atomically by the store (150 simultaneous requests against
 * a limit of 5 → exactly 5 allowed); a refused request still counts against the other rules
 * that allowed it (it did reach the server). When the store fails (a rejection, or no answer
 * within `storeTimeoutMs`), the limiter marks it down once, calls `onStoreStateChange('down')`,
 * and decides every rule by its `onStoreError` policy without touching the store again; one
 * background probe per `probeIntervalMs` checks it, and the first success brings it back
 * (`onStoreStateChange('up')`). With the ioredis settings of `redisClientOptions`, limiting
 * through Redis resumes within about two seconds of Redis returning.
 *
 * @throws TypeError naming the option (e.g. `rules[1].window`) that is wrong.
 * @example
 * const limiter = createRateLimiter({ store: memoryRateLimitStore(), rules: defaultRateLimitRules() });
 * const result = await limiter.check({ method: 'POST', route: '/v1/auth/password-reset', ip, body });
 * if (!result.allowed) reply.status(result.failure ? 503 : 429).headers(result.headers);
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  if (typeof options !== 'object' || options === null) throw new TypeError('options: expected an object');
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.has(k)) throw new TypeError(`${k}: unknown rate limiter option`);
  }
  if (!isStore(options.store)) throw new TypeError('store: expected a RateLimitStore (consume, peek, reset)');
  const store = options.store;
  if (options.fallback !== undefined && !isStore(options.fallback)) {
    throw new TypeError('fallback: expected a RateLimitStore (consume, peek, reset)');
  }
  const clock = optionalFunction(options.now, 'now') ?? Date.now;
  const storeTimeoutMs = wholeNumber(
    options.storeTimeoutMs ?? LIMITER_DEFAULTS.storeTimeoutMs,
    'storeTimeoutMs',
    0,
    60_000,
  );
  const probeIntervalMs = wholeNumber(
    options.probeIntervalMs ?? LIMITER_DEFAULTS.probeIntervalMs,
    'probeIntervalMs',
    1,
    60_000,
  );
  const ipv6Prefix = wholeNumber(options.ipv6Prefix ?? LIMITER_DEFAULTS.ipv6Prefix, 'ipv6Prefix', 32, 128);
  ipKey('::1', { ipv6Prefix });
  const maxTrackedKeys = wholeNumber(
    options.maxTrackedKeys ?? LIMITER_DEFAULTS.maxTrackedKeys,
    'maxTrackedKeys',
    1,
  );
  const onStoreStateChange = optionalFunction(options.onStoreStateChange, 'onStoreStateChange');
  const onRefused = optionalFunction(options.onRefused, 'onRefused');
  const onFailOpen = optionalFunction(options.onFailOpen, 'onFailOpen');

  if (!Array.isArray(options.rules)) throw new TypeError('rules: expected an array of rules');
  const rules = options.rules.map((rule, i) => compileRule(rule, `rules[${i}]`, ipv6Prefix));
  const names = new Set<string>();
  rules.forEach((rule, i) => {
    if (names.has(rule.name))
      throw new TypeError(`rules[${i}].name: ${JSON.stringify(rule.name)} is used twice`);
    names.add(rule.name);
  });
  const requestRules = rules.filter((r) => r.counts === 'requests');
  const failureRules = rules.filter((r) => r.counts === 'failures');

  const ownFallback: MemoryRateLimitStore | undefined =
    options.fallback === undefined || store === options.fallback
      ? memoryRateLimitStore({ maxKeys: LIMITER_DEFAULTS.fallbackMaxKeys })
      : undefined;
  const fallback = ownFallback ?? options.fallback!;

  let storeState: 'up' | 'down' = 'up';
  let nextProbeAt = 0;
  let probing = false;
  const tracked = new Map<string, Tracked>();
  const openNotified = new Map<string, number>();

  // A hook that throws must not turn a decision into an error: report it and go on.
  const hook = <A extends unknown[]>(name: string, fn: ((...args: A) => void) | undefined, ...args: A) => {
    if (fn === undefined) return;
    try {
      fn(...args);
    } catch (error) {
      process.emitWarning(
        `rate limiter hook ${name} threw: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  };

  const storeTimeout = new RampartError('STORE_UNAVAILABLE', {
    detail: `the rate-limit store did not answer within ${storeTimeoutMs} ms`,
  });
  const guard = <T>(value: Awaitable<T>): Awaitable<T> => {
    if (storeTimeoutMs === 0 || !(value instanceof Promise)) return value;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(storeTimeout), storeTimeoutMs);
      value.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  };

  const markDown = (error: unknown, now: number): void => {
    if (storeState === 'down') return;
    storeState = 'down';
    nextProbeAt = now + probeIntervalMs;
    hook('onStoreStateChange', onStoreStateChange, 'down', error);
  };

  const maybeProbe = (now: number): void => {
    if (probing || now < nextProbeAt) return;
    probing = true;
    nextProbeAt = now + probeIntervalMs;
    Promise.resolve()
      .then(() => guard(store.peek(PROBE_KEY, PROBE_RULE, now)))
      .then(
        () => {
          if (storeState === 'down') {
            storeState = 'up';
            hook('onStoreStateChange', onStoreStateChange, 'up');
          }
        },
        () => {},
      )
      .finally(() => {
        probing = false;
      });
  };

  const remember = <V>(map: Map<string, V>, id: string, value: V): void => {
    map.delete(id);
    if (map.size >= maxTrackedKeys) map.delete(map.keys().next().value!);
    map.set(id, value);
  };

  const ruleDecision = (
    rule: CompiledRule,
    key: string,
    d: Decision,
    source: DecisionSource,
  ): RuleDecision => ({
    allowed: d.allowed,
    limit: d.limit,
    remaining: d.remaining,
    resetAt: d.resetAt,
    retryAfterMs: d.retryAfterMs,
    rule: rule.name,
    key,
    windowMs: rule.rate.windowMs,
    source,
  });

  const closedDecision = (rule: CompiledRule, key: string, now: number): RuleDecision => {
    const closed = {
      allowed: false,
      limit: rule.rate.limit,
      remaining: 0,
      resetAt: now + probeIntervalMs,
      retryAfterMs: probeIntervalMs,
    };
    return ruleDecision(rule, key, closed, 'closed');
  };

  const withoutStore = (
    rule: CompiledRule,
    key: string,
    cost: number,
    now: number,
    request: RateLimitRequest,
  ): RuleDecision | Promise<RuleDecision> => {
    const id = `${rule.name}:${key}`;
    if (rule.onStoreError === 'local') {
      try {
        const d = cost > 0 ? fallback.consume(id, rule.rate, now, cost) : fallback.peek(id, rule.rate, now);
        if (!(d instanceof Promise)) return ruleDecision(rule, key, d, 'local');
        // A fallback that fails too leaves nothing to count on: refuse, as 'closed' would.
        return d.then(
          (v) => ruleDecision(rule, key, v, 'local'),
          () => closedDecision(rule, key, now),
        );
      } catch {
        return closedDecision(rule, key, now);
      }
    }
    if (rule.onStoreError === 'open') {
      if ((openNotified.get(id) ?? Number.NEGATIVE_INFINITY) <= now) {
        remember(openNotified, id, now + rule.rate.windowMs);
        hook('onFailOpen', onFailOpen, { rule: rule.name, key, at: now, request: summary(request) });
      }
      const open = {
        allowed: true,
        limit: rule.rate.limit,
        remaining: rule.rate.limit,
        resetAt: now,
        retryAfterMs: 0,
      };
      return ruleDecision(rule, key, open, 'open');
    }
    return closedDecision(rule, key, now);
  };

  // Synchronous when the store answers synchronously (memory): no promise per rule on that path.
  const evaluate = (
    rule: CompiledRule,
    key: string,
    cost: number,
    now: number,
    request: RateLimitRequest,
  ): RuleDecision | Promise<RuleDecision> => {
    if (storeState !== 'up') {
      maybeProbe(now);
      return withoutStore(rule, key, cost, now, request);
    }
    const id = `${rule.name}:${key}`;
    let answer: Awaitable<Decision>;
    try {
      answer = cost > 0 ? store.consume(id, rule.rate, now, cost) : store.peek(id, rule.rate, now);
    } catch (error) {
      markDown(error, now);
      return withoutStore(rule, key, cost, now, request);
    }
    if (!(answer instanceof Promise)) return ruleDecision(rule, key, answer, 'store');
    return (guard(answer) as Promise<Decision>).then(
      (d) => ruleDecision(rule, key, d, 'store'),
      (error: unknown) => {
        markDown(error, now);
        return withoutStore(rule, key, cost, now, request);
      },
    );
  };

  const evaluateAll = async (
    list: readonly CompiledRule[],
    cost: number,
    request: RateLimitRequest,
    now: number,
  ): Promise<RuleDecision[]> => {
    const method = String(request.method).toUpperCase();
    const route = typeof request.route === 'string' ? request.route : '';
    const out: Array<RuleDecision | Promise<RuleDecision>> = [];
    let pending = false;
    for (const rule of list) {
      if (!rule.matches(method, route)) continue;
      const key = rule.identity(request);
      if (key === undefined) continue;
      const d = evaluate(rule, key, cost, now, request);
      if (d instanceof Promise) pending = true;
      out.push(d);
    }
    return pending ? Promise.all(out) : (out as RuleDecision[]);
  };

  const applying = (list: readonly CompiledRule[], request: RateLimitRequest) => {
    const method = String(request.method).toUpperCase();
    const route = typeof request.route === 'string' ? request.route : '';
    const out: Array<{ rule: CompiledRule; key: string }> = [];
    for (const rule of list) {
      if (!rule.matches(method, route)) continue;
      const key = rule.identity(request);
      if (key !== undefined) out.push({ rule, key });
    }
    return out;
  };

  const trackRefusal = (d: RuleDecision, request: RateLimitRequest, now: number): void => {
    const id = `${d.rule}:${d.key}`;
    let t = tracked.get(id);
    if (t === undefined || t.expiresAt <= now) {
      t = { rule: d.rule, key: d.key, count: 0, firstAt: now, lastAt: now, expiresAt: now, notifiedUntil: 0 };
    }
    t.count++;
    t.lastAt = now;
    t.expiresAt = now + d.windowMs;
    remember(tracked, id, t);
    if (now >= t.notifiedUntil) {
      t.notifiedUntil = now + d.windowMs;
      hook('onRefused', onRefused, {
        rule: d.rule,
        key: d.key,
        count: t.count,
        at: now,
        decision: d,
        request: summary(request),
      });
    }
  };

  const formatters = new Map(
    rules.map((r) => [r.name, policyFormatter(r.name, r.rate.limit, r.rate.windowMs)]),
  );

  const conclude = (decisions: RuleDecision[], request: RateLimitRequest, now: number) => {
    let allowed = true;
    let failure: 'closed' | undefined;
    let retryMs = 0;
    let policy = '';
    let items = '';
    for (const d of decisions) {
      if (d.source === 'store' || d.source === 'local') {
        const f = formatters.get(d.rule)!;
        const sep = policy === '' ? '' : ',';
        policy += sep + f.policy;
        items += sep + f.item(d.remaining, d.resetAt - now);
      }
      if (!d.allowed) {
        allowed = false;
        if (d.retryAfterMs > retryMs) retryMs = d.retryAfterMs;
        if (d.source === 'closed') failure = 'closed';
        else trackRefusal(d, request, now);
      }
    }
    const headers: Record<string, string> = {};
    if (policy !== '') {
      headers['RateLimit-Policy'] = policy;
      headers.RateLimit = items;
    }
    if (allowed) return { allowed, decisions, headers };
    const retryAfterSec = retryAfterSeconds(retryMs);
    headers['Retry-After'] = String(retryAfterSec);
    return { allowed, decisions, headers, retryAfterSec, ...(failure === undefined ? {} : { failure }) };
  };

  const forget = async (rule: CompiledRule, key: string): Promise<void> => {
    const id = `${rule.name}:${key}`;
    tracked.delete(id);
    openNotified.delete(id);
    await fallback.reset(id);
    if (storeState === 'down') return;
    try {
      await guard(store.reset(id));
    } catch (error) {
      markDown(error, clock());
    }
  };

  return {
    async check(request) {
      const now = clock();
      return conclude(await evaluateAll(requestRules, 1, request, now), request, now);
    },

    async isBlocked(request) {
      const now = clock();
      const decisions = await evaluateAll(failureRules, 0, request, now);
      const blocking = decisions.filter((d) => !d.allowed);
      if (blocking.length === 0) return { blocked: false, decisions, headers: {} };
      const { allowed: _, ...rest } = conclude(blocking, request, now);
      return { ...rest, blocked: true, decisions };
    },

    async recordFailure(request) {
      await evaluateAll(failureRules, 1, request, clock());
    },

    async reset(request, ruleName) {
      const list = ruleName === undefined ? applying(rules, request) : [];
      if (ruleName !== undefined) {
        const rule = rules.find((r) => r.name === ruleName);
        if (rule === undefined) throw new RangeError(`rule: no rule is named ${JSON.stringify(ruleName)}`);
        const key = rule.identity(request);
        if (key !== undefined) list.push({ rule, key });
      }
      await Promise.all(list.map(({ rule, key }) => forget(rule, key)));
    },

    async resetKey(ruleName, key) {
      const rule = rules.find((r) => r.name === ruleName);
      if (rule === undefined) throw new RangeError(`rule: no rule is named ${JSON.stringify(ruleName)}`);
      await forget(rule, key);
    },

    blockedStats() {
      const now = clock();
      const out: BlockedStat[] = [];
      for (const [id, t] of tracked) {
        if (t.expiresAt <= now) {
          tracked.delete(id);
          continue;
        }
        out.push({
          rule: t.rule,
          key: t.key,
          count: t.count,
          firstAt: t.firstAt,
          lastAt: t.lastAt,
          expiresAt: t.expiresAt,
        });
      }
      return out.sort((a, b) => b.count - a.count || b.lastAt - a.lastAt);
    },

    get storeState() {
      return storeState;
    },

    async close() {
      ownFallback?.close();
    },
  };
}
