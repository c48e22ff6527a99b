/**
 * `npm test`'s runner: makes sure the servers and tools the suite needs are installed
 * (installing them with apt-get when running as root, otherwise stopping with the exact
 * command to run), packs the two packages once for the tests that install them (the package
 * tests, the docs test, the README test), then runs every test file with node:test.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packInto } from '../test/harness/packages.ts';
import { ensureSystemPackages } from '../test/harness/system-packages.ts';

ensureSystemPackages();

const patterns = process.argv.slice(2);
const files =
  patterns.length > 0
    ? patterns
    : ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'];
/** The test files that install the packed packages into a fresh project (or a glob of the root tests). */
const PACKED = /^(\.\/)?test\/((package|server-package|docs|readme)[^/]*\.test\.ts$|.*\*)/;

const env: NodeJS.ProcessEnv = {
  ...process.env,
  // The server imports the library by its package name; in the repository the `rampart-source`
  // export condition resolves it to the TypeScript sources. Children of the tests inherit it.
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=rampart-source`.trim(),
};
let packDir: string | undefined;
if (files.some((file) => PACKED.test(file))) {
  packDir = mkdtempSync(join(tmpdir(), 'rampart-packed-'));
  console.error('packing rampart and rampart-server once for the tests that install them…');
  const packed = packInto(packDir);
  env.RAMPART_PACKED_LIBRARY = packed.library;
  env.RAMPART_PACKED_SERVER = packed.server;
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=120000', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
if (packDir !== undefined) rmSync(packDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
