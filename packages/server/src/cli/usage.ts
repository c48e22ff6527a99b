/** Usage for the CLI (`rampart keys usage`, `rampart identities usage`): the API's range caps. */
import { isDuration, parseDuration } from 'rampart/internal/lib/duration.ts';
import { USAGE_MAX_RANGE_MS } from '../server/routes/usage.ts';
import type { Storage, UsageGranularity } from '../storage/types.ts';
import { BUCKET_MS } from '../storage/usage-buckets.ts';
import { instant } from './args.ts';
import { table, UsageError } from './output.ts';

const DEFAULT_RANGE_MS: Readonly<Record<UsageGranularity, number>> = {
  minute: 3_600_000,
  hour: 86_400_000,
  day: 30 * 86_400_000,
};

export interface CliUsage {
  granularity: UsageGranularity;
  since: string;
  until: string;
  total: number;
  outcomes: Record<string, number>;
  buckets: Array<{ start: string; total: number; outcomes: Record<string, number> }>;
}

export async function readUsageCli(
  storage: Storage,
  subject: { keyId: string } | { identityId: string },
  values: { granularity?: string | undefined; since?: string | undefined; until?: string | undefined },
  now: number,
): Promise<CliUsage> {
  const granularity = (values.granularity ?? 'hour') as UsageGranularity;
  const at = (text: string, flag: string) =>
    isDuration(text) ? now - parseDuration(text) : instant(text, flag, now);
  const until = values.until === undefined ? now + BUCKET_MS[granularity] : at(values.until, '--until');
  const since =
    values.since === undefined ? until - DEFAULT_RANGE_MS[granularity] : at(values.since, '--since');
  if (since >= until) throw new UsageError('--since: must be before --until');
  if (until - since > USAGE_MAX_RANGE_MS[granularity]) {
    throw new UsageError('--since: at most a day of minute buckets, 31 days of hours, 400 days of days');
  }
  const buckets = await storage.usage.read({ ...subject, granularity, since, until });
  const outcomes: Record<string, number> = {};
  let total = 0;
  for (const b of buckets) {
    total += b.total;
    for (const [k, n] of Object.entries(b.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + (n ?? 0);
  }
  return {
    granularity,
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    total,
    outcomes,
    buckets: buckets.map((b) => ({
      start: new Date(b.start).toISOString(),
      total: b.total,
      outcomes: b.outcomes as Record<string, number>,
    })),
  };
}

export function usageTable(usage: CliUsage): string {
  if (usage.buckets.length === 0) return `No verifications from ${usage.since} to ${usage.until}.\n`;
  const codes = Object.keys(usage.outcomes).sort();
  return (
    table(
      ['START', 'TOTAL', ...codes],
      usage.buckets.map((b) => [b.start, String(b.total), ...codes.map((c) => String(b.outcomes[c] ?? 0))]),
    ) + `\nTotal ${usage.total}: ${codes.map((c) => `${c} ${usage.outcomes[c]}`).join(', ')}\n`
  );
}
