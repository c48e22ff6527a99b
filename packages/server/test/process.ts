import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';

const BIN = new URL('../bin/rampart.js', import.meta.url).pathname;

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** stdout so far (JSON log lines). */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `rampart serve` as a real process on a free loopback port and waits until it
 * listens. Rejects with its stderr when it exits first.
 */
export function startServe(env: Record<string, string>, timeoutMs = 20_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', HOST: '127.0.0.1', ...env },
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
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rampart serve did not start in time:\n${err}\n${out}`));
    }, timeoutMs);
    const onData = () => {
      const match = /listening at (https?):\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const port = Number(match[2]);
      resolve({
        child,
        port,
        url: `${match[1]}://127.0.0.1:${port}`,
        stdout: () => out,
        stderr: () => err,
        exited,
      });
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`rampart serve exited (${code}) before listening:\n${err}`));
    });
  });
}

/** Runs `rampart serve` expecting it to refuse to start; returns its exit code and stderr. */
export function failedStart(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: err });
    }),
  );
}

/** A self-signed certificate for 127.0.0.1, made with openssl for this test run. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
  } catch (error) {
    throw new Error(
      `openssl is needed to make a test certificate (Debian package "openssl"): ${(error as Error).message}`,
    );
  }
  return { cert, key };
}
