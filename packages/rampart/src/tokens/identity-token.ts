/**
 * Identity tokens: the short-lived signed statement a gateway hands an upstream about who is
 * calling ("Rampart checked this request; the caller is `sub` with these scopes"), signed with
 * the same key ring as the access tokens, so the upstream verifies it with Rampart's JWKS.
 *
 * It must never pass for an access token, or an upstream that logs it (or an attacker who
 * reads it off that upstream) could call Rampart's own API with it. Three things keep the two
 * apart: its `typ` is `rampart-identity+jwt`, which the access-token verifier refuses (it takes
 * `at+jwt` only, RFC 8725 §3.11 explicit typing); its `aud` is the upstreams' audience, never
 * the API's; and it lives seconds, bound to one request by `htm` and `htu` (the method and
 * path, named as DPoP names them, RFC 9449 §4.2) so that it is worth little anywhere else.
 */
import { SignJWT } from 'jose';
import { randomBase62 } from '../lib/ids.ts';
import type { Clock } from '../lib/types.ts';
import type { KeyRingSource } from './access-token.ts';
import type { KeyRing } from './signing-keys.ts';

/** The `typ` header of an identity token. */
export const IDENTITY_TOKEN_TYPE = 'rampart-identity+jwt';

/** Options of {@link createIdentityTokenIssuer}. */
export interface IdentityTokenIssuerOptions {
  /** The key ring that signs (asymmetric: the upstream verifies with the public JWKS). */
  ring: KeyRingSource;
  /** `iss`: Rampart's own issuer. */
  issuer: string;
  /** `aud`: the upstreams' audience; must differ from the access tokens' audience. */
  audience: string;
  /** Lifetime, ms, 1 s to the ring's `accessTtlMs`; default 60 000. */
  ttlMs?: number;
  now?: Clock;
}

/** Who the token names, and the request it was made for. */
export interface IdentityTokenInput {
  /** The caller: a user id, or a key id for a key with no owner. */
  sub: string;
  scopes?: readonly string[];
  roles?: readonly string[];
  /** The API key the caller used, if any. */
  keyId?: string;
  /** The outside issuer that vouched for the caller (`jwt.issuers`), if any: claim `idp`. */
  identityProvider?: string;
  tenant?: string;
  /** The request's method and path: claims `htm` and `htu`. */
  method: string;
  path: string;
}

export interface IdentityTokenIssuer {
  issue(input: IdentityTokenInput): Promise<string>;
}

/**
 * Creates the identity-token issuer.
 * @throws TypeError naming the field when an option is invalid (an HS256 ring among them: its
 * key is secret, so no upstream could verify the token with the JWKS).
 * @example
 * const identity = createIdentityTokenIssuer({ ring, issuer: 'https://auth.example.com', audience: 'https://upstreams.example.com' });
 * const token = await identity.issue({ sub: 'usr_1', scopes: ['orders:read'], method: 'GET', path: '/orders' });
 */
export function createIdentityTokenIssuer(options: IdentityTokenIssuerOptions): IdentityTokenIssuer {
  if (options === null || typeof options !== 'object') throw new TypeError('options: expected an object');
  const getRing: () => KeyRing =
    typeof options.ring === 'function' ? options.ring : () => options.ring as KeyRing;
  for (const field of ['issuer', 'audience'] as const) {
    if (typeof options[field] !== 'string' || options[field] === '')
      throw new TypeError(`${field}: expected a non-empty string`);
  }
  const ttlMs = options.ttlMs ?? 60_000;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000) throw new TypeError('ttlMs: expected at least 1000');
  const first = getRing();
  if (first.signingKey.alg === 'HS256') {
    throw new TypeError(
      'ring: identity tokens need an asymmetric key (EdDSA, ES256, RS256) an upstream can verify',
    );
  }
  if (ttlMs > first.accessTtlMs)
    throw new TypeError(`ttlMs: at most the key ring's accessTtlMs (${first.accessTtlMs})`);
  const now = options.now ?? Date.now;
  const { issuer, audience } = options;
  return {
    async issue(input) {
      const { signingKey } = getRing();
      const at = Math.floor(now() / 1000);
      const claims: Record<string, unknown> = {
        iss: issuer,
        sub: input.sub,
        aud: audience,
        iat: at,
        exp: at + Math.floor(ttlMs / 1000),
        jti: randomBase62(22),
        htm: input.method,
        htu: input.path,
      };
      if (input.scopes !== undefined && input.scopes.length > 0) claims.scope = input.scopes.join(' ');
      if (input.roles !== undefined && input.roles.length > 0) claims.roles = [...input.roles];
      if (input.keyId !== undefined) claims.key_id = input.keyId;
      if (input.identityProvider !== undefined) claims.idp = input.identityProvider;
      if (input.tenant !== undefined) claims.tenant = input.tenant;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: signingKey.alg, typ: IDENTITY_TOKEN_TYPE, kid: signingKey.kid })
        .sign(signingKey.key);
    },
  };
}
