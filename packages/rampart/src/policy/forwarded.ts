/**
 * The original request behind a forward-auth call: nginx `auth_request`, Caddy `forward_auth`,
 * Traefik `forwardAuth` and Envoy's HTTP `ext_authz` each ask an authorization service about a
 * request they hold, and describe it in their own way. This step reads that description into
 * a {@link RequestView} the other steps decide on, as if the request had come here.
 *
 * Where each proxy puts the original request:
 * - nginx: `X-Original-Method` and `X-Original-URI` (the configuration sets them, by convention);
 * - Caddy and Traefik: `X-Forwarded-Method`, `X-Forwarded-Uri`, `X-Forwarded-Host`, `X-Forwarded-Proto`;
 * - Envoy: its check request itself, with the original method, the original path after the
 *   service's `path_prefix`, and the original `Host`.
 *
 * The forwarding headers are believed only from a peer in `trustProxy`: from anyone else they
 * are ignored (a client could otherwise ask about one request and send another), and the
 * decision is about the check request's own method and path. The path must be in normal form
 * (`parseRequestTarget`): the proxy routes on its own normalised path, so a target with dot
 * segments or encoded slashes could be decided as one route and served as another.
 */
import { RampartError } from '../errors.ts';
import { parseRequestTarget } from '../http/request-target.ts';
import type { PolicyContext } from './context.ts';
import { KNOWN_METHODS } from './steps/http.ts';
import { type Decision, NO_HEADERS, type RequestView } from './view.ts';

/** Options of `rampart.forwarded()`. */
export interface ForwardedOptions {
  /**
   * The path of the decision endpoint (`/v1/auth/forward`): a check request under it (Envoy's
   * `path_prefix`) names the original path after it. Without one, the view's own path is the
   * original path (a gateway route).
   */
  pathPrefix?: string;
}

/** The decision of `forwarded()`: the original request's view, host and scheme. */
export type ForwardedDecision = Decision<{
  /** The original request, for the other steps; `route` is left to the caller's router. */
  readonly view: RequestView;
  /** The original `Host` (a trusted proxy's `X-Forwarded-Host`, else `Host`). */
  readonly host: string | undefined;
  /** `http` or `https` as a trusted proxy said (`X-Forwarded-Proto`); `undefined` otherwise. */
  readonly proto: 'http' | 'https' | undefined;
  /** Whether a trusted proxy's forwarding headers described the request. */
  readonly proxied: boolean;
}>;

const METHOD_HEADERS = ['x-original-method', 'x-forwarded-method'] as const;
const URI_HEADERS = ['x-original-uri', 'x-forwarded-uri'] as const;
// RFC 9110 §7.2 host, loosely: a reg-name or IP literal and an optional port, nothing else.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+;=-]+)(?::\d{1,5})?$/;

function first(view: RequestView, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = view.headers(name);
    if (value !== undefined) return value;
  }
  return undefined;
}

function badRequest(ctx: PolicyContext, view: RequestView, detail: string) {
  return ctx.refuse(new RampartError('BAD_REQUEST', { detail }), view);
}

/**
 * Builds the view of the original request a forward-auth call describes.
 * Refusals: 400 for a target not in normal form or a forwarding header given twice (a
 * client's copy beside the proxy's), 405 for a method an API does not answer.
 */
export function forwardedRequest(
  ctx: PolicyContext,
  view: RequestView,
  options: ForwardedOptions = {},
): ForwardedDecision {
  const proxied = ctx.trustsPeer(view);
  let method = proxied ? first(view, METHOD_HEADERS) : undefined;
  let target = proxied ? first(view, URI_HEADERS) : undefined;
  const forwardedHost = proxied ? view.headers('x-forwarded-host') : undefined;
  const forwardedProto = proxied ? view.headers('x-forwarded-proto') : undefined;
  method ??= view.method;
  if (target === undefined) {
    const prefix = options.pathPrefix;
    let path = view.path;
    if (prefix !== undefined && (path === prefix || path.startsWith(`${prefix}/`))) {
      path = path.slice(prefix.length) || '/';
    }
    target = view.query === undefined ? path : `${path}?${view.query}`;
  }
  if (!KNOWN_METHODS.includes(method)) {
    const allow = KNOWN_METHODS.filter((m) => m !== 'OPTIONS').join(', ');
    return ctx.refuse(new RampartError('METHOD_NOT_ALLOWED', { headers: { allow } }), view);
  }
  const parsed = parseRequestTarget(target);
  if (!parsed.ok) return badRequest(ctx, view, `The request path is not in normal form: ${parsed.reason}.`);
  const host = forwardedHost ?? view.headers('host');
  if (host !== undefined && !HOST.test(host)) {
    return badRequest(ctx, view, 'The forwarded host is not one host name.');
  }
  let proto: 'http' | 'https' | undefined;
  if (forwardedProto !== undefined) {
    const lower = forwardedProto.toLowerCase();
    if (lower !== 'http' && lower !== 'https')
      return badRequest(ctx, view, 'The forwarded scheme is not http or https.');
    proto = lower;
  }
  const original: RequestView = {
    method,
    path: parsed.path,
    route: undefined,
    headers: view.headers,
    query: parsed.query,
    ip: view.ip,
    body: undefined,
    params: undefined,
    principal: undefined,
    requestId: view.requestId,
  };
  return { ok: true, headers: NO_HEADERS, view: original, host, proto, proxied };
}
