/**
 * The configuration of forward auth and the gateway: the `routes` table and the `gateway`
 * block of the config file. One route table serves both faces: forward auth decides with a
 * route's policy for nginx, Caddy, Traefik or Envoy, and a route with an `upstream` is also
 * proxied by Rampart itself. Every field is checked at start; a wrong one stops the start with
 * a message naming it (`routes[2].upstream: …`).
 */
import { parseRequestTarget } from 'rampart';
import { isDuration, parseDuration } from 'rampart/internal/lib/duration.ts';
import { z } from 'zod';
import { compileBodySchema } from './json-schema.ts';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type GatewayMethod = (typeof METHODS)[number];

const duration = z
  .string()
  .refine(isDuration, { message: 'expected a duration like "500ms", "30s", "15m" or "1h"' });
const headerName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, {
  message: 'expected an HTTP header name like "X-Rampart-Subject"',
});
const timeouts = z.strictObject({
  connect: duration.optional(),
  headers: duration.optional(),
  bodyIdle: duration.optional(),
});

/** One route of the table, as written in the file. */
export const routeSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, { message: 'expected a lower-case name like "orders"' })
    .optional(),
  method: z.union([z.enum(METHODS), z.literal('*'), z.array(z.enum(METHODS)).min(1)]),
  path: z.string().min(1),
  upstream: z.string().min(1).optional(),
  require: z
    .strictObject({
      credential: z.enum(['none', 'any', 'apiKey', 'jwt']),
      issuer: z.string().min(1).optional(),
      scopes: z.array(z.string().min(1)).optional(),
      roles: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  rateLimit: z
    .array(
      z.strictObject({
        name: z
          .string()
          .regex(/^[a-z][a-z0-9-]{0,31}$/)
          .optional(),
        key: z.enum(['ip', 'user', 'apiKey']).optional(),
        limit: z.number().int().positive(),
        window: duration,
        algorithm: z.enum(['sliding-window', 'fixed-window', 'gcra']).optional(),
        onStoreError: z.enum(['local', 'closed', 'open']).optional(),
      }),
    )
    .optional(),
  body: z.strictObject({ schema: z.record(z.string(), z.unknown()) }).optional(),
  forward: z
    .strictObject({
      identityHeaders: z.boolean().optional(),
      identityToken: z.boolean().optional(),
      cookies: z.boolean().optional(),
    })
    .optional(),
  timeouts: timeouts.optional(),
});

/** The `gateway` block: what every route shares. */
export const gatewaySchema = z.strictObject({
  forwardAuth: z.boolean().optional(),
  identityHeaders: z
    .strictObject({
      subject: headerName.optional(),
      scopes: headerName.optional(),
      keyId: headerName.optional(),
      issuer: headerName.optional(),
      roles: headerName.optional(),
    })
    .optional(),
  identityToken: z
    .strictObject({
      header: headerName.optional(),
      audience: z.string().min(1).optional(),
      ttl: duration.optional(),
    })
    .optional(),
  timeouts: timeouts.optional(),
});

export type RouteFile = z.infer<typeof routeSchema>;
export type GatewayFile = z.infer<typeof gatewaySchema>;

/** The identity a gateway passes on, header by header. */
export interface IdentityHeaderNames {
  subject: string;
  scopes: string;
  keyId: string;
  issuer: string;
  roles: string;
}

/** One compiled-from-config route. */
export interface GatewayRoute {
  /** Its place in the file (`routes[i]`), for messages. */
  index: number;
  name: string;
  methods: GatewayMethod[];
  /** The path pattern, Fastify's syntax: `/orders/:id`, `/files/*`. */
  path: string;
  /** Where a gateway request goes; absent for a route only forward auth decides on. */
  upstream: { origin: string; basePath: string } | undefined;
  require: {
    credential: 'none' | 'any' | 'apiKey' | 'jwt';
    issuer: string | undefined;
    scopes: string[];
    roles: string[];
  };
  rateLimit: Array<{
    name: string;
    key: 'ip' | 'user' | 'apiKey';
    limit: number;
    windowMs: number;
    algorithm: 'sliding-window' | 'fixed-window' | 'gcra';
    onStoreError: 'local' | 'closed' | 'open';
  }>;
  /** A JSON Schema for the body, as written (compiled once by the gateway). */
  bodySchema: Record<string, unknown> | undefined;
  forward: { identityHeaders: boolean; identityToken: boolean; cookies: boolean };
  timeouts: { connectMs: number; headersMs: number; bodyIdleMs: number };
}

export interface GatewayConfig {
  /** The decision endpoint `/v1/auth/forward`; on by default when there are routes. */
  forwardAuth: boolean;
  identityHeaders: IdentityHeaderNames;
  identityToken: { header: string; audience: string; ttlMs: number };
  routes: GatewayRoute[];
}

