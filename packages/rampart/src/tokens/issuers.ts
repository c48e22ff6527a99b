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
import { type Duration, parseDuration } from '../lib/duration.ts';
import type { Clock } from '../lib/types.ts';
import { isFetchableUrl } from './bounded-fetch.ts';
import { type ClaimMapping, claimMappingOption, type ExternalPrincipal, mapClaims } from './claims.ts';
import { createStaticKeySource, type KeySetHealth, type KeySource } from './key-source.ts';
import { createRemoteKeySource } from './remote-jwks.ts';

/**
 * The algorithms an outside issuer may be trusted with: asymmetric signatures only. `none`
 * is never one, and neither is `HS*`: a shared secret cannot come from a provider's JWKS, and
 * an HS256 token keyed with a public key is the classic confusion attack (RFC 8725 §2.1).
 */
export const ISSUER_ALGORITHMS = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const);
export type IssuerAlgorithm = (typeof ISSUER_ALGORITHMS)[number];

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

/** One trusted issuer. Give exactly one of `jwksUri`, `discoveryUrl`, `jwks`. */
export interface TrustedIssuer {
  /** The exact `iss` of its tokens, compared byte for byte (Auth0's ends with `/`; Entra v2's with `/v2.0`). */
  issuer: string;
  /** Its JWKS URL (`https:`, or `http:` on loopback). */
  jwksUri?: string;
  /**
   * Its discovery document, `<issuer>/.well-known/openid-configuration` (`https:`, or `http:`
   * on loopback). Read once, on the first fetch; its `issuer` must equal `issuer` exactly
   * (OIDC Discovery §4.3) and its `jwks_uri` is used from then on.
   */
  discoveryUrl?: string;
  /** Its public keys, given (a JWKS document, RFC 7517 §5): nothing is fetched. */
  jwks?: { keys: readonly Record<string, unknown>[] };
  /** The audience (or one of them) this API answers to. */
  audience: string | readonly string[];
  /**
   * The claim holding the audience. Default `'aud'`. `'client_id'` for Cognito, whose access
   * tokens carry no `aud` (the app client id is in `client_id`).
   */
  audienceClaim?: 'aud' | 'client_id';
  /** The algorithms accepted from this issuer, from `ISSUER_ALGORITHMS`. Default `['RS256']`. */
  algorithms?: readonly IssuerAlgorithm[];
  /** Clock skew allowed on `exp`, `nbf` and `iat`, seconds, 0 to 300. Default 5. */
  clockToleranceSec?: number;
  /**
   * The `typ` header required, compared as RFC 7515 §4.1.9 says (case-insensitive, an
   * `application/` prefix optional). Default `'at+jwt'` (RFC 9068). Many providers send
   * `'JWT'` (Auth0, Entra, Keycloak); `false` when the provider sends none (Cognito, Okta), and
   * then tell access tokens from ID tokens with `audience` and `claimEquals`.
   */
  typ?: string | false;
  /** Claims that must be present, beyond `iss`, `aud`, `exp`, `iat` and `sub` (always required). */
  requiredClaims?: readonly string[];
  /** Claims that must equal a string exactly, e.g. `{ token_use: 'access' }` (Cognito). */
  claimEquals?: Readonly<Record<string, string>>;
  /** Where this provider writes scopes, roles and the tenant (`claims.ts`). */
  claims?: ClaimMapping;
}

/** How remote keys are fetched, for every remote issuer. */
export interface KeyFetchOptions {
  /** Bound on one fetch attempt (discovery and JWKS together), bodies included: ms or `'5s'`. Default `'5s'`, 100 ms to 60 s. */
  timeout?: Duration | number;
  /** Least time between two fetches of one issuer's keys, successful or not: ms or `'30s'`. Default `'30s'`, 1 s to 1 h. */
  cooldown?: Duration | number;
  /** Age after which held keys are refreshed behind the lookups they answer: ms or `'10m'`. Default `'10m'`, 1 min to 24 h. */
  maxAge?: Duration | number;
  /** Largest discovery or JWKS document, bytes. Default 65,536, 1,024 to 1,048,576. */
  maxBytes?: number;
}

export interface IssuerVerifierOptions {
  /** The trusted issuers; a token is verified only with the keys of the one its `iss` names. */
  issuers: readonly TrustedIssuer[];
  /** Longest token accepted, bytes, checked before anything is decoded. Default 8192, 256 to 65,536. */
  maxTokenBytes?: number;
  /**
   * Cache of verified tokens: bounded LRU keyed on the issuer, its audience and the whole
   * token; an entry is never used past the token's `exp`, nor once its `kid` has left the
   * issuer's key set. Memory bound ≈ `max × maxTokenBytes`. Default: no cache.
   */
  cache?: { max: number } | false;
  keyFetch?: KeyFetchOptions;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: Clock;
}

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
}

