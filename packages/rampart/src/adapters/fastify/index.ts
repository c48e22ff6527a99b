/**
 * Rampart for Fastify 5, as a plugin (fastify-plugin style: `Symbol.for('skip-override')`, so
 * its hooks and decorators apply to the whole app). It decorates `fastify.rampart` with the
 * policy's steps as hooks and `request.principal`, screens requests, adds security headers and
 * CORS on `onRequest`, reads JSON bodies with Rampart's reader, and answers errors, unknown
 * routes and wrong methods as problem+json. No security logic lives here; it is all in
 * `createRampart`. `rampart serve` is this plugin with the server's own routes.
 *
 * Names that take nothing are ready hooks (`security.cors`, `security.apiLimiter`,
 * `security.authenticateToken`); names that take something are factories
 * (`security.validateApiKey('read')`, `security.validateUserInput(schema)`).
 *
 * Two ways in: `createFastifyRampart(policy)` gives hooks whose types follow the policy's
 * options (a route's `request.body` is the schema's output; `validateApiKey` exists only with
 * `apiKeys`), and registers with `app.register(security.plugin)`; `rampartPlugin` registers
 * with the policy as an option and decorates `app.rampart` (typed with every step, since a
 * decorator's type is the same for every app).
 *
 * @example
 * import Fastify from 'fastify';
 * import { createFastifyRampart, frameworkErrors } from 'rampart/fastify';
 *
 * const security = createFastifyRampart({ jwt: { secret, issuer, audience } });
 * const app = Fastify({ frameworkErrors: frameworkErrors(security.policy) });
 * await app.register(security.plugin);
 * app.addHook('onRequest', security.apiLimiter);
 * app.get('/api/protected', { preHandler: security.authenticateToken }, async (request) => ({ user: security.principal(request) }));
 */

import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RouteGenericInterface,
} from 'fastify';
import type { CorsOptions } from '../../http/cors.ts';
import type { HttpAnswer } from '../../http/problem.ts';
import type { SecurityHeadersOptions } from '../../http/security-headers.ts';
import { type Principal, unauthenticated } from '../../policy/principal.ts';
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
  type RampartCore,
  type RampartOptions,
  type RequestView,
  type RouteEvent,
  type Step,
  type ValidatedParts,
  type ValidateSchemas,
} from '../../policy/rampart.ts';
import { KNOWN_METHODS } from '../../policy/steps/http.ts';
import {
  type HandlerKinds,
  type HandlerMakers,
  readyMiddlewareCalled,
  type TutorialNames,
  withTutorialNames,
} from '../../policy/tutorial-names.ts';
import { nodeHeaders } from '../node-headers.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Rampart's steps as Fastify hooks (registered by `rampartPlugin` or `security.plugin`). */
    rampart: FastifyRampart;
  }
  interface FastifyRequest {
    /** Who is calling, once a Rampart authentication hook passed. */
    principal: Principal | undefined;
    /** The validated body, query and params (also written back to `request.body`, …). */
    validated: ValidatedParts | undefined;
    /** The reserved attempt of an `attempts()` hook: settle it in the handler. */
    attempt: Attempt | undefined;
  }
}

/**
 * A Fastify hook (`onRequest`, `preHandler`, …): ready, pass it as it is. `G` is the route's
 * types it gives the handler (`{ Body: … }` for a validating hook); `{}` leaves the route's own.
 */
// biome-ignore lint/complexity/noBannedTypes: `{}` is the one RouteGeneric that merges with the route's own.
export type RampartHook<G extends RouteGenericInterface = {}> = (
  request: FastifyRequest<G>,
  reply: FastifyReply<G>,
) => Promise<unknown>;

/** Fastify's route types of a validation output: `Body`, `Querystring`, `Params`. */
export type RouteTypes<V extends ValidatedParts> = ('body' extends keyof V
  ? { Body: V['body'] }
  : Record<never, never>) &
  ('query' extends keyof V ? { Querystring: V['query'] } : Record<never, never>) &
  ('params' extends keyof V ? { Params: V['params'] } : Record<never, never>);

/** How the Fastify adapter types its hooks (see `HandlerKinds`). */
export interface FastifyKinds extends HandlerKinds {
  readonly ready: RampartHook;
  readonly guard: RampartHook;
  readonly attempt: RampartHook;
  readonly check: RampartHook<RouteTypes<this['output']>>;
}

