/**
 * The server's one way to Redis: one command connection (rate limits, per-key limits,
 * publishes) and one subscriber connection for every channel (API key invalidation, session
 * revocation). Two connections per instance, opened here and nowhere else.
 */
import { Redis } from 'ioredis';
import { redisClientOptions } from 'rampart/internal/rate-limit/redis-store.ts';

/** A channel subscription: messages, and a call after every reconnection (messages sent meanwhile are lost). */
export interface Subscription {
  onMessage(message: string): void;
  onReconnect(): void;
  /** The subscription's connection closed: messages are lost until `onReconnect`. */
  onLost?(): void;
}

/** Publish and subscribe across instances. A publish that fails is warned about, never thrown. */
export interface Bus {
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, subscription: Subscription): Promise<void>;
}

export interface RedisConnections {
  /** Commands: the offline queue is off and a dead connection fails at once (see `redisClientOptions`). */
  readonly client: Redis;
  readonly bus: Bus;
  /** Resolves when Redis answers a PING (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the two connections; rejects with a message naming `REDIS_URL` when Redis cannot be
 * reached at start.
 */
export async function connectRedis(url: string, warn: (message: string) => void): Promise<RedisConnections> {
  // The rate-limit wrapper bounds each decision itself (loop lag not counted); this client
  // timeout is only the backstop for a command nobody else waits on.
  const client = new Redis(url, { ...redisClientOptions({ commandTimeoutMs: 2_000 }), lazyConnect: true });
  // A subscriber needs its own connection; ioredis re-subscribes by itself after a reconnect.
  const subscriber = new Redis(url, {
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
      `Redis connection lost (${error.message}); limits follow their failure policy and revocations reach other instances at their next reload until it is back`,
    );
  };
  client.on('error', onError);
  subscriber.on('error', onError);
  try {
    await Promise.all([client.connect(), subscriber.connect()]);
  } catch (error) {
    client.disconnect();
    subscriber.disconnect();
    throw new Error(`REDIS_URL: Redis is unreachable (${(error as Error).message})`);
  }
  const channels = new Map<string, Subscription>();
  subscriber.on('message', (channel: string, message: string) => channels.get(channel)?.onMessage(message));
  subscriber.on('close', () => {
    for (const subscription of channels.values()) subscription.onLost?.();
  });
  // Registered after the first connection: every later 'ready' is a reconnection.
  subscriber.on('ready', () => {
    down = false;
    for (const subscription of channels.values()) subscription.onReconnect();
  });
  return {
    client,
    bus: {
      async publish(channel, message) {
        try {
          await client.publish(channel, message);
        } catch (error) {
          warn(
            `could not publish on ${channel} (${(error as Error).message}); other instances read it from storage`,
          );
        }
      },
      async subscribe(channel, subscription) {
        channels.set(channel, subscription);
        await subscriber.subscribe(channel);
      },
    },
    async ping() {
      await client.ping();
    },
    async close() {
      await Promise.allSettled([client.quit(), subscriber.quit()]);
      client.disconnect();
      subscriber.disconnect();
    },
  };
}

/** Publishes a few messages from a process that has no server running (the CLI), then disconnects. */
export async function publishOnce(url: string, channel: string, messages: readonly string[]): Promise<void> {
  const client = new Redis(url, { ...redisClientOptions({ commandTimeoutMs: 1_000 }), lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    for (const message of messages) await client.publish(channel, message);
  } finally {
    client.disconnect();
  }
}
