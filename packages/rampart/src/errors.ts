/**
 * Rampart's one error type and the closed catalogue of stable codes.
 *
 * A code is part of the public contract (API.md): it is never renamed, never reused for
 * another meaning, and each maps to exactly one HTTP status. `docs/errors.md` lists the
 * same table; `src/errors.test.ts` keeps the two in step.
 */

/** Every code Rampart can answer with, its HTTP status and a short human title. */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  VALIDATION_FAILED: { status: 400, title: 'The request did not pass validation' },
  MALFORMED_JSON: { status: 400, title: 'The body is not valid JSON' },
  INVALID_ENCODING: { status: 400, title: 'The body is not valid UTF-8' },
  JSON_TOO_DEEP: { status: 400, title: 'The JSON body is nested too deeply' },
  FORBIDDEN_PROPERTY: { status: 400, title: 'The body contains a forbidden property name' },
  CREDENTIAL_IN_QUERY: { status: 400, title: 'Credentials must not be sent in the query string' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  INVALID_TOKEN: { status: 401, title: 'The access token is invalid' },
  INVALID_API_KEY: { status: 401, title: 'The API key is invalid' },
  INVALID_CREDENTIALS: { status: 401, title: 'The email or password is wrong' },
  INVALID_REFRESH_TOKEN: { status: 401, title: 'The refresh token is invalid' },
  INVALID_RESET_TOKEN: { status: 400, title: 'The password-reset token is invalid or used' },
  INVALID_VERIFICATION_TOKEN: { status: 400, title: 'The e-mail verification token is invalid or used' },
  INSUFFICIENT_SCOPE: { status: 403, title: 'The credential lacks the required scope or role' },
  FORBIDDEN: { status: 403, title: 'Forbidden' },
  EMAIL_NOT_VERIFIED: { status: 403, title: 'The account’s e-mail address is not verified yet' },
  ACCOUNT_DISABLED: { status: 403, title: 'The account is disabled' },
  ADDRESS_DENIED: { status: 403, title: 'Requests from this address are refused' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request took too long to arrive' },
  EMAIL_TAKEN: { status: 409, title: 'An account with this email exists' },
  CONFLICT: { status: 409, title: 'The change conflicts with the current state' },
  LAST_ADMIN: { status: 409, title: 'The change would leave no enabled admin' },
  KEY_ROTATED: { status: 409, title: 'The API key was already rotated' },
  IN_USE: { status: 409, title: 'The object is still in use' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  USAGE_EXCEEDED: { status: 429, title: 'The API key has no credits left' },
  INTERNAL: { status: 500, title: 'Internal error' },
  BAD_GATEWAY: { status: 502, title: 'The upstream service did not answer properly' },
  STORE_UNAVAILABLE: { status: 503, title: 'A backing store is unavailable' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'The service is unavailable' },
  GATEWAY_TIMEOUT: { status: 504, title: 'The upstream service did not answer in time' },
} as const satisfies Record<string, { status: number; title: string }>;

/** A stable, documented error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** One field-level problem of a 400 answer; `path` is a JSON Pointer (RFC 6901). */
export interface FieldError {
  path: string;
  code: string;
  message: string;
}

/** The RFC 9457 problem document Rampart sends. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  errors?: FieldError[];
  requestId?: string;
}

export interface RampartErrorOptions {
  /** Human detail. Never put a token, key, password or path here: it reaches clients. */
  detail?: string;
  errors?: FieldError[];
  /** Extra response headers (for example `Retry-After`, `WWW-Authenticate`). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * The one error class. Expected denials inside the domain are values; this is thrown at the
 * edge (or by a policy step) to end a request with a problem document.
 *
 * @example
 * throw new RampartError('EMAIL_TAKEN');
 */
export class RampartError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, options: RampartErrorOptions = {}) {
    // No stack trace: a RampartError is an answer (a refused token, a 429), made on every
    // refused request of an attack, and capturing the stack was the most expensive part of a
    // refusal (8% of a 401 flood's CPU profile). The error it wraps, if any, keeps its own
    // stack as `cause`.
    const frames = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(options.detail ?? ERROR_CODES[code].title, { cause: options.cause });
    Error.stackTraceLimit = frames;
    this.name = 'RampartError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

/** Is `value` one of the catalogue's codes? */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** The `type` URI of a code: a stable URN that `docs/errors.md` documents. */
export function problemType(code: ErrorCode): string {
  return `urn:rampart:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

/** Builds the problem document of an error; the only shape any error response takes. */
export function toProblem(error: RampartError, requestId?: string): Problem {
  const problem: Problem = {
    type: problemType(error.code),
    title: ERROR_CODES[error.code].title,
    status: error.status,
    code: error.code,
  };
  if (error.detail !== undefined) problem.detail = error.detail;
  if (error.errors !== undefined) problem.errors = error.errors;
  if (requestId !== undefined) problem.requestId = requestId;
  return problem;
}
