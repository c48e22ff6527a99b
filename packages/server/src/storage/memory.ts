import { memoryAuditStore } from 'rampart/internal/audit/memory-store.ts';
import { decodeCursor, encodeCursor, isBeyondCursor } from 'rampart/internal/lib/cursor.ts';
import { memoryApiKeyStore } from './memory-api-keys.ts';
import type {
  PageQuery,
  RefreshTokenRecord,
  RefreshTokenStore,
  SigningKeyStore,
  Storage,
  StoredSigningKey,
  TtlStore,
  UserPatch,
  UserRecord,
  UserStore,
} from './types.ts';

/**
 * In-process storage: for tests and for the library used without a database. Every method
 * runs synchronously, so each is trivially atomic within the process.
 */
export function memoryStorage(): Storage {
  return {
    kind: 'memory',
    users: memoryUserStore(),
    audit: memoryAuditStore(),
    ttl: memoryTtlStore(),
    refreshTokens: memoryRefreshTokenStore(),
    apiKeys: memoryApiKeyStore(),
    ping() {},
    close() {},
  };
}

function memoryUserStore(): UserStore {
  const byId = new Map<string, UserRecord>();
  const byEmail = new Map<string, string>();
  return {
    create(user) {
      if (byEmail.has(user.emailKey)) return 'email_taken';
      byId.set(user.id, { ...user });
      byEmail.set(user.emailKey, user.id);
      return 'created';
    },
    getById: (id) => copy(byId.get(id)),
    getByEmailKey(emailKey) {
      const id = byEmail.get(emailKey);
      return id === undefined ? undefined : copy(byId.get(id));
    },
    update(id, patch: UserPatch, now) {
      const user = byId.get(id);
      if (!user) return false;
      Object.assign(user, patch, { updatedAt: now });
      return true;
    },
    count: () => byId.size,
    list(query) {
      const { items, nextCursor } = page([...byId.values()], query, (u) => u.id);
      return { users: items.map((u) => ({ ...u })), nextCursor };
    },
  };
}

function copy<T extends object>(value: T | undefined): T | undefined {
  return value === undefined ? undefined : { ...value };
}

/** Newest first on (createdAt, id), from the cursor on: one page and the next cursor. */
function page<T extends { createdAt: number }>(
  all: T[],
  query: PageQuery,
  idOf: (item: T) => string,
): { items: T[]; nextCursor: string | null } {
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const sorted = all
    .filter((item) => !cursor || isBeyondCursor(item.createdAt, idOf(item), cursor))
    .sort((a, b) => b.createdAt - a.createdAt || (idOf(a) < idOf(b) ? 1 : idOf(a) > idOf(b) ? -1 : 0));
  const items = sorted.slice(0, query.limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: sorted.length > query.limit && last ? encodeCursor(last.createdAt, idOf(last)) : null,
  };
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

function memoryRefreshTokenStore(): RefreshTokenStore {
  const tokens = new Map<string, RefreshTokenRecord>();
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
