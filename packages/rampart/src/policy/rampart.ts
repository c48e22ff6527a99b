/**
 * The library face: `createRampart(options)` compiles one security policy into framework-free
 * steps over a small request view. Each step answers a decision — go on (with headers to add
 * and, for authentication, the principal) or stop with this answer (status, headers,
 * problem+json body) — and never touches a framework object. The adapters in
 * `src/adapters/*` translate a request in and a decision out, and nothing else, so Express,
 * Fastify and Hono answer byte-for-byte alike.
 *
 * Everything here reuses the domain: tokens (jose, RFC 8725 checks), api-keys (verifier),
 * rate-limit (limiter and stores), validation (Standard Schema), http (CORS, headers, client
 * IP, problem+json) and policy (authenticate, authorize).
 */
import { DEFAULT_API_KEY_PREFIX } from '../api-keys/format.ts';
import type { KeyDecision } from '../api-keys/verify.ts';
import { type ErrorCode, RampartError } from '../errors.ts';
import { type ClientIpResolver, createClientIpResolver } from '../http/client-ip.ts';
import { type CorsOptions, createCors } from '../http/cors.ts';
import { type HttpAnswer, problemAnswer, toRampartError } from '../http/problem.ts';
import { type SecurityHeadersOptions, securityHeaders } from '../http/security-headers.ts';
import { parseDuration } from '../lib/duration.ts';
import { ipKey } from '../lib/ip.ts';
import type { Awaitable } from '../lib/types.ts';
import { createRateLimiter, type RateLimiter } from '../rate-limit/limiter.ts';
import { type MemoryRateLimitStore, memoryRateLimitStore } from '../rate-limit/memory-store.ts';
import { compileRule, type RateLimitRequest } from '../rate-limit/rules.ts';
import type { RateLimitStore } from '../rate-limit/store.ts';
import type { AccessTokenInput, AccessTokenResult, IssuedAccessToken } from '../tokens/access-token.ts';
import { type StandardSchemaV1, validate as validateWithSchema } from '../validation/standard-schema.ts';
import { type AuthenticatorOptions, type AuthFailure, createAuthenticator } from './authenticate.ts';
import { type JsonBodyInput, jsonBodyConfig, readJsonBody } from './json-request.ts';
import { insufficientScope, isAllowed, type Principal } from './principal.ts';
import {
  AUTH_FAILURE_KEYS,
  isObject,
  knownKeys,
  OPTION_KEYS,
  optionalFunction,
  RAMPART_DEFAULTS,
  RATE_LIMIT_KEYS,
  type RampartOptions,
  type RateLimitRule,
  record,
  type SecurityEvent,
  setupApiKeys,
  setupJwt,
  stringList,
  within,
} from './rampart-options.ts';

export type {
  ApiKeyLookup,
  ApiKeysOptions,
  AuthFailureOptions,
  JwtOptions,
  RampartOptions,
  RampartRateLimitOptions,
  RateLimitRule,
  SecurityEvent,
} from './rampart-options.ts';
export { RAMPART_DEFAULTS } from './rampart-options.ts';

// ---------------------------------------------------------------------------------------------
// The request view and the decisions

/**
 * What the policy sees of a request. An adapter builds one per request (and reuses it for
 * every step of that request); nothing in it is a framework object.
 *
 * Build it as a plain object with every field present and plain data values, and refresh
 * `route`, `body` and `params` as the framework learns them. Not with getters: V8 gives each
 * object literal with its own accessor closures a hidden class of its own, so a view per
 * request with getters kept young objects alive through GCs (measured with bench/adapters.ts:
 * about a quarter of the throughput lost).
 */
export interface RequestView {
  /** The method, upper case. */
  readonly method: string;
  /** The URL path, without the query string. */
  readonly path: string;
  /**
   * The router's route pattern (`/api/users/:id`) once the framework has matched one. Rate-limit
   * rules with `routes` match it (falling back to `path`), and events name it.
   */
  route?: string | undefined;
  /** A request header by lower-case name; several lines joined with `, `. */
  readonly headers: (name: string) => string | undefined;
  /** The raw query string, after `?`, if any. */
  readonly query?: string | undefined;
  /** The socket peer's address; the client address is resolved from it (`trustProxy`). */
  readonly ip: string;
  /** The parsed body, if one was read. */
  body?: unknown;
  /** The route parameters the router extracted. */
  params?: Readonly<Record<string, string>> | undefined;
  /** Set by the adapter once `authenticate` passed: limits keyed by `'user'`/`'apiKey'` read it. */
  principal?: Principal | undefined;
  /** A request id to put in problem bodies and events. */
  readonly requestId?: string | undefined;
}

