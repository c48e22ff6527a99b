/**
 * Signing keys for access tokens: generation, a serialisable record, and the key ring that
 * decides which key signs, which keys still verify, and what `/.well-known/jwks.json` shows.
 *
 * - A record is plain JSON (JWKs), so a store row or a 0600 file can hold it as is.
 * - `kid` is the RFC 7638 thumbprint of the key, so it is derived, never chosen, and the ring
 *   can check that a stored record was not edited.
 * - A retired key keeps verifying until `retiredAt + accessTtl (+ tolerance)`: the last token it
 *   signed has then expired, and only then does it leave the JWKS (issue 4 §4).
 * - The ring looks keys up in a `Map` by `kid`: a `kid` from a token is never a path, a query or
 *   a URL, whatever it contains.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type KeyObject,
  type JsonWebKey as NodeJwk,
  type webcrypto,
} from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Clock } from '../lib/types.ts';

/** The algorithms Rampart signs with. `none` is not one of them, and never will be. */
export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256' | 'HS256';
/** The algorithms whose keys Rampart generates (HS256 keys come from configuration). */
export type AsymmetricAlgorithm = Exclude<SigningAlgorithm, 'HS256'>;

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = Object.freeze([
  'EdDSA',
  'ES256',
  'RS256',
  'HS256',
]);

/** Minimum HS256 secret length in bytes (RFC 7518 §3.2: a key at least as long as the hash). */
export const MIN_HS256_SECRET_BYTES = 32;
/** Minimum RSA modulus in bits (RFC 7518 §3.3, NIST SP 800-131A). */
export const MIN_RSA_BITS = 2048;

/**
 * One signing key as stored. Serialise it with `JSON.stringify`; `privateJwk` is secret (store
 * it in the data dir with mode 0600 or in storage, never in a log).
 */
export interface SigningKeyRecord {
  /** RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key; of the secret for HS256. */
  kid: string;
  alg: SigningAlgorithm;
  /** When the key was created, ms since the epoch. */
  createdAt: number;
  /** When the key stopped signing (set by rotation), ms since the epoch. Absent on the current key. */
  retiredAt?: number;
  /** The public key (only public members). Absent for HS256, whose key is secret. */
  publicJwk?: JWK;
  /** The private key (or the HS256 secret as `{ kty: 'oct', k }`). */
  privateJwk: JWK;
}

/** A key in the ring, imported once, ready for jose. */
export interface RingKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly key: webcrypto.CryptoKey;
}

/** A public JWK as published in the JWKS (RFC 7517 §4). */
export interface PublishedJwk extends JWK {
  kid: string;
  alg: AsymmetricAlgorithm;
  use: 'sig';
}

/** The JWKS document (RFC 7517 §5). */
export interface PublicJwks {
  keys: PublishedJwk[];
}

export interface KeyRingOptions {
  /** The stored records; exactly one of them must be current (no `retiredAt`). */
  keys: readonly SigningKeyRecord[];
  /** The longest access-token lifetime, ms: how long a retired key keeps verifying. */
  accessTtlMs: number;
  /** Extra time a retired key keeps verifying, for clock skew between instances, ms. Default 5000. */
  clockToleranceMs?: number;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: Clock;
}

export interface RotateOptions {
  /** The next key, already made (an HS256 key from a new configured secret, or a pre-generated one). */
  key?: SigningKeyRecord;
  /** Algorithm of the key to generate when `key` is not given. Default: the current key's. */
  alg?: AsymmetricAlgorithm;
  /** RSA modulus when generating RS256, bits. Default 2048. */
  modulusLength?: number;
}

