/**
 * How a console session reaches the admin API: every call is an ordinary HTTP request to the
 * API route itself, run in-process with Fastify's `inject()`, carrying the session's own
 * credential. So the console has no private door: each call passes the same hooks as one
 * from curl (security headers, the address limit keyed on the browser's address, request
 * hygiene, the engine's authenticate and authorize steps, validation, the audit events), and
 * can do exactly what that credential can do, no more.
 */
import type { FastifyInstance } from 'fastify';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { ConsoleCredential, ConsoleSession, ConsoleSessionStore } from './session-store.ts';

/** An API answer as the console passes it on. */
export interface ApiAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** What one call sends. */
export interface ApiCall {
  method: string;
  /** Path and query on the server, e.g. `/v1/keys?limit=50`. */
  url: string;
  body?: unknown;
  /** The browser's address (after the trusted-proxy walk): the inner request's peer. */
  clientIp: string;
  userAgent?: string | undefined;
  /** The outer request's id, sent as the inner request's correlation id. */
  requestId?: string;
}

/** Answer headers passed on to the page; the security headers are the outer request's own. */
const PASSED_HEADERS = [
  'content-type',
  'ratelimit',
  'ratelimit-policy',
  'retry-after',
  'content-disposition',
];
/** A token this close to its expiry is refreshed before use. */
const REFRESH_MARGIN_MS = 30_000;

/** Runs one request against the server's own routes, as a client would send it. */
export async function callApi(
  app: FastifyInstance,
  call: ApiCall,
  credential: Record<string, string>,
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...credential, accept: 'application/json' };
  if (call.userAgent !== undefined) headers['user-agent'] = call.userAgent;
  if (call.requestId !== undefined) headers['x-request-id'] = call.requestId;
  const hasBody = call.body !== undefined && call.method !== 'GET' && call.method !== 'HEAD';
  if (hasBody) headers['content-type'] = 'application/json';
  const res = await app.inject({
    method: call.method as 'GET',
    url: call.url,
    headers,
    remoteAddress: call.clientIp,
    ...(hasBody ? { payload: JSON.stringify(call.body) } : {}),
  });
  const out: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = res.headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return { status: res.statusCode, headers: out, body: res.rawPayload };
}

/** The request headers that present a credential. */
export function credentialHeaders(credential: ConsoleCredential): Record<string, string> {
  return credential.kind === 'apiKey'
    ? { 'x-api-key': credential.apiKey }
    : { authorization: `Bearer ${credential.accessToken}` };
}

/**
 * Calls the API with a session's credential. A password session's access token is
 * refreshed (through `POST /v1/auth/refresh`, rotating the refresh token) shortly before it
 * expires, and once more if the API refuses it; refreshes of one session are shared by the
 * calls in flight, since two refreshes with one refresh token would look like token theft
 * and end the whole family. A credential the API still refuses ends the console session:
 * `ended` is then true.
 */
export function sessionCaller(app: FastifyInstance, sessions: ConsoleSessionStore, now: Clock) {
  /** Refreshes in flight, and those done in the last minute, by the refresh token they used. */
  const refreshes = new Map<string, { result: Promise<ConsoleCredential | undefined>; until: number }>();

  const refresh = (session: ConsoleSession, call: ApiCall): Promise<ConsoleCredential | undefined> => {
    const credential = session.credential;
    if (credential.kind !== 'password') return Promise.resolve(undefined);
    const at = now();
    for (const [key, entry] of refreshes) if (entry.until <= at) refreshes.delete(key);
    // A call that read the session before another call rotated its refresh token must reuse
    // that rotation's result: presenting the old refresh token again would end the family.
    const key = `${session.id}:${credential.refreshToken}`;
    const known = refreshes.get(key);
    if (known !== undefined) return known.result;
    const result = (async () => {
      const answer = await callApi(
        app,
        {
          ...call,
          method: 'POST',
          url: '/v1/auth/refresh',
          body: { refresh_token: credential.refreshToken },
        },
        {},
      );
      if (answer.status !== 200) return undefined;
      const pair = JSON.parse(answer.body.toString('utf8')) as {
        access_token: string;
        refresh_token: string;
        expires_in: number;
      };
      const next: ConsoleCredential = {
        kind: 'password',
        accessToken: pair.access_token,
        refreshToken: pair.refresh_token,
        accessExpiresAt: now() + pair.expires_in * 1000,
      };
      await sessions.save({ ...session, credential: next });
      return next;
    })();
    refreshes.set(key, { result, until: at + 60_000 });
    return result;
  };

  return async (session: ConsoleSession, call: ApiCall): Promise<ApiAnswer & { ended: boolean }> => {
    let refreshed = false;
    const renew = async () => {
      const next = await refresh(session, call);
      if (next !== undefined) session.credential = next;
      refreshed = true;
      return next !== undefined;
    };
    if (
      session.credential.kind === 'password' &&
      session.credential.accessExpiresAt - now() < REFRESH_MARGIN_MS
    ) {
      await renew();
    }
    let answer = await callApi(app, call, credentialHeaders(session.credential));
    if (answer.status === 401 && session.credential.kind === 'password' && !refreshed && (await renew())) {
      answer = await callApi(app, call, credentialHeaders(session.credential));
    }
    if (answer.status === 401) {
      // The API no longer takes this credential (revoked key, ended sessions, disabled user).
      await sessions.end(session.id);
      return { ...answer, ended: true };
    }
    return { ...answer, ended: false };
  };
}
