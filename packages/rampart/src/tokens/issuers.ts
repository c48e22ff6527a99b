/**
 * Access tokens from outside identity providers (Auth0, Clerk, Cognito, Keycloak, Entra ID,
 * Okta, better-auth): several trusted issuers, each with its own keys (a JWKS URL, an OIDC
 * discovery URL, or a JWKS given in configuration), audience, algorithms, `typ` and claims.
 *
 * The order of refusals, all before any network request and any cryptography, in the spirit of
 * `access-token.ts` (RFC 8725):
 *
 * 1. not a string, or over `maxTokenBytes` → `MALFORMED`, `TOO_LARGE` (nothing is decoded);
 * 2. not three base64url parts (a JWE, junk) → `MALFORMED`;
 * 3. a header that would make us fetch or trust a key the token names (`jku`, `x5u`, `x5c`,
 *    `jwk`) or any `crit` → `FORBIDDEN_HEADER` (RFC 8725 §3.10);
 * 4. `iss`, read from the unverified payload, must be exactly one of the configured issuers →
 *    `UNTRUSTED_ISSUER`. The issuer is chosen by `iss` and never by `kid`: a `kid` is only
 *    looked up in the keys of the issuer the token names, so two providers publishing the same
 *    `kid` cannot verify each other's tokens. An untrusted `iss` costs no request: discovery
 *    is never run for an `iss`, only for the configured discovery URLs;
 * 5. `alg` must be one of that issuer's configured algorithms (never from the token, §3.1;
 *    `none` and `HS*` cannot be configured) → `UNSUPPORTED_ALG`;
 * 6. `typ` must be the issuer's expected type (RFC 9068 `at+jwt` by default, §3.11) →
 *    `WRONG_TYPE`;
 * 7. a `kid` is required (≤ 256 characters) and an empty signature is refused → `UNKNOWN_KID`,
 *    `BAD_SIGNATURE`.
 *
 * Then the issuer's key for the `kid` (`remote-jwks.ts`: cached, refetched at most once per
 * cooldown; `UNKNOWN_KID` or `KEYS_UNAVAILABLE`), jose's `jwtVerify` (signature; `iss`; `aud`;
 * `exp`, `nbf` with the issuer's clock tolerance; `exp`, `iat`, `sub` and the configured claims
 * required), then `iat` not in the future, the configured exact claim values, and the claim
 * mapping to the principal (`claims.ts`).
 *
 * Denials are values with a stable code; the HTTP layer maps them to 401 `invalid_token`
 * (RFC 6750 §3.1). No code, log line or health report carries the token.
 */
import { errors, jwtVerify } from 'jose';
import { type ExternalPrincipal, mapClaims } from './claims.ts';
import { compileOptions, type Issuer, type IssuerVerifierOptions } from './issuer-options.ts';
import { BASE64URL, decodeJsonObject, MAX_KID_LENGTH, normaliseTyp } from './jws.ts';
import type { KeySetHealth, KeySource } from './key-source.ts';

export type {
  IssuerAlgorithm,
  IssuerVerifierOptions,
  KeyFetchOptions,
  TrustedIssuer,
} from './issuer-options.ts';
export { ISSUER_ALGORITHMS } from './issuer-options.ts';

/** Why a token from an outside issuer was refused. Stable: these go to logs and metrics. */
export type IssuerTokenFailure =
  | 'MALFORMED'
  | 'TOO_LARGE'
  | 'FORBIDDEN_HEADER'
  | 'UNTRUSTED_ISSUER'
  | 'UNSUPPORTED_ALG'
  | 'WRONG_TYPE'
  | 'UNKNOWN_KID'
  /** The issuer's keys could not be fetched (never yet, or the last attempt failed) and the kid is not among those held. */
  | 'KEYS_UNAVAILABLE'
  | 'BAD_SIGNATURE'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'MISSING_CLAIM'
  /** A claim configured in `claimEquals` has another value. */
  | 'WRONG_CLAIM'
  | 'WRONG_AUDIENCE';

/** The claims of a verified token. Times are seconds since the epoch. */
export interface IssuerTokenClaims {
  iss: string;
  sub: string;
  aud?: string | string[];
  exp: number;
  iat: number;
  nbf?: number;
  jti?: string;
  client_id?: string;
  scope?: string;
  [claim: string]: unknown;
}

export type IssuerTokenResult =
  | {
      ok: true;
      /** The trusted issuer that vouched for the token (its `iss`). */
      issuer: string;
      /** Deep-frozen: the same object may be served again from the cache. */
      claims: Readonly<IssuerTokenClaims>;
      /** The principal's scopes (from `scope`, `scp`, `permissions` or as mapped). */
      scopes: readonly string[];
      /** The key that verified the token. */
      kid: string;
      /** Whether the signature check was skipped because this exact token verified before. */
      cached: boolean;
      principal: ExternalPrincipal;
    }
  | { ok: false; code: IssuerTokenFailure };

