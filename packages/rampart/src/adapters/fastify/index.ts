/**
 * Rampart for Fastify 5, as a plugin (fastify-plugin style: `Symbol.for('skip-override')`, so
 * its hooks and decorators apply to the whole app). It decorates `fastify.rampart` with the
 * policy's steps as hooks and `request.principal`, screens requests, adds security headers and
 * CORS on `onRequest`, reads JSON bodies with Rampart's reader, and answers errors, unknown
 * routes and wrong methods as problem+json. No security logic lives here; it is all in
 * `createRampart`. `rampart serve` is this plugin with the server's own routes.
 *
 * @example
 * import Fastify from 'fastify';
 * import { rampartPlugin, frameworkErrors } from 'rampart/fastify';
 *
 * const policy = createRampart({ jwt: { secret, issuer, audience } });
 * const app = Fastify({ frameworkErrors: frameworkErrors(policy) });
 * await app.register(rampartPlugin, { policy });
 * app.addHook('onRequest', app.rampart.apiLimiter);
 * app.get('/api/protected', { preHandler: app.rampart.authenticateToken }, async (request) => ({ user: request.principal }));
 */

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CorsOptions } from '../../http/cors.ts';
import type { HttpAnswer } from '../../http/problem.ts';
import type { SecurityHeadersOptions } from '../../http/security-headers.ts';
import type { Principal } from '../../policy/principal.ts';
import {
  type Attempt,
  type AttemptDecision,
  type AuthDecision,
  createRampart,
  type Decision,
  isRampart,
  type Rampart,
  type RampartOptions,
  type RequestView,
  type RouteEvent,
  type Step,
  type ValidatedParts,
  type ValidateSchemas,
} from '../../policy/rampart.ts';
import { KNOWN_METHODS } from '../../policy/steps/http.ts';
import { type TutorialNames, withTutorialNames } from '../../policy/tutorial-names.ts';
import { nodeHeaders } from '../node-headers.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Rampart's steps as Fastify hooks (registered by `rampartPlugin`). */
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

/** A Fastify hook (`onRequest`, `preHandler`, …). */
export type RampartHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * The policy's steps as hooks, under the tutorial's names: `fastify.rampart`.
 * The tutorial's names come from `TutorialNames`; here authenticating hooks (preHandler) set
 * `request.principal`; validation replaces the body and sets `request.validated`; `attempts()`
 * sets `request.attempt`.
 */
export interface FastifyRampart extends TutorialNames<RampartHook> {
  readonly policy: Rampart;
  /** onRequest: CORS headers, and the answer to a preflight. */
  cors(options?: CorsOptions): RampartHook;
  /** onRequest: the security headers. */
  securityHeaders(options?: SecurityHeadersOptions): RampartHook;
  /** onRequest: request hygiene (`policy.screen`), with `Allow` from the app's own routes. */
  screen(): RampartHook;
  /** Any limit-like step of the policy as a hook (a refusal answers; a pass adds its headers). */
  asHook(step: Step<Decision>): RampartHook;
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

/** Options of {@link rampartPlugin}. */
export interface RampartPluginOptions {
  /** The policy: `createRampart()`'s result, or its options. */
  policy: Rampart | RampartOptions;
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
}

// The view rides on the request under a symbol. Not in a WeakMap: an entry whose value (the
// view, through its `headers` closure) reaches its key kept whole requests alive through
// young-generation GCs under load (measured with bench/adapters.ts).
const VIEW = Symbol('rampart.view');
type Slots = FastifyRequest & { [VIEW]?: RequestView };

function makeViewOf(withRequestId: boolean) {
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
        requestId: withRequestId ? request.id : undefined,
      };
      (request as Slots)[VIEW] = view;
    }
    // The body is parsed after onRequest: refresh what may have arrived since.
    view.body = request.body;
    view.params = request.params as Record<string, string>;
    return view;
  };
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

