/**
 * The route table both faces decide with: each configured route compiled once into the
 * engine's steps (authenticate with the route's requirement, then the route's limits), and a
 * router (find-my-way, Fastify's own, so a path matches here exactly as it matches a gateway
 * route) to find the route of a forwarded request. Nothing is decided here; the engine does.
 */
import FindMyWay from 'find-my-way';
import type {
  AuthenticateOptions,
  Principal,
  Rampart,
  RateLimitRule,
  Refusal,
  RequestView,
  Step,
} from 'rampart';
import type { ValidationDecision } from 'rampart/internal/policy/view.ts';
import type { GatewayMethod, GatewayRoute } from './config.ts';
import { compileBodySchema } from './json-schema.ts';

/** What a route's policy answers: go on (with headers and, past authentication, the principal) or stop. */
export type RouteDecision =
  | {
      readonly ok: true;
      readonly headers: Readonly<Record<string, string>>;
      readonly principal: Principal | undefined;
    }
  | Refusal;

export interface CompiledRoute {
  readonly config: GatewayRoute;
  /** Authenticate and authorize as the route requires, then count its limits. */
  decide(view: RequestView): Promise<RouteDecision>;
  /** The body's validation step, when the route has a schema. */
  readonly validateBody: Step<ValidationDecision> | undefined;
}

export interface RouteTable {
  readonly routes: readonly CompiledRoute[];
  /** The route of a method and path, with its params; `undefined` when none matches. */
  match(method: string, path: string): { route: CompiledRoute; params: Record<string, string> } | undefined;
}

/** A configuration problem found while compiling: the message names the field. */
export class RouteTableError extends Error {
  override name = 'RouteTableError';
}

function authOptions(route: GatewayRoute): AuthenticateOptions | undefined {
  const { credential, issuer, scopes, roles } = route.require;
  if (credential === 'none') return undefined;
  return {
    ...(credential === 'apiKey'
      ? { accept: 'apiKey' as const }
      : credential === 'jwt'
        ? { accept: 'bearer' as const }
        : {}),
    ...(issuer !== undefined ? { issuers: [issuer] } : {}),
    ...(scopes.length > 0 ? { scopes } : {}),
    ...(roles.length > 0 ? { roles } : {}),
  };
}

function limitRules(route: GatewayRoute): RateLimitRule[] {
  return route.rateLimit.map((rule) => ({
    name: rule.name,
    key: rule.key,
    limit: rule.limit,
    window: rule.windowMs,
    algorithm: rule.algorithm,
    onStoreError: rule.onStoreError,
  }));
}

/** A TypeError of the engine about route `i`, as a message naming the route's field. */
function named<T>(route: GatewayRoute, field: string, make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof TypeError) {
      throw new RouteTableError(
        `routes[${route.index}].${field}: ${error.message.replace(/^[\w.[\]]+: /, '')}`,
      );
    }
    throw error;
  }
}

/** Compiles the table on the engine. @throws RouteTableError naming the field. */
export function compileRouteTable(rampart: Rampart, routes: readonly GatewayRoute[]): RouteTable {
  const router = FindMyWay({ ignoreTrailingSlash: false, caseSensitive: true });
  const compiled = routes.map((config): CompiledRoute => {
    const options = authOptions(config);
    const authenticate =
      options === undefined ? undefined : named(config, 'require', () => rampart.authenticate(options));
    const rules = limitRules(config);
    const limit = rules.length === 0 ? undefined : named(config, 'rateLimit', () => rampart.rateLimit(rules));
    const validateBody =
      config.bodySchema === undefined
        ? undefined
        : named(config, 'body.schema', () =>
            rampart.validate({ body: compileBodySchema(config.bodySchema!) }),
          );
    return {
      config,
      validateBody,
      async decide(view) {
        let principal: Principal | undefined;
        if (authenticate !== undefined) {
          const auth = await authenticate(view);
          if (!auth.ok) return auth;
          principal = auth.principal;
          // Limits keyed by user or API key read the principal from the view.
          view.principal = principal;
        }
        if (limit === undefined) return { ok: true, headers: {}, principal };
        const counted = await limit(view);
        if (!counted.ok) return counted;
        return { ok: true, headers: counted.headers, principal };
      },
    };
  });
  compiled.forEach((route, i) => {
    const methods = new Set<GatewayMethod>(route.config.methods);
    // A GET route answers HEAD too, as Fastify's routes do.
    if (methods.has('GET')) methods.add('HEAD');
    try {
      router.on([...methods], route.config.path, () => {}, { index: i });
    } catch (error) {
      throw new RouteTableError(`routes[${route.config.index}].path: ${(error as Error).message}`);
    }
  });
  return {
    routes: compiled,
    match(method, path) {
      const found = router.find(method as GatewayMethod, path);
      if (found === null) return undefined;
      const index = (found.store as { index: number }).index;
      return { route: compiled[index]!, params: { ...(found.params as Record<string, string>) } };
    },
  };
}