/** A refusal: stop and send `answer`. `error` is the error behind it (absent for a CORS preflight). */
export interface Refusal {
  readonly ok: false;
  readonly answer: HttpAnswer;
  readonly error?: RampartError;
}

/**
 * What a step answers: go on (adding `headers` to the eventual response) or stop with an answer.
 * `headers` of a passing decision may be shared and frozen: copy them, don't change them.
 */
export type Decision<Extra extends object = Record<never, never>> =
  | ({ readonly ok: true; readonly headers: Readonly<Record<string, string>> } & Extra)
  | Refusal;

/** The decision of an authentication step: the principal when it passed. */
export type AuthDecision = Decision<{ readonly principal: Principal }>;

/** The validated (and transformed) parts of a request, by the schemas that were given. */
export interface ValidatedParts {
  body?: unknown;
  query?: unknown;
  params?: unknown;
}

/** The decision of a validation step: the schemas' output when it passed. */
export type ValidationDecision = Decision<{ readonly value: ValidatedParts }>;

/** The decision of reading a JSON body: the parsed value (`undefined` for no body). */
export type JsonBodyDecision = Decision<{ readonly value: unknown }>;

/** A step over a request view. */
export type Step<D> = (view: RequestView) => Promise<D>;

/** Which credentials an authentication step takes. */
export type AcceptedCredential = 'bearer' | 'apiKey' | 'any';

/** Options of `rampart.authenticate()`. */
export interface AuthenticateOptions {
  /** Default `'any'` of those configured (`jwt` → bearer tokens, `apiKeys` → keys). */
  accept?: AcceptedCredential;
  /** Any one of these roles passes (admins pass every check). */
  roles?: ReadonlyArray<'user' | 'admin'>;
  /** Every one of these scopes is needed (an `admin` scope implies all). */
  scopes?: readonly string[];
}

/** Schemas for `rampart.validate()`: any Standard Schema v1 (Zod 4, Valibot, ArkType, …). */
export interface ValidateSchemas {
  body?: StandardSchemaV1;
  query?: StandardSchemaV1;
  params?: StandardSchemaV1;
}

