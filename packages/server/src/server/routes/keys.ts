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
import type { Services } from '../services.ts';
import { principalOf } from './auth.ts';

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
const instant = z.union([
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
const duration = z.union([
  z.number().int().nonnegative().max(MAX_DURATION_MS),
  z
    .string()
    .refine(isDuration, { message: 'expected a duration like "30s", "15m", "1h" or "7d"' })
    .transform((t) => parseDuration(t))
    .refine((ms) => ms <= MAX_DURATION_MS, { message: 'expected at most ten years' }),
]);
const scope = z
  .string()
  .regex(SCOPE_NAME, { message: 'a scope is 1-64 letters, digits or _ . : - (no wildcards)' });

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
});

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
const iso = (ms: number | null) => (ms === null || !inRange(ms) ? null : new Date(ms).toISOString());

/** Where a key stands at `now`, for display. */
function statusOf(record: ApiKeyRecord, now: number): 'active' | 'expired' | 'revoked' | 'ending' {
  if (record.revokedAt !== null && now >= record.revokedAt) return 'revoked';
  if (record.expiresAt !== null && now >= record.expiresAt) return 'expired';
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

  app.post(
    '/v1/keys',
    { onRequest: guard, preValidation: rampart.validate({ body: createBody }) },
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
    { onRequest: guard, preValidation: rampart.validate({ query: listQuery }) },
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
    { onRequest: guard, preValidation: rampart.validate({ params: idParams }) },
    async (request) => {
      const { record } = await visibleKey(request, (request.params as { id: string }).id);
      return keyView(record, now());
    },
  );

  app.delete(
    '/v1/keys/:id',
    { onRequest: guard, preValidation: rampart.validate({ params: idParams }) },
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
    { onRequest: guard, preValidation: rampart.validate({ params: idParams, body: rotateBody }) },
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

  app.post(
    '/v1/keys/verify',
    {
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
