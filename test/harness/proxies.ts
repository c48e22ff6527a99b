/**
 * Real reverse proxies for forward-auth tests: Debian's `nginx` and `caddy`, one per call, on
 * a free loopback port, with a generated configuration in a temp dir (nginx with `-p` and
 * `-c`, `daemon off`, its pid, logs and temp files in that dir, so it runs without root).
 * Nothing is mocked; a machine without the package fails the test naming it, never skips.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface ProxyServer {
  readonly port: number;
  readonly url: string;
  /** The proxy's own error log so far (for a failing test's message). */
  log(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** The binary, on PATH or in the sbin directories Debian puts servers in. */
function binary(name: string, pkg: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {}
  }
  throw new Error(
    `${name} is not installed. The tests need the Debian package "${pkg}": apt-get install -y ${pkg} (as root; npm test installs it when run as root).`,
  );
}

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function launch(
  name: string,
  command: string,
  args: string[],
  port: number,
  dir: string,
  logFile: string,
  env: Record<string, string> = {},
): Promise<ProxyServer> {
  hookExit();
  const child = spawn(command, args, {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  live.add(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const readLog = () => {
    try {
      return `${readFileSync(logFile, 'utf8')}${stderr}`;
    } catch {
      return stderr;
    }
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
    live.delete(child);
  });
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (gone) throw new Error(`${name} exited before listening on ${port}:\n${readLog()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not listen on ${port} within 15 s:\n${readLog()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    log: readLog,
    async stop() {
      if (!gone) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts nginx with `site` (a `server { … }` block, listening on `port`) inside an `http`
 * block of its own: foreground, pid, logs and temp paths in a temp prefix.
 * @throws Error naming the Debian package `nginx` when it is missing.
 */
export async function startNginx(site: string, port: number): Promise<ProxyServer> {
  const nginx = binary('nginx', 'nginx');
  const dir = mkdtempSync(join(tmpdir(), 'rampart-nginx-'));
  // Workers may run as another user when the master is root: they must reach their temp dirs.
  chmodSync(dir, 0o755);
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(join(dir, sub));
    chmodSync(join(dir, sub), 0o777);
  }
  const logFile = join(dir, 'error.log');
  const config = `daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${logFile} warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${join(dir, 'client_body')};
    proxy_temp_path ${join(dir, 'proxy')};
    fastcgi_temp_path ${join(dir, 'fastcgi')};
    uwsgi_temp_path ${join(dir, 'uwsgi')};
    scgi_temp_path ${join(dir, 'scgi')};
${site}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  return launch(
    'nginx',
    nginx,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', logFile],
    port,
    dir,
    logFile,
  );
}

/**
 * Starts Caddy with `site` (a Caddyfile site block on `port`): no admin endpoint, no
 * automatic HTTPS, its data and config dirs in a temp dir.
 * @throws Error naming the Debian package `caddy` when it is missing.
 */
export async function startCaddy(site: string, port: number): Promise<ProxyServer> {
  const caddy = binary('caddy', 'caddy');
  const dir = mkdtempSync(join(tmpdir(), 'rampart-caddy-'));
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, `{\n\tadmin off\n\tauto_https off\n}\n\n${site}`);
  const logFile = join(dir, 'none.log');
  return launch('caddy', caddy, ['run', '--config', file, '--adapter', 'caddyfile'], port, dir, logFile, {
    HOME: dir,
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_CONFIG_HOME: join(dir, 'config'),
  });
}
