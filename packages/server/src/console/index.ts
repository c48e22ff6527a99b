/**
 * The console: Rampart's admin plane in the browser, at `/console` (docs/console.md).
 *
 * Its routes:
 * - `GET /console/` and `GET /console/<file>`: the page and its static files (from memory);
 * - `GET /console/session`: who is signed in, and the session's CSRF token;
 * - `POST /console/session`: sign in with an admin API key or an admin's e-mail and password;
 * - `DELETE /console/session`: sign out (the session ends on the server, its tokens are revoked);
 * - `/console/api/<path>`: any method; the session's call to the API route `/<path>`.
 *
 * The session cookie is `HttpOnly`, `SameSite=Strict`, `Path=/console` and `Secure` under
 * TLS; every state-changing call also needs the CSRF token in `x-csrf-token` (a synchronizer
 * token derived from the session id), and a request another site started (`Origin`,
 * `Sec-Fetch-Site`) is refused. Authentication and authorization stay the engine's: sign-in
 * runs the login route and an admin route with the credential given, and each relayed call
 * runs the API route with the session's credential (`relay.ts`).
 *
 * The pages carry their own Content-Security-Policy (they load their own scripts and styles),
 * set over the engine's API policy on these answers only; every other security header is the
 * engine's, as on every route.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RampartError } from 'rampart/internal/errors.ts';
import { z } from 'zod';
import { routeDoc } from '../server/openapi.ts';
import type { Services } from '../server/services.ts';
import { type Asset, loadAssets } from './assets.ts';
import { clearedCookie, sessionCookie, sessionIdOf } from './cookies.ts';
import { type ApiAnswer, callApi, sessionCaller } from './relay.ts';
import { type ConsoleSession, type ConsoleSessionStore, consoleSessionStore } from './session-store.ts';

/**
 * The policy of the console's pages: only this server's own scripts, styles, images and
 * fetches; no inline script or style, no plugin, no framing, no `<base>` rewrite, forms post
 * only here.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The paths a console call may reach: the API, not the console itself and not the account routes. */
