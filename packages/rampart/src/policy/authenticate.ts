/**
 * The authenticate → authorize step, built once per route policy (never per request).
 *
 * The order, and why:
 * 1. Find the one credential of the request (a credential in the URL, or two of them, is a
 *    malformed request: 400). None: 401 with the RFC 6750 challenge.
 * 2. A credential of a kind this route does not take (a JWT on a key-only route) is refused
 *    401 without verifying it, and does not count as a failed authentication: a developer
 *    calling the wrong route with a good token must not lock their own address out.
 * 3. The per-address failure budget (`authFailures`), before any verification: a credential
 *    this process has seen verify (a cached token, a known key) only checks that the address
 *    is not blocked; any other one reserves an attempt first, so a burst of invented
 *    credentials cannot all be verified against the same count. A blocked address gets 429
 *    with `Retry-After`, valid credential or not (it is a limit, not a bad token).
 * 4. Verify. A refused credential keeps its reservation (that is the failure counted); a valid
 *    one gives it back. A key over its own rate limit or out of credits is 429, not 401.
 * 5. Authorize: roles and scopes. A key probing a route it may not call spends neither its
 *    rate limit nor its credits (the scope goes to the key verifier), and gets 403.
 */
import type { KeyDecision, KeyLimitStatus } from '../api-keys/verify.ts';
import { RampartError } from '../errors.ts';
import type { Awaitable } from '../lib/types.ts';
import { formatRateLimit, formatRateLimitPolicy } from '../rate-limit/headers.ts';
import type { BlockCheck, Reservation } from '../rate-limit/limiter.ts';
import { limitRequest, type PolicyContext } from './context.ts';
import { extractCredential } from './credentials.ts';
import {
  type BearerOutcome,
  insufficientScope,
  invalidCredential,
  isAllowed,
  type Principal,
  unauthenticated,
} from './principal.ts';
import { limitRefusal, withEarlierLimits } from './steps/rate-limit.ts';
import { type AuthDecision, NO_HEADERS, type RequestView, routeOf, type Step } from './view.ts';

/** Which credentials an authentication step takes. */
export type AcceptedCredential = 'bearer' | 'apiKey' | 'any';

/** Options of `rampart.authenticate()`. */
export interface AuthenticateOptions {
  /** Default `'any'` of those configured (`jwt` → bearer tokens, `apiKeys` → keys). */
  accept?: AcceptedCredential;
  /**
   * Any one of these roles passes (admins pass every check). Rampart's own roles are `'user'`
   * and `'admin'`; an outside issuer's mapped roles (`jwt.issuers[].claims.roles`) count too.
   */
  roles?: readonly string[];
  /** Every one of these scopes is needed (an `admin` scope implies all). */
  scopes?: readonly string[];
  /**
   * Only bearer tokens of these outside issuers pass (each an `iss` of `jwt.issuers`): a
   * gateway route for one identity provider's clients. A valid token of another issuer, or
   * one of Rampart's own, is refused 401 like a credential of a kind the route does not take,
   * and does not count as a failed authentication. Implies `accept: 'bearer'`.
   */
  issuers?: readonly string[];
}

/** The verifiers the step uses, as `createRampart` built them from its options. */
export interface Verifiers {
  bearer?: {
    verify(token: string): Promise<BearerOutcome>;
    isCached(token: string): boolean;
    /** A cached token's answer at once, or `undefined` (then `verify`). */
    verifyNow?(token: string): BearerOutcome | undefined;
  };
  apiKey?: {
    verify(key: string, options: { scope?: readonly string[] }): Awaitable<KeyDecision>;
    isKnown(key: string): boolean;
    isKey: ((bearer: string) => boolean) | undefined;
    prefixes: readonly string[];
  };
  /** The `iss` of each outside issuer (`jwt.issuers`), to check `issuers` against. */
  outsideIssuers?: ReadonlySet<string>;
}

const AUTHENTICATE_KEYS = new Set(['accept', 'roles', 'scopes', 'issuers']);
const DEFAULT_PREFIXES = ['rk_live_'];
/** The most reservations shared at once (a bound, like every per-address structure). */
const MAX_IN_FLIGHT = 10_000;
/** A key's own limits: a valid key over them is told to wait, not that it is bad. */
const KEY_LIMITS = new Set(['RATE_LIMITED', 'USAGE_EXCEEDED']);

