import { ERROR_CODES, type ErrorCode, RampartError, toProblem } from '../errors.ts';

/** A framework-free HTTP answer: adapters and the server copy it onto their response. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** The protection space of Rampart's challenges (RFC 9110 §11.5). */
export const REALM = 'rampart';

/** RFC 6750 §3: the challenge for a request that carried no credentials. */
export const CHALLENGE = `Bearer realm="${REALM}"`;

/**
 * The problem+json answer for a RampartError (RFC 9457), with the error's own headers. A 401
 * always carries `WWW-Authenticate` (RFC 9110 §15.5.2: the server MUST send one): the error's
 * own challenge, or Rampart's Bearer challenge when the thrower gave none (a route's own
 * `UNAUTHENTICATED`, a framework's 401).
 */
export function problemAnswer(error: RampartError, requestId?: string): HttpAnswer {
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE, ...error.headers };
  if (error.status === 401 && !hasHeader(headers, 'www-authenticate'))
    headers['www-authenticate'] = CHALLENGE;
  return { status: error.status, headers, body: toProblem(error, requestId) };
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  for (const key in headers) if (key.toLowerCase() === name) return true;
  return false;
}

/**
 * Turns anything thrown into a RampartError without leaking it: known codes keep their
 * meaning; HTTP-ish errors with a 4xx status get the closest catalogue code; everything
 * else is INTERNAL with no detail (the message may hold SQL, a path or a secret).
 */
export function toRampartError(error: unknown): RampartError {
  if (error instanceof RampartError) return error;
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number') {
    const code = STATUS_TO_CODE[status];
    if (code) return new RampartError(code);
  }
  return new RampartError('INTERNAL');
}

const STATUS_TO_CODE: Record<number, ErrorCode> = Object.fromEntries(
  (Object.entries(ERROR_CODES) as Array<[ErrorCode, { status: number }]>)
    .filter(([code]) => !['VALIDATION_FAILED', 'MALFORMED_JSON', 'INVALID_ENCODING'].includes(code))
    .reverse()
    .map(([code, { status }]) => [status, code]),
);
// The generic code for each status wins over the specific ones.
Object.assign(STATUS_TO_CODE, {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  503: 'SERVICE_UNAVAILABLE',
  500: 'INTERNAL',
} satisfies Record<number, ErrorCode>);
