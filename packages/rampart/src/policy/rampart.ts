/**
 * The engine: `createRampart(options)` compiles one security policy into framework-free steps
 * over a small request view. Each step answers a decision — go on (with headers to add and, for
 * authentication, the principal) or stop with this answer (status, headers, problem+json body)
 * — and never touches a framework object. Every face runs on it: the Express, Fastify and Hono
 * adapters translate a request in and a decision out, and `rampart serve` is this engine on the
 * Fastify adapter with its own routes and stores. It is the only place where a decision is made.
 *
 * The steps live in their own modules (`authenticate.ts`, `steps/*.ts`) and share one
 * `PolicyContext` (`context.ts`); each is built once, when the route asks for it.
 */

import type { RampartError } from '../errors.ts';
import type { CorsOptions } from '../http/cors.ts';
import type { HttpAnswer } from '../http/problem.ts';
import { type SecurityHeadersOptions, securityHeaders } from '../http/security-headers.ts';
import type { AddressLists } from '../rate-limit/address-lists.ts';
import type { BlockedStat } from '../rate-limit/limiter.ts';
import type { ResilientStore } from '../rate-limit/resilient-store.ts';
import { compileRule } from '../rate-limit/rules.ts';
import type { AccessTokenInput, IssuedAccessToken } from '../tokens/access-token.ts';
import { type AuthenticateOptions, authenticateStep, type Verifiers } from './authenticate.ts';
import { createContext } from './context.ts';
import { RAMPART_DEFAULTS } from './defaults.ts';
import { type ForwardedDecision, type ForwardedOptions, forwardedRequest } from './forwarded.ts';
import { type JsonBodyInput, jsonBodyConfig } from './json-request.ts';
import {
  isObject,
  type JwtOptions,
  knownKeys,
  OPTION_KEYS,
  optionalFunction,
  type RampartOptions,
  type RateLimitRule,
  type SecurityEvent,
  setupApiKeys,
  setupJwt,
} from './options.ts';
import { insufficientScope } from './principal.ts';
import { corsStep, errorAnswer, notFound, readJson, screen } from './steps/http.ts';
import { type AttemptsOptions, attemptsStep, rateLimitStep } from './steps/rate-limit.ts';
import { type ValidatedOutput, type ValidateSchemas, validateStep } from './steps/validate.ts';
import type {
  AttemptDecision,
  AuthDecision,
  Decision,
  JsonBodyDecision,
  RequestView,
  Step,
  ValidationDecision,
} from './view.ts';
import { routeOf } from './view.ts';

export type { AcceptedCredential, AuthenticateOptions } from './authenticate.ts';
export { RAMPART_DEFAULTS } from './defaults.ts';
export type { ForwardedDecision, ForwardedOptions } from './forwarded.ts';
export type {
  ApiKeyLookup,
  ApiKeysOptions,
  AuthFailureOptions,
  JwtOptions,
  RampartOptions,
  RampartRateLimitOptions,
  RateLimitRule,
  SecurityEvent,
  TokenVerifier,
} from './options.ts';
export type { AttemptsOptions } from './steps/rate-limit.ts';
export type { ValidatedOutput, ValidatePart, ValidateSchemas } from './steps/validate.ts';
export type {
  Attempt,
  AttemptDecision,
  AuthDecision,
  Decision,
  JsonBodyDecision,
  Refusal,
  RequestView,
  Step,
  ValidatedParts,
  ValidationDecision,
} from './view.ts';

/** A security event a route handler records through the engine (it fills in ip, request id, route). */
export interface RouteEvent {
  type: SecurityEvent['type'];
  outcome: SecurityEvent['outcome'];
  actor?: string | null | undefined;
  detail?: Record<string, unknown>;
}

/** The rate-limit state of a policy, for an admin plane. */
export interface RateLimitState {
  /** The request store behind its resilient wrapper (share it: per-key limits, other limiters). */
  readonly store: ResilientStore;
  /** `'down'` while the shared store is unreachable and rules follow their failure policy. */
  readonly state: 'up' | 'down';
  /** The keys refused recently on this instance, most refused first. */
  blocked(): BlockedStat[];
  /** Lifts one refused key, as `blocked()` lists it (its `blockFor` ban too). False when no limit has that rule. */
  unblock(rule: string, key: string): Promise<boolean>;
  /** The allow, deny and restriction lists; dynamic entries are set here (`put`, `remove`, `replace`). */
  readonly addresses: AddressLists;
}

