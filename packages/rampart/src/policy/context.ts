/**
 * What every step of one policy shares, built once by `createRampart`: the clock, the event
 * sink, refusals as problem+json answers, the client address (memoised per request), and the
 * rate-limit stores behind one resilient wrapper each, with the limiters made on them.
 */
import type { RampartError } from '../errors.ts';
import { type ClientIpResolver, createClientIpResolver } from '../http/client-ip.ts';
import { problemAnswer } from '../http/problem.ts';
import { parseDuration } from '../lib/duration.ts';
import { createIpMatcher, ipKey, parseIp } from '../lib/ip.ts';
import type { Clock } from '../lib/types.ts';
import { type AddressLists, createAddressLists } from '../rate-limit/address-lists.ts';
import {
  type BlockedStat,
  createRateLimiter,
  isResilientStore,
  type RateLimiter,
  type Reservation,
} from '../rate-limit/limiter.ts';
import { type MemoryRateLimitStore, memoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { isFailureNews, MAX_RECENT_FAILURES, recentFailures } from '../rate-limit/recent-failures.ts';
import { type ResilientStore, resilientStore } from '../rate-limit/resilient-store.ts';
import { compileRule, type RateLimitRequest, type RateLimitRuleOptions } from '../rate-limit/rules.ts';
import { isRateLimitStore, type RateLimitStore } from '../rate-limit/store.ts';
import { RAMPART_DEFAULTS } from './defaults.ts';
import {
  AUTH_FAILURE_KEYS,
  isObject,
  knownKeys,
  RATE_LIMIT_KEYS,
  type RampartOptions,
  type SecurityEvent,
  stringList,
  within,
} from './options.ts';
import { type Refusal, type RequestView, routeOf } from './view.ts';

/** The per-address failed-authentication budget, and the failure limiters made on its store. */
export interface FailureBudget {
  /** The budget's rule name (`auth-failures`), for headers and unblocking. */
  readonly rule: string;
  /** A limiter of `'failures'` rules on the budget's store (the `attempts()` gates). */
  limiter(rules: readonly RateLimitRuleOptions[], field: string): RateLimiter;
  /** The address's own budget. */
  readonly address: RateLimiter;
  /**
   * Could this address be blocked? False without asking a store when this process knows the
   * address never failed lately: every failure was counted here (a local store), or told here
   * (`authFailures.news`).
   */
  mayBeBlocked(ip: string): boolean;
  /** Remember that this address failed (the fast path above). */
  mark(ip: string): void;
  /**
   * Reservations in flight, by address and credential: simultaneous first uses of one
   * credential from one address are one attempt, not many (a client firing a burst with a
   * fresh token must not trip its own budget). Entries live while their verification runs.
   */
  readonly inFlight: Map<string, Promise<Reservation>>;
}

/** What the steps of one policy share. */
export interface PolicyContext {
  readonly now: Clock;
  emit(event: Omit<SecurityEvent, 'at'>, view?: RequestView): void;
  refuse(error: RampartError, view?: RequestView): Refusal;
  /** The client address behind `trustProxy`, resolved once per request. */
  clientIp(view: RequestView): string;
  /** Is the socket peer one of the `trustProxy` proxies (whose forwarding headers are believed)? */
  trustsPeer(view: RequestView): boolean;
  /** The limit fields of earlier steps of this request (RateLimit fields are lists). */
  earlierLimits(view: RequestView): Record<string, string> | undefined;
  rememberLimits(view: RequestView, headers: Record<string, string>): void;
  /** Told of each 5xx (to log it). */
  onError(error: unknown, view?: RequestView): void;
  /** Told of every request a limit refused. */
  onRateLimited(rule: string): void;
  /** A limiter of `'requests'` rules on the request store; rule names are unique per policy. */
  limiter(rules: readonly RateLimitRuleOptions[], field: string): RateLimiter;
  /** The request store behind its resilient wrapper. */
  readonly store: ResilientStore;
  /** `undefined` when `authFailures: false`. */
  readonly failures: FailureBudget | undefined;
  /** The IPv6 prefix of `'ip'` keys. */
  readonly ipv6Prefix: number;
  /** The allow, deny and restriction lists (`rateLimit.allow`, `deny`, `restrict`, dynamic entries). */
  readonly addresses: AddressLists;
  /** The keys refused recently, every limiter of this policy. */
  blocked(): BlockedStat[];
  /** Lifts one refused key (`rule` and `key` as `blocked()` lists them). False when no limiter has the rule. */
  unblock(rule: string, key: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Builds the shared context from the (already shape-checked) options. */
export function createContext(options: RampartOptions, now: Clock): PolicyContext {
  const onEvent = options.onEvent;
  const onErrorOption = options.onError ?? ((error: unknown) => console.error(error));
  const onRateLimitedOption = options.onRateLimited;
  const trustProxy = stringList(options.trustProxy, 'trustProxy') ?? [];
  const resolveIp: ClientIpResolver = createClientIpResolver({
    trustProxy,
    ...(options.clientIpHeader !== undefined ? { header: options.clientIpHeader } : {}),
  });
  const isProxy = trustProxy.length === 0 ? undefined : createIpMatcher(trustProxy, 'trustProxy');
  const trustsPeer = (view: RequestView): boolean => {
    if (isProxy === undefined) return false;
    const peer = parseIp(view.ip);
    return peer !== undefined && isProxy(peer);
  };

  const emit = (event: Omit<SecurityEvent, 'at'>, view?: RequestView): void => {
    if (onEvent === undefined) return;
    const full: SecurityEvent = { ...event, at: now() };
    if (view?.requestId !== undefined) full.requestId = view.requestId;
    try {
      onEvent(full);
    } catch (error) {
      process.emitWarning(`rampart onEvent threw: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  // Per-request memos live on the view under this policy's own symbols: another policy in the
  // same app (with another trustProxy) keeps its own, and no WeakMap grows with the traffic.
  const IP = Symbol('rampart.clientIp');
  const LIMITS = Symbol('rampart.limits');
  type Memo = RequestView & { [IP]?: string; [LIMITS]?: Record<string, string> };
  const clientIp = (view: RequestView): string => {
    const memo = view as Memo;
    let ip = memo[IP];
    if (ip === undefined) {
      ip = resolveIp(view.ip, view.headers);
      memo[IP] = ip;
    }
    return ip;
  };

  // Rate limiting: the stores, each behind one resilient wrapper (the same store object twice
  // gets the same wrapper, so it goes down once); a store Rampart made is Rampart's to close.
  const limitOptions = options.rateLimit ?? {};
  if (!isObject(limitOptions)) throw new TypeError('rateLimit: expected an options object');
  knownKeys(limitOptions, RATE_LIMIT_KEYS, 'rateLimit');
  const storeOption = limitOptions.store;
  if (storeOption !== undefined && !isRateLimitStore(storeOption) && !isResilientStore(storeOption)) {
    throw new TypeError('rateLimit.store: expected a RateLimitStore (consume, peek, refund, reset)');
  }
  const ipv6Prefix = limitOptions.ipv6Prefix ?? RAMPART_DEFAULTS.ipv6Prefix;
  const addresses = createAddressLists(
    {
      ...(limitOptions.allow !== undefined ? { allow: limitOptions.allow } : {}),
      ...(limitOptions.deny !== undefined ? { deny: limitOptions.deny } : {}),
      ...(limitOptions.restrict !== undefined ? { restrict: limitOptions.restrict } : {}),
    },
    'rateLimit',
  );
  const ownStores: MemoryRateLimitStore[] = [];
  const wrappers = new Map<RateLimitStore | ResilientStore, ResilientStore>();
  const ownWrappers: ResilientStore[] = [];
  const guard = (store: RateLimitStore | ResilientStore, field: string): ResilientStore => {
    if (isResilientStore(store)) return store;
    let wrapper = wrappers.get(store);
    if (wrapper === undefined) {
      wrapper = within(field, () =>
        resilientStore({
          store,
          timeoutMs: limitOptions.storeTimeoutMs ?? RAMPART_DEFAULTS.storeTimeoutMs,
          failuresToTrip: limitOptions.failuresToTrip ?? RAMPART_DEFAULTS.failuresToTrip,
          probeIntervalMs: limitOptions.probeIntervalMs ?? RAMPART_DEFAULTS.probeIntervalMs,
          now,
          onStateChange: (state, error) =>
            emit({
              type: state === 'down' ? 'sys_store_down' : 'sys_store_up',
              outcome: state === 'down' ? 'failure' : 'info',
              detail: { store: 'rate-limit', ...(error instanceof Error ? { error: error.name } : {}) },
            }),
        }),
      );
      wrappers.set(store, wrapper);
      ownWrappers.push(wrapper);
    }
    return wrapper;
  };
  const ownMemory = (): MemoryRateLimitStore => {
    const store = memoryRateLimitStore();
    ownStores.push(store);
    return store;
  };
  let requestStore: ResilientStore | undefined;
  const store = () => {
    requestStore ??= guard(storeOption ?? ownMemory(), 'rateLimit');
    return requestStore;
  };

  const limiters: RateLimiter[] = [];
  const ruleNames = new Set<string>();
  const makeLimiter = (
    on: () => ResilientStore,
    rules: readonly RateLimitRuleOptions[],
    field: string,
  ): RateLimiter => {
    rules.forEach((rule, i) => {
      const at = rules.length > 1 ? `${field}[${i}]` : field;
      // Checked here so that the TypeError names the field as the caller wrote it.
      compileRule(rule, at, ipv6Prefix);
      if (ruleNames.has(rule.name)) {
        // Same name, same counters: two limiters would silently share (and double-count) buckets.
        throw new TypeError(`${at}.name: ${JSON.stringify(rule.name)} is already used by another limit`);
      }
    });
    const limiter = within('rateLimit', () =>
      createRateLimiter({
        store: on(),
        rules,
        now,
        ipv6Prefix,
        onRefused: (info) =>
          emit({
            type: 'excess_rate_limit_exceeded',
            outcome: 'blocked',
            ip: info.request.ip,
            ...((info.request.userId ?? info.request.apiKeyId)
              ? { actor: (info.request.userId ?? info.request.apiKeyId)! }
              : {}),
            detail: {
              rule: info.rule,
              route: `${info.request.method} ${info.request.route}`,
              count: info.count,
            },
          }),
      }),
    );
    for (const rule of rules) ruleNames.add(rule.name);
    limiters.push(limiter);
    return limiter;
  };

  // Failed authentications per client address (see AuthFailureOptions).
  let failures: FailureBudget | undefined;
  if (options.authFailures !== false) {
    const given = options.authFailures ?? {};
    if (!isObject(given)) throw new TypeError('authFailures: expected { limit, window } or false');
    knownKeys(given, AUTH_FAILURE_KEYS, 'authFailures');
    if (given.store !== undefined && !isRateLimitStore(given.store) && !isResilientStore(given.store)) {
      throw new TypeError('authFailures.store: expected a RateLimitStore (consume, peek, refund, reset)');
    }
    const failureStore = guard(given.store ?? ownMemory(), 'authFailures');
    const rule: RateLimitRuleOptions = {
      name: RAMPART_DEFAULTS.authFailures.name,
      counts: 'failures',
      key: 'ip',
      limit: given.limit ?? RAMPART_DEFAULTS.authFailures.limit,
      window: given.window ?? RAMPART_DEFAULTS.authFailures.window,
    };
    const address = makeLimiter(() => failureStore, [rule], 'authFailures');
    if (given.news !== undefined && !isFailureNews(given.news)) {
      throw new TypeError('authFailures.news: expected { publish(address, until), listen(listener) }');
    }
    if (given.news !== undefined && given.store === undefined) {
      throw new TypeError(
        'authFailures.news: tells of failures counted in a shared store; give authFailures.store',
      );
    }
    // With its own per-process counter (the default), Rampart knows which addresses failed
    // lately, so a credential from any other address skips the counter read: a client that
    // never failed pays nothing for the check. A shared store may hold other instances'
    // counts: it is always asked, unless the instances tell each other of failures (`news`).
    // Keys are the limiter's (IPv6 by /64). See recent-failures.ts.
    const recent =
      given.store === undefined || given.news !== undefined
        ? recentFailures({
            windowMs: parseDuration(rule.window, 'authFailures.window'),
            now,
            max: MAX_RECENT_FAILURES,
            ...(given.news !== undefined ? { news: given.news } : {}),
          })
        : undefined;
    failures = {
      rule: rule.name,
      address,
      inFlight: new Map(),
      limiter: (rules, field) =>
        makeLimiter(
          () => failureStore,
          rules.map((r) => ({ ...r, counts: 'failures' as const })),
          field,
        ),
      mayBeBlocked: (ip) => recent === undefined || recent.mayHave(ipKey(ip, { ipv6Prefix })),
      mark: (ip) => recent?.note(ipKey(ip, { ipv6Prefix })),
    };
  }

  return {
    now,
    emit,
    refuse: (error, view) => ({ ok: false, answer: problemAnswer(error, view?.requestId), error }),
    clientIp,
    trustsPeer,
    earlierLimits: (view) => (view as Memo)[LIMITS],
    rememberLimits(view, headers) {
      (view as Memo)[LIMITS] = headers;
    },
    onError(error, view) {
      try {
        onErrorOption(error, view);
      } catch {}
    },
    onRateLimited(rule) {
      if (onRateLimitedOption === undefined) return;
      try {
        onRateLimitedOption(rule);
      } catch {}
    },
    limiter: (rules, field) => makeLimiter(store, rules, field),
    get store() {
      return store();
    },
    failures,
    ipv6Prefix,
    addresses,
    blocked: () =>
      limiters.flatMap((l) => l.blockedStats()).sort((a, b) => b.count - a.count || b.lastAt - a.lastAt),
    async unblock(rule, key) {
      for (const limiter of limiters) {
        try {
          await limiter.resetKey(rule, key);
          return true;
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
        }
      }
      return false;
    },
    async close() {
      await Promise.all(limiters.map((limiter) => limiter.close()));
      for (const wrapper of ownWrappers) wrapper.close();
      for (const own of ownStores) own.close();
    },
  };
}

/** The limiter's view of a request. */
export function limitRequest(view: RequestView, ip: string): RateLimitRequest {
  const principal = view.principal;
  return {
    method: view.method,
    route: view.route ?? view.path,
    ip,
    // Subjects are unique per issuer only: an outside issuer's users are counted apart.
    userId:
      principal?.issuer !== undefined && principal.userId !== null
        ? `${principal.issuer}|${principal.userId}`
        : (principal?.userId ?? undefined),
    apiKeyId: principal?.keyId,
    body: view.body,
  };
}

export { routeOf };
