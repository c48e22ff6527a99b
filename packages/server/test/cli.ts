import { type ChildProcess, spawn, spawnSync } from 'node:child_process';

/** Helpers for tests that run the real `rampart` command (bin/rampart.js) as a process. */

export const BIN = new URL('../bin/rampart.js', import.meta.url).pathname;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `rampart …args` to completion with only `env` (plus PATH and HOME) in its environment,
 * so the machine's own RAMPART_* variables cannot leak in.
 */
export function rampart(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; input?: string; node?: string } = {},
): Run {
  const run = spawnSync(options.node ?? process.execPath, [BIN, ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
      ...options.env,
    },
    encoding: 'utf8',
    timeout: 60_000,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

export interface Serving {
  child: ChildProcess;
  port: number;
  stdout(): string;
  /** Stops it (SIGTERM) and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `rampart serve …args` and waits for its "listening at" line. */
export function serveWith(args: readonly string[], env: Record<string, string>): Promise<Serving> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rampart serve did not start in time:\n${err}\n${out}`));
    }, 30_000);
    child.stdout!.on('data', () => {
      const match = /listening at https?:\/\/[^:]+:(\d+)/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        child,
        port: Number(match[1]),
        stdout: () => out,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      });
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`rampart serve exited before listening:\n${err}`));
    });
  });
}