/** The hook of a policy with `cors`. */
export interface FastifyCorsNames {
  /** onRequest: CORS headers on the policy's `cors` option, and the answer to a preflight. */
  readonly cors: RampartHook;
}

/** Options of the plugin: which hooks and handlers it installs for the whole app. */
export interface RampartPluginSettings {
  /** Security headers on every response: `true` (the policy's defaults), options, or `false`. Default true. */
  securityHeaders?: SecurityHeadersOptions | boolean;
  /** CORS on every request: `true` (the policy's `cors` option), options, or `false`. Default: on when the policy has `cors`. */
  cors?: CorsOptions | boolean;
  /**
   * Request hygiene on every request (`policy.screen`): unknown methods and TRACE 405, a body
   * on GET/HEAD/OPTIONS 400. Default false (an app may have its own WebDAV routes).
   */
  screen?: boolean;
  /** Put `request.id` in problem bodies and events. Default false. */
  requestId?: boolean;
  /** Set the problem+json error handler. Default true. */
  errorHandler?: boolean;
  /** Set the problem+json 404/405 handler. Default true. */
  notFound?: boolean;
  /** Replace the `application/json` parser with Rampart's reader. Default true. */
  jsonParser?: boolean;
  /** Accept no other body type (every other content type is 415). Default false. */
  jsonOnly?: boolean;
  /**
   * The limit every request counts against on `onRequest`, chosen per request (after the
   * security headers, before hygiene and CORS, so a refused method or a preflight still
   * counts): e.g. `() => security.apiLimiter`, or `undefined` for a route with its own.
   */
  limitFor?: (request: FastifyRequest) => Step<Decision> | undefined;
}

/** Options of {@link rampartPlugin}: the policy, and the plugin's settings. */
export interface RampartPluginOptions extends RampartPluginSettings {
  /** The policy: `createRampart()`'s result, or its options. */
  policy: RampartCore | RampartOptions;
}

/** The hooks every policy has. */
export interface FastifyRampartCore<C extends Capability> {
  readonly policy: Rampart<C>;
  /**
   * The plugin for `app.register(security.plugin)`, with these settings (or those given to
   * `createFastifyRampart`). It decorates `app.rampart` with these hooks.
   */
  readonly plugin: (fastify: FastifyInstance, settings?: RampartPluginSettings) => Promise<void>;
  /** onRequest: CORS on these options (a factory; `security.cors` is the policy's own). */
  corsWith(options: CorsOptions): RampartHook;
  /** onRequest: the security headers of the policy's `securityHeaders` option. Ready. */
  readonly securityHeaders: RampartHook;
  /** onRequest: the security headers of these options (a factory). */
  securityHeadersWith(options: SecurityHeadersOptions): RampartHook;
  /** onRequest: request hygiene (`policy.screen`), with `Allow` from the app's own routes. Ready. */
  readonly screen: RampartHook;
  /** Any limit-like step of the policy as a hook (a refusal answers; a pass adds its headers). */
  asHook(step: Step<Decision>): RampartHook;
  /**
   * Who is calling, on a route behind an authenticating hook; typed, so a handler needs no
   * `!`. Without one it throws the 401 `UNAUTHENTICATED` error (answered as problem+json).
   */
  principal(request: FastifyRequest): Principal;
  /** The engine's view of a request (to call a policy method from a handler). */
  view(request: FastifyRequest): RequestView;
  /** Records a route handler's security event through the policy. */
  event(request: FastifyRequest, event: RouteEvent): void;
  /** A handler's own authorization refusal: records `authz_fail`, returns the 403 error to throw. */
  forbid(request: FastifyRequest, needed: readonly string[], detail?: Record<string, unknown>): Error;
  /** For `setErrorHandler`: problem+json for every error. */
  readonly errorHandler: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => FastifyReply;
  /** For `setNotFoundHandler`: 404 problem+json, or 405 with `Allow` when the path has other methods. */
  readonly notFound: (request: FastifyRequest, reply: FastifyReply) => FastifyReply;
}

/**
 * The policy's steps as hooks, under the tutorial's names. Authenticating hooks set
 * `request.principal` (read it with `security.principal(request)`); validation replaces the
 * body, query and params with the schemas' output, typed for the route's handler, and sets
 * `request.validated`; `attempts()` sets `request.attempt`. The names that need an option
 * exist only when the policy has it (`C`).
 */
