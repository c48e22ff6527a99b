/**
 * One upstream of a gateway route, on undici (Node's own HTTP client, made for proxying): a
 * pool of keep-alive connections per route, bodies streamed both ways with backpressure
 * (never buffered whole), and the timeouts of the route: connect, response headers, and body
 * idle (between two chunks).
 *
 * What crosses, and why:
 * - Hop-by-hop fields are connection-scoped (RFC 9110 §7.6.1): `Connection` and every field it
 *   lists, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`,
 *   `Proxy-Authorization`, `Proxy-Authenticate`. They are dropped in both directions; a field a
 *   client lists in `Connection` (`Connection: x-secret`) is dropped with it.
 * - The caller's credentials (`Authorization`, `x-api-key`; `Cookie` unless the route forwards
 *   cookies) never reach the upstream: it learns who called from the identity headers (and
 *   token), which the proxy sets itself after removing any copy the client sent.
 * - `X-Forwarded-For` is the client address as the engine resolved it behind `trustProxy`, not
 *   what the client wrote; `X-Forwarded-Proto` and `X-Forwarded-Host` likewise come from a
 *   trusted proxy or from this connection; the server's request id goes as `X-Request-Id`.
 * An upstream that refuses or drops the connection is 502 `BAD_GATEWAY`; one that does not
 * connect or send its headers in time is 504 `GATEWAY_TIMEOUT`. Past the headers, a failure
 * can only cut the response short.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RampartError } from 'rampart';
import { Agent } from 'undici';
import type { GatewayRoute } from './config.ts';

/** RFC 9110 §7.6.1, plus what undici refuses to send itself (`Expect`, `Host` set from the origin). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'http2-settings',
]);
/** Request fields the gateway sets itself, or that must not cross. */
const NOT_FORWARDED = new Set([
  'host',
  'expect',
  'authorization',
  'x-api-key',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-method',
  'x-forwarded-uri',
  'x-original-method',
  'x-original-uri',
  'x-real-ip',
  'forwarded',
  'x-request-id',
]);

/** The field names `Connection` lists (RFC 9110 §7.6.1): hop-by-hop too. */
function connectionListed(value: string | string[] | undefined): Set<string> {
  const listed = new Set<string>();
  for (const line of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
    for (const token of line.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') listed.add(name);
    }
  }
  return listed;
}

/** What one forwarded request adds to what the client sent. */
export interface ForwardInput {
  /** The body to send instead of the client's stream (a validated, re-serialised JSON body). */
  body?: Buffer;
  /** Names (lower case) removed on top of the hop-by-hop and credential ones: identity headers. */
  strip: ReadonlySet<string>;
  /** Fields set on the upstream request: forwarding, identity, request id. */
  set: Record<string, string>;
  /** Added to the client's response: the route's RateLimit fields. */
  responseHeaders: Readonly<Record<string, string>>;
}

export interface Upstream {
  /** Sends the request upstream and the answer back; refusals are thrown as RampartErrors (502/504). */
  forward(request: FastifyRequest, reply: FastifyReply, input: ForwardInput): Promise<FastifyReply>;
  close(): Promise<void>;
}

function upstreamHeaders(raw: IncomingMessage, input: ForwardInput, cookies: boolean): string[] {
  const listed = connectionListed(raw.headers.connection);
  const out: string[] = [];
  const pairs = raw.rawHeaders;
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || listed.has(name) || NOT_FORWARDED.has(name) || input.strip.has(name))
      continue;
    if (name === 'cookie' && !cookies) continue;
    if (name === 'content-length' && input.body !== undefined) continue;
    out.push(pairs[i]!, pairs[i + 1]!);
  }
  if (input.body !== undefined) out.push('content-length', String(input.body.length));
  for (const [name, value] of Object.entries(input.set)) out.push(name, value);
  return out;
}

function responseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const listed = connectionListed(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** RFC 9112 §6.3: the request carries a body when it says a length above 0 or a transfer coding. */
function hasBody(raw: IncomingMessage): boolean {
  const length = raw.headers['content-length'];
  return length === undefined ? raw.headers['transfer-encoding'] !== undefined : length.trim() !== '0';
}

/** Makes the upstream of one route. */
export function createUpstream(route: GatewayRoute, onFailure: (code: string) => void): Upstream {
  const { origin, basePath } = route.upstream!;
  const { connectMs, headersMs, bodyIdleMs } = route.timeouts;
  const agent = new Agent({
    connect: { timeout: connectMs },
    headersTimeout: headersMs,
    bodyTimeout: bodyIdleMs,
    // Below the usual upstream keep-alive (Node 5 s, nginx 75 s): a pooled socket is reused,
    // never one the upstream is about to close.
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 60_000,
  });
  return {
    async forward(request, reply, input) {
      const raw = request.raw;
      const abort = new AbortController();
      // The client went away: stop the upstream request too (a hanging upstream holds nothing).
      const onClose = () => {
        if (!reply.raw.writableFinished) abort.abort();
      };
      reply.raw.once('close', onClose);
      const body = input.body ?? (hasBody(raw) ? raw : null);
      let response: Awaited<ReturnType<Agent['request']>>;
      try {
        response = await agent.request({
          origin,
          path: basePath + request.url,
          method: request.method as 'GET',
          headers: upstreamHeaders(raw, input, route.forward.cookies),
          body,
          signal: abort.signal,
        });
      } catch (error) {
        reply.raw.off('close', onClose);
        const code = (error as { code?: string }).code ?? 'ERROR';
        onFailure(code);
        if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
          throw new RampartError('GATEWAY_TIMEOUT', { detail: 'The upstream did not answer in time.' });
        }
        throw new RampartError('BAD_GATEWAY', { detail: 'The upstream could not be reached.' });
      }
      response.body.once('end', () => reply.raw.off('close', onClose));
      reply.code(response.statusCode);
      reply.headers(responseHeaders(response.headers));
      reply.headers(input.responseHeaders);
      return reply.send(response.body);
    },
    close: () => agent.close(),
  };
}
