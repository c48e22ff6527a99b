import { RampartError } from '../errors.ts';
import { CHALLENGE } from './principal.ts';

/** A framework-free view of the parts of a request that carry credentials. */
export interface CredentialSource {
  header(name: string): string | undefined;
  /** The raw query string (after `?`), if any. */
  query?: string | undefined;
}

export type Credential =
  | { kind: 'bearer'; token: string }
  | { kind: 'api_key'; key: string }
  | { kind: 'none' };

/** Query parameters that would carry a credential: refused, since URLs end up in logs, history and Referer. */
const QUERY_CREDENTIAL = /(?:^|&)(?:access_token|token|api_key|apikey|api-key|key|x-api-key)=/i;
const BEARER = /^Bearer +([\x21-\x7e]+)$/i;

/**
 * Finds the one credential of a request: `x-api-key: <key>`, or `Authorization: Bearer <x>`
 * where `x` is an API key when it starts with one of `apiKeyPrefixes` and an access token
 * otherwise. Two different credentials are refused (RFC 6750 §2: one method per request),
 * and so is a credential in the query string. Schemes other than Bearer count as none.
 */
export function extractCredential(source: CredentialSource, apiKeyPrefixes: readonly string[]): Credential {
  if (source.query && QUERY_CREDENTIAL.test(source.query)) {
    throw new RampartError('CREDENTIAL_IN_QUERY', {
      detail: 'Send credentials in the Authorization or x-api-key header, never in the URL.',
    });
  }
  const apiKeyHeader = source.header('x-api-key');
  const authorization = source.header('authorization');
  const bearer = authorization === undefined ? undefined : BEARER.exec(authorization.trim())?.[1];
  if (apiKeyHeader !== undefined && bearer !== undefined && apiKeyHeader !== bearer) {
    throw new RampartError('BAD_REQUEST', {
      detail: 'Send one credential per request.',
      headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_request"` },
    });
  }
  if (apiKeyHeader !== undefined) return { kind: 'api_key', key: apiKeyHeader.trim() };
  if (bearer === undefined) return { kind: 'none' };
  return apiKeyPrefixes.some((p) => bearer.startsWith(p))
    ? { kind: 'api_key', key: bearer }
    : { kind: 'bearer', token: bearer };
}
