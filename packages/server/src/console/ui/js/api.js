/**
 * The console's API client: one function per admin call. Every call goes to
 * `/console/api/<path>`, which the server runs against the API route `/<path>` with this
 * session's credential (docs/console.md). State-changing calls carry the CSRF token.
 *
 * ROUTES is the one place that names the API paths the console uses and the answers it
 * expects. Routes marked `pending` are built in parallel with the console; until they are on
 * the server, their calls answer 404 and the pages say "not available on this server".
 */

/**
 * The admin API as the console expects it. Shapes are JSON; times are ISO 8601 strings
 * (epoch ms accepted too, see `toMs`).
 */
export const ROUTES = {
  // ----- on the server today -----
  me: 'GET /v1/me → { id, email, name, role }',
  listKeys: 'GET /v1/keys?limit&cursor&ownerId → { keys: Key[], nextCursor }',
  getKey: 'GET /v1/keys/{id} → Key',
  createKey: 'POST /v1/keys { name, scopes, expiresAt?, ownerId?, rateLimit?, credits? } → 201 Key & { key }',
  revokeKey: 'DELETE /v1/keys/{id} → 204',
  rotateKey: 'POST /v1/keys/{id}/rotate { gracePeriod? } → 201 Key & { key, previous: { id, revokedAt } }',
  verifyKey: 'POST /v1/keys/verify { key, scope? } → { valid, code, keyId?, … }',
  audit: 'GET /v1/audit?type&actor&since&until&limit&cursor → { events: Event[], nextCursor }',
  metrics: 'GET /metrics → Prometheus text',
  rateLimits: 'GET /v1/admin/rate-limits → { store, storeState, blocked: Block[] }',
  readiness: 'GET /readyz → { status, checks: { storage, redis? } }',
  jwks: 'GET /.well-known/jwks.json → { keys: [{ kid, alg, … }] }',
  // ----- pending: the admin API built in parallel -----
  updateKey:
    'PATCH /v1/keys/{id} { name?, scopes?, expiresAt?, enabled?, rateLimit?: { limit, window } | null, credits?: { remaining?, increment?, refill? } | null } → Key (with disabledAt)',
  keyUsage:
    'GET /v1/keys/{id}/usage?granularity=minute|hour|day&since&until → { buckets: [{ start, total, outcomes: { VALID: n, RATE_LIMITED: n, … } }] }',
  listUsers:
    'GET /v1/admin/users?email(prefix)&name(part)&role&status=active|disabled&limit&cursor → { users: [{ id, email, name, role, status, createdAt, disabledAt }], nextCursor }',
  setRole: 'PATCH /v1/admin/users/{id} { role: "user" | "admin" } → User',
  disableUser: 'PATCH /v1/admin/users/{id} { disabled: true } → User',
  enableUser: 'PATCH /v1/admin/users/{id} { disabled: false } → User',
  endSessions: 'POST /v1/admin/users/{id}/end-sessions → 204',
  listIdentities:
    'GET /v1/identities?limit&cursor → { identities: [{ id, externalId, name, planId, overrides, credits, createdAt }], nextCursor }',
  identityKeys: 'GET /v1/identities/{id}/keys → { keys: Key[] }',
  identityUsage: 'GET /v1/identities/{id}/usage?granularity&since&until → { buckets }',
  listPlans: 'GET /v1/plans → { plans: [{ id, name, rateLimits: [{ name?, limit, windowMs }], credits }] }',
  signingKeys:
    'GET /v1/admin/signing-keys → { keys: [{ kid, alg, createdAt, activatesAt?, retiredAt? }] } (not yet planned: the JWKS has no dates)',
  unblock: 'DELETE /v1/admin/rate-limits/blocks/{rule}/{key} → 204',
  listEntries:
    'GET /v1/admin/rate-limits/lists → { entries: [{ id, list: "allow" | "deny", cidr, routes?, note?, expiresAt, createdAt, createdBy }] }',
  addEntry: 'POST /v1/admin/rate-limits/lists { list, cidr, note?, expiresAt? } → 201 Entry',
  removeEntry: 'DELETE /v1/admin/rate-limits/lists/{id} → 204',
};

let csrfToken = '';
const listeners = new Set();

/** Sets the session's CSRF token (from `/console/session`). */
export function setCsrfToken(token) {
  csrfToken = token ?? '';
}

/** Tells `fn` of every answer's rate-limit headers and of a session that ended. */
export function onAnswer(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The engine's 404 detail for a path no route serves (as against "no such key"). */
const NO_ROUTE = 'No route matches this method and path.';

/** A refused call: the problem+json document, and whether the route is missing here. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
    this.code = this.problem.code;
    /** The server has no such route yet (a pending admin route). */
    this.missing = status === 404 && this.problem.detail === NO_ROUTE;
    this.retryAfter = undefined;
  }
}

