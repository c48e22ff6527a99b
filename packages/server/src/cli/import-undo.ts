/**
 * Undoing a failed `rampart import`: deletes exactly the rows the import wrote (by the ids it
 * recorded as each write succeeded), so the target is as empty as before and a second import
 * can start clean. The storage interfaces have no delete (the server never needs one), so
 * this speaks SQL to the two schemas, whose table and key names are the same.
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { ServerConfig } from '../server/config.ts';
import type { PostgresStorage } from '../storage/postgres.ts';
import type { Storage } from '../storage/types.ts';
import type { Kind } from './export-format.ts';

/** The table and key column of each kind, in both SQL schemas. */
const TABLES: Record<Kind, { table: string; key: string }> = {
  user: { table: 'users', key: 'id' },
  apiKey: { table: 'api_keys', key: 'id' },
  refreshToken: { table: 'refresh_tokens', key: 'token_hash' },
  ttl: { table: 'ttl_entries', key: 'key' },
  signingKey: { table: 'signing_keys', key: 'kid' },
  auditEvent: { table: 'audit_events', key: 'id' },
};

const CHUNK = 10_000;

/** Written ids per kind. Signing keys of single-host storage live in a file, removed by the caller. */
export type Written = Record<Kind, string[]>;

/** Deletes `written` from the deployment's SQL storage, in one transaction; answers how many rows went. */
export async function undoImport(storage: Storage, config: ServerConfig, written: Written): Promise<number> {
  const kinds = (Object.keys(TABLES) as Kind[]).filter(
    (kind) => written[kind].length > 0 && (kind !== 'signingKey' || storage.signingKeys !== undefined),
  );
  if (storage.kind === 'postgres') {
    const client = await (storage as PostgresStorage).pool.connect();
    let removed = 0;
    try {
      await client.query('BEGIN');
      for (const kind of kinds) {
        const { table, key } = TABLES[kind];
        for (let i = 0; i < written[kind].length; i += CHUNK) {
          const result = await client.query(`DELETE FROM ${table} WHERE ${key} = ANY($1::text[])`, [
            written[kind].slice(i, i + CHUNK),
          ]);
          removed += result.rowCount ?? 0;
        }
      }
      await client.query('COMMIT');
      return removed;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
  if (storage.kind !== 'sqlite') throw new Error(`cannot undo an import into ${storage.kind} storage`);
  const db = new DatabaseSync(join(config.dataDir, 'rampart.db'));
  try {
    db.exec('PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE');
    let removed = 0;
    for (const kind of kinds) {
      const { table, key } = TABLES[kind];
      const remove = db.prepare(`DELETE FROM ${table} WHERE ${key} IN (SELECT value FROM json_each(?))`);
      for (let i = 0; i < written[kind].length; i += CHUNK) {
        removed += Number(remove.run(JSON.stringify(written[kind].slice(i, i + CHUNK))).changes);
      }
    }
    db.exec('COMMIT');
    return removed;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  } finally {
    db.close();
  }
}
