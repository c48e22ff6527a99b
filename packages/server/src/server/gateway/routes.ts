/**
 * Forward auth and gateway routes over HTTP. Both decide with one route table
 * (`route-table.ts`, the engine's steps):
 *
 * - `/v1/auth/forward` (any method; `/v1/auth/forward/<path>` for Envoy's `path_prefix`): the
 *   decision endpoint of nginx `auth_request`, Caddy `forward_auth`, Traefik `forwardAuth` and
 *   Envoy `ext_authz`. The engine reads the original request from a trusted proxy's headers
 *   (`forwarded()`), the route table finds its route, the route's policy decides: 200 with the
 *   identity headers, or the refusal (401/403 with `WWW-Authenticate`, 429 with the RateLimit
 *   fields and `Retry-After`, problem+json) for the proxy to hand the client.
 * - each route with an `upstream`: the same policy, then (when the route has a schema) the
 *   body validated, then the request proxied (`proxy.ts`).
 *
 * Both answer from `onRequest`, before Fastify reads a body: a gateway body is streamed to the
 * upstream as it arrives (or, with a schema, read by the engine's JSON reader within the body
 * limit), never parsed by a content-type parser of the server's.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay from 'find-my-way';
import { type HttpAnswer, parseRequestTarget, RampartError } from 'rampart';
import { createIdentityTokenIssuer } from 'rampart/internal/tokens/identity-token.ts';
import { ConfigError } from '../config.ts';
import { routeDoc } from '../openapi.ts';
import type { Services } from '../services.ts';
import type { GatewayMethod } from './config.ts';
import { identityHeaders, identityToken } from './identity.ts';
import { createUpstream, type Upstream } from './proxy.ts';
import { type CompiledRoute, compileRouteTable, RouteTableError } from './route-table.ts';

/** The decision endpoint. */
export const FORWARD_AUTH_PATH = '/v1/auth/forward';
const FORWARD_METHODS: GatewayMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
/** Routes `createApp` registers before any route module runs. */
const SHELL_ROUTES = [
  { method: ['GET', 'HEAD'], url: '/healthz' },
  { method: ['GET', 'HEAD'], url: '/readyz' },
];

export interface OwnRoute {
  method: string | string[];
  url: string;
}

/** Starts recording the routes registered from now on (Rampart's own, before the gateway's). */
export function recordOwnRoutes(app: FastifyInstance): OwnRoute[] {
  const routes: OwnRoute[] = [...SHELL_ROUTES];
  app.addHook('onRoute', (options) => {
    routes.push({ method: options.method as string | string[], url: options.url ?? options.path });
  });
  return routes;
}

function send(reply: FastifyReply, answer: HttpAnswer): FastifyReply {
  reply.code(answer.status).headers(answer.headers);
  return answer.body === undefined ? reply.send() : reply.send(JSON.stringify(answer.body));
}

/**
 * A gateway route may not take requests of one of Rampart's own routes: the path of each
 * gateway route, its params filled in, must not be one Rampart's router would serve itself.
 * (The router already prefers Rampart's static routes to a gateway's `:param` or `*`; this
 * refuses the reverse, a gateway route more specific than one of Rampart's.)
 */
function checkShadowing(own: readonly OwnRoute[], routes: readonly CompiledRoute[]): void {
  const router = FindMyWay();
  for (const route of own) {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]) as GatewayMethod[];
    for (const method of methods) {
      try {
        router.on(method, route.url, () => {}, { own: `${method} ${route.url}` });
      } catch {
        // Registered twice (an auto HEAD route): once is enough here.
      }
    }
  }
  for (const { config } of routes) {
    if (config.upstream === undefined) continue;
    const sample = config.path
      .replace(/:[A-Za-z_][A-Za-z0-9_]*/g, 'rampart-probe')
      .replace(/\*$/, 'rampart-probe');
    for (const method of config.methods) {
      const found = router.find(method, sample);
      if (found !== null) {
        throw new ConfigError(
          `routes[${config.index}].path: ${method} ${config.path} would take requests of Rampart's own route ${(found.store as { own: string }).own}`,
        );
      }
    }
  }
}

