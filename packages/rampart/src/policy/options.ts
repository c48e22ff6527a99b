/**
 * The options of `createRampart` and their checks, done once at creation: every wrong field is
 * a `TypeError` that names it (`jwt.secret: …`, `apiKeys.prefixes[0]: …`), and the token and
 * API key verifiers are built here from the domain factories.
 */

import { DEFAULT_API_KEY_PREFIX, isValidApiKeyPrefix } from '../api-keys/format.ts';
import type { KeyHasher } from '../api-keys/hashing.ts';
import type { ApiKeyRecord } from '../api-keys/record.ts';
import { type ApiKeyVerifierOptions, createApiKeyVerifier } from '../api-keys/verifier.ts';
import type { KeyDecision } from '../api-keys/verify.ts';
import type { AuditEventType, AuditOutcome } from '../audit/events.ts';
import type { ForwardingHeader } from '../http/client-ip.ts';
import type { CorsOptions } from '../http/cors.ts';
import type { SecurityHeadersOptions } from '../http/security-headers.ts';
import { type Duration, parseDuration } from '../lib/duration.ts';
import { isObject, knownKeys, optionalFunction, stringList, within } from '../lib/options.ts';
import type { Awaitable, Clock } from '../lib/types.ts';
import type { AddressListEntry, AddressRestriction } from '../rate-limit/address-lists.ts';
import type { FailureNews } from '../rate-limit/recent-failures.ts';
import type { ResilientStore } from '../rate-limit/resilient-store.ts';
import type { RateLimitRuleOptions } from '../rate-limit/rules.ts';
import type { RateLimitStore } from '../rate-limit/store.ts';
import {
  type AccessTokenClaims,
  type AccessTokenIssuer,
  type AccessTokenResult,
  createAccessTokenIssuer,
  createAccessTokenVerifier,
} from '../tokens/access-token.ts';
import {
  createIssuerVerifier,
  type IssuerVerifier,
  type IssuerVerifierOptions,
  type TrustedIssuer,
} from '../tokens/issuers.ts';
import {
  createKeyRing,
  hs256SigningKey,
  type KeyRing,
  MIN_HS256_SECRET_BYTES,
  type SigningAlgorithm,
} from '../tokens/signing-keys.ts';
import { RAMPART_DEFAULTS } from './defaults.ts';
import type { JsonBodyOptions } from './json-request.ts';
import { type PublicKeySet, verificationRing } from './jwks-ring.ts';
import { type BearerOutcome, type Principal, principalOfToken } from './principal.ts';

/**
 * JWT bearer tokens (RFC 6750, RFC 9068 profile), verified by `src/tokens`. Give exactly one of
 * `secret`, `jwks`, `ring` (with `issuer` and `audience`), or a ready `verifier`.
 */
export interface JwtOptions {
  /**
   * A verifier made by `createAccessTokenVerifier` (or anything with its `verify` and
   * `isCached`), used as is: for a deployment that manages revocation and caching itself, as
   * `rampart serve` does. Give nothing else with it.
   */
  verifier?: TokenVerifier;
  /**
   * An HS256 shared secret, at least 32 bytes. Rampart can then also issue tokens
   * (`issueAccessToken`). Only for setups where every verifier may hold the signing secret.
   */
  secret?: string | Uint8Array;
  /**
   * Another issuer's public keys (a JWKS document, RFC 7517). Each key needs `kid` and `alg`
   * (EdDSA, ES256 or RS256). Keys are given, never fetched: nothing a token names is looked up.
   */
  jwks?: PublicKeySet;
  /** A key ring (Rampart server's keys, `createKeyRing`), or a getter of the current one. */
  ring?: KeyRing | (() => KeyRing);
  /** The exact `iss` required (not with `verifier`). */
  issuer?: string;
  /** The `aud` (or one of them) this API answers to (not with `verifier`). */
  audience?: string | readonly string[];
  /**
   * The algorithms accepted; a token's own `alg` never widens the list (RFC 8725 §3.1).
   * Default: the algorithms of the configured keys (`['HS256']` for a secret).
   */
  algorithms?: readonly SigningAlgorithm[];
  /** Lifetime of tokens from `issueAccessToken` with a `secret`: `'15m'` or ms; default `'15m'`. */
  accessTtl?: Duration | number;
  /** Clock skew allowed on `exp`, `nbf`, `iat`, seconds 0–300; default 5. */
  clockToleranceSec?: number;
  /**
   * Cache of verified tokens (an LRU keyed on the whole token, never past `exp`); default
   * `{ max: 10_000 }`. `false` verifies every signature every time.
   */
  cache?: { max: number } | false;
  /** Revocation check run on every verification (a `jti` deny-list); its errors propagate. */
  isRevoked?: (claims: Readonly<AccessTokenClaims>) => Awaitable<boolean>;
  /**
   * Outside identity providers whose access tokens are accepted too (Auth0, Keycloak, Cognito,
   * Entra, Okta, Clerk, better-auth): each with its JWKS or OIDC discovery URL, audience,
   * algorithms and claim mapping (`docs/tokens.md`). A token is sent to the issuer its `iss`
   * names before any key is fetched; an untrusted `iss` is refused without a request.
   */
  issuers?: readonly TrustedIssuer[];
  /** Outside issuers' key fetching: `timeout`, `cooldown`, `maxAge`, `maxBytes` (see `createIssuerVerifier`). */
  keyFetch?: IssuerVerifierOptions['keyFetch'];
}