/** The defaults, as data. */
export const GATEWAY_DEFAULTS = Object.freeze({
  identityHeaders: Object.freeze({
    subject: 'X-Rampart-Subject',
    scopes: 'X-Rampart-Scopes',
    keyId: 'X-Rampart-Key-Id',
    issuer: 'X-Rampart-Issuer',
    roles: 'X-Rampart-Roles',
  }),
  identityToken: Object.freeze({ header: 'X-Rampart-Identity', ttl: '60s' }),
  timeouts: Object.freeze({ connect: '5s', headers: '30s', bodyIdle: '30s' }),
});

/** Header names a route may not use for identity: the transport's own, and the credentials'. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'x-api-key',
  'cookie',
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'content-type',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'forwarded',
  'x-request-id',
]);

// Fastify's route syntax, in normal form: static segments, `:param` segments, one trailing `*`.
const PATH_SEGMENT = /^(?::[A-Za-z_][A-Za-z0-9_]*|[A-Za-z0-9._~!$&'()+,;=@%-]+)$/;

/** What the gateway needs from the rest of the configuration to check its own. */
export interface GatewayContext {
  trustedIssuers: readonly string[];
  algorithm: string;
  audience: string;
  accessTtlMs: number;
}

/** The error every check here throws; config.ts turns it into its ConfigError. */
export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError';
}

function fail(field: string, message: string): never {
  throw new GatewayConfigError(`${field}: ${message}`);
}

function ms(text: string | undefined, fallback: string, field: string, max: number): number {
  const value = parseDuration(text ?? fallback);
  if (value < 1 || value > max) fail(field, `expected at most ${max / 1000} seconds`);
  return value;
}

function checkPath(path: string, field: string): void {
  const target = parseRequestTarget(path);
  if (!target.ok || target.query !== undefined) {
    fail(
      field,
      `expected a path pattern like "/orders/:id" or "/files/*", in normal form (${target.ok ? 'no query' : target.reason})`,
    );
  }
  const segments = path.split('/').slice(1);
  segments.forEach((segment, i) => {
    if (segment === '*' && i === segments.length - 1) return;
    if (segment === '' && i === segments.length - 1) return;
    if (!PATH_SEGMENT.test(segment)) {
      fail(field, `segment ${JSON.stringify(segment)} is not a name, a ":param" or a final "*"`);
    }
  });
}

function upstreamOf(text: string, field: string): { origin: string; basePath: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fail(field, 'not a URL; expected http://host:port or https://host[/base/path]');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    fail(field, `unsupported scheme ${url.protocol}`);
  if (url.username !== '' || url.password !== '') fail(field, 'must not carry credentials (user:password@)');
  if (url.search !== '' || url.hash !== '') fail(field, 'must not have a query or a fragment');
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return { origin: url.origin, basePath };
}

/**
 * Checks and normalises `routes` and `gateway` of the config file.
 * @throws GatewayConfigError naming the field.
 */
