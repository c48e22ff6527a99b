/**
 * `validate()` for any Standard Schema v1 validator (Zod 4, Valibot, ArkType, …), answering with
 * Rampart's `FieldError` list: a JSON Pointer path (RFC 6901), a code and a message.
 *
 * The Standard Schema types are copied inline from the spec (https://standardschema.dev,
 * `@standard-schema/spec` v1) so Rampart takes no dependency for a handful of interfaces. The
 * spec's `StandardSchemaV1` namespace is flattened into prefixed names because this project
 * compiles with `erasableSyntaxOnly`.
 */

import type { FieldError } from '../errors.ts';
import { endsAtFaultyKey, ISSUE_WORDING, issueKind, issueParts } from './issue-wording.ts';
import { RULE_ISSUE, type RuleIssueMark, ruleCodeOfMessage } from './rule-issue.ts';

import type {
  StandardSchemaV1,
  StandardSchemaV1InferInput,
  StandardSchemaV1InferOutput,
  StandardSchemaV1Issue,
  StandardSchemaV1PathSegment,
  StandardSchemaV1Props,
  StandardSchemaV1Result,
} from './standard-schema-spec.ts';

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
} from './standard-schema-spec.ts';

/**
 * What `validate()` answers: the schema's output, or every problem as a `FieldError`. Invalid
 * input is an expected outcome, so it is a value, never a rejected promise.
 */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** A code a schema author set on a zod `custom` issue (`params.code`) is kept if it looks like one. */
const AUTHOR_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Validates `input` against any Standard Schema v1 and maps its issues to `FieldError`s.
 *
 * Each error's `path` is a JSON Pointer (RFC 6901): `''` for the root, `/email`,
 * `/items/0/name`, with `~` and `/` in keys escaped as `~0` and `~1`.
 *
 * The schema library's own `message` is never returned: Valibot and ArkType quote the
 * submitted value in theirs (`… but received "hunter2"`). Code and message come from the
 * issue's kind through Rampart's table (`ISSUE_WORDING` in `issue-wording.ts`): Zod's codes
 * are kept (`invalid_type`, `too_small`, `unrecognized_keys`, …) and Valibot's and ArkType's
 * kinds are mapped onto them; a kind not in the table is `invalid`, "The value is not valid".
 * Rampart's own rules (email, password, name, rich text) keep their codes and messages
 * (`too_short`, "The password must be at least 8 characters"), which are ours. A zod
 * `custom` issue of another author keeps its `params.code` when that is a snake_case
 * identifier, with the generic message.
 *
 * An exception thrown by the schema itself is a bug in the schema, not invalid input, and
 * propagates.
 *
 * @throws TypeError when `schema` is not a Standard Schema v1.
 * @example
 * const result = await validate(z.object({ email: emailSchema }), body);
 * if (!result.ok) throw new RampartError('VALIDATION_FAILED', { errors: result.errors });
 */
export async function validate<Schema extends StandardSchemaV1>(
  schema: Schema,
  input: unknown,
): Promise<ValidationResult<StandardSchemaV1InferOutput<Schema>>> {
  const standard = standardOf(schema, 'validate');
  return toValidationResult(await standard.validate(input), standard.vendor);
}

/**
 * `validate()` for schemas that validate synchronously (Zod without async refinements does), so
 * a hot request path avoids a microtask per body.
 *
 * @throws TypeError when `schema` is not a Standard Schema v1, or when it validated
 * asynchronously: silently awaiting would change the caller's timing contract, and returning
 * the promise would let an unchecked body through as a truthy value.
 * @example
 * const result = validateSync(nameSchema, '<b>Al</b>'); // { ok: true, value: 'Al' }
 */
export function validateSync<Schema extends StandardSchemaV1>(
  schema: Schema,
  input: unknown,
): ValidationResult<StandardSchemaV1InferOutput<Schema>> {
  const standard = standardOf(schema, 'validateSync');
  const result = standard.validate(input);
  if (isThenable(result)) {
    // The abandoned promise may still reject; swallow that so it cannot crash the process as
    // an unhandled rejection. The caller already gets the TypeError below.
    Promise.resolve(result).catch(() => {});
    throw new TypeError('validateSync: the schema validated asynchronously; use validate() instead');
  }
  return toValidationResult(result, standard.vendor);
}

