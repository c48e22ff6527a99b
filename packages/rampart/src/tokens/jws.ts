/**
 * What both token verifiers (Rampart's own, `access-token.ts`, and outside issuers',
 * `issuers.ts`) need to read a compact JWS before any cryptography, and to check their options:
 * one copy of each.
 */
import { join, knownKeys, wholeNumber } from '../lib/options.ts';
import type { Clock } from '../lib/types.ts';

/** The base64url alphabet (RFC 4648 §5), no padding. */
export const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** The longest `kid` looked up: a longer one is refused before any key search. */
export const MAX_KID_LENGTH = 256;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A base64url part decoded as a JSON object (strict UTF-8), or `undefined` for anything else. */
export function decodeJsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(strictUtf8.decode(Buffer.from(part, 'base64url')));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 7515 §4.1.9: a `typ` is compared case-insensitively, the `application/` prefix optional. */
export function normaliseTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}

/** A whole number option with a default. */
export function intOption(value: unknown, field: string, fallback: number, min: number, max: number): number {
  return value === undefined ? fallback : wholeNumber(value, field, min, max);
}

/** `cache: { max } | false` as a bound (0: no cache). */
export function cacheOption(value: unknown, field = 'cache'): number {
  if (value === undefined || value === false) return 0;
  if (value === null || typeof value !== 'object') throw new TypeError(`${field}: expected { max } or false`);
  knownKeys(value, new Set(['max']), field);
  return wholeNumber((value as { max?: unknown }).max ?? Number.NaN, join(field, 'max'), 1, 1_000_000);
}

/** `now`: a clock in ms since the epoch, default `Date.now`. */
export function clockOption(value: unknown): Clock {
  if (value === undefined) return Date.now;
  if (typeof value !== 'function')
    throw new TypeError('now: expected a function returning ms since the epoch');
  return value as Clock;
}
