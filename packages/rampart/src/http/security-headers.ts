/**
 * The security headers every API response carries, as data.
 *
 * An API answers JSON, never a page, so the strictest settings cost nothing: nothing may be
 * loaded, framed, sniffed or cached, and no Referer leaks a URL with an id in it.
 */

/** Options of {@link securityHeaders}. */
export interface SecurityHeadersOptions {
  /**
   * Do clients reach this server over HTTPS (directly or through a TLS-terminating proxy)?
   * Only then is `Strict-Transport-Security` sent; browsers ignore it over plain HTTP
   * (RFC 6797 §8.1), and sending it from a dev server on `localhost` pins the name to HTTPS.
   */
  https: boolean;
  /** HSTS `max-age` in seconds; default and minimum 31536000 (one year), at most ten years. */
  hstsMaxAge?: number;
  /**
   * Add `preload` (hstspreload.org). Default `false`: entering the browsers' preload lists is
   * a commitment for every subdomain that takes months to undo, so it must be asked for.
   */
  hstsPreload?: boolean;
}

/** The headers sent on every response, HTTPS or not. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  // Stops a browser from sniffing a JSON body into HTML or script.
  'X-Content-Type-Options': 'nosniff',
  // If a response is ever rendered as a document, it may load nothing and be framed nowhere.
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  // Another site may not embed the response with <script>/<img> (Spectre-class reads).
  'Cross-Origin-Resource-Policy': 'same-origin',
  // Answers carry personal data and tokens; no shared or browser cache keeps them.
  'Cache-Control': 'no-store',
  // For browsers that predate frame-ancestors.
  'X-Frame-Options': 'DENY',
});

/** The defaults, as data. */
export const SECURITY_HEADERS_DEFAULTS = Object.freeze({
  hstsMaxAge: 31_536_000,
  hstsPreload: false,
} as const);

/** The least `hstsMaxAge`, in seconds: one year, the preload list's minimum. */
export const HSTS_MAX_AGE_MIN = 31_536_000;
/** The greatest `hstsMaxAge`, in seconds: ten years; more is almost surely milliseconds. */
export const HSTS_MAX_AGE_MAX = 315_360_000;

const OPTION_KEYS = new Set(['https', 'hstsMaxAge', 'hstsPreload']);

/**
 * The response security headers for a deployment, computed once: call it at startup and copy
 * the frozen result onto each response. `Cache-Control: no-store` is the default for every
 * answer; a route that may be cached (the JWKS document) overrides it.
 *
 * @throws TypeError naming the field (`securityHeaders.hstsMaxAge: …`) on bad options.
 * @example
 * const headers = securityHeaders({ https: true });
 * headers['Strict-Transport-Security'] // 'max-age=31536000; includeSubDomains'
 */
export function securityHeaders(options: SecurityHeadersOptions): Readonly<Record<string, string>> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError('securityHeaders: expected an options object like { https: true }');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new TypeError(
        `securityHeaders.${key}: unknown option; expected one of ${[...OPTION_KEYS].join(', ')}`,
      );
    }
  }
  const { https } = options;
  const hstsMaxAge = options.hstsMaxAge ?? SECURITY_HEADERS_DEFAULTS.hstsMaxAge;
  const hstsPreload = options.hstsPreload ?? SECURITY_HEADERS_DEFAULTS.hstsPreload;
  if (typeof https !== 'boolean') {
    throw new TypeError(`securityHeaders.https: expected true or false, got ${JSON.stringify(https)}`);
  }
  if (!Number.isInteger(hstsMaxAge) || hstsMaxAge < HSTS_MAX_AGE_MIN || hstsMaxAge > HSTS_MAX_AGE_MAX) {
    // The upper bound mostly catches milliseconds given where seconds are meant.
    throw new TypeError(
      `securityHeaders.hstsMaxAge: expected whole seconds from ${HSTS_MAX_AGE_MIN} (one year) to ${HSTS_MAX_AGE_MAX}, got ${JSON.stringify(hstsMaxAge)}`,
    );
  }
  if (typeof hstsPreload !== 'boolean') {
    throw new TypeError(
      `securityHeaders.hstsPreload: expected true or false, got ${JSON.stringify(hstsPreload)}`,
    );
  }
  if (!https) return SECURITY_HEADERS;
  // includeSubDomains always: without it a sibling subdomain over HTTP can set cookies for
  // the parent domain (RFC 6797 §14.4); the preload list also requires it.
  const hsts = `max-age=${hstsMaxAge}; includeSubDomains${hstsPreload ? '; preload' : ''}`;
  return Object.freeze({ ...SECURITY_HEADERS, 'Strict-Transport-Security': hsts });
}
