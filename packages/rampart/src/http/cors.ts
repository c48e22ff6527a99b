/**
 * CORS as a decision: plain values in, the response headers out.
 *
 * Origins are matched by exact string equality against an allow-list: no reflection of
 * whatever `Origin` arrived, no regular expressions, no suffix matching. Each of those has
 * shipped real bypasses (`https://app.example.com.evil.example`, `https://evil-app.example.com`,
 * the `null` origin of sandboxed iframes), and with `credentials` they hand another site the
 * user's session.
 *
 * CORS is not access control: it only tells a browser whether a page on another origin may
 * read the answer. A server must not refuse an ordinary request because `allowed` is false;
 * it simply sends no `Access-Control-*` headers.
 */

/** Options of {@link createCors}. */
export interface CorsOptions {
  /**
   * The exact origins (`scheme://host[:port]`) allowed to read responses, lower-cased on
   * load; a default port (`:443` for https, `:80` for http) is dropped, as browsers send it.
   * `['*']` allows every origin, and only without `credentials`. Refused: a path or trailing
   * slash, wildcard subdomains (`https://*.example.com`), `null`, user info, non-ASCII hosts
   * (write the `xn--` form).
   */
  origins: readonly string[];
  /** Send `Access-Control-Allow-Credentials: true` (cookies, HTTP auth). Default `false`. */
  credentials?: boolean;
  /** Methods a preflight may ask for. Default GET, HEAD, POST, PUT, PATCH, DELETE. */
  methods?: readonly string[];
  /**
   * Request headers a preflight may ask for, compared case-insensitively. Default
   * `authorization`, `content-type`, `x-api-key`, `x-request-id`.
   */
  allowedHeaders?: readonly string[];
  /**
   * Response headers scripts may read. Default `ratelimit`, `ratelimit-policy`,
   * `retry-after`, `x-request-id`.
   */
  exposedHeaders?: readonly string[];
  /**
   * Seconds a browser may cache a preflight answer, 0–7200; default 600. Chromium caps at
   * 7200 anyway, and a long cache keeps a withdrawn permission alive.
   */
  maxAge?: number;
}

/** What {@link Cors.decide} looks at: the request line and three request headers. */
export interface CorsRequest {
  method: string;
  origin?: string | undefined;
  accessControlRequestMethod?: string | undefined;
  accessControlRequestHeaders?: string | undefined;
}

/**
 * The answer. `preflight` says the request was a CORS preflight (OPTIONS with `Origin` and
 * `Access-Control-Request-Method`); `allowed` that CORS access is granted; `headers` are to
 * be added to the response (always at least `Vary`). The object is shared and frozen: copy
 * it, don't change it.
 */
export interface CorsDecision {
  readonly preflight: boolean;
  readonly allowed: boolean;
  readonly headers: Readonly<Record<string, string>>;
}

/** A compiled CORS policy. */
export interface Cors {
  decide(input: CorsRequest): CorsDecision;
}

