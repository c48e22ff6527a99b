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
 *
 * Each proxy sets its own family of headers and passes every other header of the client's
 * through: nginx overwrites `X-Original-*` but not `X-Forwarded-Uri`, Caddy and Traefik
 * overwrite `X-Forwarded-*` but not `X-Original-URI`, Envoy sets neither. So no family may win
 * by precedence (a client behind Caddy would add `X-Original-URI: /public` and be judged on
 * it): every description present (both header families and, for Envoy's form, the check
 * request's own path and method) must agree, or the call is 400. The proxy's copy is always
 * among them, so a client can only make its own request fail.
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
const HEADER_NAMES: Record<string, string> = {
  'x-original-method': 'X-Original-Method',
  'x-forwarded-method': 'X-Forwarded-Method',
  'x-original-uri': 'X-Original-URI',
  'x-forwarded-uri': 'X-Forwarded-Uri',
};
// RFC 9110 §7.2 host, loosely: a reg-name or IP literal and an optional port, nothing else.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+;=-]+)(?::\d{1,5})?$/;

/** One description of the request from every source that gives one, or the two that disagree. */
type Agreed = { ok: true; value: string | undefined } | { ok: false; conflict: string };

function agreed(view: RequestView, names: readonly string[], own: string | undefined): Agreed {
  let value = own;
  let from = own === undefined ? undefined : 'the check request';
  for (const name of names) {
    const given = view.headers(name);
    if (given === undefined) continue;
    if (value !== undefined && given !== value) {
      return { ok: false, conflict: `${from} and ${HEADER_NAMES[name]} disagree` };
    }
    value = given;
    from ??= HEADER_NAMES[name];
  }
  return { ok: true, value };
}

function badRequest(ctx: PolicyContext, view: RequestView, detail: string) {
  return ctx.refuse(new RampartError('BAD_REQUEST', { detail }), view);
}

function describedTwice(ctx: PolicyContext, view: RequestView, conflict: string) {
  return badRequest(
    ctx,
    view,
    `The forwarded request is described twice: ${conflict} (a client's copy beside the proxy's).`,
  );
}

/**
 * Builds the view of the original request a forward-auth call describes.
 * Refusals: 400 for a target not in normal form, a forwarding header given twice, or two
 * descriptions of the request that disagree (a client's copy beside the proxy's), 405 for a
 * method an API does not answer.
 */
export function forwardedRequest(
  ctx: PolicyContext,
  view: RequestView,
  options: ForwardedOptions = {},
): ForwardedDecision {
  const proxied = ctx.trustsPeer(view);
  // The check request's own target: the path after the prefix (Envoy's form, whose method is
  // the original one too), or the whole path of a gateway route. A call to the bare prefix
  // (nginx, Caddy, Traefik) describes nothing by itself.
  const prefix = options.pathPrefix;
  let own: string | undefined = view.path;
  if (prefix !== undefined && view.path === prefix) own = undefined;
  else if (prefix !== undefined && view.path.startsWith(`${prefix}/`)) own = view.path.slice(prefix.length);
  if (own !== undefined && view.query !== undefined) own = `${own}?${view.query}`;
  let method = view.method;
  let target = own ?? (view.query === undefined ? '/' : `/?${view.query}`);
  if (proxied) {
    const methods = agreed(view, METHOD_HEADERS, own === undefined ? undefined : view.method);
    if (!methods.ok) return describedTwice(ctx, view, methods.conflict);
    const targets = agreed(view, URI_HEADERS, own);
    if (!targets.ok) return describedTwice(ctx, view, targets.conflict);
    method = methods.value ?? method;
    target = targets.value ?? target;
  }
  const forwardedHost = proxied ? view.headers('x-forwarded-host') : undefined;
  const forwardedProto = proxied ? view.headers('x-forwarded-proto') : undefined;
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
