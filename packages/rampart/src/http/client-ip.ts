/**
 * The client's address behind trusted reverse proxies.
 *
 * Everything to the left of the last trusted hop in a forwarding header was written by the
 * client and is a lie until proven otherwise; a resolver that reads the leftmost entry lets
 * anyone pick their own rate-limit bucket and audit-log address. So: headers count only when
 * the socket peer is a configured proxy, exactly one header is read, and the list is walked
 * from the right, trusting an entry only because the (trusted) hop to its right wrote it.
 */

import type { IpAddress, IpMatcher } from '../lib/ip.ts';
import { createIpMatcher, formatIp, parseIp, parseIpWithPort } from '../lib/ip.ts';

/** The forwarding header a deployment's proxy sets; only one is ever read. */
export type ForwardingHeader = 'x-forwarded-for' | 'forwarded' | 'x-real-ip';

/** Reads a request header by lower-case name (Node's `req.headers[name]` fits). */
export type HeaderLookup = (name: string) => string | readonly string[] | undefined;

/**
 * Resolves the client address of one request: canonical text (IPv4-mapped folded to IPv4,
 * RFC 5952 IPv6). A peer that is not an IP address (a Unix socket) is returned unchanged.
 */
export type ClientIpResolver = (peerAddress: string, getHeader: HeaderLookup) => string;

/** Options of {@link createClientIpResolver}. */
export interface ClientIpResolverOptions {
  /**
   * The proxies whose forwarding header is believed: CIDR ranges and the keywords
   * `'loopback'`, `'private'`, `'linklocal'`. Default `[]`: no proxy is trusted and headers
   * are ignored, the socket peer is the client.
   */
  trustProxy?: readonly string[];
  /**
   * The one header the proxy sets, default `'x-forwarded-for'`. Only one is read: if both
   * `Forwarded` and `X-Forwarded-For` counted, a client could send whichever the proxy does
   * not overwrite and be believed.
   */
  header?: ForwardingHeader;
  /**
   * How many list entries, counted from the right, are examined at most; default 20, 1–100.
   * Bounds the work an attacker can cause with a huge header.
   */
  maxEntries?: number;
}

/** The defaults, as data. */
export const CLIENT_IP_DEFAULTS = Object.freeze({
  trustProxy: Object.freeze([]) as readonly string[],
  header: 'x-forwarded-for',
  maxEntries: 20,
} as const satisfies Required<ClientIpResolverOptions>);

const FORWARDING_HEADERS: readonly ForwardingHeader[] = ['x-forwarded-for', 'forwarded', 'x-real-ip'];
const MAX_ENTRIES_LIMIT = 100;
const OPTION_KEYS = new Set(['trustProxy', 'header', 'maxEntries']);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// RFC 7239 §6.3: an obfuscated port, `_` then ALPHA / DIGIT / "." / "_" / "-".
const OBFUSCATED_PORT = /:_[0-9A-Za-z._-]+$/;

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Trims HTTP optional whitespace only (SP, HTAB), not every Unicode space. */
function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function headerLines(value: unknown): readonly string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((line): line is string => typeof line === 'string');
  return [];
}

/**
 * Up to `max` comma-separated list entries, rightmost first, across header lines joined in
 * order. Reads from the end of the last line, so the cost is bounded by `max`, not by the
 * header's size. Empty entries (RFC 9110 §5.6.1) count toward `max` but are dropped.
 */
function entriesFromRight(lines: readonly string[], max: number): string[] {
  const entries: string[] = [];
  let examined = 0;
  for (let l = lines.length - 1; l >= 0; l--) {
    const line = lines[l]!;
    let end = line.length;
    for (;;) {
      if (examined++ >= max) return entries;
      const comma = end === 0 ? -1 : line.lastIndexOf(',', end - 1);
      const entry = trimOws(line.slice(comma + 1, end));
      if (entry !== '') entries.push(entry);
      if (comma < 0) break;
      end = comma;
    }
  }
  return entries;
}

/**
 * The node of one RFC 7239 element's `for=` parameter, or `undefined` when the element is
 * malformed, has no `for`, has it twice, or names an `unknown` / obfuscated node (neither
 * can be checked against the trust list).
 *
 * Values with a quote anywhere but around the whole value are refused. Splitting on `,` and
 * `;` can cut through a quoted string; every piece of such a cut then carries a stray quote,
 * and because the walk goes right to left it meets the closing piece first and stops before
 * reaching anything the client smuggled inside the quotes.
 */
function parseForwardedElement(element: string): IpAddress | undefined {
  let node: string | undefined;
  for (const rawPair of element.split(';')) {
    const pair = trimOws(rawPair);
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0 || !TOKEN.test(pair.slice(0, eq))) return undefined;
    let value = pair.slice(eq + 1);
    if (value.startsWith('"')) {
      if (value.length < 2 || !value.endsWith('"')) return undefined;
      value = value.slice(1, -1);
      // No quoted-pair escapes: no legitimate node, host or proto needs one.
      if (value.includes('"') || value.includes('\\')) return undefined;
    } else if (value === '' || value.includes('"') || value.includes('\\') || /\s/.test(value)) {
      return undefined;
    }
    if (pair.slice(0, eq).toLowerCase() === 'for') {
      // §5: a parameter must not occur twice in one element; which one would be true?
      if (node !== undefined) return undefined;
      node = value;
    }
  }
  if (node === undefined || node === 'unknown' || node.startsWith('_')) return undefined;
  // An obfuscated port hides nothing we need: the address is still checkable.
  return parseIpWithPort(node.replace(OBFUSCATED_PORT, ''));
}

