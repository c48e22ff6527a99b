/**
 * Address lists: who is never limited, who is always refused, and which routes answer only
 * some networks. Static entries come from the options (checked once, the field named);
 * dynamic entries are set at run time (an admin plane, a store shared by several instances)
 * and replaced as a whole or one at a time.
 *
 * The order of the checks, and why:
 * 1. `deny`: an address or network on the deny list is refused on the routes of the entry,
 *    whatever else says (an explicit refusal outranks an exemption).
 * 2. `restrict`: a route restricted to some networks refuses every other address (for
 *    example the admin plane only from `10.0.0.0/8`), so a stolen admin key is useless from
 *    outside.
 * 3. `allow`: an address on the allow list is never counted nor refused by a limit (a health
 *    checker, a partner's egress), on the routes of the entry.
 */
import { type Cidr, cidrContains, formatCidr, parseCidr, parseIp } from '../lib/ip.ts';
import { compileRoutes } from './rules.ts';

/** One entry of the allow or deny list. */
export interface AddressListEntry {
  /** An address (`203.0.113.7`, `2001:db8::1`) or a network (`10.0.0.0/8`). */
  cidr: string;
  /** The routes it applies to (`'POST /v1/auth/login'`, `'/v1/admin/*'`); default every route. */
  routes?: string | readonly string[];
}

/** A dynamic entry: an entry with its own id, and optionally an end. */
export interface DynamicAddressEntry extends AddressListEntry {
  /** The caller's id for it (to remove it). */
  id: string;
  list: 'allow' | 'deny';
  /** When it stops applying, epoch ms; absent for never. */
  expiresAt?: number | null;
}

/** A route restricted to some networks. */
export interface AddressRestriction {
  routes: string | readonly string[];
  /** The addresses and networks that may call them. */
  from: readonly string[];
}

/** Options of {@link createAddressLists}. */
export interface AddressListsOptions {
  allow?: ReadonlyArray<string | AddressListEntry>;
  deny?: ReadonlyArray<string | AddressListEntry>;
  restrict?: readonly AddressRestriction[];
}

/** What the lists say of one request. */
export type AddressVerdict =
  | { action: 'deny'; reason: 'denied' | 'restricted' }
  | { action: 'allow' }
  | { action: 'none' };

export interface AddressLists {
  /** The verdict for a client address on a route (upper-case method, route pattern) at `now`. */
  decide(ip: string, method: string, route: string, now: number): AddressVerdict;
  /** Replaces every dynamic entry (a reload from shared storage). */
  replace(entries: readonly DynamicAddressEntry[]): void;
  /** Adds or replaces one dynamic entry (by id). */
  put(entry: DynamicAddressEntry): void;
  /** Removes one dynamic entry; false when there was none. */
  remove(id: string): boolean;
  /** The static entries (as given) and the live dynamic ones. */
  entries(now: number): {
    allow: AddressListEntry[];
    deny: AddressListEntry[];
    restrict: AddressRestriction[];
    dynamic: DynamicAddressEntry[];
  };
  /** True when no list has any entry (the steps skip the checks then). */
  readonly empty: boolean;
}

interface Compiled {
  cidr: Cidr;
  matches: (method: string, route: string) => boolean;
}

function compileEntry(entry: unknown, field: string): Compiled {
  const given = typeof entry === 'string' ? { cidr: entry } : entry;
  if (typeof given !== 'object' || given === null) {
    throw new TypeError(`${field}: expected an address, a CIDR or { cidr, routes }`);
  }
  const { cidr, routes, ...rest } = given as AddressListEntry & Record<string, unknown>;
  for (const key of Object.keys(rest)) throw new TypeError(`${field}.${key}: unknown option`);
  if (typeof cidr !== 'string') throw new TypeError(`${field}.cidr: expected an address or a CIDR`);
  return {
    cidr: parseAddressOrCidr(cidr, `${field}.cidr`),
    matches: compileRoutes(routes, `${field}.routes`),
  };
}

/** A dynamic entry's address and routes (its other fields are the caller's: id, list, notes). */
function compileDynamic(entry: DynamicAddressEntry, field: string): Compiled {
  if (entry.list !== 'allow' && entry.list !== 'deny')
    throw new TypeError(`${field}.list: expected 'allow' or 'deny'`);
  return compileEntry(
    { cidr: entry.cidr, ...(entry.routes !== undefined ? { routes: entry.routes } : {}) },
    field,
  );
}

/**
 * An address or a network, canonical (`10.0.0.1` → `10.0.0.1/32`).
 * @throws TypeError naming `field` when it is neither.
 */
export function parseAddressOrCidr(text: string, field = 'cidr'): Cidr {
  return parseCidr(text, field);
}