/** What the engine needs of an access-token verifier. */
export interface TokenVerifier {
  verify(token: string): Promise<AccessTokenResult>;
  /** True when this token verified before and is still cached (it then costs no signature check). */
  isCached?(token: string): boolean;
  /** The cached answer at once, or `undefined` (see `AccessTokenVerifier.verifyNow`). */
  verifyNow?(token: string): AccessTokenResult | undefined;
}

/** The store lookup `createRampart` builds an API key verifier on. */
export interface ApiKeyLookup {
  /** The record whose `hash` is one of `hashes` (the hasher's candidates). May throw when down (503). */
  findByHash(hashes: readonly string[]): Awaitable<ApiKeyRecord | null | undefined>;
}

/**
 * API keys (`x-api-key: <key>`, or `Authorization: Bearer <key>` recognised by prefix). Give a
 * `verify` (Rampart's `createApiKeyVerifier()` object fits as is), or a `store` and a `hasher`.
 */
export interface ApiKeysOptions {
  /** Verifies a presented key; `options.scope` lists the scopes the route needs. */
  verify?: (key: string, options: { scope?: readonly string[] }) => Awaitable<KeyDecision>;
  /**
   * With `verify`: true when a key was verified recently (so an invented-credential
   * reservation can be skipped). Store mode has this built in.
   */
  isKnown?: (key: string) => boolean;
  /**
   * A Bearer value without a key prefix is a JWT, unless this says it is an API key (for a
   * deployment whose bootstrap key has no prefix). Called only for values that are not a
   * compact JWS (three base64url parts).
   */
  isKey?: (bearer: string) => boolean;
  /** With `hasher`: Rampart builds the verifier (`createApiKeyVerifier`) on this lookup. */
  store?: ApiKeyLookup;
  /** The keyed hasher of the stored keys (`createKeyHasher`). */
  hasher?: KeyHasher;
  /** Key prefixes; default `['rk_live_']`. A Bearer value with one of them is taken for a key. */
  prefixes?: readonly string[];
  /** Store mode only: accept the tutorial's 64-hex keys (needs a hasher with `legacySha256`). Default false. */
  acceptLegacyKeys?: boolean;
  /** Store mode only: a verification cache (`createVerificationCache`); default none. */
  cache?: ApiKeyVerifierOptions['cache'];
  /** Store mode only: told of each valid use (`createLastUsedBatcher`). */
  lastUsed?: ApiKeyVerifierOptions['lastUsed'];
  /** Store mode only: the per-key limit of keys that have one. */
  checkRateLimit?: ApiKeyVerifierOptions['checkRateLimit'];
  /** Store mode only: spends credits of keys that have them. */
  consumeCredits?: ApiKeyVerifierOptions['consumeCredits'];
}

/** A rate-limit rule as `rateLimit()` takes it: the limiter's rule (`name`, `limit`, `window`, `key`, …). */
export type RateLimitRule = RateLimitRuleOptions;

