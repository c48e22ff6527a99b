/**
 * Builds `rampart-server` for `npm pack`: JavaScript for `src/` into `dist/`.
 *
 *   node scripts/build.ts        (Node 24; `npm run build --workspace rampart-server`)
 *
 * In the repository, `bin/rampart.js` runs the TypeScript sources (Node 24 strips types), but
 * Node refuses to strip types under `node_modules`, so the installed package runs `dist/`.
 * `tsc -p tsconfig.build.json` emits it with `rewriteRelativeImportExtensions` (`./x.ts` →
 * `./x.js`); types are checked against the library's sources (the `rampart-source` condition),
 * so no library build is needed to compile. Imports of the library stay as written: `rampart`,
 * `rampart/fastify` and `rampart/internal/<path>.ts`, which the library's `exports` map to its
 * own `dist/*.js` once installed. Then the output is checked: no relative `.ts` import is left,
 * every library import is one of those entries, and `dist/cli/main.js` loads in a Node with
 * type stripping off, on the library's built `dist/` (built first if missing).
 *
 * Two kinds of file are copied, not compiled: the console's own browser files
 * (`src/console/ui` → `dist/console/ui`), and the API reference's renderer, Scalar's standalone
 * bundle, into `dist/vendor/scalar/` with a notice of its licence. Scalar is a dev dependency:
 * its npm package declares some hundred runtime packages (a Vue app, an AI chat) that the
 * one prebuilt file the server sends does not need, so the installed server carries that file
 * and none of them.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = new URL('..', import.meta.url).pathname;
const REPO = new URL('../../..', import.meta.url).pathname;
const DIST = join(ROOT, 'dist');
const LIBRARY = join(REPO, 'packages/rampart');

// A relative module specifier ending in .ts, in `from '…'`, `import('…')` and `import '…'`.
const TS_SPECIFIER = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g;
// Every specifier that names the library.
const LIBRARY_SPECIFIER = /(?:from|import)\s*\(?\s*['"](rampart(?:\/[^'"]*)?)['"]/g;
const LIBRARY_ENTRIES = /^rampart(?:\/(?:express|fastify|hono)|\/internal\/[a-z0-9/-]+\.ts)?$/;

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

const emitted = files(DIST).filter((path) => path.endsWith('.js'));
for (const path of emitted) {
  const text = readFileSync(path, 'utf8');
  const left = text.match(TS_SPECIFIER);
  if (left) fail(`${relative(ROOT, path)} still imports ${left[0]}`);
  for (const [, specifier] of text.matchAll(LIBRARY_SPECIFIER)) {
    if (!LIBRARY_ENTRIES.test(specifier!))
      fail(`${relative(ROOT, path)} imports ${specifier}, not a library entry`);
  }
}
if (!existsSync(join(DIST, 'cli/main.js'))) fail('dist/cli/main.js was not emitted');

cpSync(join(ROOT, 'src/console/ui'), join(DIST, 'console/ui'), { recursive: true });
const require = createRequire(join(ROOT, 'package.json'));
const scalarEntry = require.resolve('@scalar/api-reference');
const scalarManifest = JSON.parse(readFileSync(join(dirname(scalarEntry), '../package.json'), 'utf8')) as {
  version: string;
  license: string;
};
const vendor = join(DIST, 'vendor/scalar');
mkdirSync(vendor, { recursive: true });
cpSync(join(dirname(scalarEntry), 'browser/standalone.js'), join(vendor, 'standalone.js'));
writeFileSync(
  join(vendor, 'NOTICE'),
  `standalone.js is the browser bundle of @scalar/api-reference ${scalarManifest.version}\n` +
    `(https://github.com/scalar/scalar, packages/api-reference), licence ${scalarManifest.license},\n` +
    'copied unchanged by scripts/build.ts.\n',
);

if (!existsSync(join(LIBRARY, 'dist/index.js'))) {
  const library = spawnSync(process.execPath, [join(LIBRARY, 'scripts/build.ts')], { stdio: 'inherit' });
  if (library.status !== 0) fail('the library build failed');
}
// Loaded the way node_modules code is: plain JavaScript, the library through its exports.
const load = spawnSync(
  process.execPath,
  [
    '--no-experimental-strip-types',
    '--input-type=module',
    '-e',
    `await import(${JSON.stringify(pathToFileURL(join(DIST, 'cli/main.js')).href)});`,
  ],
  { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
);
if (load.status !== 0) fail(`dist/cli/main.js does not load as JavaScript:\n${load.stderr}`);
console.log(`build: ${emitted.length} files in dist/, dist/cli/main.js loads as JavaScript`);
