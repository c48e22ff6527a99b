import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { runSharedDatabaseContract, runStorageContract } from './contract.ts';
import { sqliteStorage } from './sqlite.ts';

const freshPath = () => join(mkdtempSync(join(tmpdir(), 'rampart-sqlite-')), 'rampart.db');

runStorageContract('sqlite', () => sqliteStorage({ path: freshPath() }));

// Two connections on one file, as two instances on one host would open it.
runSharedDatabaseContract('sqlite', async () => {
  const path = freshPath();
  const a = sqliteStorage({ path });
  const b = sqliteStorage({ path });
  return {
    a,
    b,
    close() {
      a.close();
      b.close();
    },
  };
});

/**
 * Writes from another thread, which really runs at the same time as this one (the
 * connections in one thread above take turns): each worker opens the file and adds usage and
 * spends credits in a loop.
 */
const WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.module).then(({ sqliteStorage }) => {
  const s = sqliteStorage({ path: workerData.path, busyTimeoutMs: 30000 });
  let spent = 0;
  for (let i = 0; i < workerData.rounds; i++) {
    s.usage.add([{ keyId: workerData.keyId, outcome: 'VALID', at: 1704110400000 + i, count: 2 }]);
    if (s.apiKeys.spendCredits(workerData.keyId, 1, 5000).allowed) spent++;
  }
  s.close();
  parentPort.postMessage(spent);
});
`;

test('two threads writing one SQLite file at once: usage sums exactly and no credit is spent twice', async () => {
  const path = freshPath();
  const s = sqliteStorage({ path });
  const keyId = 'key_0000000000000000threads';
  assert.equal(
    s.apiKeys.insert({
      id: keyId,
      hash: 'v1:threads',
      hint: 'x',
      prefix: 'rk_live_',
      name: 'threads',
      ownerId: null,
      scopes: [],
      createdAt: 1,
      expiresAt: null,
      lastUsedAt: null,
      revokedAt: null,
      metadata: {},
      credits: { remaining: 150 },
      rateLimit: null,
    }),
    true,
  );
  const rounds = 120;
  const module = new URL('./sqlite.ts', import.meta.url).href;
  const spent = await Promise.all(
    [1, 2].map(
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(WRITER, { eval: true, workerData: { module, path, keyId, rounds } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  assert.equal(spent[0]! + spent[1]!, 150);
  const [day] = await s.usage.read({ keyId, granularity: 'day', since: 0, until: 2e12 });
  assert.equal(day?.total, 2 * rounds * 2);
  assert.equal((await s.apiKeys.get(keyId))?.credits?.remaining, 0);
  s.close();
});
