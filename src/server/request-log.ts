import { SECRET_FIELD } from '../audit/scrub.ts';

/**
 * The URL as logged: query parameters whose name looks secret (`token`, `api_key`,
 * `password`, …) keep their name but lose their value, so a credential a client put in the
 * query string never reaches a log line.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
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
      return SECRET_FIELD.test(name) && eq !== -1 ? `${rawName}=[redacted]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}