/**
 * What a policy can do beyond its always-present steps, by the options it was given:
 * `'jwt'` (the `jwt` option: `authenticateToken`), `'signing'` (`jwt.secret` or `jwt.ring`:
 * `issueAccessToken`), `'apiKeys'` (the `apiKeys` option: `validateApiKey`) and `'cors'` (the
 * `cors` option: `cors()` without options, and the adapters' ready `cors` middleware).
 */
export type Capability = 'jwt' | 'signing' | 'apiKeys' | 'cors';

/**
 * The capabilities options of these keys give: `P` are the keys of the options object, `J`
 * those of its `jwt` object (what `createRampart` infers from the object it is given).
 */
export type CapabilitiesOf<P extends PropertyKey, J extends PropertyKey> =
  | ('jwt' extends P ? 'jwt' : never)
  // No `jwt` keys known (options typed as the wide `RampartOptions`): it may sign.
  | ('jwt' extends P
      ? [J] extends [never]
        ? 'signing'
        : 'secret' extends J
          ? 'signing'
          : 'ring' extends J
            ? 'signing'
            : never
      : never)
  | ('apiKeys' extends P ? 'apiKeys' : never)
  | ('cors' extends P ? 'cors' : never);

/**
 * `RampartOptions`, as `createRampart` (and the adapters) take them: the same checks, and the
 * keys given (`P`, and `J` of `jwt`) are read by the types to know which steps exist.
 */
export type OptionsWith<P extends keyof RampartOptions, J extends keyof JwtOptions> = RampartOptions & {
  [K in P]?: K extends 'jwt' ? JwtOptions & { [L in J]?: unknown } : unknown;
};

/** The steps of a policy with `jwt`. */
export interface TokenSteps {
  /** `authenticate({ accept: 'bearer' })`: the tutorial's `authenticateToken`. */
  readonly authenticateToken: Step<AuthDecision>;
}

/** The step of a policy with a signing key (`jwt.secret` or `jwt.ring`). */
export interface SigningSteps {
  /** Issues an access token: `{ sub, role, scopes? }`. */
  issueAccessToken(input: AccessTokenInput): Promise<IssuedAccessToken>;
}

/** The step of a policy with `apiKeys`. */
export interface ApiKeySteps {
  /** `authenticate({ accept: 'apiKey', scopes: [permission] })`: the tutorial's `validateApiKey`. */
  validateApiKey(permission?: string | readonly string[]): Step<AuthDecision>;
}

/** The step of a policy with `cors`. */
export interface CorsSteps {
  /** A CORS step on the policy's `cors` option, or on the options given here. */
  cors(options?: CorsOptions): (view: RequestView) => Decision;
}

