/**
 * Rampart for Express (5, and 4): each middleware builds the request view, runs one policy
 * step and writes its decision. No security logic lives here; it is all in `createRampart`.
 *
 * @example
 * import express from 'express';
 * import { createExpressRampart } from 'rampart/express';
 *
 * const security = createExpressRampart({ jwt: { secret, issuer, audience } });
 * const app = express();
 * app.use(security.securityHeaders(), security.apiLimiter, security.jsonBody());
 * app.get('/api/protected', security.authenticateToken, (req, res) => res.json({ user: req.principal }));
 * app.use(security.notFound, security.errorHandler);
 */

import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { RampartError } from '../../errors.ts';
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
 * The middleware of one policy, under the tutorial's names.
 * The tutorial's names come from `TutorialNames`; here authenticating middleware set `req.principal`; validation sets `req.validated` (and `req.body`).
 */
export interface ExpressRampart extends TutorialNames<RequestHandler> {
  /** The framework-free policy behind these middleware. */
  readonly policy: Rampart;
  cors(options?: CorsOptions): RequestHandler;
  securityHeaders(options?: SecurityHeadersOptions): RequestHandler;
  /** Reads a JSON body into `req.body` (size, depth, `__proto__` and media type checked). */
  jsonBody(): RequestHandler;
  /** Answers 404 problem+json; mount it after the routes. */
  readonly notFound: RequestHandler;
  /** Answers every error as problem+json (5xx without detail); mount it last. */
  readonly errorHandler: ErrorRequestHandler;
}

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

/** Express 4 does not catch a rejected middleware promise; this does, for both versions. */
function handler(run: (req: Request, res: Response) => Promise<boolean>): RequestHandler {
  return (req, res, next: NextFunction) => {
    run(req, res).then((proceed) => proceed && next(), next);
  };
}

/**
 * Express middleware for one policy: pass `createRampart()`'s result, or its options.
 * @throws TypeError naming the field when the options are wrong (see `createRampart`).
 * @example
 * const security = createExpressRampart({ jwt: { secret, issuer, audience }, cors: { origins: ['https://app.example.com'] } });
 * app.use(security.cors(), security.securityHeaders(), security.apiLimiter);
 */
export function createExpressRampart(policy: Rampart | RampartOptions): ExpressRampart {
  const rampart = isRampart(policy) ? policy : createRampart(policy);

  const readBody = async (req: Request, res: Response): Promise<boolean> => {
    // Another parser (express.json()) or an earlier jsonBody() already read it.
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
  const guard = (step: Step<AuthDecision>) =>
    handler(async (req, res) => {
      const view = viewOf(req);
      const decision = await step(view);
      if (!decision.ok) return stop(res, decision.answer);
      view.principal = decision.principal;
      req.principal = decision.principal;
      setHeaders(res, decision.headers);
      return true;
    });
  const limit = (step: Step<Decision>) =>
    handler(async (req, res) => {
      const decision = await step(viewOf(req));
      if (!decision.ok) return stop(res, decision.answer);
      setHeaders(res, decision.headers);
      return true;
    });
  const check = (schemas: ValidateSchemas) => {
    const step = rampart.validate(schemas);
    return handler(async (req, res) => {
      if (schemas.body !== undefined && !(await readBody(req, res))) return false;
      const decision = await step(viewOf(req));
      if (!decision.ok) return stop(res, decision.answer);
      const { value } = decision;
      if ('body' in value) req.body = value.body;
      if ('params' in value) req.params = value.params as Request['params'];
      req.validated = value;
      return true;
    });
  };
  const attempt = (step: Step<AttemptDecision>) =>
    handler(async (req, res) => {
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
  return withTutorialNames<Omit<ExpressRampart, keyof TutorialNames<RequestHandler>>, RequestHandler>(
    {
      policy: rampart,
      cors(options) {
        const step = rampart.cors(options);
        return (req, res, next) => {
          const decision = step(viewOf(req));
          if (!decision.ok) return send(res, decision.answer);
          setHeaders(res, decision.headers);
          next();
        };
      },
      securityHeaders(options) {
        const headers = rampart.securityHeaders(options);
        return (_req, res, next) => {
          setHeaders(res, headers);
          next();
        };
      },
      jsonBody: () => handler(readBody),
      notFound: (req, res) => send(res, rampart.notFound(viewOf(req))),
      errorHandler: (error, req, res, next) => {
        if (res.headersSent) return next(error);
        // express.json()'s parse failure, for apps that keep Express's own parser.
        const known =
          (error as { type?: unknown } | null)?.type === 'entity.parse.failed'
            ? new RampartError('MALFORMED_JSON')
            : error;
        send(res, rampart.errorAnswer(known, viewOf(req)));
      },
    },
    rampart,
    { guard, limit, check, attempt },
  );
}
