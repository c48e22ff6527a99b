/**
 * A real PostgreSQL for tests: `initdb` into a temp dir and `pg_ctl start` on a free loopback
 * port (trust auth, unix socket inside the temp dir), Debian's `postgresql` package. One
 * cluster per call; `createDatabase()` gives each test file its own database. Nothing is
 * mocked (ARCHITECTURE.md); a machine without the binaries fails the test with the package to
 * install, never skips it.
 *
 * `initdb` refuses to run as root, so as root the cluster is made and run by the `postgres`
 * user (which the Debian package creates) through `runuser`.
 */
import { execFile, spawnSync } from 'node:child_process';
import {
  accessSync,
  chownSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (the maintenance database). */
  readonly url: string;
  readonly port: number;
  /** The cluster's data directory (`postmaster.pid` is in it). */
  readonly dataDir: string;
  /** Creates a fresh database and answers its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server (`pg_ctl stop -m fast`: open connections are cut); data is kept. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

const MISSING =
  'PostgreSQL is not installed. The tests need the Debian package "postgresql" (initdb and pg_ctl ' +
  'under /usr/lib/postgresql/<version>/bin): apt-get install -y postgresql (as root; npm test ' +
  'installs it when run as root).';

/** The directory holding `initdb` and `pg_ctl`: the newest Debian version, else PATH. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const bin = join(root, version, 'bin');
      if (executable(join(bin, 'initdb')) && executable(join(bin, 'pg_ctl'))) return bin;
    }
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && executable(join(dir, 'initdb')) && executable(join(dir, 'pg_ctl'))) return dir;
  }
  return undefined;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const clusters = new Map<string, () => void>();
let hooked = false;

// Clusters must not outlive the test process, whether it ends normally or is terminated.
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const stopAll = () => {
    for (const stop of clusters.values()) stop();
    clusters.clear();
  };
  process.on('exit', stopAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopAll();
      if (process.listenerCount(signal) === 0) process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Starts a throwaway PostgreSQL cluster and resolves once it accepts connections. It is
 * stopped (and its directory removed) when the process exits.
 *
 * @throws Error naming the Debian package `postgresql` when the binaries are missing.
 * @example
 * const postgres = await startPostgres();
 * const url = await postgres.createDatabase();
 * after(() => postgres.destroy());
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error(MISSING);
  hookExit();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'rampart-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  if (asRoot) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (ids.status !== 0) throw new Error(`running as root but there is no "postgres" user. ${MISSING}`);
    chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
  }
  const run = (command: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, command), ...args]]
      : [join(bin, command), args];
    const result = spawnSync(file, argv, { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    if (result.error) throw result.error;
    return result;
  };
  // pg_ctl start/stop without blocking the event loop: a test keeps its traffic going meanwhile.
  const runAsync = (command: string, args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      const [file, argv] = asRoot
        ? ['runuser', ['-u', 'postgres', '--', join(bin, command), ...args]]
        : [join(bin, command), args];
      execFile(file, argv, { encoding: 'utf8', cwd: dir, timeout: 90_000 }, (error, stdout, stderr) =>
        resolve({ status: error ? Number((error as { code?: unknown }).code) || 1 : 0, stdout, stderr }),
      );
    });
  const fail = (what: string, result: { stdout: string; stderr: string }) => {
    let tail = '';
    try {
      tail = readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
    } catch {}
    return new Error(`${what} failed:\n${result.stdout}\n${result.stderr}\n${tail}`);
  };

  const init = run('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  if (init.status !== 0) throw fail('initdb', init);

  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=200',
    // A test cluster: durability is not what these tests measure.
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
  ].join(' ');
  const start = async () => {
    const result = await runAsync('pg_ctl', [
      '-D',
      data,
      '-l',
      log,
      '-o',
      options,
      '-w',
      '-t',
      '60',
      'start',
    ]);
    if (result.status !== 0) throw fail(`pg_ctl start on port ${port}`, result);
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    if (!existsSync(join(data, 'postmaster.pid'))) return;
    const result = await runAsync('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    if (result.status !== 0 && existsSync(join(data, 'postmaster.pid'))) throw fail('pg_ctl stop', result);
  };
  clusters.set(dir, () => {
    try {
      if (existsSync(join(data, 'postmaster.pid')))
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    await start();
  } catch (error) {
    clusters.get(dir)?.();
    clusters.delete(dir);
    throw error;
  }

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let counter = 0;
  return {
    url,
    port,
    dataDir: data,
    async createDatabase(name) {
      const db = name ?? `rampart_${process.pid}_${++counter}`;
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(db)) throw new TypeError(`database name: ${db}`);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${db}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${db}`;
    },
    stop: () => stop('fast'),
    start,
    async destroy() {
      await stop('immediate');
      clusters.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
