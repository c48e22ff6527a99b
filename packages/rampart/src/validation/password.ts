/**
 * The password rule, after NIST SP 800-63B §5.1.1.2 (memorized secrets): a length floor, a
 * generous ceiling, a blocklist of common passwords, context words, and no composition rules
 * unless a deployment opts into one.
 *
 * Length is counted in Unicode code points after NFKC normalization, which NIST asks for so a
 * password typed on another keyboard or OS (full-width forms, composed vs decomposed accents)
 * still matches. The rule's output is that normalized string: hash it, and hash
 * `normalizePassword(input)` at login, or the two sides will not agree.
 */

import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import type { RuleResult, RuleSchema } from './rule.ts';
import { assertLimit, ruleSchema } from './rule.ts';

/** The codes the password rule refuses with. */
export type PasswordCode =
  | 'invalid_type'
  | 'invalid_characters'
  | 'too_short'
  | 'too_long'
  | 'common_password'
  | 'contains_context'
  | 'composition';

/** An opt-in composition rule: a pattern the normalized password must match. */
export interface PasswordComposition {
  /** Tested against the NFKC-normalized password. Must not carry the `g` or `y` flag. */
  pattern: RegExp;
  /** The message a client sees when the pattern does not match. */
  message: string;
}

/** Options of `checkPassword` and `passwordSchema`. */
export interface PasswordOptions {
  /** Fewest code points after NFKC. Default 8, the NIST floor; NIST asks 15 when the password is the only factor. */
  minLength?: number;
  /**
   * Most code points after NFKC. Default 1024; at least 64, since NIST requires accepting 64
   * (passphrases, password-manager output).
   */
  maxLength?: number;
  /**
   * Most UTF-8 bytes of the raw input, checked before any other work so an attacker cannot
   * make the server normalize and hash megabytes. Default 4096; at least 256 (64 code points
   * of 4 bytes each) and at least `maxLength`.
   */
  maxBytes?: number;
  /** Refuse passwords on the common-password list (case-insensitively). Default `true`. */
  rejectCommon?: boolean;
  /**
   * Context words the password must not contain, as NIST asks (the user's name, email, the
   * service's name). An email address contributes its local part. Each word is NFKC-normalized,
   * lower-cased and split on anything but letters and digits; pieces of 4 or more code points,
   * and the word with its separators removed, are refused anywhere in the password. Shorter
   * pieces are ignored: `Al` or `com` would refuse countless unrelated passwords.
   */
  context?: readonly string[];
  /** A composition rule. None by default: NIST SP 800-63B says not to impose one. */
  composition?: PasswordComposition;
}

/**
 * The seed tutorial's rule, opt-in: at least 8 characters with a lower-case letter, an
 * upper-case letter, a digit and one of `@$!%*?&`, and no character outside those classes. It
 * refuses spaces and non-ASCII letters, which NIST says to accept, hence not the default. The
 * common-password and length checks still apply.
 *
 * @example
 * checkPassword('Tr0ub4dor&3x', { ...tutorialPasswordPolicy, context: [email] })
 */
export const tutorialPasswordPolicy: Readonly<PasswordOptions> = Object.freeze({
  minLength: 8,
  composition: Object.freeze({
    pattern: /^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[@$!%*?&])[A-Za-z\d@$!%*?&]{8,}$/,
    message:
      'The password needs a lower-case letter, an upper-case letter, a digit and one of @$!%*?&, and no other characters',
  }),
});

const DEFAULTS = { minLength: 8, maxLength: 1024, maxBytes: 4096, rejectCommon: true } as const;
/** NIST SP 800-63B §5.1.1.2: verifiers SHOULD permit at least 64 characters. */
const NIST_MIN_MAXIMUM = 64;
/** Context pieces shorter than this are ignored (see `PasswordOptions.context`). */
const MIN_CONTEXT_PIECE = 4;
const NOT_LETTER_OR_DIGIT = /[^\p{L}\p{N}]+/u;

/** Password options with their defaults, checked (`resolvePasswordOptions`). */
export interface ResolvedPasswordOptions {
  minLength: number;
  maxLength: number;
  maxBytes: number;
  rejectCommon: boolean;
  context: readonly string[];
  composition: PasswordComposition | undefined;
}

/**
 * Checks a new password against the policy and returns it NFKC-normalized.
 *
 * Never throws on the password, whatever its type; throws only on misconfigured options.
 *
 * @throws TypeError naming the option when `options` is invalid.
 * @example
 * checkPassword('password')                       // { ok: false, code: 'common_password', … }
 * checkPassword('alice-in-chains', { context: ['alice@example.com'] }) // code 'contains_context'
 * checkPassword('correct horse battery staple')   // { ok: true, value: 'correct horse battery staple' }
 */
export function checkPassword(
  input: unknown,
  options: PasswordOptions = {},
): RuleResult<string, PasswordCode> {
  return checkResolvedPassword(input, resolvePasswordOptions(options));
}

/**
 * The password rule as a zod schema for the server's routes; outputs the normalized password.
 * Options are checked once, here. Context words known only per request (the body's email and
 * name) belong in the enclosing object's `superRefine`, calling `checkPassword` there.
 *
 * @throws TypeError naming the option when `options` is invalid.
 * @example
 * const signup = z.object({ email: emailSchema, password: passwordSchema({ minLength: 12 }) });
 */