const TARGET =
  /^\/(?:v1\/(?!auth\/)[A-Za-z0-9._~:@!$&'()*+,;=%/-]*|metrics|readyz|healthz|\.well-known\/jwks\.json|openapi\.json)(?:\?.*)?$/;
const SAFE_METHODS = new Set(['GET', 'HEAD']);
/** The header a state-changing call carries its CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

const signInBody = z.union([
  z.strictObject({ apiKey: z.string().min(1).max(1024) }),
  z.strictObject({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) }),
]);

/** Registers the console's routes (when `console.enabled`). */
export function consoleRoutes(app: FastifyInstance, ctx: Services): void {
  if (!ctx.config.console.enabled) return;
  const { rampart } = app;
  const https = ctx.config.tls !== undefined;
  const assets = loadAssets();
  const sessions = consoleSessionStore({
    ttl: ctx.storage.ttl,
    now: ctx.now,
    idleTimeoutMs: ctx.config.console.idleTimeoutMs,
    absoluteTimeoutMs: ctx.config.console.absoluteTimeoutMs,
  });
  const call = sessionCaller(app, sessions, ctx.now);
  const keyPrefix = ctx.config.apiKeys.prefix;

  const clientOf = (request: FastifyRequest) => ({
    clientIp: rampart.policy.clientIp(rampart.view(request)),
    userAgent: request.headers['user-agent'],
    requestId: request.id,
  });

  /** A request another site's page started is refused before anything else. */
  const sameOrigin = (request: FastifyRequest) => {
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    let crossOrigin = site !== undefined && site !== 'same-origin' && site !== 'none';
    if (!crossOrigin && origin !== undefined) {
      try {
        crossOrigin = new URL(origin).host !== request.headers.host;
      } catch {
        crossOrigin = true;
      }
    }
    if (crossOrigin) {
      throw new RampartError('FORBIDDEN', { detail: 'The console answers only its own pages.' });
    }
  };

  /** The request's live session, or a 401 (and the cookie cleared). */
  const sessionOf = async (request: FastifyRequest, reply: FastifyReply): Promise<ConsoleSession> => {
    const id = sessionIdOf(request.headers.cookie, https);
    const session = id === undefined ? undefined : await sessions.open(id);
    if (session === undefined) {
      if (id !== undefined) reply.header('set-cookie', clearedCookie(https));
      throw new RampartError('UNAUTHENTICATED', { detail: 'No console session: sign in.' });
    }
    return session;
  };

  const needCsrf = (request: FastifyRequest, session: ConsoleSession) => {
    const token = request.headers[CSRF_HEADER];
    if (!sessions.csrfMatches(session.id, typeof token === 'string' ? token : undefined)) {
      throw new RampartError('FORBIDDEN', {
        detail: `This request needs the console session's CSRF token in ${CSRF_HEADER}.`,
      });
    }
  };

  const view = (session: ConsoleSession, store: ConsoleSessionStore) => ({
    signedIn: true,
    kind: session.credential.kind,
    label: session.label,
    csrfToken: store.csrfToken(session.id),
    idleTimeoutMs: ctx.config.console.idleTimeoutMs,
    expiresAt: new Date(store.expiresAt(session)).toISOString(),
    endsAt: new Date(session.createdAt + ctx.config.console.absoluteTimeoutMs).toISOString(),
  });

  const pass = (reply: FastifyReply, answer: ApiAnswer) =>
    reply.code(answer.status).headers(answer.headers).send(answer.body);

  // ----- pages and files -----
  const page = (reply: FastifyReply, request: FastifyRequest, asset: Asset) => {
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cache-control', 'no-cache');
    reply.header('etag', asset.etag);
    reply.header('vary', 'accept-encoding');
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    reply.type(asset.type);
    const gzip =
      asset.gzip !== undefined && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    if (gzip) reply.header('content-encoding', 'gzip');
    return reply.send(gzip ? asset.gzip : asset.body);
  };
  // The console's routes are the browser's, not a client's contract: described, kept out of
  // /openapi.json. Pages, files and the relay skip the address limit (the relay's inner
  // calls count instead).
  const consoleRoute = (summary: string, addressLimit = false) => ({
    config: {
      ...(addressLimit ? {} : { addressLimit: false }),
      ...routeDoc({
        summary,
        tags: ['console'],
        responses: { 200: summary },
        outsideContract: 'the console',
      }),
    },
  });
  const files = consoleRoute('A console page or file');
  app.get('/console', files, async (_request, reply) => reply.redirect('/console/', 302));
  app.get('/console/', files, async (request, reply) => page(reply, request, assets.get('index.html')!));
  app.get('/console/*', files, async (request, reply) => {
    const path = (request.params as { '*': string })['*'];
    const asset = path === 'index.html' ? undefined : assets.get(path);
    if (asset === undefined) throw new RampartError('NOT_FOUND', { detail: 'No such console file.' });
    return page(reply, request, asset);
  });

  // ----- the session -----
  app.get('/console/session', consoleRoute('The console session', true), async (request, reply) => {
    const id = sessionIdOf(request.headers.cookie, https);
    const session = id === undefined ? undefined : await sessions.open(id);
    // Not a 401: the page asks this on every load, signed in or not.
    if (session === undefined) {
      if (id !== undefined) reply.header('set-cookie', clearedCookie(https));
      return { signedIn: false };
    }
    return view(session, sessions);
  });

  let lastSweep = 0;
  app.post(
    '/console/session',
    // Its inner calls (login, the admin probe) count against the address limit instead.
    { ...consoleRoute('Sign in to the console'), preValidation: rampart.validate({ body: signInBody }) },
    async (request, reply) => {
      sameOrigin(request);
      const body = request.body as z.infer<typeof signInBody>;
      const client = clientOf(request);
      // Whether the credential may administer is the engine's decision, on an admin route.
      const probe = (credential: Record<string, string>) =>
        callApi(app, { ...client, method: 'GET', url: '/v1/admin/rate-limits' }, credential);
      let session: ConsoleSession;
      if ('apiKey' in body) {
        const answer = await probe({ 'x-api-key': body.apiKey });
        if (answer.status !== 200) return pass(reply, answer);
        const label = body.apiKey.startsWith(keyPrefix)
          ? `API key ${body.apiKey.slice(0, keyPrefix.length + 4)}…`
          : 'the bootstrap admin key';
        session = await sessions.create({
          credential: { kind: 'apiKey', apiKey: body.apiKey },
          label,
          subject: '',
        });
      } else {
        const login = await callApi(
          app,
          {
            ...client,
            method: 'POST',
            url: '/v1/auth/login',
            body: { email: body.email, password: body.password },
          },
          {},
        );
        if (login.status !== 200) return pass(reply, login);
        const pair = JSON.parse(login.body.toString('utf8')) as {
          access_token: string;
          refresh_token: string;
          expires_in: number;
        };
        const bearer = { authorization: `Bearer ${pair.access_token}` };
        const answer = await probe(bearer);
        if (answer.status !== 200) {
          // Not an admin: the tokens just issued end here, unused.
          await callApi(
            app,
            {
              ...client,
              method: 'POST',
              url: '/v1/auth/logout',
              body: { refresh_token: pair.refresh_token },
            },
            bearer,
          );
          return pass(reply, answer);
        }
        session = await sessions.create({
          credential: {
            kind: 'password',
            accessToken: pair.access_token,
            refreshToken: pair.refresh_token,
            accessExpiresAt: ctx.now() + pair.expires_in * 1000,
          },
          label: body.email,
          subject: '',
        });
      }
      if (ctx.now() - lastSweep > 600_000) {
        lastSweep = ctx.now();
        void Promise.resolve(ctx.storage.ttl.sweep(lastSweep)).catch(() => {});
      }
      reply.header('set-cookie', sessionCookie(session.id, https, ctx.config.console.absoluteTimeoutMs));
      return view(session, sessions);
    },
  );

  app.delete('/console/session', consoleRoute('Sign out of the console', true), async (request, reply) => {
    sameOrigin(request);
    reply.header('set-cookie', clearedCookie(https));
    const id = sessionIdOf(request.headers.cookie, https);
    const session = id === undefined ? undefined : await sessions.open(id);
    if (session === undefined) return reply.code(204).send();
    needCsrf(request, session);
    await sessions.end(session.id);
    const { credential } = session;
    if (credential.kind === 'password') {
      // The access token and its whole refresh family stop working at once.
      await callApi(
        app,
        {
          ...clientOf(request),
          method: 'POST',
          url: '/v1/auth/logout',
          body: { refresh_token: credential.refreshToken },
        },
        { authorization: `Bearer ${credential.accessToken}` },
      );
    }
    return reply.code(204).send();
  });

  // ----- the relay -----
  app.all('/console/api/*', consoleRoute('The relay to the admin API'), async (request, reply) => {
    sameOrigin(request);
    const session = await sessionOf(request, reply);
    if (!SAFE_METHODS.has(request.method)) needCsrf(request, session);
    const url = request.url.slice('/console/api'.length);
    if (!TARGET.test(url) || /(?:^|\/)(?:\.|%2e){1,2}(?:\/|\?|$)/i.test(url)) {
      throw new RampartError('NOT_FOUND', { detail: 'The console reaches only the admin API.' });
    }
    const answer = await call(session, {
      ...clientOf(request),
      method: request.method,
      url,
      body: request.body,
    });
    if (answer.ended) reply.header('set-cookie', clearedCookie(https));
    return pass(reply, answer);
  });
}