const PARSE_ENTRY: Readonly<Record<ForwardingHeader, (entry: string) => IpAddress | undefined>> = {
  // Some proxies (Azure Application Gateway, IIS ARR) append `ip:port` or `[v6]:port`.
  'x-forwarded-for': parseIpWithPort,
  'x-real-ip': parseIpWithPort,
  forwarded: parseForwardedElement,
};

/**
 * The walk itself, a pure function: from the right, skip trusted hops and return the first
 * untrusted address. A malformed entry stops the walk at the nearest hop verified so far; if
 * every examined hop is trusted, the leftmost of them is the client.
 *
 * @param peer the socket peer, already known to be trusted.
 * @param entries header entries, rightmost first.
 * @example
 * // X-Forwarded-For: 198.51.100.66, 203.0.113.7, 10.0.0.9 (the client wrote the first)
 * walkForwardedChain(parseIp('10.0.0.2')!, ['10.0.0.9', '203.0.113.7', '198.51.100.66'],
 *   parseIpWithPort, createIpMatcher(['10.0.0.0/8'])) // 203.0.113.7
 */
export function walkForwardedChain(
  peer: IpAddress,
  entries: readonly string[],
  parseEntry: (entry: string) => IpAddress | undefined,
  isTrusted: IpMatcher,
): IpAddress {
  let nearest = peer;
  for (const entry of entries) {
    const ip = parseEntry(entry);
    // Never return garbage, and never look past it: whatever is further left was written by
    // someone we cannot vouch for.
    if (ip === undefined) return nearest;
    if (!isTrusted(ip)) return ip;
    nearest = ip;
  }
  return nearest;
}

function parsePeer(peerAddress: string): IpAddress | undefined {
  if (typeof peerAddress !== 'string') return undefined;
  // The kernel may report a link-local peer with its zone (`fe80::1%eth0`). It is scope, not
  // identity, and unlike header text it cannot be forged, so here it is dropped, not refused.
  const zone = peerAddress.indexOf('%');
  return parseIp(zone < 0 ? peerAddress : peerAddress.slice(0, zone));
}

function validate(options: ClientIpResolverOptions): Required<ClientIpResolverOptions> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError('clientIp: expected an options object');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new TypeError(`clientIp.${key}: unknown option; expected one of ${[...OPTION_KEYS].join(', ')}`);
    }
  }
  // An option given as `undefined` means "the default", as if it were absent.
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const merged: Required<ClientIpResolverOptions> = { ...CLIENT_IP_DEFAULTS, ...given };
  if (!Array.isArray(merged.trustProxy)) {
    throw new TypeError('trustProxy: expected an array of CIDR ranges or keywords');
  }
  if (!FORWARDING_HEADERS.includes(merged.header)) {
    throw new TypeError(
      `clientIp.header: expected one of ${FORWARDING_HEADERS.join(', ')}, got ${JSON.stringify(merged.header)}`,
    );
  }
  if (
    !Number.isInteger(merged.maxEntries) ||
    merged.maxEntries < 1 ||
    merged.maxEntries > MAX_ENTRIES_LIMIT
  ) {
    throw new TypeError(
      `clientIp.maxEntries: expected a whole number from 1 to ${MAX_ENTRIES_LIMIT}, got ${JSON.stringify(merged.maxEntries)}`,
    );
  }
  return merged;
}

/**
 * Builds the per-request client-address resolver.
 *
 * - No `trustProxy` (the default): the socket peer is the client; headers are not even read.
 * - With `trustProxy`: only when the peer is trusted is the one configured header read; its
 *   lines are joined in order and walked from the right (see {@link walkForwardedChain}).
 *   `X-Real-IP` must hold exactly one address; several (a client's plus a proxy's) are
 *   ambiguous and the peer is returned.
 *
 * @throws TypeError naming the field (`trustProxy[1]: …`, `clientIp.header: …`) on bad options.
 * @example
 * const clientIp = createClientIpResolver({ trustProxy: ['10.0.0.0/8'] });
 * clientIp('10.0.0.2', (name) => req.headers[name]) // '203.0.113.7'
 */
export function createClientIpResolver(options: ClientIpResolverOptions = {}): ClientIpResolver {
  const { trustProxy, header, maxEntries } = validate(options);
  const isTrusted = createIpMatcher(trustProxy, 'trustProxy');
  const parseEntry = PARSE_ENTRY[header];
  const trustsNobody = trustProxy.length === 0;

  return (peerAddress, getHeader) => {
    const peer = parsePeer(peerAddress);
    if (peer === undefined) return peerAddress;
    if (trustsNobody || !isTrusted(peer)) return formatIp(peer);
    const lines = headerLines(getHeader(header));
    let entries: string[];
    if (header === 'x-real-ip') {
      // A single-value header: a second value means a client's copy survived next to the
      // proxy's, and there is no telling which is which.
      if (lines.length > 1 || (lines.length === 1 && lines[0]!.includes(','))) return formatIp(peer);
      entries = entriesFromRight(lines, 1);
    } else {
      entries = entriesFromRight(lines, maxEntries);
    }
    return formatIp(walkForwardedChain(peer, entries, parseEntry, isTrusted));
  };
}