/** The compiled policy: framework-free steps. */
export interface Rampart {
  /**
   * A step that requires a credential (RFC 6750 answers: 401 none or bad, 403 missing scope or role).
   * @throws TypeError at creation when `accept` names a credential that is not configured.
   */
  authenticate(options?: AuthenticateOptions): Step<AuthDecision>;
  /** `authenticate({ accept: 'bearer' })`: the tutorial's `authenticateToken`. */
  readonly authenticateToken: Step<AuthDecision>;
  /** `authenticate({ accept: 'apiKey', scopes: [permission] })`: the tutorial's `validateApiKey`. */
  validateApiKey(permission?: string | readonly string[]): Step<AuthDecision>;
  /** A step that counts the request against the rules (429 with `Retry-After` when over). */
  rateLimit(rules: RateLimitRule | readonly RateLimitRule[]): Step<Decision>;
  /** 100 requests per 15 minutes per client (`rateLimit.api`). */
  readonly apiLimiter: Step<Decision>;
  /** 5 requests per hour per client (`rateLimit.sensitive`). */
  readonly sensitiveLimiter: Step<Decision>;
  /** A step that validates body, query and params (400 `VALIDATION_FAILED` with field errors). */
  validate(schemas: ValidateSchemas): Step<ValidationDecision>;
  /** A CORS step: headers to add, or the preflight's 204 answer. Options default to `options.cors`. */
  cors(options?: CorsOptions): (view: RequestView) => Decision;
  /** The security headers for every response. Options default to `options.securityHeaders`. */
  securityHeaders(options?: SecurityHeadersOptions): Readonly<Record<string, string>>;
  /** The client address of a request, behind `trustProxy`. */
  clientIp(view: RequestView): string;
  /** Reads a JSON body with the `json` limits (400, 413, 415 answers). */
  readJson(input: JsonBodyInput, view?: RequestView): Promise<JsonBodyDecision>;
  /** The problem+json answer for anything thrown; 5xx answers carry no detail. */
  errorAnswer(error: unknown, view?: RequestView): HttpAnswer;
  /** The 404 problem+json answer. */
  notFound(view?: RequestView): HttpAnswer;
  /**
   * Issues an access token (with `jwt.secret` or a `jwt.ring`): `{ sub, role, scopes? }`.
   * @throws TypeError when no signing key is configured.
   */
  issueAccessToken(input: AccessTokenInput): Promise<IssuedAccessToken>;
  /** Stops the timers and closes the stores Rampart made. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

const BRAND = Symbol.for('rampart.policy');
/** The most client addresses whose recent failures are remembered (as the memory store's own bound). */
const MAX_RECENT_FAILURES = 100_000;
const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
const AUTHENTICATE_KEYS = new Set(['accept', 'roles', 'scopes']);
const VALIDATE_PARTS = ['params', 'query', 'body'] as const;

function isStore(value: unknown): value is RateLimitStore {
  return (
    isObject(value) && typeof record(value).consume === 'function' && typeof record(value).peek === 'function'
  );
}

/** Parses a raw query string into an object (repeated names become arrays) with no prototype. */
function parseQuery(query: string | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  if (!query) return out;
  for (const [name, value] of new URLSearchParams(query)) {
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

/** RFC 9112 §6.3: a request has a body when it says a length above 0 or a transfer coding. */
function hasBody(view: RequestView): boolean {
  const length = view.headers('content-length');
  return length === undefined ? view.headers('transfer-encoding') !== undefined : length.trim() !== '0';
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const standard = (value as { '~standard'?: { version?: unknown; validate?: unknown } } | null)?.[
    '~standard'
  ];
  return (
    typeof standard === 'object' &&
    standard !== null &&
    standard.version === 1 &&
    typeof standard.validate === 'function'
  );
}

/**
 * Compiles a security policy into framework-free steps.
 *
 * @throws TypeError naming the field (`jwt.secret: …`, `rateLimit.api.window: …`,
 * `cors.origins[0]: …`) when an option is wrong.
 * @example
 * const rampart = createRampart({
 *   jwt: { secret: process.env.JWT_SECRET!, issuer: 'https://api.example.com', audience: 'https://api.example.com' },
 *   cors: { origins: ['https://app.example.com'] },
 *   onEvent: (event) => console.log(JSON.stringify(event)),
 * });
 * const decision = await rampart.authenticateToken(view);
 * if (!decision.ok) return send(decision.answer); // 401 with WWW-Authenticate, problem+json
 */
export function createRampart(options: RampartOptions = {}): Rampart {
  if (!isObject(options)) throw new TypeError('createRampart: expected an options object');
  knownKeys(options, OPTION_KEYS, 'createRampart');
  const now = optionalFunction(options.now, 'now') ?? Date.now;
  const onEvent = optionalFunction(options.onEvent, 'onEvent');
  const onError = optionalFunction(options.onError, 'onError') ?? ((error: unknown) => console.error(error));
  const tokens = options.jwt === undefined ? undefined : setupJwt(options.jwt, now);
  const keys = options.apiKeys === undefined ? undefined : setupApiKeys(options.apiKeys, now);
  const resolveIp: ClientIpResolver = createClientIpResolver({
    trustProxy: stringList(options.trustProxy, 'trustProxy') ?? [],
    ...(options.clientIpHeader !== undefined ? { header: options.clientIpHeader } : {}),
  });
  const json = jsonBodyConfig(options.json);
  const defaultCors = options.cors;
  if (defaultCors !== undefined) createCors(defaultCors); // checked now, compiled when used
  const defaultHeaders = securityHeaders(options.securityHeaders ?? RAMPART_DEFAULTS.securityHeaders);

  // Rate limiting: one store for every limiter; a store Rampart made is Rampart's to close.
  const limitOptions = options.rateLimit ?? {};
  if (!isObject(limitOptions)) throw new TypeError('rateLimit: expected an options object');
  knownKeys(limitOptions, RATE_LIMIT_KEYS, 'rateLimit');
  if (limitOptions.store !== undefined && !isStore(limitOptions.store)) {
    throw new TypeError('rateLimit.store: expected a RateLimitStore (consume, peek, reset)');
  }
  const ownStores: MemoryRateLimitStore[] = [];
  const own = (store: MemoryRateLimitStore) => {
    ownStores.push(store);
    return store;
  };
  let limitStore = limitOptions.store;
  // The per-instance store every limiter falls back on while a shared store is down.
  let fallback: MemoryRateLimitStore | undefined;
  const fallbackStore = (): MemoryRateLimitStore => {
    if (fallback === undefined) fallback = own(memoryRateLimitStore());
    return fallback;
  };
  const limiters: RateLimiter[] = [];
  const ruleNames = new Set<string>();
  const apiRule = { ...RAMPART_DEFAULTS.apiLimiter, ...(limitOptions.api ?? {}) } as RateLimitRule;
  const sensitiveRule = {
    ...RAMPART_DEFAULTS.sensitiveLimiter,
    ...(limitOptions.sensitive ?? {}),
  } as RateLimitRule;
  // Checked now, though their limiters are made only if used.
  compileRule(apiRule, 'rateLimit.api', limitOptions.ipv6Prefix ?? 64);
  compileRule(sensitiveRule, 'rateLimit.sensitive', limitOptions.ipv6Prefix ?? 64);

  const emit = (event: Omit<SecurityEvent, 'at'>, view?: RequestView): void => {
    if (onEvent === undefined) return;
    const full: SecurityEvent = { ...event, at: now() };
    if (view?.requestId !== undefined) full.requestId = view.requestId;
    try {
      onEvent(full);
    } catch (error) {
      process.emitWarning(`rampart onEvent threw: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const refuse = (error: RampartError, view?: RequestView): Refusal => ({
    ok: false,
    answer: problemAnswer(error, view?.requestId),
    error,
  });

  // Per-request memos live on the view under this policy's own symbols: another policy in the
  // same app (with another trustProxy) keeps its own, and no WeakMap grows with the traffic.
  const IP = Symbol('rampart.clientIp');
  const LIMITS = Symbol('rampart.limits');
  type Memo = RequestView & { [IP]?: string; [LIMITS]?: Record<string, string> };
  const clientIp = (view: RequestView): string => {
    const memo = view as Memo;
    let ip = memo[IP];
    if (ip === undefined) {
      ip = resolveIp(view.ip, view.headers);
      memo[IP] = ip;
    }
    return ip;
  };

  const makeLimiter = (rules: readonly RateLimitRule[], field: string): RateLimiter => {
    if (limitStore === undefined) limitStore = own(memoryRateLimitStore());
    rules.forEach((rule, i) => {
      const at = rules.length > 1 ? `${field}[${i}]` : field;
      // Checked here so that the TypeError names the field as the caller wrote it.
      compileRule(rule, at, limitOptions.ipv6Prefix ?? 64);
      if (ruleNames.has(rule.name)) {
        // Same name, same counters: two limiters would silently share (and double-count) buckets.
        throw new TypeError(`${at}.name: ${JSON.stringify(rule.name)} is already used by another limit`);
      }
    });
    const limiter = within('rateLimit', () =>
      createRateLimiter({
        store: limitStore!,
        rules,
        fallback: fallbackStore(),
        now,
        ...(limitOptions.storeTimeoutMs !== undefined ? { storeTimeoutMs: limitOptions.storeTimeoutMs } : {}),
        ...(limitOptions.ipv6Prefix !== undefined ? { ipv6Prefix: limitOptions.ipv6Prefix } : {}),
        onRefused: (info) =>
          emit({
            type: 'excess_rate_limit_exceeded',
            outcome: 'blocked',
            ip: info.request.ip,
            ...((info.request.userId ?? info.request.apiKeyId)
              ? { actor: (info.request.userId ?? info.request.apiKeyId)! }
              : {}),
            detail: {
              rule: info.rule,
              route: `${info.request.method} ${info.request.route}`,
              count: info.count,
            },
          }),
        onStoreStateChange: (state, error) =>
          emit({
            type: state === 'down' ? 'sys_store_down' : 'sys_store_up',
            outcome: state === 'down' ? 'failure' : 'info',
            detail: { store: 'rate-limit', ...(error instanceof Error ? { error: error.name } : {}) },
          }),
      }),
    );
    for (const rule of rules) ruleNames.add(rule.name);
    limiters.push(limiter);
    return limiter;
  };

  // Failed authentications per client address (see AuthFailureOptions).
  let failures: RateLimiter | undefined;
  let recentFailures: Map<string, number> | undefined;
  let failureWindowMs = 0;
  if (options.authFailures !== false) {
    const given = options.authFailures ?? {};
    if (!isObject(given)) throw new TypeError('authFailures: expected { limit, window } or false');
    knownKeys(given, AUTH_FAILURE_KEYS, 'authFailures');
    if (given.store !== undefined && !isStore(given.store)) {
      throw new TypeError('authFailures.store: expected a RateLimitStore (consume, peek, reset)');
    }
    const store = given.store ?? own(memoryRateLimitStore());
    const rule: RateLimitRule = {
      name: 'auth-failures',
      counts: 'failures',
      key: 'ip',
      limit: given.limit ?? RAMPART_DEFAULTS.authFailures.limit,
      window: given.window ?? RAMPART_DEFAULTS.authFailures.window,
    };
    compileRule(rule, 'authFailures', 64);
    failures = createRateLimiter({ store, fallback: fallbackStore(), now, rules: [rule] });
    ruleNames.add(rule.name);
    // With its own per-process counter (the default), Rampart knows which addresses failed
    // lately, so a credential from any other address skips the counter read: a client that
    // never failed pays nothing for the check. A shared store may hold other instances'
    // counts, so it is always asked. Keys are the limiter's (IPv6 by /64), and the map is
    // bounded like the memory store it mirrors (eviction can only loosen, never tighten).
    if (given.store === undefined) {
      recentFailures = new Map();
      failureWindowMs = parseDuration(rule.window, 'authFailures.window');
    }
  }
  const markFailure = (ip: string): void => {
    if (recentFailures === undefined) return;
    const key = ipKey(ip);
    recentFailures.delete(key);
    if (recentFailures.size >= MAX_RECENT_FAILURES)
      recentFailures.delete(recentFailures.keys().next().value!);
    recentFailures.set(key, now() + failureWindowMs);
  };
  const mayBeBlocked = (ip: string): boolean => {
    if (recentFailures === undefined) return true;
    const key = ipKey(ip);
    const until = recentFailures.get(key);
    if (until === undefined) return false;
    if (until > now()) return true;
    recentFailures.delete(key);
    return false;
  };
  // Made once, and synchronous for a client that never failed: a per-request async hook here
  // measurably kept young objects alive through scavenges (see bench/adapters.ts).
  const isBlocked =
    failures === undefined
      ? undefined
      : (ip: string): Awaitable<boolean> =>
          mayBeBlocked(ip)
            ? failures.isBlocked({ method: 'GET', route: '/', ip }).then((check) => check.blocked)
            : false;
  const failureRequest = (view: RequestView, ip: string): RateLimitRequest => ({
    method: view.method,
    route: view.route ?? view.path,
    ip,
  });

  const verifyToken =
    tokens?.verify ?? (async () => ({ ok: false, code: 'UNSUPPORTED_ALG' }) as AccessTokenResult);
  const apiKeyPrefixes = keys?.prefixes ?? [DEFAULT_API_KEY_PREFIX];

  function authenticate(authOptions: AuthenticateOptions = {}): Step<AuthDecision> {
    if (!isObject(authOptions)) throw new TypeError('authenticate: expected an options object');
    knownKeys(authOptions, AUTHENTICATE_KEYS, 'authenticate');
    const acceptText = authOptions.accept ?? 'any';
    if (acceptText !== 'any' && acceptText !== 'bearer' && acceptText !== 'apiKey') {
      throw new TypeError(
        `authenticate.accept: expected 'bearer', 'apiKey' or 'any', got ${JSON.stringify(acceptText)}`,
      );
    }
    if (acceptText === 'bearer' && tokens === undefined) {
      throw new TypeError("authenticate.accept: 'bearer' needs the jwt option of createRampart");
    }
    if (acceptText === 'apiKey' && keys === undefined) {
      throw new TypeError("authenticate.accept: 'apiKey' needs the apiKeys option of createRampart");
    }
    if (tokens === undefined && keys === undefined) {
      throw new TypeError('authenticate: configure jwt or apiKeys in createRampart first');
    }
    const accept = {
      bearer: tokens !== undefined && acceptText !== 'apiKey',
      apiKey: keys !== undefined && acceptText !== 'bearer',
    };
    const roles = authOptions.roles;
    if (roles !== undefined && (!Array.isArray(roles) || roles.some((r) => r !== 'user' && r !== 'admin'))) {
      throw new TypeError("authenticate.roles: expected an array of 'user' and 'admin'");
    }
    const scopes = stringList(authOptions.scopes, 'authenticate.scopes') ?? [];
    const requirement = { ...(roles !== undefined ? { roles } : {}), scopes };
    const needed = [...scopes, ...(roles ?? []).map((role) => `role:${role}`)];
    const scopeOption = scopes.length > 0 ? { scope: scopes } : {};
    const verifyApiKey =
      keys === undefined
        ? undefined
        : async (key: string): Promise<KeyDecision> => {
            // The scope goes to the key verifier so that a key probing routes it may not call
            // spends neither its rate limit nor its credits. A key refused only for scope is a
            // valid credential: it must get the 403 below, not the 401 of a bad key.
            const decision = await keys.verify(key, scopeOption);
            if (!decision.valid && decision.code === 'INSUFFICIENT_SCOPE' && decision.keyId !== undefined) {
              return {
                valid: true,
                code: 'VALID',
                keyId: decision.keyId,
                ownerId: null,
                scopes: [],
                expiresAt: null,
              };
            }
            return decision;
          };

    return async (view) => {
      const ip = clientIp(view);
      const onFailure = (failure: AuthFailure) => {
        if (failures !== undefined) {
          markFailure(ip);
          failures.recordFailure(failureRequest(view, ip)).catch((error: unknown) => onError(error));
        }
        emit(
          {
            type: failure.reason === 'REVOKED' ? 'authn_token_revoked' : 'authn_token_invalid',
            outcome: 'failure',
            ip,
            ...(failure.keyId !== undefined ? { actor: failure.keyId } : {}),
            detail: {
              credential: failure.kind,
              reason: failure.reason,
              route: `${view.method} ${view.route ?? view.path}`,
            },
          },
          view,
        );
      };
      const hooks: AuthenticatorOptions = { apiKeyPrefixes, verifyAccessToken: verifyToken, onFailure };
      if (verifyApiKey !== undefined) hooks.verifyApiKey = verifyApiKey;
      if (isBlocked !== undefined) hooks.isBlocked = isBlocked;
      const authenticator = createAuthenticator(hooks);
      let result: Awaited<ReturnType<typeof authenticator.authenticate>>;
      try {
        result = await authenticator.authenticate({ header: view.headers, query: view.query }, ip, accept);
      } catch (error) {
        // Only a malformed request throws here (a credential in the URL, two credentials).
        if (error instanceof RampartError && error.status < 500) return refuse(error, view);
        throw error;
      }
      if (!result.ok) return refuse(result.error, view);
      const principal = result.principal;
      if (!isAllowed(principal, requirement)) {
        emit(
          {
            type: 'authz_fail',
            outcome: 'failure',
            ip,
            ...((principal.userId ?? principal.keyId)
              ? { actor: (principal.userId ?? principal.keyId)! }
              : {}),
            detail: { route: `${view.method} ${view.route ?? view.path}`, needed },
          },
          view,
        );
        return refuse(insufficientScope(scopes), view);
      }
      return { ok: true, principal, headers: EMPTY };
    };
  }

  // The RateLimit fields are lists (draft-ietf-httpapi-ratelimit-headers): when several limits
  // apply to one request (apiLimiter, then sensitiveLimiter), the response names them all. Each
  // step answers the whole list so far, so an adapter only ever sets the fields.
  const withEarlierLimits = (view: RequestView, headers: Record<string, string>): Record<string, string> => {
    const earlier = (view as Memo)[LIMITS];
    let merged = headers;
    if (earlier !== undefined && headers['RateLimit-Policy'] !== undefined) {
      merged = {
        ...headers,
        'RateLimit-Policy': `${earlier['RateLimit-Policy']},${headers['RateLimit-Policy']}`,
        RateLimit: `${earlier.RateLimit},${headers.RateLimit}`,
      };
    } else if (earlier !== undefined) {
      merged = { ...earlier, ...headers };
    }
    if (merged['RateLimit-Policy'] !== undefined) {
      (view as Memo)[LIMITS] = {
        'RateLimit-Policy': merged['RateLimit-Policy'],
        RateLimit: merged.RateLimit!,
      };
    }
    return merged;
  };

  function rateLimit(rules: RateLimitRule | readonly RateLimitRule[], field = 'rateLimit'): Step<Decision> {
    const list = Array.isArray(rules) ? (rules as readonly RateLimitRule[]) : [rules as RateLimitRule];
    if (list.length === 0) throw new TypeError(`${field}: expected a rule or a non-empty array of rules`);
    const limiter = makeLimiter(list, field);
    return async (view) => {
      const principal = view.principal;
      const result = await limiter.check({
        method: view.method,
        route: view.route ?? view.path,
        ip: clientIp(view),
        userId: principal?.userId ?? undefined,
        apiKeyId: principal?.keyId,
        body: view.body,
      });
      const headers = withEarlierLimits(view, result.headers);
      if (result.allowed) return { ok: true, headers };
      // A rule whose store is down and whose policy is 'closed' refused without counting: that
      // is an outage (503), not the client's fault (429).
      const code: ErrorCode = result.failure === 'closed' ? 'STORE_UNAVAILABLE' : 'RATE_LIMITED';
      return refuse(new RampartError(code, { headers }), view);
    };
  }

  const memo = new Map<string, unknown>();
  const once = <T>(key: string, make: () => T): T => {
    if (!memo.has(key)) memo.set(key, make());
    return memo.get(key) as T;
  };

  const rampart: Rampart & { [BRAND]: true } = {
    [BRAND]: true,
    authenticate,
    get authenticateToken() {
      return once('authenticateToken', () => {
        if (tokens === undefined)
          throw new TypeError('authenticateToken: needs the jwt option of createRampart');
        return authenticate({ accept: 'bearer' });
      });
    },
    validateApiKey(permission) {
      const scopes =
        permission === undefined ? [] : typeof permission === 'string' ? [permission] : [...permission];
      return once(`validateApiKey:${JSON.stringify(scopes)}`, () => {
        if (keys === undefined)
          throw new TypeError('validateApiKey: needs the apiKeys option of createRampart');
        return authenticate({ accept: 'apiKey', scopes });
      });
    },
    rateLimit: (rules) => rateLimit(rules),
    get apiLimiter() {
      return once('apiLimiter', () => rateLimit(apiRule, 'rateLimit.api'));
    },
    get sensitiveLimiter() {
      return once('sensitiveLimiter', () => rateLimit(sensitiveRule, 'rateLimit.sensitive'));
    },
    validate(schemas) {
      if (!isObject(schemas)) throw new TypeError('validate: expected { body?, query?, params? }');
      knownKeys(schemas, new Set(VALIDATE_PARTS), 'validate');
      const parts = VALIDATE_PARTS.filter((part) => schemas[part] !== undefined);
      if (parts.length === 0) throw new TypeError('validate: give at least one of body, query, params');
      for (const part of parts) {
        if (!isStandardSchema(schemas[part])) {
          throw new TypeError(`validate.${part}: expected a Standard Schema v1 (Zod 4, Valibot, ArkType, …)`);
        }
      }
      return async (view) => {
        // A body some other parser read (Fastify's text/plain) is not the JSON the schema is for.
        if (parts.includes('body') && hasBody(view) && !isJson(view.headers('content-type'))) {
          return refuse(
            new RampartError('UNSUPPORTED_MEDIA_TYPE', { detail: 'Send the body as application/json.' }),
            view,
          );
        }
        const value: ValidatedParts = {};
        const errors = [];
        for (const part of parts) {
          const input =
            part === 'body'
              ? (view.body ?? {})
              : part === 'query'
                ? parseQuery(view.query)
                : (view.params ?? {});
          const result = await validateWithSchema(schemas[part]!, input);
          if (result.ok) value[part] = result.value;
          else {
            const prefix = part === 'body' ? '' : `/${part}`;
            for (const error of result.errors) errors.push({ ...error, path: prefix + error.path });
          }
        }
        if (errors.length > 0) {
          emit(
            {
              type: 'input_validation_fail',
              outcome: 'failure',
              ip: clientIp(view),
              // Field names and codes only: values may be passwords.
              detail: {
                route: `${view.method} ${view.route ?? view.path}`,
                fields: errors.map((e) => `${e.path}:${e.code}`),
              },
            },
            view,
          );
          return refuse(new RampartError('VALIDATION_FAILED', { errors }), view);
        }
        return { ok: true, headers: EMPTY, value };
      };
    },
    cors(corsOptions) {
      const given = corsOptions ?? defaultCors;
      if (given === undefined)
        throw new TypeError('cors.origins: pass { origins } here or in createRampart({ cors })');
      const cors = createCors(given);
      return (view) => {
        const decision = cors.decide({
          method: view.method,
          origin: view.headers('origin'),
          accessControlRequestMethod: view.headers('access-control-request-method'),
          accessControlRequestHeaders: view.headers('access-control-request-headers'),
        });
        // A preflight is answered here, allowed or not: a refused one simply carries no CORS
        // headers, which is how a browser learns "no".
        if (decision.preflight)
          return { ok: false, answer: { status: 204, headers: { ...decision.headers }, body: undefined } };
        return { ok: true, headers: decision.headers };
      };
    },
    securityHeaders(headerOptions) {
      return headerOptions === undefined ? defaultHeaders : securityHeaders(headerOptions);
    },
    clientIp,
    async readJson(input, view) {
      const outcome = await readJsonBody(input, json);
      if (outcome.ok) return { ok: true, headers: EMPTY, value: outcome.value };
      if (outcome.error.code === 'FORBIDDEN_PROPERTY') {
        emit(
          {
            type: 'malicious_request',
            outcome: 'blocked',
            ...(view !== undefined ? { ip: clientIp(view) } : {}),
            detail: {
              reason: 'FORBIDDEN_PROPERTY',
              ...(view !== undefined ? { route: `${view.method} ${view.route ?? view.path}` } : {}),
            },
          },
          view,
        );
      }
      return refuse(outcome.error, view);
    },
    errorAnswer(error, view) {
      const rampartError = toRampartError(normalizeThrown(error));
      if (rampartError.status >= 500) onError(error);
      return problemAnswer(rampartError, view?.requestId);
    },
    notFound(view) {
      return problemAnswer(
        new RampartError('NOT_FOUND', { detail: 'No route matches this method and path.' }),
        view?.requestId,
      );
    },
    async issueAccessToken(input) {
      if (tokens?.issuer === undefined) {
        throw new TypeError(
          'issueAccessToken: needs jwt.secret or jwt.ring (a signing key) in createRampart',
        );
      }
      return tokens.issuer.issue(input);
    },
    async close() {
      await Promise.all(limiters.map((limiter) => limiter.close()));
      await failures?.close();
      for (const store of ownStores) store.close();
    },
  };
  return rampart;
}

/**
 * Errors from frameworks and their parsers say their status as `status` or `statusCode`;
 * `toRampartError` reads `statusCode`. A 4xx keeps its meaning; anything else is INTERNAL.
 */
function normalizeThrown(error: unknown): unknown {
  if (error instanceof RampartError || !isObject(error)) return error;
  const { status, statusCode } = record(error);
  if (typeof statusCode === 'number') return statusCode < 500 ? error : { statusCode: 500 };
  if (typeof status === 'number' && status >= 400 && status < 500) return { statusCode: status };
  return error;
}

/**
 * Is `value` a compiled policy (from {@link createRampart}) rather than options for one?
 * @example isRampart(createRampart({})) // true
 */
export function isRampart(value: unknown): value is Rampart {
  return isObject(value) && (value as Record<symbol, unknown>)[BRAND] === true;
}
