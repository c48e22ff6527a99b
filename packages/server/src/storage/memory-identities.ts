import type { MemoryKeyState } from './memory-api-keys.ts';
import { page } from './memory-page.ts';
import { patchIdentity, patchPlan } from './patches.ts';
import type { IdentityStore, PlanStore } from './types.ts';

const copy = <T>(value: T | undefined): T | undefined =>
  value === undefined ? undefined : structuredClone(value);

/** A key is live while it is not revoked (a scheduled end is still in the future). */
const live = (k: { revokedAt: number | null }, now: number) => k.revokedAt === null || k.revokedAt > now;

/** Identities in process memory; synchronous, so each call is atomic. See `IdentityStore`. */
export function memoryIdentityStore(state: MemoryKeyState): IdentityStore {
  const { identities, plans, keys } = state;
  const byExternal = () => new Map([...identities.values()].map((i) => [i.externalId, i.id]));
  return {
    create(identity) {
      if (identities.has(identity.id) || byExternal().has(identity.externalId))
        return { ok: false, code: 'EXTERNAL_ID_TAKEN' };
      if (identity.planId !== null && !plans.has(identity.planId))
        return { ok: false, code: 'PLAN_NOT_FOUND' };
      identities.set(identity.id, structuredClone(identity));
      return { ok: true, identity: structuredClone(identity) };
    },
    get(ref) {
      const id = typeof ref === 'string' ? ref : byExternal().get(ref.externalId);
      return id === undefined ? undefined : copy(identities.get(id));
    },
    list(query) {
      const matches = [...identities.values()].filter(
        (i) => query.planId === undefined || i.planId === query.planId,
      );
      const { items, nextCursor } = page(matches, query, (i) => i.id);
      return { identities: items.map((i) => structuredClone(i)), nextCursor };
    },
    update(id, patch, now) {
      const identity = identities.get(id);
      if (identity === undefined) return { ok: false, code: 'NOT_FOUND' };
      const holder = patch.externalId === undefined ? undefined : byExternal().get(patch.externalId);
      if (holder !== undefined && holder !== id) return { ok: false, code: 'EXTERNAL_ID_TAKEN' };
      if (patch.planId !== undefined && patch.planId !== null && !plans.has(patch.planId))
        return { ok: false, code: 'PLAN_NOT_FOUND' };
      const next = patchIdentity(identity, patch, now);
      identities.set(id, next);
      return { ok: true, identity: structuredClone(next) };
    },
    delete(id, now) {
      const identity = identities.get(id);
      if (identity === undefined) return { ok: false, code: 'NOT_FOUND' };
      for (const key of keys.values())
        if (key.identityId === id && live(key, now)) return { ok: false, code: 'IN_USE' };
      identities.delete(id);
      return { ok: true, identity: structuredClone(identity) };
    },
  };
}

/** Plans in process memory; synchronous, so each call is atomic. See `PlanStore`. */
export function memoryPlanStore(state: MemoryKeyState): PlanStore {
  const { plans, identities } = state;
  const named = (name: string) => [...plans.values()].find((p) => p.name === name);
  return {
    create(plan) {
      if (plans.has(plan.id) || named(plan.name) !== undefined) return { ok: false, code: 'NAME_TAKEN' };
      plans.set(plan.id, structuredClone(plan));
      return { ok: true, plan: structuredClone(plan) };
    },
    get: (ref) => copy(typeof ref === 'string' ? plans.get(ref) : named(ref.name)),
    list(query) {
      const { items, nextCursor } = page(plans.values(), query, (p) => p.id);
      return { plans: items.map((p) => structuredClone(p)), nextCursor };
    },
    update(id, patch, now) {
      const plan = plans.get(id);
      if (plan === undefined) return { ok: false, code: 'NOT_FOUND' };
      if (patch.name !== undefined && (named(patch.name)?.id ?? id) !== id)
        return { ok: false, code: 'NAME_TAKEN' };
      const next = patchPlan(plan, patch, now);
      plans.set(id, next);
      return { ok: true, plan: structuredClone(next) };
    },
    delete(id) {
      const plan = plans.get(id);
      if (plan === undefined) return { ok: false, code: 'NOT_FOUND' };
      for (const identity of identities.values())
        if (identity.planId === id) return { ok: false, code: 'IN_USE' };
      plans.delete(id);
      return { ok: true, plan: structuredClone(plan) };
    },
  };
}
