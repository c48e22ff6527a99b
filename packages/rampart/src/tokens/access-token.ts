/**
 * Access tokens: JWTs in the RFC 9068 profile, issued and verified with jose, done to the
 * JWT Best Current Practices (RFC 8725).
 *
 * The verifier refuses before any cryptography what RFC 8725 §2 lists as attacks: it pins the
 * algorithms from configuration (never from the token, §3.1), ties each `kid` to the one
 * algorithm its key was made for (no RS256→HS256 confusion, §2.1), refuses `none` in any
 * casing, refuses headers that would make a verifier fetch or trust a key the token names
 * (`jku`, `x5u`, `x5c`, `jwk`) and any `crit`, refuses JWE (five parts) and tokens over a size
 * cap, and checks `typ` exactly (§3.11, RFC 9068 §4) so that no other kind of JWT is taken
 * for an access token. Nothing a token names is ever fetched.
 *
 * Denials are values (`{ ok: false, code }`): the HTTP layer maps every code to 401
 * `invalid_token` (RFC 6750 §3.1); the code goes to the security log, never the token.
 */
import { errors, jwtVerify, SignJWT } from 'jose';
import { randomBase62 } from '../lib/ids.ts';
import type { Awaitable, Clock } from '../lib/types.ts';
import {
  BASE64URL,
  cacheOption,
  clockOption,
  decodeJsonObject,
  intOption,
  MAX_KID_LENGTH,
  normaliseTyp,
} from './jws.ts';
import { type KeyRing, SIGNING_ALGORITHMS, type SigningAlgorithm } from './signing-keys.ts';

/** The `typ` header of an access token (RFC 9068 §2.1). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** Why a token was refused. Stable: these go to logs and metrics. */
export type AccessTokenFailure =
  | 'MALFORMED'
  | 'TOO_LARGE'
  | 'UNSUPPORTED_ALG'
  | 'BAD_SIGNATURE'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'MISSING_CLAIM'
  | 'WRONG_ISSUER'
  | 'WRONG_AUDIENCE'
  | 'WRONG_TYPE'
  | 'UNKNOWN_KID'
  | 'FORBIDDEN_HEADER'
  | 'REVOKED';

/** The claims of a verified access token (RFC 9068 §2.2). Times are seconds since the epoch. */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nbf?: number;
  jti: string;
  /** RFC 9068 §2.2: the client the token was issued to. */
  client_id?: string;
  /** Space-separated scopes (RFC 9068 §2.2.3, RFC 8693 §4.2). */
  scope?: string;
  role?: string;
  [claim: string]: unknown;
}

export type AccessTokenResult =
  | {
      ok: true;
      /** Frozen: the same object may be served again from the cache. */
      claims: Readonly<AccessTokenClaims>;
      /** `scope` split on spaces. */
      scopes: readonly string[];
      /** The key that verified the token. */
      kid: string;
      /** Whether the signature check was skipped because this exact token verified before. */
      cached: boolean;
    }
  | { ok: false; code: AccessTokenFailure };

/** Where the verifier and the issuer get keys: a ring, or a getter (to swap rings after a rotation elsewhere). */
export type KeyRingSource = KeyRing | (() => KeyRing);

export interface AccessTokenIssuerOptions {
  ring: KeyRingSource;
  /** `iss`: the issuer URL. */
  issuer: string;
  /** `aud`: the resource server(s) the tokens are for. */
  audience: string | readonly string[];
  /**
   * `client_id` (RFC 9068 §2.2, required there). Rampart's own login is a first-party
   * client with no OAuth client registration, so the default is the issuer itself.
   */
  clientId?: string;
  /** Default lifetime, ms. Default: the ring's `accessTtlMs`; never longer (a key must outlive its tokens). */
  ttlMs?: number;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: Clock;
}

export interface AccessTokenInput {
  /** The user id. */
  sub: string;
  role: string;
  /** Scope tokens (RFC 6749 §3.3 characters); written as one space-separated `scope` claim. */
  scopes?: readonly string[];
  /** Lifetime of this token, ms; at most the ring's `accessTtlMs`. */
  ttlMs?: number;
  /** `nbf`, ms since the epoch, when the token must not be used before a later time. */
  notBefore?: number;
  /** More claims. They cannot override a registered or profile claim. */
  extra?: Readonly<Record<string, unknown>>;
}

