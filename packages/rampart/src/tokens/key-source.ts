/**
 * Where a trusted issuer's public keys come from: a contract of four members, a static JWKS
 * given in configuration (here) and a remote one fetched from the issuer (`remote-jwks.ts`).
 *
 * A key is chosen by `kid` and the token's (already pinned) `alg` through jose's
 * `createLocalJWKSet`, which holds the rules that matter: the JWK's `kty` and `crv` must fit the
 * algorithm, `use` must be `sig` when present, `key_ops` must include `verify`, a JWK's own
 * `alg` must equal the token's, a symmetric algorithm (`HS*`) is never served from a JWKS, and
 * an imported key must be public. Rampart adds one rule: the `kid` must be present in the set,
 * so a kid-less token never gets "the only key that fits".
 */
import { type CryptoKey, createLocalJWKSet, errors, type JSONWebKeySet, type JWK } from 'jose';

/** Why no key was found for a token. */
export type KeyLookupFailure = 'UNKNOWN_KID' | 'KEYS_UNAVAILABLE' | 'UNSUPPORTED_ALG';

export type KeyLookup = { ok: true; key: CryptoKey } | { ok: false; code: KeyLookupFailure };

/** Why the last key-set fetch failed (`health().lastFailure`). */
export type KeySetFailure =
  | 'TIMEOUT'
  | 'NETWORK'
  | 'HTTP_STATUS'
  | 'TOO_LARGE'
  | 'NOT_JSON'
  | 'BAD_JWKS'
  | 'BAD_DISCOVERY'
  | 'ISSUER_MISMATCH';

/** What an operator needs to see of one issuer's keys (for `/readyz`, metrics and logs). */
export interface KeySetHealth {
  /** The JWKS URL, once known (discovery finds it on the first fetch). Absent for a static set. */
  jwksUri?: string;
  /** The `kid`s held now. */
  kids: readonly string[];
  /** The last successful fetch, ms since the epoch. */
  fetchedAt?: number;
  /** The last fetch attempt, ms since the epoch. */
  attemptedAt?: number;
  /** Why the last attempt failed; absent when it succeeded or none was made. */
  lastFailure?: KeySetFailure;
  /** Fetch attempts made (discovery and JWKS together). */
  attempts: number;
}

/** One issuer's keys. Implementations never throw from `key`: a missing key is a value. */
export interface KeySource {
  /** The key for `kid` and `alg` (the alg already checked against the issuer's list). */
  key(kid: string, alg: string): Promise<KeyLookup>;
  /** Whether `kid` is in the set held now, without fetching (a cache entry lives only while its key does). */
  has(kid: string): boolean;
  /** Fetches now, whatever the cooldown, sharing a fetch already in flight; answers whether it succeeded. */
  refresh(): Promise<boolean>;
  health(): KeySetHealth;
}

/** A JWKS imported for lookups: jose's selector plus the kids it holds. */
export interface HeldKeySet {
  readonly select: ReturnType<typeof createLocalJWKSet>;
  readonly kids: ReadonlySet<string>;
}

/** Members only a private or symmetric key has (RFC 7518 §6): a JWKS holding one is refused whole. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const MAX_KID_LENGTH = 256;
const MAX_KEYS = 100;

/**
 * Checks a JWKS document and prepares it for lookups; answers why it is unusable otherwise.
 * Keys without a usable `kid` are kept out (no token can name them).
 */
export function holdKeySet(jwks: unknown): HeldKeySet | string {
  if (jwks === null || typeof jwks !== 'object' || !Array.isArray((jwks as JSONWebKeySet).keys)) {
    return 'expected a JWKS document { keys: [...] }';
  }
  const all = (jwks as JSONWebKeySet).keys as unknown[];
  if (all.length > MAX_KEYS) return `more than ${MAX_KEYS} keys`;
  const keys: JWK[] = [];
  const kids = new Set<string>();
  for (const [index, jwk] of all.entries()) {
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return `keys[${index}]: not an object`;
    for (const member of PRIVATE_MEMBERS) {
      // Holding another party's signing secret is a leak to report, and `k` would be a shared key.
      if (Object.hasOwn(jwk, member)) return `keys[${index}].${member}: a private or symmetric key member`;
    }
    const { kid } = jwk as JWK;
    if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH) continue;
    keys.push(jwk as JWK);
    kids.add(kid);
  }
  try {
    return { select: createLocalJWKSet({ keys }), kids };
  } catch {
    return 'not a JWKS document jose accepts';
  }
}

/** Looks `kid` up in a held set; `undefined` when the kid is not in it. */
export async function lookUp(held: HeldKeySet, kid: string, alg: string): Promise<KeyLookup | undefined> {
  if (!held.kids.has(kid)) return undefined;
  try {
    return { ok: true, key: await held.select({ alg, kid }) };
  } catch (error) {
    // The kid exists but its key is not of this algorithm's type, or the algorithm is one a
    // JWKS never serves (HS*): an RS256 key never verifies an HS256 token (RFC 8725 §2.1).
    if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JOSENotSupported) {
      return { ok: false, code: 'UNSUPPORTED_ALG' };
    }
    // Two keys share the kid (ambiguous), or the published key does not import: no key.
    return { ok: false, code: 'UNKNOWN_KID' };
  }
}

/**
 * A key source over a JWKS given in configuration: nothing is ever fetched.
 * @throws TypeError naming `field` when the document is not a public JWKS.
 * @example
 * const keys = createStaticKeySource({ keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid: 'k1', alg: 'EdDSA' }] }, 'issuers[1].jwks');
 */
export function createStaticKeySource(jwks: unknown, field: string): KeySource {
  const held = holdKeySet(jwks);
  if (typeof held === 'string') throw new TypeError(`${field}: ${held}`);
  if (held.kids.size === 0) throw new TypeError(`${field}: no key with a kid (tokens name their key by kid)`);
  const kids = Object.freeze([...held.kids]);
  return {
    key: async (kid, alg) => (await lookUp(held, kid, alg)) ?? { ok: false, code: 'UNKNOWN_KID' },
    has: (kid) => held.kids.has(kid),
    refresh: async () => true,
    health: () => ({ kids, attempts: 0 }),
  };
}
