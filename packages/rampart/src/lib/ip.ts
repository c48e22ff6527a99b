/**
 * IP addresses and CIDR ranges, without dependencies and without regular expressions on the
 * per-request path.
 *
 * Every parser here is strict on purpose: these functions decide who is a trusted proxy and
 * which bucket a client is rate-limited in, so an ambiguous spelling (`010.0.0.1`, which
 * `inet_aton` reads as octal 8.0.0.1; a zone id; an IPv4-mapped IPv6 twin of a listed IPv4
 * address) must either be refused or folded to the one canonical form.
 */

/**
 * A parsed address. IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are always folded to IPv4,
 * so one host has one representation and a dual-stack socket cannot dodge an IPv4 rule.
 */
export interface IpAddress {
  readonly version: 4 | 6;
  /** The address as unsigned 32-bit big-endian words: one for IPv4, four for IPv6. */
  readonly words: readonly number[];
}

/** A parsed CIDR range; `network` has no host bits set. */
export interface Cidr {
  readonly version: 4 | 6;
  /** Prefix length in bits: 0–32 for IPv4, 0–128 for IPv6. */
  readonly prefix: number;
  /** The network address as 32-bit words (see {@link IpAddress.words}). */
  readonly network: readonly number[];
  /** The netmask as 32-bit words. */
  readonly mask: readonly number[];
}

/** A compiled set of ranges: answers "is this address in any of them?". */
export type IpMatcher = (ip: IpAddress | string) => boolean;

/** Options of {@link ipKey}. */
export interface IpKeyOptions {
  /**
   * How many leading bits of an IPv6 address form the key, 32–128; default 64. One subscriber
   * is usually given a whole /64 (RFC 6177), so keying on the full address would hand an
   * attacker 2^64 fresh rate-limit buckets.
   */
  ipv6Prefix?: number;
}

/**
 * The named ranges `createIpMatcher` accepts besides CIDRs, so a config can say `"private"`
 * instead of copying four ranges (and forgetting one).
 */
export const IP_KEYWORDS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  loopback: Object.freeze(['127.0.0.0/8', '::1/128']),
  // RFC 1918 and unique local addresses (RFC 4193).
  private: Object.freeze(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
  // RFC 3927 and RFC 4291 §2.5.6.
  linklocal: Object.freeze(['169.254.0.0/16', 'fe80::/10']),
});

const IP_KEY_DEFAULTS = { ipv6Prefix: 64 } as const;
const IPV6_KEY_PREFIX_MIN = 32;
const IPV6_KEY_PREFIX_MAX = 128;

// The longest textual IPv6 address: ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255.
const IPV6_MAX_LENGTH = 45;
const COLON = 0x3a;
const DOT = 0x2e;

/** Strict dotted quad: four decimal octets, no leading zeros, no other characters. */
function parseIpv4Word(text: string): number | undefined {
  let word = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || ++dots > 3) return undefined;
      word = word * 256 + octet;
      octet = 0;
      digits = 0;
      continue;
    }
    if (c < 0x30 || c > 0x39) return undefined;
    // A leading zero is refused: `010` is octal 8 to inet_aton and decimal 10 to others.
    if (digits > 0 && octet === 0) return undefined;
    octet = octet * 10 + (c - 0x30);
    digits++;
    if (octet > 255) return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return word * 256 + octet;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  return -1;
}

/**
 * RFC 4291 §2.2 text form in one pass (this runs per request on the peer and on every header
 * hop, so no split or regex): groups of 1–4 hex digits, at most one `::`, and an optional
 * dotted quad as the last 32 bits. Anything else, zone ids (`%eth0`) included, is refused.
 */
