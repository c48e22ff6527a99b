import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// CSPRNG bytes drawn 4 KiB at a time (as crypto.randomUUID does): one syscall serves many
// ids. Every byte is used once and never again.
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

/**
 * `count` base62 characters from the CSPRNG, without modulo bias (bytes ≥ 248 are dropped).
 */
export function randomBase62(count: number): string {
  let out = '';
  while (out.length < count) {
    if (offset === POOL_SIZE) {
      pool = randomBytes(POOL_SIZE);
      offset = 0;
    }
    const byte = pool[offset]!;
    pool[offset++] = 0;
    if (byte < 248) out += BASE62[byte % 62];
  }
  return out;
}

/** The type prefixes of Rampart's ids. */
export type IdPrefix = 'usr' | 'key' | 'evt' | 'req' | 'fam' | 'sig' | 'rst' | 'idt' | 'pln' | 'acl';

/**
 * A new id with a type prefix, e.g. `key_3hK9…` (Unkey style): the prefix tells a reader what
 * the id names; 22 base62 characters carry ~131 bits, enough to never collide.
 */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(22)}`;
}

const ID = /^(usr|key|evt|req|fam|sig|rst|idt|pln|acl)_[0-9A-Za-z]{22}$/;

/** Does `value` look like an id with the given prefix? (Shape only.) */
export function isId(value: unknown, prefix?: IdPrefix): value is string {
  return (
    typeof value === 'string' && ID.test(value) && (prefix === undefined || value.startsWith(`${prefix}_`))
  );
}
