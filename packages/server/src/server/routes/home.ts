/**
 * `GET /`: what this server offers, for whoever arrives there first. API clients get a small
 * JSON index; a browser (an `Accept` that prefers `text/html`) gets the same links as a tiny
 * page. The page has a Content-Security-Policy of its own, which allows exactly its one
 * inline style (by hash) and nothing else: no script, no image, no frame, no form.
 *
 * It names no version, host or path of the machine: an index is public, and those help an
 * attacker more than a user (`rampart --version` tells the version).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { routeDoc } from '../openapi.ts';

/** One link of the index. */
export interface IndexLink {
  rel: string;
  href: string;
  title: string;
}

/**
 * The links, in order. `openapi.json` and `/console` belong to the admin plane and the browser
 * console; the index names them where they are served.
 */
export const INDEX_LINKS: readonly IndexLink[] = Object.freeze([
  { rel: 'status', href: '/healthz', title: 'Liveness: 200 while the process runs' },
  { rel: 'readiness', href: '/readyz', title: 'Readiness: storage and Redis answer' },
  { rel: 'jwks', href: '/.well-known/jwks.json', title: 'The public keys of the access tokens (RFC 7517)' },
  { rel: 'service-desc', href: '/openapi.json', title: 'The API, as an OpenAPI document' },
  { rel: 'service-doc', href: '/docs', title: 'The API reference, rendered from that document' },
  { rel: 'console', href: '/console', title: 'The browser console' },
]);

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;margin:3rem auto;max-width:40rem;padding:0 1rem;color:#1a1a1a}' +
  'code{font-size:.95em}a{color:#0645ad}li{margin:.3rem 0}.t{color:#555}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** The page's policy: its one style, nothing else may load, and it is never framed. */
export const INDEX_PAGE_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** The page, made once. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rampart</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Rampart</h1>
<p>This server is running. What it offers:</p>
<ul>
${INDEX_LINKS.map((link) => `<li><a href="${escapeHtml(link.href)}"><code>${escapeHtml(link.href)}</code></a> <span class="t">${escapeHtml(link.title)}</span></li>`).join('\n')}
</ul>
<p class="t">API clients get this index as JSON (<code>Accept: application/json</code>).</p>
</body>
</html>
`;

/** The most of an `Accept` header read (RFC 9110 §12.5.1); a longer one is cut there. */
const MAX_ACCEPT = 1024;

/**
 * The quality (RFC 9110 §12.4.2) the `Accept` header gives `type/subtype`: that of its most
 * specific matching range (`type/subtype` over `type/*` over `*\/*`); 1 when there is no header.
 */
export function acceptQuality(accept: string | undefined, mediaType: string): number {
  if (accept === undefined || accept.trim() === '') return 1;
  const [type] = mediaType.split('/');
  let best = -1;
  let quality = 0;
  for (const range of accept.slice(0, MAX_ACCEPT).split(',')) {
    const [name = '', ...params] = range.split(';');
    const media = name.trim().toLowerCase();
    const specificity = media === mediaType ? 2 : media === `${type}/*` ? 1 : media === '*/*' ? 0 : -1;
    if (specificity < 0 || specificity < best) continue;
    let q = 1;
    for (const param of params) {
      const [key, raw] = param.split('=');
      if (key?.trim().toLowerCase() === 'q') {
        const parsed = Number(raw?.trim());
        q = Number.isFinite(parsed) && parsed >= 0 && parsed <= 1 ? parsed : 0;
      }
    }
    if (specificity > best || q > quality) quality = q;
    best = specificity;
  }
  return best < 0 ? 0 : quality;
}

/** Does this `Accept` prefer HTML to JSON? A tie goes to JSON: this is an API. */
export function prefersHtml(accept: string | undefined): boolean {
  return acceptQuality(accept, 'text/html') > acceptQuality(accept, 'application/json');
}

/** Registers `GET /`. */
export function homeRoutes(app: FastifyInstance): void {
  const index = z.object({
    name: z.literal('rampart'),
    links: z.array(z.object({ rel: z.string(), href: z.string(), title: z.string() })),
  });
  const doc = routeDoc({
    summary: 'What this server offers',
    description: 'A JSON index of links; a client preferring `text/html` gets them as a small page.',
    tags: ['operations'],
    responses: { 200: { description: 'The index', schema: index } },
  });
  app.get('/', { config: doc }, async (request, reply) => {
    reply.header('vary', 'Accept');
    if (prefersHtml(request.headers.accept)) {
      return reply
        .header('content-security-policy', INDEX_PAGE_CSP)
        .type('text/html; charset=utf-8')
        .send(PAGE);
    }
    return { name: 'rampart', links: INDEX_LINKS };
  });
}