function parseIpv6Words(text: string): number[] | undefined {
  const n = text.length;
  if (n < 2 || n > IPV6_MAX_LENGTH) return undefined;
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let count = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    if (count === 8) return undefined;
    let value = 0;
    let digits = 0;
    let j = i;
    for (; j < n; j++) {
      const digit = hexValue(text.charCodeAt(j));
      if (digit < 0) break;
      if (++digits > 4) return undefined;
      value = value * 16 + digit;
    }
    if (j < n && text.charCodeAt(j) === DOT) {
      // The dotted quad must be the last thing in the address and fill the last two groups.
      if (count > 6) return undefined;
      const word = parseIpv4Word(text.slice(i));
      if (word === undefined) return undefined;
      groups[count++] = word >>> 16;
      groups[count++] = word & 0xffff;
      break;
    }
    if (digits === 0) return undefined;
    groups[count++] = value;
    if (j === n) break;
    if (text.charCodeAt(j) !== COLON || ++j === n) return undefined;
    if (text.charCodeAt(j) === COLON) {
      if (gap >= 0) return undefined;
      gap = count;
      if (++j === n) break;
    }
    i = j;
  }
  if (gap < 0 ? count !== 8 : count > 7) return undefined;
  if (gap >= 0) {
    // Slide the groups after `::` to the end; the run they leave behind is zeros.
    const shift = 8 - count;
    for (let k = count - 1; k >= gap; k--) groups[k + shift] = groups[k]!;
    for (let k = gap; k < gap + shift; k++) groups[k] = 0;
  }
  return [
    groups[0]! * 0x10000 + groups[1]!,
    groups[2]! * 0x10000 + groups[3]!,
    groups[4]! * 0x10000 + groups[5]!,
    groups[6]! * 0x10000 + groups[7]!,
  ];
}

function isIpv4Mapped(words: readonly number[]): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === 0xffff;
}

/**
 * Parses an IPv4 or IPv6 address written alone: no brackets, no port, no zone id, no
 * surrounding spaces. IPv4-mapped IPv6 is folded to IPv4.
 *
 * @returns the address, or `undefined` when `text` is not exactly one address.
 * @example
 * parseIp('::ffff:192.0.2.1') // { version: 4, words: [3221225985] }
 * parseIp('fe80::1%eth0')     // undefined
 */
export function parseIp(text: string): IpAddress | undefined {
  if (typeof text !== 'string') return undefined;
  if (!text.includes(':')) {
    const word = parseIpv4Word(text);
    return word === undefined ? undefined : { version: 4, words: [word] };
  }
  const words = parseIpv6Words(text);
  if (words === undefined) return undefined;
  if (isIpv4Mapped(words)) return { version: 4, words: [words[3]!] };
  return { version: 6, words };
}

function isPort(text: string): boolean {
  if (text.length === 0 || text.length > 5) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return Number(text) <= 65535;
}

/**
 * Parses an address as proxies write it in headers: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
 * `[2001:db8::1]` or `[2001:db8::1]:443`. The port is checked and dropped. A bare IPv6
 * address is read as an address (its last group is never taken for a port).
 *
 * @returns the address, or `undefined` when `text` is not one of those forms.
 * @example
 * parseIpWithPort('[2001:db8::1]:443') // { version: 6, words: [...] }
 */
export function parseIpWithPort(text: string): IpAddress | undefined {
  if (typeof text !== 'string') return undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    const inner = text.slice(1, close);
    const rest = text.slice(close + 1);
    // Brackets are the IPv6 literal syntax (RFC 3986 §3.2.2); `[1.2.3.4]` is not a thing.
    if (!inner.includes(':')) return undefined;
    if (rest !== '' && !(rest.startsWith(':') && isPort(rest.slice(1)))) return undefined;
    return parseIp(inner);
  }
  const colon = text.indexOf(':');
  if (colon >= 0 && text.indexOf(':', colon + 1) < 0) {
    // Exactly one colon: IPv4 with a port (IPv6 always has at least two colons).
    if (!isPort(text.slice(colon + 1))) return undefined;
    const ip = parseIp(text.slice(0, colon));
    return ip?.version === 4 ? ip : undefined;
  }
  return parseIp(text);
}

function hex(group: number): string {
  return group.toString(16);
}

function formatIpv6(words: readonly number[]): string {
  const groups: number[] = [];
  for (const word of words) groups.push(word >>> 16, word & 0xffff);
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.map(hex).join(':');
  const left = groups.slice(0, bestStart).map(hex).join(':');
  const right = groups
    .slice(bestStart + bestLength)
    .map(hex)
    .join(':');
  return `${left}::${right}`;
}

/**
 * The canonical text of an address: dotted decimal for IPv4, RFC 5952 for IPv6 (lower case,
 * no leading zeros, the longest zero run compressed).
 *
 * @example formatIp(parseIp('2001:0DB8:0:0:0:0:0:1')!) // '2001:db8::1'
 */
export function formatIp(ip: IpAddress): string {
  if (ip.version === 4) {
    const w = ip.words[0]!;
    return `${w >>> 24}.${(w >>> 16) & 0xff}.${(w >>> 8) & 0xff}.${w & 0xff}`;
  }
  return formatIpv6(ip.words);
}

/**
 * The canonical text of an address written alone, or `undefined` if it is not one.
 *
 * @example canonicalIp('::FFFF:10.0.0.1') // '10.0.0.1'
 */
