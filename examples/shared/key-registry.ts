/**
 * The tutorial's `ApiKeyManager`, on Rampart's API-key domain: keys in Rampart's format
 * (prefix + 256 random bits + checksum), stored by keyed hash (HMAC under a pepper), never in
 * plaintext, refused at once when revoked. Kept in a `Map` here, as the tutorial does; in
 * production the records go to your database and `findByHash` becomes one indexed query.
 */
import type { ApiKeyLookup, ApiKeyRecord, KeyHasher } from 'rampart';
import { createApiKeyIssuer, createKeyHasher } from 'rampart';

export interface KeyRegistry {
  /** For `createRampart({ apiKeys: { store, hasher } })`. */
  readonly store: ApiKeyLookup;
  readonly hasher: KeyHasher;
  /** A new key with these permissions (scopes); the plaintext is returned this once. */
  generateKey(permissions: string[], name?: string): string;
  /** Revokes a key; true when it existed and was live. */
  revokeKey(key: string): boolean;
}

export interface KeyRegistryOptions {
  /** At least 32 random bytes, kept outside the database (an env variable, a 0600 file). */
  pepper: Uint8Array;
  now?: () => number;
}

export function createKeyRegistry(options: KeyRegistryOptions): KeyRegistry {
  const now = options.now ?? Date.now;
  const hasher = createKeyHasher({ peppers: { v1: options.pepper }, current: 'v1' });
  const issuer = createApiKeyIssuer({ hasher, now });
  const byHash = new Map<string, ApiKeyRecord>();
  return {
    store: { findByHash: (hashes) => hashes.map((hash) => byHash.get(hash)).find((r) => r !== undefined) },
    hasher,
    generateKey(permissions, name = 'api key') {
      const made = issuer.issue({ name, scopes: permissions });
      if (!made.ok)
        throw new TypeError(`generateKey: ${made.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`);
      byHash.set(made.record.hash, made.record);
      return made.key;
    },
    revokeKey(key) {
      const hash = hasher.hash(key);
      const record = byHash.get(hash);
      if (record === undefined || record.revokedAt !== null) return false;
      byHash.set(hash, { ...record, revokedAt: now() });
      return true;
    },
  };
}
