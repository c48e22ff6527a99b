/**
 * The console's one cookie, read and written by hand (no cookie library for one name).
 *
 * The cookie carries only the session id: `HttpOnly` (no script reads it), `SameSite=Strict`
 * (no other site's page sends it), `Path=/console` (the API routes never see it), and
 * `Secure` under TLS, where the name also takes the `__Secure-` prefix so that a page served
 * over plain HTTP cannot set one that shadows it (RFC 6265bis §4.1.3.1). `__Host-` would be
 * stronger but requires `Path=/`, which would send the cookie to every API route.
 */

/** The cookie's path: the console's pages and its relay, nothing else. */
export const COOKIE_PATH = '/console';
const PLAIN_NAME = 'rampart_console';
const SECURE_NAME = '__Secure-rampart_console';
/** A session id as we issue them: 43 base64url characters (32 random bytes). */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** The cookie name for a deployment (HTTPS or not). */
export function cookieName(https: boolean): string {
  return https ? SECURE_NAME : PLAIN_NAME;
}

/**
 * The session id in a `Cookie` header, or undefined. Only a value of our own id's shape is
 * taken; when several cookies have the name (a sibling path set one), none is trusted.
 */
export function sessionIdOf(header: string | undefined, https: boolean): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  const name = cookieName(https);
  let found: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    if (found !== undefined) return undefined;
    found = part.slice(eq + 1).trim();
  }
  return found !== undefined && SESSION_ID.test(found) ? found : undefined;
}

/** The `Set-Cookie` value that starts a session; it lives as long as the session may. */
export function sessionCookie(id: string, https: boolean, maxAgeMs: number): string {
  const maxAge = Math.max(0, Math.floor(maxAgeMs / 1000));
  return `${cookieName(https)}=${id}; Path=${COOKIE_PATH}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${https ? '; Secure' : ''}`;
}

/** The `Set-Cookie` value that removes it. */
export function clearedCookie(https: boolean): string {
  return `${cookieName(https)}=; Path=${COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict${https ? '; Secure' : ''}`;
}