/** Is `error` a 404 of a route the server does not have (or a 405 of a method it lacks)? */
export function isUnavailable(error) {
  return error instanceof ApiError && (error.missing || error.status === 405);
}

async function send(method, path, body, options = {}) {
  const headers = { accept: options.text ? 'text/plain' : 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrfToken;
  const res = await fetch(options.raw ? path : `/console/api${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  for (const fn of listeners) fn({ status: res.status, headers: res.headers, path });
  if (res.status === 204) return undefined;
  const type = res.headers.get('content-type') ?? '';
  const payload = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) {
    const error = new ApiError(res.status, typeof payload === 'object' ? payload : undefined);
    error.retryAfter = res.headers.get('retry-after') ?? undefined;
    throw error;
  }
  return payload;
}

const q = (params) => {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  const text = search.toString();
  return text ? `?${text}` : '';
};
const id = (value) => encodeURIComponent(value);

// ----- the session (the console's own routes) -----
export const session = {
  get: () => send('GET', '/console/session', undefined, { raw: true }),
  signIn: (credentials) => send('POST', '/console/session', credentials, { raw: true }),
  signOut: () => send('DELETE', '/console/session', undefined, { raw: true }),
};

// ----- keys -----
export const listKeys = (params = {}) => send('GET', `/v1/keys${q({ limit: 200, ...params })}`);
export const getKey = (keyId) => send('GET', `/v1/keys/${id(keyId)}`);
export const createKey = (body) => send('POST', '/v1/keys', body);
export const revokeKey = (keyId) => send('DELETE', `/v1/keys/${id(keyId)}`);
export const rotateKey = (keyId, gracePeriod) =>
  send('POST', `/v1/keys/${id(keyId)}/rotate`, gracePeriod ? { gracePeriod } : {});
export const updateKey = (keyId, patch) => send('PATCH', `/v1/keys/${id(keyId)}`, patch);
export const keyUsage = (keyId, params) => send('GET', `/v1/keys/${id(keyId)}/usage${q(params)}`);

// ----- users and identities -----
export const listUsers = (params = {}) => send('GET', `/v1/admin/users${q({ limit: 100, ...params })}`);
export const setRole = (userId, role) => send('PATCH', `/v1/admin/users/${id(userId)}`, { role });
export const disableUser = (userId) => send('PATCH', `/v1/admin/users/${id(userId)}`, { disabled: true });
export const enableUser = (userId) => send('PATCH', `/v1/admin/users/${id(userId)}`, { disabled: false });
export const endSessions = (userId) => send('POST', `/v1/admin/users/${id(userId)}/end-sessions`);
export const listIdentities = (params = {}) => send('GET', `/v1/identities${q({ limit: 100, ...params })}`);
export const identityKeys = (identityId) => send('GET', `/v1/identities/${id(identityId)}/keys`);
export const identityUsage = (identityId, params) =>
  send('GET', `/v1/identities/${id(identityId)}/usage${q(params)}`);
export const listPlans = () => send('GET', '/v1/plans?limit=100');

// ----- audit, metrics, health -----
export const audit = (params = {}) => send('GET', `/v1/audit${q({ limit: 100, ...params })}`);
export const metrics = () => send('GET', '/metrics', undefined, { text: true });
export const readiness = () =>
  send('GET', '/readyz').catch((error) => {
    // 503 is an answer here: which store is down.
    if (error instanceof ApiError && error.status === 503) return error.problem;
    throw error;
  });
export const jwks = () => send('GET', '/.well-known/jwks.json');
export const signingKeys = () => send('GET', '/v1/admin/signing-keys');

// ----- rate limits -----
export const rateLimits = () => send('GET', '/v1/admin/rate-limits');
export const unblock = (rule, key) => send('DELETE', `/v1/admin/rate-limits/blocks/${id(rule)}/${id(key)}`);
/** One list's entries (the route answers both lists together). */
export const listEntries = async (list) => {
  const answer = await send('GET', '/v1/admin/rate-limits/lists');
  return { entries: (answer.entries ?? []).filter((e) => e.list === list) };
};
export const addEntry = (list, body) => send('POST', '/v1/admin/rate-limits/lists', { list, ...body });
export const removeEntry = (_list, entryId) => send('DELETE', `/v1/admin/rate-limits/lists/${id(entryId)}`);

/** An instant as epoch ms, from ISO text or a number. */
export function toMs(value) {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'number' ? value : Date.parse(value);
}