export function canonicalIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip === undefined ? undefined : formatIp(ip);
}

function maskWords(version: 4 | 6, prefix: number): number[] {
  const mask: number[] = [];
  for (let i = 0; i < (version === 4 ? 1 : 4); i++) {
    const bits = Math.min(32, Math.max(0, prefix - 32 * i));
    mask.push(bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
  }
  return mask;
}

function applyMask(words: readonly number[], mask: readonly number[]): number[] {
  return words.map((word, i) => (word & mask[i]!) >>> 0);
}

/**
 * Parses a CIDR range (`10.0.0.0/8`, `2001:db8::/32`); a bare address is a single host
 * (/32 or /128). A range inside `::ffff:0:0/96` is folded to its IPv4 range, as addresses are.
 *
 * A range with host bits set (`10.0.0.1/8`) is refused rather than silently widened: in a
 * trust list, a typo that trusts a whole /8 must be seen.
 *
 * @param field the config path named in the error, e.g. `trustProxy[2]`.
 * @throws TypeError starting with `field` when `text` is not a valid range.
 * @example parseCidr('2001:db8::/32') // { version: 6, prefix: 32, ... }
 */
export function parseCidr(text: string, field = 'cidr'): Cidr {
  if (typeof text !== 'string') {
    throw new TypeError(`${field}: expected a CIDR string like "10.0.0.0/8", got ${typeof text}`);
  }
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const v6Words = addressText.includes(':') ? parseIpv6Words(addressText) : undefined;
  const v4Word = v6Words === undefined ? parseIpv4Word(addressText) : undefined;
  if (v6Words === undefined && v4Word === undefined) {
    throw new TypeError(
      `${field}: ${JSON.stringify(text)} is not an IPv4 or IPv6 address or CIDR range (no zone ids, no leading zeros)`,
    );
  }
  // The mask counts bits of the address as written: an IPv4-mapped range has 128 of them.
  let version: 4 | 6 = v6Words === undefined ? 4 : 6;
  let words: readonly number[] = v6Words ?? [v4Word!];
  const maxPrefix = version === 4 ? 32 : 128;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const maskText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(maskText) || Number(maskText) > maxPrefix) {
      throw new TypeError(
        `${field}: ${JSON.stringify(text)} has an invalid mask; IPv${version} masks are whole numbers from 0 to ${maxPrefix}`,
      );
    }
    prefix = Number(maskText);
  }
  if (version === 6 && prefix >= 96 && isIpv4Mapped(words)) {
    version = 4;
    words = [words[3]!];
    prefix -= 96;
  }
  const mask = maskWords(version, prefix);
  const network = applyMask(words, mask);
  if (network.some((word, i) => word !== words[i])) {
    const fixed = formatCidr({ version, prefix, network, mask });
    throw new TypeError(`${field}: ${JSON.stringify(text)} has host bits set; did you mean ${fixed}?`);
  }
  return { version, prefix, network, mask };
}

