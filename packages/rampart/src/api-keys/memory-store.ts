/**
 * API-key records in this process's memory: the lookup `createRampart({ apiKeys: { store,
 * hasher } })` needs, for tests, demos and single-process apps whose keys are issued at start.
 * Production keys live in a database (the server's `apiKeys` storage has the same
 * `findByHash`); this store forgets everything when the process ends.
 *
 * Atomicity: every method is synchronous, so each is atomic within the process.
 */
import type { ApiKeyRecord } from './record.ts';

/** A memory store of API-key records, by hash. */
export interface MemoryApiKeyStore {
  /** Stores a record from `createApiKeyIssuer().issue()` (its `record`, never the key). */
  add(record: ApiKeyRecord): void;
  /** The record whose `hash` is one of `hashes` (the hasher's candidates, current pepper first). */
  findByHash(hashes: readonly string[]): ApiKeyRecord | undefined;
  /** Revokes the key with this id from `at` on (default now); false when there is none. */
  revoke(id: string, at?: number): boolean;
  /** Every record, in the order added (metadata only: records hold hashes, never keys). */
  list(): ApiKeyRecord[];
}

/** Options of {@link memoryApiKeyStore}. */
export interface MemoryApiKeyStoreOptions {
  /** The clock of `revoke()`, epoch ms; default `Date.now`. */
  now?: () => number;
}

/**
 * Creates an in-memory API-key store.
 *
 * @example
 * const hasher = createKeyHasher({ peppers: { v1: pepper }, current: 'v1' });
 * const keys = memoryApiKeyStore();
 * const made = createApiKeyIssuer({ hasher }).issue({ name: 'ci', scopes: ['read'] });
 * if (made.ok) keys.add(made.record); // give made.key to the client, once
 * const rampart = createRampart({ apiKeys: { store: keys, hasher } });
 */
export function memoryApiKeyStore(options: MemoryApiKeyStoreOptions = {}): MemoryApiKeyStore {
  const now = options.now ?? Date.now;
  const byHash = new Map<string, ApiKeyRecord>();
  const byId = new Map<string, ApiKeyRecord>();
  return {
    add(record) {
      if (typeof record?.hash !== 'string' || typeof record.id !== 'string') {
        throw new TypeError('add: expected an API-key record (createApiKeyIssuer().issue().record)');
      }
      byHash.set(record.hash, record);
      byId.set(record.id, record);
    },
    findByHash(hashes) {
      for (const hash of hashes) {
        const record = byHash.get(hash);
        if (record !== undefined) return record;
      }
      return undefined;
    },
    revoke(id, at = now()) {
      const record = byId.get(id);
      if (record === undefined) return false;
      const revoked = { ...record, revokedAt: record.revokedAt ?? at };
      byId.set(id, revoked);
      byHash.set(record.hash, revoked);
      return true;
    },
    list: () => [...byId.values()],
  };
}
