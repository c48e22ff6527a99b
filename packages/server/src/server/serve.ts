import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { ADMIN_KEY_FILE } from './api-keys/bootstrap.ts';
import { logDestination, writeOut } from './app.ts';
import { banner } from './banner.ts';
import { ConfigError, loadConfig } from './config.ts';
import { resolveLogFormat } from './log-format.ts';
import { createRampartServer } from './server.ts';
import { serverVersion } from './version.ts';

/** Where a browser or curl reaches a server listening on `address` (a wildcard is this host). */
function reachableUrl(address: AddressInfo, https: boolean): string {
  const host =
    address.address === '0.0.0.0' || address.address === '::'
      ? '127.0.0.1'
      : address.family === 'IPv6'
        ? `[${address.address}]`
        : address.address;
  return `${https ? 'https' : 'http'}://${host}:${address.port}`;
}

/**
 * `rampart serve`: loads and validates the configuration, starts the server, and stops it
 * cleanly on SIGTERM/SIGINT (in-flight requests finish, buffered events are written, exit 0).
 * Anything that prevents the start prints one clear line and exits non-zero.
 *
 * On a terminal the log is short lines for a person and a banner says where everything is and
 * what to try next; elsewhere (a pipe, a file, a container's log) it is one JSON line per
 * event, with a `started` line holding the same facts. `RAMPART_LOG_FORMAT` (`--log-format`)
 * chooses either way.
 */
export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TypeError) {
      fail(`invalid configuration: ${error.message}`, 2);
    }
    throw error;
  }
  const format = resolveLogFormat(config.logFormat, process.stdout.isTTY === true);
  const color = format === 'pretty' && process.stdout.isTTY === true && !env.NO_COLOR;
  let server: Awaited<ReturnType<typeof createRampartServer>>;
  try {
    server = await createRampartServer(config, { logStream: logDestination(format, color) });
  } catch (error) {
    if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`, 2);
    fail(`cannot start: ${(error as Error).message}`, 1);
  }
  try {
    await server.app.listen({ port: config.port, host: config.host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'EADDRINUSE'
        ? `port ${config.port} on ${config.host} is already in use`
        : code === 'EACCES'
          ? `no permission to listen on port ${config.port}`
          : (error as Error).message;
    await server.close().catch(() => {});
    fail(`cannot start: ${reason}`, 1);
  }
  server.context.audit.record({
    type: 'sys_startup',
    outcome: 'info',
    detail: { storage: server.context.storage.kind },
  });

  const url = reachableUrl(server.app.server.address() as AddressInfo, config.tls !== undefined);
  const adminKeyFile = join(config.dataDir, ADMIN_KEY_FILE);
  const bootstrap = server.context.apiKeys.bootstrap;
  // The same facts as the banner, for machines; the key itself never, only its file.
  if (format === 'json') {
    server.app.log.info(
      {
        url,
        version: serverVersion(),
        storage: server.context.storage.kind,
        dataDir: config.dataDir,
        adminKey:
          bootstrap.kind === 'env'
            ? { from: 'RAMPART_BOOTSTRAP_ADMIN_KEY' }
            : existsSync(adminKeyFile)
              ? { file: adminKeyFile, created: bootstrap.kind === 'file' }
              : { file: null },
      },
      'started',
    );
  } else {
    const installed = import.meta.url.includes('/node_modules/');
    writeOut(
      banner({
        version: serverVersion(),
        url,
        storage: server.context.storage.kind,
        dataDir: config.dataDir,
        adminKey: bootstrap,
        adminKeyFile,
        adminKeyFilePresent: existsSync(adminKeyFile),
        // In the repository the command is the workspace's bin, run with npx.
        command: installed ? 'rampart' : 'npx rampart',
        cwd: process.cwd(),
        defaultDataDir: config.dataDir === resolve(process.cwd(), 'data'),
        color,
      }),
    );
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'stopping');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`rampart: error while stopping: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

function fail(message: string, exitCode: number): never {
  console.error(`rampart: ${message}`);
  process.exit(exitCode);
}
