import { newId, randomBase62 } from 'rampart/internal/lib/ids.ts';
import type { ApiKeyRecord, IdentityRecord, PlanRecord, Storage, UserRecord } from './types.ts';

/** Records for the contract suites: valid, unique, and overridable field by field. */

export type MakeStorage = () => Promise<Storage> | Storage;

export const user = (email: string, at = 1_000, overrides: Partial<UserRecord> = {}): UserRecord => ({
  id: newId('usr'),
  email,
  emailKey: email.toLowerCase(),
  name: 'Ada',
  role: 'user',
  passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
  createdAt: at,
  updatedAt: at,
  notBefore: null,
  ...overrides,
});

export const apiKey = (overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord => {
  const id = newId('key');
  return {
    id,
    hash: `v1:${id}-hash`,
    hint: 'rk_live_3hK9',
    prefix: 'rk_live_',
    name: 'ci',
    ownerId: 'usr_1',
    scopes: ['read', 'keys:verify'],
    createdAt: 1_000,
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    metadata: { team: 'infra', nested: { n: 1 } },
    credits: null,
    rateLimit: null,
    rotatedFrom: null,
    rotatedTo: null,
    disabledAt: null,
    identityId: null,
    budgetKeyId: null,
    ...overrides,
  };
};

// `idt_` and `pln_` ids in the shape of `newId`'s (the library's IdPrefix does not list them yet).
export const identityId = () => `idt_${randomBase62(22)}`;
export const planId = () => `pln_${randomBase62(22)}`;

export const identity = (overrides: Partial<IdentityRecord> = {}): IdentityRecord => {
  const id = identityId();
  return {
    id,
    externalId: `cus_${id.slice(4)}`,
    name: 'Acme',
    metadata: { tier: 'gold' },
    planId: null,
    overrides: {},
    credits: null,
    createdAt: 1_000,
    updatedAt: 1_000,
    ...overrides,
  };
};

export const plan = (overrides: Partial<PlanRecord> = {}): PlanRecord => {
  const id = planId();
  return {
    id,
    name: `plan-${id.slice(4)}`,
    rateLimits: [
      { name: 'burst', limit: 10, windowMs: 1_000 },
      { limit: 1_000, windowMs: 3_600_000 },
    ],
    credits: { amount: 1_000, refill: { amount: 1_000, intervalMs: 86_400_000 } },
    metadata: { public: true },
    createdAt: 1_000,
    updatedAt: 1_000,
    ...overrides,
  };
};

/** Every item of a paged listing, following cursors (at most 50 pages). */
export async function everyPage<T>(
  read: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 50; page++) {
    const result = await read(cursor);
    out.push(...result.items);
    if (!result.nextCursor) return out;
    cursor = result.nextCursor;
  }
  throw new Error('more than 50 pages');
}

/** Newest first on (createdAt, id): the order every listing answers. */
export const newestFirst = <T extends { createdAt: number; id: string }>(a: T, b: T) =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