export type FastifyRampart<C extends Capability = Capability> = FastifyRampartCore<C> &
  TutorialNames<FastifyKinds, C> &
  ('cors' extends C ? FastifyCorsNames : unknown);

// The view rides on the request under a symbol. Not in a WeakMap: an entry whose value (the
// view, through its `headers` closure) reaches its key kept whole requests alive through
// young-generation GCs under load (measured with bench/adapters.ts).
const VIEW = Symbol('rampart.view');
type Slots = FastifyRequest & { [VIEW]?: RequestView };

function makeViewOf(withRequestId: () => boolean) {
  return (request: FastifyRequest): RequestView => {
    let view = (request as Slots)[VIEW];
    if (view === undefined) {
      const url = request.url;
      const q = url.indexOf('?');
      // Plain data, every field present: see RequestView on why not getters.
      view = {
        method: request.method,
        path: q < 0 ? url : url.slice(0, q),
        // Routing is done before the first hook; routeOptions builds an object, so read it once.
        route: request.routeOptions.url,
        headers: nodeHeaders(request.raw),
        query: q < 0 ? undefined : url.slice(q + 1),
        ip: request.raw.socket.remoteAddress ?? '',
        body: undefined,
        params: undefined,
        principal: undefined,
        requestId: withRequestId() ? request.id : undefined,
      };
      (request as Slots)[VIEW] = view;
    }
    // The body is parsed after onRequest: refresh what may have arrived since.
    view.body = request.body;
    view.params = request.params as Record<string, string>;
    return view;
  };
}

/**
 * A promise of `apply(request, reply, decision)`, already settled when the decision was made
 * at once (no closure per request on that path).
 */
function settled<D, R>(
  request: FastifyRequest,
  reply: FastifyReply,
  decision: D | Promise<D>,
  apply: (request: FastifyRequest, reply: FastifyReply, decision: D) => R,
): Promise<R> {
  if (decision instanceof Promise) return decision.then((d) => apply(request, reply, d));
  try {
    return Promise.resolve(apply(request, reply, decision));
  } catch (error) {
    return Promise.reject(error);
  }
}

function send(reply: FastifyReply, answer: HttpAnswer): FastifyReply {
  reply.code(answer.status).headers(answer.headers);
  return answer.body === undefined ? reply.send() : reply.send(JSON.stringify(answer.body));
}

/** The methods the app routes for this URL's path, for `Allow`. */
function allowedMethods(fastify: FastifyInstance, url: string): string {
  const path = url.split('?', 1)[0]!;
  return KNOWN_METHODS.filter(
    (method) => method !== 'OPTIONS' && fastify.findRoute({ method: method as 'GET', url: path }) !== null,
  ).join(', ');
}

/** A ready hook, checked: called like a factory (`security.cors()`), it says so. */
function ready(
  name: string,
  run: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
): RampartHook {
  // Not async itself: a call without a request must throw now, not reject later.
  const hook = (request: FastifyRequest, reply: FastifyReply) => {
    if (reply === undefined)
      throw readyMiddlewareCalled(`security.${name}`, `app.addHook('onRequest', security.${name})`);
    return run(request, reply);
  };
  return hook as RampartHook;
}