/** Rate limiting: where counters live and the two tutorial limiters. */
export interface RampartRateLimitOptions {
  /**
   * Where counters live: `memoryRateLimitStore()` (the default, per process) or a shared one
   * (`redisRateLimitStore({ client })`, or your own `RateLimitStore`), or a `resilientStore()`
   * you share with other code (then its own timeout and breaker settings apply). Rampart
   * closes only the store it made.
   */
  store?: RateLimitStore | ResilientStore;
  /** `apiLimiter`: merged over `{ name: 'api', limit: 100, window: '15m' }` (the tutorial's). */
  api?: Partial<RateLimitRule>;
  /** `sensitiveLimiter`: merged over `{ name: 'sensitive', limit: 5, window: '1h' }`. */
  sensitive?: Partial<RateLimitRule>;
  /**
   * How long one shared-store answer may take, ms, not counting time the event loop was
   * blocked; default 1,000. A slower answer is decided by the rule's failure policy for that
   * request only.
   */
  storeTimeoutMs?: number;
  /** Shared-store failures in a row that mark it down (a dead connection: at once); default 3. */
  failuresToTrip?: number;
  /** While the shared store is down, how often one probe checks it, ms; default 500. */
  probeIntervalMs?: number;
  /** The IPv6 prefix that forms an `'ip'` key, 32–128; default 64. */
  ipv6Prefix?: number;
  /**
   * Addresses and networks never counted nor refused by a limit (`'10.1.2.3'`,
   * `{ cidr: '192.0.2.0/24', routes: '/v1/*' }`). Default none.
   */
  allow?: ReadonlyArray<string | AddressListEntry>;
  /** Addresses and networks refused (403 `ADDRESS_DENIED`) on the routes of the entry. Default none. */
  deny?: ReadonlyArray<string | AddressListEntry>;
  /** Routes only some networks may call (`{ routes: '/admin/*', from: ['10.0.0.0/8'] }`); others get 403. */
  restrict?: readonly AddressRestriction[];
}

/**
 * Failed authentications per client address: past the limit, credentials from that address
 * are refused (the same 401) before any verification, so a flood of invented tokens or keys
 * costs one counter read each.
 */
export interface AuthFailureOptions {
  /** Failures allowed per window; default 30. */
  limit?: number;
  /** `'15m'` or ms; default `'15m'`. */
  window?: Duration | number;
  /**
   * Where failures are counted; default a memory store of this process, so the check adds no
   * network round trip to an authenticated request. Give the shared store to count across
   * instances (the same store object as `rateLimit.store` shares its breaker).
   */
  store?: RateLimitStore | ResilientStore;
  /**
   * With a shared `store`: how the instances tell each other of failures, so that a request
   * from an address that failed nowhere lately skips the store read (one round trip fewer per
   * authenticated request). Until the news is live, every address is asked. See
   * `recent-failures.ts`; the server builds one on a Redis channel.
   */
  news?: FailureNews;
}

/** A security event (OWASP logging vocabulary). Never carries a token, key or password. */
export interface SecurityEvent {
  type: AuditEventType;
  outcome: AuditOutcome;
  /** Epoch ms. */
  at: number;
  ip?: string;
  /** The user id or key id. */
  actor?: string;
  requestId?: string;
  detail: Record<string, unknown>;
}

/** Options of {@link createRampart}. Every field is checked at creation. */
export interface RampartOptions {
  jwt?: JwtOptions;
  apiKeys?: ApiKeysOptions;
  rateLimit?: RampartRateLimitOptions;
  /** Default `{ limit: 30, window: '15m' }`; `false` turns the check off. */
  authFailures?: AuthFailureOptions | false;
  /** The default policy of `cors()`. */
  cors?: CorsOptions;
  /** The default of `securityHeaders()`; default `{ https: false }` (no HSTS). */
  securityHeaders?: SecurityHeadersOptions;
  /** Proxies whose forwarding header is believed (CIDRs, `'loopback'`, `'private'`); default none. */
  trustProxy?: readonly string[];
  /** The one forwarding header the proxy sets; default `'x-forwarded-for'`. */
  clientIpHeader?: ForwardingHeader;
  /** JSON body reading: `limitBytes` (default 100 KiB), `maxDepth` (default 32). */
  json?: JsonBodyOptions;
  /** Told of each security event; a hook that throws is reported, never fails a request. */
  onEvent?: (event: SecurityEvent) => void;
  /** Told of each error answered 5xx (to log it: the client sees no detail). Default `console.error`. */
  onError?: (error: unknown, view?: { readonly requestId?: string | undefined }) => void;
  /** Told of every request a rate limit refused, with the rule's name (metrics). */
  onRateLimited?: (rule: string) => void;
  /** The clock, epoch ms; default `Date.now`. */
  now?: Clock;
}

export { isObject, knownKeys, optionalFunction, record, stringList, within } from '../lib/options.ts';

