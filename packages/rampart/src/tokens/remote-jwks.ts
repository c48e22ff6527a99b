/**
 * A trusted issuer's keys, fetched from its JWKS URL (given, or found once through discovery)
 * and kept: refetched when the set is older than `maxAgeMs` or a token names an unknown `kid`,
 * at most one fetch in flight, at most one attempt per `cooldownMs`, and the last good set
 * served while the provider is down.
 *
 * Why not jose's `createRemoteJWKSet` as is. Read in jose 6.2.18 (`dist/webapi/jwks/remote.js`)
 * and its documentation (`docs/jwks/remote/functions/createRemoteJWKSet.md`,
 * `interfaces/RemoteJWKSetOptions.md`: `cooldownDuration` "after a successful fetch", `cacheMaxAge`
 * 10 minutes, `timeoutDuration` 5 s):
 *
 * 1. Past `cacheMaxAge` it awaits a reload before every lookup and lets the fetch error reject
 *    the verification: while the provider is down, even tokens signed with a key it already
 *    holds fail. There is no stale-on-error mode.
 * 2. Its cooldown starts only after a *successful* fetch (`jwksTimestamp` is set in the
 *    success path), so while the provider answers errors every token with an unknown `kid`
 *    starts another fetch, one after the other: a flood of random kids becomes a flood of
 *    requests to the provider.
 * 3. It reads the body with `response.json()`, with no size bound (its `customFetch` hook could
 *    add one).
 * 4. Its clock is `Date.now()`, so cooldown and age cannot be tested without sleeping or
 *    patching the global clock (STYLE.md: time is injectable).
 *
 * Wrapping it to fix 1, 2 and 4 would mean keeping a second copy of its state (timestamps, the
 * last good set, a failure cooldown) beside its own, which is the whole of it but the fetch.
 * So the state machine is here, in one place, and jose still does what is security-critical:
 * key selection and import (`createLocalJWKSet`, see `key-source.ts`) and the signature and
 * claims (`jwtVerify`). The fetch is `bounded-fetch.ts` (timeout, size cap, no redirects, the
 * same refusal of a 3xx as jose's `redirect: 'manual'`).
 *
 * States and what a lookup does:
 *
 * | held set | kid in it | what happens |
 * | --- | --- | --- |
 * | none yet | – | fetch (unless an attempt failed within the cooldown); `KEYS_UNAVAILABLE` if there is still none |
 * | fresh | yes | the key, no fetch |
 * | older than `maxAgeMs` | yes | the key at once; a refresh starts behind it (outside the cooldown) |
 * | any | no | refetch once, unless within the cooldown of the last attempt; then `UNKNOWN_KID`, or `KEYS_UNAVAILABLE` when the last attempt failed |
 *
 * A failed refetch never drops the held set. A successful one replaces it whole, so a key the
 * provider withdrew stops verifying at the next refresh.
 */
import type { Clock } from '../lib/types.ts';
import { fetchJsonBounded } from './bounded-fetch.ts';
import { discoverJwksUri } from './discovery.ts';
import {
  type HeldKeySet,
  holdKeySet,
  type KeyLookup,
  type KeySetFailure,
  type KeySource,
  lookUp,
} from './key-source.ts';

/** Checked by `createIssuerVerifier`, which names the fields; this factory trusts them. */
export interface RemoteKeySourceOptions {
  /** The JWKS URL, when configured directly. */
  jwksUri?: string;
  /** Otherwise: the discovery document's URL and the issuer it must name; read on the first fetch, then kept. */
  discovery?: { url: string; issuer: string };
  /** Bound on one fetch attempt (discovery and JWKS together), bodies included, ms. */
  timeoutMs: number;
  /** Least time between two fetch attempts, successful or not, ms. */
  cooldownMs: number;
  /** Age after which a held set is refreshed (behind a lookup that it can answer), ms. */
  maxAgeMs: number;
  /** Largest JWKS or discovery document accepted, bytes. */
  maxBytes: number;
  now: Clock;
}

