/**
 * Reading usage for `GET /v1/keys/{id}/usage` and `GET /v1/identities/{id}/usage`: the range
 * is capped per bucket size (a month of minute buckets would be 43 200 rows per outcome), the
 * instance's own pending counts are written first, and the answer sums the buckets by outcome.
 */
import { RampartError } from 'rampart/internal/errors.ts';
import { z } from 'zod';
import type { UsageGranularity } from '../../storage/types.ts';
import { BUCKET_MS } from '../../storage/usage-buckets.ts';
import type { Services } from '../services.ts';

/** The longest range per bucket size, ms. */
export const USAGE_MAX_RANGE_MS: Readonly<Record<UsageGranularity, number>> = {
  minute: 86_400_000,
  hour: 31 * 86_400_000,
  day: 400 * 86_400_000,
};
/** The range when `since` is not given. */
const DEFAULT_RANGE_MS: Readonly<Record<UsageGranularity, number>> = {
  minute: 3_600_000,
  hour: 86_400_000,
  day: 30 * 86_400_000,
};
export const USAGE_RANGE_DOC = 'a day of minute buckets, 31 days of hour buckets, 400 days of day buckets';

const outcomes = z.record(z.string(), z.number().int());
export const usageSchema = z.object({
  keyId: z.string().optional(),
  identityId: z.string().optional(),
  granularity: z.enum(['minute', 'hour', 'day']),
  since: z.string(),
  until: z.string(),
  total: z.number().int(),
  outcomes,
  buckets: z.array(z.object({ start: z.string(), total: z.number().int(), outcomes })),
});

/** The query of a usage route; `since` and `until` are epoch ms or ISO 8601, 1970–9999. */
export const usageQuery = z.strictObject({
  granularity: z.enum(['minute', 'hour', 'day']).default('hour'),
  since: z.string().max(40).optional(),
  until: z.string().max(40).optional(),
});

const MAX_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function instantParam(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^\d{1,16}$/.test(text)
    ? Number(text)
    : /^\d{4}-\d{2}-\d{2}/.test(text)
      ? Date.parse(text)
      : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_INSTANT_MS) {
    throw new RampartError('VALIDATION_FAILED', {
      errors: [
        {
          path: `/${field}`,
          code: 'OUT_OF_RANGE',
          message: 'expected an instant from 1970 to 9999 (epoch ms or ISO 8601)',
        },
      ],
    });
  }
  return ms;
}

export async function readUsage(
  ctx: Services,
  subject: { keyId: string } | { identityId: string },
  query: z.infer<typeof usageQuery>,
) {
  const { granularity } = query;
  const size = BUCKET_MS[granularity as UsageGranularity];
  const until = instantParam(query.until, 'until') ?? ctx.now() + size;
  const since = instantParam(query.since, 'since') ?? until - DEFAULT_RANGE_MS[granularity];
  if (since >= until) {
    throw new RampartError('VALIDATION_FAILED', {
      errors: [{ path: '/since', code: 'OUT_OF_RANGE', message: 'must be before until' }],
    });
  }
  if (until - since > USAGE_MAX_RANGE_MS[granularity]) {
    throw new RampartError('VALIDATION_FAILED', {
      errors: [{ path: '/since', code: 'OUT_OF_RANGE', message: `at most ${USAGE_RANGE_DOC}` }],
    });
  }
  await ctx.usage.flush();
  const buckets = await ctx.storage.usage.read({ ...subject, granularity, since, until });
  const sum: Record<string, number> = {};
  let total = 0;
  for (const bucket of buckets) {
    total += bucket.total;
    for (const [outcome, n] of Object.entries(bucket.outcomes)) sum[outcome] = (sum[outcome] ?? 0) + (n ?? 0);
  }
  return {
    ...subject,
    granularity,
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    total,
    outcomes: sum,
    buckets: buckets.map((b) => ({
      start: new Date(b.start).toISOString(),
      total: b.total,
      outcomes: b.outcomes,
    })),
  };
}
