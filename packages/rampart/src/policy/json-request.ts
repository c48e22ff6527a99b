/**
 * Reading a JSON request body, framework-free: the adapters hand over the raw bytes (a Node
 * request stream, a web `ReadableStream`, or a buffer) and get the parsed value or the error.
 *
 * One reader for every framework, so that a body too large, in the wrong media type, deeper
 * than allowed or carrying `__proto__` is refused with the same answer on Express, Fastify and
 * Hono (each framework's own parser says something different, and some let `__proto__` pass).
 */
import { RampartError } from '../errors.ts';
import { charsetOf, mediaTypeOf } from '../http/content-type.ts';
import { parseJsonBody } from '../http/json-body.ts';
import { RAMPART_DEFAULTS } from './defaults.ts';

/** Options of JSON body reading (`createRampart({ json })`). */
export interface JsonBodyOptions {
  /** Largest body accepted, bytes; default 102,400 (100 KiB, as `express.json()`); 1 B–64 MiB. */
  limitBytes?: number;
  /** Deepest nesting of arrays and objects, 1–256; default 32. */
  maxDepth?: number;
}

/** What an adapter knows of a request body before reading it. */
export interface JsonBodyInput {
  /** The `Content-Type` header. */
  contentType: string | undefined;
  /** The `Content-Length` header. */
  contentLength: string | undefined;
  /** The `Transfer-Encoding` header: with it and no length, a body may still follow. */
  transferEncoding?: string | undefined;
  /** The raw body: an async iterable of bytes (a Node request, a web stream) or the bytes. */
  body: AsyncIterable<Uint8Array> | Uint8Array | null | undefined;
}

/** The outcome: the parsed value (`undefined` when there was no body), or why it was refused. */
export type JsonBodyOutcome = { ok: true; value: unknown } | { ok: false; error: RampartError };

/** The defaults, as data. */
export const JSON_BODY_DEFAULTS = RAMPART_DEFAULTS.json;

const LIMIT_MAX = 64 * 1024 * 1024;
const DEPTH_MAX = 256;
const OPTION_KEYS = new Set(['limitBytes', 'maxDepth']);
const LENGTH = /^[0-9]{1,15}$/;

/**
 * Checks the options once.
 * @throws TypeError naming the field (`json.limitBytes: …`).
 * @example jsonBodyConfig({ limitBytes: 10_000 }) // { limitBytes: 10000, maxDepth: 32 }
 */
export function jsonBodyConfig(options: JsonBodyOptions = {}): Required<JsonBodyOptions> {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('json: expected an options object');
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key))
      throw new TypeError(`json.${key}: unknown option; expected limitBytes, maxDepth`);
  }
  const limitBytes = options.limitBytes ?? JSON_BODY_DEFAULTS.limitBytes;
  const maxDepth = options.maxDepth ?? JSON_BODY_DEFAULTS.maxDepth;
  if (!Number.isSafeInteger(limitBytes) || limitBytes < 1 || limitBytes > LIMIT_MAX) {
    throw new TypeError(
      `json.limitBytes: expected whole bytes from 1 to ${LIMIT_MAX}, got ${String(limitBytes)}`,
    );
  }
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1 || maxDepth > DEPTH_MAX) {
    throw new TypeError(
      `json.maxDepth: expected a whole number from 1 to ${DEPTH_MAX}, got ${String(maxDepth)}`,
    );
  }
  return { limitBytes, maxDepth };
}

/**
 * Reads and parses a JSON body. No body at all (no length and no transfer coding, or length 0,
 * or an empty stream) is `undefined`, not an error: whether a body is required is the schema's
 * call. The size limit is checked against `Content-Length` before reading, and again while
 * reading (a chunked body has no length to trust).
 *
 * @example
 * const outcome = await readJsonBody(
 *   { contentType: req.headers['content-type'], contentLength: req.headers['content-length'], body: req },
 *   jsonBodyConfig(),
 * );
 * if (!outcome.ok) throw outcome.error; // 400, 413 or 415, as problem+json
 */
export async function readJsonBody(
  input: JsonBodyInput,
  config: Required<JsonBodyOptions>,
): Promise<JsonBodyOutcome> {
  const { contentType, contentLength, transferEncoding, body } = input;
  if (contentLength !== undefined && !LENGTH.test(contentLength.trim())) {
    return {
      ok: false,
      error: new RampartError('BAD_REQUEST', { detail: 'Content-Length is not a number.' }),
    };
  }
  const length = contentLength === undefined ? undefined : Number(contentLength);
  // RFC 9112 §6.3: without a length and without a transfer coding, a request has no body.
  const announced =
    (length !== undefined && length > 0) || (length === undefined && transferEncoding !== undefined);
  if (!announced && !(body instanceof Uint8Array && body.length > 0)) return { ok: true, value: undefined };

  if (mediaTypeOf(contentType) !== 'application/json') {
    return {
      ok: false,
      error: new RampartError('UNSUPPORTED_MEDIA_TYPE', { detail: 'Send the body as application/json.' }),
    };
  }
  // null: parameters that do not parse, or two charsets (which one would a parser downstream take?).
  const charset = charsetOf(contentType);
  if (charset === null || (charset !== undefined && charset !== 'utf-8')) {
    return {
      ok: false,
      error: new RampartError('UNSUPPORTED_MEDIA_TYPE', { detail: 'JSON bodies must be UTF-8.' }),
    };
  }
  const tooLarge = () =>
    new RampartError('PAYLOAD_TOO_LARGE', { detail: `The body may be at most ${config.limitBytes} bytes.` });
  if (length !== undefined && length > config.limitBytes) return { ok: false, error: tooLarge() };

  let bytes: Uint8Array;
  if (body === null || body === undefined) bytes = new Uint8Array(0);
  else if (body instanceof Uint8Array) bytes = body;
  else {
    const chunks: Uint8Array[] = [];
    let total = 0;
    // Leaving the loop early calls the iterator's return(), which stops a Node stream.
    for await (const chunk of body) {
      total += chunk.length;
      if (total > config.limitBytes) return { ok: false, error: tooLarge() };
      chunks.push(chunk);
    }
    bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  }
  if (bytes.length > config.limitBytes) return { ok: false, error: tooLarge() };
  if (bytes.length === 0) return { ok: true, value: undefined };
  try {
    return { ok: true, value: parseJsonBody(bytes, { maxDepth: config.maxDepth }) };
  } catch (error) {
    if (error instanceof RampartError) return { ok: false, error };
    throw error;
  }
}
