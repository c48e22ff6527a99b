import type { ApiKeyCredits } from 'rampart/internal/api-keys/record.ts';
import { applyCredits } from 'rampart/internal/api-keys/verify.ts';
import type { IdentityRecord, PlanLimits, PlanRecord } from './types.ts';

/**
 * Budgets: spending a key's credits together with its identity's (the pure step every store
 * runs inside its own atomic step: a synchronous call, a `BEGIN IMMEDIATE`, row locks), and
 * the limits an identity's plan and overrides put in force.
 */

/** Are two balances the same state (so a store can skip a write)? */
export function sameCredits(a: ApiKeyCredits | null, b: ApiKeyCredits | null): boolean {
  return (
    a?.remaining === b?.remaining &&
    a?.refill?.lastRefillAt === b?.refill?.lastRefillAt &&
    (a === null) === (b === null)
  );
}

/** What {@link spendShared} decides: whether the use may go on, and the states to store. */
export interface SharedSpend {
  allowed: boolean;
  budget: ApiKeyCredits | null;
  /** Absent when the key has no identity. */
  identity?: ApiKeyCredits | null;
}

/**
 * Spends `cost` from a key's budget and, when it has one, from its identity's credits: both
 * or neither. When either refuses, nothing is spent, but the refills due are kept (as
 * `applyCredits` keeps them). A missing budget or identity row is passed as `{ remaining: 0 }`
 * by the store: it fails closed.
 */
export function spendShared(
  budget: ApiKeyCredits | null,
  identity: ApiKeyCredits | null | undefined,
  cost: number,
  now: number,
): SharedSpend {
  const fromKey = applyCredits(budget, now, cost);
  const fromIdentity = identity === undefined ? undefined : applyCredits(identity, now, cost);
  const allowed = fromKey.allowed && (fromIdentity?.allowed ?? true);
  const out: SharedSpend = {
    allowed,
    budget: allowed ? fromKey.credits : applyCredits(budget, now, 0).credits,
  };
  if (identity !== undefined)
    out.identity = allowed ? fromIdentity!.credits : applyCredits(identity, now, 0).credits;
  return out;
}

/**
 * The limits in force for an identity: each field of its `overrides` that is present,
 * else the plan's. Without a plan, only the overrides apply. The identity's keys share these
 * (their rate limits count under the identity's id and the limit's name).
 *
 * @example
 * const { rateLimits, credits } = effectiveLimits(identity, identity.planId ? await storage.plans.get(identity.planId) : undefined);
 */
export function effectiveLimits(
  identity: Pick<IdentityRecord, 'overrides'>,
  plan: Pick<PlanRecord, 'rateLimits' | 'credits'> | undefined,
): Required<PlanLimits> {
  return {
    rateLimits: structuredClone(identity.overrides.rateLimits ?? plan?.rateLimits ?? []),
    credits: structuredClone(
      identity.overrides.credits !== undefined ? identity.overrides.credits : (plan?.credits ?? null),
    ),
  };
}
