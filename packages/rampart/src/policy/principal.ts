import { RampartError } from '../errors.ts';
import { CHALLENGE } from '../http/problem.ts';
import type { AccessTokenResult } from '../tokens/access-token.ts';

/** Who is calling, once authenticated. Framework-free: adapters attach it to their request. */
export interface Principal {
  /** How the caller proved itself. */
  kind: 'user' | 'api_key';
  /** The user id behind the call: the token's `sub`, or the key's owner (null for an admin key). */
  userId: string | null;
  /** The user's role from the token; `'admin'` for an admin key; null for a user's key. */
  role: 'user' | 'admin' | null;
  /**
   * Every role the credential carries: `[role]` for Rampart's own tokens; the mapped roles of
   * an outside identity provider's token (`realm_access.roles`, `cognito:groups`, …). An
   * outside `admin` role passes role checks that name it, never every check.
   */
  roles?: readonly string[];
  /** The outside issuer that vouched for the caller (absent for Rampart's own tokens and keys). */
  issuer?: string;
  /** The tenant or organisation of an outside token (`org_id`, `tid`, …), when present. */
  tenant?: string;
  scopes: readonly string[];
  /** The key id, for API keys. */
  keyId?: string;
  /** The token's `jti` and expiry (epoch seconds), for access tokens (logout needs them). */
  tokenId?: string;
  tokenExp?: number;
  /** The session (refresh family) an access token belongs to: its `sid` claim. */
  sessionId?: string;
}

export { CHALLENGE, REALM } from '../http/problem.ts';

/** 401: no credentials at all. */
export function unauthenticated(): RampartError {
  return new RampartError('UNAUTHENTICATED', { headers: { 'www-authenticate': CHALLENGE } });
}

/** 401: a credential was sent and is no good (RFC 6750 §3.1 `invalid_token`). */
export function invalidCredential(code: 'INVALID_TOKEN' | 'INVALID_API_KEY'): RampartError {
  return new RampartError(code, { headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` } });
}

/** 403: valid credential, missing scope or role (RFC 6750 §3.1 `insufficient_scope`). */
export function insufficientScope(needed: readonly string[]): RampartError {
  const scope = needed.length > 0 ? `, scope="${needed.join(' ')}"` : '';
  return new RampartError('INSUFFICIENT_SCOPE', {
    headers: { 'www-authenticate': `${CHALLENGE}, error="insufficient_scope"${scope}` },
  });
}

/** The scope that stands for every other scope. */
export const ADMIN_SCOPE = 'admin';

export interface Requirement {
  /** Any one of these roles passes (admins pass any role check). */
  roles?: readonly string[];
  /** Every one of these scopes is needed (unless the caller holds `admin`). */
  scopes?: readonly string[];
}

/**
 * The authorization decision: a pure function of the principal and the requirement.
 * A user's access token carries the role; admins (role or `admin` scope) pass everything.
 */
export function isAllowed(principal: Principal, requirement: Requirement): boolean {
  const admin = principal.role === 'admin' || principal.scopes.includes(ADMIN_SCOPE);
  if (admin) return true;
  if (
    requirement.roles &&
    !requirement.roles.some((r) => r === principal.role || principal.roles?.includes(r))
  ) {
    return false;
  }
  return (requirement.scopes ?? []).every((s) => principal.scopes.includes(s));
}

/** A bearer token's outcome: the principal, or the verifier's code (for logs, never for clients). */
export type BearerOutcome = { ok: true; principal: Principal } | { ok: false; code: string };

/** The principal of one of Rampart's own access tokens (RFC 9068 profile). */
export function principalOfToken(result: Extract<AccessTokenResult, { ok: true }>): Principal {
  const { claims, scopes } = result;
  const role = claims.role === 'admin' ? 'admin' : 'user';
  return {
    kind: 'user',
    userId: claims.sub,
    role,
    roles: [role],
    scopes,
    tokenId: claims.jti,
    tokenExp: claims.exp,
    ...(typeof claims.sid === 'string' ? { sessionId: claims.sid } : {}),
  };
}