/** The option names `createRampart` knows. */
export const OPTION_KEYS = new Set([
  'jwt',
  'apiKeys',
  'rateLimit',
  'authFailures',
  'cors',
  'securityHeaders',
  'trustProxy',
  'clientIpHeader',
  'json',
  'onEvent',
  'onError',
  'onRateLimited',
  'now',
]);
export const JWT_KEYS = new Set([
  'issuers',
  'keyFetch',
  'verifier',
  'secret',
  'jwks',
  'ring',
  'issuer',
  'audience',
  'algorithms',
  'accessTtl',
  'clockToleranceSec',
  'cache',
  'isRevoked',
]);
export const API_KEYS_KEYS = new Set([
  'verify',
  'isKnown',
  'isKey',
  'store',
  'hasher',
  'prefixes',
  'acceptLegacyKeys',
  'cache',
  'lastUsed',
  'checkRateLimit',
  'consumeCredits',
]);
export const RATE_LIMIT_KEYS = new Set([
  'store',
  'api',
  'sensitive',
  'storeTimeoutMs',
  'failuresToTrip',
  'probeIntervalMs',
  'ipv6Prefix',
  'allow',
  'deny',
  'restrict',
]);
export const AUTH_FAILURE_KEYS = new Set(['limit', 'window', 'store', 'news']);

/** What `jwt` compiles to: the verifier, and the issuer when a signing key is configured. */
export interface TokenSetup {
  verify: (token: string) => Promise<BearerOutcome>;
  /** Cheap: was this token verified before (and still good)? */
  isCached: (token: string) => boolean;
  /** The answer of a cached token of Rampart's own at once, or `undefined`: then `verify`. */
  verifyNow: (token: string) => BearerOutcome | undefined;
  issuer: AccessTokenIssuer | undefined;
  /** The outside issuers' verifier, when `jwt.issuers` is set (readiness, key health). */
  external?: IssuerVerifier;
}

/** What Rampart's own tokens compile to. */
interface OwnTokens {
  verify: (token: string) => Promise<AccessTokenResult>;
  isCached: (token: string) => boolean;
  verifyNow: (token: string) => AccessTokenResult | undefined;
  issuer: AccessTokenIssuer | undefined;
}

/**
 * Checks `jwt` and builds the bearer-token verifier: Rampart's own tokens (`secret`, `jwks`,
 * `ring` or `verifier`) and those of outside identity providers (`issuers`), routed by the
 * token's `iss` before any key is looked at.
 */
export function setupJwt(jwt: JwtOptions, now: Clock): TokenSetup {
  if (!isObject(jwt)) throw new TypeError('jwt: expected an options object');
  knownKeys(jwt, JWT_KEYS, 'jwt');
  const { issuers, keyFetch, ...own } = jwt;
  const hasOwn = (['secret', 'jwks', 'ring', 'verifier'] as const).some((k) => own[k] !== undefined);
  if (!hasOwn && issuers === undefined) {
    throw new TypeError(
      "jwt: give secret, jwks, ring or verifier (your own tokens), or issuers (an identity provider's)",
    );
  }
  if (keyFetch !== undefined && issuers === undefined)
    throw new TypeError('jwt.keyFetch: only with jwt.issuers');
  const mine = hasOwn ? setupOwnTokens(own, now) : undefined;
  const external =
    issuers === undefined
      ? undefined
      : within('jwt', () =>
          createIssuerVerifier({
            issuers,
            cache: own.cache ?? RAMPART_DEFAULTS.tokenCache,
            ...(keyFetch !== undefined ? { keyFetch } : {}),
            now,
          }),
        );
  const untrusted: BearerOutcome = { ok: false, code: 'UNTRUSTED_ISSUER' };
  return {
    async verify(token) {
      if (external?.trusts(token)) {
        const result = await external.verify(token);
        if (!result.ok) return result;
        const outside = result.principal;
        const principal: Principal = {
          kind: 'user',
          userId: outside.subject,
          role: 'user',
          roles: outside.roles,
          scopes: result.scopes,
          issuer: result.issuer,
          ...(outside.tenant !== undefined ? { tenant: outside.tenant } : {}),
          ...(result.claims.jti !== undefined ? { tokenId: result.claims.jti } : {}),
          tokenExp: result.claims.exp,
        };
        return { ok: true, principal };
      }
      if (mine === undefined) return untrusted;
      const result = await mine.verify(token);
      return result.ok ? { ok: true, principal: principalOfToken(result) } : result;
    },
    isCached: (token) =>
      external?.trusts(token) ? external.isCached(token) : (mine?.isCached(token) ?? false),
    verifyNow(token) {
      if (mine === undefined || external?.trusts(token)) return undefined;
      const result = mine.verifyNow(token);
      if (result === undefined) return undefined;
      return result.ok ? { ok: true, principal: principalOfToken(result) } : result;
    },
    issuer: mine?.issuer,
    ...(external !== undefined ? { external } : {}),
  };
}

