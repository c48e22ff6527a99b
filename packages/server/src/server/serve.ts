import { ConfigError, loadConfig } from './config.ts';
import { createRampartServer } from './server.ts';

/**
 * `rampart serve`: loads and validates the configuration, starts the server, and stops it
 * cleanly on SIGTERM/SIGINT (in-flight requests finish, buffered events are written, exit 0).
 * Anything that prevents the start prints one clear line and exits non-zero.
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
  let server: Awaited<ReturnType<typeof createRampartServer>>;
  try {
    server = await createRampartServer(config);
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
