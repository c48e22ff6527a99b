import type { UsageBucket, UsageEntry, UsageGranularity, UsageQuery } from './types.ts';

/**
 * The pure part of usage counting, shared by every store: which buckets a batch adds to, and
 * how stored counts read back. Buckets are aligned on UTC multiples of their size.
 */

export const BUCKET_MS: Readonly<Record<UsageGranularity, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

export const GRANULARITIES = Object.keys(BUCKET_MS) as UsageGranularity[];

/** What a counted subject is: a key or an identity (ids of both live in one table). */
export type SubjectKind = 'key' | 'identity';

export interface UsageRow {
  kind: SubjectKind;
  subject: string;
  granularity: UsageGranularity;
  start: number;
  outcome: string;
  count: number;
}

/**
 * The rows a batch adds: each entry counts for its key and its identity in every
 * granularity; entries that land in one row are summed (one upsert per row, as PostgreSQL's
 * `ON CONFLICT` requires), and rows are sorted so concurrent writers lock them in one order.
 */
export function usageRows(entries: readonly UsageEntry[]): UsageRow[] {
  const rows = new Map<string, UsageRow>();
  entries.forEach((entry, i) => {
    const count = entry.count ?? 1;
    if (!Number.isSafeInteger(count) || count < 0)
      throw new TypeError(`usage.add: entries[${i}].count must be a whole number ≥ 0`);
    if (!Number.isSafeInteger(entry.at)) throw new TypeError(`usage.add: entries[${i}].at must be epoch ms`);
    if (count === 0) return;
    const subjects: Array<[SubjectKind, string]> = [['key', entry.keyId]];
    if (entry.identityId) subjects.push(['identity', entry.identityId]);
    for (const [kind, subject] of subjects) {
      for (const granularity of GRANULARITIES) {
        const size = BUCKET_MS[granularity];
        const start = Math.floor(entry.at / size) * size;
        const id = JSON.stringify([kind, subject, granularity, start, entry.outcome]);
        const row = rows.get(id);
        if (row) row.count += count;
        else rows.set(id, { kind, subject, granularity, start, outcome: entry.outcome, count });
      }
    }
  });
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
}

/** The subject of a query, as stored. */
export function subjectOf(query: UsageQuery): { kind: SubjectKind; subject: string } {
  return 'keyId' in query
    ? { kind: 'key', subject: query.keyId }
    : { kind: 'identity', subject: query.identityId };
}

/** Stored (start, outcome, count) rows as buckets, oldest first. */
export function bucketsOf(rows: Iterable<{ start: number; outcome: string; count: number }>): UsageBucket[] {
  const buckets = new Map<number, UsageBucket>();
  for (const { start, outcome, count } of rows) {
    const bucket = buckets.get(start) ?? { start, total: 0, outcomes: {} };
    buckets.set(start, bucket);
    bucket.total += count;
    const outcomes = bucket.outcomes as Record<string, number>;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + count;
  }
  return [...buckets.values()].sort((a, b) => a.start - b.start);
}