function setupOwnTokens(jwt: Omit<JwtOptions, 'issuers' | 'keyFetch'>, now: Clock): OwnTokens {
  if (jwt.verifier !== undefined) {
    const given = jwt.verifier;
    if (!isObject(given) || typeof given.verify !== 'function') {
      throw new TypeError('jwt.verifier: expected an access-token verifier (createAccessTokenVerifier)');
    }
    for (const field of Object.keys(jwt)) {
      if (field !== 'verifier')
        throw new TypeError(`jwt.${field}: not with jwt.verifier (the verifier has its own)`);
    }
    const isCached =
      typeof given.isCached === 'function' ? (token: string) => given.isCached!(token) : () => false;
    const verifyNow =
      typeof given.verifyNow === 'function' ? (token: string) => given.verifyNow!(token) : () => undefined;
    return { verify: (token) => given.verify(token), isCached, verifyNow, issuer: undefined };
  }
  const sources = (['secret', 'jwks', 'ring'] as const).filter((k) => jwt[k] !== undefined);
  if (sources.length !== 1) {
    throw new TypeError(
      `jwt: give exactly one of secret (HS256), jwks (public keys) or ring, got ${sources.length === 0 ? 'none' : sources.join(' and ')}`,
    );
  }
  const tokenIssuer = jwt.issuer;
  if (typeof tokenIssuer !== 'string' || tokenIssuer === '') {
    // Strict claims: an API that does not pin its issuer takes tokens minted for anyone's.
    throw new TypeError('jwt.issuer: required, the exact "iss" your tokens carry');
  }
  const audience = jwt.audience;
  if (
    !(typeof audience === 'string' && audience !== '') &&
    !(
      Array.isArray(audience) &&
      audience.length > 0 &&
      audience.every((a) => typeof a === 'string' && a !== '')
    )
  ) {
    throw new TypeError('jwt.audience: required, the "aud" (or list of them) this API answers to');
  }
  let ring: KeyRing | (() => KeyRing);
  let algorithms: readonly SigningAlgorithm[];
  let signing: KeyRing | (() => KeyRing) | undefined;
  if (jwt.secret !== undefined) {
    const secret = jwt.secret;
    const bytes =
      typeof secret === 'string'
        ? Buffer.byteLength(secret, 'utf8')
        : secret instanceof Uint8Array
          ? secret.length
          : -1;
    if (bytes < 0) throw new TypeError('jwt.secret: expected a string or bytes');
    if (bytes < MIN_HS256_SECRET_BYTES) {
      // The length is safe to say; the secret is not.
      throw new TypeError(
        `jwt.secret: must be at least ${MIN_HS256_SECRET_BYTES} bytes (RFC 7518 §3.2), got ${bytes}`,
      );
    }
    const accessTtlMs = parseDuration(jwt.accessTtl ?? RAMPART_DEFAULTS.accessTtl, 'jwt.accessTtl');
    if (accessTtlMs < 1000) throw new TypeError('jwt.accessTtl: expected at least 1 second');
    ring = within('jwt', () => createKeyRing({ keys: [hs256SigningKey({ secret, now })], accessTtlMs, now }));
    algorithms = ['HS256'];
    signing = ring;
  } else if (jwt.jwks !== undefined) {
    const made = verificationRing(jwt.jwks, 'jwt.jwks');
    ring = made.ring;
    algorithms = made.algorithms;
  } else {
    const given = jwt.ring!;
    if (typeof given !== 'function' && (!isObject(given) || typeof given.verificationKey !== 'function')) {
      throw new TypeError('jwt.ring: expected a key ring (createKeyRing) or a function returning one');
    }
    ring = given;
    signing = given;
    const current = typeof given === 'function' ? given() : given;
    algorithms = [...new Set(current.verificationKeys().map((key) => key.alg))];
  }
  if (jwt.algorithms !== undefined) algorithms = jwt.algorithms;
  const verifier = within('jwt', () =>
    createAccessTokenVerifier({
      ring,
      issuer: tokenIssuer,
      audience: audience as string | readonly string[],
      algorithms,
      ...(jwt.clockToleranceSec !== undefined ? { clockToleranceSec: jwt.clockToleranceSec } : {}),
      cache: jwt.cache ?? RAMPART_DEFAULTS.tokenCache,
      ...(jwt.isRevoked !== undefined ? { isRevoked: jwt.isRevoked } : {}),
      now,
    }),
  );
  const issuer =
    signing === undefined
      ? undefined
      : within('jwt', () =>
          createAccessTokenIssuer({
            ring: signing,
            issuer: tokenIssuer,
            audience: audience as string | readonly string[],
            now,
          }),
        );
  return {
    verify: (token) => verifier.verify(token),
    isCached: (token) => verifier.isCached(token),
    verifyNow: (token) => verifier.verifyNow(token),
    issuer,
  };
}

