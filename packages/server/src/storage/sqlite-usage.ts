import type { DatabaseSync } from 'node:sqlite';
import { PRUNE_BATCH } from './rows.ts';
import type { Row } from './sqlite-page.ts';
import { transaction } from './sqlite-transaction.ts';
import type { UsageStore } from './types.ts';
import { bucketsOf, subjectOf, usageRows } from './usage-buckets.ts';

/**
 * Usage counts on SQLite: a batch is one `BEGIN IMMEDIATE` transaction of upserts that add
 * (`count = count + excluded.count`), so processes sharing the file sum exactly.
 */
export function sqliteUsageStore(db: DatabaseSync): UsageStore {
  const upsert = db.prepare(
    `INSERT INTO usage_counts (subject_kind, subject_id, granularity, bucket_start, outcome, count)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (subject_kind, subject_id, granularity, bucket_start, outcome)
     DO UPDATE SET count = count + excluded.count`,
  );
  const read = db.prepare(
    `SELECT bucket_start, outcome, count FROM usage_counts
     WHERE subject_kind = ? AND subject_id = ? AND granularity = ? AND bucket_start >= ? AND bucket_start < ?`,
  );
  const prune = db.prepare(
    `DELETE FROM usage_counts WHERE (subject_kind, subject_id, granularity, bucket_start, outcome) IN (
       SELECT subject_kind, subject_id, granularity, bucket_start, outcome FROM usage_counts
       WHERE granularity = ? AND bucket_start < ? LIMIT ${PRUNE_BATCH})`,
  );
  return {
    add(entries) {
      const rows = usageRows(entries);
      if (rows.length === 0) return;
      transaction(db, () => {
        for (const r of rows) upsert.run(r.kind, r.subject, r.granularity, r.start, r.outcome, r.count);
      });
    },
    read(query) {
      const { kind, subject } = subjectOf(query);
      const rows = read.all(kind, subject, query.granularity, query.since, query.until) as Row[];
      return bucketsOf(
        rows.map((r) => ({
          start: Number(r.bucket_start),
          outcome: String(r.outcome),
          count: Number(r.count),
        })),
      );
    },
    prune(before, granularity) {
      let removed = 0;
      for (;;) {
        const n = Number(prune.run(granularity, before).changes);
        removed += n;
        if (n < PRUNE_BATCH) return removed;
      }
    },
  };
}
