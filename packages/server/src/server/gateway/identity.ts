/**
 * The identity a request was allowed with, as the headers an upstream reads (forward auth's
 * 200 answer, or the gateway's upstream request) and, where a route asks for it, as a
 * short-lived identity token signed with the server's key ring (`createIdentityTokenIssuer`).
 */
import type { Principal } from 'rampart';
import type { IdentityTokenIssuer } from 'rampart/internal/tokens/identity-token.ts';
import type { IdentityHeaderNames } from './config.ts';

/** A header value as it may be sent: printable ASCII kept, anything else percent-encoded. */
function headerValue(text: string): string {
  // An outside issuer's `sub` or role names are its own text: a CR/LF in one must not become a
  // second header line, and Node refuses non-Latin-1 values outright.
  return /^[\x20-\x7e]*$/.test(text) ? text : encodeURIComponent(text);
}

/** The subject: the user behind the credential, or the key itself for a key with no owner. */
export function subjectOf(principal: Principal): string {
  return principal.userId ?? principal.keyId ?? '';
}

function rolesOf(principal: Principal): readonly string[] {
  return principal.roles ?? (principal.role !== null ? [principal.role] : []);
}

/**
 * The identity headers of a principal. A field the credential does not have is absent, and
 * every proxy config in docs/gateway.md sets or clears each of these names itself, so a copy
 * the client sent never reaches the upstream.
 */
export function identityHeaders(
  principal: Principal,
  names: IdentityHeaderNames,
  ownIssuer: string,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const subject = subjectOf(principal);
  if (subject !== '') headers[names.subject] = headerValue(subject);
  if (principal.scopes.length > 0) headers[names.scopes] = headerValue(principal.scopes.join(' '));
  if (principal.keyId !== undefined) headers[names.keyId] = headerValue(principal.keyId);
  headers[names.issuer] = headerValue(principal.issuer ?? ownIssuer);
  const roles = rolesOf(principal);
  if (roles.length > 0) headers[names.roles] = headerValue(roles.join(' '));
  return headers;
}

/** The identity token of one request. */
export function identityToken(
  issuer: IdentityTokenIssuer,
  principal: Principal,
  request: { method: string; path: string },
): Promise<string> {
  return issuer.issue({
    sub: subjectOf(principal),
    scopes: principal.scopes,
    roles: rolesOf(principal),
    ...(principal.keyId !== undefined ? { keyId: principal.keyId } : {}),
    ...(principal.issuer !== undefined ? { identityProvider: principal.issuer } : {}),
    ...(principal.tenant !== undefined ? { tenant: principal.tenant } : {}),
    method: request.method,
    path: request.path,
  });
}
