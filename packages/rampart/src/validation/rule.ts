/**
 * The shape every validation rule answers with, and the glue that turns a rule into a zod
 * schema for the server's routes.
 *
 * A refusal is a value, not an exception (STYLE.md, the Unkey pattern): a rule never throws on
 * bad input, whatever its type, so a caller can branch on `code` without a try/catch.
 */

import * as z from 'zod';
import { RULE_ISSUE, type RuleIssueMark } from './rule-issue.ts';

/**
 * The outcome of a rule: the cleaned value, or a stable `code` and a human `message`.
 *
 * @example
 * const result: RuleResult<string, 'too_short'> = { ok: false, code: 'too_short', message: 'Too short' };
 */
export type RuleResult<T, Code extends string = string> =
  | { ok: true; value: T }
  | { ok: false; code: Code; message: string };

/** The zod schema a rule becomes: a string in, the rule's cleaned string out. */
export type RuleSchema = z.ZodPipe<z.ZodString, z.ZodTransform<string, string>>;

/**
 * Wraps a string rule as a zod schema: `z.string()` (whose own refusal has the code
 * `invalid_type`) piped into a transform that outputs the rule's cleaned value.
 *
 * Zod's issue codes are a closed union, so the rule's code travels the documented zod way: a
 * `custom` issue with `params.code`, and code and message also travel under
 * {@link RULE_ISSUE}, which is what `validate()` reads: a route sees
 * `{ code: 'common_password', message: 'This password is too common; choose another' }`. A transform keeps the schema representable with
 * `z.toJSONSchema(schema, { io: 'input' })` (it renders as `{ type: 'string' }`).
 *
 * @example
 * const upper = ruleSchema((text) => ({ ok: true, value: text.toUpperCase() }));
 */
export function ruleSchema<Code extends string>(
  check: (input: string) => RuleResult<string, Code>,
): RuleSchema {
  return z.string().transform((input, ctx) => {
    const result = check(input);
    if (result.ok) return result.value;
    const mark: RuleIssueMark = { code: result.code, message: result.message };
    ctx.addIssue({
      code: 'custom',
      message: result.message,
      params: { code: result.code, [RULE_ISSUE]: mark },
      input,
    });
    return z.NEVER;
  });
}

/**
 * Checks one numeric option at creation time (STYLE.md: a `TypeError` naming the field), so a
 * misconfigured policy fails at start-up instead of accepting or refusing everything.
 */
export function assertLimit(
  field: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(`${field}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
