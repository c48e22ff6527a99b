import type { ApiKeyCredits, ApiKeyRecord } from 'rampart/internal/api-keys/record.ts';
import { sameCredits, spendShared } from './budgets.ts';
import { page } from './memory-page.ts';
import { patchKey } from './patches.ts';
import { clampInstant } from './rows.ts';
import type { ApiKeyStore, CreditSpend, IdentityRecord, PlanRecord } from './types.ts';

/** Keys, identities and plans of one memory storage: their stores check each other. */
export interface MemoryKeyState {
  keys: Map<string, ApiKeyRecord>;
  identities: Map<string, IdentityRecord>;
  plans: Map<string, PlanRecord>;
}

export function memoryKeyState(): MemoryKeyState {
  return { keys: new Map(), identities: new Map(), plans: new Map() };
}

/** A record as stored: every optional field present, and no balance on a key that spends another's. */
function stored(record: ApiKeyRecord): ApiKeyRecord {
  const out = structuredClone(record);
  out.rotatedFrom = record.rotatedFrom ?? null;
  out.rotatedTo = record.rotatedTo ?? null;
  out.disabledAt = record.disabledAt ?? null;
  out.identityId = record.identityId ?? null;
  out.budgetKeyId = record.budgetKeyId === record.id ? null : (record.budgetKeyId ?? null);
  if (out.budgetKeyId !== null) {
    out.credits = null;
    out.rateLimit = null;
  }
  return out;
}

/**
 * API keys in process memory. Every method runs synchronously (no await inside), so each is
 * atomic within the process; records go in and come out as deep copies, with the budget's
 * credits and limit (see `ApiKeyStore`).
 */
export function memoryApiKeyStore(state: MemoryKeyState = memoryKeyState()): ApiKeyStore {
  const byId = state.keys;
  const idByHash = new Map<string, string>();
  for (const record of byId.values()) idByHash.set(record.hash, record.id);
  const budgetOf = (record: ApiKeyRecord) => byId.get(record.budgetKeyId ?? record.id);
  const view = (record: ApiKeyRecord | undefined): ApiKeyRecord | undefined => {
    if (record === undefined) return undefined;
    const budget = budgetOf(record);
    const out = structuredClone(record);
    out.credits = budget === undefined ? { remaining: 0 } : structuredClone(budget.credits);
    out.rateLimit = budget === undefined ? null : structuredClone(budget.rateLimit);
    if (out.credits?.refill) out.credits.refill.lastRefillAt = clampInstant(out.credits.refill.lastRefillAt);
    out.createdAt = clampInstant(out.createdAt);
    out.expiresAt = clampInstant(out.expiresAt);
    out.lastUsedAt = clampInstant(out.lastUsedAt);
    out.revokedAt = clampInstant(out.revokedAt);
    out.disabledAt = clampInstant(out.disabledAt);
    return out;
  };

  return {
    insert(record, replaces) {
      if (byId.has(record.id) || idByHash.has(record.hash)) return false;
      const next = stored(record);
      if (replaces === undefined) {
        if (next.identityId && !state.identities.has(next.identityId)) return false;
      } else {
        const old = byId.get(replaces.id);
        if (old === undefined || old.rotatedTo !== null || old.revokedAt !== replaces.expectedRevokedAt)
          return false;
        next.rotatedFrom = old.id;
        next.budgetKeyId = old.budgetKeyId ?? old.id;
        next.identityId = old.identityId ?? null;
        next.credits = null;
        next.rateLimit = null;
        old.revokedAt = replaces.revokedAt;
        old.rotatedTo = next.id;
      }
      byId.set(next.id, next);
      idByHash.set(next.hash, next.id);
      return true;
    },
    findByHash(hashes) {
      for (const hash of hashes) {
        const id = idByHash.get(hash);
        if (id !== undefined) return view(byId.get(id));
      }
      return undefined;
    },
    get: (id) => view(byId.get(id)),
    list(query) {
      const matches = [...byId.values()].filter(
        (k) =>
          (query.ownerId === undefined || k.ownerId === query.ownerId) &&
          (query.identityId === undefined || k.identityId === query.identityId),
      );
      const { items, nextCursor } = page(matches, query, (k) => k.id);
      return { keys: items.map((k) => view(k)!), nextCursor };
    },
    update(id, patch) {
      const record = byId.get(id);
      if (record === undefined) return undefined;
      if (patch.hash !== undefined && patch.hash !== record.hash && idByHash.has(patch.hash)) {
        throw new Error('apiKeys.update: hash already in use');
      }
      const next = patchKey(view(record)!, patch);
      idByHash.delete(record.hash);
      idByHash.set(next.hash, id);
      const budget = budgetOf(record);
      Object.assign(record, { ...next, credits: record.credits, rateLimit: record.rateLimit });
      if (budget !== undefined) {
        budget.credits = next.credits;
        budget.rateLimit = next.rateLimit;
      }
      return view(record);
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
      const budget = budgetOf(record);
      const identity = record.identityId ? state.identities.get(record.identityId) : undefined;
      const lost: ApiKeyCredits = { remaining: 0 };
      const outcome = spendShared(
        budget === undefined ? lost : budget.credits,
        record.identityId ? (identity === undefined ? lost : identity.credits) : undefined,
        cost,
        now,
      );
      if (budget !== undefined && !sameCredits(budget.credits, outcome.budget))
        budget.credits = outcome.budget;
      if (identity !== undefined && outcome.identity !== undefined) identity.credits = outcome.identity;
      const answer: CreditSpend = { allowed: outcome.allowed, remaining: outcome.budget?.remaining ?? null };
      if (outcome.identity !== undefined) answer.identityRemaining = outcome.identity?.remaining ?? null;
      return answer;
    },
  };
}
