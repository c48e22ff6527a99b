/**
 * Rampart's email, password, name and rich-text rules as Standard Schema v1 validators that
 * implement `~standard` themselves, so they work with any library or framework that takes a
 * Standard Schema, not only with zod (the zod forms, `emailSchema` and the like, stay):
 *
 * - on their own, wherever a Standard Schema is taken (`validate(emailRule, input)`);
 * - inside an ArkType object, which embeds any Standard Schema:
 *   `type({ email: emailRule, password: passwordRule(), name: nameRule })`;
 * - in a library that does not embed one (Valibot, zod), through its transform hook and the
 *   rule's pure `check` (docs/validation.md shows the four lines).
 *
 * Wherever they run, the field errors keep the rule's own code and message
 * (`common_password`, "This password is too common; choose another"): `validate()` knows the
 * rules' messages (`rule-issue.ts`), which never contain the submitted value.
 */
import { checkEmail, type EmailCode, type EmailOptions } from './email.ts';
import { checkName, type NameCode, type NameOptions } from './name.ts';
import {
  checkResolvedPassword,
  type PasswordCode,
  type PasswordOptions,
  resolvePasswordOptions,
} from './password.ts';
import { checkRichText, type RichTextCode, type RichTextOptions } from './rich-text.ts';
import type { RuleResult } from './rule.ts';
import { RULE_ISSUE, type RuleIssueMark, rememberRuleMessage } from './rule-issue.ts';
import type { StandardSchemaV1Props, StandardSchemaV1Result } from './standard-schema.ts';

/**
 * A rule as a Standard Schema v1: a string in, the rule's cleaned string out (the schema's
 * output type is `string`), and the rule itself as a pure function.
 */
export interface RuleValidator<Code extends string = string> {
  readonly '~standard': StandardSchemaV1Props<string, string>;
  /** The rule as a pure function: the cleaned value, or a stable code and a message. */
  check(input: unknown): RuleResult<string, Code>;
}

/**
 * Wraps a rule as a Standard Schema v1 whose issues carry the rule's code and message.
 *
 * @example
 * const upper = standardRule((text) => typeof text === 'string' ? { ok: true, value: text.toUpperCase() } : { ok: false, code: 'invalid_type', message: 'Expected text' });
 */
export function standardRule<Code extends string>(
  rule: (input: unknown) => RuleResult<string, Code>,
): RuleValidator<Code> {
  // Every refusal's message is remembered, so it keeps its code wherever it ends up.
  const check = (input: unknown): RuleResult<string, Code> => {
    const result = rule(input);
    if (!result.ok) rememberRuleMessage(result.code, result.message);
    return result;
  };
  const validate = (value: unknown): StandardSchemaV1Result<string> => {
    const result = check(value);
    if (result.ok) return { value: result.value };
    const mark: RuleIssueMark = { code: result.code, message: result.message };
    return { issues: [{ message: result.message, code: result.code, [RULE_ISSUE]: mark } as never] };
  };
  return Object.freeze({
    '~standard': Object.freeze({ version: 1, vendor: 'rampart', validate }),
    check,
  });
}

/**
 * The email rule as a Standard Schema: the domain lower-cased and IDNA-mapped, the local part
 * kept as typed (see `checkEmail`).
 *
 * @example
 * type({ email: emailRule })            // ArkType
 * await validate(emailRule, 'Ann@Example.COM') // { ok: true, value: 'Ann@example.com' }
 */
export const emailRule: RuleValidator<EmailCode> = standardRule((input) => checkEmail(input));

/**
 * The email rule with options (`canonicalize: 'gmail'`), as a Standard Schema.
 * @throws TypeError naming the option when `options` is invalid.
 * @example emailRuleWith({ canonicalize: 'gmail' })
 */
export function emailRuleWith(options: EmailOptions): RuleValidator<EmailCode> {
  checkEmail('', options); // the options are checked now, not on the first request
  return standardRule((input) => checkEmail(input, options));
}

/**
 * The password rule as a Standard Schema (NIST SP 800-63B: length and a common-password list;
 * `tutorialPasswordPolicy` adds the tutorial's composition rule). Options are checked once, here.
 *
 * @throws TypeError naming the option when `options` is invalid.
 * @example
 * type({ password: passwordRule(tutorialPasswordPolicy) }) // ArkType
 */
export function passwordRule(options: PasswordOptions = {}): RuleValidator<PasswordCode> {
  const resolved = resolvePasswordOptions(options);
  return standardRule((input) => checkResolvedPassword(input, resolved));
}

/**
 * The name rule (2–50 characters, markup removed, trimmed) as a Standard Schema.
 * @example type({ name: nameRule }) // ArkType
 */
export const nameRule: RuleValidator<NameCode> = standardRule((input) => checkName(input));

/**
 * The name rule with other limits, as a Standard Schema.
 * @throws TypeError naming the option when `options` is invalid.
 * @example nameRuleWith({ minLength: 1, maxLength: 100 })
 */
export function nameRuleWith(options: NameOptions): RuleValidator<NameCode> {
  checkName('', options);
  return standardRule((input) => checkName(input, options));
}

/**
 * The rich-text rule (a strict allow-list of formatting and links) as a Standard Schema.
 * @example type({ bio: richTextRule }) // ArkType
 */
export const richTextRule: RuleValidator<RichTextCode> = standardRule((input) => checkRichText(input));

/**
 * The rich-text rule with another length limit, as a Standard Schema.
 * @throws TypeError naming the option when `options` is invalid.
 */
export function richTextRuleWith(options: RichTextOptions): RuleValidator<RichTextCode> {
  checkRichText('', options);
  return standardRule((input) => checkRichText(input, options));
}
