/**
 * `npm test`'s runner: makes sure the servers the suite needs are installed (installing them
 * with apt-get when running as root, otherwise stopping with the exact command to run), then
 * runs every test file with node:test.
 */
import { spawnSync } from 'node:child_process';
import { ensureSystemPackages } from '../test/harness/system-packages.ts';

ensureSystemPackages();

const patterns = process.argv.slice(2);
const files = patterns.length > 0 ? patterns : ['src/**/*.test.ts', 'test/**/*.test.ts'];
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=120000', '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
