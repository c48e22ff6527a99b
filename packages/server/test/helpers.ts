import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { ConfigFile } from '../src/server/config.ts';
import { loadConfig } from '../src/server/config.ts';
import { type CreateServerOptions, createRampartServer, type RampartServer } from '../src/server/server.ts';
import { memoryStorage } from '../src/storage/memory.ts';
import type { Storage } from '../src/storage/types.ts';

export interface TestServer extends RampartServer {
  /** Every log line written so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  /** The raw log text. */
  logText(): string;
  dataDir: string;
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'rampart-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * An in-process server (memory storage unless asked otherwise) with its log captured,
 * for `app.inject()` tests.
 */
export async function testServer(
  options: {
    file?: ConfigFile;
    env?: Record<string, string>;
    storage?: Storage | 'sqlite';
    now?: () => number;
    routes?: CreateServerOptions['routes'];
  } = {},
): Promise<TestServer> {
  const dataDir = tempDir();
  const env: Record<string, string> = { RAMPART_DATA_DIR: dataDir, ...options.env };
  if (options.file) {
    const path = join(dataDir, 'config.json');
    writeFileSync(path, JSON.stringify(options.file));
    env.RAMPART_CONFIG = path;
  }
  const config = loadConfig(env, dataDir);
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const server = await createRampartServer(config, {
    ...(options.storage === 'sqlite' ? {} : { storage: options.storage ?? memoryStorage() }),
    logStream: stream,
    ...(options.now ? { now: options.now } : {}),
    ...(options.routes ? { routes: options.routes } : {}),
  });
  return {
    ...server,
    dataDir,
    logText: () => text,
    logs: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
