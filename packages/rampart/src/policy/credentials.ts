import { RampartError } from '../errors.ts';
import { bearerToken, hasCredentialInQuery } from '../http/credential-syntax.ts';
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

const BEARER_SCHEME = /^\s*Bearer\s/i;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Finds the one credential of a request: `x-api-key: <key>`, or `Authorization: Bearer <x>`
 * where `x` is an API key when it starts with one of `apiKeyPrefixes` and an access token
 * otherwise. Two different credentials are refused (RFC 6750 §2: one method per request),
 * and so is a credential in the query string. Schemes other than Bearer count as none.
 */
export function extractCredential(
  source: CredentialSource,
  apiKeyPrefixes: readonly string[],
  isKey?: (bearer: string) => boolean,
): Credential {
  if (hasCredentialInQuery(source.query)) {
    throw new RampartError('CREDENTIAL_IN_QUERY', {
      detail: 'Send credentials in the Authorization or x-api-key header, never in the URL.',
    });
  }
  const apiKeyHeader = source.header('x-api-key');
  const authorization = source.header('authorization');
  // Two header lines reach us joined with ", " (RFC 9110 §5.3; the Node adapters join the
  // Authorization lines that Node itself would drop). A bearer token and an API key never hold
  // a comma, so one here is a second credential: refused, never "the first one wins".
  if (
    apiKeyHeader?.includes(',') ||
    (authorization !== undefined && BEARER_SCHEME.test(authorization) && authorization.includes(','))
  ) {
    throw new RampartError('BAD_REQUEST', {
      detail: 'Send one credential header per request.',
      headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_request"` },
    });
  }
  const bearer = bearerToken(authorization);
  if (apiKeyHeader !== undefined && bearer !== undefined && apiKeyHeader !== bearer) {
    throw new RampartError('BAD_REQUEST', {
      detail: 'Send one credential per request.',
      headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_request"` },
    });
  }
  if (apiKeyHeader !== undefined) return { kind: 'api_key', key: apiKeyHeader.trim() };
  if (bearer === undefined) return { kind: 'none' };
  if (apiKeyPrefixes.some((p) => bearer.startsWith(p))) return { kind: 'api_key', key: bearer };
  // A compact JWS has three base64url parts; anything else may be a prefix-less key the
  // deployment recognises (its bootstrap admin key).
  if (isKey !== undefined && !COMPACT_JWS.test(bearer) && isKey(bearer))
    return { kind: 'api_key', key: bearer };
  return { kind: 'bearer', token: bearer };
}
