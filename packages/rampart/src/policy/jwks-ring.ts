/**
 * A verification-only key ring over public keys from another issuer's JWKS document
 * (RFC 7517), for `createRampart({ jwt: { jwks } })`.
 *
 * The keys are given, never fetched: nothing a token names (`jku`, `x5u`) is looked up, and a
 * key set is checked once, at creation. Each key must say its `kid` and its `alg`, because the
 * access-token verifier ties a `kid` to exactly one algorithm (RFC 8725 §2.1: an RS256 public
 * key must never verify an HS256 token made with that key as the secret).
 */
import { createPublicKey, type JsonWebKey as NodeJwk, type webcrypto } from 'node:crypto';
import type { JWK } from 'jose';
import type { KeyRing, RingKey, SigningAlgorithm } from '../tokens/signing-keys.ts';
import { MIN_RSA_BITS } from '../tokens/signing-keys.ts';

/** A JWKS document (RFC 7517 §5) holding public signature keys. */
export interface PublicKeySet {
  keys: readonly JWK[];
}

/** What each asymmetric algorithm needs of a public key, as data. */
const PUBLIC_KEY_SPECS = {
  EdDSA: { kty: 'OKP', crv: 'Ed25519', members: ['crv', 'x'], webCrypto: { name: 'Ed25519' } },
  ES256: {
    kty: 'EC',
    crv: 'P-256',
    members: ['crv', 'x', 'y'],
    webCrypto: { name: 'ECDSA', namedCurve: 'P-256' },
  },
  RS256: {
    kty: 'RSA',
    crv: undefined,
    members: ['n', 'e'],
    webCrypto: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  },
} as const satisfies Record<
  Exclude<SigningAlgorithm, 'HS256'>,
  {
    kty: string;
    crv: string | undefined;
    members: readonly string[];
    webCrypto: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams | webcrypto.Algorithm;
  }
>;

// Members only a private (or symmetric) key has: a JWKS that carries one was exported wrongly,
// and trusting it would mean holding another party's signing secret.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const MAX_KID_LENGTH = 256;

/**
 * Imports the keys of a JWKS document into a ring the access-token verifier can use. The
 * result only verifies: it has no signing key, so it is handed to the verifier as a getter.
 *
 * @throws TypeError naming the field (`jwt.jwks.keys[1].alg: …`) for a key that is not a public
 * EdDSA, ES256 or RS256 (≥ 2048-bit) signature key with a `kid` and an `alg`, or a kid twice.
 * @example
 * const ring = verificationRing({ keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid: 'k1', alg: 'EdDSA' }] }, 'jwt.jwks');
 * ring.algorithms // ['EdDSA']
 */
export function verificationRing(
  jwks: PublicKeySet,
  field: string,
): { ring: () => KeyRing; algorithms: SigningAlgorithm[] } {
  if (jwks === null || typeof jwks !== 'object' || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new TypeError(`${field}: expected a JWKS document { keys: [...] } with at least one key`);
  }
  const byKid = new Map<string, RingKey>();
  jwks.keys.forEach((jwk, index) => {
    const at = `${field}.keys[${index}]`;
    const key = importPublicKey(jwk, at);
    if (byKid.has(key.kid)) throw new TypeError(`${at}.kid: ${JSON.stringify(key.kid)} appears twice`);
    byKid.set(key.kid, key);
  });
  const keys = [...byKid.values()];
  const verifyOnly = {
    verificationKey: (kid: string) => (typeof kid === 'string' ? byKid.get(kid) : undefined),
    verificationKeys: () => [...keys],
  };
  // The verifier reads only `verificationKey` from a ring given as a getter; the cast stands in
  // for a narrower `KeyRingSource` type (see the report of issue 6).
  const ring = verifyOnly as unknown as KeyRing;
  return { ring: () => ring, algorithms: [...new Set(keys.map((key) => key.alg))] };
}

function importPublicKey(jwk: JWK, at: string): RingKey {
  if (jwk === null || typeof jwk !== 'object') throw new TypeError(`${at}: expected a JWK object`);
  const { kid, alg, use } = jwk;
  if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH) {
    throw new TypeError(`${at}.kid: expected a non-empty string (tokens name their key by kid)`);
  }
  if (alg !== 'EdDSA' && alg !== 'ES256' && alg !== 'RS256') {
    throw new TypeError(
      `${at}.alg: expected EdDSA, ES256 or RS256 (each key is pinned to one algorithm), got ${JSON.stringify(alg)}`,
    );
  }
  if (use !== undefined && use !== 'sig') {
    throw new TypeError(`${at}.use: expected "sig", got ${JSON.stringify(use)}`);
  }
  for (const member of PRIVATE_MEMBERS) {
    if (Object.hasOwn(jwk, member)) {
      throw new TypeError(`${at}.${member}: a private key member; give only public keys`);
    }
  }
  const spec = PUBLIC_KEY_SPECS[alg as keyof typeof PUBLIC_KEY_SPECS];
  if (jwk.kty !== spec.kty) throw new TypeError(`${at}.kty: expected ${spec.kty} for ${alg}`);
  if (spec.crv !== undefined && jwk.crv !== spec.crv) {
    throw new TypeError(`${at}.crv: expected ${spec.crv} for ${alg}`);
  }
  const picked: Record<string, unknown> = { kty: spec.kty };
  for (const member of spec.members) {
    const value = (jwk as Record<string, unknown>)[member];
    if (typeof value !== 'string' || value === '') throw new TypeError(`${at}.${member}: required`);
    picked[member] = value;
  }
  if (alg === 'RS256' && Buffer.from(jwk.n!, 'base64url').length * 8 < MIN_RSA_BITS) {
    throw new TypeError(`${at}.n: RSA keys must be at least ${MIN_RSA_BITS} bits`);
  }
  let key: webcrypto.CryptoKey;
  try {
    key = createPublicKey({ key: picked as NodeJwk, format: 'jwk' }).toCryptoKey(spec.webCrypto, false, [
      'verify',
    ]);
  } catch (cause) {
    throw new TypeError(`${at}: the public key does not import`, { cause });
  }
  return Object.freeze({ kid, alg: alg as SigningAlgorithm, key });
}
