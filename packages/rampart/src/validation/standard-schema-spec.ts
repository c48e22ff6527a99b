/**
 * The Standard Schema v1 interfaces, copied inline from the spec (https://standardschema.dev,
 * `@standard-schema/spec` v1) so Rampart takes no dependency for a handful of interfaces. The
 * spec's `StandardSchemaV1` namespace is flattened into prefixed names because this project
 * compiles with `erasableSyntaxOnly`.
 */

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
