import { decodeCursor, encodeCursor, isBeyondCursor } from '../lib/cursor.ts';
import type { AuditEvent, AuditPage, AuditQuery, AuditStore } from './events.ts';

/**
 * The audit trail in process memory, newest first: for tests and for a library user who
 * wants `GET`-able events without a database. Bounded by `maxEvents` (oldest dropped).
 */
export function memoryAuditStore(options: { maxEvents?: number } = {}): AuditStore {
  const maxEvents = options.maxEvents ?? 100_000;
  // Kept sorted newest first; appends arrive roughly in time order, so insertion is cheap.
  const events: AuditEvent[] = [];
  return {
    append(batch) {
      for (const event of batch) events.push(structuredClone(event));
      events.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      if (events.length > maxEvents) events.length = maxEvents;
    },
    list(query: AuditQuery): AuditPage {
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const out: AuditEvent[] = [];
      for (const e of events) {
        if (cursor && !isBeyondCursor(e.at, e.id, cursor)) continue;
        if (query.type !== undefined && e.type !== query.type) continue;
        if (query.actor !== undefined && e.actor !== query.actor) continue;
        if (query.since !== undefined && e.at < query.since) continue;
        if (query.until !== undefined && e.at > query.until) continue;
        out.push(structuredClone(e));
        if (out.length > query.limit) break;
      }
      const more = out.length > query.limit;
      if (more) out.pop();
      const last = out.at(-1);
      return { events: out, nextCursor: more && last ? encodeCursor(last.at, last.id) : null };
    },
  };
}
