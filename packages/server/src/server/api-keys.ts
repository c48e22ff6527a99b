/**
 * The server side of API keys: the pepper (outside the database), the issuer, the verifier
 * with its bounded cache and last-used batcher, per-key rate limits, credits through the
 * store's atomic spend, the bootstrap admin key, and cross-instance cache invalidation over
 * Redis pub/sub. The key logic itself lives in `src/api-keys/`; this file wires it to storage,
 * files, Redis and the clock.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  type ApiKeyIssuer,
  type ApiKeyRecord,
  type ApiKeySettings,
  createApiKeyIssuer,
  createApiKeyVerifier,
  createKeyHasher,
  createLastUsedBatcher,
  createVerificationCache,
  decideKey,
  type InvalidKeySettings,
  type IssuedApiKey,
  type KeyDecision,
  type KeyHasher,
  type KeyVerificationCode,
  MIN_PEPPER_BYTES,
  type RotatedApiKey,
  type VerificationCache,
  type VerifyApiKeyOptions,
} from 'rampart/internal/api-keys/index.ts';
import { isId, newId } from 'rampart/internal/lib/ids.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { Authenticator } from 'rampart/internal/policy/authenticate.ts';
import {
  memoryRateLimitStore,
  type RateLimitStore,
  redisClientOptions,
  redisRateLimitStore,
} from 'rampart/internal/rate-limit/index.ts';
import type { Storage } from '../storage/types.ts';
import { ConfigError, type ServerConfig } from './config.ts';

/** The Redis channel on which instances tell each other which key ids to drop from their caches. */
export const INVALIDATION_CHANNEL = 'rampart:api-keys:invalidate';
/** The name of the pepper file in the data dir. */
export const PEPPER_FILE = 'pepper';
/** The name of the first-start admin key file in the data dir. */
export const ADMIN_KEY_FILE = 'admin-key';
/** Stands in for a presented key when a lookup finds nothing (see `findByHash`). Never matches. */
const DECOY_KEY = `rk_live_${'0'.repeat(49)}`;
/** Longest bootstrap key compared; longer text is not the bootstrap key (and costs no more hashing). */
const MAX_BOOTSTRAP_KEY = 1024;

// ───────────────────────────── pepper ─────────────────────────────

/** The peppers a hasher needs: by version, and which one is current. Never logged. */
export interface Peppers {
  peppers: Record<string, Buffer>;
  current: string;
  /** Where they came from (for messages): the env variable or the file path. */
  source: string;
}

const VERSIONED = /^(v[1-9][0-9]{0,5}):(.+)$/;

function decodePepper(text: string, where: string): Buffer {
  const value = text.trim();
  // Hex first: a hex string is also valid base64, and hex is what `openssl rand -hex 32` prints.
  let bytes: Buffer;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(value)) bytes = Buffer.from(value, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) bytes = Buffer.from(value, 'base64');
  else throw new ConfigError(`${where}: a pepper is hex or base64 (the value is not shown)`);
  if (bytes.byteLength < MIN_PEPPER_BYTES) {
    throw new ConfigError(
      `${where}: a pepper must be at least ${MIN_PEPPER_BYTES} bytes (64 hex or 44 base64 characters), got ${bytes.byteLength}`,
    );
  }
  return bytes;
}

/**
 * Parses a pepper list: entries separated by commas or new lines, each `vN:<hex|base64>` or a
 * bare value (version `v1`). The first entry is current; the others stay listed so keys hashed
 * under them keep working (and are re-hashed to the current one on their next use).
 *
 * @example parsePeppers('v2:' + newHex + ',v1:' + oldHex, 'RAMPART_API_KEY_PEPPER')
 */
export function parsePeppers(text: string, where: string): Peppers {
  const peppers: Record<string, Buffer> = {};
  let current: string | undefined;
  const entries = text
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e !== '' && !e.startsWith('#'));
  for (const entry of entries) {
    const match = VERSIONED.exec(entry);
    const version = match ? match[1]! : 'v1';
    if (Object.hasOwn(peppers, version))
      throw new ConfigError(`${where}: pepper version ${version} is listed twice`);
    peppers[version] = decodePepper(match ? match[2]! : entry, `${where} (${version})`);
    current ??= version;
  }
  if (current === undefined) throw new ConfigError(`${where}: no pepper found`);
  return { peppers, current, source: where };
}