export function gatewayConfig(
  routes: readonly RouteFile[] | undefined,
  gateway: GatewayFile | undefined,
  context: GatewayContext,
): GatewayConfig {
  const g = gateway ?? {};
  const identityHeaders = { ...GATEWAY_DEFAULTS.identityHeaders, ...(g.identityHeaders ?? {}) };
  const seenHeaders = new Set<string>();
  for (const [field, name] of Object.entries(identityHeaders)) {
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower))
      fail(`gateway.identityHeaders.${field}`, `${name} is a header Rampart sets or strips itself`);
    if (seenHeaders.has(lower))
      fail(`gateway.identityHeaders.${field}`, `${name} is already used for another field`);
    seenHeaders.add(lower);
  }
  const tokenHeader = g.identityToken?.header ?? GATEWAY_DEFAULTS.identityToken.header;
  if (RESERVED_HEADERS.has(tokenHeader.toLowerCase()) || seenHeaders.has(tokenHeader.toLowerCase())) {
    fail('gateway.identityToken.header', `${tokenHeader} is already used`);
  }
  const audience = g.identityToken?.audience ?? `${context.audience}-upstream`;
  if (audience === context.audience) {
    // The one property that must hold: an identity token is never an access token for Rampart.
    fail(
      'gateway.identityToken.audience',
      'must differ from tokens.audience (the tokens would be accepted as access tokens)',
    );
  }
  const ttlMs = ms(
    g.identityToken?.ttl,
    GATEWAY_DEFAULTS.identityToken.ttl,
    'gateway.identityToken.ttl',
    context.accessTtlMs,
  );
  const defaults = {
    connect: g.timeouts?.connect ?? GATEWAY_DEFAULTS.timeouts.connect,
    headers: g.timeouts?.headers ?? GATEWAY_DEFAULTS.timeouts.headers,
    bodyIdle: g.timeouts?.bodyIdle ?? GATEWAY_DEFAULTS.timeouts.bodyIdle,
  };
  ms(defaults.connect, '', 'gateway.timeouts.connect', 60_000);
  ms(defaults.headers, '', 'gateway.timeouts.headers', 600_000);
  ms(defaults.bodyIdle, '', 'gateway.timeouts.bodyIdle', 600_000);

  const names = new Set<string>();
  const patterns = new Set<string>();
  const list = (routes ?? []).map((r, index): GatewayRoute => {
    const at = `routes[${index}]`;
    const name = r.name ?? `route-${index + 1}`;
    if (names.has(name)) fail(`${at}.name`, `${JSON.stringify(name)} is already used by another route`);
    names.add(name);
    checkPath(r.path, `${at}.path`);
    const methods: GatewayMethod[] =
      r.method === '*' ? [...METHODS] : typeof r.method === 'string' ? [r.method] : [...new Set(r.method)];
    for (const method of methods) {
      const key = `${method} ${r.path}`;
      if (patterns.has(key)) fail(`${at}.path`, `${key} is already a route`);
      patterns.add(key);
    }
    const req = r.require ?? { credential: 'any' as const };
    const scopes = req.scopes ?? [];
    const roles = req.roles ?? [];
    if (req.credential === 'none' && (scopes.length > 0 || roles.length > 0)) {
      fail(`${at}.require.credential`, '"none" cannot require scopes or roles');
    }
    if (req.issuer !== undefined) {
      if (req.credential !== 'jwt') fail(`${at}.require.issuer`, 'only with credential "jwt"');
      if (!context.trustedIssuers.includes(req.issuer)) {
        fail(`${at}.require.issuer`, `${JSON.stringify(req.issuer)} is not one of tokens.trustedIssuers`);
      }
    }
    const ruleNames = new Set<string>();
    const rateLimit = (r.rateLimit ?? []).map((rule, j) => {
      const key = rule.key ?? 'ip';
      if (key !== 'ip' && req.credential === 'none') {
        fail(`${at}.rateLimit[${j}].key`, `"${key}" needs a credential; the route requires none`);
      }
      const ruleName = rule.name ?? `${name}-${j + 1}`;
      if (ruleNames.has(ruleName))
        fail(`${at}.rateLimit[${j}].name`, `${JSON.stringify(ruleName)} is already used`);
      ruleNames.add(ruleName);
      return {
        name: `route-${ruleName}`,
        key,
        limit: rule.limit,
        windowMs: parseDuration(rule.window),
        algorithm: rule.algorithm ?? ('sliding-window' as const),
        onStoreError: rule.onStoreError ?? ('local' as const),
      };
    });
    if (r.body !== undefined) {
      if (methods.every((m) => m === 'GET' || m === 'HEAD' || m === 'OPTIONS')) {
        fail(`${at}.body`, 'a route of GET, HEAD or OPTIONS only takes no body');
      }
      try {
        compileBodySchema(r.body.schema);
      } catch (error) {
        fail(`${at}.body.schema`, (error as Error).message);
      }
    }
    const forward = {
      identityHeaders: r.forward?.identityHeaders ?? true,
      identityToken: r.forward?.identityToken ?? false,
      cookies: r.forward?.cookies ?? false,
    };
    if (forward.identityToken && context.algorithm === 'HS256') {
      fail(
        `${at}.forward.identityToken`,
        'needs an asymmetric tokens.algorithm (EdDSA, ES256, RS256): upstreams verify it with the JWKS',
      );
    }
    return {
      index,
      name,
      methods,
      path: r.path,
      upstream: r.upstream === undefined ? undefined : upstreamOf(r.upstream, `${at}.upstream`),
      require: { credential: req.credential, issuer: req.issuer, scopes, roles },
      rateLimit,
      bodySchema: r.body?.schema,
      forward,
      timeouts: {
        connectMs: ms(r.timeouts?.connect, defaults.connect, `${at}.timeouts.connect`, 60_000),
        headersMs: ms(r.timeouts?.headers, defaults.headers, `${at}.timeouts.headers`, 600_000),
        bodyIdleMs: ms(r.timeouts?.bodyIdle, defaults.bodyIdle, `${at}.timeouts.bodyIdle`, 600_000),
      },
    };
  });
  return {
    forwardAuth: g.forwardAuth ?? list.length > 0,
    identityHeaders,
    identityToken: { header: tokenHeader, audience, ttlMs },
    routes: list,
  };
}