/**
 * Builds the JSON Pointer (RFC 6901) of a Standard Schema issue path; `''` for the root. In
 * each key `~` becomes `~0` first, then `/` becomes `~1` (§3), so a key such as `a/b` cannot
 * be read back as two segments.
 *
 * @example
 * jsonPointer(['items', 0, 'a/b']) // '/items/0/a~1b'
 */
export function jsonPointer(
  path: ReadonlyArray<PropertyKey | StandardSchemaV1PathSegment> | undefined,
): string {
  if (path === undefined) return '';
  let pointer = '';
  for (const segment of path) {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    const text = typeof key === 'symbol' ? (key.description ?? '') : String(key);
    pointer += `/${text.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  }
  return pointer;
}

function standardOf<Schema extends StandardSchemaV1>(
  schema: Schema,
  caller: string,
): StandardSchemaV1Props<StandardSchemaV1InferInput<Schema>, StandardSchemaV1InferOutput<Schema>> {
  const standard = (schema as Partial<StandardSchemaV1> | null | undefined)?.['~standard'];
  if (typeof standard !== 'object' || standard === null || standard.version !== 1) {
    throw new TypeError(`${caller}: schema is not a Standard Schema v1 (no "~standard" with version 1)`);
  }
  return standard as StandardSchemaV1Props<
    StandardSchemaV1InferInput<Schema>,
    StandardSchemaV1InferOutput<Schema>
  >;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

function toValidationResult<Output>(
  result: StandardSchemaV1Result<Output>,
  vendor: unknown,
): ValidationResult<Output> {
  if (result.issues === undefined) return { ok: true, value: result.value };
  const library = typeof vendor === 'string' ? vendor : '';
  // Once in our words, issues can coincide (ArkType lists each undeclared key apart; they all
  // become "the object has properties that are not allowed"): each is reported once.
  const errors = new Map<string, FieldError>();
  for (const issue of result.issues) {
    for (const part of issueParts(library, issue)) {
      const error = toFieldError(part, library);
      errors.set(JSON.stringify([error.path, error.code, error.message]), error);
    }
  }
  return { ok: false, errors: [...errors.values()] };
}

/**
 * One issue in Rampart's words. Only the path, Rampart's own mark and the names the library
 * gives the issue's kind are read; `message`, `input`, `received` and the like never are.
 */
function toFieldError(issue: StandardSchemaV1Issue, vendor: string): FieldError {
  const path = jsonPointer(endsAtFaultyKey(vendor, issue) ? issue.path?.slice(0, -1) : issue.path);
  const { code, params } = issue as { code?: unknown; params?: Record<PropertyKey, unknown> };
  // A rule's issue: zod's `custom` issue of `ruleSchema`, or a Standard Schema rule's own.
  const mark = (params?.[RULE_ISSUE] ?? (issue as { [RULE_ISSUE]?: unknown })[RULE_ISSUE]) as
    | RuleIssueMark
    | undefined;
  if ((code === 'custom' || vendor === 'rampart') && isRuleIssueMark(mark)) {
    return { path, code: mark.code, message: mark.message };
  }
  // A rule's issue remade by another library (ArkType embedding the rule): our own message.
  const ruleCode = ruleCodeOfMessage(issue.message);
  if (ruleCode !== undefined) return { path, code: ruleCode, message: issue.message };
  const wording = ISSUE_WORDING[issueKind(vendor, issue)];
  const authorCode = params?.code;
  if (
    vendor === 'zod' &&
    code === 'custom' &&
    typeof authorCode === 'string' &&
    AUTHOR_CODE.test(authorCode)
  ) {
    return { path, code: authorCode, message: wording.message };
  }
  return { path, code: wording.code, message: wording.message };
}

function isRuleIssueMark(value: unknown): value is RuleIssueMark {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RuleIssueMark).code === 'string' &&
    typeof (value as RuleIssueMark).message === 'string'
  );
}
