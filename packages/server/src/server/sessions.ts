import { Redis } from 'ioredis';
import type { Clock } from 'rampart/internal/lib/types.ts';
import { redisClientOptions } from 'rampart/internal/rate-limit/redis-store.ts';
import {
  type AccessTokenClaims,
  type AccessTokenIssuer,
  type AccessTokenVerifier,
  createAccessTokenIssuer,
  createAccessTokenVerifier,
} from 'rampart/internal/tokens/access-token.ts';
import type { Storage } from '../storage/types.ts';
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
  /** Operational warnings (Redis lost). */
  warn?: (message: string) => void;
}): Promise<SessionService> {
  const { config, storage, keys, now } = options;
  const { issuer, audience, accessTtlMs, algorithm } = config.tokens;
  const warn = options.warn ?? ((message: string) => process.emitWarning(message));
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
  const bus =
    config.redisUrl === undefined
      ? undefined
      : await connectRevocations(
          config.redisUrl,
          (message) => {
            const match = MESSAGE.exec(message);
            if (match) remember(match[2]!, Number(match[1]));
          },
          // Messages published while the subscription was down are lost: read the lists again.
          () => void load().catch(() => {}),
          warn,
        );
  const reloadEveryMs = options.reloadEveryMs ?? (storage.kind === 'memory' ? 0 : 15_000);
  const timer = reloadEveryMs > 0 ? setInterval(() => void load().catch(() => {}), reloadEveryMs) : undefined;
  timer?.unref();
  const deny = async (key: string, until: number) => {
    await storage.ttl.put(key, '1', until);
    denied.set(key, until);
    await bus?.publish(`${until} ${key}`);
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
    async close() {
      clearInterval(timer);
      await bus?.close();
    },
  };
}

/**
 * Publisher and subscriber connections for revocations (a subscribed connection cannot
 * publish). A publish that fails is only warned about: the revocation is in storage, and the
 * other instances read it at their next reload.
 */
async function connectRevocations(
  redisUrl: string,
  onMessage: (message: string) => void,
  onReconnect: () => void,
  warn: (message: string) => void,
): Promise<{ publish(message: string): Promise<void>; close(): Promise<void> }> {
  const client = new Redis(redisUrl, {
    ...redisClientOptions({ commandTimeoutMs: 1_000 }),
    lazyConnect: true,
  });
  const subscriber = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), 1_000),
  });
  let down = false;
  const onError = (error: Error) => {
    if (down) return;
    down = true;
    warn(
      `Redis connection lost (${error.message}); revoked tokens reach other instances at their next reload from storage until it is back`,
    );
  };
  client.on('error', onError);
  subscriber.on('error', onError);
  try {
    await Promise.all([client.connect(), subscriber.connect()]);
    await subscriber.subscribe(REVOCATION_CHANNEL);
  } catch (error) {
    client.disconnect();
    subscriber.disconnect();
    throw new Error(`cannot reach Redis at REDIS_URL (${(error as Error).message})`);
  }
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === REVOCATION_CHANNEL) onMessage(message);
  });
  // Registered after the first connection: every later 'ready' is a reconnection.
  subscriber.on('ready', () => {
    down = false;
    onReconnect();
  });
  return {
    async publish(message) {
      try {
        await client.publish(REVOCATION_CHANNEL, message);
      } catch (error) {
        warn(
          `could not publish a revocation (${(error as Error).message}); other instances read it from storage`,
        );
      }
    },
    async close() {
      await Promise.allSettled([client.quit(), subscriber.quit()]);
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
