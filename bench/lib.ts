/**
 * Shared pieces of the benchmarks: start a contender as a process pinned to CPU 0, drive it
 * with wrk pinned to CPU 1, interleave rounds, report medians and ratios from the same run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

export { freePort } from '../test/harness/proxies.ts';

import { connect } from 'node:net';

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
}

export interface Contender {
  name: string;
  /** Command and args; the process must print `listening <port>` or Fastify's "listening at" line. */
  command: string[];
  env?: Record<string, string>;
  path: string;
  headers?: Record<string, string>;
  /** Runs once after the process is up (e.g. log in to get a token); returns extra headers. */
  prepare?: (baseUrl: string) => Promise<Record<string, string>>;
}

export interface Running {
  name: string;
  url: string;
  child: ChildProcess;
  headers: Record<string, string>;
  path: string;
}

export function requireWrk(): void {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('the benchmarks need wrk (Debian package "wrk"): apt-get install -y wrk');
    }
  }
}

export async function start(contender: Contender): Promise<Running> {
  const child = spawn('taskset', ['-c', '0', ...contender.command], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...contender.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // A contender given its port (one that prints no listening line, e.g. at logLevel warn) is
  // ready when the port takes a connection.
  const fixed = Number(contender.env?.PORT ?? 0);
  const port = await new Promise<number>((resolve, reject) => {
    if (fixed > 0) {
      const deadline = Date.now() + 30_000;
      const attempt = () => {
        const socket = connect(fixed, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(fixed);
        });
        socket.once('error', () => {
          socket.destroy();
          if (Date.now() > deadline) reject(new Error(`${contender.name} did not start:\n${out}`));
          else setTimeout(attempt, 100);
        });
      };
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.once('exit', (code) => reject(new Error(`${contender.name} exited (${code}):\n${out}`)));
      return attempt();
    }
    const timer = setTimeout(() => reject(new Error(`${contender.name} did not start:\n${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening (?:at https?:\/\/127\.0\.0\.1:|on |)(\d{2,5})\b/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${contender.name} exited (${code}):\n${out}`)));
  });
  // Drain output so a chatty logger never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.resume();
  const url = `http://127.0.0.1:${port}`;
  const extra = contender.prepare ? await contender.prepare(url) : {};
  return {
    name: contender.name,
    url,
    child,
    headers: { ...contender.headers, ...extra },
    path: contender.path,
  };
}

export function stop(running: Running): Promise<void> {
  return new Promise((resolve) => {
    running.child.once('exit', () => resolve());
    running.child.kill('SIGTERM');
    setTimeout(() => running.child.kill('SIGKILL'), 5_000).unref();
  });
}

export function wrk(running: Running, options: { connections: number; seconds: number }): WrkResult {
  const args = [
    '-c',
    '1',
    'wrk',
    '-t',
    '1',
    '-c',
    String(options.connections),
    '-d',
    `${options.seconds}s`,
    '--latency',
  ];
  for (const [k, v] of Object.entries(running.headers)) args.push('-H', `${k}: ${v}`);
  args.push(running.url + running.path);
  const out = execFileSync('taskset', args, { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const toMs = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  const p = (q: string) => {
    const m = new RegExp(`\\s${q}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? toMs(m[1]!, m[2]!) : Number.NaN;
  };
  return { rps, p50Ms: p('50'), p99Ms: p('99'), non2xx };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Runs every contender `rounds` times, interleaved (A B C A B C …) so drift on the machine
 * hits all of them alike, and returns the medians.
 */
export async function compare(
  contenders: Contender[],
  options: { rounds: number; connections: number; seconds: number; warmupSeconds?: number },
): Promise<Array<{ name: string; rps: number; p50Ms: number; p99Ms: number; non2xx: number }>> {
  requireWrk();
  const running: Running[] = [];
  try {
    for (const c of contenders) running.push(await start(c));
    for (const r of running)
      wrk(r, { connections: options.connections, seconds: options.warmupSeconds ?? 2 });
    const results = new Map<string, WrkResult[]>();
    for (let round = 0; round < options.rounds; round++) {
      for (const r of running) {
        const result = wrk(r, options);
        results.set(r.name, [...(results.get(r.name) ?? []), result]);
        process.stderr.write(
          `  round ${round + 1} ${r.name}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms\n`,
        );
      }
    }
    return running.map((r) => {
      const list = results.get(r.name)!;
      return {
        name: r.name,
        rps: median(list.map((x) => x.rps)),
        p50Ms: median(list.map((x) => x.p50Ms)),
        p99Ms: median(list.map((x) => x.p99Ms)),
        non2xx: list.reduce((n, x) => n + x.non2xx, 0),
      };
    });
  } finally {
    await Promise.all(running.map(stop));
  }
}

/** A markdown table with each row's ratio to the baseline row. */
export function table(
  rows: Array<{ name: string; rps: number; p50Ms: number; p99Ms: number; non2xx: number }>,
  baseline: string,
): string {
  const base = rows.find((r) => r.name === baseline)!;
  const lines = [
    '| contender | req/s (median) | vs ' + baseline + ' | p50 ms | p99 ms | non-2xx |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${Math.round(r.rps)} | ${(r.rps / base.rps).toFixed(2)}× | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.non2xx} |`,
    );
  }
  return lines.join('\n');
}
