/**
 * Rampart for Hono 4: each middleware builds the request view, runs one policy step and
 * writes its decision. No security logic lives here; it is all in `createRampart`.
 *
 * Names that take nothing are ready middleware (`security.cors`, `security.apiLimiter`,
 * `security.authenticateToken`); names that take something are factories
 * (`security.validateApiKey('read')`, `security.validateUserInput(schema)`).
 *
 * The client address is the socket peer: on Node (`@hono/node-server`) it is read from
 * `c.env.incoming`; on other runtimes pass `peerAddress`. The middleware fit any app's env
 * (`new Hono<MyEnv>()`): each says in its type what it sets, so after `authenticateToken`
 * `c.get('principal')` is a `Principal`, and after `validateUserInput(schema)`
 * `c.req.valid('json')` (and `c.get('validated').body`) is the schema's output.
 *
 * @example
 * import { Hono } from 'hono';
 * import { createHonoRampart, type RampartEnv } from 'rampart/hono';
 *
 * const security = createHonoRampart({ jwt: { secret, issuer, audience } });
 * const app = new Hono<RampartEnv>();
 * app.use(security.securityHeaders, security.apiLimiter);
 * app.get('/api/protected', security.authenticateToken, (c) => c.json({ user: c.get('principal') }));
 * app.notFound(security.notFound);
 * app.onError(security.errorHandler);
 */

import type { Context, Env, MiddlewareHandler, Next } from 'hono';
import type { ContentfulStatusCode, StatusCode } from 'hono/utils/http-status';
import type { CorsOptions } from '../../http/cors.ts';
import type { HttpAnswer } from '../../http/problem.ts';
import type { SecurityHeadersOptions } from '../../http/security-headers.ts';
import type { Principal } from '../../policy/principal.ts';
import {
  type Attempt,
  type AttemptDecision,
  type AuthDecision,
  type CapabilitiesOf,
  type Capability,
  createRampart,
  type Decision,
  isRampart,
  type JwtOptions,
  type OptionsWith,
  type Rampart,
  type RampartOptions,
  type RequestView,
  type Step,
  type ValidatedParts,
  type ValidateSchemas,
} from '../../policy/rampart.ts';
import {
  type HandlerKinds,
  type HandlerMakers,
  readyMiddlewareCalled,
  type TutorialNames,
  withTutorialNames,
} from '../../policy/tutorial-names.ts';

/** The context variables Rampart sets: `c.get('principal')`, `c.get('validated')`, `c.get('body')`. */
export interface RampartVariables {
  principal: Principal | undefined;
  validated: ValidatedParts | undefined;
  /** The JSON body as read by Rampart (before validation). */
  body: unknown;
  /** The reserved attempt of an `attempts()` middleware: settle it in the handler. */
  attempt: Attempt | undefined;
}

/**
 * Use as `new Hono<RampartEnv>()` (or add its variables to your own env) when middleware
 * mounted with `app.use` must type `c.get('principal')` in every route; a route's own
 * middleware types it for that route anyway.
 */
export type RampartEnv = { Variables: RampartVariables };

/**
 * Ready Hono middleware: pass it as it is (`app.use(security.cors)`), never call it. `E` is
 * what it sets for the handlers after it.
 */
// biome-ignore lint/suspicious/noExplicitAny: Hono's own default env, so it fits any app.
export type HonoMiddleware<E extends Env = any> = MiddlewareHandler<E>;

/** What an authenticating middleware sets: `c.get('principal')`, no longer possibly undefined. */
export type PrincipalEnv = { Variables: { principal: Principal } };

/** Hono's validation targets of a validation output: `c.req.valid('json' | 'query' | 'param')`. */
export type ValidTargets<V extends ValidatedParts> = ('body' extends keyof V
  ? { json: V['body'] }
  : Record<never, never>) &
  ('query' extends keyof V ? { query: V['query'] } : Record<never, never>) &
  ('params' extends keyof V ? { param: V['params'] } : Record<never, never>);

