/**
 * The rate-limit response fields of draft-ietf-httpapi-ratelimit-headers (-10/-11), in their
 * Structured Field syntax (RFC 9651):
 *
 *     RateLimit-Policy: "default";q=100;w=900,"password-reset";q=5;w=3600
 *     RateLimit: "default";r=42;t=517,"password-reset";r=4;t=3100
 *
 * and `Retry-After` (RFC 9110 §10.2.3, delay-seconds) on refusals.
 */

/** One applied policy as the headers show it. */
export interface PolicyStatus {
  /** The policy name (the rule's name). */
  name: string;
  /** Quota units per window (`q`). */
  limit: number;
  /** Window length in ms (`w`, sent in whole seconds, at least 1). */
  windowMs: number;
  /** Units still available (`r`). */
  remaining: number;
  /** Ms until more quota is available (`t`, sent in whole seconds, rounded up). */
  resetAfterMs: number;
}

/** An sf-string (RFC 9651 §4.1.6): printable ASCII, with `"` and `\` escaped. */
export function sfString(value: string): string {
  if (/[^\x20-\x7e]/.test(value))
    throw new TypeError(`not a structured-field string: ${JSON.stringify(value)}`);
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** Whole seconds, rounded up, never negative: what `t` and `w` carry. */
function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/**
 * `Retry-After` seconds for a wait of `ms`: rounded up, at least 1 (0 would invite an
 * immediate retry that is refused again).
 *
 * @example retryAfterSeconds(1) // 1
 */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The `RateLimit-Policy` field value for the given policies, comma-separated.
 * @example formatRateLimitPolicy([{ name: 'default', limit: 100, windowMs: 900_000 }]) // '"default";q=100;w=900'
 */
export function formatRateLimitPolicy(
  policies: ReadonlyArray<Pick<PolicyStatus, 'name' | 'limit' | 'windowMs'>>,
): string {
  return policies
    .map((p) => `${sfString(p.name)};q=${p.limit};w=${Math.max(1, seconds(p.windowMs))}`)
    .join(',');
}

/**
 * The `RateLimit` field value for the given policies, comma-separated.
 * @example formatRateLimit([{ name: 'default', remaining: 42, resetAfterMs: 516_200 }]) // '"default";r=42;t=517'
 */
export function formatRateLimit(
  policies: ReadonlyArray<Pick<PolicyStatus, 'name' | 'remaining' | 'resetAfterMs'>>,
): string {
  return policies
    .map((p) => `${sfString(p.name)};r=${Math.max(0, p.remaining)};t=${seconds(p.resetAfterMs)}`)
    .join(',');
}

/** One policy's header items, with the constant parts serialised once. */
export interface PolicyFormatter {
  /** The `RateLimit-Policy` item, e.g. `"default";q=100;w=900`. */
  readonly policy: string;
  /** The `RateLimit` item for the current state, e.g. `"default";r=42;t=517`. */
  item(remaining: number, resetAfterMs: number): string;
}

/**
 * Pre-serialises a policy (once per rule, at creation), so the per-request work is two numbers.
 * @example policyFormatter('default', 100, 900_000).item(42, 516_200) // '"default";r=42;t=517'
 */
export function policyFormatter(name: string, limit: number, windowMs: number): PolicyFormatter {
  const quoted = sfString(name);
  const prefix = `${quoted};r=`;
  return {
    policy: formatRateLimitPolicy([{ name, limit, windowMs }]),
    item: (remaining, resetAfterMs) => `${prefix}${Math.max(0, remaining)};t=${seconds(resetAfterMs)}`,
  };
}

/**
 * All rate-limit response headers: `RateLimit-Policy` and `RateLimit` when any policy applied,
 * and `Retry-After` when `retryAfterMs` is given (the request was refused).
 *
 * @example
 * rateLimitHeaders([{ name: 'default', limit: 100, windowMs: 900_000, remaining: 0, resetAfterMs: 30_000 }], 30_000)
 * // { 'RateLimit-Policy': '"default";q=100;w=900', RateLimit: '"default";r=0;t=30', 'Retry-After': '30' }
 */
export function rateLimitHeaders(
  policies: readonly PolicyStatus[],
  retryAfterMs?: number,
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (policies.length > 0) {
    headers['RateLimit-Policy'] = formatRateLimitPolicy(policies);
    headers.RateLimit = formatRateLimit(policies);
  }
  if (retryAfterMs !== undefined) headers['Retry-After'] = String(retryAfterSeconds(retryAfterMs));
  return headers;
}
