/**
 * One bounded GET of a JSON document (a JWKS or an OIDC discovery document) from a configured
 * URL: bounded in time (the whole exchange, body included, under one `AbortSignal.timeout`),
 * bounded in size (a `Content-Length` over the cap is refused before reading, and the body is
 * read in chunks and cut at the cap, so a hostile or broken endpoint cannot make us buffer a
 * gigabyte), redirects not followed (a 3xx is a failure, as in jose's own JWKS fetch: a key
 * endpoint that redirects would let whoever controls the redirect choose our keys), and only a
 * 200 with strict UTF-8 JSON accepted.
 *
 * Failures are values with a reason for health reports and logs; the URL never comes from a
 * token (see `issuers.ts`).
 */

/** Why a fetch gave no document. */
export type FetchFailure = 'TIMEOUT' | 'NETWORK' | 'HTTP_STATUS' | 'TOO_LARGE' | 'NOT_JSON';

export type FetchResult = { ok: true; json: unknown } | { ok: false; reason: FetchFailure; status?: number };

export interface BoundedFetchOptions {
  /** The longest the request may take, body included, ms. */
  timeoutMs: number;
  /** The largest body accepted, bytes. */
  maxBytes: number;
  /** A deadline shared with other requests (one signal for discovery and JWKS together); replaces `timeoutMs`. */
  signal?: AbortSignal;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * GETs `url` and parses the body as JSON, within the bounds.
 * @example
 * const result = await fetchJsonBounded('https://tenant.auth0.com/.well-known/jwks.json', { timeoutMs: 5000, maxBytes: 65_536 });
 * if (result.ok) use(result.json);
 */
export async function fetchJsonBounded(url: string, options: BoundedFetchOptions): Promise<FetchResult> {
  const signal = options.signal ?? AbortSignal.timeout(options.timeoutMs);
  const failed = (): FetchResult => ({ ok: false, reason: signal.aborted ? 'TIMEOUT' : 'NETWORK' });
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'GET',
      signal,
      redirect: 'manual',
      headers: { accept: 'application/json, application/jwk-set+json' },
    });
  } catch {
    return failed();
  }
  const discard = () => response.body?.cancel().catch(() => {});
  if (response.status !== 200) {
    void discard();
    return { ok: false, reason: 'HTTP_STATUS', status: response.status };
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > options.maxBytes) {
    void discard();
    return { ok: false, reason: 'TOO_LARGE' };
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    const reader = response.body?.getReader();
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > options.maxBytes) {
        void reader.cancel().catch(() => {});
        return { ok: false, reason: 'TOO_LARGE' };
      }
      chunks.push(value);
    }
  } catch {
    return failed();
  }
  try {
    return { ok: true, json: JSON.parse(strictUtf8.decode(Buffer.concat(chunks))) };
  } catch {
    return { ok: false, reason: 'NOT_JSON' };
  }
}

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * Whether `url` may be fetched for keys: `https:`, or `http:` on a loopback host (a provider
 * on the same machine, development and tests); never with credentials or a fragment.
 * @example isFetchableUrl('https://example.eu.auth0.com/.well-known/jwks.json') // true
 */
export function isFetchableUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username !== '' || parsed.password !== '' || parsed.hash !== '') return false;
  if (parsed.protocol === 'https:') return true;
  return parsed.protocol === 'http:' && LOOPBACK_HOSTS.test(parsed.hostname);
}
