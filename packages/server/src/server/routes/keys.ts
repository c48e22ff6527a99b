import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  type ApiKeyRecord,
  type ApiKeySettings,
  SCOPE_NAME,
  toPublicKey,
} from 'rampart/internal/api-keys/index.ts';
import { RampartError } from 'rampart/internal/errors.ts';
import { isDuration, parseDuration } from 'rampart/internal/lib/duration.ts';
import { isId } from 'rampart/internal/lib/ids.ts';
import { ADMIN_SCOPE, type Principal } from 'rampart/internal/policy/principal.ts';
import { z } from 'zod';
import type { ApiKeyPatch, CreditsPatch } from '../../storage/types.ts';
import { routeDoc } from '../openapi.ts';
import type { Services } from '../services.ts';
import { principalOf } from './auth.ts';
import { readUsage, USAGE_RANGE_DOC, usageQuery, usageSchema } from './usage.ts';

/**
 * Scopes only an admin may put on a key: `admin` itself, and the rights to verify any key
 * and to read the audit trail. A user who could grant them would be an admin.
 */
export const ADMIN_ONLY_SCOPES: readonly string[] = [ADMIN_SCOPE, 'keys:verify', 'audit:read'];
/** Longest rotation grace period: an old key must end; a "grace" of years would be no rotation. */
const MAX_GRACE_MS = 30 * 86_400_000;

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;
/**
 * The latest instant accepted: the end of year 9999. A later one (up to JavaScript's 8.64e15)
 * would be stored, then fail to render as a date in every listing that holds it.
 */
export const MAX_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/** Is `ms` an instant the API accepts and renders (1970 to the end of 9999)? */
export const inRange = (ms: number) => Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_INSTANT_MS;
const RANGE = { message: 'expected an instant from 1970 to 9999' };
/** An instant in a body: epoch milliseconds or an ISO 8601 date-time with its offset, 1970–9999. */
export const instant = z.union([
  z.number().int().refine(inRange, RANGE),
  z
    .string()
    .regex(ISO_DATE_TIME, {
      message: 'expected an ISO 8601 date-time with offset, e.g. 2030-01-01T00:00:00Z',
    })
    .transform((text) => Date.parse(text))
    .refine(inRange, RANGE),
]);
/** A duration: `"30s"`, `"15m"`, `"1h"`, `"7d"`, or milliseconds. */
const MAX_DURATION_MS = 10 * 366 * 86_400_000;
export const duration = z.union([
  z.number().int().nonnegative().max(MAX_DURATION_MS),
  z
    .string()
    .refine(isDuration, { message: 'expected a duration like "30s", "15m", "1h" or "7d"' })
    .transform((t) => parseDuration(t))
    .refine((ms) => ms <= MAX_DURATION_MS, { message: 'expected at most ten years' }),
]);
export const scope = z
  .string()
  .regex(SCOPE_NAME, { message: 'a scope is 1-64 letters, digits or _ . : - (no wildcards)' });

const refillBody = z.strictObject({
  amount: z.number().int().positive().max(1e12),
  interval: duration,
  max: z.number().int().positive().max(1e12).optional(),
});
const rateLimitBody = z.strictObject({ limit: z.number().int().positive().max(1e9), window: duration });

const createBody = z.strictObject({
  name: z.string().min(1).max(200),
  scopes: z.array(scope).max(64),
  expiresAt: instant.nullable().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  credits: z
    .strictObject({
      remaining: z.number().int().nonnegative(),
      refill: z
        .strictObject({
          amount: z.number().int().positive(),
          interval: duration,
          max: z.number().int().positive().optional(),
        })
        .optional(),
    })
    .nullable()
    .optional(),
  rateLimit: z.strictObject({ limit: z.number().int().positive(), window: duration }).nullable().optional(),
  /** Admins only: the owner of the new key (`null` for an ownerless key). */
  ownerId: z.string().min(1).max(128).nullable().optional(),
  /** Admins only: the identity whose shared credits and limits the key draws from. */
  identityId: z.string().max(64).nullable().optional(),
});

/**
 * A change to a key; absent fields stay. `credits`: `null` removes them (unlimited); else
 * `remaining` sets, `increment` adds (negative takes away), `refill` sets or (`null`) removes
 * the refill rule. `enabled: false` disables the key (it verifies as `DISABLED`), `true`
 * enables it again with the same secret.
 */
