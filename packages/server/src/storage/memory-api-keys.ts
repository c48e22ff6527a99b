import type { ApiKeyRecord } from 'rampart/internal/api-keys/record.ts';
import { applyCredits } from 'rampart/internal/api-keys/verify.ts';
import { decodeCursor, encodeCursor, isBeyondCursor } from 'rampart/internal/lib/cursor.ts';
import type { ApiKeyStore } from './types.ts';

/**
 * API keys in process memory. Every method runs synchronously (no await inside), so each is
 * atomic within the process; records go in and come out as deep copies.
 */
export function memoryApiKeyStore(): ApiKeyStore {
  const byId = new Map<string, ApiKeyRecord>();
  const idByHash = new Map<string, string>();
  const copy = (record: ApiKeyRecord | undefined) =>
    record === undefined ? undefined : structuredClone(record);

  return {
    insert(record, replaces) {
      if (byId.has(record.id) || idByHash.has(record.hash)) return false;
      if (replaces !== undefined) {
        const old = byId.get(replaces.id);
        if (old === undefined || old.revokedAt !== replaces.expectedRevokedAt) return false;
        old.revokedAt = replaces.revokedAt;
      }
      byId.set(record.id, structuredClone(record));
      idByHash.set(record.hash, record.id);
      return true;
    },
    findByHash(hashes) {
      for (const hash of hashes) {
        const id = idByHash.get(hash);
        if (id !== undefined) return copy(byId.get(id));
      }
      return undefined;
    },
    get: (id) => copy(byId.get(id)),
    list(query) {
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const sorted = [...byId.values()]
        .filter((k) => query.ownerId === undefined || k.ownerId === query.ownerId)
        .filter((k) => !cursor || isBeyondCursor(k.createdAt, k.id, cursor))
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      const keys = sorted.slice(0, query.limit).map((k) => structuredClone(k));
      const last = keys.at(-1);
      return {
        keys,
        nextCursor: sorted.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null,
      };
    },
    update(id, patch) {
      const record = byId.get(id);
      if (record === undefined) return undefined;
      if (
        patch.revokedAt !== undefined &&
        (record.revokedAt === null || record.revokedAt > patch.revokedAt)
      ) {
        record.revokedAt = patch.revokedAt;
      }
      if (patch.hash !== undefined && patch.hash !== record.hash) {
        if (idByHash.has(patch.hash)) throw new Error('apiKeys.update: hash already in use');
        idByHash.delete(record.hash);
        idByHash.set(patch.hash, id);
        record.hash = patch.hash;
      }
      return copy(record);
    },
    touchMany(entries) {
      for (const [id, at] of entries) {
        const record = byId.get(id);
        if (record !== undefined && (record.lastUsedAt === null || at > record.lastUsedAt))
          record.lastUsedAt = at;
      }
    },
    spendCredits(id, cost, now) {
      const record = byId.get(id);
      if (record === undefined) return undefined;
      if (record.credits === null) return { allowed: true, remaining: null };
      const outcome = applyCredits(record.credits, now, cost);
      record.credits = outcome.credits;
      return { allowed: outcome.allowed, remaining: outcome.credits!.remaining };
    },
  };
}