export interface IssuedAccessToken {
  token: string;
  jti: string;
  kid: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** Seconds, for the `expires_in` of a token response (RFC 6749 §5.1). */
  expiresIn: number;
}

export interface AccessTokenIssuer {
  issue(input: AccessTokenInput): Promise<IssuedAccessToken>;
}

export interface AccessTokenVerifierOptions {
  ring: KeyRingSource;
  /** The exact `iss` expected. */
  issuer: string;
  /** The `aud` (or one of them) this resource server answers to. */
  audience: string | readonly string[];
  /** The algorithms accepted, from configuration. A token's own `alg` never widens this list. */
  algorithms: readonly SigningAlgorithm[];
  /** Longest token accepted, bytes. Default 8192. */
  maxTokenBytes?: number;
  /** Clock skew allowed on `exp`, `nbf` and `iat`, seconds. Default 5. */
  clockToleranceSec?: number;
  /**
   * Cache of verified tokens: bounded LRU keyed on the whole token string, an entry never used
   * past its `exp` or once its key left the ring. Memory bound ≈ `max × maxTokenBytes`.
   * Default: no cache.
   */
  cache?: { max: number } | false;
  /**
   * Revocation check, run on every verification (cache hits included) after the signature and
   * claims pass: a `jti` deny-list and a per-user "not before" (`iat` older than the user's
   * last logout-everywhere or password change). An error it throws propagates (a store outage
   * is a 503, not a 401).
   */
  isRevoked?: (claims: Readonly<AccessTokenClaims>) => Awaitable<boolean>;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: Clock;
}

export interface AccessTokenVerifier {
  /** Verifies a token. Never throws for a bad token; only `isRevoked` errors propagate. */
  verify(token: unknown): Promise<AccessTokenResult>;
  /**
   * Whether this exact token verified before and its entry is still good (not past `exp`, key
   * still in the ring). Synchronous and cheap: a caller can skip work meant for unknown
   * credentials (a failed-authentication reservation). Revocation is not checked here.
   */
  isCached(token: string): boolean;
  /**
   * The answer for a token in the cache, at once (revocation checked, when `isRevoked`
   * answers synchronously), or `undefined` when only `verify` can tell. The same answer
   * `verify` gives, without a promise: the hot path of a token used again.
   */
  verifyNow(token: string): AccessTokenResult | undefined;
  /** Drops cached entries of a `jti` (call it on revocation). */
  drop(jti: string): void;
  /** Empties the cache (call it on key revocation or a mass logout). */
  clear(): void;
  /** Entries in the cache now. */
  readonly cacheSize: number;
}

/** Claims the issuer writes; `extra` cannot set them. */
const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'client_id',
  'scope',
  'role',
]);
/** Header parameters that make a verifier fetch or trust key material named by the token (RFC 8725 §3.10). */
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'x5c', 'jwk', 'crit'] as const;
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Creates the access-token issuer.
 * @throws TypeError naming the field when an option is invalid.
 * @example
 * const issuer = createAccessTokenIssuer({ ring, issuer: 'https://auth.example.com', audience: 'https://api.example.com' });
 * const { token, expiresIn } = await issuer.issue({ sub: user.id, role: user.role, scopes: ['keys:read'] });
 */
