import { decodeCursor, encodeCursor, isBeyondCursor } from 'rampart/internal/lib/cursor.ts';
import type { PageQuery } from './types.ts';

/** Newest first on (createdAt, id), from the cursor on: one page and the next cursor (the memory stores' keyset). */
export function page<T extends { createdAt: number }>(
  all: Iterable<T>,
  query: PageQuery,
  idOf: (item: T) => string,
): { items: T[]; nextCursor: string | null } {
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const sorted = [...all]
    .filter((item) => !cursor || isBeyondCursor(item.createdAt, idOf(item), cursor))
    .sort((a, b) => b.createdAt - a.createdAt || (idOf(a) < idOf(b) ? 1 : idOf(a) > idOf(b) ? -1 : 0));
  const items = sorted.slice(0, query.limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: sorted.length > query.limit && last ? encodeCursor(last.createdAt, idOf(last)) : null,
  };
}
