/**
 * The console's static files, read once at start into memory: its own files under `ui/`
 * and four files of three npm packages (Preact, htm, uPlot), served under
 * `/console/vendor/`. Nothing is built: the browser loads plain ES modules.
 *
 * The one transformation: Preact's hooks module imports the bare name `"preact"`, which a
 * browser cannot resolve without an import map, and an import map is an inline script that a
 * `script-src 'self'` policy refuses. So that single import is rewritten to the served path
 * at start, and the start fails loudly if a new Preact release changes its shape. Source-map
 * comments are dropped (the maps are not served).
 *
 * Each file gets a strong ETag and a gzip copy; answers are revalidated (`no-cache`), so an
 * upgrade is seen at the next load while unchanged files cost a 304.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AUDIT_EVENT_TYPES } from 'rampart/internal/audit/events.ts';

export interface Asset {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The folder of the console's own files. */
export const UI_DIR = join(dirname(new URL(import.meta.url).pathname), 'ui');

const require = createRequire(import.meta.url);
const packageDir = (entry: string, up: number) => {
  let dir = dirname(require.resolve(entry));
  for (let i = 0; i < up; i++) dir = dirname(dir);
  return dir;
};

/** `vendor/<name>` → the package file it is. */
function vendorFiles(): Record<string, string> {
  const preact = packageDir('preact', 1);
  return {
    'preact.js': join(preact, 'dist/preact.module.js'),
    'hooks.js': join(preact, 'hooks/dist/hooks.module.js'),
    'htm.js': join(packageDir('htm', 1), 'dist/htm.module.js'),
    'uPlot.js': join(packageDir('uplot', 1), 'dist/uPlot.esm.js'),
    'uPlot.css': join(packageDir('uplot', 1), 'dist/uPlot.min.css'),
  };
}

function rewriteVendor(name: string, text: string): string {
  let out = text.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
  if (name === 'hooks.js') {
    const bare = /from\s*"preact"/g;
    if ((out.match(bare) ?? []).length !== 1) {
      throw new Error('console: preact/hooks no longer imports "preact" once; update console/assets.ts');
    }
    out = out.replace(bare, 'from"./preact.js"');
  }
  return out;
}

function asset(path: string, body: Buffer): Asset {
  const type = TYPES[extname(path)] ?? 'application/octet-stream';
  const gzip = body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined;
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, gzip, type, etag };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/**
 * Every console file by its path under `/console/` (`index.html`, `js/app.js`,
 * `vendor/preact.js`, …). Only these paths are ever served: there is no file-system lookup
 * per request, so no path can walk out of the folder.
 */
export function loadAssets(uiDir: string = UI_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const path of walk(uiDir)) {
    const name = relative(uiDir, path).split('\\').join('/');
    if (!(extname(name) in TYPES)) continue;
    assets.set(name, asset(name, readFileSync(path)));
  }
  for (const [name, path] of Object.entries(vendorFiles())) {
    const text = rewriteVendor(name, readFileSync(path, 'utf8'));
    assets.set(`vendor/${name}`, asset(name, Buffer.from(text, 'utf8')));
  }
  // The event vocabulary from the engine's own list, so the audit page cannot drift from it.
  const types = `export const AUDIT_EVENT_TYPES = ${JSON.stringify(AUDIT_EVENT_TYPES)};\n`;
  assets.set('js/event-types.js', asset('event-types.js', Buffer.from(types, 'utf8')));
  return assets;
}
