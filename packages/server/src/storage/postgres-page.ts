import { decodeCursor, encodeCursor } from 'rampart/internal/lib/cursor.ts';
import type { Sql } from './postgres-client.ts';
import type { Row } from './rows.ts';
import type { PageQuery } from './types.ts';

/** Numbered parameters for a statement built from optional filters: `add(value)` answers its `$n`. */
export function parameters() {
  const values: unknown[] = [];
  return {
    values,
    add(value: unknown): string {
      values.push(value);
      return `$${values.length}`;
    },
  };
}

/** A listing: a `SELECT … FROM …`, its filters, and the (at, id) columns it pages on. */
export interface PgKeyset {
  /**
   * The prepared statement's name for this set of filters: the caller names each shape
   * (which filters are present), the cursor's presence is added here.
   */
  name: string;
  select: string;
  where: string[];
  params: ReturnType<typeof parameters>;
  /** Column expressions paged on, e.g. `k.created_at`; the result columns are the names after the dot. */
  at: string;
  id: string;
}

/** One page newest first on (at, id), and the cursor of the next. A cursor that does not decode is ignored. */
export async function pgKeysetPage(
  sql: Sql,
  keyset: PgKeyset,
  query: PageQuery,
): Promise<{ rows: Row[]; nextCursor: string | null }> {
  const { where, params } = keyset;
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (cursor) {
    const at = params.add(cursor.at);
    where.push(
      `(${keyset.at} < ${at} OR (${keyset.at} = ${at} AND ${keyset.id} < ${params.add(cursor.id)}))`,
    );
  }
  const limit = params.add(query.limit + 1);
  const rows = await sql.read(
    `${keyset.name}_${cursor ? 'after' : 'first'}`,
    `${keyset.select} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY ${keyset.at} DESC, ${keyset.id} DESC LIMIT ${limit}`,
    params.values,
  );
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
