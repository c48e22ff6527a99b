/**
 * `rampart doctor`: checks a setup before (or beside) `rampart serve` and prints one verdict
 * per line, `ok`, `warn` or `fail`, exiting 1 when any check fails. It only reads: it opens
 * SQLite read-only, never migrates, never creates the data dir, and never prints a secret
 * (URLs are shown without their credentials; keys and peppers only as "set").
 */
import { accessSync, constants, type Stats, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ADMIN_KEY_FILE } from '../server/api-keys/bootstrap.ts';
import { PEPPER_FILE, parsePeppers } from '../server/api-keys/pepper.ts';
import { ConfigError, type ServerConfig } from '../server/config.ts';
import { SQLITE_MIGRATIONS } from '../storage/sqlite-migrations.ts';
import { parseFlags } from './args.ts';
import type { Command, Io } from './command.ts';
import { loadCliConfig } from './config.ts';
import { envWithFlags, inFlagTerms, SERVE_OPTIONS } from './serve.ts';
import { didYouMean } from './suggest.ts';

export type Verdict = 'ok' | 'warn' | 'fail';
export interface Check {
  verdict: Verdict;
  name: string;
  detail: string;
}

export const DOCTOR_USAGE = `Usage:
  rampart doctor [--port <port>] [--host <address>] [--data-dir <dir>] [--config <file.json>]

Checks the setup \`rampart serve\` would start with (same flags, same environment), one
verdict per line (ok, warn or fail); exits 1 when any check fails:

  config       the configuration loads (the field is named when it does not)
  environment  unknown RAMPART_* variables (did you mean …?)
  node         Node.js 24.7 or later
  listen       the port is free on the host
  data dir     writable, and mode 0700
  admin key    <data dir>/admin-key is mode 0600 (or RAMPART_BOOTSTRAP_ADMIN_KEY is set)
  pepper       RAMPART_API_KEY_PEPPER, or <data dir>/pepper with mode 0600
  signing keys <data dir>/signing-keys.json is mode 0600 (SQLite deployments)
  sqlite       the database opens and its schema is current (without DATABASE_URL)
  postgres     DATABASE_URL answers and its schema is current
  redis        REDIS_URL answers PING
  clock        this machine's clock against the database's (or Redis'), and against the
               newest audit event

It only reads: nothing is created, migrated or written.
`;

/** The variables Rampart reads (README, Configuration); any other RAMPART_* is likely a typo. */
export const KNOWN_VARIABLES = [
  'RAMPART_DATA_DIR',
  'RAMPART_CONFIG',
  'RAMPART_PG_POOL_SIZE',
  'RAMPART_PG_STATEMENT_TIMEOUT',
  'RAMPART_PG_CONNECT_TIMEOUT',
  'RAMPART_API_KEY_PEPPER',
  'RAMPART_API_KEY_LEGACY_SHA256',
  'RAMPART_BOOTSTRAP_ADMIN_KEY',
  'RAMPART_TLS_CERT',
  'RAMPART_TLS_KEY',
  'RAMPART_JWT_SECRET',
  'RAMPART_SMTP_URL',
  'RAMPART_MAIL_FROM',
  'RAMPART_RESET_URL',
  'RAMPART_MEMORY_TUNING',
] as const;

const ok = (name: string, detail: string): Check => ({ verdict: 'ok', name, detail });
const warn = (name: string, detail: string): Check => ({ verdict: 'warn', name, detail });
const fail = (name: string, detail: string): Check => ({ verdict: 'fail', name, detail });

const octal = (stats: Stats) => (stats.mode & 0o777).toString(8).padStart(4, '0');
const statOrUndefined = (path: string) => {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
};

/** A URL without user, password or query (where secrets hide): `postgres://db.internal:5432/rampart`. */
export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/** Whether `major.minor` of `version` (`24.7.0`) is at least 24.7. */
export function nodeIsRecent(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 24 || (major === 24 && minor >= 7);
}

function checkNode(version: string): Check {
  return nodeIsRecent(version)
    ? ok('node', `Node.js ${version}`)
    : fail(
        'node',
        `Node.js ${version}; Rampart needs 24.7 or later (npm start and npx rampart use the project's)`,
      );
}

function checkVariables(env: NodeJS.ProcessEnv): Check[] {
  return Object.keys(env)
    .filter((name) => name.startsWith('RAMPART_') && !(KNOWN_VARIABLES as readonly string[]).includes(name))
    .map((name) =>
      warn('environment', `${name} is not a Rampart variable${didYouMean(name, KNOWN_VARIABLES)}`),
    );
}

/** A secret file: must be the owner's alone. Missing is `missing`'s verdict. */
function checkSecretFile(name: string, path: string, missing: Check): Check {
  const stats = statOrUndefined(path);
  if (stats === undefined) return missing;
  if (!stats.isFile()) return fail(name, `${path} is not a file`);
  if ((stats.mode & 0o077) !== 0)
    return fail(name, `${path} has mode ${octal(stats)}: others can read it; chmod 600 ${path}`);
  return ok(name, `${path} (mode ${octal(stats)})`);
}