/** The steps every policy has, whatever its options. */
export interface RampartCore<C extends Capability = Capability> {
  /**
   * For the types only, never set: what this policy was configured with, so that adapters
   * given the policy know which of its steps exist.
   */
  readonly '~capabilities'?: C;
  /**
   * A step that requires a credential (RFC 6750 answers: 401 none or bad, 403 missing scope or
   * role, 429 when the address is over its failed-authentication budget).
   * @throws TypeError at creation when `accept` names a credential that is not configured.
   */
  authenticate(options?: AuthenticateOptions): Step<AuthDecision>;
  /** A step that counts the request against the rules (429 with `Retry-After` when over). */
  rateLimit(rules: RateLimitRule | readonly RateLimitRule[]): Step<Decision>;
  /** 100 requests per 15 minutes per client (`rateLimit.api`). */
  readonly apiLimiter: Step<Decision>;
  /** 5 requests per hour per client (`rateLimit.sensitive`). */
  readonly sensitiveLimiter: Step<Decision>;
  /**
   * A step that reserves an attempt against failure budgets before expensive work (a password
   * check), so that a burst cannot get more attempts than the budget; the handler settles it.
   */
  attempts(options?: AttemptsOptions): Step<AttemptDecision>;
  /** A step that validates body, query and params (400 `VALIDATION_FAILED` with field errors). */
  validate<S extends ValidateSchemas>(schemas: S): Step<ValidationDecision<ValidatedOutput<S>>>;
  /** A CORS step: headers to add, or the preflight's 204 answer. */
  cors(options: CorsOptions): (view: RequestView) => Decision;
  /** The security headers for every response. Options default to `options.securityHeaders`. */
  securityHeaders(options?: SecurityHeadersOptions): Readonly<Record<string, string>>;
  /**
   * Request hygiene, before anything else: an unknown method or TRACE is 405 (with `Allow`
   * from `allow()` when the adapter knows the path's methods), a GET/HEAD/OPTIONS with a body 400.
   */
  screen(view: RequestView, allow?: () => string): Decision;
  /** The client address of a request, behind `trustProxy`. */
  clientIp(view: RequestView): string;
  /**
   * The original request of a forward-auth call (nginx `auth_request`, Caddy `forward_auth`,
   * Traefik `forwardAuth`, Envoy `ext_authz`), read from a `trustProxy` peer's forwarding
   * headers only, as a view for the other steps. 400 for a path not in normal form.
   */
  forwarded(view: RequestView, options?: ForwardedOptions): ForwardedDecision;
  /** Reads a JSON body with the `json` limits (400, 413, 415 answers). */
  readJson(input: JsonBodyInput, view?: RequestView): Promise<JsonBodyDecision>;
  /** Records a security event of a route handler, with the request's address, id and route. */
  event(view: RequestView, event: RouteEvent): void;
  /**
   * A handler's own authorization refusal (an owner check): the `authz_fail` event and the 403
   * `insufficient_scope` error to throw.
   */
  forbid(view: RequestView, needed: readonly string[], detail?: Record<string, unknown>): RampartError;
  /** The problem+json answer for anything thrown; 5xx answers carry no detail. */
  errorAnswer(error: unknown, view?: RequestView): HttpAnswer;
  /** The 404 problem+json answer, or 405 with `Allow` when `allow` lists the path's methods. */
  notFound(view?: RequestView, allow?: string): HttpAnswer;
  /** The rate-limit state: the shared store, refused keys, unblocking. */
  readonly limits: RateLimitState;
  /** Stops the timers and closes the stores Rampart made. */
  close(): Promise<void>;
}

/**
 * The compiled policy: framework-free steps. `C` says which optional steps exist (see
 * {@link Capability}); `Rampart` alone is a policy of unknown options, typed with all of
 * them (each still checks at run time, with a TypeError naming the missing option).
 *
 * @example
 * const rampart = createRampart({ jwt: { secret, issuer, audience } }); // Rampart<'jwt' | 'signing'>
 * rampart.authenticateToken; // a step
 * rampart.validateApiKey;    // a type error: no `apiKeys` option
 */
export type Rampart<C extends Capability = Capability> = RampartCore<C> &
  ('jwt' extends C ? TokenSteps : unknown) &
  ('signing' extends C ? SigningSteps : unknown) &
  ('apiKeys' extends C ? ApiKeySteps : unknown) &
  ('cors' extends C ? CorsSteps : unknown);

