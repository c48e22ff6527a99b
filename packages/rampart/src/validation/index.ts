/**
 * The validation domain: `validate()` for any Standard Schema, and the email, password, name
 * and rich-text rules, each as a pure function, as a Standard Schema (`emailRule`, …) and as a
 * zod schema (`emailSchema`, …). Framework-free.
 */

export type { EmailCode, EmailOptions } from './email.ts';
export { checkEmail, emailKey, emailSchema } from './email.ts';
export type { CompiledJsonSchema, JsonSchemaError } from './json-schema.ts';
export { jsonSchema } from './json-schema.ts';
export type { NameCode, NameOptions } from './name.ts';
export { checkName, nameSchema } from './name.ts';
export type { PasswordCode, PasswordComposition, PasswordOptions } from './password.ts';
export {
  checkPassword,
  isCommonPassword,
  normalizePassword,
  passwordSchema,
  tutorialPasswordPolicy,
} from './password.ts';
export type { RichTextCode, RichTextOptions } from './rich-text.ts';
export { checkRichText, richTextSchema, sanitizeRichText } from './rich-text.ts';
export type { RuleResult, RuleSchema } from './rule.ts';
export { ruleSchema } from './rule.ts';
export type { RuleValidator } from './standard-rules.ts';
export {
  emailRule,
  emailRuleWith,
  nameRule,
  nameRuleWith,
  passwordRule,
  richTextRule,
  richTextRuleWith,
  standardRule,
} from './standard-rules.ts';
export type {
  StandardSchemaV1,
  StandardSchemaV1FailureResult,
  StandardSchemaV1InferInput,
  StandardSchemaV1InferOutput,
  StandardSchemaV1Issue,
  StandardSchemaV1Options,
  StandardSchemaV1PathSegment,
  StandardSchemaV1Props,
  StandardSchemaV1Result,
  StandardSchemaV1SuccessResult,
  StandardSchemaV1Types,
  ValidationResult,
} from './standard-schema.ts';
export { jsonPointer, validate, validateSync } from './standard-schema.ts';
