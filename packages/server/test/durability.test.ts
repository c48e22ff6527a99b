import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { sqliteStorage } from '../src/storage/sqlite.ts';
import { tempDir } from './helpers.ts';

test('an acknowledged SQLite write survives kill -9 of the writer', async () => {
  const path = join(tempDir(), 'rampart.db');
  const child = spawn(
    process.execPath,
    [new URL('./fixtures/sqlite-writer.ts', import.meta.url).pathname, path],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const acked: string[] = [];
  let buffer = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) if (line.startsWith('ack ')) acked.push(line.slice(4));
      if (acked.length >= 300 && !child.killed) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(child.signalCode, 'SIGKILL');
  const storage = sqliteStorage({ path });
  const missing = [];
  for (const id of acked) if (!(await storage.users.getById(id))) missing.push(id);
  storage.close();
  assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged writes were lost`);
});
