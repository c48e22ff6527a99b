import { memoryAuditStore } from 'rampart/internal/audit/memory-store.ts';
import { memoryApiKeyStore, memoryKeyState } from './memory-api-keys.ts';
import { memoryIdentityStore, memoryPlanStore } from './memory-identities.ts';
import { page } from './memory-page.ts';
import { memoryUsageStore } from './memory-usage.ts';
import { memoryUserAdminStore, memoryUserState, memoryUserStore } from './memory-users.ts';
import type {
  AuditPage,
  PrunableAuditStore,
  RefreshTokenRecord,
  RefreshTokenStore,
  SigningKeyStore,
  Storage,
  StoredSigningKey,
  TtlStore,
} from './types.ts';

/**
 * In-process storage: for tests and for the library used without a database. Every method
 * runs synchronously, so each is trivially atomic within the process.
 */
export function memoryStorage(): Storage {
  const users = memoryUserState();
  const keys = memoryKeyState();
  return {
    kind: 'memory',
    users: memoryUserStore(users),
    userAdmin: memoryUserAdminStore(users),
    audit: prunableMemoryAuditStore(),
    ttl: memoryTtlStore(),
    refreshTokens: memoryRefreshTokenStore(users.refreshTokens),
    apiKeys: memoryApiKeyStore(keys),
    identities: memoryIdentityStore(keys),
    plans: memoryPlanStore(keys),
    usage: memoryUsageStore(),
    ping() {},
    close() {},
  };
}

/**
 * The library's memory audit store with retention. `prune` rebuilds it from the events kept:
 * linear, which is fine for the tests and single-process uses this store serves.
 */
function prunableMemoryAuditStore(): PrunableAuditStore {
  let inner = memoryAuditStore();
  const all = (since?: number) =>
    inner.list({ limit: Number.MAX_SAFE_INTEGER, ...(since !== undefined ? { since } : {}) }) as AuditPage;
  return {
    append: (events) => inner.append(events),
    list: (query) => inner.list(query),
    prune(before) {
      const total = all().events.length;
      const kept = all(before).events;
      if (kept.length === total) return 0;
      inner = memoryAuditStore();
      inner.append(kept);
      return total - kept.length;
    },
  };
}

function copy<T extends object>(value: T | undefined): T | undefined {
  return value === undefined ? undefined : { ...value };
}

/**
 * Signing keys in process memory (tests, and the library's own use); see `SigningKeyStore`.
 * Synchronous, so `add`'s compare-and-set is atomic within the process.
 */
export function memorySigningKeyStore(): SigningKeyStore {
  let keys: StoredSigningKey[] = [];
  const order = (a: StoredSigningKey, b: StoredSigningKey) =>
    a.activatesAt - b.activatesAt || (a.record.kid < b.record.kid ? -1 : a.record.kid > b.record.kid ? 1 : 0);
  return {
    list: () => structuredClone(keys),
    add(key, expectedLastKid, dropSupersededBefore) {
      if ((keys.at(-1)?.record.kid ?? null) !== expectedLastKid) return false;
      if (keys.some((k) => k.record.kid === key.record.kid)) return false;
      keys = [...keys, structuredClone(key)].sort(order);
      // A key is superseded when any later key has activated: its successor did, at the latest then.
      keys = keys.filter(
        (k) => !keys.some((n) => n.activatesAt > k.activatesAt && n.activatesAt <= dropSupersededBefore),
      );
      return true;
    },
  };
}

function memoryTtlStore(): TtlStore {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string, now: number) => {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  return {
    put(key, value, expiresAt) {
      entries.set(key, { value, expiresAt });
    },
    get: (key, now) => live(key, now)?.value,
    take(key, now) {
      const entry = live(key, now);
      entries.delete(key);
      return entry?.value;
    },
    list(prefix, now) {
      const out: Array<{ key: string; value: string; expiresAt: number }> = [];
      for (const [key, entry] of entries) {
        if (key.startsWith(prefix) && entry.expiresAt > now) out.push({ key, ...entry });
      }
      return out;
    },
    sweep(now) {
      let removed = 0;
      for (const [key, entry] of entries) {
        if (entry.expiresAt <= now) {
          entries.delete(key);
          removed++;
        }
      }
      return removed;
    },
  };
}

function memoryRefreshTokenStore(tokens: Map<string, RefreshTokenRecord>): RefreshTokenStore {
  return {
    insert(record) {
      tokens.set(record.tokenHash, { ...record });
    },
    get: (tokenHash) => copy(tokens.get(tokenHash)),
    rotate(tokenHash, successor, now) {
      const record = tokens.get(tokenHash);
      if (!record || record.usedAt !== undefined || record.revokedAt !== undefined) return false;
      record.usedAt = now;
      record.replacedBy = successor.tokenHash;
      tokens.set(successor.tokenHash, { ...successor });
      return true;
    },
    revokeToken(tokenHash, now) {
      const record = tokens.get(tokenHash);
      if (record && record.revokedAt === undefined) record.revokedAt = now;
    },
    revokeFamily(familyId, now) {
      let changed = 0;
      for (const record of tokens.values()) {
        if (record.familyId === familyId && record.revokedAt === undefined) {
          record.revokedAt = now;
          changed++;
        }
      }
      return changed;
    },
    revokeUser(userId, now) {
      const families = new Set<string>();
      for (const record of tokens.values()) {
        if (record.userId === userId && record.revokedAt === undefined) {
          record.revokedAt = now;
          families.add(record.familyId);
        }
      }
      return [...families];
    },
    list(query) {
      const { items, nextCursor } = page([...tokens.values()], query, (t) => t.tokenHash);
      return { tokens: items.map((t) => ({ ...t })), nextCursor };
    },
  };
}
