/**
 * OpenID Connect Discovery 1.0: the `jwks_uri` of a trusted issuer, read from its
 * `/.well-known/openid-configuration` document at a URL given in configuration (never at a URL
 * built from a token's `iss`).
 *
 * §4.3: the document's `issuer` MUST be identical to the issuer the document was retrieved
 * for. A document naming another issuer is refused, so a misconfigured or hijacked discovery
 * URL cannot make one issuer's tokens verify with another's keys (the mix-up attack, RFC 9207).
 */
import { type BoundedFetchOptions, fetchJsonBounded, isFetchableUrl } from './bounded-fetch.ts';
import type { KeySetFailure } from './key-source.ts';

export type DiscoveryResult = { ok: true; jwksUri: string } | { ok: false; reason: KeySetFailure };

/**
 * Reads `jwks_uri` from a discovery document retrieved for `issuer`. Pure.
 * @example readDiscovery({ issuer: 'https://id.example.com', jwks_uri: 'https://id.example.com/jwks' }, 'https://id.example.com')
 * // { ok: true, jwksUri: 'https://id.example.com/jwks' }
 */
export function readDiscovery(document: unknown, issuer: string): DiscoveryResult {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    return { ok: false, reason: 'BAD_DISCOVERY' };
  }
  const { issuer: named, jwks_uri: jwksUri } = document as Record<string, unknown>;
  // Exact comparison: no trailing-slash or case folding (OIDC Discovery §4.3).
  if (named !== issuer) return { ok: false, reason: 'ISSUER_MISMATCH' };
  if (typeof jwksUri !== 'string' || !isFetchableUrl(jwksUri)) return { ok: false, reason: 'BAD_DISCOVERY' };
  return { ok: true, jwksUri };
}

/**
 * Fetches the discovery document (bounded in time and size) and reads `jwks_uri` from it.
 * @example
 * const found = await discoverJwksUri('https://id.example.com/.well-known/openid-configuration', 'https://id.example.com', bounds);
 */
export async function discoverJwksUri(
  url: string,
  issuer: string,
  bounds: BoundedFetchOptions,
): Promise<DiscoveryResult> {
  const fetched = await fetchJsonBounded(url, bounds);
  if (!fetched.ok) return { ok: false, reason: fetched.reason };
  return readDiscovery(fetched.json, issuer);
}
