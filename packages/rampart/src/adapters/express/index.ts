/**
 * Rampart for Express (5, and 4): each middleware builds the request view, runs one policy
 * step and writes its decision. No security logic lives here; it is all in `createRampart`.
 *
 * Names that take nothing are ready middleware (`security.cors`, `security.apiLimiter`,
 * `security.authenticateToken`); names that take something are factories
 * (`security.validateApiKey('read')`, `security.validateUserInput(schema)`).
 *
 * @example
 * import express from 'express';
 * import { createExpressRampart } from 'rampart/express';
 *
 * const security = createExpressRampart({ jwt: { secret, issuer, audience } });
 * const app = express();
 * app.use(security.securityHeaders, security.apiLimiter, security.jsonBody);
 * app.get('/api/protected', security.authenticateToken, (req, res) => res.json({ user: security.principal(req) }));
 * app.use(security.notFound, security.errorHandler);
 */

import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { RampartError } from '../../errors.ts';
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
  type RampartOptions,
  type RequestView,
  type Step,
  type ValidatedParts,
  type ValidateSchemas,
} from '../../policy/rampart.ts';
import {
  type HandlerKinds,
  readyMiddlewareCalled,
  type TutorialNames,
  withTutorialNames,
} from '../../policy/tutorial-names.ts';
import { nodeHeaders } from '../node-headers.ts';

declare global {
  namespace Express {
    interface Request {
      /** Who is calling, once a Rampart authentication middleware passed. */
      principal?: Principal | undefined;
      /** The validated body, query and params (Express 5's `req.query` cannot be replaced). */
      validated?: ValidatedParts | undefined;
      /** The reserved attempt of an `attempts()` middleware: settle it in the handler. */
      attempt?: Attempt | undefined;
    }
  }
}

/**
 * Ready Express middleware: pass it as it is (`app.use(security.cors)`), never call it. Generic
 * over the request's types, so it leaves the route's `req.params`, `req.body` and `req.query`
 * as the route's other handlers type them.
 */
// biome-ignore lint/suspicious/noExplicitAny: Express's own default for Locals.
export type ExpressMiddleware = <P, ResBody, ReqBody, ReqQuery, Locals extends Record<string, any>>(
  req: Request<P, ResBody, ReqBody, ReqQuery, Locals>,
  res: Response<ResBody, Locals>,
  next: NextFunction,
) => void;

/** Part `K` of a validation output, or `Otherwise` when that part is not validated. */
type Part<V, K extends PropertyKey, Otherwise> = K extends keyof V ? V[K] : Otherwise;

/**
 * Validating Express middleware: the handlers after it read `req.body`, `req.query` and
 * `req.params` as the schemas' output types (`V`). A part not validated is typed as Express
 * types it (the body as `unknown`: nothing checked it).
 */
export type ValidatingMiddleware<V extends ValidatedParts> = RequestHandler<
  Part<V, 'params', Request['params']>,
  // biome-ignore lint/suspicious/noExplicitAny: Express's own default for the response body.
  any,
  Part<V, 'body', unknown>,
  Part<V, 'query', Request['query']>
>;

/** How the Express adapter types its handlers (see `HandlerKinds`). */
export interface ExpressKinds extends HandlerKinds {
  readonly ready: ExpressMiddleware;
  readonly guard: ExpressMiddleware;
  readonly attempt: ExpressMiddleware;
  readonly check: ValidatingMiddleware<this['output']>;
}

/** The middleware of a policy with `cors`. */
export interface ExpressCorsNames {
  /** Ready middleware: CORS headers on the policy's `cors` option, and the preflight's answer. */
  readonly cors: ExpressMiddleware;
}

/** The middleware every policy has. */
export interface ExpressRampartCore<C extends Capability> {
  /** The framework-free policy behind these middleware. */
  readonly policy: Rampart<C>;
  /** CORS on these options (a factory; `security.cors` is the policy's own). */
  corsWith(options: CorsOptions): ExpressMiddleware;
  /** Ready middleware: the security headers of the policy's `securityHeaders` option. */
  readonly securityHeaders: ExpressMiddleware;
  /** The security headers of these options (a factory). */
  securityHeadersWith(options: SecurityHeadersOptions): ExpressMiddleware;
  /** Ready middleware: reads a JSON body into `req.body` (size, depth, `__proto__` and media type checked). */
  readonly jsonBody: ExpressMiddleware;
  /**
   * Who is calling, on a route behind an authenticating middleware; typed, so a handler needs
   * no `!`. Without one it throws the 401 `UNAUTHENTICATED` error (answered by `errorHandler`).
   */
  principal(req: Request): Principal;
  /** Answers 404 problem+json; mount it after the routes. */
  readonly notFound: RequestHandler;
  /** Answers every error as problem+json (5xx without detail); mount it last. */
  readonly errorHandler: ErrorRequestHandler;
}