function checkDataDir(dir: string): Check {
  const stats = statOrUndefined(dir);
  if (stats === undefined) {
    const parent = dirname(dir);
    try {
      accessSync(parent, constants.W_OK);
      return warn('data dir', `${dir} does not exist yet; the first start creates it (mode 0700)`);
    } catch {
      return fail('data dir', `${dir} does not exist and ${parent} is not writable`);
    }
  }
  if (!stats.isDirectory()) return fail('data dir', `${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return fail('data dir', `${dir} is not writable`);
  }
  if ((stats.mode & 0o077) !== 0)
    return warn('data dir', `${dir} has mode ${octal(stats)}: others can list it; chmod 700 ${dir}`);
  return ok('data dir', `${dir} (writable, mode ${octal(stats)})`);
}

function checkAdminKey(config: ServerConfig): Check {
  if (config.bootstrapAdminKey !== undefined) return ok('admin key', 'RAMPART_BOOTSTRAP_ADMIN_KEY is set');
  const path = join(config.dataDir, ADMIN_KEY_FILE);
  return checkSecretFile(
    'admin key',
    path,
    warn(
      'admin key',
      `no ${path}: the first start writes one (mode 0600); after that, keep it or set RAMPART_BOOTSTRAP_ADMIN_KEY`,
    ),
  );
}

function checkPepper(config: ServerConfig, env: NodeJS.ProcessEnv): Check {
  const fromEnv = env.RAMPART_API_KEY_PEPPER;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    try {
      const { peppers, current } = parsePeppers(fromEnv, 'RAMPART_API_KEY_PEPPER');
      return ok(
        'pepper',
        `RAMPART_API_KEY_PEPPER (${Object.keys(peppers).length} version(s), current ${current})`,
      );
    } catch (error) {
      return fail('pepper', (error as Error).message);
    }
  }
  if (config.databaseUrl)
    return fail(
      'pepper',
      'DATABASE_URL needs RAMPART_API_KEY_PEPPER, so every instance hashes API keys alike',
    );
  const path = join(config.dataDir, PEPPER_FILE);
  return checkSecretFile(
    'pepper',
    path,
    ok('pepper', `no ${path} yet: the first API key makes one (mode 0600)`),
  );
}

/** The local clock against another one read at `remoteMs` between `before` and `after`. */
export function clockCheck(source: string, remoteMs: number, before: number, after: number): Check {
  const skew = Math.round(remoteMs - (before + after) / 2);
  const text = `${Math.abs(skew)} ms ${skew >= 0 ? 'behind' : 'ahead of'} ${source}`;
  if (Math.abs(skew) <= 1_000) return ok('clock', `within 1 s of ${source} (${text})`);
  if (Math.abs(skew) <= 30_000)
    return warn('clock', `${text}: token times and rate windows disagree between instances; run NTP`);
  return fail('clock', `${text}: tokens will be refused as not yet valid or expired; fix the clock (NTP)`);
}

/** The clock is past the newest stored audit event: a clock that jumped back shows here. */
function newestEventCheck(newest: number | null, now: number): Check | undefined {
  if (newest === null || newest <= now + 60_000) return undefined;
  return warn(
    'clock',
    `the newest audit event is ${Math.round((newest - now) / 1000)} s in the future: did the clock jump back?`,
  );
}

function checkSqlite(config: ServerConfig, now: number): Check[] {
  const path = join(config.dataDir, 'rampart.db');
  const stats = statOrUndefined(path);
  if (stats === undefined) return [warn('sqlite', `no ${path} yet: the first start creates it`)];
  const checks: Check[] = [];
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    const applied = new Set(
      db
        .prepare('SELECT id FROM schema_migrations')
        .all()
        .map((row) => String(row.id)),
    );
    const pending = SQLITE_MIGRATIONS.filter((m) => !applied.has(m.id)).length;
    checks.push(
      pending === 0
        ? ok('sqlite', `${path} opens; schema current (${applied.size} migrations)`)
        : warn(
            'sqlite',
            `${path} opens; ${pending} migration(s) pending (rampart migrate, or the next start)`,
          ),
    );
    if ((stats.mode & 0o077) !== 0)
      checks.push(fail('sqlite', `${path} has mode ${octal(stats)}: others can read it; chmod 600 ${path}`));
    const row = db.prepare('SELECT max(at) AS newest FROM audit_events').get() as
      | { newest: number | null }
      | undefined;
    const event = newestEventCheck(row?.newest ?? null, now);
    checks.push(event ?? ok('clock', `${new Date(now).toISOString()}, after every stored audit event`));
  } catch (error) {
    checks.push(fail('sqlite', `${path} does not open: ${(error as Error).message}`));
  } finally {
    db?.close();
  }
  return checks;
}

async function checkPostgres(config: ServerConfig, now: () => number): Promise<Check[]> {
  const where = redactUrl(config.databaseUrl!);
  const client = new pg.Client({
    connectionString: config.databaseUrl,
    connectionTimeoutMillis: config.postgres.connectTimeoutMs,
    statement_timeout: config.postgres.statementTimeoutMs,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const before = now();
    const { rows } = await client.query<{ ms: string }>(
      'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms',
    );
    const after = now();
    const checks = [ok('postgres', `${where} answers`)];
    try {
      const applied = await client.query<{ id: string }>('SELECT id FROM schema_migrations');
      checks.push(ok('postgres', `schema: ${applied.rows.length} migrations applied`));
      const newest = await client.query<{ newest: string | null }>(
        'SELECT max(at) AS newest FROM audit_events',
      );
      const event = newestEventCheck(
        newest.rows[0]?.newest == null ? null : Number(newest.rows[0].newest),
        after,
      );
      if (event) checks.push(event);
    } catch {
      checks.push(warn('postgres', 'no schema yet: rampart migrate (or the first start) creates it'));
    }
    checks.push(clockCheck('PostgreSQL', Number(rows[0]!.ms), before, after));
    return checks;
  } catch (error) {
    return [fail('postgres', `${where} does not answer: ${(error as Error).message}`)];
  } finally {
    await client.end().catch(() => {});
  }
}

async function checkRedis(url: string, now: () => number): Promise<Check[]> {
  const where = redactUrl(url);
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // The socket's own error (ECONNREFUSED …) says more than the rejection ("Connection is closed").
  let cause: Error | undefined;
  redis.on('error', (error: Error) => {
    cause ??= error;
  });
  try {
    await redis.connect();
    await redis.ping();
    const before = now();
    const [seconds, micros] = await redis.time();
    const after = now();
    return [
      ok('redis', `${where} answers PING`),
      clockCheck('Redis', Number(seconds) * 1000 + Number(micros) / 1000, before, after),
    ];
  } catch (error) {
    return [fail('redis', `${where} does not answer: ${(cause ?? (error as Error)).message}`)];
  } finally {
    redis.disconnect();
  }
}

/** Is `port` on `host` free to listen on? (Port 0 always is.) */
function checkListen(host: string, port: number): Promise<Check> {
  if (port === 0) return Promise.resolve(ok('listen', `${host}, any free port`));
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        error.code === 'EADDRINUSE'
          ? warn('listen', `port ${port} on ${host} is in use (a running rampart serve?)`)
          : fail('listen', `cannot listen on ${host}:${port} (${error.code ?? error.message})`),
      ),
    );
    server.listen({ port, host, exclusive: true }, () =>
      server.close(() => resolve(ok('listen', `${host}:${port} is free`))),
    );
  });
}

/** Every check for `env`, in the order printed. */
export async function runChecks(
  env: NodeJS.ProcessEnv,
  now: () => number,
  nodeVersion = process.versions.node,
): Promise<Check[]> {
  const checks: Check[] = [];
  let config: ServerConfig;
  try {
    config = loadCliConfig(env);
    checks.push(
      ok(
        'config',
        env.RAMPART_CONFIG ? `loaded ${env.RAMPART_CONFIG}` : 'defaults and environment (no config file)',
      ),
    );
  } catch (error) {
    if (!(error instanceof ConfigError) && !(error instanceof TypeError)) throw error;
    checks.push(...error.message.split('\n').map((line) => fail('config', line)));
    return [...checks, ...checkVariables(env), checkNode(nodeVersion)];
  }
  checks.push(...checkVariables(env), checkNode(nodeVersion), await checkListen(config.host, config.port));
  checks.push(checkDataDir(config.dataDir), checkAdminKey(config), checkPepper(config, env));
  if (config.databaseUrl) checks.push(...(await checkPostgres(config, now)));
  else {
    const keys = join(config.dataDir, 'signing-keys.json');
    checks.push(
      checkSecretFile('signing keys', keys, ok('signing keys', `no ${keys} yet: the first start makes it`)),
    );
    checks.push(...checkSqlite(config, now()));
  }
  if (config.redisUrl) checks.push(...(await checkRedis(config.redisUrl, now)));
  const year = new Date(now()).getUTCFullYear();
  if (year < 2025 || year > 2100)
    checks.push(fail('clock', `the clock says ${new Date(now()).toISOString()}`));
  return checks;
}

/** The checks as aligned lines and a summary line. */
export function report(checks: readonly Check[]): string {
  const lines = checks.map((c) => `${c.verdict.padEnd(5)} ${c.name.padEnd(13)} ${c.detail}`);
  const count = (v: Verdict) => checks.filter((c) => c.verdict === v).length;
  return `${lines.join('\n')}\n\n${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail\n`;
}

async function doctorCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseFlags('doctor', argv, SERVE_OPTIONS);
  const env = envWithFlags(io.env, values);
  const checks = (await runChecks(env, io.now)).map((c) =>
    c.name === 'config' ? { ...c, detail: inFlagTerms(new ConfigError(c.detail), values).message } : c,
  );
  io.out(report(checks));
  if (checks.some((c) => c.verdict === 'fail')) process.exitCode = 1;
}

export const DOCTOR_COMMAND: Command = {
  name: 'doctor',
  summary: 'check configuration, files, stores and clock; one verdict per line',
  usage: DOCTOR_USAGE,
  form: { options: SERVE_OPTIONS },
  run: doctorCommand,
};
