/**
 * The request target (RFC 9112 §3.2.1 origin-form) in the one form that every hop reads alike.
 *
 * A policy chosen by path is only as good as the agreement between the hop that chose it and
 * the hop that serves the path. `/public/../admin` is matched by a `/public/*` rule here and
 * served as `/admin` by an upstream that resolves dot segments (RFC 3986 §5.2.4); `%2e%2e`,
 * `%2F`, `\` and `//` are the same attack in other spellings, and `%252e` is it again for an
 * upstream that decodes twice. Rather than guess how the next hop normalises, a target that
 * is not already in normal form is refused: no dot segments, no empty segments, no
 * backslashes, no raw control, space or non-ASCII bytes, and no percent-encoded `/`, `\`, `.`,
 * `%` or control character. Every ordinary API path passes unchanged.
 */

/** The target's parts, the path exactly as sent (still percent-encoded), or why it was refused. */
export type RequestTarget =
  | { readonly ok: true; readonly path: string; readonly query: string | undefined }
  | { readonly ok: false; readonly reason: string };

/** The longest target read, in characters (a whole 16 KB request head is the server's bound). */
export const MAX_TARGET_LENGTH = 8192;

function isHex(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

function hexValue(code: number): number {
  return code <= 0x39 ? code - 0x30 : (code | 0x20) - 0x61 + 10;
}

/** Bytes that must not arrive percent-encoded: they change what the path means once decoded. */
function isAmbiguousEncoded(byte: number): boolean {
  return byte < 0x20 || byte === 0x7f || byte === 0x2f || byte === 0x5c || byte === 0x2e || byte === 0x25;
}

/**
 * Splits an origin-form target into path and query, refusing one that is not in normal form.
 * One linear pass, bounded by {@link MAX_TARGET_LENGTH}.
 *
 * @example
 * parseRequestTarget('/orders/7?expand=items') // { ok: true, path: '/orders/7', query: 'expand=items' }
 * parseRequestTarget('/public/../admin')       // { ok: false, reason: 'a dot segment' }
 */
export function parseRequestTarget(target: string): RequestTarget {
  if (typeof target !== 'string' || target.length === 0 || target.charCodeAt(0) !== 0x2f) {
    return { ok: false, reason: 'not an origin-form target (it must start with "/")' };
  }
  if (target.length > MAX_TARGET_LENGTH) return { ok: false, reason: 'too long' };
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? undefined : target.slice(q + 1);
  let segmentStart = 1;
  for (let i = 1; i <= path.length; i++) {
    const code = i < path.length ? path.charCodeAt(i) : 0x2f;
    if (code === 0x2f) {
      const segment = path.slice(segmentStart, i);
      if (segment === '.' || segment === '..') return { ok: false, reason: 'a dot segment' };
      // An empty segment is a `//`; only the trailing slash of the whole path may end empty.
      if (segment === '' && i < path.length) return { ok: false, reason: 'an empty segment ("//")' };
      segmentStart = i + 1;
      continue;
    }
    if (code <= 0x20 || code >= 0x7f || code === 0x5c || code === 0x23) {
      return { ok: false, reason: 'a character that must be percent-encoded' };
    }
    if (code === 0x25) {
      const a = path.charCodeAt(i + 1);
      const b = path.charCodeAt(i + 2);
      if (!isHex(a) || !isHex(b)) return { ok: false, reason: 'a malformed percent-encoding' };
      if (isAmbiguousEncoded(hexValue(a) * 16 + hexValue(b))) {
        return { ok: false, reason: 'a percent-encoded "/", "\\", ".", "%" or control character' };
      }
      i += 2;
    }
  }
  if (query !== undefined) {
    for (let i = 0; i < query.length; i++) {
      const code = query.charCodeAt(i);
      if (code <= 0x20 || code >= 0x7f || code === 0x23) {
        return { ok: false, reason: 'a character that must be percent-encoded' };
      }
    }
  }
  return { ok: true, path, query };
}