const BRAND = Symbol.for('rampart.policy');

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
export function createRampart<P extends keyof RampartOptions = never, J extends keyof JwtOptions = never>(
  options?: OptionsWith<P, J>,
): Rampart<CapabilitiesOf<P, J>>;
export function createRampart(options: RampartOptions = {}): Rampart {
  if (!isObject(options)) throw new TypeError('createRampart: expected an options object');
  knownKeys(options, OPTION_KEYS, 'createRampart');
  const now = optionalFunction(options.now, 'now') ?? Date.now;
  optionalFunction(options.onEvent, 'onEvent');
  optionalFunction(options.onError, 'onError');
  optionalFunction(options.onRateLimited, 'onRateLimited');
  const tokens = options.jwt === undefined ? undefined : setupJwt(options.jwt, now);
  const keys = options.apiKeys === undefined ? undefined : setupApiKeys(options.apiKeys, now);
  const ctx = createContext(options, now);
  const json = jsonBodyConfig(options.json);
  const defaultCors = options.cors;
  if (defaultCors !== undefined) corsStep(defaultCors); // checked now
  const defaultHeaders = securityHeaders(options.securityHeaders ?? RAMPART_DEFAULTS.securityHeaders);
  const limitOptions = options.rateLimit ?? {};
  const apiRule = { ...RAMPART_DEFAULTS.apiLimiter, ...(limitOptions.api ?? {}) } as RateLimitRule;
  const sensitiveRule = {
    ...RAMPART_DEFAULTS.sensitiveLimiter,
    ...(limitOptions.sensitive ?? {}),
  } as RateLimitRule;

  const verifiers: Verifiers = {
    ...(tokens !== undefined ? { bearer: tokens } : {}),
    ...(keys !== undefined ? { apiKey: keys } : {}),
    outsideIssuers: new Set((options.jwt?.issuers ?? []).map((trusted) => trusted.issuer)),
  };

  const memo = new Map<string, unknown>();
  const once = <T>(key: string, make: () => T): T => {
    if (!memo.has(key)) memo.set(key, make());
    return memo.get(key) as T;
  };
  // The tutorial limiters are checked now, though made only when used.
  compileRule(apiRule, 'rateLimit.api', ctx.ipv6Prefix);
  compileRule(sensitiveRule, 'rateLimit.sensitive', ctx.ipv6Prefix);

  const rampart: Rampart & { [BRAND]: true } = {
    [BRAND]: true,
    authenticate: (authOptions) => authenticateStep(ctx, verifiers, authOptions),
    get authenticateToken() {
      return once('authenticateToken', () => {
        if (tokens === undefined)
          throw new TypeError('authenticateToken: needs the jwt option of createRampart');
        return authenticateStep(ctx, verifiers, { accept: 'bearer' });
      });
    },
    validateApiKey(permission) {
      const scopes =
        permission === undefined ? [] : typeof permission === 'string' ? [permission] : [...permission];
      return once(`validateApiKey:${JSON.stringify(scopes)}`, () => {
        if (keys === undefined)
          throw new TypeError('validateApiKey: needs the apiKeys option of createRampart');
        return authenticateStep(ctx, verifiers, { accept: 'apiKey', scopes });
      });
    },
    rateLimit: (rules) => rateLimitStep(ctx, rules),
    get apiLimiter() {
      return once('apiLimiter', () => rateLimitStep(ctx, apiRule, 'rateLimit.api'));
    },
    get sensitiveLimiter() {
      return once('sensitiveLimiter', () => rateLimitStep(ctx, sensitiveRule, 'rateLimit.sensitive'));
    },
    attempts: (attemptOptions) => attemptsStep(ctx, attemptOptions),
    validate: (schemas) => validateStep(ctx, schemas) as never,
    cors(corsOptions?: CorsOptions) {
      const given = corsOptions ?? defaultCors;
      if (given === undefined)
        throw new TypeError('cors.origins: pass { origins } here or in createRampart({ cors })');
      return corsStep(given);
    },
    securityHeaders: (headerOptions) =>
      headerOptions === undefined ? defaultHeaders : securityHeaders(headerOptions),
    screen: (view, allow) => screen(ctx, view, allow),
    clientIp: (view) => ctx.clientIp(view),
    forwarded: (view, forwardedOptions) => forwardedRequest(ctx, view, forwardedOptions),
    readJson: (input, view) => readJson(ctx, json, input, view),
    event(view, event) {
      ctx.emit(
        {
          type: event.type,
          outcome: event.outcome,
          ip: ctx.clientIp(view),
          ...(event.actor ? { actor: event.actor } : {}),
          detail: { route: routeOf(view), ...(event.detail ?? {}) },
        },
        view,
      );
    },
    forbid(view, needed, detail = {}) {
      const actor = view.principal?.userId ?? view.principal?.keyId;
      ctx.emit(
        {
          type: 'authz_fail',
          outcome: 'failure',
          ip: ctx.clientIp(view),
          ...(actor ? { actor } : {}),
          detail: { route: routeOf(view), needed: [...needed], ...detail },
        },
        view,
      );
      return insufficientScope(needed);
    },
    errorAnswer: (error, view) => errorAnswer(ctx, error, view),
    notFound: (view, allow) => notFound(view, allow),
    limits: {
      get store() {
        return ctx.store;
      },
      get state() {
        return ctx.store.state;
      },
      blocked: () => ctx.blocked(),
      unblock: (rule, key) => ctx.unblock(rule, key),
      addresses: ctx.addresses,
    },
    async issueAccessToken(input) {
      if (tokens?.issuer === undefined) {
        throw new TypeError(
          'issueAccessToken: needs jwt.secret or jwt.ring (a signing key) in createRampart',
        );
      }
      return tokens.issuer.issue(input);
    },
    close: () => ctx.close(),
  };
  return rampart;
}

/**
 * Is `value` a compiled policy (from {@link createRampart}) rather than options for one?
 * @example isRampart(createRampart({})) // true
 */
export function isRampart(value: unknown): value is Rampart {
  return isObject(value) && (value as Record<symbol, unknown>)[BRAND] === true;
}