/** One issuer's keys, as `health()` reports them. */
export interface IssuerHealth extends KeySetHealth {
  issuer: string;
  /** Whether any key is held (a token of this issuer can verify now). */
  ready: boolean;
}

export interface IssuerVerifier {
  /** Verifies a token. Never throws and never hangs past the fetch timeout. */
  verify(token: unknown): Promise<IssuerTokenResult>;
  /** Fetches every remote issuer's keys now (at start, for readiness), and reports. Never throws. */
  warm(): Promise<IssuerHealth[]>;
  /** Each issuer's keys: held kids, last fetch, last failure. */
  health(): IssuerHealth[];
  /** Empties the verification cache. */
  clear(): void;
  /** Entries in the verification cache now. */
  readonly cacheSize: number;
  /**
   * Whether the token names a trusted issuer (its header and unverified payload read, bounded;
   * nothing fetched, no signature checked): a caller with tokens of its own routes by this.
   */
  trusts(token: string): boolean;
  /** Whether this exact token verified before and its entry is still good (cheap, synchronous). */
  isCached(token: string): boolean;
}

type Verified = Extract<IssuerTokenResult, { ok: true }>;

interface CacheEntry {
  result: Verified;
  expMs: number;
  keys: KeySource;
}

/** Header parameters that make a verifier fetch or trust key material named by the token (RFC 8725 §3.10). */
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'x5c', 'jwk', 'crit'] as const;

/**
 * Creates the verifier of tokens from outside identity providers.
 * @throws TypeError naming the field (`issuers[1].jwksUri: …`) when an option is invalid.
 * @example
 * const verifier = createIssuerVerifier({
 *   issuers: [
 *     { issuer: 'https://example.eu.auth0.com/', discoveryUrl: 'https://example.eu.auth0.com/.well-known/openid-configuration',
 *       audience: 'https://api.example.com', typ: 'JWT', claims: { roles: [['https://example.com/roles']] } },
 *     { issuer: 'https://sso.example.com/realms/main', jwksUri: 'https://sso.example.com/realms/main/protocol/openid-connect/certs',
 *       audience: 'orders-api', typ: 'JWT', claims: { roles: [['realm_access', 'roles']] } },
 *   ],
 *   cache: { max: 10_000 },
 * });
 * const result = await verifier.verify(bearer);
 * if (!result.ok) return deny(401, result.code);
 * result.principal // { issuer, subject, scopes, roles, tenant? }
 */
