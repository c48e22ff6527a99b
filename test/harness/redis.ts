/**
 * A real `redis-server` for tests: one per call, on a free loopback port, in a temp dir, with
 * persistence off. Nothing that a store test needs is mocked (ARCHITECTURE.md); a machine
 * without Redis fails the test with the package to install, never skips it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A running (or stopped, restartable) Redis server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Shuts the server down (SIGTERM) and waits until it has exited. */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL), as a crash would, and waits until it has exited. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (stopping it first if it runs); state is empty. */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  /** How long to wait for the first PONG; default 10,000 ms. */
  readyTimeoutMs?: number;
}

const MISSING =
  'redis-server is not installed. The tests need the Debian package "redis-server": ' +
  'apt-get install -y redis-server (as root; npm test installs it when run as root).';

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooked = false;

function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

// Servers must not outlive the test process, whether it ends normally or is terminated.
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

function redisBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, 'redis-server');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  throw new Error(MISSING);
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

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts `redis-server --port <free> --bind 127.0.0.1 --save '' --appendonly no` in a temp dir
 * and resolves once it answers PING. The server is killed when the process exits.
 *
 * @throws Error naming the Debian package `redis-server` when the binary is missing.
 * @example
 * const redis = await startRedis();
 * after(() => redis.stop());
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const binary = redisBinary();
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), 'rampart-redis-'));
  dirs.add(dir);
  const port = await freePort();
  const logFile = join(dir, 'redis.log');
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const proc = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--logfile',
        logFile,
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    // The test process may end without stopping us; the exit hook kills the server.
    proc.unref();
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const failed = new Promise<never>((_, reject) => {
      proc.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'ENOENT' ? new Error(MISSING) : error),
      );
      proc.once('exit', (code, signal) => {
        let log = '';
        try {
          log = readFileSync(logFile, 'utf8').split('\n').slice(-10).join('\n');
        } catch {}
        reject(
          new Error(`redis-server on port ${port} exited (${signal ?? code}) before answering PING\n${log}`),
        );
      });
    });
    failed.catch(() => {});
    child = proc;
    const deadline = Date.now() + readyTimeoutMs;
    while (!(await Promise.race([ping(port), failed]))) {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer PING within ${readyTimeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const end = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const proc = child;
    if (proc === undefined) return;
    child = undefined;
    // Unref'd so a forgotten server never holds the process open; while waiting for it to
    // exit, it must hold the loop, or a script's last `await stop()` would never settle.
    proc.ref();
    proc.kill(signal);
    await exited(proc);
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    async restart() {
      await end('SIGTERM');
      await launch();
    },
  };
}
