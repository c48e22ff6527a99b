/**
 * The contract as data: `GET /openapi.json` (OpenAPI 3.1, built from the routes' own
 * schemas once every route is registered) and `GET /docs`, an API reference rendered from it
 * by Scalar's standalone bundle, served from the installed package (pinned, no CDN) with a
 * content security policy that lets only this server's own scripts run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openApiDocument, routeDoc } from '../openapi.ts';
import type { Services } from '../services.ts';

const require = createRequire(import.meta.url);
/** The package's version (src/server/routes and dist/server/routes both sit three folders below package.json). */
const version = () =>
  (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string })
    .version;
/**
 * The renderer's browser bundle, read once on first use: the copy the build puts in
 * `dist/vendor/scalar/` (an installed server), else the dev dependency's (the repository).
 */
let bundle: Buffer | undefined;
const scalarBundle = () => {
  if (bundle === undefined) {
    const built = new URL('../../vendor/scalar/standalone.js', import.meta.url);
    bundle = existsSync(built)
      ? readFileSync(built)
      : // The package exports only its modules: its main entry sits in dist/, the bundle beside it.
        readFileSync(join(dirname(require.resolve('@scalar/api-reference')), 'browser/standalone.js'));
  }
  return bundle;
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rampart API reference</title>
</head>
<body>
<div id="app"></div>
<script src="/docs/scalar.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;
// Fonts off (they would come from a CDN), telemetry off, and the hosted extras (AI agent, MCP,
// developer toolbar) off: the page reads this server's document and nothing else. The CSP
// below refuses any other connection anyway.
const INIT = `Scalar.createApiReference('#app', ${JSON.stringify({
  url: '/openapi.json',
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: true,
  showDeveloperTools: 'never',
  agent: { disabled: true },
  mcp: { disabled: true },
})});\n`;
/** The page's own scripts and the document only; inline styles are the renderer's. */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function docsRoutes(app: FastifyInstance, ctx: Services): void {
  let document: ReturnType<typeof openApiDocument> | undefined;
  app.addHook('onReady', async () => {
    document = openApiDocument(app, { version: version() });
  });
  void ctx;

  app.get(
    '/openapi.json',
    {
      config: routeDoc({
        summary: 'This document',
        tags: ['operations'],
        responses: {
          200: { description: 'The OpenAPI 3.1 document of every route', contentType: 'application/json' },
        },
      }),
    },
    async (_request, reply) => {
      document ??= openApiDocument(app, { version: version() });
      reply.header('cache-control', 'no-cache');
      return document;
    },
  );

  app.get(
    '/docs',
    {
      config: routeDoc({
        summary: 'The API reference, rendered from /openapi.json',
        tags: ['operations'],
        responses: { 200: { description: 'An HTML page', contentType: 'text/html' } },
      }),
    },
    async (_request, reply) =>
      reply.header('content-security-policy', DOCS_CSP).type('text/html; charset=utf-8').send(PAGE),
  );

  app.get(
    '/docs/scalar.js',
    {
      config: routeDoc({
        summary: "The reference page's renderer (Scalar's standalone bundle)",
        tags: ['operations'],
        responses: { 200: { description: 'JavaScript', contentType: 'text/javascript' } },
      }),
    },
    async (_request, reply) =>
      reply
        .header('cache-control', 'public, max-age=86400')
        .header('cross-origin-resource-policy', 'same-origin')
        .type('text/javascript; charset=utf-8')
        .send(scalarBundle()),
  );

  app.get(
    '/docs/init.js',
    {
      config: routeDoc({
        summary: "The reference page's start script",
        tags: ['operations'],
        responses: { 200: { description: 'JavaScript', contentType: 'text/javascript' } },
      }),
    },
    async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(INIT),
  );
}
