/**
 * The `Content-Type` header read by hand, in one pass (RFC 9110 §8.3.1 and §5.6.6): a regular
 * expression over a header the client writes must never be the thing that decides how long a
 * request takes (ReDoS), and an ad-hoc pattern also misreads a quoted `"; charset=…"` inside
 * another parameter.
 *
 * Both functions look at no more than {@link MAX_CONTENT_TYPE_LENGTH} characters: a longer
 * header is not a media type anyone sends (RFC 6838 §4.2 caps type and subtype at 127
 * characters each) and answers as unparsable.
 */

/** The longest `Content-Type` read; longer ones answer `''` / `null` (refuse them: 415). */
export const MAX_CONTENT_TYPE_LENGTH = 1024;

const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** RFC 9110 §5.6.2 tchar: `!#$%&'*+-.^_`|~`, digits and letters. */
function isTokenChar(code: number): boolean {
  if ((code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) {
    return true;
  }
  return (
    code === 0x21 ||
    (code >= 0x23 && code <= 0x27) ||
    code === 0x2a ||
    code === 0x2b ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5e ||
    code === 0x5f ||
    code === 0x60 ||
    code === 0x7c ||
    code === 0x7e
  );
}

/** RFC 9110 §5.6.3 OWS: spaces and horizontal tabs only. */
function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** qdtext and the second octet of a quoted-pair (RFC 9110 §5.6.4): HTAB, SP, VCHAR, obs-text. */
function isQuotable(code: number): boolean {
  return code === 0x09 || (code >= 0x20 && code !== 0x7f && code <= 0xff);
}

/**
 * The media type of a `Content-Type`, lower-cased and without parameters: `application/json`
 * for `Application/JSON; charset=utf-8`. `''` when there is none or the header is longer than
 * {@link MAX_CONTENT_TYPE_LENGTH}.
 *
 * @example mediaTypeOf('application/json; charset=utf-8') // 'application/json'
 */
export function mediaTypeOf(contentType: string | undefined): string {
  if (typeof contentType !== 'string' || contentType.length > MAX_CONTENT_TYPE_LENGTH) return '';
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/**
 * The `charset` parameter of a `Content-Type`, lower-cased and unquoted: `'utf-8'` for
 * `application/json; charset="UTF-8"`; `undefined` when there is none. `null` when the
 * parameters do not parse, name `charset` twice, or the header is longer than
 * {@link MAX_CONTENT_TYPE_LENGTH}: which charset would the body be in? Refuse those.
 *
 * One pass, each character looked at once; a `"; charset=…"` inside another parameter's
 * quoted value is that value, not a parameter.
 *
 * @example
 * charsetOf('application/json')                    // undefined
 * charsetOf('application/json;charset=UTF-8')      // 'utf-8'
 * charsetOf('application/json; x="; charset=utf-16"') // undefined
 * charsetOf('application/json; charset=utf-8; charset=utf-16') // null
 */
export function charsetOf(contentType: string | undefined): string | null | undefined {
  if (contentType === undefined) return undefined;
  if (typeof contentType !== 'string' || contentType.length > MAX_CONTENT_TYPE_LENGTH) return null;
  const text = contentType;
  const end = text.length;
  let i = text.indexOf(';');
  if (i < 0) return undefined;
  let charset: string | undefined;
  // parameters = *( OWS ";" OWS [ parameter ] ); `i` stands on a ";".
  while (i < end) {
    i++;
    while (i < end && isOws(text.charCodeAt(i))) i++;
    if (i === end) break;
    if (text.charCodeAt(i) === SEMICOLON) continue; // an empty parameter
    const nameStart = i;
    while (i < end && isTokenChar(text.charCodeAt(i))) i++;
    if (i === nameStart || i === end || text.charCodeAt(i) !== EQUALS) return null;
    const name = text.slice(nameStart, i).toLowerCase();
    i++;
    let value: string;
    if (i < end && text.charCodeAt(i) === QUOTE) {
      let unquoted = '';
      let closed = false;
      for (i++; i < end; i++) {
        const code = text.charCodeAt(i);
        if (code === QUOTE) {
          closed = true;
          i++;
          break;
        }
        if (code === BACKSLASH) {
          i++;
          if (i === end || !isQuotable(text.charCodeAt(i))) return null;
        } else if (!isQuotable(code)) {
          return null;
        }
        unquoted += text[i];
      }
      if (!closed) return null;
      value = unquoted;
    } else {
      const valueStart = i;
      while (i < end && isTokenChar(text.charCodeAt(i))) i++;
      if (i === valueStart) return null;
      value = text.slice(valueStart, i);
    }
    while (i < end && isOws(text.charCodeAt(i))) i++;
    if (i < end && text.charCodeAt(i) !== SEMICOLON) return null;
    if (name === 'charset') {
      if (charset !== undefined) return null;
      charset = value.toLowerCase();
    }
  }
  return charset;
}
