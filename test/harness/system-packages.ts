import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

/** Debian puts PostgreSQL's server binaries off PATH, under /usr/lib/postgresql/<version>/bin. */
function postgresInstalled(): boolean {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    for (const version of readdirSync(root)) {
      try {
        accessSync(join(root, version, 'bin', 'initdb'), constants.X_OK);
        return true;
      } catch {}
    }
  }
  return onPath('initdb');
}

/**
 * Each server or tool the suite runs, the Debian package that ships it, and how to tell it is
 * there: Redis and PostgreSQL for the stores; `promtool` (prometheus) checks `/metrics`;
 * `curl` and `jq` run the docs' shell blocks; `script` (util-linux) gives `rampart serve` a
 * pseudo-terminal for the banner test.
 */
const NEEDED: Array<{ pkg: string; present: () => boolean }> = [
  { pkg: 'redis-server', present: () => onPath('redis-server') },
  { pkg: 'postgresql', present: postgresInstalled },
  // The console's browser tests drive Debian's Chromium with playwright-core (never a downloaded browser).
  { pkg: 'chromium', present: () => existsSync('/usr/bin/chromium') },
  // Forward auth is tested through the real proxies (test/harness/proxies.ts).
  { pkg: 'nginx', present: () => onPath('nginx') || existsSync('/usr/sbin/nginx') },
  { pkg: 'caddy', present: () => onPath('caddy') },
  { pkg: 'prometheus', present: () => onPath('promtool') },
  { pkg: 'curl', present: () => onPath('curl') },
  { pkg: 'jq', present: () => onPath('jq') },
  { pkg: 'util-linux', present: () => onPath('script') },
];

/**
 * Installs the Debian packages whose servers the tests start, when missing. As root it runs
 * apt-get; otherwise it stops with the exact command to run. A test never skips for lack of
 * its server.
 */
export function ensureSystemPackages(): void {
  const missing = NEEDED.filter((n) => !n.present()).map((n) => n.pkg);
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(`The test suite needs ${missing.join(', ')}. Install with:\n  sudo ${command}`);
    process.exit(1);
  }
  console.error(`installing ${missing.join(', ')} for the test suite…`);
  const result = spawnSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${command}`], { stdio: 'inherit' });
  const still = NEEDED.filter((n) => !n.present()).map((n) => n.pkg);
  if (result.status !== 0 || still.length > 0) {
    console.error(`could not install ${still.join(', ')}; run as root:\n  ${command}`);
    process.exit(1);
  }
}