/**
 * Reads the peppers: `RAMPART_API_KEY_PEPPER` when set, else `<dataDir>/pepper`; undefined
 * when neither exists (see {@link createPepperFile}).
 */
export function readPeppers(
  env: NodeJS.ProcessEnv,
  dataDir: string,
  warn?: (message: string) => void,
): Peppers | undefined {
  const fromEnv = env.RAMPART_API_KEY_PEPPER;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parsePeppers(fromEnv, 'RAMPART_API_KEY_PEPPER');
  const path = join(dataDir, PEPPER_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(
      `${path}: cannot read the pepper file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    warn?.(`${path} is readable by other users; run: chmod 600 ${path}`);
  }
  return parsePeppers(text, path);
}

/**
 * Writes `content` to `path` with mode 0600 only if no file is there: written to a temp file,
 * synced, then hard-linked into place (link fails if the name exists), so another process
 * never reads a half-written file and two processes starting at once cannot both win.
 * Answers false when the file already existed.
 */
export function writeSecretFileOnce(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(tmp);
  }
}

/** Creates `<dataDir>/pepper` (v1, 32 random bytes, mode 0600), or reads the one another process just made. */
export function createPepperFile(dataDir: string): Peppers {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, PEPPER_FILE);
  const content =
    '# Rampart API key pepper: HMAC key for stored key hashes. Keep it out of backups of the database.\n' +
    `v1:${randomBytes(32).toString('base64url')}\n`;
  writeSecretFileOnce(path, content);
  return parsePeppers(readFileSync(path, 'utf8'), path);
}

export interface OpenKeyHasherOptions {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  storage: Storage;
  warn?: (message: string) => void;
}

/**
 * The key hasher of a deployment: its peppers from the env or the data dir, a new pepper file
 * on first start. Refuses to start when keys exist but no pepper does: a new pepper would
 * silently turn every stored key into an unknown one.
 */
export async function openKeyHasher(options: OpenKeyHasherOptions): Promise<KeyHasher> {
  const { env, dataDir, storage, warn } = options;
  let peppers = readPeppers(env, dataDir, warn);
  if (peppers === undefined) {
    if (storage.kind === 'postgres') {
      // A pepper made here would exist on this host only: keys made through one instance
      // would be unknown to the others.
      throw new ConfigError(
        `DATABASE_URL: every instance must hash API keys with the same pepper; set RAMPART_API_KEY_PEPPER (for example the output of: openssl rand -hex 32) on all of them, or put the same ${PEPPER_FILE} file in each data dir`,
      );
    }
    if ((await storage.apiKeys.list({ limit: 1 })).keys.length > 0) {
      throw new ConfigError(
        `API keys exist but their pepper is missing: restore ${join(dataDir, PEPPER_FILE)} or set RAMPART_API_KEY_PEPPER`,
      );
    }
    peppers = createPepperFile(dataDir);
  }
  const legacySha256 = /^(1|true|yes)$/i.test(env.RAMPART_API_KEY_LEGACY_SHA256 ?? '');
  return createKeyHasher({ peppers: peppers.peppers, current: peppers.current, legacySha256 });
}

// ───────────────────────────── cross-instance invalidation ─────────────────────────────

/**
 * Tells every instance subscribed on `redisUrl` to drop these key ids from its cache (`*` drops
 * everything). For the CLI, which changes keys without a running server; a server uses its
 * own connection.
 */
export async function publishInvalidation(redisUrl: string, ids: readonly string[]): Promise<void> {
  const client = new Redis(redisUrl, {
    ...redisClientOptions({ commandTimeoutMs: 1_000 }),
    lazyConnect: true,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    for (const id of ids) await client.publish(INVALIDATION_CHANNEL, id);
  } finally {
    client.disconnect();
  }
}

interface Invalidation {
  publish(id: string): Promise<void>;
  close(): Promise<void>;
  /** Used for per-key rate limits shared by every instance. */
  client: Redis;
}

async function connectInvalidation(
  redisUrl: string,
  onMessage: (id: string) => void,
  onReconnect: () => void,
  warn: (message: string) => void,
): Promise<Invalidation> {
  const client = new Redis(redisUrl, { ...redisClientOptions(), lazyConnect: true });
  // A subscriber needs its own connection; ioredis re-subscribes by itself after a reconnect.
  const subscriber = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), 1_000),
  });
  let downSince: number | undefined;
  const onError = (error: Error) => {
    if (downSince === undefined) {
      downSince = Date.now();
      warn(
        `Redis connection lost (${error.message}); API key revocations reach other instances within the cache TTL until it is back`,
      );
    }
  };
  client.on('error', onError);
  subscriber.on('error', onError);
  try {
    await Promise.all([client.connect(), subscriber.connect()]);
    await subscriber.subscribe(INVALIDATION_CHANNEL);
  } catch (error) {
    client.disconnect();
    subscriber.disconnect();
    throw new Error(`cannot reach Redis at REDIS_URL (${(error as Error).message})`);
  }
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === INVALIDATION_CHANNEL) onMessage(message);
  });
  // Registered after the first connection: every later 'ready' is a reconnection, and the
  // messages published while this connection was down are lost, so forget every cached key.
  subscriber.on('ready', () => {
    onReconnect();
    downSince = undefined;
  });
  return {
    client,
    async publish(id) {
      try {
        await client.publish(INVALIDATION_CHANNEL, id);
      } catch (error) {
        warn(
          `could not publish an API key invalidation (${(error as Error).message}); other instances learn it within the cache TTL`,
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

/**
 * A cache that does not store a lookup which raced an invalidation: a record read from the
 * store just before another instance revoked it must not be cached after the "drop it"
 * message arrived (it would live for the whole TTL).
 */
function guardedCache(cache: VerificationCache): VerificationCache & { bump(): void } {
  let generation = 0;
  const missedAt = new Map<string, number>();
  return {
    ...cache,
    get(hash) {
      const found = cache.get(hash);
      if (found === undefined) {
        if (missedAt.size > 10_000) missedAt.clear();
        missedAt.set(hash, generation);
      }
      return found;
    },
    set(hash, record) {
      const at = missedAt.get(hash);
      missedAt.delete(hash);
      if (at !== undefined && at !== generation) return;
      cache.set(hash, record);
    },
    invalidate(id) {
      generation++;
      return cache.invalidate(id);
    },
    clear() {
      generation++;
      cache.clear();
    },
    bump() {
      generation++;
    },
  };
}

// ───────────────────────────── the service ─────────────────────────────

export interface ApiKeyServiceOptions {
  config: ServerConfig;
  storage: Storage;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: Clock;
  /** Where `RAMPART_API_KEY_PEPPER` and `RAMPART_API_KEY_LEGACY_SHA256` are read. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Told of every verification's code (metrics). */
  onVerification?: (code: KeyVerificationCode) => void;
  /** Operational warnings (never holding a key). Default `process.emitWarning`. */
  warn?: (message: string) => void;
  /** Create the first admin key when none exists. Default true. */
  bootstrap?: boolean;
  /** Longest a cached key record is trusted, ms. Default 30 000. */
  cacheTtlMs?: number;
  /** Time between last-used writes, ms. Default 5 000. */
  lastUsedIntervalMs?: number;
}

/** What the first start did about an admin credential. */
export type BootstrapOutcome =
  | { kind: 'existing' }
  | { kind: 'env'; keyId: string; created: boolean }
  | { kind: 'file'; keyId: string; path: string }
  | { kind: 'file-exists'; path: string }
  | { kind: 'skipped' };

export type RotateOutcome =
  | RotatedApiKey
  | InvalidKeySettings
  | { ok: false; code: 'NOT_FOUND' | 'REVOKED' | 'EXPIRED' | 'CONFLICT' };

export interface ApiKeyService {
  readonly hasher: KeyHasher;
  readonly issuer: ApiKeyIssuer;
  readonly bootstrap: BootstrapOutcome;
  /** Verifies a presented key (the bootstrap key included). A refusal is a value. */
  verify(key: unknown, options?: VerifyApiKeyOptions): Promise<KeyDecision>;
  /**
   * Lets the bootstrap key also travel as `Authorization: Bearer` when it does not start with
   * the key prefix (it would otherwise be taken for a JWT).
   */
  withBootstrapBearer(authenticator: Authenticator): Authenticator;
  /** Issues and stores a key; the plaintext is in the answer, once. */
  create(settings: ApiKeySettings): Promise<IssuedApiKey | InvalidKeySettings>;
  /** Revokes now (never later than an end already set); undefined when no such key. */
  revoke(id: string): Promise<ApiKeyRecord | undefined>;
  /** A new key with the same settings; the old one ends after `gracePeriodMs`. */
  rotate(id: string, gracePeriodMs: number): Promise<RotateOutcome>;
  /** Drops a key from this instance's cache and tells the others. */
  invalidate(id: string): Promise<void>;
  /** Flushes last-used times, closes Redis connections and the limiter store. */
  close(): Promise<void>;
}

/**
 * Rotates key `id` in the store: a new key with the same settings, and the old one's end
 * moved to `now + gracePeriodMs`, in one compare-and-set (`CONFLICT` when another request
 * changed the key meanwhile). The caller drops the old key from caches.
 */
export async function rotateStoredKey(
  storage: Storage,
  issuer: ApiKeyIssuer,
  id: string,
  gracePeriodMs: number,
): Promise<RotateOutcome> {
  const record = await storage.apiKeys.get(id);
  if (record === undefined) return { ok: false, code: 'NOT_FOUND' };
  const made = issuer.rotate(record, { gracePeriodMs });
  if (!made.ok) return made;
  const stored = await storage.apiKeys.insert(made.record, {
    id,
    expectedRevokedAt: record.revokedAt,
    revokedAt: made.previous.revokedAt!,
  });
  return stored ? made : { ok: false, code: 'CONFLICT' };
}

/**
 * Creates the API key service of a server.
 *
 * @example
 * const apiKeys = await createApiKeyService({ config, storage, now });
 * const authenticator = apiKeys.withBootstrapBearer(
 *   createAuthenticator({ apiKeyPrefixes: [config.apiKeys.prefix], verifyApiKey: (k) => apiKeys.verify(k), … }),
 * );
 * // on shutdown, after the HTTP server stopped:
 * await apiKeys.close();
 */
export async function createApiKeyService(options: ApiKeyServiceOptions): Promise<ApiKeyService> {
  const { config, storage, onVerification } = options;
  const now = options.now ?? Date.now;
  const env = options.env ?? process.env;
  const warn = options.warn ?? ((message: string) => process.emitWarning(message));
  const hasher = await openKeyHasher({ env, dataDir: config.dataDir, storage, warn });
  const issuer = createApiKeyIssuer({ hasher, prefix: config.apiKeys.prefix, now });
  const cache = guardedCache(createVerificationCache({ now, ttlMs: options.cacheTtlMs ?? 30_000 }));
  const lastUsed = createLastUsedBatcher({
    flush: (entries) => storage.apiKeys.touchMany(entries),
    intervalMs: options.lastUsedIntervalMs ?? 5_000,
    now,
    onError: (error) => warn(`could not write API key last-used times: ${(error as Error).message}`),
  });
  const dropFromCache = (id: string) => {
    if (id === '*') cache.clear();
    else if (isId(id, 'key')) cache.invalidate(id);
  };
  const redis =
    config.redisUrl === undefined
      ? undefined
      : await connectInvalidation(config.redisUrl, dropFromCache, () => cache.clear(), warn);

  // Per-key limits: in Redis when configured (one budget across instances), with a local
  // store as insurance while Redis is down, so a configured limit is never skipped.
  const localLimits = memoryRateLimitStore({ keyPrefix: 'apikey:' });
  const sharedLimits: RateLimitStore | undefined = redis
    ? redisRateLimitStore({ client: redis.client, keyPrefix: 'rampart:apikey-rl:' })
    : undefined;
  const checkRateLimit = async (record: ApiKeyRecord, at: number) => {
    const rule = {
      algorithm: 'sliding-window' as const,
      limit: record.rateLimit!.limit,
      windowMs: record.rateLimit!.windowMs,
    };
    let decision: { allowed: boolean; retryAfterMs: number } | undefined;
    if (sharedLimits) {
      try {
        decision = await sharedLimits.consume(record.id, rule, at);
      } catch {
        decision = undefined;
      }
    }
    decision ??= localLimits.consume(record.id, rule, at);
    return { allowed: decision.allowed, retryAfterMs: decision.retryAfterMs };
  };

  // A lookup that finds a row (a revoked or expired key) also reads and decodes it, and the
  // verifier then checks the hash in constant time; a miss would skip both and answer ~10 µs
  // sooner, telling a revoked key from an invented one on first sight. So a miss reads a decoy
  // row (any key's, by id) and runs the same comparison against a decoy key.
  let decoyId = (await storage.apiKeys.list({ limit: 1 })).keys[0]?.id;
  const findByHash = async (hashes: readonly string[]) => {
    const found = await storage.apiKeys.findByHash(hashes);
    if (found === undefined) {
      if (decoyId !== undefined) {
        try {
          // Not awaited: the decoy's answer is not needed, only the work of reading it.
          const decoy = storage.apiKeys.get(decoyId);
          if (decoy instanceof Promise) decoy.catch(() => {});
        } catch {}
      }
      hasher.matches(hashes[0] ?? '', DECOY_KEY);
      return found;
    }
    decoyId = found.id;
    // hashes[0] is the current pepper's: a row under an older pepper (or imported SHA-256) is
    // re-hashed on its first use, so the old pepper can be dropped once none remain.
    const current = hashes[0];
    if (
      found !== undefined &&
      current !== undefined &&
      found.hash !== current &&
      hashes.includes(found.hash)
    ) {
      Promise.resolve(storage.apiKeys.update(found.id, { hash: current })).catch((error: unknown) =>
        warn(`could not re-hash API key ${found.id}: ${(error as Error).message}`),
      );
    }
    return found;
  };

  // The bootstrap key is any text of 32+ characters: it fails the key format, so it is
  // recognised by its HMAC (constant-time compare) and then looked up by hash like any key.
  const bootstrapHash =
    config.bootstrapAdminKey === undefined ? undefined : Buffer.from(hasher.hash(config.bootstrapAdminKey));
  const isBootstrapKey = (text: unknown): boolean => {
    if (bootstrapHash === undefined) return false;
    const candidate = typeof text === 'string' && text.length <= MAX_BOOTSTRAP_KEY ? text : undefined;
    // Exactly one HMAC whatever the text: the one the verifier's uniform timing would have paid
    // for a refused format (it is switched off below when a bootstrap key is configured).
    const mac = Buffer.from(hasher.hash(candidate ?? (typeof text === 'string' ? text.slice(0, 96) : '')));
    return (
      candidate !== undefined && mac.length === bootstrapHash.length && timingSafeEqual(mac, bootstrapHash)
    );
  };

  const verifier = createApiKeyVerifier({
    hasher,
    uniformTiming: bootstrapHash === undefined,
    findByHash,
    prefixes: [config.apiKeys.prefix],
    acceptLegacyKeys: hasher.legacySha256,
    cache,
    lastUsed,
    checkRateLimit,
    consumeCredits: async (record, cost, at) => {
      const spent = await storage.apiKeys.spendCredits(record.id, cost, at);
      if (spent === undefined) return { allowed: false };
      return spent.remaining === null
        ? { allowed: spent.allowed }
        : { allowed: spent.allowed, remaining: spent.remaining };
    },
    now,
  });

  async function verifyBootstrap(key: string, verifyOptions: VerifyApiKeyOptions): Promise<KeyDecision> {
    const cacheKey = hasher.hash(key);
    let record = cache.get(cacheKey);
    if (record === undefined) {
      const found = await storage.apiKeys.findByHash(hasher.candidates(key));
      record = found !== undefined && hasher.matches(found.hash, key) ? found : null;
      cache.set(cacheKey, record);
    }
    const decision = decideKey(record, { now: now(), scope: verifyOptions.scope });
    if (decision.valid) lastUsed.touch(decision.keyId);
    return decision;
  }

  const bootstrap = options.bootstrap === false ? ({ kind: 'skipped' } as const) : await ensureAdminKey();

  async function ensureAdminKey(): Promise<BootstrapOutcome> {
    const at = now();
    const live = (k: ApiKeyRecord) =>
      (k.revokedAt === null || k.revokedAt > at) && (k.expiresAt === null || k.expiresAt > at);
    let adminExists = false;
    let cursor: string | undefined;
    do {
      const page = await storage.apiKeys.list({ ownerId: null, limit: 500, ...(cursor ? { cursor } : {}) });
      if (page.keys.some((k) => k.scopes.includes('admin') && live(k))) adminExists = true;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && !adminExists);

    const bootstrapKey = config.bootstrapAdminKey;
    if (bootstrapKey !== undefined) {
      const existing = await storage.apiKeys.findByHash(hasher.candidates(bootstrapKey));
      if (existing !== undefined && hasher.matches(existing.hash, bootstrapKey)) {
        if (live(existing)) return { kind: 'env', keyId: existing.id, created: false };
        warn(
          'RAMPART_BOOTSTRAP_ADMIN_KEY was revoked and is not accepted; set a new value to bootstrap again',
        );
      } else if (!adminExists) {
        const record: ApiKeyRecord = {
          id: newId('key'),
          hash: hasher.hash(bootstrapKey),
          hint: 'bootstrap',
          prefix: '',
          name: 'bootstrap admin key (RAMPART_BOOTSTRAP_ADMIN_KEY)',
          ownerId: null,
          scopes: ['admin'],
          createdAt: at,
          expiresAt: null,
          lastUsedAt: null,
          revokedAt: null,
          metadata: { bootstrap: 'env' },
          credits: null,
          rateLimit: null,
          rotatedFrom: null,
        };
        // False when another instance starting at the same time stored it first: same key, fine.
        const created = await storage.apiKeys.insert(record);
        const stored = created ? record : await storage.apiKeys.findByHash([record.hash]);
        return { kind: 'env', keyId: stored?.id ?? record.id, created };
      } else {
        warn('RAMPART_BOOTSTRAP_ADMIN_KEY is ignored: an admin key already exists');
        return { kind: 'existing' };
      }
    }
    if (adminExists) return { kind: 'existing' };

    const path = join(config.dataDir, ADMIN_KEY_FILE);
    const made = issuer.issue({
      name: 'admin (first start)',
      ownerId: null,
      scopes: ['admin'],
      metadata: { bootstrap: 'file' },
    });
    if (!made.ok) throw new Error('could not issue the first admin key');
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    // The file is the lock: of two instances starting on one data dir, one writes it.
    if (!writeSecretFileOnce(path, `${made.key}\n`)) {
      warn(
        `no admin API key is active, but ${path} exists: read the key in it, or delete the file and restart to have a new one made`,
      );
      return { kind: 'file-exists', path };
    }
    try {
      await storage.apiKeys.insert(made.record);
    } catch (error) {
      unlinkSync(path);
      throw error;
    }
    return { kind: 'file', keyId: made.record.id, path };
  }

  async function invalidate(id: string): Promise<void> {
    dropFromCache(id);
    await redis?.publish(id);
  }

  return {
    hasher,
    issuer,
    bootstrap,
    async verify(key, verifyOptions = {}) {
      let decision = await verifier.verify(key, verifyOptions);
      if (!decision.valid && decision.reason !== undefined && isBootstrapKey(key)) {
        decision = await verifyBootstrap(key as string, verifyOptions);
      }
      onVerification?.(decision.code);
      return decision;
    },
    withBootstrapBearer(authenticator) {
      if (bootstrapHash === undefined) return authenticator;
      const prefix = config.apiKeys.prefix;
      return {
        authenticate(source, ip, accept) {
          const bearer = /^Bearer +([\x21-\x7e]+)$/i.exec(source.header('authorization')?.trim() ?? '')?.[1];
          if (
            bearer !== undefined &&
            !bearer.startsWith(prefix) &&
            source.header('x-api-key') === undefined &&
            isBootstrapKey(bearer)
          ) {
            // Present it to the authenticator as what it is: an API key.
            const header = (name: string) =>
              name === 'authorization' ? undefined : name === 'x-api-key' ? bearer : source.header(name);
            return authenticator.authenticate({ header, query: source.query }, ip, accept);
          }
          return authenticator.authenticate(source, ip, accept);
        },
      };
    },
    async create(settings) {
      const made = issuer.issue(settings);
      if (!made.ok) return made;
      if (!(await storage.apiKeys.insert(made.record))) throw new Error('API key id or hash collision');
      return made;
    },
    async revoke(id) {
      const record = await storage.apiKeys.update(id, { revokedAt: now() });
      if (record !== undefined) await invalidate(id);
      return record;
    },
    async rotate(id, gracePeriodMs) {
      const made = await rotateStoredKey(storage, issuer, id, gracePeriodMs);
      if (made.ok) await invalidate(id);
      return made;
    },
    invalidate,
    async close() {
      await lastUsed
        .stop()
        .catch((error: unknown) =>
          warn(`could not write API key last-used times: ${(error as Error).message}`),
        );
      localLimits.close();
      await redis?.close();
    },
  };
}