/** The keys of one issuer. Immutable: `rotate` answers a new ring. */
export interface KeyRing {
  readonly accessTtlMs: number;
  readonly clockToleranceMs: number;
  /** The records to persist (after a rotation, the new ring's records replace the old ones). */
  readonly records: readonly SigningKeyRecord[];
  /** The key that signs new tokens. */
  readonly signingKey: RingKey;
  /** The key for a token's `kid` while it still verifies; `undefined` otherwise. */
  verificationKey(kid: string): RingKey | undefined;
  /** Every key that still verifies: the current one and previous ones within their window. */
  verificationKeys(): RingKey[];
  /** The public JWKS: asymmetric keys that still verify, public members only. */
  jwks(): PublicJwks;
  /** A new ring where a new key signs and the current one is retired now. */
  rotate(options?: RotateOptions): Promise<KeyRing>;
}

/** What each algorithm needs of a key, kept as data. */
const ALGORITHM_KEYS = {
  EdDSA: {
    kty: 'OKP',
    crv: 'Ed25519',
    webCrypto: { name: 'Ed25519' },
    publicMembers: ['crv', 'x'],
    privateMembers: ['crv', 'x', 'd'],
  },
  ES256: {
    kty: 'EC',
    crv: 'P-256',
    webCrypto: { name: 'ECDSA', namedCurve: 'P-256' },
    publicMembers: ['crv', 'x', 'y'],
    privateMembers: ['crv', 'x', 'y', 'd'],
  },
  RS256: {
    kty: 'RSA',
    crv: undefined,
    webCrypto: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    publicMembers: ['n', 'e'],
    privateMembers: ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'],
  },
  HS256: {
    kty: 'oct',
    crv: undefined,
    webCrypto: { name: 'HMAC', hash: 'SHA-256' },
    publicMembers: [],
    privateMembers: ['k'],
  },
} as const satisfies Record<
  SigningAlgorithm,
  {
    kty: string;
    crv: string | undefined;
    webCrypto:
      | webcrypto.RsaHashedImportParams
      | webcrypto.EcKeyImportParams
      | webcrypto.HmacImportParams
      | webcrypto.Algorithm;
    publicMembers: readonly string[];
    privateMembers: readonly string[];
  }
>;

/** RFC 7638 §3.2: the required members of each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  OKP: ['crv', 'kty', 'x'],
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  oct: ['k', 'kty'],
};

const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The RFC 7638 thumbprint (SHA-256, base64url) of a JWK. Synchronous, so the ring can check
 * stored `kid`s at creation. @throws TypeError when a required member is missing.
 * @example jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' })
 */
export function jwkThumbprint(jwk: JWK): string {
  const members = jwk.kty === undefined ? undefined : THUMBPRINT_MEMBERS[jwk.kty];
  if (!members) throw new TypeError('jwk.kty: expected OKP, EC, RSA or oct');
  const canonical: Record<string, string> = {};
  for (const member of members) {
    const value = (jwk as Record<string, unknown>)[member];
    if (typeof value !== 'string' || value === '')
      throw new TypeError(`jwk.${member}: required for a thumbprint`);
    canonical[member] = value;
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/**
 * Generates a new asymmetric signing key with jose (EdDSA/Ed25519 by default).
 * @throws TypeError naming the field for an unknown algorithm or an RSA modulus under 2048 bits.
 * @example const record = await generateSigningKey({ alg: 'EdDSA' });
 */
export async function generateSigningKey(
  options: { alg?: AsymmetricAlgorithm; modulusLength?: number; now?: Clock } = {},
): Promise<SigningKeyRecord> {
  const alg = options.alg ?? 'EdDSA';
  if (alg !== 'EdDSA' && alg !== 'ES256' && alg !== 'RS256') {
    throw new TypeError(`alg: expected EdDSA, ES256 or RS256, got ${JSON.stringify(alg)}`);
  }
  const modulusLength = options.modulusLength ?? MIN_RSA_BITS;
  if (!Number.isSafeInteger(modulusLength) || modulusLength < MIN_RSA_BITS || modulusLength > 8192) {
    throw new TypeError(`modulusLength: expected an integer from ${MIN_RSA_BITS} to 8192`);
  }
  const now = options.now ?? Date.now;
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength });
  const exported = await exportJWK(privateKey);
  const spec = ALGORITHM_KEYS[alg];
  const privateJwk = pick(exported, ['kty', ...spec.privateMembers]);
  const publicJwk = pick(exported, ['kty', ...spec.publicMembers]);
  return { kid: jwkThumbprint(publicJwk), alg, createdAt: now(), publicJwk, privateJwk };
}

