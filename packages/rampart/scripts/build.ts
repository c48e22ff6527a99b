/**
 * Builds the package for `npm pack`: JavaScript and `.d.ts` for every export into `dist/`.
 *
 *   node scripts/build.ts        (Node 24; `npm run build`)
 *
 * The sources are erasable TypeScript that Node 24 runs as they are, but Node refuses to strip
 * types under `node_modules`, so an installed package must ship JavaScript. `tsc -p
 * tsconfig.build.json` emits it with `rewriteRelativeImportExtensions` (`./x.ts` → `./x.js`).
 * Declaration files keep `./x.ts` specifiers, which TypeScript ≥ 5 resolves but older tools do
 * not, so they are rewritten to `./x.js` here. Then every entry point is checked: both files
 * exist, no emitted file still names a `.ts` module, and each entry loads in a Node started
 * with type stripping off, which is how it runs from `node_modules`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = new URL('..', import.meta.url).pathname;
const REPO = new URL('../../..', import.meta.url).pathname;
const DIST = join(ROOT, 'dist');

/** The package's entry points (package.json `exports`) and the file each one builds to. */
export const ENTRIES: Readonly<Record<string, string>> = Object.freeze({
  '.': 'index',
  './express': 'adapters/express/index',
  './fastify': 'adapters/fastify/index',
  './hono': 'adapters/hono/index',
});

// A relative module specifier ending in .ts, in `from '…'`, `import('…')` and `import '…'`.
const TS_SPECIFIER = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(1);
}

rmSync(DIST, { recursive: true, force: true });
const tsc = spawnSync(join(REPO, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) fail(`tsc exited with ${tsc.status ?? tsc.signal}`);

const emitted = files(DIST);
for (const path of emitted.filter((p) => p.endsWith('.d.ts'))) {
  const text = readFileSync(path, 'utf8');
  const rewritten = text.replace(TS_SPECIFIER, '$1$2.js$3');
  if (rewritten !== text) writeFileSync(path, rewritten);
}
for (const path of emitted.filter((p) => p.endsWith('.js') || p.endsWith('.d.ts'))) {
  const left = readFileSync(path, 'utf8').match(TS_SPECIFIER);
  if (left) fail(`${relative(ROOT, path)} still imports ${left[0]}`);
}

for (const [entry, base] of Object.entries(ENTRIES)) {
  for (const extension of ['.js', '.d.ts']) {
    if (!existsSync(join(DIST, base + extension))) fail(`${entry}: dist/${base}${extension} was not emitted`);
  }
  // Loaded the way node_modules code is: plain JavaScript, no type stripping to fall back on.
  const load = spawnSync(
    process.execPath,
    [
      '--no-experimental-strip-types',
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(pathToFileURL(join(DIST, `${base}.js`)).href)});`,
    ],
    { encoding: 'utf8' },
  );
  if (load.status !== 0) fail(`${entry}: dist/${base}.js does not load as JavaScript:\n${load.stderr}`);
}

const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports?: unknown };
for (const entry of Object.keys(ENTRIES)) {
  const target = (packageJson.exports as Record<string, unknown> | undefined)?.[entry];
  if (target === undefined || !JSON.stringify(target).includes('./dist/')) {
    console.warn(`build: package.json "exports" has no dist/ entry for "${entry}" yet`);
  }
}
console.log(
  `build: ${emitted.length} files in dist/, entries ${Object.keys(ENTRIES).join(', ')} load as JavaScript`,
);
