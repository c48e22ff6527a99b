/**
 * `npm test`'s runner: makes sure the servers the suite needs are installed (installing them
 * with apt-get when running as root, otherwise stopping with the exact command to run), then
 * runs every test file with node:test.
 */
import { spawnSync } from 'node:child_process';
import { ensureSystemPackages } from '../test/harness/system-packages.ts';

ensureSystemPackages();

const patterns = process.argv.slice(2);
const files =
  patterns.length > 0
    ? patterns
    : ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'];
// The server imports the library by its package name; in the repository the `rampart-source`
// export condition resolves it to the TypeScript sources. Children of the tests inherit it.
const env = {
  ...process.env,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=rampart-source`.trim(),
};
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=120000', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
process.exit(result.status ?? 1);