/**
 * The canonical text of a range, e.g. `2001:db8::/32`.
 * @example formatCidr(parseCidr('10.0.0.0/8')) // '10.0.0.0/8'
 */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ version: cidr.version, words: cidr.network })}/${cidr.prefix}`;
}

/**
 * Is `ip` inside `cidr`? A string that is not an address is in no range. IPv4-mapped
 * addresses are folded first, so `::ffff:10.1.2.3` is inside `10.0.0.0/8`.
 *
 * @example cidrContains(parseCidr('10.0.0.0/8'), '10.1.2.3') // true
 */
export function cidrContains(cidr: Cidr, ip: IpAddress | string): boolean {
  const address = typeof ip === 'string' ? parseIp(ip) : ip;
  if (address === undefined || address.version !== cidr.version) return false;
  for (let i = 0; i < cidr.network.length; i++) {
    if ((address.words[i]! & cidr.mask[i]!) >>> 0 !== cidr.network[i]) return false;
  }
  return true;
}

/**
 * Expands keywords and parses every entry of a range list, throwing on the first bad one.
 * @param field the config path of the list; entries are named `field[i]`.
 */
export function parseCidrList(entries: readonly string[], field = 'cidrs'): Cidr[] {
  if (!Array.isArray(entries)) {
    throw new TypeError(`${field}: expected an array of CIDR ranges or keywords`);
  }
  const ranges: Cidr[] = [];
  entries.forEach((entry, i) => {
    const keyword =
      typeof entry === 'string' && Object.hasOwn(IP_KEYWORDS, entry) ? IP_KEYWORDS[entry] : undefined;
    if (keyword !== undefined) {
      for (const range of keyword) ranges.push(parseCidr(range, `${field}[${i}]`));
    } else if (typeof entry === 'string' && /^[a-z_-]+$/i.test(entry)) {
      const keywords = Object.keys(IP_KEYWORDS).join(', ');
      throw new TypeError(
        `${field}[${i}]: unknown keyword ${JSON.stringify(entry)}; keywords are ${keywords}`,
      );
    } else {
      ranges.push(parseCidr(entry, `${field}[${i}]`));
    }
  });
  return ranges;
}

/**
 * Compiles CIDR ranges and keywords (`'loopback'`, `'private'`, `'linklocal'`, see
 * {@link IP_KEYWORDS}) into a matcher that runs per request: the ranges are packed into typed
 * arrays once, and a lookup is a handful of integer comparisons.
 *
 * `::/0` does not match IPv4 clients (mapped addresses are folded to IPv4); list
 * `0.0.0.0/0` too if that is what you mean.
 *
 * @param field the config path named in errors, e.g. `trustProxy`.
 * @throws TypeError `field[i]: …` naming the first bad entry.
 * @example
 * const isTrusted = createIpMatcher(['loopback', '10.0.0.0/8']);
 * isTrusted('::ffff:10.0.0.7') // true
 */
export function createIpMatcher(cidrs: readonly string[], field = 'cidrs'): IpMatcher {
  const ranges = parseCidrList(cidrs, field);
  const v4 = ranges.filter((r) => r.version === 4);
  const v6 = ranges.filter((r) => r.version === 6);
  // Pairs of (network, mask) words, packed so a lookup touches one contiguous buffer.
  const v4Table = new Uint32Array(v4.flatMap((r) => [r.network[0]!, r.mask[0]!]));
  const v6Table = new Uint32Array(v6.flatMap((r) => [...r.network, ...r.mask]));
  return (ip) => {
    const address = typeof ip === 'string' ? parseIp(ip) : ip;
    if (address === undefined) return false;
    const w = address.words;
    if (address.version === 4) {
      const w0 = w[0]!;
      for (let i = 0; i < v4Table.length; i += 2) {
        if ((w0 & v4Table[i + 1]!) >>> 0 === v4Table[i]) return true;
      }
      return false;
    }
    const w0 = w[0]!;
    const w1 = w[1]!;
    const w2 = w[2]!;
    const w3 = w[3]!;
    for (let i = 0; i < v6Table.length; i += 8) {
      if (
        (w0 & v6Table[i + 4]!) >>> 0 === v6Table[i] &&
        (w1 & v6Table[i + 5]!) >>> 0 === v6Table[i + 1] &&
        (w2 & v6Table[i + 6]!) >>> 0 === v6Table[i + 2] &&
        (w3 & v6Table[i + 7]!) >>> 0 === v6Table[i + 3]
      ) {
        return true;
      }
    }
    return false;
  };
}

/**
 * The rate-limit key of a client address: an IPv4 address as is, an IPv6 address masked to
 * its network (default /64) and written with the prefix, e.g. `2001:db8:1:2::/64`. Text that
 * is not an address (a Unix-socket peer) is its own key, unchanged.
 *
 * @throws TypeError `ipKey.ipv6Prefix: …` when the prefix is not a whole number in 32–128.
 * @example
 * ipKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd') // '2001:db8:1:2::/64'
 * ipKey('::ffff:192.0.2.1')                 // '192.0.2.1'
 */
export function ipKey(ip: IpAddress | string, options: IpKeyOptions = {}): string {
  const ipv6Prefix = options.ipv6Prefix ?? IP_KEY_DEFAULTS.ipv6Prefix;
  if (!Number.isInteger(ipv6Prefix) || ipv6Prefix < IPV6_KEY_PREFIX_MIN || ipv6Prefix > IPV6_KEY_PREFIX_MAX) {
    throw new TypeError(
      `ipKey.ipv6Prefix: expected a whole number from ${IPV6_KEY_PREFIX_MIN} to ${IPV6_KEY_PREFIX_MAX}, got ${JSON.stringify(ipv6Prefix)}`,
    );
  }
  const address = typeof ip === 'string' ? parseIp(ip) : ip;
  if (address === undefined) return ip as string;
  if (address.version === 4) return formatIp(address);
  const network = applyMask(address.words, maskWords(6, ipv6Prefix));
  return `${formatIpv6(network)}/${ipv6Prefix}`;
}