function pieces(
  rampart: Rampart,
  fastify: FastifyInstance,
  viewOf: (request: FastifyRequest) => RequestView,
): FastifyRampart {
  const guard =
    (step: Step<AuthDecision>): RampartHook =>
    async (request, reply) => {
      const view = viewOf(request);
      const decision = await step(view);
      if (!decision.ok) return send(reply, decision.answer);
      view.principal = decision.principal;
      request.principal = decision.principal;
      // A key's own and its identity's limits (RateLimit-Policy of the key in use).
      reply.headers(decision.headers);
    };
  const limit =
    (step: Step<Decision>): RampartHook =>
    async (request, reply) => {
      const decision = await step(viewOf(request));
      if (!decision.ok) return send(reply, decision.answer);
      reply.headers(decision.headers);
    };
  const check = (schemas: ValidateSchemas): RampartHook => {
    const step = rampart.validate(schemas);
    return async (request, reply) => {
      const decision = await step(viewOf(request));
      if (!decision.ok) return send(reply, decision.answer);
      const { value } = decision;
      if ('body' in value) request.body = value.body;
      if ('query' in value) request.query = value.query;
      if ('params' in value) request.params = value.params;
      request.validated = value;
    };
  };
  const attempt =
    (step: Step<AttemptDecision>): RampartHook =>
    async (request, reply) => {
      const decision = await step(viewOf(request));
      if (!decision.ok) return send(reply, decision.answer);
      request.attempt = decision.attempt;
    };
  return withTutorialNames<Omit<FastifyRampart, keyof TutorialNames<RampartHook>>, RampartHook>(
    {
      policy: rampart,
      cors(options) {
        const step = rampart.cors(options);
        return async (request, reply) => {
          const decision = step(viewOf(request));
          if (!decision.ok) return send(reply, decision.answer);
          reply.headers(decision.headers);
        };
      },
      securityHeaders(options) {
        const headers = rampart.securityHeaders(options);
        return async (_request, reply) => {
          reply.headers(headers);
        };
      },
      screen() {
        return async (request, reply) => {
          const decision = rampart.screen(viewOf(request), () => allowedMethods(fastify, request.url));
          if (!decision.ok) return send(reply, decision.answer);
        };
      },
      asHook: limit,
      view: viewOf,
      event: (request, event) => rampart.event(viewOf(request), event),
      forbid: (request, needed, detail) => rampart.forbid(viewOf(request), needed, detail),
      errorHandler: (error, request, reply) => send(reply, rampart.errorAnswer(error, viewOf(request))),
      notFound: (request, reply) =>
        send(reply, rampart.notFound(viewOf(request), allowedMethods(fastify, request.url))),
    },
    rampart,
    { guard, limit, check, attempt },
  );
}

async function plugin(fastify: FastifyInstance, options: RampartPluginOptions): Promise<void> {
  const given = options.policy;
  if (given === undefined)
    throw new TypeError('rampartPlugin.policy: expected createRampart() or its options');
  const rampart = isRampart(given) ? given : createRampart(given);
  const viewOf = makeViewOf(options.requestId === true);
  const hooks = pieces(rampart, fastify, viewOf);
  fastify.decorate('rampart', hooks);
  if (!fastify.hasRequestDecorator('principal')) fastify.decorateRequest('principal', undefined);
  fastify.decorateRequest('validated', undefined);
  fastify.decorateRequest('attempt', undefined);
  // An attempt that ended in our own failure (a 5xx: a store down) was not the client's: it
  // goes back. One the handler left unsettled on a 4xx stays counted.
  fastify.addHook('onResponse', async (request, reply) => {
    if (request.attempt !== undefined && reply.statusCode >= 500) request.attempt.settle(true);
  });

  const headers = options.securityHeaders ?? true;
  if (headers !== false)
    fastify.addHook('onRequest', hooks.securityHeaders(headers === true ? undefined : headers));
  if (options.screen === true) fastify.addHook('onRequest', hooks.screen());
  const cors = options.cors;
  if (cors !== undefined && cors !== false)
    fastify.addHook('onRequest', hooks.cors(cors === true ? undefined : cors));
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
  if (!isRampart(given)) fastify.addHook('onClose', async () => rampart.close());
}

/**
 * The Rampart plugin: `await app.register(rampartPlugin, { policy })`.
 * @example
 * await app.register(rampartPlugin, { policy: createRampart({ apiKeys: verifier }), cors: { origins: ['https://app.example.com'] } });
 * app.get('/api/data', { preHandler: app.rampart.validateApiKey('read') }, async () => ({ ok: true }));
 */
export const rampartPlugin = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'rampart',
  [Symbol.for('plugin-meta')]: { name: 'rampart', fastify: '5.x' },
});

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
  policy: Rampart,
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
    options.limit(view).then(
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
