import { ipKey } from '../lib/ip.ts';
import { optionalFunction, wholeNumber } from '../lib/options.ts';
import type { Awaitable, Clock } from '../lib/types.ts';
import type { Decision } from './algorithms.ts';
import { policyFormatter, retryAfterSeconds } from './headers.ts';
import { type DecisionSource, type ResilientStore, resilientStore } from './resilient-store.ts';
import { type CompiledRule, compileRule, type RateLimitRequest, type RuleSet } from './rules.ts';
import { isRateLimitStore, type RateLimitStore } from './store.ts';

export type { DecisionSource } from './resilient-store.ts';

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

/** The answer of `reserve()`: a refusal, or the reserved attempt to settle. */
export interface Reservation {
  /** False when a matching failure budget had no unit left (nothing stays reserved then). */
  readonly allowed: boolean;
  readonly decisions: readonly RuleDecision[];
  /** `RateLimit-Policy`, `RateLimit` and, when refused, `Retry-After`. */
  readonly headers: Record<string, string>;
  readonly retryAfterSec?: number;
  readonly failure?: 'closed';
  /**
   * The attempt succeeded: the reserved units go back. Leaving a reservation unreleased is
   * how a failure is counted. Calling it twice gives back once.
   */
  release(): Awaitable<void>;
}

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /**
   * Where the counters live (memory, Redis, or your own), or a {@link ResilientStore} shared
   * with other limiters (then the timeout and breaker options below belong to it, not here).
   */
  store: RateLimitStore | ResilientStore;
  /** The rules; every rule that matches a request applies. */
  rules: RuleSet;
  /** The clock, ms; default `Date.now`. */
  now?: Clock;
  /** Plain store only: the per-instance store `'local'` rules use while `store` is down (see `resilientStore`). */
  fallback?: RateLimitStore;
  /** Plain store only: the wait for one store answer, ms, loop lag not counted; default 1,000. */
  storeTimeoutMs?: number;
  /** Plain store only: store failures in a row that mark it down; default 3 (a dead connection: at once). */
  failuresToTrip?: number;
  /** Plain store only: while down, how often one probe checks the store, ms; default 500. */
  probeIntervalMs?: number;
  /** The IPv6 prefix length that forms an `'ip'` key, 32–128; default 64. */
  ipv6Prefix?: number;
  /** The most keys tracked for refusal stats and hook de-duplication; default 10,000 (LRU). */
  maxTrackedKeys?: number;
  /** Plain store only: called once per transition, `'down'` with the error, `'up'` on recovery. */
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
  /** `check`, answered at once when the store answers at once (memory): no promise on that path. */
  decide(request: RateLimitRequest): RateLimitResult | Promise<RateLimitResult>;
  /**
   * Reserves one attempt against every matching `'failures'` rule before expensive work
   * (argon2, a database lookup), atomically per rule: of 95 simultaneous attempts against a
   * budget of 10, at most 10 get through. `release()` the reservation when the attempt
   * succeeds; a failed attempt keeps it, which is how it is counted.
   */
  reserve(request: RateLimitRequest): Promise<Reservation>;
  /**
   * Cheap refusal of bad credentials: call before any expensive lookup (argon2, database).
   * Blocked when a matching `'failures'` rule has no unit left. Counts nothing.
   */
  isBlocked(request: RateLimitRequest): Promise<BlockCheck>;
  /** Counts one failed authentication against every matching `'failures'` rule (no reservation was made). */
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
  /** Closes what the limiter made (its resilient wrapper and fallback). The given stores stay open. */
  close(): Promise<void>;
}

const LIMITER_DEFAULTS = Object.freeze({ ipv6Prefix: 64, maxTrackedKeys: 10_000 });

const OPTION_KEYS = new Set([
  'store',
  'rules',
  'now',
  'fallback',
  'storeTimeoutMs',
  'failuresToTrip',
  'probeIntervalMs',
  'ipv6Prefix',
  'maxTrackedKeys',
  'onStoreStateChange',
  'onRefused',
  'onFailOpen',
]);
/** The options that configure a wrapper the limiter makes; with a shared wrapper they belong to it. */
const WRAPPER_KEYS = [
  'fallback',
  'storeTimeoutMs',
  'failuresToTrip',
  'probeIntervalMs',
  'onStoreStateChange',
] as const;

