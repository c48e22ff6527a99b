import { ERROR_CODES, type ErrorCode, RampartError, toProblem } from '../errors.ts';

/** A framework-free HTTP answer: adapters and the server copy it onto their response. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** The problem+json answer for a RampartError (RFC 9457), with the error's own headers. */
export function problemAnswer(error: RampartError, requestId?: string): HttpAnswer {
  return {
    status: error.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...error.headers },
    body: toProblem(error, requestId),
  };
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