/**
 * Validating Hono middleware: the handler after it reads the schemas' output as
 * `c.req.valid('json')` (`'query'`, `'param'`) and as `c.get('validated')`.
 */
export type ValidatingMiddleware<V extends ValidatedParts> = MiddlewareHandler<
  { Variables: { validated: V } },
  string,
  { out: ValidTargets<V> }
>;

/** How the Hono adapter types its handlers (see `HandlerKinds`). */
export interface HonoKinds extends HandlerKinds {
  readonly ready: HonoMiddleware;
  readonly guard: HonoMiddleware<PrincipalEnv>;
  readonly attempt: HonoMiddleware<{ Variables: { attempt: Attempt } }>;
  readonly check: ValidatingMiddleware<this['output']>;
}

/** The middleware of a policy with `cors`. */
export interface HonoCorsNames {
  /** Ready middleware: CORS headers on the policy's `cors` option, and the preflight's answer. */
  readonly cors: HonoMiddleware;
}

/** The middleware every policy has. */
export interface HonoRampartCore<C extends Capability> {
  /** The framework-free policy behind these middleware. */
  readonly policy: Rampart<C>;
  /** CORS on these options (a factory; `security.cors` is the policy's own). */
  corsWith(options: CorsOptions): HonoMiddleware;
  /** Ready middleware: the security headers of the policy's `securityHeaders` option, on every answer. */
  readonly securityHeaders: HonoMiddleware;
  /** The security headers of these options (a factory). */
  securityHeadersWith(options: SecurityHeadersOptions): HonoMiddleware;
  /** Ready middleware: reads a JSON body into `c.get('body')` (size, depth, `__proto__` and media type checked). */
  readonly jsonBody: HonoMiddleware<{ Variables: { body: unknown } }>;
  /** For `app.notFound`, in any app. */
  notFound<E extends Env>(c: Context<E>): Response;
  /** For `app.onError`, in any app. */
  errorHandler<E extends Env>(error: Error, c: Context<E>): Response;
}

/**
 * The middleware of one policy, under the tutorial's names. Authenticating middleware set
 * `c.get('principal')`; validation sets `c.get('validated')` and Hono's `c.req.valid(…)`. The
 * names that need an option exist only when the policy has it (`C`).
 */
export type HonoRampart<C extends Capability = Capability> = HonoRampartCore<C> &
  TutorialNames<HonoKinds, C> &
  ('cors' extends C ? HonoCorsNames : unknown);

/** Options of {@link createHonoRampart} besides the policy; `E` is the app's env. */
// biome-ignore lint/suspicious/noExplicitAny: Hono's own default env.
export interface HonoRampartOptions<E extends Env = any> {
  /** The socket peer's address; default `c.env.incoming.socket.remoteAddress` (@hono/node-server). */
  peerAddress?: (c: Context<E>) => string | undefined;
}

