/**
 * Password hashing with argon2id through Node's built-in `crypto.argon2` (Node ≥ 24.7).
 *
 * - The async callback form runs on the libuv threadpool, so a login never blocks the event
 *   loop; at the default parameters one hash uses 19 MiB and takes tens of milliseconds.
 * - Hashes are PHC strings, `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<tag>` (standard base64,
 *   no padding, as the reference implementation writes them), so the parameters live with
 *   each hash and can be raised later: `needsRehash` tells the login path when to re-hash.
 * - Passwords are NFKC-normalised first (NIST SP 800-63B §5.1.1.2), so the same password typed
 *   on two keyboards (composed or decomposed accents, full-width digits) hashes the same.
 * - `dummyVerify` spends the same work on an unknown account as on a wrong password, so the
 *   login answer's timing does not tell whether an email is registered.
 */
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';

/** The cost parameters of one argon2id hash. */
export interface Argon2Params {
  /** Memory in KiB. Default 19456 (19 MiB, OWASP Password Storage Cheat Sheet). */
  memory: number;
  /** Passes over memory (t). Default 2. */
  passes: number;
  /** Lanes (p). Default 1. */
  parallelism: number;
  /** Length of the stored tag in bytes. Default 32. */
  tagLength: number;
  /** Length of the random salt in bytes. Default 16 (RFC 9106 §3.1). */
  saltLength: number;
}

/** OWASP's first argon2id configuration: m=19456 KiB, t=2, p=1. Kept as data, never mutated. */
export const DEFAULT_ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({
  memory: 19_456,
  passes: 2,
  parallelism: 1,
  tagLength: 32,
  saltLength: 16,
});

/**
 * Bounds on parameters, both configured and read back from a stored hash: a hash string with
 * `m=4294967295` must not make one login allocate 4 TiB.
 */
const LIMITS = {
  memory: { min: 8_192, max: 1_048_576 },
  passes: { min: 1, max: 64 },
  parallelism: { min: 1, max: 16 },
  tagLength: { min: 16, max: 64 },
  saltLength: { min: 16, max: 64 },
} as const satisfies Record<keyof Argon2Params, { min: number; max: number }>;

/**
 * Longest password accepted, in UTF-8 bytes after normalisation. NIST asks for at least 64
 * characters; this is far above that and keeps one request from hashing megabytes.
 */
export const MAX_PASSWORD_BYTES = 4096;

const ARGON2_VERSION = 19;
const PHC =
  /^\$argon2id\$v=(\d+)\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{11,})$/;

/** A stored hash, parsed. */
export interface ParsedPasswordHash {
  version: number;
  memory: number;
  passes: number;
  parallelism: number;
  salt: Buffer;
  tag: Buffer;
}

export interface PasswordHasherOptions extends Partial<Argon2Params> {}

/** Hashing and verification at one set of parameters. */
export interface PasswordHasher {
  readonly params: Readonly<Argon2Params>;
  /** Hashes a password into a PHC string. @throws TypeError when the password is not a string or too long. */
  hash(password: string): Promise<string>;
  /** Does `password` match the PHC string `phc`? Constant-time comparison of the tags. */
  verify(password: string, phc: string): Promise<boolean>;
  /** Was `phc` made with other parameters than this hasher's (so it should be re-hashed at the next login)? */
  needsRehash(phc: string): boolean;
  /** Spends the work of one verification and answers `false`: call it when the account does not exist. */
  dummyVerify(password: string): Promise<false>;
}

/**
 * Creates a hasher with the given argon2id parameters (OWASP's by default).
 * @throws TypeError naming the field when a parameter is out of bounds.
 * @example
 * const hasher = createPasswordHasher({ memory: 47_104, passes: 1 });
 * const phc = await hasher.hash('correct horse battery staple');
 * await hasher.verify('correct horse battery staple', phc); // true
 */
export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const params = validateParams(options);
  // A random PHC string at the current parameters: verifying against it costs exactly one
  // hash and can never succeed (the tag is random, not derived), so nothing is precomputed.
  const dummy = formatPhc(params, randomBytes(params.saltLength), randomBytes(params.tagLength));
  return {
    params,
    async hash(password) {
      const message = normalisePassword(password, 'password');
      const salt = randomBytes(params.saltLength);
      const tag = await derive(
        message,
        salt,
        params.memory,
        params.passes,
        params.parallelism,
        params.tagLength,
      );
      return formatPhc(params, salt, tag);
    },
    verify: verifyPassword,
    needsRehash: (phc) => needsRehash(phc, params),
    async dummyVerify(password) {
      await verifyPassword(typeof password === 'string' ? password : '', dummy);
      return false;
    },
  };
}

const defaultHasher = createPasswordHasher();

/**
 * Hashes a password with argon2id at the default (OWASP) parameters.
 * @example const phc = await hashPassword('correct horse battery staple');
 */
export function hashPassword(password: string): Promise<string> {
  return defaultHasher.hash(password);
}

