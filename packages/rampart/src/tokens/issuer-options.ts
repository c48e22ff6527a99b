/**
 * The options of `createIssuerVerifier` and their checks, done once at creation: every wrong
 * field is a `TypeError` that names it (`issuers[1].jwksUri: …`; the engine's `within('jwt', …)`
 * makes that `jwt.issuers[1].jwksUri: …`), and each trusted issuer is compiled into what the
 * verifier reads per token (a key source, pinned algorithms, the normalised `typ`).
 */
import { type Duration, parseDuration } from '../lib/duration.ts';
import { knownKeys } from '../lib/options.ts';
import type { Clock } from '../lib/types.ts';
import { isFetchableUrl } from './bounded-fetch.ts';
import { type ClaimMapping, claimMappingOption } from './claims.ts';
import { cacheOption, clockOption, intOption, normaliseTyp } from './jws.ts';
import { createStaticKeySource, type KeySource } from './key-source.ts';
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

/** A trusted issuer as the verifier reads it, checked and frozen. */
export interface Issuer {
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

/** The options, checked. */
export interface CompiledOptions {
  now: Clock;
  maxTokenBytes: number;
  /** 0 when the cache is off. */
  cacheMax: number;
  /** The trusted issuers by their exact `iss`. */
  byIss: ReadonlyMap<string, Issuer>;
}

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

/**
 * Checks the options and compiles each trusted issuer.
 * @throws TypeError naming the field when an option is invalid.
 * @example compileOptions({ issuers: [{ issuer, jwksUri, audience }] }).byIss.get(issuer)
 */
export function compileOptions(options: IssuerVerifierOptions): CompiledOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('(options): expected an object');
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

  return { now, maxTokenBytes, cacheMax, byIss };
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
