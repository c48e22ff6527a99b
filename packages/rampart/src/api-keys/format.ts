/**
 * The API key format: `<prefix><43 random base62><6 base62 checksum>`, after GitHub's token
 * format (GitHub blog, "Behind GitHub's new authentication token formats", 2021).
 *
 * - The prefix (`rk_live_` by default) names the issuer and environment, so a leaked key is
 *   recognisable and `Authorization: Bearer` can tell a key from a JWT (a JWT always starts
 *   with `eyJ`, which no prefix can: prefixes are lower-case).
 * - 43 base62 characters from the CSPRNG carry 43·log2(62) ≈ 256.03 bits.
 * - The checksum is CRC32 (IEEE, as zlib) of the prefix and the random part, written as 6
 *   zero-padded base62 digits (62^6 > 2^32). Because the prefix is covered, a key cannot be
 *   moved to another prefix; because CRC32 detects every burst of up to 32 bits, every
 *   single-character typo and every swap of two neighbours is refused with no lookup.
 *
 * The checksum is not a secret and not an authenticator: anyone can compute it. It only spares
 * the store the lookups of mistyped keys and lets secret scanners report leaks with no false
 * positives (a random 49-character base62 string passes with probability 1/62^6).
 */
import { crc32 } from 'node:zlib';
import { randomBase62 } from '../lib/ids.ts';

/**
 * The prefix keys get when none is configured.
 * @example generateApiKey(DEFAULT_API_KEY_PREFIX).key.startsWith('rk_live_') // true
 */
export const DEFAULT_API_KEY_PREFIX = 'rk_live_';

/**
 * Base62 characters of randomness in a key: 43·log2(62) ≈ 256.03 bits.
 * @example key.length === prefix.length + API_KEY_RANDOM_LENGTH + API_KEY_CHECKSUM_LENGTH
 */
export const API_KEY_RANDOM_LENGTH = 43;

/**
 * Base62 characters of the CRC32 checksum at the end of a key (62^6 > 2^32).
 * @example const sum = key.slice(-API_KEY_CHECKSUM_LENGTH);
 */
export const API_KEY_CHECKSUM_LENGTH = 6;

/**
 * What a prefix must look like: 2–16 lower-case letters or digits (a letter first), `_`,
 * optionally a second segment of 1–15 and `_`.
 * @example API_KEY_PREFIX_REGEX.test('acme_test_') // true
 */
export const API_KEY_PREFIX_REGEX: RegExp = /^[a-z][a-z0-9]{1,15}_(?:[a-z0-9]{1,15}_)?$/;

/**
 * Finds Rampart keys of any prefix in text, for secret scanners (GitHub custom patterns,
 * gitleaks, trufflehog). Add the `g` flag to find them all. A match is a candidate: confirm it
 * with {@link isWellFormedApiKey}, whose checksum check leaves no false positives.
 *
 * Source: `\b[a-z][a-z0-9]{1,15}_(?:[a-z0-9]{1,15}_)?[0-9A-Za-z]{49}\b`
 *
 * @example
 * const leaks = (text.match(new RegExp(API_KEY_REGEX.source, 'g')) ?? []).filter(isWellFormedApiKey);
 */
export const API_KEY_REGEX: RegExp = /\b[a-z][a-z0-9]{1,15}_(?:[a-z0-9]{1,15}_)?[0-9A-Za-z]{49}\b/;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = API_KEY_RANDOM_LENGTH + API_KEY_CHECKSUM_LENGTH;
const RANDOM_PART = /^[0-9A-Za-z]{43}$/;
const KEY = /^([a-z][a-z0-9]{1,15}_(?:[a-z0-9]{1,15}_)?)([0-9A-Za-z]{49})$/;
// Prefix lengths run from 3 (`ab_`) to 33 (16 + `_` + 15 + `_`).
const MIN_KEY_LENGTH = 3 + BODY_LENGTH;
const MAX_KEY_LENGTH = 33 + BODY_LENGTH;
/** The tutorial's keys: `crypto.randomBytes(32).toString('hex')`. */
const LEGACY_HEX_KEY = /^[0-9a-f]{64}$/;

/** A freshly generated key. Only `key` is secret; show it once and keep `hint` for display. */
export interface GeneratedApiKey {
  /** The plaintext key. Return it to its owner once; store only its hash. */
  key: string;
  prefix: string;
  /** Non-secret display form: the prefix, the first 4 random characters and `…`. */
  hint: string;
}

/** Why {@link parseApiKey} refused a text. */
export type ApiKeyParseFailure = 'FORMAT' | 'CHECKSUM' | 'PREFIX';

/** What {@link parseApiKey} answers. */
export type ParsedApiKey =
  | {
      ok: true;
      /** The key's prefix (`''` for a legacy key). */
      prefix: string;
      /** Everything after the prefix: random part and checksum (the whole text for a legacy key). */
      body: string;
      /** True for a tutorial-style 64-hex key accepted through `legacyHex`. */
      legacy: boolean;
    }
  | { ok: false; reason: ApiKeyParseFailure };

export interface ParseApiKeyOptions {
  /** The prefixes this deployment accepts (for example `['rk_live_']`). */
  prefixes: readonly string[];
  /**
   * Also accept the tutorial's key shape, 64 lower-case hex characters, for keys imported with
   * `legacySha256` hashing. Such keys have no checksum, so every one costs a lookup. Default false.
   */
  legacyHex?: boolean;
}

const FORMAT: ParsedApiKey = Object.freeze({ ok: false, reason: 'FORMAT' });
const CHECKSUM: ParsedApiKey = Object.freeze({ ok: false, reason: 'CHECKSUM' });
const PREFIX: ParsedApiKey = Object.freeze({ ok: false, reason: 'PREFIX' });