/**
 * Checks a password against a stored PHC string, at the parameters written in that string.
 * A wrong password, a non-string or an over-long password answers `false` (the last two
 * after the same work as a real check). A `phc` that is not an argon2id PHC string is a data
 * error, not a denial: it throws a TypeError that never contains the string.
 * @example if (!(await verifyPassword(body.password, user.passwordHash))) deny();
 */
export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const parsed = parsePasswordHash(phc);
  let message: string;
  let acceptable = true;
  try {
    message = normalisePassword(password, 'password');
  } catch {
    message = '';
    acceptable = false;
  }
  const tag = await derive(
    message,
    parsed.salt,
    parsed.memory,
    parsed.passes,
    parsed.parallelism,
    parsed.tag.length,
  );
  return timingSafeEqual(tag, parsed.tag) && acceptable;
}

/**
 * Should this hash be replaced (at the next successful login) because it was made with other
 * parameters than `params`? Any difference counts, so parameters can also be lowered on purpose.
 * A string that does not parse needs a rehash too.
 * @example if (ok && needsRehash(user.passwordHash)) await store.setHash(user.id, await hashPassword(pw));
 */
export function needsRehash(phc: string, params: Partial<Argon2Params> = DEFAULT_ARGON2_PARAMS): boolean {
  const wanted = validateParams(params);
  let parsed: ParsedPasswordHash;
  try {
    parsed = parsePasswordHash(phc);
  } catch {
    return true;
  }
  return (
    parsed.version !== ARGON2_VERSION ||
    parsed.memory !== wanted.memory ||
    parsed.passes !== wanted.passes ||
    parsed.parallelism !== wanted.parallelism ||
    parsed.tag.length !== wanted.tagLength ||
    parsed.salt.length < wanted.saltLength
  );
}

/**
 * Spends the work of one verification at the default parameters and answers `false`.
 * Call it when the email is unknown, so that path costs what a wrong password costs.
 * @example const ok = user ? await verifyPassword(pw, user.passwordHash) : await dummyVerify(pw);
 */
export function dummyVerify(password: string): Promise<false> {
  return defaultHasher.dummyVerify(password);
}

/**
 * Parses an argon2id PHC string. @throws TypeError (without echoing the input) when it is
 * not one, or when its parameters are outside the accepted bounds.
 */
export function parsePasswordHash(phc: string): ParsedPasswordHash {
  const match = typeof phc === 'string' && phc.length <= 512 ? PHC.exec(phc) : null;
  if (!match) throw new TypeError('phc: not an argon2id PHC string');
  const [, version, memory, passes, parallelism, salt, tag] = match;
  const parsed: ParsedPasswordHash = {
    version: Number(version),
    memory: Number(memory),
    passes: Number(passes),
    parallelism: Number(parallelism),
    salt: Buffer.from(salt!, 'base64'),
    tag: Buffer.from(tag!, 'base64'),
  };
  if (parsed.version !== ARGON2_VERSION) throw new TypeError('phc: unsupported argon2 version');
  checkBound('phc.m', parsed.memory, LIMITS.memory);
  checkBound('phc.t', parsed.passes, LIMITS.passes);
  checkBound('phc.p', parsed.parallelism, LIMITS.parallelism);
  checkBound('phc.salt', parsed.salt.length, { min: 8, max: LIMITS.saltLength.max });
  checkBound('phc.hash', parsed.tag.length, LIMITS.tagLength);
  if (parsed.memory < 8 * parsed.parallelism) throw new TypeError('phc.m: must be at least 8 × p');
  return parsed;
}

function validateParams(options: Partial<Argon2Params>): Readonly<Argon2Params> {
  if (options === null || typeof options !== 'object') throw new TypeError('options: expected an object');
  const params = { ...DEFAULT_ARGON2_PARAMS, ...options } satisfies Argon2Params;
  for (const field of Object.keys(LIMITS) as (keyof Argon2Params)[]) {
    checkBound(field, params[field], LIMITS[field]);
  }
  if (params.memory < 8 * params.parallelism)
    throw new TypeError('memory: must be at least 8 × parallelism KiB');
  return Object.freeze(params);
}

function checkBound(field: string, value: unknown, { min, max }: { min: number; max: number }): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(`${field}: expected an integer from ${min} to ${max}`);
  }
}

function normalisePassword(password: unknown, field: string): string {
  if (typeof password !== 'string') throw new TypeError(`${field}: expected a string`);
  const normalised = password.normalize('NFKC');
  if (Buffer.byteLength(normalised, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new TypeError(`${field}: longer than ${MAX_PASSWORD_BYTES} bytes`);
  }
  return normalised;
}

function derive(
  message: string,
  nonce: Buffer,
  memory: number,
  passes: number,
  parallelism: number,
  tagLength: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2(
      'argon2id',
      { message: Buffer.from(message, 'utf8'), nonce, memory, passes, parallelism, tagLength },
      (error, derivedKey) => (error ? reject(error) : resolve(derivedKey)),
    );
  });
}

function formatPhc(params: Readonly<Argon2Params>, salt: Buffer, tag: Buffer): string {
  return (
    `$argon2id$v=${ARGON2_VERSION}$m=${params.memory},t=${params.passes},p=${params.parallelism}` +
    `$${b64(salt)}$${b64(tag)}`
  );
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