/**
 * An HS256 key from a configured shared secret (only for setups where every verifier is
 * trusted with the signing secret). HS256 keys are never published.
 * @throws TypeError naming `secret` when the secret is shorter than 32 bytes.
 * @example const record = hs256SigningKey({ secret: process.env.JWT_SECRET! });
 */
export function hs256SigningKey(options: { secret: string | Uint8Array; now?: Clock }): SigningKeyRecord {
  const { secret } = options;
  const bytes =
    typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret instanceof Uint8Array ? secret : null;
  if (bytes === null) throw new TypeError('secret: expected a string or bytes');
  if (bytes.length < MIN_HS256_SECRET_BYTES) {
    // The length is safe to say; the secret is not.
    throw new TypeError(`secret: must be at least ${MIN_HS256_SECRET_BYTES} bytes, got ${bytes.length}`);
  }
  const privateJwk: JWK = { kty: 'oct', k: Buffer.from(bytes).toString('base64url') };
  return { kid: jwkThumbprint(privateJwk), alg: 'HS256', createdAt: (options.now ?? Date.now)(), privateJwk };
}

/**
 * Retires the current key at `now`, adds `next`, and drops the records whose verification window
 * has ended. Pure: the inputs are not changed.
 * @throws TypeError when `next` is already retired or its kid is already in the ring.
 * @example const records = rotateKeyRecords(ring.records, await generateSigningKey(), { now: Date.now(), accessTtlMs });
 */
export function rotateKeyRecords(
  records: readonly SigningKeyRecord[],
  next: SigningKeyRecord,
  options: { now: number; accessTtlMs: number; clockToleranceMs?: number },
): SigningKeyRecord[] {
  const { now, accessTtlMs, clockToleranceMs = 5_000 } = options;
  if (next.retiredAt !== undefined) throw new TypeError('key.retiredAt: the next key must not be retired');
  if (records.some((record) => record.kid === next.kid)) throw new TypeError('key.kid: already in the ring');
  const kept = records
    .map((record) => (record.retiredAt === undefined ? { ...record, retiredAt: now } : record))
    .filter((record) => stillVerifies(record, now, accessTtlMs, clockToleranceMs));
  return [...kept, next];
}

/**
 * Creates the key ring from stored records, importing each key once.
 * @throws TypeError naming the field (`keys[1].kid`, `accessTtlMs`, …) when a record is invalid,
 * was edited (its kid is not its thumbprint), or when there is not exactly one current key.
 * @example
 * const ring = createKeyRing({ keys: [await generateSigningKey()], accessTtlMs: 15 * 60_000 });
 * ring.jwks(); // { keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' }] }
 */