export const patchBody = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    scopes: z.array(scope).max(64).optional(),
    expiresAt: instant.nullable().optional(),
    enabled: z.boolean().optional(),
    rateLimit: rateLimitBody.nullable().optional(),
    credits: z
      .strictObject({
        remaining: z.number().int().nonnegative().max(1e12).optional(),
        increment: z.number().int().min(-1e12).max(1e12).optional(),
        refill: refillBody.nullable().optional(),
      })
      .nullable()
      .optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'expected at least one field to change' });

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).max(200).optional(),
  /** Admins only: one owner's keys; `null` for ownerless keys. */
  ownerId: z.string().min(1).max(128).optional(),
});

const idParams = z.strictObject({ id: z.string().max(64) });
const rotateBody = z.strictObject({ gracePeriod: duration.optional() });
const verifyBody = z.strictObject({ key: z.string().max(1024), scope: scope.optional() });

/** An instant for display; a stored value out of the date range (written by an older version) shows as null, never a 500. */
export const iso = (ms: number | null) => (ms === null || !inRange(ms) ? null : new Date(ms).toISOString());

/** Where a key stands at `now`, for display. */
function statusOf(
  record: ApiKeyRecord,
  now: number,
): 'active' | 'expired' | 'revoked' | 'ending' | 'disabled' {
  if (record.revokedAt !== null && now >= record.revokedAt) return 'revoked';
  if (record.expiresAt !== null && now >= record.expiresAt) return 'expired';
  if (record.disabledAt != null) return 'disabled';
  return record.revokedAt !== null ? 'ending' : 'active';
}

/** A key as the API shows it: no hash, times as ISO 8601. Picked field by field (`toPublicKey`). */
export function keyView(record: ApiKeyRecord, now: number) {
  const key = toPublicKey(record);
  const refill = key.credits?.refill;
  return {
    id: key.id,
    prefix: key.prefix,
    hint: key.hint,
    name: key.name,
    ownerId: key.ownerId,
    scopes: key.scopes,
    status: statusOf(record, now),
    createdAt: iso(key.createdAt),
    expiresAt: iso(key.expiresAt),
    lastUsedAt: iso(key.lastUsedAt),
    revokedAt: iso(key.revokedAt),
    disabledAt: iso(key.disabledAt ?? null),
    identityId: key.identityId ?? null,
    metadata: key.metadata,
    credits:
      key.credits === null
        ? null
        : {
            remaining: key.credits.remaining,
            ...(refill
              ? {
                  refill: {
                    amount: refill.amount,
                    intervalMs: refill.intervalMs,
                    lastRefillAt: iso(refill.lastRefillAt),
                    ...(refill.max !== undefined ? { max: refill.max } : {}),
                  },
                }
              : {}),
          },
    rateLimit: key.rateLimit,
    rotatedFrom: key.rotatedFrom ?? null,
  };
}

const nullableIso = z.string().nullable();
/** The shape of `keyView` (for the OpenAPI document). */
export const keyViewSchema = z.object({
  id: z.string(),
  prefix: z.string(),
  hint: z.string(),
  name: z.string(),
  ownerId: z.string().nullable(),
  scopes: z.array(z.string()),
  status: z.enum(['active', 'expired', 'revoked', 'ending', 'disabled']),
  createdAt: nullableIso,
  expiresAt: nullableIso,
  lastUsedAt: nullableIso,
  revokedAt: nullableIso,
  disabledAt: nullableIso,
  identityId: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  credits: z
    .object({
      remaining: z.number().int(),
      refill: z
        .object({
          amount: z.number().int(),
          intervalMs: z.number().int(),
          lastRefillAt: nullableIso,
          max: z.number().int().optional(),
        })
        .optional(),
    })
    .nullable(),
  rateLimit: z.object({ limit: z.number().int(), windowMs: z.number().int() }).nullable(),
  rotatedFrom: z.string().nullable(),
});

const isAdmin = (p: Principal) => p.role === 'admin' || p.scopes.includes(ADMIN_SCOPE);