/** Is `value` a {@link ResilientStore} rather than a plain store? */
export function isResilientStore(value: unknown): value is ResilientStore {
  const s = value as ResilientStore | null;
  return typeof s === 'object' && s !== null && typeof s.decide === 'function' && 'state' in s;
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
 * that allowed it (it did reach the server). Store failures are handled by one
 * {@link resilientStore} (given, or made from the options): a slow answer is decided by the
 * rule's `onStoreError` policy for that request only, and only failures in a row (or a dead
 * connection) mark the store down; while down no request touches it, and one background
 * probe brings it back.
 *
 * @throws TypeError naming the option (e.g. `rules[1].window`) that is wrong.
 * @example
 * const limiter = createRateLimiter({ store: memoryRateLimitStore(), rules: [{ name: 'api', limit: 100, window: '15m' }] });
 * const result = await limiter.check({ method: 'GET', route: '/v1/me', ip });
 * if (!result.allowed) reply.status(result.failure ? 503 : 429).headers(result.headers);
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  if (typeof options !== 'object' || options === null) throw new TypeError('(options): expected an object');
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.has(k)) throw new TypeError(`${k}: unknown rate limiter option`);
  }
  const clock = optionalFunction(options.now, 'now') ?? Date.now;
  let guarded: ResilientStore;
  let ownGuard = false;
  if (isResilientStore(options.store)) {
    for (const k of WRAPPER_KEYS) {
      if (options[k] !== undefined)
        throw new TypeError(`${k}: set it on the shared resilientStore, not on the limiter`);
    }
    guarded = options.store;
  } else {
    if (!isRateLimitStore(options.store))
      throw new TypeError('store: expected a RateLimitStore (consume, peek, refund, reset)');
    guarded = resilientStore({
      store: options.store,
      ...(options.fallback !== undefined ? { fallback: options.fallback } : {}),
      ...(options.storeTimeoutMs !== undefined ? { timeoutMs: options.storeTimeoutMs } : {}),
      ...(options.failuresToTrip !== undefined ? { failuresToTrip: options.failuresToTrip } : {}),
      ...(options.probeIntervalMs !== undefined ? { probeIntervalMs: options.probeIntervalMs } : {}),
      ...(options.onStoreStateChange !== undefined
        ? { onStateChange: optionalFunction(options.onStoreStateChange, 'onStoreStateChange')! }
        : {}),
      now: clock,
    });
    ownGuard = true;
  }
  const ipv6Prefix = wholeNumber(options.ipv6Prefix ?? LIMITER_DEFAULTS.ipv6Prefix, 'ipv6Prefix', 32, 128);
  ipKey('::1', { ipv6Prefix });
  const maxTrackedKeys = wholeNumber(
    options.maxTrackedKeys ?? LIMITER_DEFAULTS.maxTrackedKeys,
    'maxTrackedKeys',
    1,
  );
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

  // Synchronous when the store answers synchronously (memory): no promise per rule on that path.
  const evaluate = (
    rule: CompiledRule,
    key: string,
    cost: number,
    now: number,
    request: RateLimitRequest,
  ): RuleDecision | Promise<RuleDecision> => {
    const id = `${rule.name}:${key}`;
    const done = (g: { decision: Decision; source: DecisionSource }) => {
      if (g.source === 'open' && (openNotified.get(id) ?? Number.NEGATIVE_INFINITY) <= now) {
        remember(openNotified, id, now + rule.rate.windowMs);
        hook('onFailOpen', onFailOpen, { rule: rule.name, key, at: now, request: summary(request) });
      }
      return ruleDecision(rule, key, g.decision, g.source);
    };
    if (rule.ban !== undefined) return banned(rule, id, key, cost, now, done);
    const answer = guarded.decide(id, rule.rate, now, cost, rule.onStoreError);
    return answer instanceof Promise ? answer.then(done) : done(answer);
  };

  // `blockFor`: a running ban refuses before the rule is asked; a refusal the store (or the
  // local fallback) made starts one. The ban is a GCRA of one unit per ban period in the same
  // store, so it is shared across instances and outlasts the rule's window.
  const banned = async (
    rule: CompiledRule,
    id: string,
    key: string,
    cost: number,
    now: number,
    done: (g: { decision: Decision; source: DecisionSource }) => RuleDecision,
  ): Promise<RuleDecision> => {
    const ban = rule.ban!;
    const running = await guarded.decide(`ban:${id}`, ban, now, 0, rule.onStoreError);
    if (!running.decision.allowed && (running.source === 'store' || running.source === 'local')) {
      const wait = running.decision.retryAfterMs;
      return ruleDecision(
        rule,
        key,
        { allowed: false, limit: rule.rate.limit, remaining: 0, resetAt: now + wait, retryAfterMs: wait },
        running.source,
      );
    }
    const d = done(await guarded.decide(id, rule.rate, now, cost, rule.onStoreError));
    if (d.allowed || cost === 0 || (d.source !== 'store' && d.source !== 'local')) return d;
    await guarded.decide(`ban:${id}`, ban, now, 1, rule.onStoreError);
    const wait = Math.max(d.retryAfterMs, ban.windowMs);
    return { ...d, resetAt: now + wait, retryAfterMs: wait };
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

  const evaluateAll = (
    list: readonly CompiledRule[],
    cost: number,
    request: RateLimitRequest,
    now: number,
  ): RuleDecision[] | Promise<RuleDecision[]> => {
    const method = String(request.method).toUpperCase();
    const route = typeof request.route === 'string' ? request.route : '';
    const out: Array<RuleDecision | Promise<RuleDecision>> = [];
    let pending = false;
    for (const rule of list) {
      if (!rule.matches(method, route)) continue;
      const key = rule.identity(request);
      if (key === undefined) continue;
      // A unit cost asks the rule for its own (`cost` per route); 0 peeks whatever the rule says.
      const d = evaluate(
        rule,
        key,
        cost === 1 && rule.counts === 'requests' ? rule.cost(request) : cost,
        now,
        request,
      );
      if (d instanceof Promise) pending = true;
      out.push(d);
    }
    return pending ? Promise.all(out) : (out as RuleDecision[]);
  };

  const trackRefusal = (d: RuleDecision, request: RateLimitRequest, now: number): void => {
    const id = `${d.rule}:${d.key}`;
    let t = tracked.get(id);
    if (t === undefined || t.expiresAt <= now) {
      t = { rule: d.rule, key: d.key, count: 0, firstAt: now, lastAt: now, expiresAt: now, notifiedUntil: 0 };
    }
    t.count++;
    t.lastAt = now;
    t.expiresAt = now + Math.max(d.windowMs, d.retryAfterMs);
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

  const conclude = (decisions: readonly RuleDecision[], request: RateLimitRequest, now: number) => {
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

  const giveBack = (decisions: readonly RuleDecision[], now: number): Promise<void> => {
    const byName = new Map(rules.map((r) => [r.name, r]));
    const pending: Promise<void>[] = [];
    for (const d of decisions) {
      if (!d.allowed) continue;
      const rule = byName.get(d.rule)!;
      const done = guarded.refund(`${d.rule}:${d.key}`, rule.rate, now, 1, d.source);
      if (done instanceof Promise) pending.push(done);
    }
    return Promise.all(pending).then(() => {});
  };

  const decide = (request: RateLimitRequest): RateLimitResult | Promise<RateLimitResult> => {
    const now = clock();
    const decisions = evaluateAll(requestRules, 1, request, now);
    return decisions instanceof Promise
      ? decisions.then((d) => conclude(d, request, now))
      : conclude(decisions, request, now);
  };

  const forget = async (rule: CompiledRule, key: string): Promise<void> => {
    const id = `${rule.name}:${key}`;
    tracked.delete(id);
    openNotified.delete(id);
    await guarded.reset(id);
    if (rule.ban !== undefined) await guarded.reset(`ban:${id}`);
  };

  return {
    async check(request) {
      return decide(request);
    },

    decide,

    async reserve(request) {
      const now = clock();
      const decisions = await evaluateAll(failureRules, 1, request, now);
      const refused = decisions.filter((d) => !d.allowed);
      if (refused.length > 0) {
        // Nothing stays reserved on a refusal: the rules that did take a unit give it back.
        await giveBack(decisions, now);
        const { allowed: _, ...rest } = conclude(refused, request, now);
        return { ...rest, allowed: false, decisions, release: () => {} };
      }
      let released = false;
      const { headers } = conclude(decisions, request, now);
      return {
        allowed: true,
        decisions,
        headers,
        release() {
          if (released) return;
          released = true;
          return giveBack(decisions, clock());
        },
      };
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
      return guarded.state;
    },

    async close() {
      if (ownGuard) guarded.close();
    },
  };
}