const nodePeer = (c: Context): string | undefined =>
  (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
    ?.remoteAddress;

function send(c: Context, answer: HttpAnswer): Response {
  if (answer.body === undefined) return c.body(null, answer.status as StatusCode, answer.headers);
  return c.body(JSON.stringify(answer.body), answer.status as ContentfulStatusCode, answer.headers);
}

function setHeaders(c: Context, headers: Readonly<Record<string, string>>): void {
  for (const name in headers) c.header(name, headers[name]!);
}

const nothing = (): undefined => undefined;

/**
 * Runs the rest of the chain once `apply` let the request through (it returns the refusal
 * otherwise). A decision made synchronously (a cached token, the memory store) is applied at
 * once, without a promise of its own. The chain's result is dropped: Hono's compose would
 * take a middleware's returned `next()` value (the context) for its response.
 */
function decided<D>(
  c: Context<RampartEnv>,
  next: Next,
  decision: D | Promise<D>,
  apply: (c: Context<RampartEnv>, decision: D) => Response | undefined,
): Promise<Response | undefined> {
  if (decision instanceof Promise) {
    return decision.then((d) => apply(c, d) ?? next().then(nothing));
  }
  const refused = apply(c, decision);
  return refused === undefined ? next().then(nothing) : Promise.resolve(refused);
}

/** Ready middleware, checked: called like a factory (`security.cors()`), it says so. */
function ready(
  name: string,
  run: (c: Context<RampartEnv>, next: Next) => Promise<Response | undefined>,
): HonoMiddleware {
  // Not async itself: a call without a context must throw now, not reject later.
  return (c, next) => {
    if (typeof next !== 'function')
      throw readyMiddlewareCalled(`security.${name}`, `app.use(security.${name})`);
    return run(c, next);
  };
}

/**
 * Hono middleware for one policy: pass `createRampart()`'s result, or its options.
 * @throws TypeError naming the field when the options are wrong (see `createRampart`).
 * @example
 * const security = createHonoRampart(createRampart({ apiKeys: verifier }), { peerAddress: (c) => c.req.header('cf-connecting-ip') });
 */
export function createHonoRampart<C extends Capability, E extends Env = Env>(
  policy: Rampart<C>,
  options?: HonoRampartOptions<E>,
): HonoRampart<C>;
export function createHonoRampart<
  P extends keyof RampartOptions = never,
  J extends keyof JwtOptions = never,
  E extends Env = Env,
>(policy: OptionsWith<P, J>, options?: HonoRampartOptions<E>): HonoRampart<CapabilitiesOf<P, J>>;
export function createHonoRampart(
  policy: Rampart | RampartOptions,
  options: HonoRampartOptions = {},
): HonoRampart {
  const rampart = (isRampart(policy) ? policy : createRampart(policy)) as Rampart;
  const peerAddress = options.peerAddress ?? nodePeer;
  // Per-request state rides on the context under this instance's symbols. Not in a WeakMap: an
  // entry whose value (the view, through its `headers` closure) reaches its key kept whole
  // requests alive through young-generation GCs under load (measured with bench/adapters.ts).
  const VIEW = Symbol('rampart.view');
  const BODY_READ = Symbol('rampart.bodyRead');
  type Slots = Context & { [VIEW]?: RequestView; [BODY_READ]?: true };

  const viewOf = (c: Context<RampartEnv>): RequestView => {
    let view = (c as Slots)[VIEW];
    if (view === undefined) {
      const url = c.req.url;
      const q = url.indexOf('?');
      // Plain data, every field present: see RequestView on why not getters.
      view = {
        method: c.req.method,
        path: c.req.path,
        route: undefined,
        headers: (name) => c.req.header(name),
        query: q < 0 ? undefined : url.slice(q + 1),
        ip: peerAddress(c) ?? '',
        body: undefined,
        params: undefined,
        principal: undefined,
      };
      (c as Slots)[VIEW] = view;
    }
    if (view.route === undefined) {
      // A middleware mounted on `*` reports its own pattern, which names no route.
      const route = c.req.routePath;
      if (!route.includes('*')) view.route = route;
    }
    view.body = c.get('body');
    return view;
  };
  const readBody = async (c: Context<RampartEnv>): Promise<Response | undefined> => {
    if ((c as Slots)[BODY_READ]) return undefined;
    (c as Slots)[BODY_READ] = true;
    const decision = await rampart.readJson(
      {
        contentType: c.req.header('content-type'),
        contentLength: c.req.header('content-length'),
        transferEncoding: c.req.header('transfer-encoding'),
        // A clone, so that handlers may still call c.req.json() (the size was checked here).
        body: c.req.raw.clone().body as AsyncIterable<Uint8Array> | null,
      },
      viewOf(c),
    );
    if (!decision.ok) return send(c, decision.answer);
    c.set('body', decision.value);
    return undefined;
  };
  const authenticated = (c: Context<RampartEnv>, decision: AuthDecision): Response | undefined => {
    if (!decision.ok) return send(c, decision.answer);
    viewOf(c).principal = decision.principal;
    c.set('principal', decision.principal);
    setHeaders(c, decision.headers);
    return undefined;
  };
  const passed = (c: Context<RampartEnv>, decision: Decision): Response | undefined => {
    if (!decision.ok) return send(c, decision.answer);
    setHeaders(c, decision.headers);
    return undefined;
  };
  const guard = (step: Step<AuthDecision>, name: string) =>
    ready(name, (c, next) => decided(c, next, step(viewOf(c)), authenticated));
  const limit = (step: Step<Decision>, name: string) =>
    ready(name, (c, next) => decided(c, next, step(viewOf(c)), passed));
  const check = (schemas: ValidateSchemas, name: string) => {
    const step = rampart.validate(schemas);
    return ready(name, async (c, next) => {
      const refused = schemas.body === undefined ? undefined : await readBody(c);
      if (refused !== undefined) return refused;
      const view = viewOf(c);
      if (schemas.params !== undefined) view.params = c.req.param() as Record<string, string>;
      const decision = await step(view);
      if (!decision.ok) return send(c, decision.answer);
      const { value } = decision;
      c.set('validated', value);
      // Hono's own accessor for validated data: `c.req.valid('json')`, typed by the middleware.
      if ('body' in value) c.req.addValidatedData('json', value.body as object);
      if ('query' in value) c.req.addValidatedData('query', value.query as object);
      if ('params' in value) c.req.addValidatedData('param', value.params as object);
      await next();
      return undefined;
    });
  };
  const attempt = (step: Step<AttemptDecision>, name: string) =>
    ready(name, async (c, next) => {
      const refused = await readBody(c);
      if (refused !== undefined) return refused;
      const decision = await step(viewOf(c));
      if (!decision.ok) return send(c, decision.answer);
      c.set('attempt', decision.attempt);
      try {
        await next();
      } finally {
        // Our own failure (a 5xx) was not the client's: the attempt goes back.
        if (c.res.status >= 500) decision.attempt.settle(true);
      }
      return undefined;
    });
  const corsWith = (corsOptions: CorsOptions | undefined, name: string) => {
    const step = corsOptions === undefined ? rampart.cors() : rampart.cors(corsOptions);
    return ready(name, (c, next) => decided(c, next, step(viewOf(c)), passed));
  };
  const headersWith = (headerOptions: SecurityHeadersOptions | undefined, name: string) => {
    const headers = rampart.securityHeaders(headerOptions);
    return ready(name, async (c, next) => {
      await next();
      // After the handler (and onError) made the response, so every answer carries them.
      for (const header in headers) c.res.headers.set(header, headers[header]!);
      return undefined;
    });
  };
  let policyCors: HonoMiddleware | undefined;
  let policyHeaders: HonoMiddleware | undefined;
  let jsonBody: HonoMiddleware | undefined;
  const base = {
    policy: rampart,
    // The policy's own CORS is made when first read, so a policy without `cors` can be adapted.
    get cors() {
      policyCors ??= corsWith(undefined, 'cors');
      return policyCors;
    },
    corsWith: (corsOptions: CorsOptions) => corsWith(corsOptions, 'corsWith(…)'),
    get securityHeaders() {
      policyHeaders ??= headersWith(undefined, 'securityHeaders');
      return policyHeaders;
    },
    securityHeadersWith: (headerOptions: SecurityHeadersOptions) =>
      headersWith(headerOptions, 'securityHeadersWith(…)'),
    get jsonBody() {
      jsonBody ??= ready('jsonBody', async (c, next) => {
        const refused = await readBody(c);
        if (refused !== undefined) return refused;
        await next();
        return undefined;
      });
      return jsonBody;
    },
    notFound: (c: Context) => send(c, rampart.notFound(viewOf(c as Context<RampartEnv>))),
    errorHandler: (error: Error, c: Context) =>
      send(c, rampart.errorAnswer(error, viewOf(c as Context<RampartEnv>))),
  };
  // The makers return plain middleware; the kinds table says what each sets for the handler after.
  const makers: HandlerMakers<HonoKinds> = { guard, limit, check, attempt };
  return withTutorialNames(base, rampart, makers) as unknown as HonoRampart;
}