/**
 * `/v1/keys`: create, list, read, revoke, rotate and verify API keys.
 *
 * Who may do what:
 * - admins (an admin user's token, or a key with scope `admin`) manage every key;
 * - a user (access token) manages the keys they own;
 * - an API key with scope `keys:write` manages the keys of its own owner;
 * - a key of another owner is answered 404 exactly as an unknown id is, so ids cannot be probed.
 *
 * What a non-admin may grant: never `admin`, `keys:verify` or `audit:read`; a key creating a
 * key may only grant scopes it holds itself (a key cannot mint a broader key).
 */
export function keyRoutes(app: FastifyInstance, ctx: Services): void {
  const { rampart } = app;
  const { apiKeys, storage, now } = ctx;

  const refuse = (
    request: FastifyRequest,
    _principal: Principal,
    needed: readonly string[],
    detail: Record<string, unknown> = {},
  ) => rampart.forbid(request, needed, detail);

  /** The caller as a key manager: admin, or the owner whose keys it manages. */
  const manager = (request: FastifyRequest) => {
    const principal = principalOf(request);
    const admin = isAdmin(principal);
    if (!admin && principal.kind === 'api_key' && !principal.scopes.includes('keys:write')) {
      throw refuse(request, principal, ['keys:write']);
    }
    // A non-admin key without an owner has no keys of its own to manage.
    if (!admin && principal.userId === null) throw refuse(request, principal, ['keys:write']);
    return { principal, admin, actor: principal.userId ?? principal.keyId };
  };

  /** The key `id` if the caller may see it; 404 otherwise, the same answer as an unknown id. */
  const visibleKey = async (request: FastifyRequest, id: string) => {
    const m = manager(request);
    const record = isId(id, 'key') ? await storage.apiKeys.get(id) : undefined;
    if (record !== undefined && (m.admin || record.ownerId === m.principal.userId)) return { m, record };
    if (record !== undefined) {
      // Someone else's key: recorded (probing shows up in the audit trail), answered as unknown.
      rampart.event(request, {
        type: 'authz_fail',
        outcome: 'failure',
        actor: m.actor,
        detail: { keyId: id, reason: 'not_owner' },
      });
    }
    throw new RampartError('NOT_FOUND', { detail: 'No such API key.' });
  };

  const guard = ctx.protect();

  /**
   * What a key made or changed by a `keys:write` key may not exceed: its parent's life,
   * credits and rate. Answers the first excess (`outlives_parent`, `outspends_parent`,
   * `outrates_parent`) or undefined. Callers other than API keys have no parent.
   */
  const beyondParent = async (
    principal: Principal,
    child: {
      expiresAt: number | null;
      credits: { remaining: number; refill?: { amount: number; intervalMs: number } | undefined } | null;
      rateLimit: { limit: number; windowMs: number } | null;
    },
  ): Promise<string | undefined> => {
    if (principal.kind !== 'api_key' || isAdmin(principal) || !principal.keyId) return undefined;
    const parent = await storage.apiKeys.get(principal.keyId);
    if (parent === undefined) return 'outlives_parent';
    if (parent.expiresAt !== null && (child.expiresAt === null || child.expiresAt > parent.expiresAt)) {
      return 'outlives_parent';
    }
    if (parent.credits !== null) {
      if (child.credits === null || child.credits.remaining > parent.credits.remaining)
        return 'outspends_parent';
      const pr = parent.credits.refill;
      const cr = child.credits.refill;
      if (cr !== undefined && (pr === undefined || cr.amount / cr.intervalMs > pr.amount / pr.intervalMs)) {
        return 'outspends_parent';
      }
    }
    if (parent.rateLimit !== null) {
      const c = child.rateLimit;
      const p = parent.rateLimit;
      if (c === null || c.limit > p.limit || c.limit / c.windowMs > p.limit / p.windowMs)
        return 'outrates_parent';
    }
    return undefined;
  };

  app.post(
    '/v1/keys',
    {
      config: routeDoc({
        summary: 'Create an API key',
        description:
          'The plaintext `key` is in this answer only. A non-admin may grant only scopes it may grant (never admin, keys:verify, audit:read; a key only its own scopes), and a key made by a key may not outlive, out-spend or out-rate it. `ownerId` and `identityId` are for admins.',
        tags: ['keys'],
        auth: 'any',
        body: createBody,
        responses: {
          201: {
            description: 'The new key, with its secret this once',
            schema: keyViewSchema.extend({ key: z.string() }),
          },
        },
        errors: ['FORBIDDEN'],
      }),
      onRequest: guard,
      preValidation: rampart.validate({ body: createBody }),
    },
    async (request, reply) => {
      const m = manager(request);
      if (ctx.config.accounts.requireVerifiedEmail && !m.admin && m.principal.userId !== null) {
        // A key is a credential that outlives a password reset: only an owner who proved the
        // address (the one a reset would go to) may mint one.
        const owner = await storage.users.getById(m.principal.userId);
        if (owner?.emailVerifiedAt === undefined) throw new RampartError('EMAIL_NOT_VERIFIED');
      }
      const body = request.body as z.infer<typeof createBody>;
      let ownerId = m.principal.userId;
      if (body.ownerId !== undefined && body.ownerId !== ownerId) {
        if (!m.admin) throw refuse(request, m.principal, [ADMIN_SCOPE], { reason: 'owner' });
        ownerId = body.ownerId;
      }
      if (!m.admin) {
        const refused = body.scopes.filter(
          (s) =>
            ADMIN_ONLY_SCOPES.includes(s) ||
            (m.principal.kind === 'api_key' && !m.principal.scopes.includes(s)),
        );
        if (refused.length > 0) throw refuse(request, m.principal, refused, { reason: 'grant' });
      }
      const settings: ApiKeySettings = {
        name: body.name,
        ownerId,
        scopes: body.scopes,
        expiresAt: body.expiresAt ?? null,
        ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
        credits: body.credits
          ? {
              remaining: body.credits.remaining,
              ...(body.credits.refill
                ? {
                    refill: {
                      amount: body.credits.refill.amount,
                      intervalMs: body.credits.refill.interval,
                      ...(body.credits.refill.max !== undefined ? { max: body.credits.refill.max } : {}),
                    },
                  }
                : {}),
            }
          : null,
        rateLimit: body.rateLimit ? { limit: body.rateLimit.limit, windowMs: body.rateLimit.window } : null,
      };
      if (body.identityId != null) {
        if (!m.admin) throw refuse(request, m.principal, [ADMIN_SCOPE], { reason: 'identity' });
        if (!isId(body.identityId, 'idt') || (await storage.identities.get(body.identityId)) === undefined) {
          throw new RampartError('VALIDATION_FAILED', {
            errors: [{ path: '/identityId', code: 'NOT_FOUND', message: 'no such identity' }],
          });
        }
        settings.identityId = body.identityId;
      }
      const beyond = await beyondParent(m.principal, {
        expiresAt: settings.expiresAt ?? null,
        credits: settings.credits ?? null,
        rateLimit: settings.rateLimit ?? null,
      });
      if (beyond !== undefined) throw refuse(request, m.principal, [ADMIN_SCOPE], { reason: beyond });
      const made = await apiKeys.create(settings);
      if (!made.ok) throw new RampartError('VALIDATION_FAILED', { errors: made.errors });
      rampart.event(request, {
        type: 'key_created',
        outcome: 'success',
        actor: m.actor,
        detail: { keyId: made.record.id, prefix: made.record.prefix, ownerId, scopes: made.record.scopes },
      });
      return reply.code(201).send({ ...keyView(made.record, now()), key: made.key });
    },
  );

  app.get(
    '/v1/keys',
    {
      config: routeDoc({
        summary: 'List API keys',
        description:
          'Users see their own keys, admins every key (or one owner\'s with ownerId; "null" for ownerless keys). Newest first, paginated.',
        tags: ['keys'],
        auth: 'any',
        query: listQuery,
        responses: {
          200: {
            description: 'A page of keys',
            schema: z.object({ keys: z.array(keyViewSchema), nextCursor: z.string().nullable() }),
          },
        },
      }),
      onRequest: guard,
      preValidation: rampart.validate({ query: listQuery }),
    },
    async (request) => {
      const m = manager(request);
      const q = request.query as z.infer<typeof listQuery>;
      // Non-admins always see their own keys, whatever they ask for.
      const ownerId = m.admin ? (q.ownerId === 'null' ? null : q.ownerId) : m.principal.userId;
      const page = await storage.apiKeys.list({
        limit: q.limit,
        ...(ownerId !== undefined ? { ownerId } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      });
      const at = now();
      return { keys: page.keys.map((k) => keyView(k, at)), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/keys/:id',
    {
      config: routeDoc({
        summary: 'Show an API key',
        tags: ['keys'],
        auth: 'any',
        params: idParams,
        responses: { 200: { description: 'The key', schema: keyViewSchema } },
        errors: ['NOT_FOUND'],
      }),
      onRequest: guard,
      preValidation: rampart.validate({ params: idParams }),
    },
    async (request) => {
      const { record } = await visibleKey(request, (request.params as { id: string }).id);
      return keyView(record, now());
    },
  );

  app.delete(
    '/v1/keys/:id',
    {
      config: routeDoc({
        summary: 'Revoke an API key',
        description: 'The key is refused everywhere at once (cache invalidation on the bus).',
        tags: ['keys'],
        auth: 'any',
        params: idParams,
        responses: { 204: 'Revoked' },
        errors: ['NOT_FOUND'],
      }),
      onRequest: guard,
      preValidation: rampart.validate({ params: idParams }),
    },
    async (request, reply) => {
      const { m, record } = await visibleKey(request, (request.params as { id: string }).id);
      await apiKeys.revoke(record.id);
      rampart.event(request, {
        type: 'key_revoked',
        outcome: 'success',
        actor: m.actor,
        detail: { keyId: record.id, prefix: record.prefix, ownerId: record.ownerId },
      });
      return reply.code(204).send();
    },
  );

  app.post(
    '/v1/keys/:id/rotate',
    {
      config: routeDoc({
        summary: 'Rotate an API key',
        description:
          'A new key with the same settings and budget; the old one works for the grace period (default 0, at most 30 days). A key is rotated once: rotating it again answers KEY_ROTATED.',
        tags: ['keys'],
        auth: 'any',
        params: idParams,
        body: rotateBody,
        responses: {
          201: {
            description: 'The new key, with its secret this once',
            schema: keyViewSchema.extend({
              key: z.string(),
              previous: z.object({ id: z.string(), revokedAt: z.string().nullable() }),
            }),
          },
        },
        errors: ['NOT_FOUND', 'KEY_ROTATED', 'BAD_REQUEST'],
      }),
      onRequest: guard,
      preValidation: rampart.validate({ params: idParams, body: rotateBody }),
    },
    async (request, reply) => {
      const { m, record } = await visibleKey(request, (request.params as { id: string }).id);
      const { gracePeriod = 0 } = (request.body ?? {}) as z.infer<typeof rotateBody>;
      if (gracePeriod > MAX_GRACE_MS) {
        throw new RampartError('VALIDATION_FAILED', {
          errors: [{ path: '/gracePeriod', code: 'OUT_OF_RANGE', message: 'at most 30 days' }],
        });
      }
      const rotated = await apiKeys.rotate(record.id, gracePeriod);
      if (!rotated.ok) {
        if (rotated.code === 'NOT_FOUND') throw new RampartError('NOT_FOUND', { detail: 'No such API key.' });
        if (rotated.code === 'VALIDATION_FAILED')
          throw new RampartError('VALIDATION_FAILED', { errors: rotated.errors });
        if (rotated.code === 'ROTATED') {
          throw new RampartError('KEY_ROTATED', {
            detail: 'This key was already rotated; rotate its successor instead.',
          });
        }
        throw new RampartError('BAD_REQUEST', {
          detail:
            rotated.code === 'CONFLICT'
              ? 'The key was changed by another request; read it again and retry.'
              : 'A revoked or expired key cannot be rotated.',
        });
      }
      rampart.event(request, {
        type: 'key_rotated',
        outcome: 'success',
        actor: m.actor,
        detail: {
          keyId: rotated.record.id,
          rotatedFrom: record.id,
          prefix: rotated.record.prefix,
          gracePeriodMs: gracePeriod,
        },
      });
      const at = now();
      return reply.code(201).send({
        ...keyView(rotated.record, at),
        key: rotated.key,
        previous: { id: rotated.previous.id, revokedAt: iso(rotated.previous.revokedAt) },
      });
    },
  );

  app.patch(
    '/v1/keys/:id',
    {
      config: routeDoc({
        summary: 'Change a key',
        description:
          'Name, metadata, scopes, expiry, enabled, rate limit and credits. An owner may only narrow (fewer scopes, an earlier expiry, fewer credits, a tighter limit, disabling); widening and enabling are for admins. A key changed by a `keys:write` key may not outlive, out-spend or out-rate that key. Writes a `key_updated` event naming the fields.',
        tags: ['keys'],
        auth: 'any',
        params: idParams,
        body: patchBody,
        responses: { 200: { description: 'The key after the change', schema: keyViewSchema } },
        errors: ['NOT_FOUND', 'FORBIDDEN'],
      }),
      onRequest: guard,
      preValidation: rampart.validate({ params: idParams, body: patchBody }),
    },
    async (request) => {
      const { m, record } = await visibleKey(request, (request.params as { id: string }).id);
      const body = request.body as z.infer<typeof patchBody>;
      const at = now();
      const patch: ApiKeyPatch = {};
      const widened: string[] = [];
      if (body.name !== undefined) patch.name = body.name;
      if (body.metadata !== undefined) patch.metadata = body.metadata;
      if (body.scopes !== undefined) {
        const added = body.scopes.filter((s) => !record.scopes.includes(s));
        if (added.length > 0) widened.push('scopes');
        patch.scopes = body.scopes;
      }
      if (body.expiresAt !== undefined) {
        if (body.expiresAt !== null && body.expiresAt <= at) {
          throw new RampartError('VALIDATION_FAILED', {
            errors: [{ path: '/expiresAt', code: 'OUT_OF_RANGE', message: 'must be in the future' }],
          });
        }
        if (record.expiresAt !== null && (body.expiresAt === null || body.expiresAt > record.expiresAt)) {
          widened.push('expiresAt');
        }
        patch.expiresAt = body.expiresAt;
      }
      if (body.enabled !== undefined) {
        if (body.enabled && record.disabledAt != null) widened.push('enabled');
        patch.disabledAt = body.enabled ? null : (record.disabledAt ?? at);
      }
      if (body.rateLimit !== undefined) {
        const next =
          body.rateLimit === null ? null : { limit: body.rateLimit.limit, windowMs: body.rateLimit.window };
        const was = record.rateLimit;
        if (
          was !== null &&
          (next === null || next.limit > was.limit || next.limit / next.windowMs > was.limit / was.windowMs)
        ) {
          widened.push('rateLimit');
        }
        patch.rateLimit = next;
      }
      if (body.credits !== undefined) {
        const c = body.credits;
        const was = record.credits;
        if (c === null) {
          if (was !== null) widened.push('credits');
          patch.credits = null;
        } else {
          if (
            (c.remaining !== undefined && (was === null ? false : c.remaining > was.remaining)) ||
            (c.increment !== undefined && c.increment > 0) ||
            (c.refill != null &&
              (was?.refill === undefined ||
                c.refill.amount / c.refill.interval > was.refill.amount / was.refill.intervalMs))
          ) {
            widened.push('credits');
          }
          // A key without credits is unlimited: giving it a balance narrows it.
          patch.credits = creditsPatchOf(c, at);
        }
      }
      if (!m.admin) {
        const adminOnly = (body.scopes ?? []).filter(
          (s) => ADMIN_ONLY_SCOPES.includes(s) && !record.scopes.includes(s),
        );
        if (widened.length > 0 || adminOnly.length > 0) {
          throw refuse(request, m.principal, [ADMIN_SCOPE], {
            reason: 'widen',
            fields: widened,
            keyId: record.id,
          });
        }
        const after = { ...record };
        if (patch.expiresAt !== undefined) after.expiresAt = patch.expiresAt;
        if (patch.rateLimit !== undefined) after.rateLimit = patch.rateLimit;
        if (patch.credits !== undefined && patch.credits !== null) {
          after.credits = {
            remaining: Math.max(
              0,
              (patch.credits.remaining ?? record.credits?.remaining ?? 0) + (patch.credits.increment ?? 0),
            ),
            ...(patch.credits.refill
              ? { refill: patch.credits.refill }
              : record.credits?.refill
                ? { refill: record.credits.refill }
                : {}),
          };
        }
        const beyond = await beyondParent(m.principal, after);
        if (beyond !== undefined)
          throw refuse(request, m.principal, [ADMIN_SCOPE], { reason: beyond, keyId: record.id });
      }
      const updated = await apiKeys.update(record.id, patch);
      if (updated === undefined) throw new RampartError('NOT_FOUND', { detail: 'No such API key.' });
      rampart.event(request, {
        type: 'key_updated',
        outcome: 'success',
        actor: m.actor,
        // The names of the fields changed, never their values (metadata may hold anything).
        detail: { keyId: record.id, prefix: record.prefix, fields: Object.keys(body).sort() },
      });
      return keyView(updated, now());
    },
  );

  app.get(
    '/v1/keys/:id/usage',
    {
      config: routeDoc({
        summary: "A key's verifications by outcome, in time buckets",
        description: `Buckets of a minute, an hour or a day (UTC); at most ${USAGE_RANGE_DOC}. Counts are written in batches (usage.flushInterval), so the last seconds may still be on their way.`,
        tags: ['keys', 'usage'],
        auth: 'any',
        params: idParams,
        query: usageQuery,
        responses: { 200: { description: 'The buckets, oldest first, and their sums', schema: usageSchema } },
        errors: ['NOT_FOUND'],
      }),
      onRequest: guard,
      preValidation: rampart.validate({ params: idParams, query: usageQuery }),
    },
    async (request) => {
      const { record } = await visibleKey(request, (request.params as { id: string }).id);
      return readUsage(ctx, { keyId: record.id }, request.query as z.infer<typeof usageQuery>);
    },
  );

  app.post(
    '/v1/keys/verify',
    {
      config: routeDoc({
        summary: 'Verify an API key',
        description:
          'For services that check keys themselves. `code` is VALID, NOT_FOUND, EXPIRED, REVOKED, DISABLED, INSUFFICIENT_SCOPE, RATE_LIMITED or USAGE_EXCEEDED.',
        tags: ['keys'],
        auth: 'any',
        scopes: ['keys:verify'],
        body: verifyBody,
        responses: {
          200: {
            description: 'The decision',
            schema: z.object({
              valid: z.boolean(),
              code: z.string(),
              keyId: z.string().optional(),
              ownerId: z.string().nullable().optional(),
              scopes: z.array(z.string()).optional(),
              expiresAt: z.string().nullable().optional(),
              remaining: z.number().int().optional(),
              retryAfter: z.number().int().optional(),
            }),
          },
        },
      }),
      onRequest: ctx.protect({ scopes: ['keys:verify'] }),
      preValidation: rampart.validate({ body: verifyBody }),
    },
    async (request) => {
      const body = request.body as z.infer<typeof verifyBody>;
      const decision = await apiKeys.verify(body.key, body.scope !== undefined ? { scope: body.scope } : {});
      if (decision.valid) {
        return {
          valid: true,
          code: decision.code,
          keyId: decision.keyId,
          ownerId: decision.ownerId,
          scopes: decision.scopes,
          expiresAt: iso(decision.expiresAt),
          ...(decision.remaining !== undefined ? { remaining: decision.remaining } : {}),
        };
      }
      return {
        valid: false,
        code: decision.code,
        ...(decision.keyId !== undefined ? { keyId: decision.keyId } : {}),
        ...(decision.retryAfterMs !== undefined
          ? { retryAfter: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)) }
          : {}),
      };
    },
  );
}

/** The credits part of a PATCH body (keys and identities), as the storage's patch. */
export interface CreditsBody {
  remaining?: number | undefined;
  increment?: number | undefined;
  refill?: { amount: number; interval: number; max?: number | undefined } | null | undefined;
}

/** The storage's credits patch for a PATCH body's `credits` (a refill starts counting at `at`). */
export function creditsPatchOf(c: CreditsBody, at: number): CreditsPatch {
  return {
    ...(c.remaining !== undefined ? { remaining: c.remaining } : {}),
    ...(c.increment !== undefined ? { increment: c.increment } : {}),
    ...(c.refill !== undefined
      ? {
          refill:
            c.refill === null
              ? null
              : {
                  amount: c.refill.amount,
                  intervalMs: c.refill.interval,
                  lastRefillAt: at,
                  ...(c.refill.max !== undefined ? { max: c.refill.max } : {}),
                },
        }
      : {}),
  };
}
