import {
  type Algorithm,
  assertCost,
  type Decision,
  RATE_RULE_DEFAULTS,
  type RateRule,
} from './algorithms.ts';
import { RATE_LIMIT_LUA } from './redis-script.ts';
import type { RateLimitStore } from './store.ts';

/**
 * What the store needs of a Redis client: the two ioredis methods it calls. An ioredis `Redis`
 * or `Cluster` fits as is; the library never imports a Redis driver, the caller brings one.
 */
export interface RedisScriptClient {
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
  del(...keys: string[]): Promise<number>;
}

/**
 * The ioredis client options {@link redisClientOptions} returns: plain data, spread into
 * `new Redis(url, { ...redisClientOptions(), … })`.
 */
export interface RedisClientOptions {
  enableOfflineQueue: false;
  commandTimeout: number;
  connectTimeout: number;
  maxRetriesPerRequest: number;
  retryStrategy: (times: number) => number;
}

/** Options of {@link redisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /**
   * A connected ioredis client (`Redis` or `Cluster`), built from {@link redisClientOptions} so
   * that a dead Redis fails fast. The store never connects, quits or reconfigures it; it only
   * adds one script command to it (`defineCommand`).
   */
  client: RedisScriptClient;
  /** Prepended to every key; default `'rampart:rl:'`. May not contain `{` or `}`. */
  keyPrefix?: string;
  /**
   * Whose clock decides; default `'redis'`. With `'redis'` the script reads Redis `TIME`, so
   * every instance sharing the Redis counts on one clock and a machine whose clock is a few
   * seconds off cannot open an extra window (fixed) or age units early (sliding, GCRA); the
   * `now` passed in is then used only to express `resetAt` on the caller's clock. With
   * `'caller'` the script uses the `now` passed in (tests with an injected clock).
   */
  clock?: 'redis' | 'caller';
}

const REDIS_STORE_DEFAULTS = { keyPrefix: 'rampart:rl:', clock: 'redis' } as const;

// Versioned: a changed script gets a new name, so two releases sharing a client never mix.
const COMMAND = 'rampartRateLimitV2';

// One key per algorithm, so a rule switched to another algorithm starts clean instead of
// misreading the old hash.
const SUFFIX: Record<Algorithm, string> = { 'fixed-window': 'fw', 'sliding-window': 'sw', gcra: 'gc' };

type ScriptReply = [allowed: number, remaining: number, resetAt: number, retryAfterMs: number, at: number];
type ScriptClient = Record<
  typeof COMMAND,
  (key: string, ...args: Array<string | number>) => Promise<ScriptReply>
>;

/**
 * Rate-limit state in Redis, shared by every instance using the same Redis and prefix.
 *
 * Each decision is **one Lua script** (`redis-script.ts`, sent once and then run by EVALSHA):
 * read, decide, write and `PEXPIRE` happen atomically, so concurrent requests on any number of
 * instances can never both take the last unit. Keys are `<prefix>{<key>}:<fw|sw|gc>`: the
 * `{hash tag}` puts every key of one identity in one Redis Cluster slot, so `reset` can delete
 * them in one command; no command scans the keyspace (no `KEYS`). Every key carries a TTL
 * equal to the time its state stays meaningful, so Redis frees idle keys by itself.
 *
 * If Redis evicts keys under `maxmemory`, limits can only get looser, for the evicted keys.
 *
 * @example
 * const client = new Redis(process.env.REDIS_URL, redisClientOptions());
 * await once(client, 'ready');
 * const store = redisRateLimitStore({ client });
 */