export function createIssuerVerifier(options: IssuerVerifierOptions): IssuerVerifier {
  const { now, maxTokenBytes, cacheMax, byIss } = compileOptions(options);

  const cache = new Map<string, CacheEntry>();
  const inFlight = new Map<string, Promise<Verified | IssuerTokenFailure>>();

  /** Steps 2–7 of the header comment: pure, no network, no cryptography. */
  function inspect(token: string): { issuer: Issuer; kid: string; alg: string } | IssuerTokenFailure {
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
    const payload = decodeJsonObject(encodedPayload);
    if (payload === undefined) return 'MALFORMED';
    if (!Object.hasOwn(payload, 'iss')) return 'MISSING_CLAIM';
    if (typeof payload.iss !== 'string') return 'MALFORMED';
    // Exact match in a Map: the issuer is chosen before any key is looked at, and an `iss`
    // that is not configured is never fetched from, resolved or normalised.
    const issuer = byIss.get(payload.iss);
    if (issuer === undefined) return 'UNTRUSTED_ISSUER';
    // `none` in any casing, HS*, and anything this issuer is not pinned to (RFC 8725 §3.1).
    if (!issuer.algorithms.has(alg)) return 'UNSUPPORTED_ALG';
    if (issuer.typ !== false && (typeof typ !== 'string' || normaliseTyp(typ) !== issuer.typ))
      return 'WRONG_TYPE';
    if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH) return 'UNKNOWN_KID';
    if (signature === '') return 'BAD_SIGNATURE';
    return { issuer, kid, alg };
  }

  async function verifyFully(
    token: string,
    issuer: Issuer,
    kid: string,
    alg: string,
    nowMs: number,
  ): Promise<Verified | IssuerTokenFailure> {
    const found = await issuer.keys.key(kid, alg);
    if (!found.ok) return found.code;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, found.key, {
        issuer: issuer.issuer,
        ...(issuer.audienceClaim === 'aud' ? { audience: [...issuer.audience] } : {}),
        algorithms: [alg],
        requiredClaims: [...issuer.requiredClaims],
        clockTolerance: issuer.clockToleranceSec,
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      return failureOf(error);
    }
    // jose checks `iat` only with maxTokenAge: a token "issued" in the future is not valid yet.
    if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number') return 'MALFORMED';
    if (payload.iat > Math.floor(nowMs / 1000) + issuer.clockToleranceSec) return 'NOT_YET_VALID';
    if (typeof payload.sub !== 'string' || payload.sub === '') return 'MALFORMED';
    if (issuer.audienceClaim === 'client_id') {
      if (typeof payload.client_id !== 'string') return 'MALFORMED';
      if (!issuer.audience.includes(payload.client_id)) return 'WRONG_AUDIENCE';
    }
    for (const [name, expected] of issuer.claimEquals) {
      if (!Object.hasOwn(payload, name)) return 'MISSING_CLAIM';
      if (payload[name] !== expected) return 'WRONG_CLAIM';
    }
    const claims = deepFreeze(payload) as Readonly<IssuerTokenClaims>;
    const principal = mapClaims(claims, issuer.claims);
    return Object.freeze({
      ok: true,
      issuer: issuer.issuer,
      claims,
      scopes: principal.scopes,
      kid,
      cached: false,
      principal,
    });
  }

  return {
    async verify(token) {
      if (typeof token !== 'string') return { ok: false, code: 'MALFORMED' };
      // The cap comes first: nothing is split, decoded or looked up for an oversized token.
      if (token.length > maxTokenBytes) return { ok: false, code: 'TOO_LARGE' };
      const inspected = inspect(token);
      if (typeof inspected === 'string') return { ok: false, code: inspected };
      const { issuer, kid, alg } = inspected;
      const nowMs = now();
      const cacheKey = `${issuer.cacheId}\n${token}`;
      if (cacheMax > 0) {
        const hit = cache.get(cacheKey);
        if (hit) {
          cache.delete(cacheKey);
          // Never past exp, and never once the key that verified it has left the issuer's set.
          if (nowMs < hit.expMs && hit.keys.has(kid)) {
            cache.set(cacheKey, hit); // most recently used goes last
            return { ...hit.result, cached: true };
          }
        }
      }
      // Concurrent first uses of one token share one verification (and at most one key fetch).
      let pending = inFlight.get(cacheKey);
      if (pending === undefined) {
        pending = verifyFully(token, issuer, kid, alg, nowMs).catch(() => 'MALFORMED' as const);
        inFlight.set(cacheKey, pending);
        void pending.finally(() => inFlight.delete(cacheKey));
      }
      const outcome = await pending;
      if (typeof outcome === 'string') return { ok: false, code: outcome };
      if (cacheMax > 0) {
        cache.set(cacheKey, { result: outcome, expMs: outcome.claims.exp * 1000, keys: issuer.keys });
        if (cache.size > cacheMax) cache.delete(cache.keys().next().value!);
      }
      return outcome;
    },
    async warm() {
      await Promise.all([...byIss.values()].map((issuer) => issuer.keys.refresh()));
      return healthOf(byIss);
    },
    health: () => healthOf(byIss),
    trusts(token) {
      return typeof token === 'string' && token.length <= maxTokenBytes && typeof inspect(token) !== 'string';
    },
    isCached(token) {
      if (cacheMax === 0 || typeof token !== 'string' || token.length > maxTokenBytes) return false;
      const inspected = inspect(token);
      if (typeof inspected === 'string') return false;
      const hit = cache.get(`${inspected.issuer.cacheId}\n${token}`);
      return hit !== undefined && now() < hit.expMs && hit.keys.has(inspected.kid);
    },
    clear() {
      cache.clear();
    },
    get cacheSize() {
      return cache.size;
    },
  };
}

function healthOf(byIss: ReadonlyMap<string, Issuer>): IssuerHealth[] {
  return [...byIss.values()].map((issuer) => {
    const health = issuer.keys.health();
    return { issuer: issuer.issuer, ready: health.kids.length > 0, ...health };
  });
}

function failureOf(error: unknown): IssuerTokenFailure {
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
        // Unreachable (the issuer was chosen by this very `iss`), kept for a closed mapping.
        return 'UNTRUSTED_ISSUER';
      case 'aud':
        return 'WRONG_AUDIENCE';
      default:
        return 'MALFORMED';
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'BAD_SIGNATURE';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'UNSUPPORTED_ALG';
  // JWSInvalid, JWTInvalid (bad JSON, a claim of the wrong type) and anything unexpected:
  // refused, never thrown.
  return 'MALFORMED';
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