interface Issuer {
  readonly issuer: string;
  /** What the cache key holds besides the token: everything in the decision that is not in the token. */
  readonly cacheId: string;
  readonly keys: KeySource;
  readonly audience: readonly string[];
  readonly audienceClaim: 'aud' | 'client_id';
  readonly algorithms: ReadonlySet<string>;
  readonly clockToleranceSec: number;
  readonly typ: string | false;
  readonly requiredClaims: readonly string[];
  readonly claimEquals: ReadonlyArray<readonly [string, string]>;
  readonly claims: ClaimMapping;
}

type Verified = Extract<IssuerTokenResult, { ok: true }>;

interface CacheEntry {
  result: Verified;
  expMs: number;
  keys: KeySource;
}

/** Header parameters that make a verifier fetch or trust key material named by the token (RFC 8725 §3.10). */
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'x5c', 'jwk', 'crit'] as const;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const MAX_KID_LENGTH = 256;
const MAX_ISSUERS = 100;
const ALWAYS_REQUIRED = ['exp', 'iat', 'sub'] as const;
const ISSUER_KEYS = new Set([
  'issuer',
  'jwksUri',
  'discoveryUrl',
  'jwks',
  'audience',
  'audienceClaim',
  'algorithms',
  'clockToleranceSec',
  'typ',
  'requiredClaims',
  'claimEquals',
  'claims',
]);
const OPTION_KEYS = new Set(['issuers', 'maxTokenBytes', 'cache', 'keyFetch', 'now']);
const KEY_FETCH_KEYS = new Set(['timeout', 'cooldown', 'maxAge', 'maxBytes']);
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

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
  if (options === null || typeof options !== 'object') throw new TypeError('options: expected an object');
  knownKeys(options, OPTION_KEYS, '');
  const now = clockOption(options.now);
  const maxTokenBytes = intOption(options.maxTokenBytes, 'maxTokenBytes', 8192, 256, 65_536);
  const cacheMax = cacheOption(options.cache);
  const fetching = keyFetchOption(options.keyFetch, now);
  if (
    !Array.isArray(options.issuers) ||
    options.issuers.length === 0 ||
    options.issuers.length > MAX_ISSUERS
  ) {
    throw new TypeError(`issuers: expected a list of 1 to ${MAX_ISSUERS} trusted issuers`);
  }
  const byIss = new Map<string, Issuer>();
  options.issuers.forEach((given, index) => {
    const issuer = issuerOption(given, `issuers[${index}]`, fetching);
    if (byIss.has(issuer.issuer)) {
      throw new TypeError(`issuers[${index}].issuer: ${JSON.stringify(issuer.issuer)} appears twice`);
    }
    byIss.set(issuer.issuer, issuer);
  });

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

function issuerOption(value: unknown, field: string, fetching: FetchSettings): Issuer {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(
      `${field}: expected a trusted issuer { issuer, jwksUri | discoveryUrl | jwks, audience, … }`,
    );
  }
  const given = value as Record<string, unknown>;
  knownKeys(given, ISSUER_KEYS, field);
  const issuer = given.issuer;
  if (typeof issuer !== 'string' || issuer === '' || issuer.length > 2048) {
    throw new TypeError(`${field}.issuer: required, the exact "iss" of the provider's tokens`);
  }
  const sources = (['jwksUri', 'discoveryUrl', 'jwks'] as const).filter((name) => given[name] !== undefined);
  if (sources.length !== 1) {
    throw new TypeError(
      `${field}: give exactly one of jwksUri, discoveryUrl or jwks, got ${sources.length === 0 ? 'none' : sources.join(' and ')}`,
    );
  }
  let keys: KeySource;
  if (given.jwks !== undefined) {
    keys = createStaticKeySource(given.jwks, `${field}.jwks`);
  } else {
    const source = sources[0] as 'jwksUri' | 'discoveryUrl';
    const url = given[source];
    if (typeof url !== 'string' || !isFetchableUrl(url)) {
      throw new TypeError(
        `${field}.${source}: expected an https: URL (http: only on a loopback host), without credentials`,
      );
    }
    keys = createRemoteKeySource({
      ...(source === 'jwksUri' ? { jwksUri: url } : { discovery: { url, issuer } }),
      ...fetching,
    });
  }
  const audience = audienceOption(given.audience, `${field}.audience`);
  const audienceClaim = given.audienceClaim ?? 'aud';
  if (audienceClaim !== 'aud' && audienceClaim !== 'client_id') {
    throw new TypeError(`${field}.audienceClaim: expected "aud" or "client_id"`);
  }
  const algorithms = algorithmsOption(given.algorithms, `${field}.algorithms`);
  const clockToleranceSec = intOption(given.clockToleranceSec, `${field}.clockToleranceSec`, 5, 0, 300);
  const typ = typOption(given.typ, `${field}.typ`);
  const extra = nameList(given.requiredClaims, `${field}.requiredClaims`);
  const requiredClaims = [
    ...new Set([...ALWAYS_REQUIRED, ...(audienceClaim === 'client_id' ? ['client_id'] : []), ...extra]),
  ];
  const claimEquals = claimEqualsOption(given.claimEquals, `${field}.claimEquals`);
  const claims = claimMappingOption(given.claims, `${field}.claims`);
  return Object.freeze({
    issuer,
    cacheId: JSON.stringify([issuer, audienceClaim, audience]),
    keys,
    audience,
    audienceClaim,
    algorithms,
    clockToleranceSec,
    typ,
    requiredClaims: Object.freeze(requiredClaims),
    claimEquals,
    claims,
  });
}