function pieces(rampart: Rampart, defaults: RampartPluginSettings, ownsPolicy: boolean): FastifyRampart {
  let requestId = defaults.requestId === true;
  const viewOf = makeViewOf(() => requestId);
  // A decision made at once (a cached token, a memory-store limit) is applied at once: the
  // hook's promise is then one already settled, not an async function's chain.
  const authenticated = (request: FastifyRequest, reply: FastifyReply, decision: AuthDecision) => {
    if (!decision.ok) return send(reply, decision.answer);
    viewOf(request).principal = decision.principal;
    request.principal = decision.principal;
    // A key's own and its identity's limits (RateLimit-Policy of the key in use).
    reply.headers(decision.headers);
    return undefined;
  };
  const limited = (_request: FastifyRequest, reply: FastifyReply, decision: Decision) => {
    if (!decision.ok) return send(reply, decision.answer);
    reply.headers(decision.headers);
    return undefined;
  };
  const guard = (step: Step<AuthDecision>, name: string) =>
    ready(name, (request, reply) => settled(request, reply, step(viewOf(request)), authenticated));
  const limit = (step: Step<Decision>, name: string) =>
    ready(name, (request, reply) => settled(request, reply, step(viewOf(request)), limited));
  const check = (schemas: ValidateSchemas, name: string) => {
    const step = rampart.validate(schemas);
    return ready(name, async (request, reply) => {
      const decision = await step(viewOf(request));
      if (!decision.ok) return send(reply, decision.answer);
      const { value } = decision;
      if ('body' in value) request.body = value.body;
      if ('query' in value) request.query = value.query;
      if ('params' in value) request.params = value.params;
      request.validated = value;
    });
  };
  const attempt = (step: Step<AttemptDecision>, name: string) =>
    ready(name, async (request, reply) => {
      const decision = await step(viewOf(request));
      if (!decision.ok) return send(reply, decision.answer);
      request.attempt = decision.attempt;
    });
  const corsWith = (options: CorsOptions | undefined, name: string) => {
    const step = options === undefined ? rampart.cors() : rampart.cors(options);
    return ready(name, async (request, reply) => {
      const decision = step(viewOf(request));
      if (!decision.ok) return send(reply, decision.answer);
      reply.headers(decision.headers);
    });
  };
  const headersWith = (options: SecurityHeadersOptions | undefined, name: string) => {
    const headers = rampart.securityHeaders(options);
    return ready(name, async (_request, reply) => {
      reply.headers(headers);
    });
  };
  let policyCors: RampartHook | undefined;
  let policyHeaders: RampartHook | undefined;
  let screen: RampartHook | undefined;
  const hooks = {} as FastifyRampart;
  const base = {
    policy: rampart,
    // Fastify passes `{}` when registered without options: the settings given here win, over
    // those given to createFastifyRampart.
    plugin: (fastify: FastifyInstance, settings: RampartPluginSettings = {}) => {
      const merged = { ...defaults, ...settings };
      requestId = merged.requestId === true;
      return install(fastify, rampart, hooks, merged, viewOf, ownsPolicy);
    },
    // The policy's own CORS is made when first read, so a policy without `cors` can be adapted.
    get cors() {
      policyCors ??= corsWith(undefined, 'cors');
      return policyCors;
    },
    corsWith: (options: CorsOptions) => corsWith(options, 'corsWith(…)'),
    get securityHeaders() {
      policyHeaders ??= headersWith(undefined, 'securityHeaders');
      return policyHeaders;
    },
    securityHeadersWith: (options: SecurityHeadersOptions) => headersWith(options, 'securityHeadersWith(…)'),
    get screen() {
      screen ??= ready('screen', async (request, reply) => {
        const decision = rampart.screen(viewOf(request), () => allowedMethods(request.server, request.url));
        if (!decision.ok) return send(reply, decision.answer);
      });
      return screen;
    },
    principal(request: FastifyRequest): Principal {
      if (request.principal === undefined) throw unauthenticated();
      return request.principal;
    },
    asHook: (step: Step<Decision>) => limit(step, 'asHook(…)'),
    view: viewOf,
    event: (request: FastifyRequest, event: RouteEvent) => rampart.event(viewOf(request), event),
    forbid: (request: FastifyRequest, needed: readonly string[], detail?: Record<string, unknown>) =>
      rampart.forbid(viewOf(request), needed, detail),
    errorHandler: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) =>
      send(reply, rampart.errorAnswer(error, viewOf(request))),
    notFound: (request: FastifyRequest, reply: FastifyReply) =>
      send(reply, rampart.notFound(viewOf(request), allowedMethods(request.server, request.url))),
  };
  const makers: HandlerMakers<FastifyKinds> = { guard, limit, check, attempt };
  Object.defineProperties(hooks, Object.getOwnPropertyDescriptors(withTutorialNames(base, rampart, makers)));
  return hooks;
}

/**
 * The plugin's whole `onRequest` phase as one hook: security headers, the request's limit,
 * hygiene, CORS, in that order. Callback-style and synchronous but for a limit that waits
 * on its store: one hook instead of four, and no promise per check that needs none.
 */