/**
 * The middleware of one policy, under the tutorial's names. Authenticating middleware set
 * `req.principal` (read it with `security.principal(req)`); validation replaces `req.body`,
 * `req.query` and `req.params` with the schemas' output (and sets `req.validated`). The names
 * that need an option exist only when the policy has it (`C`).
 */
export type ExpressRampart<C extends Capability = Capability> = ExpressRampartCore<C> &
  TutorialNames<ExpressKinds, C> &
  ('cors' extends C ? ExpressCorsNames : unknown);

// Per-request state rides on the request under symbols. Not in a WeakMap: an entry whose value
// (the view, through its `headers` closure) reaches its key kept whole requests alive through
// young-generation GCs under load (measured with bench/adapters.ts).
const VIEW = Symbol('rampart.view');
const BODY_READ = Symbol('rampart.bodyRead');
type Slots = Request & { [VIEW]?: RequestView; [BODY_READ]?: true };

function viewOf(req: Request): RequestView {
  let view = (req as Slots)[VIEW];
  if (view === undefined) {
    const url = req.originalUrl;
    const q = url.indexOf('?');
    // Plain data, every field present: see RequestView on why not getters.
    view = {
      method: req.method,
      path: q < 0 ? url : url.slice(0, q),
      route: undefined,
      headers: nodeHeaders(req),
      query: q < 0 ? undefined : url.slice(q + 1),
      ip: req.socket.remoteAddress ?? '',
      body: undefined,
      params: undefined,
      principal: undefined,
    };
    (req as Slots)[VIEW] = view;
  }
  // What Express learns as the request goes on: the matched route, the body, the params.
  view.route = req.route ? req.baseUrl + String(req.route.path) : undefined;
  view.body = req.body;
  view.params = req.params as Record<string, string>;
  return view;
}

function setHeaders(res: Response, headers: Readonly<Record<string, string>>): void {
  for (const name in headers) res.setHeader(name, headers[name]!);
}

function send(res: Response, answer: HttpAnswer): void {
  res.status(answer.status);
  setHeaders(res, answer.headers);
  if (answer.body === undefined) res.end();
  else res.send(JSON.stringify(answer.body));
}

/** Sends the answer and tells the middleware not to go on. */
function stop(res: Response, answer: HttpAnswer): false {
  send(res, answer);
  return false;
}

/** Ready middleware, checked: called like a factory (`security.cors()`), it says so. */
function ready(
  name: string,
  run: (req: Request, res: Response, next: NextFunction) => void,
): ExpressMiddleware {
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    if (typeof next !== 'function')
      throw readyMiddlewareCalled(`security.${name}`, `app.use(security.${name})`);
    run(req, res, next);
  };
  return middleware as ExpressMiddleware;
}

/**
 * Express 4 does not catch a rejected middleware promise; this does, for both versions. A
 * step that answered at once (a limit on the memory store, a cached token) goes on at once.
 */
function handler(
  name: string,
  run: (req: Request, res: Response) => boolean | Promise<boolean>,
): ExpressMiddleware {
  return ready(name, (req, res, next) => {
    let proceed: boolean | Promise<boolean>;
    try {
      proceed = run(req, res);
    } catch (error) {
      return next(error);
    }
    if (proceed instanceof Promise) proceed.then((go) => go && next(), next);
    else if (proceed) next();
  });
}

/** `apply` to a decision that may have been made at once: no promise and no closure then. */
function decided<D, R>(
  req: Request,
  res: Response,
  decision: D | Promise<D>,
  apply: (req: Request, res: Response, decision: D) => R,
): R | Promise<R> {
  return decision instanceof Promise ? decision.then((d) => apply(req, res, d)) : apply(req, res, decision);
}

/**
 * Express middleware for one policy: pass `createRampart()`'s result, or its options.
 * @throws TypeError naming the field when the options are wrong (see `createRampart`).
 * @example
 * const security = createExpressRampart({ jwt: { secret, issuer, audience }, cors: { origins: ['https://app.example.com'] } });
 * app.use(security.cors, security.securityHeaders, security.apiLimiter);
 */
export function createExpressRampart<C extends Capability>(policy: Rampart<C>): ExpressRampart<C>;
export function createExpressRampart<
  P extends keyof RampartOptions = never,
  J extends keyof JwtOptions = never,
