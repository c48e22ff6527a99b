import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { decodeCursor, encodeCursor } from 'rampart/internal/lib/cursor.ts';
import type { PageQuery } from './types.ts';

export type Row = Record<string, SQLInputValue>;

/** A listing: a `SELECT … FROM …`, its filters, and the (at, id) columns it pages on. */
export interface Keyset {
  select: string;
  where?: readonly string[];
  params?: readonly SQLInputValue[];
  /** The column expressions paged on, e.g. `k.created_at`; the result columns are the names after the dot. */
  at: string;
  id: string;
}

/** One page newest first on (at, id), and the cursor of the next. A cursor that does not decode is ignored. */
export function keysetPage(
  db: DatabaseSync,
  keyset: Keyset,
  query: PageQuery,
): { rows: Row[]; nextCursor: string | null } {
  const where = [...(keyset.where ?? [])];
  const params = [...(keyset.params ?? [])];
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (cursor) {
    where.push(`(${keyset.at} < ? OR (${keyset.at} = ? AND ${keyset.id} < ?))`);
    params.push(cursor.at, cursor.at, cursor.id);
  }
  const rows = db
    .prepare(
      `${keyset.select} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY ${keyset.at} DESC, ${keyset.id} DESC LIMIT ?`,
    )
    .all(...params, query.limit + 1) as Row[];
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  const column = (expression: string) => expression.split('.').at(-1)!;
  return {
    rows: page,
    nextCursor:
      rows.length > query.limit && last
        ? encodeCursor(Number(last[column(keyset.at)]), String(last[column(keyset.id)]))
        : null,
  };
}