function gateHook(
  rampart: Rampart,
  options: RampartPluginSettings,
  viewOf: (request: FastifyRequest) => RequestView,
): ((request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void) | undefined {
  const headerOption = options.securityHeaders ?? true;
  const headers =
    headerOption === false
      ? undefined
      : rampart.securityHeaders(headerOption === true ? undefined : headerOption);
  const corsOption = options.cors;
  const cors =
    corsOption === undefined || corsOption === false
      ? undefined
      : corsOption === true
        ? rampart.cors()
        : rampart.cors(corsOption);
  const screen = options.screen === true;
  const limitFor = options.limitFor;
  if (headers === undefined && cors === undefined && !screen && limitFor === undefined) return undefined;
  const rest = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    if (screen) {
      const decision = rampart.screen(viewOf(request), () => allowedMethods(request.server, request.url));
      if (!decision.ok) return void send(reply, decision.answer);
    }
    if (cors !== undefined) {
      const decision = cors(viewOf(request));
      if (!decision.ok) return void send(reply, decision.answer);
      reply.headers(decision.headers);
    }
    done();
  };
  const limited = (
    request: FastifyRequest,
    reply: FastifyReply,
    done: (error?: Error) => void,
    decision: Decision,
  ) => {
    if (!decision.ok) return void send(reply, decision.answer);
    reply.headers(decision.headers);
    rest(request, reply, done);
  };
  return (request, reply, done) => {
    if (headers !== undefined) reply.headers(headers);
    const step = limitFor?.(request);
    if (step === undefined) return rest(request, reply, done);
    const decision = step(viewOf(request));
    if (!(decision instanceof Promise)) return limited(request, reply, done, decision);
    decision.then((d) => {
      try {
        limited(request, reply, done, d);
      } catch (error) {
        done(error as Error);
      }
    }, done);
  };
}

/** What the plugin installs for the whole app. */
async function install(
  fastify: FastifyInstance,
  rampart: Rampart,
  hooks: FastifyRampart,
  options: RampartPluginSettings,
  viewOf: (request: FastifyRequest) => RequestView,
  ownsPolicy: boolean,
): Promise<void> {
  fastify.decorate('rampart', hooks);
  if (!fastify.hasRequestDecorator('principal')) fastify.decorateRequest('principal', undefined);
  fastify.decorateRequest('validated', undefined);
  fastify.decorateRequest('attempt', undefined);
  // An attempt that ended in our own failure (a 5xx: a store down) was not the client's: it
  // goes back. One the handler left unsettled on a 4xx stays counted.
  fastify.addHook('onResponse', (request, reply, done) => {
    if (request.attempt !== undefined && reply.statusCode >= 500) request.attempt.settle(true);
    done();
  });

  const gate = gateHook(rampart, options, viewOf);
  if (gate !== undefined) fastify.addHook('onRequest', gate);
  if (options.jsonOnly === true) {
    fastify.removeAllContentTypeParsers();
    // Every other type gets the engine's own 415, word for word, not Fastify's.
    fastify.addContentTypeParser('*', async (request: FastifyRequest) => {
      const decision = await rampart.readJson(
        {
          contentType: request.headers['content-type'],
          contentLength: request.headers['content-length'],
          transferEncoding: request.headers['transfer-encoding'],
          body: null,
        },
        viewOf(request),
      );
      if (!decision.ok) throw Object.assign(decision.error!, { statusCode: decision.answer.status });
      return undefined;
    });
  }
  if (options.jsonParser !== false) {
    if (fastify.hasContentTypeParser('application/json')) fastify.removeContentTypeParser('application/json');
    fastify.addContentTypeParser(
      'application/json',
      async (request: FastifyRequest, payload: AsyncIterable<Uint8Array>) => {
        const { headers: h } = request;
        const decision = await rampart.readJson(
          {
            contentType: h['content-type'],
            contentLength: h['content-length'],
            transferEncoding: h['transfer-encoding'],
            body: payload,
          },
          viewOf(request),
        );
        // statusCode too, for an app that keeps Fastify's own error handler.
        if (!decision.ok) throw Object.assign(decision.error!, { statusCode: decision.answer.status });
        return decision.value;
      },
    );
  }
  if (options.errorHandler !== false) fastify.setErrorHandler(hooks.errorHandler);
  if (options.notFound !== false) fastify.setNotFoundHandler(hooks.notFound);
  // A policy the plugin made is the plugin's to close.
  if (ownsPolicy) fastify.addHook('onClose', async () => rampart.close());
}

/** Marks a plugin as fastify-plugin does, so its hooks and decorators apply to the whole app. */
function unencapsulated<T extends object>(plugin: T): T {
  return Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'rampart',
    [Symbol.for('plugin-meta')]: { name: 'rampart', fastify: '5.x' },
  });
}

