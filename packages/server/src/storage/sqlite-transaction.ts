import type { DatabaseSync } from 'node:sqlite';

/** Runs `fn` in `BEGIN IMMEDIATE` (takes the write lock up front, so no upgrade deadlock). */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
