/**
 * The email rule: a strict, deliverable subset of RFC 5321/5322 addresses, normalized so one
 * mailbox has one stored spelling.
 *
 * Deliberate refusals, each narrower than the RFCs allow:
 * - quoted local parts (`"john doe"@example.com`, RFC 5322 §3.4.1): legal but rare, and they
 *   smuggle spaces, `@` and backslashes into a value other systems parse less carefully;
 * - non-ASCII local parts (SMTPUTF8, RFC 6531): many MTAs still refuse them;
 * - IP-literal domains (`user@[127.0.0.1]`, RFC 5321 §4.1.3) and all-numeric top-level labels
 *   (`user@127.0.0.1`, RFC 3696 §2): an address must name a DNS domain, never an internal host;
 * - single-label domains (`a@b`): not routable on the Internet (RFC 7085).
 */

import { domainToASCII } from 'node:url';
import type { RuleResult, RuleSchema } from './rule.ts';
import { ruleSchema } from './rule.ts';

/** The codes the email rule refuses with. */
export type EmailCode = 'invalid_type' | 'invalid_email' | 'too_long' | 'invalid_domain';

/** Options of `checkEmail`. */
export interface EmailOptions {
  /**
   * `'none'` (default) keeps the local part exactly as typed: only the mailbox's server may
   * interpret it (RFC 5321 §2.4). `'gmail'` also strips dots and a `+tag` from `gmail.com` and
   * `googlemail.com` local parts and maps both domains to `gmail.com`, so one Gmail inbox cannot
   * open many accounts; use it only where that is the intent.
   */
  canonicalize?: 'none' | 'gmail';
}

/** RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. */
const MAX_LOCAL_OCTETS = 64;
/** RFC 5321 §4.5.3.1.2: a domain is at most 255 octets. */
const MAX_DOMAIN_OCTETS = 255;
/** RFC 5321 §4.5.3.1.3 (path ≤ 256 octets with its angle brackets; erratum 1690) leaves 254. */
const MAX_ADDRESS_OCTETS = 254;
/** Bounds the work done before the real limits apply (IDN mapping can shrink a domain). */
const MAX_INPUT_LENGTH = 1024;

/**
 * RFC 5322 §3.2.3 dot-atom: atext runs joined by single dots. The dot is not in the class, so
 * the pattern cannot backtrack catastrophically (no ReDoS).
 */
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
/** Any control character (C0, DEL, C1) or whitespace, including U+2028/2029 and NBSP. */
const CONTROL_OR_SPACE = /[\p{Cc}\s]/u;
/**
 * What a domain may be typed with before IDNA mapping: letters, marks, digits, `-` and `.`.
 * Without this, WHATWG's host parser behind `domainToASCII` would percent-decode
 * (`ex%41.com` → `exa.com`), cut at a slash (`exa/mple.com` → `exa`) and silently drop
 * invisible characters: the stored domain would differ from the one the user saw.
 */
const DOMAIN_INPUT = /^[\p{L}\p{M}\p{N}.-]+$/u;
/** RFC 1035 §2.3.1 / RFC 5890 LDH label: ≤ 63 octets, no leading or trailing hyphen. */
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const ALL_DIGITS = /^[0-9]+$/;
const GMAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/**
 * Checks and normalizes an email address. The domain is lower-cased and IDN domains are
 * converted to their ASCII (Punycode) form, which is what DNS and SMTP use; the local part is
 * kept as typed, since RFC 5321 §2.4 lets a server treat it case-sensitively.
 *
 * Never throws on the address, whatever its type; throws only on misconfigured options.
 *
 * @throws TypeError when `options.canonicalize` is not `'none'` or `'gmail'`.
 * @example
 * checkEmail('Ann@Bücher.Example') // { ok: true, value: 'Ann@xn--bcher-kva.example' }
 * checkEmail('a@b')                // { ok: false, code: 'invalid_domain', message: '…' }
 */