/** Registers `/v1/auth/forward` and the gateway routes. @throws ConfigError naming the field. */
export async function gatewayRoutes(
  app: FastifyInstance,
  services: Services,
  own: readonly OwnRoute[],
): Promise<void> {
  const { config, keyRing } = services;
  const gateway = config.gateway;
  if (gateway.routes.length === 0 && !gateway.forwardAuth) return;
  const rampart = app.rampart.policy;
  let table: ReturnType<typeof compileRouteTable>;
  try {
    table = compileRouteTable(rampart, gateway.routes);
  } catch (error) {
    if (error instanceof RouteTableError) throw new ConfigError(error.message);
    throw error;
  }
  const tokens = gateway.routes.some((r) => r.forward.identityToken)
    ? createIdentityTokenIssuer({
        ring: () => keyRing.current(),
        issuer: config.tokens.issuer,
        audience: gateway.identityToken.audience,
        ttlMs: gateway.identityToken.ttlMs,
        now: services.now,
      })
    : undefined;
  const names = gateway.identityHeaders;
  const identityNames = new Set(
    [...Object.values(names), gateway.identityToken.header].map((n) => n.toLowerCase()),
  );

  /** The identity fields of an allowed request, for forward auth's answer or the upstream request. */
  const identity = async (
    route: CompiledRoute,
    principal: FastifyRequest['principal'],
    method: string,
    path: string,
  ) => {
    const headers: Record<string, string> = {};
    if (principal === undefined) return headers;
    if (route.config.forward.identityHeaders)
      Object.assign(headers, identityHeaders(principal, names, config.tokens.issuer));
    if (route.config.forward.identityToken && tokens !== undefined) {
      headers[gateway.identityToken.header] = await identityToken(tokens, principal, { method, path });
    }
    return headers;
  };

  if (gateway.forwardAuth) {
    const decide = async (request: FastifyRequest, reply: FastifyReply) => {
      const view = app.rampart.view(request);
      const forwarded = rampart.forwarded(view, { pathPrefix: FORWARD_AUTH_PATH });
      if (!forwarded.ok) return send(reply, forwarded.answer);
      const original = forwarded.view;
      const match = table.match(original.method, original.path);
      if (match === undefined) return send(reply, rampart.notFound(original));
      original.route = match.route.config.path;
      original.params = match.params;
      const decision = await match.route.decide(original);
      if (!decision.ok) return send(reply, decision.answer);
      request.principal = decision.principal;
      const headers = await identity(match.route, decision.principal, original.method, original.path);
      if (match.route.config.forward.identityHeaders) {
        // Every name, empty when the credential has no such field: a proxy copying a header
        // Rampart did not send could otherwise leave something else in its place (Caddy 2.6
        // writes its unresolved placeholder); nginx removes a header set to an empty value.
        for (const name of Object.values(names)) headers[name] ??= '';
      }
      return reply.code(200).headers(decision.headers).headers(headers).send();
    };
    for (const url of [FORWARD_AUTH_PATH, `${FORWARD_AUTH_PATH}/*`]) {
      app.route({
        method: FORWARD_METHODS,
        url,
        config: routeDoc({
          summary: "Decide a proxy's subrequest (forward auth)",
          description:
            "The proxy sends the original method and URI (`X-Forwarded-Method`, `X-Forwarded-Uri` or `X-Original-URI`) and the client's credentials; 200 with identity headers lets the request through, any other answer is the problem to return (docs/gateway.md).",
          tags: ['gateway'],
          auth: 'any',
          responses: { 200: 'Allowed: identity headers carry the principal' },
          errors: ['NOT_FOUND', 'BAD_REQUEST'],
          // The prefix form (`/v1/auth/forward/<original path>`) is the same check.
          ...(url === FORWARD_AUTH_PATH ? {} : { outsideContract: 'the prefix form of forward auth' }),
        }),
        onRequest: decide,
        handler: async () => {
          throw new RampartError('INTERNAL');
        },
      });
    }
  }

  checkShadowing(
    [
      ...own,
      { method: FORWARD_METHODS, url: FORWARD_AUTH_PATH },
      { method: FORWARD_METHODS, url: `${FORWARD_AUTH_PATH}/*` },
    ],
    table.routes,
  );

  const upstreams: Upstream[] = [];
  for (const route of table.routes) {
    if (route.config.upstream === undefined) continue;
    const upstream = createUpstream(route.config, (code) =>
      app.log.warn({ route: route.config.name, upstreamError: code }, 'upstream failed'),
    );
    upstreams.push(upstream);
    const proxy = async (request: FastifyRequest, reply: FastifyReply) => {
      const view = app.rampart.view(request);
      const target = parseRequestTarget(request.url);
      if (!target.ok) {
        const detail = `The request path is not in normal form: ${target.reason}.`;
        return send(reply, rampart.errorAnswer(new RampartError('BAD_REQUEST', { detail }), view));
      }
      const decision = await route.decide(view);
      if (!decision.ok) return send(reply, decision.answer);
      request.principal = decision.principal;
      let body: Buffer | undefined;
      if (route.validateBody !== undefined) {
        const h = request.headers;
        const read = await rampart.readJson(
          {
            contentType: h['content-type'],
            contentLength: h['content-length'],
            transferEncoding: h['transfer-encoding'],
            body: request.raw,
          },
          view,
        );
        if (!read.ok) return send(reply, read.answer);
        view.body = read.value;
        const valid = await route.validateBody(view);
        if (!valid.ok) return send(reply, valid.answer);
        // The bytes checked are the bytes sent: a body re-serialised from what was validated
        // cannot be read otherwise upstream (duplicate keys, a parser's leniency).
        if (read.value !== undefined) body = Buffer.from(JSON.stringify(valid.value.body), 'utf8');
      }
      const around = rampart.forwarded(view);
      const host = around.ok ? around.host : request.headers.host;
      const proto = (around.ok ? around.proto : undefined) ?? (config.tls !== undefined ? 'https' : 'http');
      const set: Record<string, string> = {
        'x-forwarded-for': rampart.clientIp(view),
        'x-forwarded-proto': proto,
        ...(host !== undefined ? { 'x-forwarded-host': host } : {}),
        'x-request-id': request.id,
        ...(await identity(route, decision.principal, request.method, target.path)),
      };
      try {
        return await upstream.forward(request, reply, {
          ...(body !== undefined ? { body } : {}),
          strip: identityNames,
          set,
          responseHeaders: decision.headers,
        });
      } catch (error) {
        return send(reply, rampart.errorAnswer(error, view));
      }
    };
    // GET answers HEAD as well (Fastify's exposed HEAD route, with the same hooks).
    const methods = route.config.methods.filter(
      (m) => !(m === 'HEAD' && route.config.methods.includes('GET')),
    );
    try {
      app.route({
        method: methods,
        url: route.config.path,
        config: routeDoc({
          summary: `Gateway route ${route.config.name}`,
          tags: ['gateway'],
          responses: { 200: 'The upstream answer' },
          outsideContract: "an operator's gateway route (its contract is the upstream's)",
        }),
        onRequest: proxy,
        handler: async () => {
          throw new RampartError('INTERNAL');
        },
      });
    } catch (error) {
      throw new ConfigError(`routes[${route.config.index}].path: ${(error as Error).message}`);
    }
  }
  app.addHook('onClose', async () => {
    await Promise.all(upstreams.map((u) => u.close()));
  });
}
