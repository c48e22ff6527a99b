import { hostname } from 'node:os';
import { isValidApiKeyPrefix } from 'rampart/internal/api-keys/format.ts';
import { SECRET_FIELD } from 'rampart/internal/audit/scrub.ts';

/**
 * The most of a URL a log line keeps, in characters: 4 KiB. Nothing past it is looked at,
 * so the redactor's work per request is bounded whatever the client sends (Node accepts
 * 16 KiB of request head).
 */
export const MAX_LOGGED_URL = 4096;

const REDACTED = '[redacted]';
const TRUNCATED = '…[truncated]';
// API keys are a prefix of 3 to 33 characters (`ab_` to 16 + `_` + 15 + `_`) and 49 base62.
const KEY_BODY = 49;
const MIN_KEY = 3 + KEY_BODY;
const MAX_KEY = 33 + KEY_BODY;
// Refresh (`rt_`) and reset (`rst_`) tokens carry 43 base62.
const TOKEN_BODY = 43;
const DOT = 0x2e;
const MIN_JWT_SEGMENT = 4;

/**
 * The URL as logged: query parameters whose name looks secret (`token`, `api_key`,
 * `password`, …) keep their name but lose their value, and anything shaped like a Rampart
 * credential or a JWT is replaced wherever it stands, so a credential a client put in the URL
 * never reaches a log line.
 *
 * Looks at no more than the first {@link MAX_LOGGED_URL} (4 KiB) characters of the URL. A
 * longer URL is logged cut there and marked `…[truncated]`, and the run of token characters
 * the cut falls in is dropped too, so no partial key or JWT survives the cut. Every step is a
 * single pass without a regular expression over the URL: the regex this replaces took
 * quadratic time on a 16 KB path of repeated `eyJ-`, 125–200 ms a request, enough for two
 * keep-alive connections to stall the event loop for every other client.
 *
 * @example
 * redactUrl('/x?token=abc&page=2') // '/x?token=[redacted]&page=2'
 */
export function redactUrl(url: string): string {
  const text = url.length > MAX_LOGGED_URL ? cutAtTokenBoundary(url.slice(0, MAX_LOGGED_URL)) : url;
  const q = text.indexOf('?');
  const path = redactCredentials(q === -1 ? text : text.slice(0, q));
  let logged = path;
  if (q !== -1) {
    const params = text
      .slice(q + 1)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        const rawName = eq === -1 ? pair : pair.slice(0, eq);
        let name = rawName;
        try {
          name = decodeURIComponent(rawName.replaceAll('+', ' '));
        } catch {}
        return SECRET_FIELD.test(name) && eq !== -1 ? `${rawName}=${REDACTED}` : redactCredentials(pair);
      });
    logged = `${path}?${params.join('&')}`;
  }
  return text.length < url.length ? logged + TRUNCATED : logged;
}

/** Characters a credential or its encoding can continue with: base64url, `.`, `%XX`, `+`, `=`, `~`. */
function isTokenChar(code: number): boolean {
  return (
    isWordChar(code) ||
    code === 0x2d ||
    code === DOT ||
    code === 0x25 ||
    code === 0x2b ||
    code === 0x3d ||
    code === 0x7e
  );
}

/** Drops the run of token characters a cut ended in: it may be the start of a credential. */
function cutAtTokenBoundary(cut: string): string {
  let end = cut.length;
  while (end > 0 && isTokenChar(cut.charCodeAt(end - 1))) end--;
  return cut.slice(0, end);
}

/** `\w` of a regular expression without the `u` flag: ASCII letters, digits and `_`. */
function isWordChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f
  );
}

function isBase62(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x5f || !isWordChar(code)) return false;
  }
  return true;
}

/**
 * Is the word run `text[start, end)` (letters, digits, `_`, between non-word characters) a
 * Rampart API key (`<prefix><49 base62>`, checksum not checked: a near-miss is redacted too),
 * a refresh token (`rt_` + 43) or a reset token (`rst_` + 43)? Constant work: the lengths
 * are fixed or bounded before any character is read.
 */