/** The canonical text of an address or network (`10.0.0.0/8`, `2001:db8::/32`). */
export function canonicalCidr(text: string): string {
  return formatCidr(parseAddressOrCidr(text));
}

function list(value: unknown, field: string): Compiled[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`${field}: expected an array of addresses or CIDRs`);
  return value.map((entry, i) => compileEntry(entry, `${field}[${i}]`));
}

/**
 * Builds the address lists of a policy.
 *
 * @throws TypeError naming the entry (`rateLimit.deny[2].cidr`) that is wrong.
 * @example
 * const lists = createAddressLists({ allow: ['10.1.2.3'], restrict: [{ routes: '/v1/admin/*', from: ['10.0.0.0/8'] }] });
 * lists.decide('203.0.113.9', 'GET', '/v1/admin/rate-limits', Date.now()); // { action: 'deny', reason: 'restricted' }
 */
export function createAddressLists(options: AddressListsOptions = {}, field = 'rateLimit'): AddressLists {
  const allow = list(options.allow, `${field}.allow`);
  const deny = list(options.deny, `${field}.deny`);
  if (options.restrict !== undefined && !Array.isArray(options.restrict)) {
    throw new TypeError(`${field}.restrict: expected an array of { routes, from }`);
  }
  const restrict = (options.restrict ?? []).map((r, i) => {
    const at = `${field}.restrict[${i}]`;
    if (typeof r !== 'object' || r === null) throw new TypeError(`${at}: expected { routes, from }`);
    if (r.routes === undefined) throw new TypeError(`${at}.routes: expected a route or routes`);
    if (!Array.isArray(r.from) || r.from.length === 0) {
      throw new TypeError(`${at}.from: expected a non-empty array of addresses or CIDRs`);
    }
    return {
      matches: compileRoutes(r.routes, `${at}.routes`),
      from: (r.from as readonly string[]).map((c: string, j: number) =>
        parseAddressOrCidr(c, `${at}.from[${j}]`),
      ),
    };
  });
  const dynamic = new Map<string, { entry: DynamicAddressEntry; compiled: Compiled }>();

  const hit = (entries: Iterable<Compiled>, ip: string, method: string, route: string) => {
    for (const e of entries) if (e.matches(method, route) && cidrContains(e.cidr, ip)) return true;
    return false;
  };
  function* live(which: 'allow' | 'deny', now: number): Iterable<Compiled> {
    for (const { entry, compiled } of dynamic.values()) {
      if (entry.list === which && (entry.expiresAt == null || entry.expiresAt > now)) yield compiled;
    }
  }

  return {
    decide(ip, method, route, now) {
      if (allow.length + deny.length + restrict.length + dynamic.size === 0) return { action: 'none' };
      const address = parseIp(ip);
      // No parsable address (a Unix socket): no list can name it; restricted routes refuse it.
      if (address === undefined) {
        return restrict.some((r) => r.matches(method, route))
          ? { action: 'deny', reason: 'restricted' }
          : { action: 'none' };
      }
      if (hit(deny, ip, method, route) || hit(live('deny', now), ip, method, route)) {
        return { action: 'deny', reason: 'denied' };
      }
      for (const r of restrict) {
        if (r.matches(method, route) && !r.from.some((c) => cidrContains(c, address))) {
          return { action: 'deny', reason: 'restricted' };
        }
      }
      if (hit(allow, ip, method, route) || hit(live('allow', now), ip, method, route))
        return { action: 'allow' };
      return { action: 'none' };
    },
    replace(entries) {
      const next = new Map<string, { entry: DynamicAddressEntry; compiled: Compiled }>();
      entries.forEach((entry, i) => {
        next.set(entry.id, { entry, compiled: compileDynamic(entry, `entries[${i}]`) });
      });
      dynamic.clear();
      for (const [id, value] of next) dynamic.set(id, value);
    },
    put(entry) {
      dynamic.set(entry.id, { entry, compiled: compileDynamic(entry, 'entry') });
    },
    remove(id) {
      return dynamic.delete(id);
    },
    entries(now) {
      const show = (entries: ReadonlyArray<string | AddressListEntry> | undefined) =>
        (entries ?? []).map((e) => (typeof e === 'string' ? { cidr: e } : { ...e }));
      return {
        allow: show(options.allow),
        deny: show(options.deny),
        restrict: (options.restrict ?? []).map((r) => ({ routes: r.routes, from: [...r.from] })),
        dynamic: [...dynamic.values()]
          .map((d) => d.entry)
          .filter((e) => e.expiresAt == null || e.expiresAt > now)
          .map((e) => ({ ...e })),
      };
    },
    get empty() {
      return allow.length + deny.length + restrict.length + dynamic.size === 0;
    },
  };
}
