/**
 * Claim mapping: from the verified claims of an outside provider's access token to who is
 * calling (subject, scopes, roles, tenant). A pure function of the claims and the mapping, so
 * each provider's layout is tested on its own (`claims.test.ts`).
 *
 * Providers put the same facts in different places: scopes in `scope` (RFC 9068 §2.2.3,
 * space-separated), `scp` (Okta as an array, Entra as a string) or `permissions` (Auth0 RBAC);
 * roles in `realm_access.roles` (Keycloak), `cognito:groups` (Cognito), `roles` (Entra) or a
 * namespaced claim such as `https://example.com/roles` (Auth0); the tenant in `org_id` (Auth0
 * Organizations, Clerk), `tid` (Entra) or wherever a mapper writes it.
 *
 * A claim is named by a path, an array of member names: `['realm_access', 'roles']`, or
 * `['https://example.com/roles']` for a top-level claim whose name holds dots and slashes.
 * Paths are never strings split on dots, so no claim name can be read as another's nesting.
 *
 * A claim of the wrong type yields nothing rather than a guess: a `roles` that is an object, or
 * a scope list holding a number, gives no roles and drops the number. The mapping can only
 * give fewer privileges than the claims say, never more.
 */

/** Where a claim sits: the member names from the top of the claims set down, e.g. `['realm_access', 'roles']`. */
export type ClaimPath = readonly string[];

/** Where this provider writes scopes, roles and the tenant. Each list is read in order. */
export interface ClaimMapping {
  /** Claims holding scopes; their values are merged. Default `[['scope'], ['scp'], ['permissions']]`. */
  scopes?: readonly ClaimPath[];
  /** Claims holding roles (or groups); their values are merged. Default `[['roles']]`. */
  roles?: readonly ClaimPath[];
  /** Claims naming the tenant or organisation; the first that holds a string wins. Default `[['org_id'], ['tid']]`. */
  tenant?: readonly ClaimPath[];
}

/** The caller, as an outside provider's token describes it. Frozen. */
export interface ExternalPrincipal {
  /** The `iss` that vouched for the caller. */
  issuer: string;
  /** `sub`: unique within the issuer only, so key anything stored by `issuer` and `subject` together. */
  subject: string;
  /** The client the token was issued to: `client_id` (RFC 9068), else `azp` (OIDC), else `appid` (Entra v1). */
  clientId?: string;
  scopes: readonly string[];
  roles: readonly string[];
  tenant?: string;
}

/** The defaults of `ClaimMapping`, as data. */
export const DEFAULT_CLAIM_MAPPING: Readonly<Required<ClaimMapping>> = Object.freeze({
  scopes: Object.freeze([['scope'], ['scp'], ['permissions']]),
  roles: Object.freeze([['roles']]),
  tenant: Object.freeze([['org_id'], ['tid']]),
});

/** RFC 6749 §3.3 scope-token: printable ASCII without space, `"` or `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const CLIENT_ID_CLAIMS = ['client_id', 'azp', 'appid'] as const;
const MAX_NAME_LENGTH = 256;

/**
 * The value at `path` in the claims, or `undefined`. Only own members are read, so a path
 * through `__proto__` or `constructor` finds nothing.
 * @example claimAt({ realm_access: { roles: ['admin'] } }, ['realm_access', 'roles']) // ['admin']
 */
export function claimAt(claims: unknown, path: ClaimPath): unknown {
  let value = claims;
  for (const name of path) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, name)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

/**
 * Maps verified claims to the principal. Pure; never throws on claims (a `sub` that is not a
 * string is the verifier's business, which refuses it first).
 *
 * @example
 * // Keycloak, realm roles and the roles of the client "orders-api"
 * mapClaims(claims, { roles: [['realm_access', 'roles'], ['resource_access', 'orders-api', 'roles']] })
 * // → { issuer, subject, clientId: 'orders-web', scopes: ['profile', 'email'], roles: ['user', 'orders:write'] }
 */
export function mapClaims(
  claims: Readonly<Record<string, unknown>>,
  mapping: ClaimMapping = {},
): ExternalPrincipal {
  const scopes = new Set<string>();
  for (const path of mapping.scopes ?? DEFAULT_CLAIM_MAPPING.scopes) {
    for (const scope of stringsOf(claimAt(claims, path), true)) {
      if (SCOPE_TOKEN.test(scope)) scopes.add(scope);
    }
  }
  const roles = new Set<string>();
  for (const path of mapping.roles ?? DEFAULT_CLAIM_MAPPING.roles) {
    for (const role of stringsOf(claimAt(claims, path), false)) roles.add(role);
  }
  let tenant: string | undefined;
  for (const path of mapping.tenant ?? DEFAULT_CLAIM_MAPPING.tenant) {
    const value = claimAt(claims, path);
    if (isName(value)) {
      tenant = value;
      break;
    }
  }
  const clientId = CLIENT_ID_CLAIMS.map((name) => claims[name]).find(isName);
  const principal: ExternalPrincipal = {
    issuer: typeof claims.iss === 'string' ? claims.iss : '',
    subject: typeof claims.sub === 'string' ? claims.sub : '',
    ...(clientId !== undefined ? { clientId } : {}),
    scopes: Object.freeze([...scopes]),
    roles: Object.freeze([...roles]),
    ...(tenant !== undefined ? { tenant } : {}),
  };
  return Object.freeze(principal);
}

/**
 * Checks a `ClaimMapping` given in options, naming the field in a TypeError.
 * @example claimMappingOption({ roles: [['cognito:groups']] }, 'issuers[0].claims')
 */
export function claimMappingOption(value: unknown, field: string): ClaimMapping {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${field}: expected { scopes?, roles?, tenant? }`);
  }
  const mapping: Record<string, readonly ClaimPath[]> = {};
  for (const [key, paths] of Object.entries(value)) {
    if (key !== 'scopes' && key !== 'roles' && key !== 'tenant') {
      throw new TypeError(`${field}.${key}: unknown option; expected one of scopes, roles, tenant`);
    }
    if (!Array.isArray(paths)) throw new TypeError(`${field}.${key}: expected a list of claim paths`);
    mapping[key] = Object.freeze(
      paths.map((path, index) => claimPathOption(path, `${field}.${key}[${index}]`)),
    );
  }
  return Object.freeze(mapping);
}

function claimPathOption(value: unknown, field: string): ClaimPath {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > 8 ||
    value.some((name) => typeof name !== 'string' || name === '')
  ) {
    // A bare string is refused rather than split: ['realm_access', 'roles'] given where a list
    // of paths belongs would otherwise read two top-level claims and map no role, silently.
    throw new TypeError(
      `${field}: expected a claim path, an array of claim names such as ['realm_access', 'roles'] or ['cognito:groups']`,
    );
  }
  return Object.freeze([...value]);
}

/** A scope claim's string is space-separated (RFC 8693 §4.2); a role claim's string is one role. */
function stringsOf(value: unknown, split: boolean): string[] {
  if (typeof value === 'string') {
    return split ? value.split(' ').filter((part) => part !== '') : isName(value) ? [value] : [];
  }
  if (Array.isArray(value)) return value.filter(isName);
  return [];
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_NAME_LENGTH;
}
