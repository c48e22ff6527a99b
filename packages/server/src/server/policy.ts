/**
 * `rampart serve`'s configuration in the engine's terms: the options of `createRampart`, and
 * the server's limit rules sorted by the moment of the request each can be checked (the client
 * address before the body is read, a body field before validation, a user or key after
 * authentication). The policy itself is the engine's; this file only translates.
 */
import type { FailureNews, JwtOptions, RampartOptions, RateLimitRule, SecurityEvent } from 'rampart';
import { RAMPART_DEFAULTS } from 'rampart';
import type { KeyDecision } from 'rampart/internal/api-keys/verify.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import { bodyEmailKey, type RateLimitRuleOptions, routeCosts } from 'rampart/internal/rate-limit/rules.ts';
import type { RateLimitStore } from 'rampart/internal/rate-limit/store.ts';
import type { AccessTokenResult } from 'rampart/internal/tokens/access-token.ts';
import { OPERATIONAL_ROUTES, type RateRuleConfig, type ServerConfig } from './config.ts';

/** The server's limit rules, by when they can run. */
export interface ServerLimitRules {
  /** The operational routes' own per-address rules (health, JWKS, metrics), instead of `byAddress`. */
  operational: Array<{ routes: readonly string[]; rule: RateLimitRule }>;
  /** Keyed by client address: checked on `onRequest`, before the body is read. */
  byAddress: RateLimitRule[];
  /** Keyed by a body field (the e-mail of a password reset): checked before validation. */
  byBody: RateLimitRule[];
  /** Keyed by user or API key: checked once the caller is authenticated. */
  byIdentity: RateLimitRule[];
  /** Failed logins per account (`attempts()` on the login route). */
  loginAccount: RateLimitRule;
  /** Failed current-password checks per user (`attempts()` on the password change route). */
  passwordUser: RateLimitRule;
}

function ruleOf(r: RateRuleConfig, cost: RateLimitRuleOptions['cost']): RateLimitRuleOptions {
  return {
    name: r.name,
    limit: r.limit,
    window: r.windowMs,
    algorithm: r.algorithm,
    onStoreError: r.onStoreError,
    ...(r.route ? { routes: r.route } : {}),
    key: r.key === 'email' ? bodyEmailKey : r.key,
    ...(r.blockForMs !== undefined ? { blockFor: r.blockForMs } : {}),
    ...(cost !== undefined ? { cost } : {}),
  };
}

/** The configured rules in the limiter's terms, sorted by when each can run. */
export function serverLimitRules(config: ServerConfig): ServerLimitRules {
  const costs =
    Object.keys(config.rateLimit.costs).length > 0
      ? routeCosts(config.rateLimit.costs, 1, 'rateLimit.costs')
      : undefined;
  const rule = (r: RateRuleConfig) => ruleOf(r, costs);
  const all = [config.rateLimit.default, ...config.rateLimit.rules];
  const { accountFailures } = config.rateLimit;
  return {
    operational: (Object.keys(OPERATIONAL_ROUTES) as Array<keyof typeof OPERATIONAL_ROUTES>).map((name) => ({
      routes: OPERATIONAL_ROUTES[name],
      rule: rule(config.rateLimit.operational[name]),
    })),
    byAddress: all.filter((r) => r.key === 'ip').map(rule),
    byBody: all.filter((r) => r.key === 'email').map(rule),
    byIdentity: all.filter((r) => r.key === 'user' || r.key === 'apiKey').map(rule),
    loginAccount: {
      name: 'login-failures-account',
      key: bodyEmailKey,
      limit: accountFailures.limit,
      window: accountFailures.windowMs,
    },
    passwordUser: {
      name: 'password-failures-user',
      key: 'user',
      limit: accountFailures.limit,
      window: accountFailures.windowMs,
    },
  };
}

/** What the engine is given from the server's own services. */
export interface PolicyDeps {
  /** The session service's access-token verifier (it owns revocation and the cache). */
  tokens: { verify(token: string): Promise<AccessTokenResult>; isCached(token: string): boolean };
  /** The API key service (lazily bound: it is created after the engine, on the engine's store). */
  keys: {
    verify(key: string, options: { scope?: readonly string[] }): Promise<KeyDecision>;
    isKnown(key: string): boolean;
    isBootstrapKey(text: string): boolean;
  };
  /** Where counters live: Redis when configured, else a memory store of this process. */
  store: RateLimitStore;
  /** Whether `store` is shared with other instances (Redis). */
  storeShared: boolean;
  /** With a shared store: the instances tell each other of failed authentications (Redis). */
  failureNews?: FailureNews;
  onEvent: (event: SecurityEvent) => void;
  onError: (error: unknown, view?: { readonly requestId?: string | undefined }) => void;
  onRateLimited: (rule: string) => void;
  now: Clock;
}

/** The options of `createRampart` for this configuration. */
export function engineOptions(config: ServerConfig, deps: PolicyDeps): RampartOptions {
  const { keys } = deps;
  return {
    jwt: {
      verifier: deps.tokens,
      // Checked in full by the engine (algorithms, URLs, claim paths), the field named.
      ...(config.tokens.trustedIssuers.length > 0
        ? { issuers: config.tokens.trustedIssuers as unknown as NonNullable<JwtOptions['issuers']> }
        : {}),
    },
    apiKeys: {
      prefixes: [config.apiKeys.prefix],
      verify: (key, options) => keys.verify(key, options),
      isKnown: (key) => keys.isKnown(key),
      // The bootstrap admin key may be any text of 32+ characters, so it may lack the prefix.
      ...(config.bootstrapAdminKey !== undefined
        ? { isKey: (bearer: string) => keys.isBootstrapKey(bearer) }
        : {}),
    },
    rateLimit: {
      store: deps.store,
      storeTimeoutMs: config.rateLimit.storeTimeoutMs,
      ipv6Prefix: config.rateLimit.ipv6Prefix,
      // Checked in full by the engine, the field named (`rateLimit.deny[2].cidr`).
      allow: config.rateLimit.allow,
      deny: config.rateLimit.deny,
      restrict: config.rateLimit.restrict,
    },
    // One budget across instances: a shared store counts failures too. On one instance the
    // engine's own counter does. Either way the engine knows which addresses failed lately (on
    // Redis, told by the other instances), so a client that never failed skips the counter read.
    authFailures: {
      limit: config.rateLimit.authFailures.limit,
      window: config.rateLimit.authFailures.windowMs,
      ...(deps.storeShared ? { store: deps.store } : {}),
      ...(deps.storeShared && deps.failureNews ? { news: deps.failureNews } : {}),
    },
    cors: { ...config.cors },
    securityHeaders: { ...RAMPART_DEFAULTS.securityHeaders, https: config.tls !== undefined },
    trustProxy: config.trustProxy,
    clientIpHeader: config.clientIpHeader,
    json: { limitBytes: config.limits.bodyBytes, maxDepth: config.limits.jsonDepth },
    onEvent: deps.onEvent,
    onError: deps.onError,
    onRateLimited: deps.onRateLimited,
    now: deps.now,
  };
}