export function createAccessTokenIssuer(options: AccessTokenIssuerOptions): AccessTokenIssuer {
  if (options === null || typeof options !== 'object') throw new TypeError('(options): expected an object');
  const getRing = ringSource(options.ring);
  const issuer = nonEmptyString(options.issuer, 'issuer');
  const audience = audienceOption(options.audience);
  const clientId = options.clientId === undefined ? issuer : nonEmptyString(options.clientId, 'clientId');
  const defaultTtlMs = options.ttlMs === undefined ? undefined : ttlOption(options.ttlMs, 'ttlMs');
  const now = clockOption(options.now);
  const aud = audience.length === 1 ? audience[0]! : [...audience];

  return {
    async issue(input) {
      if (input === null || typeof input !== 'object') throw new TypeError('input: expected an object');
      const ring = getRing();
      const sub = nonEmptyString(input.sub, 'sub');
      const role = nonEmptyString(input.role, 'role');
      const scopes = scopesInput(input.scopes);
      const ttlMs =
        input.ttlMs === undefined ? (defaultTtlMs ?? ring.accessTtlMs) : ttlOption(input.ttlMs, 'ttlMs');
      if (ttlMs > ring.accessTtlMs) {
        // The ring keeps a retired key only accessTtlMs: a longer-lived token would outlive its key.
        throw new TypeError(`ttlMs: at most the key ring's accessTtlMs (${ring.accessTtlMs})`);
      }
      const extra = extraClaims(input.extra);
      const nowMs = now();
      const iat = Math.floor(nowMs / 1000);
      const exp = Math.floor((nowMs + ttlMs) / 1000);
      const jti = randomBase62(22);
      const claims: Record<string, unknown> = { ...extra, iss: issuer, sub, aud, exp, iat };
      if (input.notBefore !== undefined) {
        if (!Number.isFinite(input.notBefore)) throw new TypeError('notBefore: expected ms since the epoch');
        claims.nbf = Math.floor(input.notBefore / 1000);
      }
      Object.assign(claims, { jti, client_id: clientId });
      if (scopes.length > 0) claims.scope = scopes.join(' ');
      claims.role = role;
      const { signingKey } = ring;
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: signingKey.alg, typ: ACCESS_TOKEN_TYPE, kid: signingKey.kid })
        .sign(signingKey.key);
      return { token, jti, kid: signingKey.kid, expiresAt: exp * 1000, expiresIn: exp - iat };
    },
  };
}

