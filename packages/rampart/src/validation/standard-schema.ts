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

/**
 * A Standard Schema v1: any object with a `~standard` property. Zod 4 schemas are one.
 *
 * @example
 * import * as z from 'zod';
 * const schema: StandardSchemaV1<unknown, string> = z.string();
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly '~standard': StandardSchemaV1Props<Input, Output>;
}

/** The Standard Schema properties (spec: `StandardSchemaV1.Props`). */
export interface StandardSchemaV1Props<Input = unknown, Output = Input> {
  /** The version number of the standard. */
  readonly version: 1;
  /** The vendor name of the schema library. */
  readonly vendor: string;
  /** Validates unknown input values. */
  readonly validate: (
    value: unknown,
    options?: StandardSchemaV1Options | undefined,
  ) => StandardSchemaV1Result<Output> | Promise<StandardSchemaV1Result<Output>>;
  /** Inferred types associated with the schema. */
  readonly types?: StandardSchemaV1Types<Input, Output> | undefined;
}

/** The options of `validate` (spec: `StandardSchemaV1.Options`). */
export interface StandardSchemaV1Options {
  /** Implicit support for additional vendor-specific parameters, if needed. */
  readonly libraryOptions?: Record<string, unknown> | undefined;
}

/** The result of `validate` (spec: `StandardSchemaV1.Result`). */
export type StandardSchemaV1Result<Output> =
  | StandardSchemaV1SuccessResult<Output>
  | StandardSchemaV1FailureResult;

/** The result when validation succeeds (spec: `StandardSchemaV1.SuccessResult`). */
export interface StandardSchemaV1SuccessResult<Output> {
  /** The typed output value. */
  readonly value: Output;
  /** The absence of issues indicates success. */
  readonly issues?: undefined;
}

/** The result when validation fails (spec: `StandardSchemaV1.FailureResult`). */
export interface StandardSchemaV1FailureResult {
  /** The issues of failed validation. */
  readonly issues: ReadonlyArray<StandardSchemaV1Issue>;
}

/** One issue of a failed validation (spec: `StandardSchemaV1.Issue`). */
export interface StandardSchemaV1Issue {
  /** The error message of the issue. */
  readonly message: string;
  /** The path of the issue, if any. */
  readonly path?: ReadonlyArray<PropertyKey | StandardSchemaV1PathSegment> | undefined;
}

/** A path segment given as an object (spec: `StandardSchemaV1.PathSegment`). */
export interface StandardSchemaV1PathSegment {
  /** The key representing a path segment. */
  readonly key: PropertyKey;
}

/** The inferred types of a schema (spec: `StandardSchemaV1.Types`). */
export interface StandardSchemaV1Types<Input = unknown, Output = Input> {
  /** The input type of the schema. */
  readonly input: Input;
  /** The output type of the schema. */
  readonly output: Output;
}

/** Infers the input type of a Standard Schema (spec: `StandardSchemaV1.InferInput`). */
export type StandardSchemaV1InferInput<Schema extends StandardSchemaV1> = NonNullable<
  Schema['~standard']['types']
>['input'];

/** Infers the output type of a Standard Schema (spec: `StandardSchemaV1.InferOutput`). */
export type StandardSchemaV1InferOutput<Schema extends StandardSchemaV1> = NonNullable<
  Schema['~standard']['types']
>['output'];

/**
 * What `validate()` answers: the schema's output, or every problem as a `FieldError`. Invalid
 * input is an expected outcome, so it is a value, never a rejected promise.
 */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** The code given to an issue that names none (Standard Schema issues only promise a message). */
const GENERIC_CODE = 'invalid';

/**
 * Validates `input` against any Standard Schema v1 and maps its issues to `FieldError`s.
 *
 * Each error's `path` is a JSON Pointer (RFC 6901): `''` for the root, `/email`,
 * `/items/0/name`, with `~` and `/` in keys escaped as `~0` and `~1`. Its `code` is, in order:
 * `params.code` of a zod `custom` issue (how Rampart's own rules carry `too_short`,
 * `common_password`, …), else the issue's own string `code` (zod's `invalid_type`,
 * `too_small`, `unrecognized_keys`, …), else `'invalid'`.
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
  const result = await standardOf(schema, 'validate').validate(input);
  return toValidationResult(result);
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
  const result = standardOf(schema, 'validateSync').validate(input);
  if (isThenable(result)) {
    // The abandoned promise may still reject; swallow that so it cannot crash the process as
    // an unhandled rejection. The caller already gets the TypeError below.
    Promise.resolve(result).catch(() => {});
    throw new TypeError('validateSync: the schema validated asynchronously; use validate() instead');
  }
  return toValidationResult(result);
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

function toValidationResult<Output>(result: StandardSchemaV1Result<Output>): ValidationResult<Output> {
  if (result.issues === undefined) return { ok: true, value: result.value };
  return { ok: false, errors: result.issues.map(toFieldError) };
}

function toFieldError(issue: StandardSchemaV1Issue): FieldError {
  return { path: jsonPointer(issue.path), code: issueCode(issue), message: issue.message };
}

function issueCode(issue: StandardSchemaV1Issue): string {
  const { code, params } = issue as { code?: unknown; params?: { code?: unknown } };
  if (code === 'custom' && typeof params?.code === 'string') return params.code;
  return typeof code === 'string' ? code : GENERIC_CODE;
}
