import { RAMPART_DEFAULTS } from 'rampart';
import type { Clock } from 'rampart/internal/lib/types.ts';
import {
  type AccessTokenClaims,
  type AccessTokenIssuer,
  type AccessTokenVerifier,
  createAccessTokenIssuer,
  createAccessTokenVerifier,
} from 'rampart/internal/tokens/access-token.ts';
import type { Storage } from '../storage/types.ts';
import type { ServerConfig } from './config.ts';
import { type Bus, publishOnce } from './redis.ts';
import type { KeyRingHolder } from './signing-keys.ts';

/**
 * Access-token issue and verification with revocation. Every access token names its session
 * (`sid`, the refresh family it was issued with). Two deny-lists end tokens at once:
 * - by `jti` (logout ends the very token presented);
 * - by `sid` (logout, refresh-token reuse and password change/reset end whole sessions).
 * Entries live as long as a token they could stop (`accessTtl`). Both lists are kept in
 * memory and loaded from storage at start, so checking them costs no I/O on the request path;
 * a revocation is written to storage before it is acknowledged.
 *
 * Several instances: a revocation is also published on Redis (`REDIS_URL`), so every instance
 * denies the token within milliseconds; an instance whose subscription dropped reloads the
 * lists from storage when it reconnects, and every instance reloads them every
 * `reloadEveryMs` as well, so a revocation reaches it even while Redis is down.
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
  /** Stops the reload timer and the Redis connections. */
  close(): Promise<void>;
}

const JTI = 'jti:';
const SID = 'sid:';
/** The Redis channel on which instances tell each other of revoked tokens and sessions. */
export const REVOCATION_CHANNEL = 'rampart:sessions:revoked';
/** `<until ms> <jti:…|sid:…>`: nothing else is taken from the channel. */
const MESSAGE = /^(\d{1,16}) ((?:jti|sid):[\x21-\x7e]{1,200})$/;

export async function createSessionService(options: {
  config: ServerConfig;
  storage: Storage;
  keys: KeyRingHolder;
  now: Clock;
  /** How often the deny-lists are read again from storage, ms; 0 never. Default 15 000 (0 on memory storage). */
  reloadEveryMs?: number;
  /** Revocations to and from other instances (with `REDIS_URL`). */
  bus?: Bus;
}): Promise<SessionService> {
  const { config, storage, keys, now } = options;
  const { issuer, audience, accessTtlMs, algorithm } = config.tokens;
  const denied = new Map<string, number>();
  const remember = (key: string, until: number) => {
    if (until > (denied.get(key) ?? 0)) denied.set(key, until);
  };
  const load = async () => {
    const at = now();
    for (const [key, until] of denied) if (until <= at) denied.delete(key);
    for (const prefix of [JTI, SID]) {
      for (const entry of await storage.ttl.list(prefix, at)) remember(entry.key, entry.expiresAt);
    }
  };
  await load();
  const bus = options.bus;
  await bus?.subscribe(REVOCATION_CHANNEL, {
    onMessage(message) {
      const match = MESSAGE.exec(message);
      if (match) remember(match[2]!, Number(match[1]));
    },
    // Messages published while the subscription was down are lost: read the lists again.
    onReconnect: () => void load().catch(() => {}),
  });
  const reloadEveryMs = options.reloadEveryMs ?? (storage.kind === 'memory' ? 0 : 15_000);
  const timer = reloadEveryMs > 0 ? setInterval(() => void load().catch(() => {}), reloadEveryMs) : undefined;
  timer?.unref();
  const deny = async (key: string, until: number) => {
    await storage.ttl.put(key, '1', until);
    denied.set(key, until);
    await bus?.publish(REVOCATION_CHANNEL, `${until} ${key}`);
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
    cache: RAMPART_DEFAULTS.tokenCache,
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
    async close() {
      clearInterval(timer);
    },
  };
}

/**
 * Ends every session of a user from outside a running server (the CLI): the refresh families
 * are revoked and their `sid` entries written to the deny-list in storage, then announced on
 * Redis (`REDIS_URL`) so running servers deny the tokens at once; without Redis they pick the
 * entries up on their next reload (`reloadEveryMs`, 15 s). Answers how many sessions ended and
 * whether the announcement reached Redis.
 */
export async function endSessionsOffline(
  config: Pick<ServerConfig, 'tokens' | 'redisUrl'>,
  storage: Storage,
  userId: string,
  now: number,
): Promise<{ sessions: number; announced: boolean }> {
  await storage.users.update(userId, { notBefore: now }, now);
  const families = await storage.refreshTokens.revokeUser(userId, now);
  const until = now + config.tokens.accessTtlMs + 60_000;
  for (const sid of families) await storage.ttl.put(SID + sid, '1', until);
  let announced = false;
  if (config.redisUrl !== undefined && families.length > 0) {
    try {
      await publishOnce(
        config.redisUrl,
        REVOCATION_CHANNEL,
        families.map((sid) => `${until} ${SID}${sid}`),
      );
      announced = true;
    } catch {}
  }
  return { sessions: families.length, announced };
}
