import { RampartError } from '../errors.ts';

/** Who is calling, once authenticated. Framework-free: adapters attach it to their request. */
export interface Principal {
  /** How the caller proved itself. */
  kind: 'user' | 'api_key';
  /** The user id behind the call: the token's `sub`, or the key's owner (null for an admin key). */
  userId: string | null;
  /** The user's role from the token; `'admin'` for an admin key; null for a user's key. */
  role: 'user' | 'admin' | null;
  scopes: readonly string[];
  /** The key id, for API keys. */
  keyId?: string;
  /** The token's `jti` and expiry (epoch seconds), for access tokens (logout needs them). */
  tokenId?: string;
  tokenExp?: number;
  /** The session (refresh family) an access token belongs to: its `sid` claim. */
  sessionId?: string;
}

export const REALM = 'rampart';

/** RFC 6750 §3: the challenge for a request that carried no credentials. */
export const CHALLENGE = `Bearer realm="${REALM}"`;

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
  roles?: ReadonlyArray<'user' | 'admin'>;
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
  if (requirement.roles && !requirement.roles.some((r) => r === principal.role)) return false;
  return (requirement.scopes ?? []).every((s) => principal.scopes.includes(s));
}
