/**
 * The engine's `authFailures.news` on Redis: instances sharing a failure budget tell each other
 * which client addresses failed, so an authenticated request from an address that failed
 * nowhere lately skips the budget read (one Redis round trip instead of two).
 *
 * - A sorted set holds every marker in force (member: the address key, score: until, epoch
 *   ms), so an instance that starts or reconnects reads what it missed before it trusts its map.
 * - A channel carries each new marker (`<until> <address>`) to the instances listening.
 * - A marker that could not be written is retried every second (the newest per address, at most
 *   `limit` kept) until Redis takes it.
 *
 * The engine stays blind (asks Redis for every address) from the start until the first read of
 * the set, from a lost subscription until the read after the reconnection, and while a read
 * fails.
 */
import type { FailureNews, FailureNewsListener } from 'rampart';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { RedisConnections } from './redis.ts';

const KEY = 'rampart:auth-failures:markers';
const CHANNEL = 'rampart:auth-failures';
const MESSAGE = /^(\d{1,16}) (\S{1,200})$/;
const RETRY_MS = 1_000;

export interface RedisFailureNewsOptions {
  redis: Pick<RedisConnections, 'client' | 'bus'>;
  now: Clock;
  /** Most markers read back or kept for a retry; the engine's own bound (100,000). */
  limit: number;
  warn: (message: string) => void;
}

export interface RedisFailureNews extends FailureNews {
  close(): void;
}

export function redisFailureNews(options: RedisFailureNewsOptions): RedisFailureNews {
  const { redis, now, limit, warn } = options;
  const unsent = new Map<string, number>();
  let retry: NodeJS.Timeout | undefined;
  let reread: NodeJS.Timeout | undefined;
  let closed = false;
  // Counts lost subscriptions: a read that began before a loss must not end the blindness.
  let losses = 0;

  const send = async (address: string, until: number): Promise<void> => {
    await redis.client
      .multi()
      .zadd(KEY, until, address)
      .zremrangebyscore(KEY, '-inf', now())
      .publish(CHANNEL, `${until} ${address}`)
      .exec()
      .then((replies) => {
        const failed = replies?.find(([error]) => error !== null)?.[0];
        if (failed) throw failed;
      });
  };
  const flush = async (): Promise<void> => {
    retry = undefined;
    for (const [address, until] of unsent) {
      unsent.delete(address);
      if (until <= now()) continue;
      try {
        await send(address, until);
      } catch {
        keep(address, until);
        return;
      }
    }
  };
  const keep = (address: string, until: number): void => {
    if (unsent.size >= limit && !unsent.has(address)) unsent.delete(unsent.keys().next().value!);
    unsent.set(address, Math.max(until, unsent.get(address) ?? 0));
    if (retry === undefined && !closed) {
      retry = setTimeout(() => void flush(), RETRY_MS);
      retry.unref();
    }
  };

  return {
    publish(address, until) {
      send(address, until).catch((error: unknown) => {
        if (unsent.size === 0) {
          warn(
            `could not tell other instances of a failed authentication (${(error as Error).message}); retrying`,
          );
        }
        keep(address, until);
      });
    },
    listen(listener: FailureNewsListener) {
      const read = async (): Promise<void> => {
        reread = undefined;
        listener.blind();
        const since = losses;
        try {
          const at = now();
          const entries = await redis.client.zrange(
            KEY,
            at,
            '+inf',
            'BYSCORE',
            'LIMIT',
            0,
            limit + 1,
            'WITHSCORES',
          );
          for (let i = 0; i + 1 < entries.length; i += 2) listener.heard(entries[i]!, Number(entries[i + 1]));
          if (since === losses) listener.sighted();
        } catch {
          // Blind until a read succeeds: every address is asked meanwhile.
          if (!closed) {
            reread = setTimeout(() => void read(), RETRY_MS);
            reread.unref();
          }
        }
      };
      listener.blind();
      void redis.bus
        .subscribe(CHANNEL, {
          onMessage(message) {
            const match = MESSAGE.exec(message);
            if (match) listener.heard(match[2]!, Number(match[1]));
          },
          onLost() {
            losses++;
            listener.blind();
          },
          onReconnect: () => void read(),
        })
        .then(read, () => {
          // Not subscribed: stay blind; the engine asks Redis for every address.
          warn('could not subscribe to failed-authentication news; every request reads the failure budget');
        });
    },
    close() {
      closed = true;
      clearTimeout(retry);
      clearTimeout(reread);
    },
  };
}
