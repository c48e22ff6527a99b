/**
 * The HTTP steps that need no credential: request hygiene (`screen`), CORS, reading a JSON
 * body, and the problem+json answers for errors, unknown routes and wrong methods.
 */
import { RampartError } from '../../errors.ts';
import { type CorsOptions, createCors } from '../../http/cors.ts';
import { type HttpAnswer, problemAnswer, toRampartError } from '../../http/problem.ts';
import type { PolicyContext } from '../context.ts';
import { type JsonBodyInput, type JsonBodyOptions, readJsonBody } from '../json-request.ts';
import { isObject, record } from '../options.ts';
import { type Decision, type JsonBodyDecision, NO_HEADERS, type RequestView, routeOf } from '../view.ts';
import { hasBody } from './validate.ts';

/** Methods an API answers; anything else (TRACE, CONNECT, WebDAV and made-up verbs) is refused. */
export const KNOWN_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
]);
/** Methods whose requests carry no body: one that does is refused, never half-read. */
const BODILESS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Request hygiene before anything else is done: a method outside `KNOWN_METHODS` is 405 (with
 * `Allow` from `allow()`, the router's methods for this path, when the adapter knows them);
 * a GET, HEAD or OPTIONS with a body is 400. TRACE is refused because it echoes the request
 * (headers and cookies included) back to whoever can make a browser send one.
 */
export function screen(ctx: PolicyContext, view: RequestView, allow?: () => string): Decision {
  if (!KNOWN_METHODS.includes(view.method)) {
    const allowed = allow?.() ?? KNOWN_METHODS.filter((m) => m !== 'OPTIONS').join(', ');
    return ctx.refuse(new RampartError('METHOD_NOT_ALLOWED', { headers: { allow: allowed } }), view);
  }
  if (BODILESS.has(view.method) && hasBody(view)) {
    return ctx.refuse(new RampartError('BAD_REQUEST', { detail: 'This method takes no body.' }), view);
  }
  return { ok: true, headers: NO_HEADERS };
}

/** A CORS step: headers to add, or the preflight's 204 answer. */
export function corsStep(options: CorsOptions): (view: RequestView) => Decision {
  const cors = createCors(options);
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
}

/** Reads a JSON body with the policy's limits; `__proto__` and friends are a `malicious_request` event. */
export async function readJson(
  ctx: PolicyContext,
  config: Required<JsonBodyOptions>,
  input: JsonBodyInput,
  view?: RequestView,
): Promise<JsonBodyDecision> {
  const outcome = await readJsonBody(input, config);
  if (outcome.ok) return { ok: true, headers: NO_HEADERS, value: outcome.value };
  if (outcome.error.code === 'FORBIDDEN_PROPERTY') {
    ctx.emit(
      {
        type: 'malicious_request',
        outcome: 'blocked',
        ...(view !== undefined ? { ip: ctx.clientIp(view) } : {}),
        detail: { reason: 'FORBIDDEN_PROPERTY', ...(view !== undefined ? { route: routeOf(view) } : {}) },
      },
      view,
    );
  }
  return ctx.refuse(outcome.error, view);
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

/** The problem+json answer for anything thrown; a 5xx carries no detail and is told to `onError`. */
export function errorAnswer(ctx: PolicyContext, error: unknown, view?: RequestView): HttpAnswer {
  const rampartError = toRampartError(normalizeThrown(error));
  if (rampartError.status >= 500) ctx.onError(error, view);
  return problemAnswer(rampartError, view?.requestId);
}

/** 404, or 405 with `Allow` when the path exists under other methods. */
export function notFound(view: RequestView | undefined, allow?: string): HttpAnswer {
  const error =
    allow !== undefined && allow !== ''
      ? new RampartError('METHOD_NOT_ALLOWED', { headers: { allow } })
      : new RampartError('NOT_FOUND', { detail: 'No route matches this method and path.' });
  return problemAnswer(error, view?.requestId);
}
