import type { StandardSchemaV1 } from '../validation/standard-schema.ts';
import type {
  AttemptDecision,
  AttemptsOptions,
  AuthDecision,
  AuthenticateOptions,
  Decision,
  Rampart,
  RateLimitRule,
  Step,
  ValidateSchemas,
} from './rampart.ts';

/** How an adapter turns each kind of policy step into its framework's handler type `H`. */
export interface HandlerMakers<H> {
  /** An authentication step: on success the adapter attaches the principal. */
  guard(step: Step<AuthDecision>): H;
  /** A rate-limit step: on success the adapter copies the `RateLimit` headers. */
  limit(step: Step<Decision>): H;
  /** A validation step over the given schemas. */
  check(schemas: ValidateSchemas): H;
  /** An attempts step: on success the adapter hands the handler the attempt to settle. */
  attempt(step: Step<AttemptDecision>): H;
}

/** The tutorial's names (and their general forms), the same in every adapter. */
export interface TutorialNames<H> {
  /** The tutorial's `authenticateToken`: a valid access token is required. */
  readonly authenticateToken: H;
  authenticate(options?: AuthenticateOptions): H;
  /** The tutorial's `validateApiKey(permission)`: an API key holding the permission. */
  validateApiKey(permission?: string | readonly string[]): H;
  /** The tutorial's `apiLimiter` (100 per 15 minutes per client by default). */
  readonly apiLimiter: H;
  /** The tutorial's `sensitiveLimiter` (5 per hour per client by default). */
  readonly sensitiveLimiter: H;
  rateLimit(rules: RateLimitRule | readonly RateLimitRule[]): H;
  /** The tutorial's `validateUserInput`, for any Standard Schema body schema. */
  validateUserInput(schema: StandardSchemaV1): H;
  validate(schemas: ValidateSchemas): H;
  /**
   * Reserves an attempt against failure budgets before expensive work (a password check); the
   * handler settles it (`settle(true)` on success gives it back).
   */
  attempts(options?: AttemptsOptions): H;
}

/**
 * Builds the tutorial-named handlers of an adapter from its three makers, so the name table
 * lives once. The fixed handlers are made once, on first use, and shared.
 */
export function tutorialNames<H>(rampart: Rampart, make: HandlerMakers<H>): TutorialNames<H> {
  const made = new Map<string, H>();
  const once = (key: string, build: () => H): H => {
    let handler = made.get(key);
    if (handler === undefined) {
      handler = build();
      made.set(key, handler);
    }
    return handler;
  };
  return {
    get authenticateToken() {
      return once('authenticateToken', () => make.guard(rampart.authenticateToken));
    },
    authenticate: (options) => make.guard(rampart.authenticate(options)),
    validateApiKey: (permission) => make.guard(rampart.validateApiKey(permission)),
    get apiLimiter() {
      return once('apiLimiter', () => make.limit(rampart.apiLimiter));
    },
    get sensitiveLimiter() {
      return once('sensitiveLimiter', () => make.limit(rampart.sensitiveLimiter));
    },
    rateLimit: (rules) => make.limit(rampart.rateLimit(rules)),
    validateUserInput: (schema) => make.check({ body: schema }),
    validate: (schemas) => make.check(schemas),
    attempts: (options) => make.attempt(rampart.attempts(options)),
  };
}

/**
 * `base` with the tutorial names added as lazy getters (a fixed handler is only made when
 * first used, so an adapter without, say, the `jwt` option can still be created).
 */
export function withTutorialNames<T extends object, H>(
  base: T,
  rampart: Rampart,
  make: HandlerMakers<H>,
): T & TutorialNames<H> {
  return Object.defineProperties(base, Object.getOwnPropertyDescriptors(tutorialNames(rampart, make))) as T &
    TutorialNames<H>;
}