>(options: OptionsWith<P, J>): ExpressRampart<CapabilitiesOf<P, J>>;
export function createExpressRampart(policy: Rampart | RampartOptions): ExpressRampart {
  const rampart = isRampart(policy) ? policy : createRampart(policy);

  const readBody = async (req: Request, res: Response): Promise<boolean> => {
    // Another parser (express.json()) or an earlier jsonBody already read it.
    if (req.body !== undefined || (req as Slots)[BODY_READ] || req.readableEnded) return true;
    (req as Slots)[BODY_READ] = true;
    const { headers } = req;
    const decision = await rampart.readJson(
      {
        contentType: headers['content-type'],
        contentLength: headers['content-length'],
        transferEncoding: headers['transfer-encoding'],
        body: req,
      },
      viewOf(req),
    );
    if (!decision.ok) return stop(res, decision.answer);
    req.body = decision.value;
    return true;
  };
  const authenticated = (req: Request, res: Response, decision: AuthDecision): boolean => {
    if (!decision.ok) return stop(res, decision.answer);
    viewOf(req).principal = decision.principal;
    req.principal = decision.principal;
    setHeaders(res, decision.headers);
    return true;
  };
  const limited = (_req: Request, res: Response, decision: Decision): boolean => {
    if (!decision.ok) return stop(res, decision.answer);
    setHeaders(res, decision.headers);
    return true;
  };
  const guard = (step: Step<AuthDecision>, name: string) =>
    handler(name, (req, res) => decided(req, res, step(viewOf(req)), authenticated));
  const limit = (step: Step<Decision>, name: string) =>
    handler(name, (req, res) => decided(req, res, step(viewOf(req)), limited));
  const check = (schemas: ValidateSchemas, name: string) => {
    const step = rampart.validate(schemas);
    return handler(name, async (req, res) => {
      if (schemas.body !== undefined && !(await readBody(req, res))) return false;
      const decision = await step(viewOf(req));
      if (!decision.ok) return stop(res, decision.answer);
      const { value } = decision;
      if ('body' in value) req.body = value.body;
      if ('params' in value) req.params = value.params as Request['params'];
      // Express 5 reads `req.query` through a getter of its prototype; an own property of this
      // request shadows it, so the handler reads the validated (and transformed) query.
      if ('query' in value) {
        Object.defineProperty(req, 'query', {
          value: value.query,
          writable: true,
          configurable: true,
          enumerable: true,
        });
      }
      req.validated = value;
      return true;
    });
  };
  const attempt = (step: Step<AttemptDecision>, name: string) =>
    handler(name, async (req, res) => {
      if (!(await readBody(req, res))) return false;
      const decision = await step(viewOf(req));
      if (!decision.ok) return stop(res, decision.answer);
      req.attempt = decision.attempt;
      // Our own failure (a 5xx) was not the client's: the attempt goes back.
      res.on('finish', () => {
        if (res.statusCode >= 500) decision.attempt.settle(true);
      });
      return true;
    });
  const corsWith = (options: CorsOptions | undefined, name: string) => {
    const step = options === undefined ? (rampart as Rampart).cors() : rampart.cors(options);
    return ready(name, (req, res, next) => {
      const decision = step(viewOf(req));
      if (!decision.ok) return send(res, decision.answer);
      setHeaders(res, decision.headers);
      next();
    });
  };
  const headersWith = (options: SecurityHeadersOptions | undefined, name: string) => {
    const headers = rampart.securityHeaders(options);
    return ready(name, (_req, res, next) => {
      setHeaders(res, headers);
      next();
    });
  };
  let policyCors: ExpressMiddleware | undefined;
  let policyHeaders: ExpressMiddleware | undefined;
  let jsonBody: ExpressMiddleware | undefined;
  const base = {
    policy: rampart,
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
    get jsonBody() {
      jsonBody ??= handler('jsonBody', readBody);
      return jsonBody;
    },
    principal(req: Request): Principal {
      if (req.principal === undefined) throw unauthenticated();
      return req.principal;
    },
    notFound: ((req, res) => send(res, rampart.notFound(viewOf(req)))) as RequestHandler,
    errorHandler: ((error, req, res, next) => {
      if (res.headersSent) return next(error);
      // express.json()'s parse failure, for apps that keep Express's own parser.
      const known =
        (error as { type?: unknown } | null)?.type === 'entity.parse.failed'
          ? new RampartError('MALFORMED_JSON')
          : error;
      send(res, rampart.errorAnswer(known, viewOf(req)));
    }) as ErrorRequestHandler,
  };
  return withTutorialNames<typeof base, ExpressKinds>(base, rampart as Rampart, {
    guard,
    limit,
    check,
    attempt,
  }) as unknown as ExpressRampart;
}