export function createKeyRing(options: KeyRingOptions): KeyRing {
  if (options === null || typeof options !== 'object') throw new TypeError('(options): expected an object');
  const { keys, accessTtlMs, clockToleranceMs = 5_000, now = Date.now } = options;
  if (!Number.isSafeInteger(accessTtlMs) || accessTtlMs < 1000) {
    throw new TypeError('accessTtlMs: expected an integer number of milliseconds, at least 1000');
  }
  if (!Number.isSafeInteger(clockToleranceMs) || clockToleranceMs < 0 || clockToleranceMs > 300_000) {
    throw new TypeError('clockToleranceMs: expected an integer from 0 to 300000');
  }
  if (typeof now !== 'function') throw new TypeError('now: expected a function returning ms since the epoch');
  if (!Array.isArray(keys) || keys.length === 0)
    throw new TypeError('keys: expected at least one signing key record');

  const records = keys.map((record, index) => validateRecord(record, `keys[${index}]`));
  const byKid = new Map<string, { record: SigningKeyRecord; verify: RingKey }>();
  let current: { record: SigningKeyRecord; sign: RingKey } | undefined;
  for (const [index, record] of records.entries()) {
    if (byKid.has(record.kid)) throw new TypeError(`keys[${index}].kid: duplicate kid`);
    byKid.set(record.kid, {
      record,
      verify: { kid: record.kid, alg: record.alg, key: importKey(record, 'verify') },
    });
    if (record.retiredAt === undefined) {
      if (current)
        throw new TypeError(`keys[${index}].retiredAt: more than one current key (retire all but one)`);
      current = { record, sign: { kid: record.kid, alg: record.alg, key: importKey(record, 'sign') } };
    }
  }
  if (!current) throw new TypeError('keys: no current key (every record has retiredAt)');
  const signingKey = current.sign;
  const frozenRecords = Object.freeze(records);

  const live = (record: SigningKeyRecord) => stillVerifies(record, now(), accessTtlMs, clockToleranceMs);

  const ring: KeyRing = {
    accessTtlMs,
    clockToleranceMs,
    records: frozenRecords,
    signingKey,
    verificationKey(kid) {
      if (typeof kid !== 'string') return undefined;
      const entry = byKid.get(kid);
      return entry && live(entry.record) ? entry.verify : undefined;
    },
    verificationKeys() {
      return [...byKid.values()].filter((entry) => live(entry.record)).map((entry) => entry.verify);
    },
    jwks() {
      const published: PublishedJwk[] = [];
      for (const { record } of byKid.values()) {
        if (record.alg === 'HS256' || !record.publicJwk || !live(record)) continue;
        // Built from an allow-list of public members: a private member (d, p, q, dp, dq, qi,
        // k) cannot reach the JWKS even if a record carried one by mistake.
        const spec = ALGORITHM_KEYS[record.alg];
        published.push({
          ...pick(record.publicJwk, ['kty', ...spec.publicMembers]),
          kid: record.kid,
          alg: record.alg,
          use: 'sig',
        });
      }
      return { keys: published };
    },
    async rotate(rotateOptions = {}) {
      let next = rotateOptions.key;
      if (next === undefined) {
        const alg = rotateOptions.alg ?? signingKey.alg;
        if (alg === 'HS256')
          throw new TypeError('key: HS256 keys come from a configured secret; pass { key }');
        next = await generateSigningKey({ alg, modulusLength: rotateOptions.modulusLength, now });
      } else {
        validateRecord(next, 'key');
      }
      const rotated = rotateKeyRecords(frozenRecords, next, { now: now(), accessTtlMs, clockToleranceMs });
      return createKeyRing({ keys: rotated, accessTtlMs, clockToleranceMs, now });
    },
  };
  return Object.freeze(ring);
}

function stillVerifies(
  record: SigningKeyRecord,
  now: number,
  accessTtlMs: number,
  toleranceMs: number,
): boolean {
  // Written so that a NaN anywhere fails closed (the key stops verifying).
  return record.retiredAt === undefined || now < record.retiredAt + accessTtlMs + toleranceMs;
}