export function checkEmail(input: unknown, options: EmailOptions = {}): RuleResult<string, EmailCode> {
  const { canonicalize = 'none' } = options;
  if (canonicalize !== 'none' && canonicalize !== 'gmail') {
    throw new TypeError(`canonicalize: expected "none" or "gmail", got ${JSON.stringify(canonicalize)}`);
  }
  if (typeof input !== 'string') return refuse('invalid_type', 'The email address must be a string');
  if (input.length > MAX_INPUT_LENGTH) return refuse('too_long', 'The email address is too long');
  // Checked first so the refusal names the real reason, not the space a quoted part holds.
  if (input.startsWith('"'))
    return refuse('invalid_email', 'Quoted local parts ("…"@domain) are not accepted');
  if (CONTROL_OR_SPACE.test(input)) {
    return refuse('invalid_email', 'The email address must not contain spaces or control characters');
  }

  const at = input.lastIndexOf('@');
  if (at === -1) return refuse('invalid_email', 'The email address must contain @');
  let local = input.slice(0, at);
  const rawDomain = input.slice(at + 1);

  if (local === '') return refuse('invalid_email', 'The part before @ is missing');
  if (rawDomain === '') return refuse('invalid_domain', 'The domain after @ is missing');
  if (!DOT_ATOM.test(local)) {
    return refuse('invalid_email', 'The part before @ has a character or dot that is not allowed');
  }
  if (local.length > MAX_LOCAL_OCTETS) {
    return refuse('too_long', `The part before @ must be at most ${MAX_LOCAL_OCTETS} characters`);
  }

  const checked = checkDomain(rawDomain);
  if (!checked.ok) return checked;
  let domain = checked.value;

  if (canonicalize === 'gmail' && GMAIL_DOMAINS.has(domain)) {
    local = gmailMailbox(local);
    if (local === '') return refuse('invalid_email', 'The part before @ is empty once the +tag is removed');
    domain = 'gmail.com';
  }

  const address = `${local}@${domain}`;
  if (address.length > MAX_ADDRESS_OCTETS) {
    return refuse('too_long', `The email address must be at most ${MAX_ADDRESS_OCTETS} characters`);
  }
  return { ok: true, value: address };
}

/**
 * The key under which an address is unique: the whole address lower-cased. The stored address
 * keeps its local part as typed, but `Ann@x.example` and `ann@x.example` must not become two
 * accounts (account takeover by a look-alike sign-up). Pass a value `checkEmail` returned.
 * `toLowerCase` is locale-independent, unlike `toLocaleLowerCase` (no Turkish dotless-i).
 *
 * @example
 * emailKey('Ann@example.com') // 'ann@example.com'
 */
export function emailKey(email: string): string {
  return email.toLowerCase();
}

/**
 * The email rule as a zod schema for the server's routes; outputs the normalized address.
 *
 * @example
 * z.object({ email: emailSchema }).parse({ email: 'Ann@Example.COM' }) // { email: 'Ann@example.com' }
 */
export const emailSchema: RuleSchema = ruleSchema((input) => checkEmail(input));

function checkDomain(raw: string): RuleResult<string, EmailCode> {
  if (raw.startsWith('[')) return refuse('invalid_domain', 'IP-address domains ([…]) are not accepted');
  if (!DOMAIN_INPUT.test(raw))
    return refuse('invalid_domain', 'The domain has a character that is not allowed');
  // UTS #46 mapping: lower-cases, maps full-width forms, converts U-labels to xn-- A-labels.
  const ascii = domainToASCII(raw);
  if (ascii === '')
    return refuse('invalid_domain', 'The domain is not a valid internationalized domain name');
  if (ascii.length > MAX_DOMAIN_OCTETS) {
    return refuse('too_long', `The domain must be at most ${MAX_DOMAIN_OCTETS} characters`);
  }
  const labels = ascii.split('.');
  if (labels.length < 2) return refuse('invalid_domain', 'The domain must contain a dot');
  for (const label of labels) {
    if (label.length > 63) return refuse('invalid_domain', 'A domain label must be at most 63 characters');
    if (!LDH_LABEL.test(label)) {
      return refuse(
        'invalid_domain',
        'A domain label is empty, starts or ends with "-", or has a bad character',
      );
    }
  }
  // WHATWG parsing turns `1.2.3` or `0x7f.1` into an IPv4 address; a numeric TLD catches all.
  if (ALL_DIGITS.test(labels.at(-1)!))
    return refuse('invalid_domain', 'The domain must not be an IP address');
  return { ok: true, value: ascii };
}

/** Gmail ignores dots and everything after `+` in the mailbox name, and is case-insensitive. */
function gmailMailbox(local: string): string {
  const plus = local.indexOf('+');
  return (plus === -1 ? local : local.slice(0, plus)).replaceAll('.', '').toLowerCase();
}

function refuse(code: EmailCode, message: string): { ok: false; code: EmailCode; message: string } {
  return { ok: false, code, message };
}