/**
 * Creates the access-token verifier.
 * @throws TypeError naming the field when an option is invalid (for example `algorithms`
 * empty, containing `none`, or missing the ring's signing algorithm).
 * @example
 * const verifier = createAccessTokenVerifier({ ring, issuer, audience, algorithms: ['EdDSA'], cache: { max: 10_000 } });
 * const result = await verifier.verify(bearer);
 * if (!result.ok) return deny(401, result.code);
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  if (options === null || typeof options !== 'object') throw new TypeError('(options): expected an object');
  const getRing = ringSource(options.ring);
  const issuer = nonEmptyString(options.issuer, 'issuer');
  const audience = audienceOption(options.audience);
  const algorithms = algorithmsOption(options.algorithms);
  if (typeof options.ring !== 'function' && !algorithms.has(options.ring.signingKey.alg)) {
    throw new TypeError(
      `algorithms: does not include the key ring's signing algorithm ${options.ring.signingKey.alg}`,
    );
  }
  const maxTokenBytes = intOption(options.maxTokenBytes, 'maxTokenBytes', 8192, 256, 65_536);
  const clockToleranceSec = intOption(options.clockToleranceSec, 'clockToleranceSec', 5, 0, 300);
  const cacheMax = cacheOption(options.cache);
  const isRevoked = options.isRevoked;
  if (isRevoked !== undefined && typeof isRevoked !== 'function')
    throw new TypeError('isRevoked: expected a function');
  const now = clockOption(options.now);

  const joseOptions = {
    issuer,
    audience: [...audience],
    typ: ACCESS_TOKEN_TYPE,
    requiredClaims: ['exp', 'iat', 'sub', 'jti'],
    clockTolerance: clockToleranceSec,
  };
  const cache = new Map<string, CacheEntry>();
  // Most recently used goes last. Only once the cache is half full: before, nothing can be
  // evicted, and moving an entry costs two map operations on a long key per request.
  const touch = (token: string, entry: CacheEntry) => {
    if (cache.size <= cacheMax / 2) return;
    cache.delete(token);
    cache.set(token, entry);
  };
  // Set once `isRevoked` answered with a promise: verifyNow() then leaves hits to verify().
  let revocationWaits = false;
  const inFlight = new Map<string, ReturnType<typeof verifyFully>>();

  async function accept(entry: CacheEntry, cached: boolean): Promise<AccessTokenResult> {
    if (isRevoked && (await isRevoked(entry.claims))) return { ok: false, code: 'REVOKED' };
    return { ok: true, claims: entry.claims, scopes: entry.scopes, kid: entry.kid, cached };
  }

  async function verifyFully(token: string, nowMs: number): Promise<CacheEntry | AccessTokenFailure> {
    const parts = token.split('.');
    // Compact JWS only: a five-part JWE (or anything else) never reaches a decrypt path.
    if (parts.length !== 3) return 'MALFORMED';
    const [encodedHeader, encodedPayload, signature] = parts as [string, string, string];
    if (encodedHeader === '' || encodedPayload === '') return 'MALFORMED';
    if (!BASE64URL.test(encodedHeader) || !BASE64URL.test(encodedPayload) || !BASE64URL.test(signature)) {
      return 'MALFORMED';
    }
    const header = decodeJsonObject(encodedHeader);
    if (header === undefined) return 'MALFORMED';
    for (const name of FORBIDDEN_HEADERS) {
      if (Object.hasOwn(header, name)) return 'FORBIDDEN_HEADER';
    }
    const { alg, typ, kid } = header;
    if (typeof alg !== 'string') return 'MALFORMED';
    // `none` in any casing, and anything not pinned by configuration (RFC 8725 §3.1).
    if (!algorithms.has(alg as SigningAlgorithm)) return 'UNSUPPORTED_ALG';
    if (typeof typ !== 'string' || normaliseTyp(typ) !== 'application/at+jwt') return 'WRONG_TYPE';
    if (typeof kid !== 'string' || kid.length > MAX_KID_LENGTH) return 'UNKNOWN_KID';
    const key = getRing().verificationKey(kid);
    if (!key) return 'UNKNOWN_KID';
    // A key verifies only the algorithm it was made for: an HS256 token naming an RSA or
    // Ed25519 key's kid is refused here, even when both algorithms are pinned (RFC 8725 §2.1).
    if (key.alg !== alg) return 'UNSUPPORTED_ALG';
    if (signature === '') return 'BAD_SIGNATURE';

    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key.key, {
        ...joseOptions,
        algorithms: [key.alg],
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      return failureOf(error);
    }
    // jose checks `iat` only with maxTokenAge: a token "issued" in the future is not valid yet.
    if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number') return 'MALFORMED';
    if (payload.iat > Math.floor(nowMs / 1000) + clockToleranceSec) return 'NOT_YET_VALID';
    const { sub, jti, scope, role, client_id: clientId } = payload;
    if (typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || jti === '') return 'MALFORMED';
    if (!optionalString(scope) || !optionalString(role) || !optionalString(clientId)) return 'MALFORMED';
    if (Array.isArray(payload.aud)) Object.freeze(payload.aud);
    const claims = Object.freeze(payload) as Readonly<AccessTokenClaims>;
    const scopes = Object.freeze(typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : []);
    return { claims, scopes, kid: key.kid, expMs: payload.exp * 1000 };
  }

  return {
    async verify(token) {
      if (typeof token !== 'string') return { ok: false, code: 'MALFORMED' };
      // The cap comes first: nothing is split, decoded or looked up for an oversized token.
      if (token.length > maxTokenBytes) return { ok: false, code: 'TOO_LARGE' };
      const nowMs = now();
      if (cacheMax > 0) {
        const hit = cache.get(token);
        if (hit) {
          // Never past exp, and never once the key that verified it has left the ring.
          if (nowMs < hit.expMs && getRing().verificationKey(hit.kid) !== undefined) {
            // The entry stays in place while revocation is checked: removing it first would
            // send every concurrent request with this token to a full verification.
            const result = await accept(hit, true);
            // A revoked token leaves the cache.
            if (result.ok) touch(token, hit);
            else cache.delete(token);
            return result;
          }
          cache.delete(token);
        }
      }
      // Concurrent first uses of one token share one signature check.
      let pending = inFlight.get(token);
      if (pending === undefined) {
        pending = verifyFully(token, nowMs);
        inFlight.set(token, pending);
        void pending.finally(() => inFlight.delete(token)).catch(() => {});
      }
      const outcome = await pending;
      if (typeof outcome === 'string') return { ok: false, code: outcome };
      const result = await accept(outcome, false);
      if (result.ok && cacheMax > 0) {
        cache.set(token, outcome);
        if (cache.size > cacheMax) cache.delete(cache.keys().next().value!);
      }
      return result;
    },
    verifyNow(token) {
      if (cacheMax === 0 || typeof token !== 'string' || token.length > maxTokenBytes) return undefined;
      const hit = cache.get(token);
      // Anything but a good entry (expired, key gone) is verify()'s to handle and evict.
      if (hit === undefined || !(now() < hit.expMs && getRing().verificationKey(hit.kid) !== undefined))
        return undefined;
      if (isRevoked !== undefined && !revocationWaits) {
        const revoked = isRevoked(hit.claims);
        if (revoked instanceof Promise) {
          // This check waits on a store: leave cache hits to verify() from now on.
          revocationWaits = true;
          revoked.catch(() => {});
          return undefined;
        }
        if (revoked) {
          cache.delete(token);
          return { ok: false, code: 'REVOKED' };
        }
      } else if (isRevoked !== undefined) return undefined;
      touch(token, hit);
      return { ok: true, claims: hit.claims, scopes: hit.scopes, kid: hit.kid, cached: true };
    },
    isCached(token) {
      const hit = cacheMax > 0 ? cache.get(token) : undefined;
      return hit !== undefined && now() < hit.expMs && getRing().verificationKey(hit.kid) !== undefined;
    },
    drop(jti) {
      for (const [token, entry] of cache) {
        if (entry.claims.jti === jti) cache.delete(token);
      }
    },
    clear() {
      cache.clear();
    },
    get cacheSize() {
      return cache.size;
    },
  };
}

interface CacheEntry {
  claims: Readonly<AccessTokenClaims>;
  scopes: readonly string[];
  kid: string;
  expMs: number;
}

function failureOf(error: unknown): AccessTokenFailure {
  if (error instanceof errors.JWTExpired) return 'EXPIRED';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return 'MISSING_CLAIM';
    // A claim of the wrong type ('invalid') is malformed; only a failed check has a meaning.
    if (error.reason !== 'check_failed') return 'MALFORMED';
    switch (error.claim) {
      case 'nbf':
      case 'iat':
        return 'NOT_YET_VALID';
      case 'iss':
        return 'WRONG_ISSUER';
      case 'aud':
        return 'WRONG_AUDIENCE';
      case 'typ':
        return 'WRONG_TYPE';
      default:
        return 'MALFORMED';
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'BAD_SIGNATURE';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'UNSUPPORTED_ALG';
  // JWSInvalid, JWTInvalid (bad JSON, bad base64url, a claim of the wrong type) and anything
  // unexpected: refused, never thrown.
  return 'MALFORMED';
}

function optionalString(value: unknown): boolean {
  return value === undefined || typeof value === 'string';
}

function ringSource(ring: KeyRingSource): () => KeyRing {
  if (typeof ring === 'function') return ring;
  if (
    ring === null ||
    typeof ring !== 'object' ||
    typeof ring.verificationKey !== 'function' ||
    !ring.signingKey
  ) {
    throw new TypeError('ring: expected a key ring (createKeyRing) or a function returning one');
  }
  return () => ring;
}

function nonEmptyString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${field}: expected a non-empty string`);
  return value;
}

function audienceOption(value: unknown): readonly string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  if (list.length === 0 || list.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError('audience: expected a non-empty string or a non-empty list of them');
  }
  return Object.freeze([...list]);
}

function algorithmsOption(value: unknown): ReadonlySet<SigningAlgorithm> {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(`algorithms: expected a non-empty list from ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  for (const alg of value) {
    if (!SIGNING_ALGORITHMS.includes(alg)) {
      throw new TypeError(
        `algorithms: ${JSON.stringify(alg)} is not one of ${SIGNING_ALGORITHMS.join(', ')}`,
      );
    }
  }
  return new Set(value);
}

function ttlOption(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1000) {
    throw new TypeError(`${field}: expected an integer number of milliseconds, at least 1000`);
  }
  return value;
}

function scopesInput(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError('scopes: expected a list of scope strings');
  for (const scope of value) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) {
      throw new TypeError('scopes: each scope must be RFC 6749 scope-token characters, without spaces');
    }
  }
  return [...new Set(value as string[])];
}

function extraClaims(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError('extra: expected an object of claims');
  }
  for (const name of Object.keys(value)) {
    if (RESERVED_CLAIMS.has(name) || name === '__proto__') {
      throw new TypeError(`extra.${name}: a reserved claim cannot be set through extra`);
    }
  }
  return { ...value };
}
