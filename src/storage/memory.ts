import { decodeCursor, encodeCursor, isBeyondCursor } from './cursor.ts';
import { memoryApiKeyStore } from './memory-api-keys.ts';
import type {
  AuditEvent,
  AuditPage,
  AuditQuery,
  AuditStore,
  RefreshTokenRecord,
  RefreshTokenStore,
  Storage,
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
  };
}

function copy<T extends object>(value: T | undefined): T | undefined {
  return value === undefined ? undefined : { ...value };
}

function memoryAuditStore(): AuditStore {
  // Kept sorted newest first; appends arrive roughly in time order, so insertion is cheap.
  const events: AuditEvent[] = [];
  return {
    append(batch) {
      for (const event of batch) events.push(structuredClone(event));
      events.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    },
    list(query: AuditQuery): AuditPage {
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const out: AuditEvent[] = [];
      for (const e of events) {
        if (cursor && !isBeyondCursor(e.at, e.id, cursor)) continue;
        if (query.type !== undefined && e.type !== query.type) continue;
        if (query.actor !== undefined && e.actor !== query.actor) continue;
        if (query.since !== undefined && e.at < query.since) continue;
        if (query.until !== undefined && e.at > query.until) continue;
        out.push(structuredClone(e));
        if (out.length > query.limit) break;
      }
      const more = out.length > query.limit;
      if (more) out.pop();
      const last = out.at(-1);
      return { events: out, nextCursor: more && last ? encodeCursor(last.at, last.id) : null };
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
  };
}
