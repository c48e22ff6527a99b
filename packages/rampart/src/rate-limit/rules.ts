import { type Duration, parseDuration } from '../lib/duration.ts';
import { ipKey } from '../lib/ip.ts';
import { sha256 } from '../lib/secret.ts';
import { ALGORITHMS, type Algorithm, type RateRule, rateRule } from './algorithms.ts';

/**
 * What the limiter sees of a request: framework-free, built by an adapter. `route` is the
 * router's canonical route pattern (`/v1/keys/:id`), never the raw URL, so `/x/`, `/X`, `//x`,
 * `/x?y=1` and percent-encoded twins cannot dodge a rule.
 */
export interface RateLimitRequest {
  method: string;
  route: string;
  /** The client address as resolved behind trusted proxies (`src/http/client-ip.ts`). */
  ip: string;
  userId?: string | undefined;
  apiKeyId?: string | undefined;
  /** The parsed body, for keys such as the email of a password reset. */
  body?: unknown;
}

/**
 * Whose bucket a request falls in. `'ip'`: the client address, IPv6 by network prefix (/64 by
 * default, so rotating addresses inside one subscriber's /64 does not open new buckets);
 * `'user'`: the authenticated user id; `'apiKey'`: the API key id (never the key itself); or a
 * function. A request without the identity (no user on an anonymous request, a function that
 * returns `undefined`) is not counted by that rule.
 */
export type KeyBy = 'ip' | 'user' | 'apiKey' | ((request: RateLimitRequest) => string | undefined);

/** What a rule does when its store fails: see {@link RateLimitRuleOptions.onStoreError}. */
export type StoreErrorPolicy = 'local' | 'closed' | 'open';

/** One named limit. */
export interface RateLimitRuleOptions {
  /**
   * The policy name, shown in the `RateLimit` headers and part of the store key:
   * letters, digits, `.`, `_`, `-`; at most 64.
   */
  name: string;
  /** Units allowed per window. */
  limit: number;
  /** The window: `'15m'`, `'1h'`, or milliseconds. */
  window: Duration | number;
  /** Default `'sliding-window'` (never more than `limit` in any window-length interval). */
  algorithm?: Algorithm;
  /** GCRA only: the burst; default `limit`. */
  burst?: number;
  /** Sliding window only: sub-windows per window; default 10. */
  buckets?: number;
  /** Default `'ip'`. */
  key?: KeyBy;
  /**
   * The routes the rule applies to, as `'METHOD /route/pattern'` (`'POST /v1/auth/login'`),
   * `'/route'` or `'* /route'` for any method, and `/prefix/*` for a route and everything under
   * it. A `GET` rule also covers `HEAD`. Default: every route.
   */
  routes?: string | readonly string[];
  /**
   * `'requests'` (default): `check()` counts every request. `'failures'`: only
   * `recordFailure()` counts, and `isBlocked()` refuses once the limit is reached (failed
   * logins, invented API keys).
   */
  counts?: 'requests' | 'failures';
  /**
   * When the store fails: `'local'` (default) decides on a per-instance memory store with the
   * same rule, so a client gets at most the limit per instance; `'closed'` refuses (the
   * server answers 503 with `Retry-After`); `'open'` allows and reports it.
   */
  onStoreError?: StoreErrorPolicy;
  /**
   * A ban after the rule trips: once a request is refused, the key stays refused for this long
   * (`'1h'`, or ms), even after the window would have let it back in. Without it a client that
   * hits the limit is back after `retryAfter`; with it a scraper pays for tripping the rule.
   * The ban lives in the rule's store (shared across instances on Redis); `unblock` lifts it.
   */
  blockFor?: Duration | number;
  /**
   * Units one request takes (default 1): a number, or a function of the request (see
   * {@link routeCosts}, a table by route). A cost above the limit takes the whole limit.
   */
  cost?: number | ((request: RateLimitRequest) => number);
}

/** A list of rules; every matching rule applies to a request. */
export type RuleSet = readonly RateLimitRuleOptions[];

/** The defaults of a rule's optional fields, as data. */
export const RATE_LIMIT_RULE_DEFAULTS = Object.freeze({
  algorithm: 'sliding-window',
  key: 'ip',
  counts: 'requests',
  onStoreError: 'local',
} as const satisfies Partial<RateLimitRuleOptions>);

/** A rule checked and compiled once, at the limiter's creation. */
export interface CompiledRule {
  readonly name: string;
  readonly rate: RateRule;
  readonly counts: 'requests' | 'failures';
  readonly onStoreError: StoreErrorPolicy;
  /** The bucket identity of a request, or `undefined` when the rule does not count it. */
  readonly identity: (request: RateLimitRequest) => string | undefined;
  /** Does the rule apply to this (upper-case) method and route pattern? */
  readonly matches: (method: string, route: string) => boolean;
  /** The ban after a refusal (`blockFor`): one unit per `blockFor` (GCRA), or undefined. */
  readonly ban: RateRule | undefined;
  /** Units the request takes, 1 to the limit. */
  readonly cost: (request: RateLimitRequest) => number;
}

