import type { Clock } from '../lib/types.ts';
import type { Storage } from '../storage/types.ts';
import {
  type AccessTokenClaims,
  type AccessTokenIssuer,
  type AccessTokenVerifier,
  createAccessTokenIssuer,
  createAccessTokenVerifier,
} from '../tokens/access-token.ts';
import type { ServerConfig } from './config.ts';
import type { KeyRingHolder } from './signing-keys.ts';

/**
 * Access-token issue and verification with revocation: a `jti` deny-list whose entries live
 * as long as the token they revoke, and a per-user "not before" (password change or reset
 * ends every session). Both are kept in memory, loaded from storage, so checking them costs
 * no I/O on the request path; writes go to storage first.
 */
export interface SessionService {
  issuer: AccessTokenIssuer;
  verifier: AccessTokenVerifier;
  /** Ends one access token at once (logout). `exp` in epoch seconds. */
  revokeAccessToken(jti: string, exp: number): Promise<void>;
  /** Ends every token of the user issued before now (password change or reset). */
  endAllSessions(userId: string): Promise<void>;
}

const DENY_PREFIX = 'jti:';

export async function createSessionService(options: {
  config: ServerConfig;
  storage: Storage;
  keys: KeyRingHolder;
  now: Clock;
}): Promise<SessionService> {
  const { config, storage, keys, now } = options;
  const denied = new Map<string, number>();
  for (const entry of await storage.ttl.list(DENY_PREFIX, now())) {
    denied.set(entry.key.slice(DENY_PREFIX.length), entry.expiresAt);
  }
  // userId -> not-before (ms) or null; bounded, filled from storage on first sight of a user.
  const notBefore = new Map<string, number | null>();
  const NOT_BEFORE_MAX = 100_000;

  const userNotBefore = async (userId: string): Promise<number | null> => {
    const cached = notBefore.get(userId);
    if (cached !== undefined) return cached;
    const user = await storage.users.getById(userId);
    // A deleted user's tokens are all refused: "not before" the end of time.
    const value = user ? user.notBefore : Number.MAX_SAFE_INTEGER;
    if (notBefore.size >= NOT_BEFORE_MAX) notBefore.delete(notBefore.keys().next().value!);
    notBefore.set(userId, value);
    return value;
  };

  const isRevoked = (claims: Readonly<AccessTokenClaims>): boolean | Promise<boolean> => {
    const until = denied.get(claims.jti);
    if (until !== undefined) {
      if (until > now()) return true;
      denied.delete(claims.jti);
    }
    const cached = notBefore.get(claims.sub);
    const check = (nb: number | null) => nb !== null && claims.iat * 1000 < nb;
    return cached !== undefined ? check(cached) : userNotBefore(claims.sub).then(check);
  };

  const ring = () => keys.current();
  const { issuer, audience, accessTtlMs, algorithm } = config.tokens;
  const verifier = createAccessTokenVerifier({
    ring,
    issuer,
    audience,
    algorithms: [algorithm],
    cache: { max: 10_000 },
    isRevoked,
    now,
  });
  return {
    issuer: createAccessTokenIssuer({ ring, issuer, audience, ttlMs: accessTtlMs, now }),
    verifier,
    async revokeAccessToken(jti, exp) {
      const expiresAt = exp * 1000 + 60_000;
      await storage.ttl.put(`${DENY_PREFIX}${jti}`, '1', expiresAt);
      denied.set(jti, expiresAt);
      verifier.drop(jti);
    },
    async endAllSessions(userId) {
      // Whole seconds: `iat` has second precision, so a token issued in this very second is
      // ended too (not before the *next* second).
      const at = (Math.floor(now() / 1000) + 1) * 1000;
      await storage.users.update(userId, { notBefore: at }, now());
      await storage.refreshTokens.revokeUser(userId, now());
      notBefore.set(userId, at);
      verifier.clear();
    },
  };
}
