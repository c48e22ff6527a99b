import type { KeyDecision } from '../api-keys/verify.ts';
import type { RampartError } from '../errors.ts';
import type { Awaitable } from '../lib/types.ts';
import type { AccessTokenResult } from '../tokens/access-token.ts';
import { type CredentialSource, extractCredential } from './credentials.ts';
import { invalidCredential, type Principal, unauthenticated } from './principal.ts';

export interface AuthenticatorOptions {
  /** Prefixes that mark an `Authorization: Bearer` value as an API key rather than a JWT. */
  apiKeyPrefixes: readonly string[];
  verifyAccessToken: (token: string) => Promise<AccessTokenResult>;
  /** Absent when the deployment takes no API keys. */
  verifyApiKey?: (key: string) => Promise<KeyDecision>;
  /**
   * Asked *before* any verification when a credential is presented: true when this client
   * has failed too often, so a flood of invented tokens or keys is refused without a lookup.
   */
  isBlocked?: (ip: string) => Awaitable<boolean>;
  /** Told of each refused credential (events, failed-auth counting). Never gets the secret. */
  onFailure?: (failure: AuthFailure) => void;
}

export interface AuthFailure {
  ip: string;
  kind: 'bearer' | 'api_key';
  /** The verifier's code (`EXPIRED`, `BAD_SIGNATURE`, `NOT_FOUND`, …): for logs, never for clients. */
  reason: string;
  keyId?: string;
}

export type AuthResult = { ok: true; principal: Principal } | { ok: false; error: RampartError };

export interface Accept {
  bearer: boolean;
  apiKey: boolean;
}

export interface Authenticator {
  authenticate(source: CredentialSource, ip: string, accept?: Accept): Promise<AuthResult>;
}

const BOTH: Accept = { bearer: true, apiKey: true };

/**
 * The authenticate step of the policy: one credential per request, verified by the token or
 * key verifier, turned into a Principal, or refused with the RFC 6750 answer. Denials are
 * values; only a malformed request (credential in the query, two credentials) throws.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { apiKeyPrefixes, verifyAccessToken, verifyApiKey, isBlocked, onFailure } = options;
  return {
    async authenticate(source, ip, accept = BOTH) {
      const credential = extractCredential(source, apiKeyPrefixes);
      if (credential.kind === 'none') return { ok: false, error: unauthenticated() };
      const kind = credential.kind;
      const refuse = (reason: string, keyId?: string): AuthResult => {
        onFailure?.({ ip, kind, reason, ...(keyId ? { keyId } : {}) });
        return {
          ok: false,
          error: invalidCredential(kind === 'bearer' ? 'INVALID_TOKEN' : 'INVALID_API_KEY'),
        };
      };
      if (isBlocked && (await isBlocked(ip))) {
        // Same answer as a bad credential: a blocked client learns nothing new.
        return {
          ok: false,
          error: invalidCredential(kind === 'bearer' ? 'INVALID_TOKEN' : 'INVALID_API_KEY'),
        };
      }
      if (kind === 'bearer') {
        if (!accept.bearer) return refuse('NOT_ACCEPTED');
        const result = await verifyAccessToken(credential.token);
        if (!result.ok) return refuse(result.code);
        const { claims, scopes } = result;
        return {
          ok: true,
          principal: {
            kind: 'user',
            userId: claims.sub,
            role: claims.role === 'admin' ? 'admin' : 'user',
            scopes,
            tokenId: claims.jti,
            tokenExp: claims.exp,
            ...(typeof claims.sid === 'string' ? { sessionId: claims.sid } : {}),
          },
        };
      }
      if (!accept.apiKey || !verifyApiKey) return refuse('NOT_ACCEPTED');
      const decision = await verifyApiKey(credential.key);
      if (!decision.valid) return refuse(decision.code, decision.keyId);
      const admin = decision.ownerId === null && decision.scopes.includes('admin');
      return {
        ok: true,
        principal: {
          kind: 'api_key',
          userId: decision.ownerId,
          role: admin ? 'admin' : null,
          scopes: decision.scopes,
          keyId: decision.keyId,
        },
      };
    },
  };
}
