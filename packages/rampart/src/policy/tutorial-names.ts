/**
 * The tutorial's names (and their general forms), the same in every adapter, and the one
 * convention for middleware that all three follow:
 *
 * - a name that takes nothing is **ready middleware**: pass it as it is
 *   (`app.use(security.cors)`, `security.authenticateToken`), never call it;
 * - a name that takes something (a permission, a schema, a rule) is a **factory**: call it and
 *   pass what it returns (`security.validateApiKey('read')`).
 *
 * Why this one: the tutorial's own names are used that way (`app.use(apiLimiter)`,
 * `authenticateToken` as a route handler, `validateApiKey('read')`), so its code keeps working,
 * and a zero-argument factory passed as middleware (which compiled with Express and Fastify and
 * then answered every request with 500) can no longer be written. Misuse is a type error where
 * the framework's types allow it to be one, and a TypeError that says what to write instead
 * at run time: a ready middleware called like a factory throws at once, and a factory handed
 * a request (passed as middleware) throws on the first request.
 */
import type { StandardSchemaV1, StandardSchemaV1InferOutput } from '../validation/standard-schema.ts';
import type {
  AttemptDecision,
  AttemptsOptions,
  AuthDecision,
  AuthenticateOptions,
  Capability,
  Decision,
  Rampart,
  RateLimitRule,
  Step,
  ValidatedOutput,
  ValidatedParts,
  ValidateSchemas,
} from './rampart.ts';

/**
 * How an adapter types its handlers (a type-level table; see `ExpressKinds` and the like).
 * `check` is the handler of a validation step whose output is `this['output']`: TypeScript has
 * no higher-kinded types, so the output is passed in by intersection (`CheckHandler`).
 */
export interface HandlerKinds {
  /** A handler that adds headers or refuses (limits). */
  readonly ready: unknown;
  /** An authenticating handler (it attaches the principal). */
  readonly guard: unknown;
  /** An `attempts()` handler (it attaches the attempt to settle). */
  readonly attempt: unknown;
  /**
   * The output of a validation handler, set by `CheckHandler`. Only `object` here, so that the
   * parts a validation did not check are not in it.
   */
  readonly output: object;
  /** A validating handler of `this['output']`. */
  readonly check: unknown;
}

/** The adapter's validating handler for output `V`. */
export type CheckHandler<K extends HandlerKinds, V extends ValidatedParts> = (K & {
  readonly output: V;
})['check'];

/** The names every policy has. */
export interface CoreNames<K extends HandlerKinds> {
  /** A credential is required: `{ accept, roles, scopes }` (factory). */
  authenticate(options?: AuthenticateOptions): K['guard'];
  /** The tutorial's `apiLimiter` (100 per 15 minutes per client by default): ready middleware. */
  readonly apiLimiter: K['ready'];
  /** The tutorial's `sensitiveLimiter` (5 per hour per client by default): ready middleware. */
  readonly sensitiveLimiter: K['ready'];
  /** A limit of these rules (factory). */
  rateLimit(rules: RateLimitRule | readonly RateLimitRule[]): K['ready'];
  /**
   * The tutorial's `validateUserInput`, for any Standard Schema of the body (factory). The
   * handler after it reads the body as the schema's output type.
   */
  validateUserInput<S extends StandardSchemaV1>(
    schema: S,
  ): CheckHandler<K, { body: StandardSchemaV1InferOutput<S> }>;
  /** Validates `{ body, query, params }`, each with any Standard Schema (factory). */
  validate<S extends ValidateSchemas>(schemas: S): CheckHandler<K, ValidatedOutput<S>>;
  /**
   * Reserves an attempt against failure budgets before expensive work (a password check); the
   * handler settles it (`settle(true)` on success gives it back). Factory.
   */
  attempts(options?: AttemptsOptions): K['attempt'];
}

/** The name of a policy with `jwt`. */
export interface TokenNames<K extends HandlerKinds> {
  /** The tutorial's `authenticateToken`: a valid access token is required. Ready middleware. */
  readonly authenticateToken: K['guard'];
}

/** The name of a policy with `apiKeys`. */
export interface ApiKeyNames<K extends HandlerKinds> {
  /** The tutorial's `validateApiKey(permission)`: an API key holding the permission. Factory. */
  validateApiKey(permission?: string | readonly string[]): K['guard'];
}

/** The tutorial's names of a policy with capabilities `C`: only those its options allow. */
export type TutorialNames<K extends HandlerKinds, C extends Capability = Capability> = CoreNames<K> &
  ('jwt' extends C ? TokenNames<K> : unknown) &
  ('apiKeys' extends C ? ApiKeyNames<K> : unknown);

