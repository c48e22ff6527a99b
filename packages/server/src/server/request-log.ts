import { SECRET_FIELD } from 'rampart/internal/audit/scrub.ts';

/**
 * Credentials that may turn up anywhere in a URL (a path segment, an innocently named query
 * parameter): API keys (prefix + 49 base62), refresh and reset tokens, and JWTs.
 */
const CREDENTIAL_IN_TEXT =
  /\b[a-z][a-z0-9]{1,15}_(?:[a-z0-9]{1,15}_)?[0-9A-Za-z]{49}\b|\b(?:rt|rst)_[0-9A-Za-z]{43}\b|\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;

/**
 * The URL as logged: query parameters whose name looks secret (`token`, `api_key`,
 * `password`, …) keep their name but lose their value, and anything shaped like a Rampart
 * credential or a JWT is replaced wherever it stands, so a credential a client put in the URL
 * never reaches a log line.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = url.slice(0, q === -1 ? url.length : q).replace(CREDENTIAL_IN_TEXT, '[redacted]');
  if (q === -1) return path;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq === -1 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replaceAll('+', ' '));
      } catch {}
      return SECRET_FIELD.test(name) && eq !== -1
        ? `${rawName}=[redacted]`
        : pair.replace(CREDENTIAL_IN_TEXT, '[redacted]');
    });
  return `${path}?${params.join('&')}`;
}