export function redisRateLimitStore(options: RedisRateLimitStoreOptions): RateLimitStore {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('(options): expected { client, keyPrefix?, clock? }');
  }
  const { client } = options;
  if (typeof client !== 'object' || client === null || typeof client.defineCommand !== 'function') {
    throw new TypeError('client: expected a connected ioredis client (Redis or Cluster)');
  }
  const keyPrefix = options.keyPrefix ?? REDIS_STORE_DEFAULTS.keyPrefix;
  if (typeof keyPrefix !== 'string' || /[{}]/.test(keyPrefix)) {
    // A brace in the prefix would become the hash tag and put every key in one slot.
    throw new TypeError('keyPrefix: expected a string without "{" or "}"');
  }
  const clock = options.clock ?? REDIS_STORE_DEFAULTS.clock;
  if (clock !== 'redis' && clock !== 'caller') {
    throw new TypeError(`clock: expected 'redis' or 'caller', got ${JSON.stringify(clock)}`);
  }

  if (typeof (client as unknown as Partial<ScriptClient>)[COMMAND] !== 'function') {
    client.defineCommand(COMMAND, { numberOfKeys: 1, lua: RATE_LIMIT_LUA });
  }
  const script = (client as unknown as ScriptClient)[COMMAND].bind(client);
  const keyOf = (key: string, algorithm: Algorithm) => `${keyPrefix}{${key}}:${SUFFIX[algorithm]}`;

  const run = async (
    key: string,
    rule: RateRule,
    now: number,
    cost: number,
    mode = '',
  ): Promise<Decision> => {
    const param =
      rule.algorithm === 'gcra'
        ? (rule.burst ?? rule.limit)
        : rule.algorithm === 'sliding-window'
          ? (rule.buckets ?? RATE_RULE_DEFAULTS.buckets)
          : 0;
    const [allowed, remaining, resetAt, retryAfterMs, at] = await script(
      keyOf(key, rule.algorithm),
      rule.algorithm,
      rule.limit,
      rule.windowMs,
      param,
      cost,
      clock === 'redis' ? '' : now,
      mode,
    );
    return {
      allowed: allowed === 1,
      limit: rule.limit,
      remaining,
      // Moved onto the caller's clock: headers subtract the caller's `now` from it.
      resetAt: clock === 'redis' ? now + (resetAt - at) : resetAt,
      retryAfterMs,
    };
  };

  return {
    keyPrefix,
    async consume(key, rule, now, cost = 1) {
      assertCost(rule, cost);
      return run(key, rule, now, cost);
    },
    peek(key, rule, now) {
      return run(key, rule, now, 0);
    },
    async refund(key, rule, now, cost = 1) {
      assertCost(rule, cost);
      if (cost > 0) await run(key, rule, now, cost, 'refund');
    },
    async reset(key) {
      await client.del(keyOf(key, 'fixed-window'), keyOf(key, 'sliding-window'), keyOf(key, 'gcra'));
    },
    close() {
      // The client belongs to the caller.
    },
  };
}

/** Settings of {@link redisClientOptions}. */
export interface RedisClientSettings {
  /** A command that has no answer after this many ms fails; default 50. */
  commandTimeoutMs?: number;
  /** A connection attempt that takes longer fails; default 1,000 ms. */
  connectTimeoutMs?: number;
  /** The longest pause between reconnection attempts; default 1,000 ms. */
  maxReconnectDelayMs?: number;
}

const REDIS_CLIENT_DEFAULTS = {
  commandTimeoutMs: 50,
  connectTimeoutMs: 1_000,
  maxReconnectDelayMs: 1_000,
} as const;

/**
 * The ioredis options that make a Redis outage cheap for a rate limiter: the offline queue is
 * off (a command sent while disconnected fails at once instead of waiting for a reconnection
 * that may never come), a command times out after `commandTimeoutMs`, a command caught by a
 * dropped connection is not retried, and reconnection keeps trying with a backoff capped at
 * `maxReconnectDelayMs`, so limiting resumes about a second after Redis is back.
 *
 * With the offline queue off, wait for the client's `ready` event before the first command.
 *
 * @throws TypeError naming the setting that is not a whole number ≥ 1.
 * @example
 * const client = new Redis(url, { ...redisClientOptions({ commandTimeoutMs: 100 }), lazyConnect: true });
 * await client.connect();
 */
export function redisClientOptions(settings: RedisClientSettings = {}): RedisClientOptions {
  const commandTimeoutMs = settings.commandTimeoutMs ?? REDIS_CLIENT_DEFAULTS.commandTimeoutMs;
  const connectTimeoutMs = settings.connectTimeoutMs ?? REDIS_CLIENT_DEFAULTS.connectTimeoutMs;
  const maxReconnectDelayMs = settings.maxReconnectDelayMs ?? REDIS_CLIENT_DEFAULTS.maxReconnectDelayMs;
  for (const [field, value] of Object.entries({ commandTimeoutMs, connectTimeoutMs, maxReconnectDelayMs })) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(
        `${field}: expected a whole number of milliseconds ≥ 1, got ${JSON.stringify(value)}`,
      );
    }
  }
  return {
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxReconnectDelayMs),
  };
}