/** The defaults, as data. */
export const CORS_DEFAULTS = Object.freeze({
  credentials: false,
  methods: Object.freeze(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
  allowedHeaders: Object.freeze(['authorization', 'content-type', 'x-api-key', 'x-request-id']),
  exposedHeaders: Object.freeze(['ratelimit', 'ratelimit-policy', 'retry-after', 'x-request-id']),
  maxAge: 600,
} as const);

/** The upper bound of `maxAge`, in seconds (Chromium's own cap). */
export const CORS_MAX_AGE_LIMIT = 7200;

// The answer depends on these request headers, so caches must key on them (Fetch §3.2.5).
const VARY_ACTUAL = 'Origin';
const VARY_PREFLIGHT = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

// A preflight asking for more headers than this is refused without looking further.
const MAX_REQUESTED_HEADERS = 64;

const OPTION_KEYS = new Set([
  'origins',
  'credentials',
  'methods',
  'allowedHeaders',
  'exposedHeaders',
  'maxAge',
]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443' };
// scheme "://" host [":" port], host being a DNS name, a dotted quad or a bracketed IPv6 literal.
const ORIGIN = /^([a-z][a-z0-9+.-]*):\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$/;

function originError(field: string, text: string, why: string): TypeError {
  return new TypeError(`${field}: ${JSON.stringify(text)} ${why}`);
}

/** Validates one configured origin and returns its serialized form (RFC 6454 §6.1). */
function parseOrigin(raw: string, field: string): string {
  const text = raw.toLowerCase();
  if (text === 'null') {
    throw originError(
      field,
      raw,
      'is refused: sandboxed iframes, file: pages and some redirects all send Origin: null, so allowing it allows any of them',
    );
  }
  if (text.includes('*')) {
    throw originError(field, raw, 'has a wildcard; list every origin exactly (a wildcard is a suffix match)');
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(text);
  if (scheme === null) throw originError(field, raw, 'is not an origin; expected scheme://host[:port]');
  const rest = text.slice(scheme[0].length);
  if (rest.includes('@')) throw originError(field, raw, 'has user info; an origin is scheme://host[:port]');
  if (rest.endsWith('/'))
    throw originError(field, raw, 'ends with a slash; browsers send origins without one');
  if (/[/?#]/.test(rest)) throw originError(field, raw, 'has a path, query or fragment; an origin has none');
  const match = ORIGIN.exec(text);
  if (match === null) {
    throw originError(
      field,
      raw,
      'is not an origin; expected scheme://host[:port] with an ASCII (xn--) host',
    );
  }
  const [, protocol, host, port] = match;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535 || port.startsWith('0'))) {
    throw originError(field, raw, 'has an invalid port');
  }
  // Browsers omit the scheme's default port, so `https://a.example:443` would never match.
  return port === undefined || DEFAULT_PORTS[protocol!] === port ? `${protocol}://${host}` : text;
}

function tokenList(value: unknown, field: string, normalize: (token: string) => string): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${field}: expected an array of strings`);
  return value.map((item, i) => {
    if (typeof item !== 'string' || !TOKEN.test(item) || item === '*') {
      throw new TypeError(
        `${field}[${i}]: expected a header or method name (no "*": list each one), got ${JSON.stringify(item)}`,
      );
    }
    return normalize(item);
  });
}

const toLower = (token: string) => token.toLowerCase();
const toUpper = (token: string) => token.toUpperCase();

interface CorsConfig {
  origins: readonly string[];
  credentials: boolean;
  methods: readonly string[];
  allowedHeaders: readonly string[];
  exposedHeaders: readonly string[];
  maxAge: number;
}

function validate(options: CorsOptions): CorsConfig {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError('cors: expected an options object');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new TypeError(`cors.${key}: unknown option; expected one of ${[...OPTION_KEYS].join(', ')}`);
    }
  }
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const merged = { ...CORS_DEFAULTS, ...given } as CorsOptions & typeof CORS_DEFAULTS;

  if (!Array.isArray(merged.origins)) {
    throw new TypeError('cors.origins: expected an array of origins like "https://app.example.com"');
  }
  const wildcard = merged.origins.includes('*');
  if (wildcard && merged.origins.length > 1) {
    throw new TypeError('cors.origins: "*" already allows every origin; it must be the only entry');
  }
  const origins = wildcard
    ? ['*']
    : merged.origins.map((origin, i) => {
        if (typeof origin !== 'string') {
          throw new TypeError(`cors.origins[${i}]: expected an origin string, got ${typeof origin}`);
        }
        return parseOrigin(origin, `cors.origins[${i}]`);
      });

  if (typeof merged.credentials !== 'boolean') {
    throw new TypeError(
      `cors.credentials: expected true or false, got ${JSON.stringify(merged.credentials)}`,
    );
  }
  if (wildcard && merged.credentials) {
    // Fetch refuses `*` with credentials; the "fix" people reach for, reflecting any Origin,
    // lets every website act with the user's cookies.
    throw new TypeError(
      'cors.credentials: cannot be true when cors.origins is "*"; list the origins exactly',
    );
  }
  const maxAge = merged.maxAge;
  if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > CORS_MAX_AGE_LIMIT) {
    throw new TypeError(
      `cors.maxAge: expected whole seconds from 0 to ${CORS_MAX_AGE_LIMIT}, got ${JSON.stringify(maxAge)}`,
    );
  }
  return {
    origins,
    credentials: merged.credentials,
    methods: tokenList(merged.methods, 'cors.methods', toUpper),
    allowedHeaders: tokenList(merged.allowedHeaders, 'cors.allowedHeaders', toLower),
    exposedHeaders: tokenList(merged.exposedHeaders, 'cors.exposedHeaders', toLower),
    maxAge,
  };
}

function decision(preflight: boolean, allowed: boolean, headers: Record<string, string>): CorsDecision {
  return Object.freeze({ preflight, allowed, headers: Object.freeze(headers) });
}

/** The two answers for one allowed origin (or `*`), built once. */
function grantsFor(
  allowOrigin: string,
  config: CorsConfig,
): { actual: CorsDecision; preflight: CorsDecision } {
  const common: Record<string, string> = { 'Access-Control-Allow-Origin': allowOrigin };
  if (config.credentials) common['Access-Control-Allow-Credentials'] = 'true';

  const actual: Record<string, string> = { Vary: VARY_ACTUAL, ...common };
  if (config.exposedHeaders.length > 0) {
    actual['Access-Control-Expose-Headers'] = config.exposedHeaders.join(', ');
  }
  const preflight: Record<string, string> = { Vary: VARY_PREFLIGHT, ...common };
  // Only the configured lists, never an echo of what was asked for.
  if (config.methods.length > 0) preflight['Access-Control-Allow-Methods'] = config.methods.join(', ');
  if (config.allowedHeaders.length > 0) {
    preflight['Access-Control-Allow-Headers'] = config.allowedHeaders.join(', ');
  }
  preflight['Access-Control-Max-Age'] = String(config.maxAge);
  return { actual: decision(false, true, actual), preflight: decision(true, true, preflight) };
}

const DENIED_ACTUAL = decision(false, false, { Vary: VARY_ACTUAL });
const DENIED_PREFLIGHT = decision(true, false, { Vary: VARY_PREFLIGHT });

/**
 * Does every header named in `Access-Control-Request-Headers` appear in `allowed`? Empty
 * items are skipped; names compare case-insensitively (Fetch sends them lower-cased).
 */
export function requestedHeadersAllowed(
  requested: string | undefined,
  allowed: ReadonlySet<string>,
): boolean {
  if (requested === undefined) return true;
  const names = requested.split(',', MAX_REQUESTED_HEADERS + 1);
  if (names.length > MAX_REQUESTED_HEADERS) return false;
  for (const raw of names) {
    const name = raw.trim().toLowerCase();
    if (name !== '' && !allowed.has(name)) return false;
  }
  return true;
}

/**
 * Compiles a CORS policy. Every answer is precomputed at creation: `decide` is a map lookup.
 *
 * Origins compare by exact string: `https://APP.example.com` does not match a configured
 * `https://app.example.com`. Browsers always serialize the host in lower case, so a
 * mixed-case `Origin` comes from a script or tool, which CORS does not govern anyway.
 *
 * @throws TypeError naming the field (`cors.origins[1]: …`, `cors.credentials: …`).
 * @example
 * const cors = createCors({ origins: ['https://app.example.com'], credentials: true });
 * cors.decide({ method: 'GET', origin: 'https://app.example.com' }).headers
 * // { Vary: 'Origin', 'Access-Control-Allow-Origin': 'https://app.example.com', ... }
 */
export function createCors(options: CorsOptions): Cors {
  const config = validate(options);
  const wildcard = config.origins[0] === '*';
  const grants = new Map(config.origins.map((origin) => [origin, grantsFor(origin, config)]));
  const wildcardGrant = wildcard ? grants.get('*') : undefined;
  const methods = new Set(config.methods);
  const allowedHeaders = new Set(config.allowedHeaders);

  return {
    decide(input) {
      const { method, origin, accessControlRequestMethod } = input;
      // Fetch §4.8: a preflight is OPTIONS carrying Origin and Access-Control-Request-Method;
      // an OPTIONS without them is an ordinary request for the route to answer.
      const grant = origin === undefined ? undefined : (wildcardGrant ?? grants.get(origin));
      if (method !== 'OPTIONS' || origin === undefined || accessControlRequestMethod === undefined) {
        return grant?.actual ?? DENIED_ACTUAL;
      }
      if (
        grant === undefined ||
        !methods.has(accessControlRequestMethod) ||
        !requestedHeadersAllowed(input.accessControlRequestHeaders, allowedHeaders)
      ) {
        return DENIED_PREFLIGHT;
      }
      return grant.preflight;
    },
  };
}
