/**
 * The rate-limit steps: `rateLimit(rules)` counts a request against its rules, and
 * `attempts()` reserves an attempt against failure budgets before expensive work.
 */
import { type ErrorCode, RampartError } from '../../errors.ts';
import type { RateLimitResult, Reservation } from '../../rate-limit/limiter.ts';
import type { RateLimitRuleOptions } from '../../rate-limit/rules.ts';
import { limitRequest, type PolicyContext } from '../context.ts';
import type { AttemptDecision, Decision, Refusal, RequestView, Step } from '../view.ts';
import { NO_HEADERS } from '../view.ts';

/**
 * The RateLimit fields are lists (draft-ietf-httpapi-ratelimit-headers): when several limits
 * apply to one request (apiLimiter, then sensitiveLimiter), the response names them all. Each
 * step answers the whole list so far, so an adapter only ever sets the fields.
 */
export function withEarlierLimits(
  ctx: PolicyContext,
  view: RequestView,
  headers: Record<string, string>,
): Record<string, string> {
  const earlier = ctx.earlierLimits(view);
  let merged = headers;
  if (earlier !== undefined && headers['RateLimit-Policy'] !== undefined) {
    merged = {
      ...headers,
      'RateLimit-Policy': `${earlier['RateLimit-Policy']},${headers['RateLimit-Policy']}`,
      RateLimit: `${earlier.RateLimit},${headers.RateLimit}`,
    };
  } else if (earlier !== undefined) {
    merged = { ...earlier, ...headers };
  }
  if (merged['RateLimit-Policy'] !== undefined) {
    ctx.rememberLimits(view, {
      'RateLimit-Policy': merged['RateLimit-Policy'],
      RateLimit: merged.RateLimit!,
    });
  }
  return merged;
}

/** The 429 (or, for a `'closed'` rule whose store is down, 503) of a refused limit. */
export function limitRefusal(
  ctx: PolicyContext,
  view: RequestView,
  result: Pick<RateLimitResult, 'decisions' | 'failure' | 'retryAfterSec'>,
  headers: Record<string, string>,
): Refusal {
  // A rule whose store is down and whose policy is 'closed' refused without counting: that is
  // an outage (503), not the client's fault (429).
  const code: ErrorCode = result.failure === 'closed' ? 'STORE_UNAVAILABLE' : 'RATE_LIMITED';
  const rule = result.decisions.find((d) => !d.allowed)?.rule ?? 'unknown';
  ctx.onRateLimited(rule);
  const detail =
    code === 'RATE_LIMITED' && result.retryAfterSec !== undefined
      ? { detail: `Try again in ${result.retryAfterSec} seconds.` }
      : {};
  return ctx.refuse(new RampartError(code, { headers, ...detail }), view);
}

/**
 * What the address lists say of a request: `'allow'` (skip the limits), a 403 refusal
 * (`ADDRESS_DENIED`, with an `authz_fail` event naming the list), or undefined (count it as
 * usual).
 */
export function addressVerdict(
  ctx: PolicyContext,
  view: RequestView,
  ip: string,
): 'allow' | Refusal | undefined {
  if (ctx.addresses.empty) return undefined;
  const route = view.route ?? view.path;
  const verdict = ctx.addresses.decide(ip, String(view.method).toUpperCase(), route, ctx.now());
  if (verdict.action === 'none') return undefined;
  if (verdict.action === 'allow') return 'allow';
  ctx.emit(
    {
      type: 'authz_fail',
      outcome: 'blocked',
      ip,
      detail: {
        reason: verdict.reason === 'denied' ? 'address_denied' : 'address_restricted',
        route: `${view.method} ${route}`,
      },
    },
    view,
  );
  return ctx.refuse(new RampartError('ADDRESS_DENIED'), view);
}

