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
 * Access-token issue and verification with revocation. Every access token names its session
 * (`sid`, the refresh family it was issued with). Two deny-lists end tokens at once:
 * - by `jti` (logout ends the very token presented);
 * - by `sid` (logout, refresh-token reuse and password change/reset end whole sessions).
 * Entries live as long as a token they could stop (`accessTtl`). Both lists are kept in
 * memory and loaded from storage at start, so checking them costs no I/O on the request path;
 * a revocation is written to storage before it is acknowledged.
 */
export interface SessionService {
  issuer: AccessTokenIssuer;
  verifier: AccessTokenVerifier;
  /** Ends one access token (logout). `exp` in epoch seconds. */
  revokeAccessToken(jti: string, exp: number): Promise<void>;
  /** Ends every access token issued in these sessions (refresh families). */
  revokeSessions(sids: readonly string[]): Promise<void>;
  /** Ends every session of the user: refresh families revoked, their access tokens denied. */
  endAllSessions(userId: string): Promise<void>;
}

const JTI = 'jti:';
const SID = 'sid:';

export async function createSessionService(options: {
  config: ServerConfig;
  storage: Storage;
  keys: KeyRingHolder;
  now: Clock;
}): Promise<SessionService> {
  const { config, storage, keys, now } = options;
  const { issuer, audience, accessTtlMs, algorithm } = config.tokens;
  const denied = new Map<string, number>();
  for (const prefix of [JTI, SID]) {
    for (const entry of await storage.ttl.list(prefix, now())) denied.set(entry.key, entry.expiresAt);
  }
  const deny = async (key: string, until: number) => {
    await storage.ttl.put(key, '1', until);
    denied.set(key, until);
  };
  const isDenied = (key: string): boolean => {
    const until = denied.get(key);
    if (until === undefined) return false;
    if (until > now()) return true;
    denied.delete(key);
    return false;
  };
  const isRevoked = (claims: Readonly<AccessTokenClaims>): boolean =>
    isDenied(JTI + claims.jti) || (typeof claims.sid === 'string' && isDenied(SID + claims.sid));

  const ring = () => keys.current();
  const verifier = createAccessTokenVerifier({
    ring,
    issuer,
    audience,
    algorithms: [algorithm],
    cache: { max: 10_000 },
    isRevoked,
    now,
  });
  // A deny entry must outlive any token it can stop: the longest lifetime plus clock skew.
  const horizon = () => now() + accessTtlMs + 60_000;
  const revokeSessions = async (sids: readonly string[]) => {
    for (const sid of sids) await deny(SID + sid, horizon());
    if (sids.length > 0) verifier.clear();
  };
  return {
    issuer: createAccessTokenIssuer({ ring, issuer, audience, ttlMs: accessTtlMs, now }),
    verifier,
    async revokeAccessToken(jti, exp) {
      await deny(JTI + jti, exp * 1000 + 60_000);
      verifier.drop(jti);
    },
    revokeSessions,
    async endAllSessions(userId) {
      await storage.users.update(userId, { notBefore: now() }, now());
      await revokeSessions(await storage.refreshTokens.revokeUser(userId, now()));
    },
  };
}
