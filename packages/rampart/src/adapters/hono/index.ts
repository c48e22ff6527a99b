/**
 * Rampart for Hono 4: each middleware builds the request view, runs one policy step and
 * writes its decision. No security logic lives here; it is all in `createRampart`.
 *
 * The client address is the socket peer: on Node (`@hono/node-server`) it is read from
 * `c.env.incoming`; on other runtimes pass `peerAddress`.
 *
 * @example
 * import { Hono } from 'hono';
 * import { createHonoRampart, type RampartEnv } from 'rampart/hono';
 *
 * const security = createHonoRampart({ jwt: { secret, issuer, audience } });
 * const app = new Hono<RampartEnv>();
 * app.use(security.securityHeaders(), security.apiLimiter);
 * app.get('/api/protected', security.authenticateToken, (c) => c.json({ user: c.get('principal') }));
 * app.notFound(security.notFound);
 * app.onError(security.errorHandler);
 */

import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
import type { ContentfulStatusCode, StatusCode } from 'hono/utils/http-status';
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
  type Step,
  type ValidatedParts,
  type ValidateSchemas,
} from '../../policy/rampart.ts';
import { type TutorialNames, withTutorialNames } from '../../policy/tutorial-names.ts';

/** The context variables Rampart sets: `c.get('principal')`, `c.get('validated')`, `c.get('body')`. */
export interface RampartVariables {
  principal: Principal | undefined;
  validated: ValidatedParts | undefined;
  /** The JSON body as read by Rampart (before validation). */
  body: unknown;
  /** The reserved attempt of an `attempts()` middleware: settle it in the handler. */
  attempt: Attempt | undefined;
}

/** Use as `new Hono<RampartEnv>()` for typed `c.get('principal')`. */
export type RampartEnv = { Variables: RampartVariables };

type Middleware = MiddlewareHandler<RampartEnv>;

/**
 * The middleware of one policy, under the tutorial's names.
 * The tutorial's names come from `TutorialNames`; here authenticating middleware set `c.get('principal')`; validation sets `c.get('validated')`.
 */
export interface HonoRampart extends TutorialNames<Middleware> {
  readonly policy: Rampart;
  cors(options?: CorsOptions): Middleware;
  securityHeaders(options?: SecurityHeadersOptions): Middleware;
  /** Reads a JSON body into `c.get('body')` (size, depth, `__proto__` and media type checked). */
  jsonBody(): Middleware;
  /** For `app.notFound`. */
  readonly notFound: NotFoundHandler<RampartEnv>;
  /** For `app.onError`. */
  readonly errorHandler: ErrorHandler<RampartEnv>;
}

/** Options of {@link createHonoRampart} besides the policy. */
export interface HonoRampartOptions {
  /** The socket peer's address; default `c.env.incoming.socket.remoteAddress` (@hono/node-server). */
  peerAddress?: (c: Context) => string | undefined;
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

/**
 * Hono middleware for one policy: pass `createRampart()`'s result, or its options.
 * @throws TypeError naming the field when the options are wrong (see `createRampart`).
 * @example
 * const security = createHonoRampart(createRampart({ apiKeys: verifier }), { peerAddress: (c) => c.req.header('cf-connecting-ip') });
 */
export function createHonoRampart(
  policy: Rampart | RampartOptions,
  options: HonoRampartOptions = {},
): HonoRampart {
  const rampart = isRampart(policy) ? policy : createRampart(policy);
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
  const guard =
    (step: Step<AuthDecision>): Middleware =>
    async (c, next) => {
      const view = viewOf(c);
      const decision = await step(view);
      if (!decision.ok) return send(c, decision.answer);
      view.principal = decision.principal;
      c.set('principal', decision.principal);
      setHeaders(c, decision.headers);
      await next();
    };
  const limit =
    (step: Step<Decision>): Middleware =>
    async (c, next) => {
      const decision = await step(viewOf(c));
      if (!decision.ok) return send(c, decision.answer);
      setHeaders(c, decision.headers);
      await next();
    };
  const check = (schemas: ValidateSchemas): Middleware => {
    const step = rampart.validate(schemas);
    return async (c, next) => {
      const refused = schemas.body === undefined ? undefined : await readBody(c);
      if (refused !== undefined) return refused;
      const view = viewOf(c);
      if (schemas.params !== undefined) view.params = c.req.param() as Record<string, string>;
      const decision = await step(view);
      if (!decision.ok) return send(c, decision.answer);
      c.set('validated', decision.value);
      await next();
    };
  };
  const attempt =
    (step: Step<AttemptDecision>): Middleware =>
    async (c, next) => {
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
    };
  return withTutorialNames<Omit<HonoRampart, keyof TutorialNames<Middleware>>, Middleware>(
    {
      policy: rampart,
      cors(corsOptions) {
        const step = rampart.cors(corsOptions);
        return async (c, next) => {
          const decision = step(viewOf(c));
          if (!decision.ok) return send(c, decision.answer);
          setHeaders(c, decision.headers);
          await next();
        };
      },
      securityHeaders(headerOptions) {
        const headers = rampart.securityHeaders(headerOptions);
        return async (c, next) => {
          await next();
          // After the handler (and onError) made the response, so every answer carries them.
          for (const name in headers) c.res.headers.set(name, headers[name]!);
        };
      },
      jsonBody: () => async (c, next) => {
        const refused = await readBody(c);
        if (refused !== undefined) return refused;
        await next();
      },
      notFound: (c) => send(c, rampart.notFound(viewOf(c))),
      errorHandler: (error, c) => send(c, rampart.errorAnswer(error, viewOf(c))),
    },
    rampart,
    { guard, limit, check, attempt },
  );
}