/** How an adapter turns each kind of policy step into its framework's handler. */
export interface HandlerMakers<K extends HandlerKinds> {
  /** An authentication step: on success the adapter attaches the principal. */
  guard(step: Step<AuthDecision>, name: string): K['guard'];
  /** A rate-limit step: on success the adapter copies the `RateLimit` headers. */
  limit(step: Step<Decision>, name: string): K['ready'];
  /** A validation step over the given schemas. */
  check(schemas: ValidateSchemas, name: string): unknown;
  /** An attempts step: on success the adapter hands the handler the attempt to settle. */
  attempt(step: Step<AttemptDecision>, name: string): K['attempt'];
}

/**
 * Is `value` a framework's request or context (what a factory receives when it was passed as
 * middleware instead of being called)? Express and Fastify requests have a method and headers;
 * a Hono context has `req` and `json()`.
 */
export function isFrameworkRequest(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { method?: unknown; headers?: unknown; req?: unknown; json?: unknown };
  return (
    (typeof v.method === 'string' && typeof v.headers === 'object') ||
    (typeof v.req === 'object' && typeof v.json === 'function')
  );
}

/**
 * Throws the TypeError of a factory used as middleware: `security.validateApiKey` passed where
 * `security.validateApiKey('read')` was meant.
 */
export function refuseRequestAsArgument(name: string, value: unknown, example: string): void {
  if (isFrameworkRequest(value)) {
    throw new TypeError(
      `${name} is a factory, not middleware: call it and pass what it returns, e.g. ${example}`,
    );
  }
}

/** The TypeError of ready middleware called like a factory (`security.cors()`). */
export function readyMiddlewareCalled(name: string, example: string): TypeError {
  return new TypeError(
    `${name} is ready middleware, not a factory: pass it as it is, e.g. ${example}, without calling it`,
  );
}

/**
 * Builds the tutorial-named handlers of an adapter from its makers, so the name table lives
 * once. The fixed handlers are made once, on first use, and shared; a fixed one whose option
 * is missing (`authenticateToken` without `jwt`) throws the engine's TypeError when first read.
 */
export function tutorialNames<K extends HandlerKinds>(
  rampart: Rampart,
  make: HandlerMakers<K>,
): TutorialNames<K> {
  const made = new Map<string, unknown>();
  const once = <T>(key: string, build: () => T): T => {
    if (!made.has(key)) made.set(key, build());
    return made.get(key) as T;
  };
  return {
    get authenticateToken() {
      return once('authenticateToken', () => make.guard(rampart.authenticateToken, 'authenticateToken'));
    },
    authenticate(options) {
      refuseRequestAsArgument('authenticate', options, "security.authenticate({ roles: ['admin'] })");
      return make.guard(rampart.authenticate(options), 'authenticate');
    },
    validateApiKey(permission) {
      refuseRequestAsArgument('validateApiKey', permission, "security.validateApiKey('read')");
      return make.guard(rampart.validateApiKey(permission), 'validateApiKey');
    },
    get apiLimiter() {
      return once('apiLimiter', () => make.limit(rampart.apiLimiter, 'apiLimiter'));
    },
    get sensitiveLimiter() {
      return once('sensitiveLimiter', () => make.limit(rampart.sensitiveLimiter, 'sensitiveLimiter'));
    },
    rateLimit(rules) {
      refuseRequestAsArgument(
        'rateLimit',
        rules,
        "security.rateLimit({ name: 'login', limit: 10, window: '15m' })",
      );
      return make.limit(rampart.rateLimit(rules), 'rateLimit');
    },
    validateUserInput(schema) {
      refuseRequestAsArgument('validateUserInput', schema, 'security.validateUserInput(schema)');
      return make.check({ body: schema }, 'validateUserInput') as never;
    },
    validate(schemas) {
      refuseRequestAsArgument('validate', schemas, 'security.validate({ query: schema })');
      return make.check(schemas, 'validate') as never;
    },
    attempts(options) {
      refuseRequestAsArgument('attempts', options, 'security.attempts({ rules })');
      return make.attempt(rampart.attempts(options), 'attempts');
    },
  } satisfies CoreNames<K> & TokenNames<K> & ApiKeyNames<K>;
}

/**
 * `base` with the tutorial names added as lazy getters (a fixed handler is only made when
 * first used, so an adapter without, say, the `jwt` option can still be created).
 */
export function withTutorialNames<T extends object, K extends HandlerKinds>(
  base: T,
  rampart: Rampart,
  make: HandlerMakers<K>,
): T & TutorialNames<K> {
  return Object.defineProperties(base, Object.getOwnPropertyDescriptors(tutorialNames(rampart, make))) as T &
    TutorialNames<K>;
}
