import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Compares two secrets in constant time. Both sides are hashed first, so neither the
 * content nor the length of the expected value leaks through timing.
 */
export function safeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** SHA-256 of a secret, base64url: how opaque tokens are stored (lookup by hash). */
export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('base64url');
}

/** HMAC-SHA-256, base64url. */
export function hmacSha256(key: string | Uint8Array, text: string | Uint8Array): string {
  return createHmac('sha256', key).update(text).digest('base64url');
}