function validateRecord(record: SigningKeyRecord, field: string): SigningKeyRecord {
  if (record === null || typeof record !== 'object')
    throw new TypeError(`${field}: expected a signing key record`);
  const { kid, alg, createdAt, retiredAt, publicJwk, privateJwk } = record;
  if (!Object.hasOwn(ALGORITHM_KEYS, alg)) {
    throw new TypeError(`${field}.alg: expected one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  if (!Number.isFinite(createdAt)) throw new TypeError(`${field}.createdAt: expected ms since the epoch`);
  if (retiredAt !== undefined && !Number.isFinite(retiredAt)) {
    throw new TypeError(`${field}.retiredAt: expected ms since the epoch`);
  }
  const spec = ALGORITHM_KEYS[alg];
  checkJwk(privateJwk, spec, spec.privateMembers, `${field}.privateJwk`);
  if (alg === 'HS256') {
    if (publicJwk !== undefined) throw new TypeError(`${field}.publicJwk: an HS256 key has no public part`);
    if (Buffer.from(privateJwk.k!, 'base64url').length < MIN_HS256_SECRET_BYTES) {
      throw new TypeError(
        `${field}.privateJwk.k: an HS256 secret must be at least ${MIN_HS256_SECRET_BYTES} bytes`,
      );
    }
  } else {
    checkJwk(publicJwk, spec, spec.publicMembers, `${field}.publicJwk`);
    for (const member of spec.publicMembers) {
      if (
        (privateJwk as Record<string, unknown>)[member] !== (publicJwk as Record<string, unknown>)[member]
      ) {
        throw new TypeError(`${field}.privateJwk.${member}: does not match the public key`);
      }
    }
    if (alg === 'RS256' && Buffer.from(publicJwk!.n!, 'base64url').length * 8 < MIN_RSA_BITS) {
      throw new TypeError(`${field}.publicJwk.n: RSA keys must be at least ${MIN_RSA_BITS} bits`);
    }
  }
  // The kid is derived from the key: a record whose kid was edited (or whose key was swapped)
  // is refused rather than trusted.
  if (typeof kid !== 'string' || kid !== jwkThumbprint(alg === 'HS256' ? privateJwk : publicJwk!)) {
    throw new TypeError(`${field}.kid: is not the RFC 7638 thumbprint of the key`);
  }
  return Object.freeze({ ...record });
}

function checkJwk(
  jwk: JWK | undefined,
  spec: (typeof ALGORITHM_KEYS)[SigningAlgorithm],
  members: readonly string[],
  field: string,
): asserts jwk is JWK {
  if (jwk === null || typeof jwk !== 'object') throw new TypeError(`${field}: expected a JWK object`);
  if (jwk.kty !== spec.kty) throw new TypeError(`${field}.kty: expected ${spec.kty}`);
  if (spec.crv !== undefined && jwk.crv !== spec.crv)
    throw new TypeError(`${field}.crv: expected ${spec.crv}`);
  for (const member of members) {
    if (member === 'crv') continue;
    const value = (jwk as Record<string, unknown>)[member];
    if (typeof value !== 'string' || !B64URL.test(value))
      throw new TypeError(`${field}.${member}: expected a base64url string`);
  }
}

function importKey(record: SigningKeyRecord, usage: 'sign' | 'verify'): webcrypto.CryptoKey {
  const spec = ALGORITHM_KEYS[record.alg];
  let keyObject: KeyObject;
  try {
    if (record.alg === 'HS256') {
      keyObject = createSecretKey(Buffer.from(record.privateJwk.k!, 'base64url'));
    } else if (usage === 'sign') {
      keyObject = createPrivateKey({ key: toNodeJwk(record.privateJwk, spec.privateMembers), format: 'jwk' });
    } else {
      keyObject = createPublicKey({ key: toNodeJwk(record.publicJwk!, spec.publicMembers), format: 'jwk' });
    }
    return keyObject.toCryptoKey(spec.webCrypto, false, [usage]);
  } catch (cause) {
    // Never the key itself in the message: only which record failed.
    throw new TypeError(`keys: the ${usage} key of kid ${record.kid} does not import`, { cause });
  }
}

function toNodeJwk(jwk: JWK, members: readonly string[]): NodeJwk {
  return pick(jwk, ['kty', ...members]) as NodeJwk;
}

function pick(jwk: JWK, members: readonly string[]): JWK {
  const out: Record<string, unknown> = {};
  for (const member of members) {
    const value = (jwk as Record<string, unknown>)[member];
    if (value !== undefined) out[member] = value;
  }
  return out as JWK;
}
