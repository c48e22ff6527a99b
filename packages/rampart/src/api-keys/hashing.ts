/**
 * How keys are kept at rest: HMAC-SHA-256 under a server pepper, never the plaintext.
 *
 * A plain hash of a 256-bit random key is already infeasible to reverse; the pepper (held
 * outside the database: an env variable or a 0600 file) adds that a stolen database alone
 * cannot even confirm a guessed or leaked key, nor be used to match keys across systems. The
 * stored form names its pepper, `v1:<base64url>`, so the pepper can rotate: a new pepper
 * becomes `current` for new keys while older versions stay listed until their keys are
 * re-hashed (on use, see `needsRehash`) or gone.
 *
 * `sha256:<hex>` is the tutorial's storage (`createHash('sha256').update(key).digest('hex')`),
 * accepted only with `legacySha256: true`, to import existing keys. Prefix a tutorial hash
 * with `sha256:` and it is a valid stored hash.
 */
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { safeEqual } from '../lib/secret.ts';

/**
 * Shortest pepper accepted: 32 bytes. RFC 2104 §3 strongly discourages HMAC keys shorter
 * than the hash output.
 * @example const pepper = crypto.randomBytes(MIN_PEPPER_BYTES);
 */
export const MIN_PEPPER_BYTES = 32;

const VERSION = /^v[1-9][0-9]{0,5}$/;
const LEGACY = 'sha256';

export interface KeyHasherOptions {
  /**
   * Peppers by version name (`v1`, `v2`, …: `v` and a number). Each at least 32 random bytes.
   * The bytes are copied at creation; the caller may wipe its buffers afterwards.
   */
  peppers: Readonly<Record<string, Uint8Array>>;
  /** The version new hashes are made with; must be one of `peppers`. */
  current: string;
  /** Also match tutorial-style `sha256:<hex>` hashes (import mode). Default false. */
  legacySha256?: boolean;
}

/** Hashes keys for storage and lookup. Holds the peppers; never exposes them. */
export interface KeyHasher {
  /** The version `hash` writes. */
  readonly current: string;
  /** Whether `sha256:<hex>` hashes are matched. */
  readonly legacySha256: boolean;
  /** The stored form of `key` under the current pepper: `v2:<base64url>`. */
  hash(key: string): string;
  /**
   * Every stored form `key` may have: one per pepper version (current first), then
   * `sha256:<hex>` when `legacySha256` is on. Look a key up with `hash IN (candidates)`.
   */
  candidates(key: string): string[];
  /**
   * Does the stored hash of a row belong to `key`? Constant-time. Call it on the row a lookup
   * returned before trusting it: it guards against a store that matched loosely (a collation,
   * a prefix index) and keeps the final decision in this code.
   */
  matches(storedHash: string, key: string): boolean;
  /** Is `storedHash` of another version than `current` (re-hash it when the key is next used)? */
  needsRehash(storedHash: string): boolean;
}

function legacyHash(key: string): string {
  return `${LEGACY}:${createHash('sha256').update(key).digest('hex')}`;
}

/**
 * Creates a key hasher. Options are validated here; a `TypeError` names the field.
 *
 * @example
 * const hasher = createKeyHasher({
 *   peppers: { v1: Buffer.from(process.env.RAMPART_PEPPER_V1!, 'base64url') },
 *   current: 'v1',
 * });
 * const stored = hasher.hash(key); // 'v1:…'
 * const row = await store.findByHash(hasher.candidates(key));
 * const ok = row !== undefined && hasher.matches(row.hash, key);
 */
export function createKeyHasher(options: KeyHasherOptions): KeyHasher {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('keyHasher: expected an options object');
  }
  const { peppers, current, legacySha256 = false } = options;
  if (typeof peppers !== 'object' || peppers === null || Array.isArray(peppers)) {
    throw new TypeError('keyHasher.peppers: expected an object of version name to pepper bytes');
  }
  const keys = new Map<string, KeyObject>();
  for (const [version, pepper] of Object.entries(peppers)) {
    if (!VERSION.test(version)) {
      throw new TypeError(
        `keyHasher.peppers: version names are "v" and a number ("v1"), got ${JSON.stringify(version)}`,
      );
    }
    if (!(pepper instanceof Uint8Array)) {
      throw new TypeError(`keyHasher.peppers.${version}: expected a Uint8Array (Buffer) of random bytes`);
    }
    if (pepper.byteLength < MIN_PEPPER_BYTES) {
      throw new TypeError(
        `keyHasher.peppers.${version}: a pepper must be at least ${MIN_PEPPER_BYTES} bytes, got ${pepper.byteLength}`,
      );
    }
    // createSecretKey copies the bytes: later changes to the caller's buffer do not reach us.
    keys.set(version, createSecretKey(pepper));
  }
  if (keys.size === 0) throw new TypeError('keyHasher.peppers: expected at least one pepper');
  if (typeof current !== 'string' || !keys.has(current)) {
    throw new TypeError(
      `keyHasher.current: expected one of ${[...keys.keys()].join(', ')}, got ${JSON.stringify(current)}`,
    );
  }
  if (typeof legacySha256 !== 'boolean') {
    throw new TypeError(`keyHasher.legacySha256: expected a boolean, got ${JSON.stringify(legacySha256)}`);
  }
  // Current first: it is what most rows hold once a rotation has settled.
  const order = [current, ...[...keys.keys()].filter((v) => v !== current)];
  const currentKey = keys.get(current)!;
  const mac = (version: string, secret: KeyObject, key: string): string =>
    `${version}:${createHmac('sha256', secret).update(key).digest('base64url')}`;

  return {
    current,
    legacySha256,
    hash: (key) => mac(current, currentKey, key),
    candidates(key) {
      const out = order.map((version) => mac(version, keys.get(version)!, key));
      if (legacySha256) out.push(legacyHash(key));
      return out;
    },
    matches(storedHash, key) {
      if (typeof storedHash !== 'string' || typeof key !== 'string') return false;
      const colon = storedHash.indexOf(':');
      if (colon < 0) return false;
      const version = storedHash.slice(0, colon);
      let expected: string;
      if (version === LEGACY) {
        if (!legacySha256) return false;
        expected = legacyHash(key);
      } else {
        const secret = keys.get(version);
        if (secret === undefined) return false;
        expected = mac(version, secret, key);
      }
      return safeEqual(storedHash, expected);
    },
    needsRehash: (storedHash) => !storedHash.startsWith(`${current}:`),
  };
}