interface FetchSettings {
  timeoutMs: number;
  cooldownMs: number;
  maxAgeMs: number;
  maxBytes: number;
  now: Clock;
}

function keyFetchOption(value: unknown, now: Clock): FetchSettings {
  if (value === undefined) value = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError('keyFetch: expected { timeout?, cooldown?, maxAge?, maxBytes? }');
  }
  const given = value as Record<string, unknown>;
  knownKeys(given, KEY_FETCH_KEYS, 'keyFetch');
  return {
    timeoutMs: durationOption(given.timeout, 'keyFetch.timeout', '5s', 100, 60_000),
    cooldownMs: durationOption(given.cooldown, 'keyFetch.cooldown', '30s', 1000, 3_600_000),
    maxAgeMs: durationOption(given.maxAge, 'keyFetch.maxAge', '10m', 60_000, 86_400_000),
    maxBytes: intOption(given.maxBytes, 'keyFetch.maxBytes', 65_536, 1024, 1_048_576),
    now,
  };
}

function durationOption(value: unknown, field: string, fallback: Duration, min: number, max: number): number {
  const ms = parseDuration(value ?? fallback, field);
  if (ms < min || ms > max) throw new TypeError(`${field}: expected from ${min} to ${max} ms, got ${ms}`);
  return ms;
}

function algorithmsOption(value: unknown, field: string): ReadonlySet<string> {
  if (value === undefined) return new Set(['RS256']);
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(`${field}: expected a non-empty list from ${ISSUER_ALGORITHMS.join(', ')}`);
  }
  for (const alg of value) {
    if (typeof alg === 'string' && (alg.toLowerCase() === 'none' || /^HS\d+$/i.test(alg))) {
      throw new TypeError(
        `${field}: ${JSON.stringify(alg)} is refused: an outside issuer's tokens are verified with its public keys (RFC 8725 §2.1, §3.1)`,
      );
    }
    if (!(ISSUER_ALGORITHMS as readonly unknown[]).includes(alg)) {
      throw new TypeError(`${field}: ${JSON.stringify(alg)} is not one of ${ISSUER_ALGORITHMS.join(', ')}`);
    }
  }
  return new Set(value as string[]);
}

function typOption(value: unknown, field: string): string | false {
  if (value === undefined) return normaliseTyp('at+jwt');
  if (value === false) return false;
  if (typeof value !== 'string' || !/^[\x21-\x7E]{1,64}$/.test(value)) {
    throw new TypeError(
      `${field}: expected a media type such as "at+jwt" or "JWT", or false when the provider sends none`,
    );
  }
  return normaliseTyp(value);
}

function claimEqualsOption(value: unknown, field: string): ReadonlyArray<readonly [string, string]> {
  if (value === undefined) return [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${field}: expected an object of claim names and the string each must equal`);
  }
  return Object.freeze(
    Object.entries(value).map(([name, expected]) => {
      if (name === '' || typeof expected !== 'string') {
        throw new TypeError(`${field}.${name}: expected a string the claim must equal`);
      }
      return Object.freeze([name, expected] as const);
    }),
  );
}

function audienceOption(value: unknown, field: string): readonly string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  if (list.length === 0 || list.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError(`${field}: required, a non-empty string or a non-empty list of them`);
  }
  return Object.freeze([...list]);
}

function nameList(value: unknown, field: string): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError(`${field}: expected a list of claim names`);
  }
  return value;
}

function knownKeys(value: object, keys: ReadonlySet<string>, field: string): void {
  for (const key of Object.keys(value)) {
    // A misspelt option silently ignored would be a silent hole (`audiance`, `algorithm`).
    if (!keys.has(key)) {
      throw new TypeError(
        `${field === '' ? '' : `${field}.`}${key}: unknown option; expected one of ${[...keys].join(', ')}`,
      );
    }
  }
}

function intOption(value: unknown, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(`${field}: expected an integer from ${min} to ${max}`);
  }
  return value;
}

function cacheOption(value: unknown): number {
  if (value === undefined || value === false) return 0;
  if (value === null || typeof value !== 'object') throw new TypeError('cache: expected { max } or false');
  return intOption((value as { max?: unknown }).max ?? Number.NaN, 'cache.max', 0, 1, 1_000_000);
}

function clockOption(value: unknown): Clock {
  if (value === undefined) return Date.now;
  if (typeof value !== 'function')
    throw new TypeError('now: expected a function returning ms since the epoch');
  return value as Clock;
}

function decodeJsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(strictUtf8.decode(Buffer.from(part, 'base64url')));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 7515 §4.1.9: compared case-insensitively, the `application/` prefix optional. */
function normaliseTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
