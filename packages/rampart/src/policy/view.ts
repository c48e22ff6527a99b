/**
 * What the engine sees of a request, and what its steps answer. Framework-free: an adapter
 * builds one view per request and copies each decision onto its framework's response.
 */
import type { RampartError } from '../errors.ts';
import type { HttpAnswer } from '../http/problem.ts';
import type { Principal } from './principal.ts';

/**
 * What the policy sees of a request. An adapter builds one per request (and reuses it for
 * every step of that request); nothing in it is a framework object.
 *
 * Build it as a plain object with every field present and plain data values, and refresh
 * `route`, `body` and `params` as the framework learns them. Not with getters: V8 gives each
 * object literal with its own accessor closures a hidden class of its own, so a view per
 * request with getters kept young objects alive through GCs (measured with bench/adapters.ts:
 * about a quarter of the throughput lost).
 */
export interface RequestView {
  /** The method, upper case. */
  readonly method: string;
  /** The URL path, without the query string. */
  readonly path: string;
  /**
   * The router's route pattern (`/api/users/:id`) once the framework has matched one. Rate-limit
   * rules with `routes` match it (falling back to `path`), and events name it.
   */
  route?: string | undefined;
  /**
   * A request header by lower-case name. Several lines of one header are joined with `, `
   * (RFC 9110 §5.3), `Authorization` included: Node keeps only the first `Authorization` line
   * in `req.headers`, so a Node adapter joins them from `rawHeaders` (two credentials must be
   * seen to be refused).
   */
  readonly headers: (name: string) => string | undefined;
  /** The raw query string, after `?`, if any. */
  readonly query?: string | undefined;
  /** The socket peer's address; the client address is resolved from it (`trustProxy`). */
  readonly ip: string;
  /** The parsed body, if one was read. */
  body?: unknown;
  /** The route parameters the router extracted. */
  params?: Readonly<Record<string, string>> | undefined;
  /** Set by the adapter once `authenticate` passed: limits keyed by `'user'`/`'apiKey'` read it. */
  principal?: Principal | undefined;
  /** A request id to put in problem bodies and events. */
  readonly requestId?: string | undefined;
}

/** A refusal: stop and send `answer`. `error` is the error behind it (absent for a CORS preflight). */
export interface Refusal {
  readonly ok: false;
  readonly answer: HttpAnswer;
  readonly error?: RampartError;
}

/**
 * What a step answers: go on (adding `headers` to the eventual response) or stop with an answer.
 * `headers` of a passing decision may be shared and frozen: copy them, don't change them.
 */
export type Decision<Extra extends object = Record<never, never>> =
  | ({ readonly ok: true; readonly headers: Readonly<Record<string, string>> } & Extra)
  | Refusal;

/** The decision of an authentication step: the principal when it passed. */
export type AuthDecision = Decision<{ readonly principal: Principal }>;

/** The validated (and transformed) parts of a request, by the schemas that were given. */
export interface ValidatedParts {
  body?: unknown;
  query?: unknown;
  params?: unknown;
}

/** The decision of a validation step: the schemas' output when it passed. */
export type ValidationDecision<V extends ValidatedParts = ValidatedParts> = Decision<{ readonly value: V }>;

/** The decision of reading a JSON body: the parsed value (`undefined` for no body). */
export type JsonBodyDecision = Decision<{ readonly value: unknown }>;

/** An attempt that passed its failure budget: settle it when the expensive work is done. */
export interface Attempt {
  /**
   * `true`: it succeeded, the reserved attempt goes back to the budget. `false` (or never
   * settling): it failed and stays counted. Settling twice counts once.
   */
  settle(succeeded: boolean): void;
}

/** The decision of an `attempts()` step. */
export type AttemptDecision = Decision<{ readonly attempt: Attempt }>;

/**
 * A step over a request view. It answers at once when nothing needs waiting for (a limit on
 * the memory store), else a promise: `await` it either way.
 */
export type Step<D> = (view: RequestView) => D | Promise<D>;

/** The empty, shared header block of a decision that adds none. */
export const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** `METHOD /route/pattern`, the way events and rules name a route. */
export function routeOf(view: RequestView): string {
  return `${view.method} ${view.route ?? view.path}`;
}
