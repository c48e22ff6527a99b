import type { ApiKeyCredits, ApiKeyRecord } from 'rampart/internal/api-keys/record.ts';
import type {
  ApiKeyPatch,
  CreditsPatch,
  IdentityPatch,
  IdentityRecord,
  PlanPatch,
  PlanRecord,
} from './types.ts';

/**
 * Records after a patch: the pure step every store runs inside its own atomic step, so the
 * memory, SQLite and PostgreSQL stores cannot give one patch two meanings. Absent fields stay.
 */

/** Credits after `patch` (see `CreditsPatch` for the order of its parts). */
export function patchCredits(credits: ApiKeyCredits | null, patch: CreditsPatch): ApiKeyCredits | null {
  if (patch === null) return null;
  let remaining = patch.remaining ?? credits?.remaining ?? 0;
  if (patch.increment !== undefined) remaining = Math.max(0, remaining + patch.increment);
  const refill = patch.refill === undefined ? credits?.refill : (patch.refill ?? undefined);
  return { remaining, ...(refill ? { refill: { ...refill } } : {}) };
}

/** A key after `patch`. `credits` and `rateLimit` are the budget's (the caller writes them there). */
export function patchKey(record: ApiKeyRecord, patch: ApiKeyPatch): ApiKeyRecord {
  const next = structuredClone(record);
  if (patch.revokedAt !== undefined && (next.revokedAt === null || next.revokedAt > patch.revokedAt)) {
    next.revokedAt = patch.revokedAt;
  }
  if (patch.hash !== undefined) next.hash = patch.hash;
  if (patch.name !== undefined) next.name = patch.name;
  if (patch.metadata !== undefined) next.metadata = structuredClone(patch.metadata);
  if (patch.scopes !== undefined) next.scopes = [...new Set(patch.scopes)];
  if (patch.expiresAt !== undefined) next.expiresAt = patch.expiresAt;
  if (patch.disabledAt !== undefined) next.disabledAt = patch.disabledAt;
  if (patch.rateLimit !== undefined)
    next.rateLimit = patch.rateLimit === null ? null : { ...patch.rateLimit };
  if (patch.credits !== undefined) next.credits = patchCredits(next.credits, patch.credits);
  return next;
}

/** An identity after `patch`. */
export function patchIdentity(current: IdentityRecord, patch: IdentityPatch, now: number): IdentityRecord {
  return {
    ...current,
    ...(patch.externalId !== undefined ? { externalId: patch.externalId } : {}),
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.metadata !== undefined ? { metadata: structuredClone(patch.metadata) } : {}),
    ...(patch.planId !== undefined ? { planId: patch.planId } : {}),
    ...(patch.overrides !== undefined ? { overrides: structuredClone(patch.overrides) } : {}),
    ...(patch.credits !== undefined ? { credits: patchCredits(current.credits, patch.credits) } : {}),
    updatedAt: now,
  };
}

/** A plan after `patch`. */
export function patchPlan(current: PlanRecord, patch: PlanPatch, now: number): PlanRecord {
  const changes = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  return { ...current, ...structuredClone(changes), updatedAt: now };
}