function principalOfKey(decision: Extract<KeyDecision, { valid: true }>): Principal {
  const admin = decision.ownerId === null && decision.scopes.includes('admin');
  return {
    kind: 'api_key',
    userId: decision.ownerId,
    role: admin ? 'admin' : null,
    scopes: decision.scopes,
    keyId: decision.keyId,
  };
}

/**
 * Builds one authenticate step.
 * @throws TypeError at creation when an option is wrong or names a credential not configured.
 */
export function authenticateStep(
  ctx: PolicyContext,
  verifiers: Verifiers,
  options: AuthenticateOptions = {},
): Step<AuthDecision> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError('authenticate: expected an options object');
  }
  for (const key of Object.keys(options)) {
    if (!AUTHENTICATE_KEYS.has(key)) {
      throw new TypeError(
        `authenticate.${key}: unknown option; expected one of accept, roles, scopes, issuers`,
      );
    }
  }
  const issuers = options.issuers;
  if (issuers !== undefined) {
    if (!Array.isArray(issuers) || issuers.length === 0 || issuers.some((i) => typeof i !== 'string')) {
      throw new TypeError('authenticate.issuers: expected a non-empty array of issuer URLs');
    }
    if (options.accept !== undefined && options.accept !== 'bearer') {
      throw new TypeError("authenticate.issuers: only bearer tokens have an issuer; use accept: 'bearer'");
    }
    issuers.forEach((issuer, i) => {
      if (!verifiers.outsideIssuers?.has(issuer)) {
        throw new TypeError(
          `authenticate.issuers[${i}]: ${JSON.stringify(issuer)} is not one of the trusted issuers (jwt.issuers)`,
        );
      }
    });
  }
  const onlyIssuers = issuers === undefined ? undefined : new Set(issuers);
  const acceptText = options.accept ?? (issuers !== undefined ? 'bearer' : 'any');
  if (acceptText !== 'any' && acceptText !== 'bearer' && acceptText !== 'apiKey') {
    throw new TypeError(
      `authenticate.accept: expected 'bearer', 'apiKey' or 'any', got ${JSON.stringify(acceptText)}`,
    );
  }
  const { bearer, apiKey } = verifiers;
  if (acceptText === 'bearer' && bearer === undefined) {
    throw new TypeError("authenticate.accept: 'bearer' needs the jwt option of createRampart");
  }
  if (acceptText === 'apiKey' && apiKey === undefined) {
    throw new TypeError("authenticate.accept: 'apiKey' needs the apiKeys option of createRampart");
  }
  if (bearer === undefined && apiKey === undefined) {
    throw new TypeError('authenticate: configure jwt or apiKeys in createRampart first');
  }
  const accepts = {
    bearer: bearer !== undefined && acceptText !== 'apiKey',
    api_key: apiKey !== undefined && acceptText !== 'bearer',
  };
  const roles = options.roles;
  if (
    roles !== undefined &&
    (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string' || r === ''))
  ) {
    throw new TypeError("authenticate.roles: expected an array of role names, e.g. ['admin']");
  }
  const scopes = options.scopes;
  if (
    scopes !== undefined &&
    (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || s === ''))
  ) {
    throw new TypeError('authenticate.scopes: expected an array of non-empty strings');
  }
  const requirement = { ...(roles !== undefined ? { roles } : {}), scopes: scopes ?? [] };
  const needed = Object.freeze([...(scopes ?? []), ...(roles ?? []).map((role) => `role:${role}`)]);
  const scopeOption = Object.freeze(scopes !== undefined && scopes.length > 0 ? { scope: [...scopes] } : {});
  const prefixes = apiKey?.prefixes ?? DEFAULT_PREFIXES;
  const isKey = apiKey?.isKey;
  const failures = ctx.failures;

  const event = (
    view: RequestView,
    ip: string,
    kind: 'bearer' | 'api_key',
    reason: string,
    keyId: string | undefined,
  ) =>
    ctx.emit(
      {
        type: reason === 'REVOKED' ? 'authn_token_revoked' : 'authn_token_invalid',
        outcome: 'failure',
        ip,
        ...(keyId !== undefined ? { actor: keyId } : {}),
        // 'scheme', not 'credential': the audit scrubber blanks fields named like secrets.
        detail: { scheme: kind, reason, route: routeOf(view) },
      },
      view,
    );
  const blockedAnswer = (
    view: RequestView,
    check: Pick<BlockCheck, 'decisions' | 'failure' | 'retryAfterSec'> & { headers: Record<string, string> },
  ) => limitRefusal(ctx, view, check, { ...check.headers });

  // Not async: a token this process verified before, from an address with no failures on
  // record, is decided without a promise. Everything else takes the path below as it is.
  return (view) => {
    const ip = ctx.clientIp(view);
    let credential: ReturnType<typeof extractCredential>;
    try {
      credential = extractCredential({ header: view.headers, query: view.query }, prefixes, isKey);
    } catch (error) {
      // Only a malformed request throws here (a credential in the URL, two credentials).
      if (error instanceof RampartError && error.status < 500) return ctx.refuse(error, view);
      throw error;
    }
    if (credential.kind === 'none') return ctx.refuse(unauthenticated(), view);
    const kind = credential.kind;
    const badCredential = () =>
      ctx.refuse(invalidCredential(kind === 'bearer' ? 'INVALID_TOKEN' : 'INVALID_API_KEY'), view);
    if (!accepts[kind]) {
      event(view, ip, kind, 'NOT_ACCEPTED', undefined);
      return badCredential();
    }

    // The failure budget, before any verification.
    const secret = kind === 'bearer' ? credential.token : credential.key;
    // An allow-listed address is never refused by a limit, the failure budget included.
    const exempt =
      !ctx.addresses.empty &&
      ctx.addresses.decide(ip, String(view.method).toUpperCase(), view.route ?? view.path, ctx.now())
        .action === 'allow';
    if (credential.kind === 'bearer' && bearer!.verifyNow !== undefined) {
      // Nothing to reserve or wait for: the token is known and the address has no failures.
      const budgetFree = failures === undefined || exempt || !failures.mayBeBlocked(ip);
      const answer = budgetFree ? bearer!.verifyNow(secret) : undefined;
      if (answer !== undefined) return bearerDecision(view, ip, answer, undefined, !exempt);
    }
    return budgeted(view, ip, kind, credential, secret, exempt);
  };

  async function budgeted(
    view: RequestView,
    ip: string,
    kind: 'bearer' | 'api_key',
    credential: { kind: 'bearer'; token: string } | { kind: 'api_key'; key: string },
    secret: string,
    exempt: boolean,
  ): Promise<AuthDecision> {
    const known = kind === 'bearer' ? bearer!.isCached(secret) : apiKey!.isKnown(secret);
    let reservation: Reservation | undefined;
    // Set when this request made a shared reservation; `piggyback` when it rides on another's.
    let flight: string | undefined;
    let piggyback = false;
    if (failures !== undefined && !exempt) {
      const request = limitRequest(view, ip);
      if (known) {
        if (failures.mayBeBlocked(ip)) {
          const check = await failures.address.isBlocked(request);
          if (check.blocked) return blockedAnswer(view, check);
        }
      } else {
        const key = `${ip} ${secret}`;
        let pending = failures.inFlight.get(key);
        if (pending !== undefined) piggyback = true;
        else {
          pending = failures.address.reserve(request);
          if (failures.inFlight.size < MAX_IN_FLIGHT) {
            failures.inFlight.set(key, pending);
            flight = key;
          } else flight = '';
        }
        const shared = await pending;
        if (!shared.allowed) {
          if (flight) failures.inFlight.delete(flight);
          return blockedAnswer(view, shared);
        }
        // Only the request that reserved settles the reservation.
        if (!piggyback) reservation = shared;
      }
    }
    try {
      return await verifyAndAuthorize(view, ip, kind, credential, reservation, !piggyback && !exempt);
    } finally {
      if (flight) failures!.inFlight.delete(flight);
    }
  }

  async function verifyAndAuthorize(
    view: RequestView,
    ip: string,
    kind: 'bearer' | 'api_key',
    credential: { kind: 'bearer'; token: string } | { kind: 'api_key'; key: string },
    reservation: Reservation | undefined,
    owner: boolean,
  ): Promise<AuthDecision> {
    const failed = (reason: string, keyId?: string) =>
      failure(view, ip, kind, reason, keyId, reservation, owner);
    const release = () => releaseOf(view, reservation);

    if (credential.kind === 'bearer') {
      return bearerDecision(view, ip, await bearer!.verify(credential.token), reservation, owner);
    }
    let principal: Principal;
    let limitHeaders: Record<string, string> = NO_HEADERS;
    {
      // The scope goes to the key verifier so that a key probing routes it may not call spends
      // neither its rate limit nor its credits.
      const decision = await apiKey!.verify(credential.key, scopeOption);
      if (!decision.valid) {
        if (decision.code === 'INSUFFICIENT_SCOPE' && decision.keyId !== undefined) {
          // A valid key refused only for scope: a credential, not a failure. 403 below.
          release();
          return forbid(view, ip, {
            kind: 'api_key',
            userId: null,
            role: null,
            scopes: [],
            keyId: decision.keyId,
          });
        }
        if (KEY_LIMITS.has(decision.code)) {
          release();
          const retryAfterSec = Math.max(1, Math.ceil((decision.retryAfterMs ?? 1000) / 1000));
          ctx.onRateLimited(decision.code === 'RATE_LIMITED' ? 'api-key' : 'api-key-credits');
          return ctx.refuse(
            new RampartError(decision.code === 'RATE_LIMITED' ? 'RATE_LIMITED' : 'USAGE_EXCEEDED', {
              headers: { ...keyLimitHeaders(view, decision.limits), 'Retry-After': String(retryAfterSec) },
            }),
            view,
          );
        }
        return failed(decision.code, decision.keyId);
      }
      principal = principalOfKey(decision);
      limitHeaders = keyLimitHeaders(view, decision.limits);
    }
    release();
    if (!isAllowed(principal, requirement)) return forbid(view, ip, principal);
    return { ok: true, principal, headers: limitHeaders };
  }

  /** A refused credential: counted against the budget (unless it rode on another's), audited, 401. */
  function failure(
    view: RequestView,
    ip: string,
    kind: 'bearer' | 'api_key',
    reason: string,
    keyId: string | undefined,
    reservation: Reservation | undefined,
    owner: boolean,
  ): AuthDecision {
    if (failures !== undefined && owner) {
      failures.mark(ip);
      // A reservation kept is the failure counted; a known credential had none, so count it.
      if (reservation === undefined) {
        failures.address
          .recordFailure(limitRequest(view, ip))
          .catch((error: unknown) => ctx.onError(error, view));
      }
    }
    event(view, ip, kind, reason, keyId);
    return ctx.refuse(invalidCredential(kind === 'bearer' ? 'INVALID_TOKEN' : 'INVALID_API_KEY'), view);
  }

  function releaseOf(view: RequestView, reservation: Reservation | undefined): void {
    if (reservation !== undefined) {
      void Promise.resolve(reservation.release()).catch((error: unknown) => ctx.onError(error, view));
    }
  }

  /** What a bearer token's verification decides: 401, the issuer check, then authorization. */
  function bearerDecision(
    view: RequestView,
    ip: string,
    result: BearerOutcome,
    reservation: Reservation | undefined,
    owner: boolean,
  ): AuthDecision {
    if (!result.ok) return failure(view, ip, 'bearer', result.code, undefined, reservation, owner);
    const principal = result.principal;
    releaseOf(view, reservation);
    if (onlyIssuers !== undefined && !onlyIssuers.has(principal.issuer ?? '')) {
      // A good token, from an issuer this route does not take: not a failed authentication.
      event(view, ip, 'bearer', 'ISSUER_NOT_ACCEPTED', undefined);
      return ctx.refuse(invalidCredential('INVALID_TOKEN'), view);
    }
    if (!isAllowed(principal, requirement)) return forbid(view, ip, principal);
    return { ok: true, principal, headers: NO_HEADERS };
  }

  /** The key's and its identity's limits as RateLimit fields, after the earlier steps' ones. */
  function keyLimitHeaders(view: RequestView, limits: readonly KeyLimitStatus[] | undefined) {
    if (limits === undefined || limits.length === 0) return NO_HEADERS;
    const at = ctx.now();
    const own = {
      'RateLimit-Policy': formatRateLimitPolicy(limits),
      RateLimit: formatRateLimit(
        limits.map((l) => ({
          name: l.name,
          remaining: l.remaining,
          resetAfterMs: Math.max(0, l.resetAt - at),
        })),
      ),
    };
    return withEarlierLimits(ctx, view, own);
  }

  function forbid(view: RequestView, ip: string, principal: Principal) {
    const actor = principal.userId ?? principal.keyId;
    ctx.emit(
      {
        type: 'authz_fail',
        outcome: 'failure',
        ip,
        ...(actor ? { actor } : {}),
        detail: { route: routeOf(view), needed: [...needed] },
      },
      view,
    );
    return ctx.refuse(insufficientScope(scopes ?? []), view);
  }
}