/** What `apiKeys` compiles to. */
export interface KeySetup {
  verify: (key: string, options: { scope?: readonly string[] }) => Awaitable<KeyDecision>;
  /** Cheap: was this key found recently? */
  isKnown: (key: string) => boolean;
  /** Is a prefix-less Bearer value an API key after all? */
  isKey: ((bearer: string) => boolean) | undefined;
  prefixes: readonly string[];
}

/** Checks `apiKeys` and builds (or wraps) the key verifier from `src/api-keys`. */
export function setupApiKeys(apiKeys: ApiKeysOptions, now: Clock): KeySetup {
  if (!isObject(apiKeys)) throw new TypeError('apiKeys: expected an options object');
  // A verifier object (createApiKeyVerifier) is accepted as is: it is `{ verify }`.
  knownKeys(apiKeys, API_KEYS_KEYS, 'apiKeys');
  const prefixes = stringList(apiKeys.prefixes, 'apiKeys.prefixes') ?? [DEFAULT_API_KEY_PREFIX];
  if (prefixes.length === 0) throw new TypeError('apiKeys.prefixes: expected at least one prefix');
  prefixes.forEach((prefix, i) => {
    if (!isValidApiKeyPrefix(prefix)) {
      throw new TypeError(
        `apiKeys.prefixes[${i}]: not a valid key prefix (like "rk_live_"): ${JSON.stringify(prefix)}`,
      );
    }
  });
  const isKey = optionalFunction(apiKeys.isKey, 'apiKeys.isKey');
  if (apiKeys.verify !== undefined) {
    if (typeof apiKeys.verify !== 'function') throw new TypeError('apiKeys.verify: expected a function');
    const known = optionalFunction(apiKeys.isKnown, 'apiKeys.isKnown');
    for (const field of [
      'store',
      'hasher',
      'acceptLegacyKeys',
      'cache',
      'lastUsed',
      'checkRateLimit',
      'consumeCredits',
    ] as const) {
      if (apiKeys[field] !== undefined) {
        throw new TypeError(`apiKeys.${field}: only with apiKeys.store; your verify function does this part`);
      }
    }
    const verify = apiKeys.verify;
    const isKnown = known === undefined ? () => false : (key: string) => known.call(apiKeys, key);
    return { verify: (key, options) => verify.call(apiKeys, key, options), isKnown, isKey, prefixes };
  }
  if (apiKeys.isKnown !== undefined) {
    throw new TypeError('apiKeys.isKnown: only with apiKeys.verify (store mode knows its own cache)');
  }
  const store = apiKeys.store;
  if (store === undefined || !isObject(store) || typeof store.findByHash !== 'function') {
    throw new TypeError('apiKeys: give verify(key, { scope }), or store ({ findByHash }) and hasher');
  }
  const verifier = within('apiKeys', () =>
    createApiKeyVerifier({
      hasher: apiKeys.hasher as KeyHasher,
      findByHash: (hashes) => store.findByHash(hashes),
      prefixes,
      ...(apiKeys.acceptLegacyKeys !== undefined ? { acceptLegacyKeys: apiKeys.acceptLegacyKeys } : {}),
      ...(apiKeys.cache !== undefined ? { cache: apiKeys.cache } : {}),
      ...(apiKeys.lastUsed !== undefined ? { lastUsed: apiKeys.lastUsed } : {}),
      ...(apiKeys.checkRateLimit !== undefined ? { checkRateLimit: apiKeys.checkRateLimit } : {}),
      ...(apiKeys.consumeCredits !== undefined ? { consumeCredits: apiKeys.consumeCredits } : {}),
      now,
    }),
  );
  return {
    verify: (key, options) => verifier.verify(key, options.scope ? { scope: options.scope } : {}),
    isKnown: (key) => verifier.isKnown(key),
    isKey,
    prefixes,
  };
}