function isCredentialRun(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length === 3 + TOKEN_BODY && text.startsWith('rt_', start)) return isBase62(text, start + 3, end);
  if (length === 4 + TOKEN_BODY && text.startsWith('rst_', start)) return isBase62(text, start + 4, end);
  if (length < MIN_KEY || length > MAX_KEY) return false;
  return isBase62(text, end - KEY_BODY, end) && isValidApiKeyPrefix(text.slice(start, end - KEY_BODY));
}

/** `[A-Za-z0-9_-]`: what a JWT's base64url segments are made of. */
function isSegmentChar(code: number): boolean {
  return isWordChar(code) || code === 0x2d;
}

/**
 * Reads a JWT-shaped text at `start` (which holds `eyJ`): `eyJ` and at least 4 segment
 * characters, `.`, at least 4, `.`, and any number. Returns where it ends, or where the
 * reading stopped when the shape is not there. No later `eyJ` before that stop can be a JWT
 * either: it would share the first segment that already failed (or a shorter one), so the
 * caller never reads that stretch again and the whole scan stays linear.
 */
function readJwt(text: string, start: number): { matched: boolean; end: number } {
  let i = start + 3;
  for (let segment = 0; segment < 3; segment++) {
    const from = i;
    while (i < text.length && isSegmentChar(text.charCodeAt(i))) i++;
    if (segment === 2) break;
    if (i - from < MIN_JWT_SEGMENT || text.charCodeAt(i) !== DOT) return { matched: false, end: i };
    i++;
  }
  return { matched: true, end: i };
}

/**
 * Replaces every credential-shaped run: API keys, refresh and reset tokens (each a whole word
 * run) and JWTs (from a word run starting `eyJ` through its third segment). What it replaces
 * is exactly what `\b<key>\b|\b(?:rt|rst)_[0-9A-Za-z]{43}\b|\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*`
 * matched, in one pass: every word run is looked at once, and no stretch is read twice for a
 * JWT (see {@link readJwt}).
 */
function redactCredentials(text: string): string {
  let out = '';
  let copied = 0;
  let jwtReadTo = 0;
  let i = 0;
  while (i < text.length) {
    if (!isWordChar(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let runEnd = i + 1;
    while (runEnd < text.length && isWordChar(text.charCodeAt(runEnd))) runEnd++;
    let end = -1;
    if (isCredentialRun(text, i, runEnd)) end = runEnd;
    else if (i >= jwtReadTo && text.startsWith('eyJ', i)) {
      const jwt = readJwt(text, i);
      if (jwt.matched) end = jwt.end;
      else jwtReadTo = jwt.end;
    }
    if (end < 0) {
      i = runEnd;
      continue;
    }
    out += text.slice(copied, i) + REDACTED;
    copied = i = end;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** What the request log line says of one answered request. */
export interface RequestLogFields {
  reqId: string;
  method: string;
  /** Already redacted (`redactUrl`). */
  url: string;
  route: string | undefined;
  status: number;
  ms: number;
  ip: string;
  ua: string | undefined;
  correlationId: string | undefined;
}

const PID = process.pid;
const HOSTNAME = JSON.stringify(hostname());

/**
 * The request line, written as pino writes it (level 30, time, pid, hostname, the request's
 * id, the fields, `msg: "request"`; absent fields left out) but without building an object
 * per request for pino's serializer: the one line every request costs, so it is made cheap,
 * not absent. Every value a client chose goes through `JSON.stringify`.
 */
export function requestLine(f: RequestLogFields): string {
  let line = `{"level":30,"time":${Date.now()},"pid":${PID},"hostname":${HOSTNAME},"reqId":${JSON.stringify(f.reqId)},"method":${JSON.stringify(f.method)},"url":${JSON.stringify(f.url)}`;
  if (f.route !== undefined) line += `,"route":${JSON.stringify(f.route)}`;
  line += `,"status":${f.status},"ms":${f.ms},"ip":${JSON.stringify(f.ip)}`;
  if (f.ua !== undefined) line += `,"ua":${JSON.stringify(f.ua)}`;
  if (f.correlationId !== undefined) line += `,"correlationId":${JSON.stringify(f.correlationId)}`;
  return `${line},"msg":"request"}\n`;
}