/**
 * Creates the key source of one remote issuer. Nothing is fetched until the first lookup (or
 * `refresh()`).
 * @example
 * const keys = createRemoteKeySource({ jwksUri: 'https://example.eu.auth0.com/.well-known/jwks.json',
 *   timeoutMs: 5000, cooldownMs: 30_000, maxAgeMs: 600_000, maxBytes: 65_536, now: Date.now });
 * const found = await keys.key(kid, 'RS256');
 */
export function createRemoteKeySource(options: RemoteKeySourceOptions): KeySource {
  const { timeoutMs, cooldownMs, maxAgeMs, maxBytes, now } = options;
  let jwksUri = options.jwksUri;
  let held: HeldKeySet | undefined;
  let fetchedAt: number | undefined;
  let attemptedAt: number | undefined;
  let lastFailure: KeySetFailure | undefined;
  let attempts = 0;
  let inFlight: Promise<boolean> | undefined;

  const coolingDown = () => attemptedAt !== undefined && now() - attemptedAt < cooldownMs;
  const mayFetch = () => inFlight !== undefined || !coolingDown();

  async function fetchOnce(): Promise<boolean> {
    attemptedAt = now();
    attempts += 1;
    // One deadline for the whole attempt, discovery and JWKS together: a lookup that waits for
    // it never waits longer than `timeoutMs`.
    const bounds = { timeoutMs, maxBytes, signal: AbortSignal.timeout(timeoutMs) };
    const fail = (reason: KeySetFailure) => {
      lastFailure = reason;
      return false;
    };
    try {
      if (jwksUri === undefined) {
        const { url, issuer } = options.discovery!;
        const found = await discoverJwksUri(url, issuer, bounds);
        if (!found.ok) return fail(found.reason);
        jwksUri = found.jwksUri;
      }
      const fetched = await fetchJsonBounded(jwksUri, bounds);
      if (!fetched.ok) return fail(fetched.reason);
      const next = holdKeySet(fetched.json);
      if (typeof next === 'string') return fail('BAD_JWKS');
      held = next;
      fetchedAt = now();
      lastFailure = undefined;
      return true;
    } catch {
      // Nothing above should throw; if it does, it is an outage of this issuer, not of the caller.
      return fail('NETWORK');
    }
  }

  function refresh(): Promise<boolean> {
    // One fetch in flight per issuer: every caller meanwhile awaits the same promise.
    inFlight ??= fetchOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  return {
    async key(kid, alg): Promise<KeyLookup> {
      if (held === undefined) {
        if (mayFetch()) await refresh();
        if (held === undefined) return { ok: false, code: 'KEYS_UNAVAILABLE' };
      } else if (inFlight === undefined && !coolingDown() && now() - fetchedAt! >= maxAgeMs) {
        // Stale but usable: answer from it now, refresh behind (stale-while-revalidate).
        void refresh();
      }
      const found = await lookUp(held, kid, alg);
      if (found !== undefined) return found;
      // An unknown kid may be a key the provider has just rotated in.
      if (mayFetch()) {
        await refresh();
        const again = await lookUp(held, kid, alg);
        if (again !== undefined) return again;
      }
      return { ok: false, code: lastFailure === undefined ? 'UNKNOWN_KID' : 'KEYS_UNAVAILABLE' };
    },
    has: (kid) => held?.kids.has(kid) ?? false,
    refresh,
    health: () => ({
      ...(jwksUri !== undefined ? { jwksUri } : {}),
      kids: held ? [...held.kids] : [],
      ...(fetchedAt !== undefined ? { fetchedAt } : {}),
      ...(attemptedAt !== undefined ? { attemptedAt } : {}),
      ...(lastFailure !== undefined ? { lastFailure } : {}),
      attempts,
    }),
  };
}