const RULE_KEYS = new Set([
  'name',
  'limit',
  'window',
  'algorithm',
  'burst',
  'buckets',
  'key',
  'routes',
  'counts',
  'onStoreError',
  'blockFor',
  'cost',
]);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const METHOD = /^([A-Z]+|\*)$/;
// Identities longer than this are hashed: bounds memory and Redis key size, keeps odd text out.
const MAX_IDENTITY = 128;
const STORE_ERROR_POLICIES: readonly StoreErrorPolicy[] = ['local', 'closed', 'open'];

function bounded(identity: string): string {
  return identity.length > MAX_IDENTITY ? `sha256:${sha256(identity)}` : identity;
}

function compileKey(key: KeyBy, field: string, ipv6Prefix: number): CompiledRule['identity'] {
  switch (key) {
    // No address (a Unix-socket peer, a broken adapter) is one shared bucket, not a free pass.
    case 'ip':
      return (r) =>
        typeof r.ip === 'string' && r.ip !== '' ? bounded(ipKey(r.ip, { ipv6Prefix })) : 'unknown';
    case 'user':
      return (r) => (typeof r.userId === 'string' && r.userId !== '' ? bounded(r.userId) : undefined);
    case 'apiKey':
      return (r) => (typeof r.apiKeyId === 'string' && r.apiKeyId !== '' ? bounded(r.apiKeyId) : undefined);
    default:
      if (typeof key !== 'function') {
        throw new TypeError(
          `${field}: expected 'ip', 'user', 'apiKey' or a function, got ${JSON.stringify(key)}`,
        );
      }
      return (r) => {
        const identity = key(r);
        return typeof identity === 'string' && identity !== '' ? bounded(identity) : undefined;
      };
  }
}

interface RouteMatcher {
  method: string;
  path: string;
  prefix: boolean;
}

function parseRoute(text: unknown, field: string): RouteMatcher {
  if (typeof text !== 'string') throw new TypeError(`${field}: expected a string like "POST /v1/auth/login"`);
  const parts = text.trim().split(/\s+/);
  const [method, path] = parts.length === 1 ? ['*', parts[0]!] : parts;
  if (parts.length > 2 || !METHOD.test(method!) || (path !== '*' && !path!.startsWith('/'))) {
    throw new TypeError(
      `${field}: expected "METHOD /route", "/route" or "METHOD /prefix/*", got ${JSON.stringify(text)}`,
    );
  }
  if (path === '*' || path === '/*') return { method: method!, path: '', prefix: true };
  if (path!.endsWith('/*')) return { method: method!, path: path!.slice(0, -2), prefix: true };
  return { method: method!, path: path!, prefix: false };
}

/**
 * Compiles route patterns (`'POST /v1/keys'`, `'/v1/admin/*'`, `'* /x'`) into a matcher of an
 * upper-case method and a route pattern; undefined matches every route.
 * @throws TypeError naming `field` for a malformed pattern.
 */
export function compileRoutes(
  routes: string | readonly string[] | undefined,
  field: string,
): (method: string, route: string) => boolean {
  if (routes === undefined) return () => true;
  const list = typeof routes === 'string' ? [routes] : routes;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError(`${field}: expected a route string or a non-empty array of them`);
  }
  const matchers = list.map((route, i) =>
    parseRoute(route, typeof routes === 'string' ? field : `${field}[${i}]`),
  );
  return (method, route) =>
    matchers.some(
      (m) =>
        // HEAD runs the GET handler, so a GET limit must hold for HEAD too.
        (m.method === '*' || m.method === method || (method === 'HEAD' && m.method === 'GET')) &&
        (m.prefix ? route === m.path || route.startsWith(`${m.path}/`) || m.path === '' : route === m.path),
    );
}

/**
 * Checks one rule and compiles it; the caller's object is not modified.
 * @param field the path named in errors, e.g. `rules[1]`.
 * @throws TypeError naming the wrong field.
 */