/**
 * Fastify hooks for one policy, typed by its options: pass `createRampart()`'s result, or its
 * options, and the plugin's settings. Register `security.plugin` once; use the hooks on routes.
 * A policy made here from options is closed with the app; one passed as `createRampart()`'s
 * result is yours to close.
 *
 * @throws TypeError naming the field when the options are wrong (see `createRampart`).
 * @example
 * const security = createFastifyRampart({ jwt: { secret, issuer, audience }, cors: { origins } }, { cors: true });
 * await app.register(security.plugin);
 * app.post('/api/users', { preHandler: security.validateUserInput(schema) }, async (request) => request.body.email);
 */
export function createFastifyRampart<C extends Capability>(
  policy: Rampart<C>,
  settings?: RampartPluginSettings,
): FastifyRampart<C>;
export function createFastifyRampart<
  P extends keyof RampartOptions = never,
  J extends keyof JwtOptions = never,
>(options: OptionsWith<P, J>, settings?: RampartPluginSettings): FastifyRampart<CapabilitiesOf<P, J>>;
export function createFastifyRampart(
  policy: Rampart | RampartOptions,
  settings: RampartPluginSettings = {},
): FastifyRampart {
  const owned = !isRampart(policy);
  const rampart = (owned ? createRampart(policy as RampartOptions) : policy) as Rampart;
  const hooks = pieces(rampart, settings, owned);
  unencapsulated(hooks.plugin);
  return hooks;
}

async function plugin(fastify: FastifyInstance, options: RampartPluginOptions): Promise<void> {
  const { policy: given, ...settings } = options ?? {};
  if (given === undefined)
    throw new TypeError('rampartPlugin.policy: expected createRampart() or its options');
  await createFastifyRampart(given as Rampart, settings).plugin(fastify, settings);
}

/**
 * The Rampart plugin: `await app.register(rampartPlugin, { policy })`. It decorates
 * `app.rampart` with the hooks (typed with every step: use `createFastifyRampart` for hooks
 * whose types follow the options).
 * @example
 * await app.register(rampartPlugin, { policy: createRampart({ apiKeys: verifier }), cors: { origins: ['https://app.example.com'] } });
 * app.get('/api/data', { preHandler: app.rampart.validateApiKey('read') }, async () => ({ ok: true }));
 */
export const rampartPlugin = unencapsulated(plugin);

/** Options of {@link frameworkErrors}. */
export interface FrameworkErrorsOptions {
  /** The security headers; default the policy's. */
  securityHeaders?: SecurityHeadersOptions;
  /** A limit step these requests count against too (they did reach the server): e.g. the address limit. */
  limit?: Step<Decision>;
}

/**
 * For `Fastify({ frameworkErrors })`: the errors Fastify answers before any hook runs (a
 * malformed percent-encoding in the path, `FST_ERR_BAD_URL`) go through the same problem+json
 * answer, with the security headers and the request id, instead of Fastify's own JSON echoing
 * the raw path; with `limit`, they count against it like any request.
 * @example const app = Fastify({ frameworkErrors: frameworkErrors(policy, { limit: policy.apiLimiter }) });
 */
export function frameworkErrors(
  policy: RampartCore,
  options: FrameworkErrorsOptions = {},
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  const security = policy.securityHeaders(options.securityHeaders);
  return (error, request, reply) => {
    const url = request.raw.url ?? '/';
    const q = url.indexOf('?');
    const view: RequestView = {
      method: request.raw.method ?? 'GET',
      path: q < 0 ? url : url.slice(0, q),
      route: undefined,
      headers: nodeHeaders(request.raw),
      query: undefined,
      ip: request.raw.socket.remoteAddress ?? '',
      body: undefined,
      params: undefined,
      principal: undefined,
      requestId: request.id,
    };
    const answer = (limited: Readonly<Record<string, string>>) => {
      const problem = policy.errorAnswer(Object.assign(error, { statusCode: error.statusCode ?? 400 }), view);
      reply
        .code(problem.status)
        .headers(security)
        .headers(limited)
        .headers(problem.headers)
        .send(JSON.stringify(problem.body));
    };
    if (options.limit === undefined) return answer({});
    Promise.resolve()
      .then(() => options.limit!(view))
      .then(
        (decision) => {
          if (decision.ok) return answer(decision.headers);
          reply
            .code(decision.answer.status)
            .headers(security)
            .headers(decision.answer.headers)
            .send(JSON.stringify(decision.answer.body));
        },
        () => answer({}),
      );
  };
}