export function passwordSchema(options: PasswordOptions = {}): RuleSchema {
  const resolved = resolvePasswordOptions(options);
  return ruleSchema((input) => checkResolvedPassword(input, resolved));
}

/**
 * The form of a password that is hashed: NFKC-normalized. Use it at login, without the policy,
 * so accounts created under an older policy can still sign in.
 *
 * @example
 * normalizePassword('ｐａｓｓ') // 'pass'
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/**
 * Is `password` (normalized, any case) on the common-password list? The list is the
 * `passwords-common` dictionary of `@zxcvbn-ts/language-common` (about 49,000 entries, all
 * lower-case), read and put in a `Set` on first use, so importing this module costs nothing.
 *
 * @example
 * isCommonPassword('PassWord1') // true
 */
export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(normalizePassword(password).toLowerCase());
}

/** `checkPassword` with options resolved once (`passwordSchema`, `passwordRule`). */
export function checkResolvedPassword(
  input: unknown,
  options: ResolvedPasswordOptions,
): RuleResult<string, PasswordCode> {
  if (typeof input !== 'string') return refuse('invalid_type', 'The password must be a string');
  // UTF-8 never takes fewer bytes than UTF-16 code units, so the cheap length test comes first.
  if (input.length > options.maxBytes || Buffer.byteLength(input, 'utf8') > options.maxBytes) {
    return refuse('too_long', `The password must be at most ${options.maxLength} characters`);
  }
  // A lone surrogate becomes U+FFFD when encoded for hashing, so two different inputs would
  // hash alike; refuse it rather than guess.
  if (!input.isWellFormed()) return refuse('invalid_characters', 'The password is not valid Unicode text');

  const password = normalizePassword(input);
  const length = codePointCount(password);
  if (length > options.maxLength) {
    return refuse('too_long', `The password must be at most ${options.maxLength} characters`);
  }
  if (length < options.minLength) {
    return refuse('too_short', `The password must be at least ${options.minLength} characters`);
  }

  const lower = password.toLowerCase();
  if (options.rejectCommon && commonPasswords().has(lower)) {
    return refuse('common_password', 'This password is too common; choose another');
  }
  for (const piece of contextPieces(options.context)) {
    if (lower.includes(piece)) {
      return refuse('contains_context', 'The password must not contain your name, email or similar words');
    }
  }
  if (options.composition !== undefined && !options.composition.pattern.test(password)) {
    return refuse('composition', options.composition.message);
  }
  return { ok: true, value: password };
}

/**
 * Checks password options once and fills in the defaults.
 * @throws TypeError naming the option when `options` is invalid.
 */
export function resolvePasswordOptions(options: PasswordOptions): ResolvedPasswordOptions {
  // `??` rather than a spread, so an explicit `undefined` also means "the default".
  const maxLength = assertLimit('maxLength', options.maxLength ?? DEFAULTS.maxLength, NIST_MIN_MAXIMUM);
  const minLength = assertLimit('minLength', options.minLength ?? DEFAULTS.minLength, 1, maxLength);
  // Below maxLength bytes, even an ASCII password could never reach maxLength.
  const maxBytes = assertLimit(
    'maxBytes',
    options.maxBytes ?? DEFAULTS.maxBytes,
    Math.max(4 * NIST_MIN_MAXIMUM, maxLength),
  );
  const rejectCommon = options.rejectCommon ?? DEFAULTS.rejectCommon;
  if (typeof rejectCommon !== 'boolean') throw new TypeError('rejectCommon: expected a boolean');
  const context = options.context ?? [];
  if (!Array.isArray(context) || !context.every((word) => typeof word === 'string')) {
    throw new TypeError('context: expected an array of strings');
  }
  const { composition } = options;
  if (composition !== undefined) {
    if (!(composition.pattern instanceof RegExp))
      throw new TypeError('composition.pattern: expected a RegExp');
    // A g or y flag makes `test` stateful (lastIndex), so the same password would alternate
    // between accepted and refused.
    if (composition.pattern.global || composition.pattern.sticky) {
      throw new TypeError('composition.pattern: must not have the g or y flag');
    }
    if (typeof composition.message !== 'string')
      throw new TypeError('composition.message: expected a string');
  }
  return { minLength, maxLength, maxBytes, rejectCommon, context, composition };
}

function contextPieces(words: readonly string[]): string[] {
  const pieces: string[] = [];
  for (const word of words) {
    const at = word.lastIndexOf('@');
    const text = (at > 0 ? word.slice(0, at) : word).normalize('NFKC').toLowerCase();
    const parts = text.split(NOT_LETTER_OR_DIGIT);
    for (const candidate of [...parts, parts.join('')]) {
      if (codePointCount(candidate) >= MIN_CONTEXT_PIECE) pieces.push(candidate);
    }
  }
  return pieces;
}

function codePointCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

let commonPasswordSet: ReadonlySet<string> | undefined;

function commonPasswords(): ReadonlySet<string> {
  if (commonPasswordSet === undefined) {
    // `require` rather than a static import: the package decompresses its dictionaries when
    // loaded (~20 ms), which only callers that check passwords should pay.
    const require = createRequire(import.meta.url);
    const { dictionary } =
      require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
    commonPasswordSet = new Set(
      dictionary['passwords-common'].map((entry) => normalizePassword(entry).toLowerCase()),
    );
  }
  return commonPasswordSet;
}

function refuse(code: PasswordCode, message: string): { ok: false; code: PasswordCode; message: string } {
  return { ok: false, code, message };
}
