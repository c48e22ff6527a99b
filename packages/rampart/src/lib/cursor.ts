/**
 * Keyset cursor over (at, id), newest first: opaque to clients, validated when read back. `id`
 * is an id with a type prefix or a base64url hash (refresh tokens).
 */
export function encodeCursor(at: number, id: string): string {
  return Buffer.from(`${at}:${id}`, 'utf8').toString('base64url');
}

/** Decodes a cursor; `undefined` for anything that was not made by `encodeCursor`. */
export function decodeCursor(cursor: string): { at: number; id: string } | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,16}):([A-Za-z0-9_-]{1,64})$/.exec(text);
  return match ? { at: Number(match[1]), id: match[2]! } : undefined;
}

/** Is event (at, id) strictly after the cursor in newest-first order? */
export function isBeyondCursor(at: number, id: string, cursor: { at: number; id: string }): boolean {
  return at < cursor.at || (at === cursor.at && id < cursor.id);
}
