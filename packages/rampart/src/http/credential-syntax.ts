/**
 * Where a request writes its credential, read by hand: the `Authorization: Bearer` syntax
 * (RFC 6750 §2.1) and the query parameters that must not carry one (§2.3 says don't: URLs end
 * up in logs, browser history and `Referer`). Both run on every request over text the client
 * chose, so both are single passes that look at a bounded part of it; no regular expression
 * decides how long they take.
 */

/**
 * The longest `Authorization` header read: Node's default limit for all request headers
 * together (`--max-http-header-size`, 16 KiB), so a default server never hands over a longer one.
 */
export const MAX_AUTHORIZATION_LENGTH = 16 * 1024;

/** Query parameter names that would carry a credential (compared lower-cased, percent-decoded). */
export const CREDENTIAL_QUERY_NAMES: readonly string[] = Object.freeze([
  'access_token',
  'token',
  'api_key',
  'apikey',
  'api-key',
  'key',
  'x-api-key',
]);

const NAMES = new Set(CREDENTIAL_QUERY_NAMES);
const MIN_NAME = Math.min(...CREDENTIAL_QUERY_NAMES.map((name) => name.length));
const MAX_NAME = Math.max(...CREDENTIAL_QUERY_NAMES.map((name) => name.length));
/** A name longer than this cannot decode to one of `NAMES` (each byte at most `%XX`). */
const MAX_ENCODED_NAME = 3 * MAX_NAME;
const SCHEME = 'bearer';

/**
 * The token of an `Authorization: Bearer <token>` header, or `undefined` when the header is
 * absent, uses another scheme, has no token, or is longer than
 * {@link MAX_AUTHORIZATION_LENGTH}. The scheme is case-insensitive (RFC 9110 §11.1), one or
 * more spaces follow it, and the token is one run of visible ASCII (`\x21`–`\x7e`): a second
 * word, a tab or a control character makes it no Bearer credential at all. Surrounding
 * whitespace is ignored.
 *
 * @example
 * bearerToken('Bearer eyJhbGciOi…') // 'eyJhbGciOi…'
 * bearerToken('Basic dXNlcjpwYXNz') // undefined
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (typeof authorization !== 'string' || authorization.length > MAX_AUTHORIZATION_LENGTH) return undefined;
  const text = authorization.trim();
  if (text.length <= SCHEME.length + 1) return undefined;
  for (let i = 0; i < SCHEME.length; i++) {
    // ASCII case folding: setting bit 0x20 maps only `B`, `E`, `A`, `R` onto these letters.
    const code = text.charCodeAt(i) | 0x20;
    if (code !== SCHEME.charCodeAt(i)) return undefined;
  }
  let i = SCHEME.length;
  if (text.charCodeAt(i) !== 0x20) return undefined;
  while (text.charCodeAt(i) === 0x20) i++;
  const start = i;
  for (; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return undefined;
  }
  return start === text.length ? undefined : text.slice(start);
}

/**
 * Does the raw query string (after `?`) carry a parameter named like a credential
 * (`access_token`, `token`, `api_key`, `apikey`, `api-key`, `key`, `x-api-key`) with a value,
 * even an empty one? Names compare case-insensitively and percent-decoded, as the
 * frameworks' query parsers decode them: `?ac%63ess_token=…` is refused as `access_token`.
 *
 * One pass over the `&`-separated pairs; of each name it looks at no more than the
 * {@link MAX_ENCODED_NAME} characters a fully percent-encoded credential name can take.
 *
 * @example
 * hasCredentialInQuery('page=2&api_key=rk_live_…') // true
 * hasCredentialInQuery('page=2&keyword=x')         // false
 */
export function hasCredentialInQuery(query: string | undefined): boolean {
  if (typeof query !== 'string' || query === '') return false;
  const length = query.length;
  // The next `=` at or after `start`, kept between pairs: searching afresh from every pair
  // would rescan the same stretch for each `&` before it (`&&&…&=` is quadratic).
  let eq = -1;
  let start = 0;
  while (start <= length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = length;
    if (eq < start) {
      eq = query.indexOf('=', start);
      if (eq < 0) return false;
    }
    if (eq < end && eq - start <= MAX_ENCODED_NAME && isCredentialName(query.slice(start, eq))) return true;
    start = end + 1;
  }
  return false;
}

function isCredentialName(raw: string): boolean {
  let name = raw;
  if (raw.includes('%')) {
    try {
      name = decodeURIComponent(raw);
    } catch {
      // Not decodable, so no parser reads it as a credential name; the raw text is compared.
    }
  }
  if (name.length < MIN_NAME || name.length > MAX_NAME) return false;
  for (let i = 0; i < name.length; i++) {
    // The names are ASCII: anything else cannot be one, and `toLowerCase` would fold U+212A
    // KELVIN SIGN into a `k` that no query parser reads as one.
    if (name.charCodeAt(i) > 0x7f) return false;
  }
  return NAMES.has(name.toLowerCase());
}