/**
 * Is `prefix` a valid key prefix?
 * @example isValidApiKeyPrefix('rk_live_') // true
 */
export function isValidApiKeyPrefix(prefix: unknown): prefix is string {
  return typeof prefix === 'string' && API_KEY_PREFIX_REGEX.test(prefix);
}

/**
 * Throws a `TypeError` naming `field` unless `prefix` is a valid key prefix.
 * @example assertApiKeyPrefix(config.prefix, 'apiKeys.prefix');
 */
export function assertApiKeyPrefix(prefix: unknown, field = 'apiKeys.prefix'): asserts prefix is string {
  if (!isValidApiKeyPrefix(prefix)) {
    throw new TypeError(
      `${field}: expected 2-16 lower-case letters or digits, "_", an optional second such segment and "_" ` +
        `(for example "rk_live_"), got ${JSON.stringify(prefix)}`,
    );
  }
}

function checksum(text: string): string {
  let value = crc32(text);
  let out = '';
  for (let i = 0; i < API_KEY_CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/**
 * Generates a key: the prefix, 43 base62 characters from the CSPRNG (without modulo bias)
 * and the checksum.
 *
 * @param prefix validated; a `TypeError` names `apiKeys.prefix` when it is not a valid prefix.
 * @param random source of base62 characters; injectable for tests only.
 * @example
 * const { key, hint } = generateApiKey('rk_live_');
 * // key:  'rk_live_' + 43 random + 6 checksum characters (57 in all)
 * // hint: 'rk_live_3hK9…'
 */
export function generateApiKey(
  prefix: string = DEFAULT_API_KEY_PREFIX,
  random: (count: number) => string = randomBase62,
): GeneratedApiKey {
  assertApiKeyPrefix(prefix);
  const randomPart = random(API_KEY_RANDOM_LENGTH);
  // Never echo the value: it would be most of a key.
  if (typeof randomPart !== 'string' || !RANDOM_PART.test(randomPart)) {
    throw new TypeError(`random: expected ${API_KEY_RANDOM_LENGTH} base62 characters`);
  }
  return {
    key: prefix + randomPart + checksum(prefix + randomPart),
    prefix,
    hint: `${prefix}${randomPart.slice(0, 4)}…`,
  };
}

/**
 * Checks a presented key with string work only (length, shape, CRC32, prefix list), so that
 * a mistyped, truncated or invented key is refused before any hash or lookup. Checks run in
 * that order: `FORMAT`, then `CHECKSUM`, then `PREFIX` (a well-formed key of another
 * environment, such as `rk_test_` on a live server, answers `PREFIX`).
 *
 * The reasons are for logs and metrics; over HTTP every refusal is the same 401.
 *
 * @example
 * const parsed = parseApiKey(header, { prefixes: ['rk_live_'] });
 * if (!parsed.ok) return { valid: false, code: 'NOT_FOUND' };
 */
export function parseApiKey(text: unknown, options: ParseApiKeyOptions): ParsedApiKey {
  if (typeof text !== 'string') return FORMAT;
  if (text.length === 64 && options.legacyHex === true && LEGACY_HEX_KEY.test(text)) {
    return { ok: true, prefix: '', body: text, legacy: true };
  }
  if (text.length < MIN_KEY_LENGTH || text.length > MAX_KEY_LENGTH) return FORMAT;
  const match = KEY.exec(text);
  if (match === null) return FORMAT;
  const cut = text.length - API_KEY_CHECKSUM_LENGTH;
  if (checksum(text.slice(0, cut)) !== text.slice(cut)) return CHECKSUM;
  const prefix = match[1]!;
  if (!options.prefixes.includes(prefix)) return PREFIX;
  return { ok: true, prefix, body: match[2]!, legacy: false };
}

/**
 * Is `text` a well-formed key of any valid prefix, checksum included? For secret scanners,
 * which do not know the deployment's prefixes; servers use {@link parseApiKey}.
 *
 * @example
 * isWellFormedApiKey(generateApiKey('acme_').key) // true
 */
export function isWellFormedApiKey(text: unknown): text is string {
  if (typeof text !== 'string' || text.length < MIN_KEY_LENGTH || text.length > MAX_KEY_LENGTH) return false;
  if (!KEY.test(text)) return false;
  const cut = text.length - API_KEY_CHECKSUM_LENGTH;
  return checksum(text.slice(0, cut)) === text.slice(cut);
}

/**
 * Does `text` start with one of `prefixes`? How `Authorization: Bearer <credential>` tells
 * an API key from a JWT before choosing a verifier. Shape only: still call `parseApiKey`.
 *
 * @example
 * if (looksLikeApiKey(bearer, ['rk_live_'])) return verifier.verify(bearer);
 */
export function looksLikeApiKey(text: unknown, prefixes: readonly string[]): boolean {
  if (typeof text !== 'string') return false;
  for (const prefix of prefixes) if (prefix !== '' && text.startsWith(prefix)) return true;
  return false;
}

/**
 * A regex finding keys of one prefix in text (secret scanning), word-bounded, unanchored.
 *
 * @param flags RegExp flags, for example `'g'` to find every key.
 * @example
 * apiKeyRegex('rk_live_').source // '\\brk_live_[0-9A-Za-z]{49}\\b'
 */
export function apiKeyRegex(prefix: string = DEFAULT_API_KEY_PREFIX, flags = ''): RegExp {
  assertApiKeyPrefix(prefix);
  // A valid prefix holds only [a-z0-9_]: nothing to escape.
  return new RegExp(`\\b${prefix}[0-9A-Za-z]{${BODY_LENGTH}}\\b`, flags);
}