/** `rateLimit(rules)`: a step that counts the request against `rules`. */
export function rateLimitStep(
  ctx: PolicyContext,
  rules: RateLimitRuleOptions | readonly RateLimitRuleOptions[],
  field = 'rateLimit',
): Step<Decision> {
  const list = Array.isArray(rules)
    ? (rules as readonly RateLimitRuleOptions[])
    : [rules as RateLimitRuleOptions];
  if (list.length === 0) throw new TypeError(`${field}: expected a rule or a non-empty array of rules`);
  const limiter = ctx.limiter(list, field);
  const conclude = (view: RequestView, result: RateLimitResult): Decision => {
    const headers = withEarlierLimits(ctx, view, result.headers);
    if (result.allowed) return { ok: true, headers };
    return limitRefusal(ctx, view, result, headers);
  };
  // Not async: on the memory store the whole decision is made without a promise.
  return (view) => {
    const ip = ctx.clientIp(view);
    const listed = addressVerdict(ctx, view, ip);
    if (listed === 'allow') return { ok: true, headers: NO_HEADERS };
    if (listed !== undefined) return listed;
    const result = limiter.decide(limitRequest(view, ip));
    return result instanceof Promise ? result.then((r) => conclude(view, r)) : conclude(view, result);
  };
}

/** Options of `attempts()`: which failure budgets an expensive attempt draws on. */
export interface AttemptsOptions {
  /**
   * Budgets of this kind of attempt (each counts failures only): e.g. failed logins per
   * account, `{ name: 'login-account', key: bodyEmailKey, limit: 10, window: '15m' }`.
   */
  rules?: readonly RateLimitRuleOptions[];
  /** Also draw on the per-address budget of failed authentications (`authFailures`). Default true. */
  address?: boolean;
}

const ATTEMPTS_KEYS = new Set(['rules', 'address']);

/**
 * `attempts(options)`: before expensive work (argon2, a token lookup), reserve one attempt in
 * every budget, atomically per budget, so that simultaneous attempts cannot all be checked
 * against the same count: of 95 simultaneous wrong passwords against a budget of 10, at most 10
 * reach the hash. A refusal is 429 with `Retry-After`; nothing stays reserved then. The handler
 * settles the attempt: success gives the units back, failure keeps them.
 */
export function attemptsStep(ctx: PolicyContext, options: AttemptsOptions = {}): Step<AttemptDecision> {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('attempts: expected an options object');
  for (const key of Object.keys(options)) {
    if (!ATTEMPTS_KEYS.has(key))
      throw new TypeError(`attempts.${key}: unknown option; expected rules, address`);
  }
  const failures = ctx.failures;
  const useAddress = options.address ?? true;
  if (useAddress && failures === undefined) {
    throw new TypeError(
      'attempts.address: the per-address budget is off (authFailures: false); pass address: false',
    );
  }
  const rules = options.rules ?? [];
  if (!Array.isArray(rules)) throw new TypeError('attempts.rules: expected an array of rules');
  if (rules.length === 0 && !useAddress) throw new TypeError('attempts: give rules, or leave address on');
  if (rules.length > 0 && failures === undefined) {
    throw new TypeError('attempts.rules: failure budgets need authFailures (its store counts them)');
  }
  const own = rules.length > 0 ? failures!.limiter(rules, 'attempts.rules') : undefined;
  const unsettled = { settle() {} };
  return async (view) => {
    const ip = ctx.clientIp(view);
    const listed = addressVerdict(ctx, view, ip);
    if (listed === 'allow') return { ok: true, headers: NO_HEADERS, attempt: unsettled };
    if (listed !== undefined) return listed;
    const request = limitRequest(view, ip);
    const [mine, address] = await Promise.all([
      own?.reserve(request),
      useAddress ? failures!.address.reserve(request) : undefined,
    ]);
    const held = [mine, address].filter((r): r is Reservation => r !== undefined);
    const refused = held.filter((r) => !r.allowed);
    if (refused.length > 0) {
      await Promise.all(held.filter((r) => r.allowed).map((r) => r.release()));
      const worst = refused.reduce((a, b) => ((b.retryAfterSec ?? 0) > (a.retryAfterSec ?? 0) ? b : a));
      return limitRefusal(ctx, view, worst, { ...worst.headers });
    }
    let settled = false;
    return {
      ok: true,
      headers: NO_HEADERS,
      attempt: {
        settle(succeeded) {
          if (settled) return;
          settled = true;
          if (succeeded) {
            for (const r of held)
              void Promise.resolve(r.release()).catch((error) => ctx.onError(error, view));
          } else {
            failures?.mark(ip);
          }
        },
      },
    };
  };
}
