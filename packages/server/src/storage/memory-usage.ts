import type { UsageStore } from './types.ts';
import { bucketsOf, subjectOf, type UsageRow, usageRows } from './usage-buckets.ts';

/** Usage counts in process memory; synchronous, so each batch is atomic. See `UsageStore`. */
export function memoryUsageStore(): UsageStore {
  const rows = new Map<string, UsageRow>();
  const idOf = (r: Pick<UsageRow, 'kind' | 'subject' | 'granularity' | 'start' | 'outcome'>) =>
    JSON.stringify([r.kind, r.subject, r.granularity, r.start, r.outcome]);
  return {
    add(entries) {
      for (const row of usageRows(entries)) {
        const id = idOf(row);
        const stored = rows.get(id);
        if (stored) stored.count += row.count;
        else rows.set(id, { ...row });
      }
    },
    read(query) {
      const { kind, subject } = subjectOf(query);
      return bucketsOf(
        [...rows.values()].filter(
          (r) =>
            r.kind === kind &&
            r.subject === subject &&
            r.granularity === query.granularity &&
            r.start >= query.since &&
            r.start < query.until,
        ),
      );
    },
    prune(before, granularity) {
      let removed = 0;
      for (const [id, row] of rows) {
        if (row.granularity === granularity && row.start < before) {
          rows.delete(id);
          removed++;
        }
      }
      return removed;
    },
  };
}
