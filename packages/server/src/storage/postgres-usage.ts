import type { Sql } from './postgres-client.ts';
import { PRUNE_BATCH } from './rows.ts';
import type { UsageStore } from './types.ts';
import { bucketsOf, subjectOf, usageRows } from './usage-buckets.ts';

/**
 * Usage counts on PostgreSQL. A batch is one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO
 * UPDATE SET count = usage_counts.count + excluded.count`: one statement (all rows or none),
 * each row's addition made under its row lock, so instances writing the same buckets at once
 * sum exactly; rows go in one sorted order, so two such batches cannot deadlock.
 */
export function postgresUsageStore(sql: Sql): UsageStore {
  return {
    async add(entries) {
      const rows = usageRows(entries);
      if (rows.length === 0) return;
      await sql.write(
        'rampart_usage_add',
        `INSERT INTO usage_counts (subject_kind, subject_id, granularity, bucket_start, outcome, count)
         SELECT kind, subject, granularity, start, outcome, n
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[])
           WITH ORDINALITY AS v(kind, subject, granularity, start, outcome, n, i)
         ORDER BY i
         ON CONFLICT (subject_kind, subject_id, granularity, bucket_start, outcome)
         DO UPDATE SET count = usage_counts.count + excluded.count`,
        [
          rows.map((r) => r.kind),
          rows.map((r) => r.subject),
          rows.map((r) => r.granularity),
          rows.map((r) => r.start),
          rows.map((r) => r.outcome),
          rows.map((r) => r.count),
        ],
      );
    },
    async read(query) {
      const { kind, subject } = subjectOf(query);
      const rows = await sql.read(
        'rampart_usage_read',
        `SELECT bucket_start, outcome, count FROM usage_counts
         WHERE subject_kind = $1 AND subject_id = $2 AND granularity = $3 AND bucket_start >= $4 AND bucket_start < $5`,
        [kind, subject, query.granularity, query.since, query.until],
      );
      return bucketsOf(
        rows.map((r) => ({
          start: Number(r.bucket_start),
          outcome: String(r.outcome),
          count: Number(r.count),
        })),
      );
    },
    async prune(before, granularity) {
      let removed = 0;
      for (;;) {
        const { count } = await sql.write(
          'rampart_usage_prune',
          `DELETE FROM usage_counts WHERE (subject_kind, subject_id, granularity, bucket_start, outcome) IN (
             SELECT subject_kind, subject_id, granularity, bucket_start, outcome FROM usage_counts
             WHERE granularity = $1 AND bucket_start < $2 LIMIT ${PRUNE_BATCH})`,
          [granularity, before],
        );
        removed += count;
        if (count < PRUNE_BATCH) return removed;
      }
    },
  };
}
