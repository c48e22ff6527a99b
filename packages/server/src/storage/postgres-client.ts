import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { RampartError } from 'rampart/internal/errors.ts';

/**
 * The few ways Rampart's PostgreSQL stores talk to the pool: named (prepared) statements,
 * transactions on one connection, and one rule for failures: a lost or overloaded database
 * becomes `STORE_UNAVAILABLE` (503 with `Retry-After`), never a 500 and never a hang (the pool
 * bounds connecting, the server bounds statements, the client bounds waiting for an answer).
 */

/** Seconds a client is told to wait when the database is unreachable. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/** Socket-level failures: the database host is down, unreachable or cut the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that say "the database cannot serve this now", not "this request is wrong":
 * class 08 (connection exception), 53 (insufficient resources), 57P0x (shutdown, restart),
 * 57014 (statement timeout), 55P03 (lock not available), 25006 (a read-only standby after a
 * failover) and 58 (I/O error).
 */
function unavailableState(code: string): boolean {
  return (
    /^(08|53|58)/.test(code) ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '57014' ||
    code === '55P03' ||
    code === '25006'
  );
}

/** The driver's own words for a connection it lost or could not make in time. */
const DRIVER_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|not queryable|Client was closed|Connection ended|the database system is (starting up|shutting down)/i;

/** Does `error` mean the database is unavailable (as opposed to a bug or a bad statement)? */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof RampartError) return error.code === 'STORE_UNAVAILABLE';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || unavailableState(code))) return true;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && DRIVER_MESSAGES.test(message);
}

/** Turns a database failure into what the request path answers; other errors pass unchanged. */
export function storeError(error: unknown): unknown {
  if (error instanceof RampartError || !isUnavailable(error)) return error;
  return new RampartError('STORE_UNAVAILABLE', {
    headers: { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) },
    cause: error,
  });
}

/** PostgreSQL text cannot hold U+0000; a value with one can match no stored row. */
function hasNul(values: readonly unknown[]): boolean {
  for (const value of values) {
    if (typeof value === 'string' && value.includes('\u0000')) return true;
    if (Array.isArray(value) && hasNul(value)) return true;
  }
  return false;
}

/** Runs statements: on the pool, or on one connection inside a transaction. */
export interface Sql {
  /** A read: no rows when a value holds U+0000 (no stored text can). */
  read<R extends QueryResultRow = QueryResultRow>(
    name: string,
    text: string,
    values?: unknown[],
  ): Promise<R[]>;
  /** A write: answers the affected row count and any RETURNING rows. */
  write<R extends QueryResultRow = QueryResultRow>(
    name: string,
    text: string,
    values?: unknown[],
  ): Promise<{ count: number; rows: R[] }>;
}

function sqlOn(
  run: (
    name: string,
    text: string,
    values: unknown[],
  ) => Promise<{ rowCount: number | null; rows: QueryResultRow[] }>,
): Sql {
  return {
    async read<R extends QueryResultRow>(name: string, text: string, values: unknown[] = []) {
      if (hasNul(values)) return [];
      return (await run(name, text, values)).rows as R[];
    },
    async write<R extends QueryResultRow>(name: string, text: string, values: unknown[] = []) {
      if (hasNul(values)) throw new TypeError('PostgreSQL text cannot hold the character U+0000');
      const result = await run(name, text, values);
      return { count: result.rowCount ?? 0, rows: result.rows as R[] };
    },
  };
}

export interface PgExecutor extends Sql {
  /**
   * Runs `fn` in `BEGIN … COMMIT` on one connection; rolls back when it throws or answers
   * `{ rollback: value }`. A connection that failed mid-transaction is discarded, not reused.
   */
  transaction<T>(fn: (sql: Sql) => Promise<T | Rollback<T>>): Promise<T>;
}

/** Ends a transaction without its writes, answering `value`. */
export interface Rollback<T> {
  rollback: T;
}

export function rollback<T>(value: T): Rollback<T> {
  return { rollback: value };
}

function isRollback<T>(value: T | Rollback<T>): value is Rollback<T> {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, 'rollback');
}

/** Named statements on `pool`, every failure passed through `storeError`. */
export function pgExecutor(pool: Pool): PgExecutor {
  const pooled = sqlOn(async (name, text, values) => {
    try {
      return await pool.query({ name, text, values });
    } catch (error) {
      throw storeError(error);
    }
  });
  return {
    ...pooled,
    async transaction<T>(fn: (sql: Sql) => Promise<T | Rollback<T>>): Promise<T> {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw storeError(error);
      }
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const outcome = await fn(sqlOn((name, text, values) => client.query({ name, text, values })));
        await client.query(isRollback(outcome) ? 'ROLLBACK' : 'COMMIT');
        return isRollback(outcome) ? outcome.rollback : outcome;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = error as Error;
        }
        if (isUnavailable(error)) broken = error as Error;
        throw storeError(error);
      } finally {
        client.release(broken);
      }
    },
  };
}
