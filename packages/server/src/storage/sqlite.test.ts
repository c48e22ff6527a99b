import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStorageContract } from './contract.ts';
import { sqliteStorage } from './sqlite.ts';

runStorageContract('sqlite', () =>
  sqliteStorage({ path: join(mkdtempSync(join(tmpdir(), 'rampart-sqlite-')), 'rampart.db') }),
);
