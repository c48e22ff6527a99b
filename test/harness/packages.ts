/**
 * The two packages as users get them, packed once per test run: `rampart` (the library) and
 * `rampart-server` (`rampart serve` and the CLI). Each is built (`scripts/build.ts`), packed
 * with `npm pack`, and its `dist/` removed again, so the repository is left as it was.
 *
 * `npm test` (scripts/test.ts) packs before the test files start and hands the tarballs to
 * them in `RAMPART_PACKED_LIBRARY` and `RAMPART_PACKED_SERVER`, so the package test, the
 * server-package test, the docs test and the README test share one pack. A test file run on
 * its own packs for itself.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const LIBRARY = join(ROOT, 'packages/rampart');
const SERVER = join(ROOT, 'packages/server');

/** The packed tarballs. */
export interface PackedPackages {
  /** Absolute path of `rampart-<version>.tgz`. */
  library: string;
  /** Absolute path of `rampart-server-<version>.tgz`. */
  server: string;
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: 300_000,
    // The packages are built and packed as a user's npm would: no source condition.
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${result.stderr}\n${result.stdout}`);
  }
  return result.stdout;
}

let packed: PackedPackages | undefined;

/**
 * The tarballs of this run: those `npm test` made (from the environment), or made now into a
 * temporary directory removed when this process exits.
 */
export function packedPackages(): PackedPackages {
  if (packed !== undefined) return packed;
  const given = { library: process.env.RAMPART_PACKED_LIBRARY, server: process.env.RAMPART_PACKED_SERVER };
  if (given.library && given.server && existsSync(given.library) && existsSync(given.server)) {
    packed = { library: given.library, server: given.server };
    return packed;
  }
  const dir = mkdtempSync(join(tmpdir(), 'rampart-packed-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  packed = packInto(dir);
  return packed;
}

/**
 * Builds and packs both packages into `dir`, then removes their `dist/`. The server's build
 * needs the library's `dist/` (its check loads the CLI on it), so the library goes first.
 */
export function packInto(dir: string): PackedPackages {
  mkdirSync(dir, { recursive: true });
  try {
    run(process.execPath, [join(LIBRARY, 'scripts/build.ts')], LIBRARY);
    run(process.execPath, [join(SERVER, 'scripts/build.ts')], SERVER);
    const pack = (cwd: string) => {
      const [entry] = JSON.parse(
        run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], cwd),
      ) as [{ filename: string }];
      return join(dir, entry.filename);
    };
    const result = { library: pack(LIBRARY), server: pack(SERVER) };
    writeFileSync(join(dir, 'packed.json'), JSON.stringify(result));
    return result;
  } finally {
    rmSync(join(LIBRARY, 'dist'), { recursive: true, force: true });
    rmSync(join(SERVER, 'dist'), { recursive: true, force: true });
  }
}

/** The paths inside a tarball, without npm's `package/` prefix. */
export function tarballFiles(tarball: string): string[] {
  return run('tar', ['-tzf', tarball], ROOT)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/^package\//, ''));
}

/** A file's text inside a tarball. */
export function tarballFile(tarball: string, path: string): string {
  return run('tar', ['-xzOf', tarball, `package/${path}`], ROOT);
}

/** The version of a package installed in the repository, so npm finds it in the local cache. */
export function installedVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
  return `${name}@${manifest.version as string}`;
}

/**
 * A fresh npm project in `dir` with these packages installed (tarball paths or `name@version`
 * specs). Dependencies come from the local npm cache when it has them (`--prefer-offline`).
 */
export function npmProject(dir: string, ...specs: string[]): void {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'package.json'))) {
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'uses-rampart', private: true, type: 'module' }),
    );
  }
  npmInstall(dir, ...specs);
}

/** `npm install` of these specs in `dir`, quietly, scripts off, from the cache when it can. */
export function npmInstall(dir: string, ...specs: string[]): void {
  run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--loglevel=error',
      ...specs,
    ],
    dir,
  );
}