export function compileRule(input: RateLimitRuleOptions, field: string, ipv6Prefix: number): CompiledRule {
  if (typeof input !== 'object' || input === null) throw new TypeError(`${field}: expected a rule object`);
  for (const k of Object.keys(input)) {
    // A misspelt option (`onStoreErorr: 'closed'`) silently ignored would be a silent hole.
    if (!RULE_KEYS.has(k)) throw new TypeError(`${field}.${k}: unknown rule option`);
  }
  if (typeof input.name !== 'string' || !NAME.test(input.name)) {
    throw new TypeError(
      `${field}.name: expected 1–64 letters, digits, ".", "_" or "-", got ${JSON.stringify(input.name)}`,
    );
  }
  const algorithm = input.algorithm ?? RATE_LIMIT_RULE_DEFAULTS.algorithm;
  if (!ALGORITHMS.includes(algorithm)) {
    throw new TypeError(
      `${field}.algorithm: expected one of ${ALGORITHMS.join(', ')}, got ${JSON.stringify(algorithm)}`,
    );
  }
  const windowMs = parseDuration(input.window, `${field}.window`);
  if (windowMs < 1)
    throw new TypeError(`${field}.window: expected at least 1 ms, got ${JSON.stringify(input.window)}`);
  const rate = rateRule(
    { algorithm, limit: input.limit, windowMs, burst: input.burst, buckets: input.buckets },
    field,
  );
  const counts = input.counts ?? RATE_LIMIT_RULE_DEFAULTS.counts;
  if (counts !== 'requests' && counts !== 'failures') {
    throw new TypeError(`${field}.counts: expected 'requests' or 'failures', got ${JSON.stringify(counts)}`);
  }
  const onStoreError = input.onStoreError ?? RATE_LIMIT_RULE_DEFAULTS.onStoreError;
  if (!STORE_ERROR_POLICIES.includes(onStoreError)) {
    throw new TypeError(
      `${field}.onStoreError: expected 'local', 'closed' or 'open', got ${JSON.stringify(onStoreError)}`,
    );
  }
  let ban: RateRule | undefined;
  if (input.blockFor !== undefined) {
    const banMs = parseDuration(input.blockFor, `${field}.blockFor`);
    if (banMs < 1000)
      throw new TypeError(`${field}.blockFor: expected at least 1 s, got ${JSON.stringify(input.blockFor)}`);
    // One unit per ban period: consuming it starts the ban, peeking tells whether it runs.
    ban = rateRule({ algorithm: 'gcra', limit: 1, windowMs: banMs, burst: 1 }, `${field}.blockFor`);
  }
  return Object.freeze({
    name: input.name,
    rate,
    counts,
    onStoreError,
    identity: compileKey(input.key ?? RATE_LIMIT_RULE_DEFAULTS.key, `${field}.key`, ipv6Prefix),
    matches: compileRoutes(input.routes, `${field}.routes`),
    ban,
    cost: compileCost(input.cost, rate.limit, `${field}.cost`),
  });
}

function compileCost(cost: RateLimitRuleOptions['cost'], limit: number, field: string): CompiledRule['cost'] {
  const clamp = (n: unknown) =>
    typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 ? Math.min(n, limit) : 1;
  if (cost === undefined) return () => 1;
  if (typeof cost === 'function') return (request) => clamp(cost(request));
  if (typeof cost !== 'number' || !Number.isSafeInteger(cost) || cost < 1) {
    throw new TypeError(`${field}: expected a whole number ≥ 1 or a function, got ${JSON.stringify(cost)}`);
  }
  const fixed = Math.min(cost, limit);
  return () => fixed;
}

/**
 * A cost by route, for a rule's `cost`: the first pattern that matches the request's method
 * and route gives its units, else `fallback` (default 1).
 *
 * @example { name: 'api', limit: 100, window: '1m', cost: routeCosts({ 'POST /v1/reports': 10 }) }
 * @throws TypeError naming the pattern or cost that is wrong.
 */
export function routeCosts(
  table: Readonly<Record<string, number>>,
  fallback = 1,
  field = 'cost',
): (request: RateLimitRequest) => number {
  const entries = Object.entries(table).map(([route, units]) => {
    if (!Number.isSafeInteger(units) || units < 1) {
      throw new TypeError(
        `${field}[${JSON.stringify(route)}]: expected a whole number ≥ 1, got ${JSON.stringify(units)}`,
      );
    }
    return { matches: compileRoutes(route, `${field}[${JSON.stringify(route)}]`), units };
  });
  return (request) => {
    const method = String(request.method).toUpperCase();
    for (const entry of entries) if (entry.matches(method, request.route)) return entry.units;
    return fallback;
  };
}

/**
 * A key by the `email` field of the body, trimmed and lower-cased (so `Ada@X.com ` and
 * `ada@x.com` share a bucket) and hashed (so addresses do not sit in Redis key names).
 *
 * @example { name: 'password-reset-email', key: bodyEmailKey, limit: 5, window: '1h' }
 */
export function bodyEmailKey(request: RateLimitRequest): string | undefined {
  const body = request.body;
  if (typeof body !== 'object' || body === null) return undefined;
  const email = (body as { email?: unknown }).email;
  if (typeof email !== 'string' || email.trim() === '' || email.length > 320) return undefined;
  return `email:${sha256(email.trim().toLowerCase()).slice(0, 22)}`;
}
