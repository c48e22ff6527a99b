/**
 * JSON Schema for `validate()`: a compiled JSON Schema validator (Ajv's `ValidateFunction`
 * fits as is) seen as a Standard Schema v1, so that the engine's validation step runs it and
 * answers its failures like any other schema's: 400 `VALIDATION_FAILED`, one field error per
 * problem, JSON Pointer paths, Rampart's own codes and messages (the validator's messages are
 * never read: `issue-wording.ts` words each `keyword`). Rampart takes no dependency on a JSON
 * Schema library; the caller compiles the schema with the one it trusts.
 */
import type { StandardSchemaV1, StandardSchemaV1Issue } from './standard-schema.ts';

/** One error of a compiled validator, as Ajv reports it (`instancePath`, `keyword`, `params`). */
export interface JsonSchemaError {
  /** JSON Pointer (RFC 6901) of the failing value. */
  readonly instancePath: string;
  /** The JSON Schema keyword that failed (`type`, `required`, `maxLength`, …). */
  readonly keyword: string;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** A compiled JSON Schema validator: true for valid data, else its `errors`. */
export interface CompiledJsonSchema {
  (data: unknown): boolean;
  errors?: readonly JsonSchemaError[] | null | undefined;
}

/** The vendor name the issues of {@link jsonSchema} carry (`issue-wording.ts` reads it). */
export const JSON_SCHEMA_VENDOR = 'json-schema';

/** At most this many field errors are reported for one body. */
const MAX_ISSUES = 50;

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/**
 * A compiled JSON Schema as a Standard Schema v1. A missing required property is reported at
 * its own path (`/email`), as Zod reports it; a property the schema does not allow at its
 * object, without echoing the client's key.
 *
 * @throws TypeError when `validate` is not a function.
 * @example
 * const ajv = new Ajv({ allErrors: true });
 * const step = rampart.validate({ body: jsonSchema(ajv.compile({ type: 'object', required: ['sku'] })) });
 */
export function jsonSchema(validate: CompiledJsonSchema): StandardSchemaV1 {
  if (typeof validate !== 'function')
    throw new TypeError('jsonSchema: expected a compiled validator function');
  return {
    '~standard': {
      version: 1,
      vendor: JSON_SCHEMA_VENDOR,
      validate(value) {
        if (validate(value)) return { value };
        const issues: StandardSchemaV1Issue[] = [];
        for (const error of (validate.errors ?? []).slice(0, MAX_ISSUES)) {
          const path = pointerSegments(error.instancePath);
          const missing = error.params?.missingProperty;
          if (error.keyword === 'required' && typeof missing === 'string') path.push(missing);
          // Only the keyword and its format name are read from here on, never a message.
          issues.push({
            message: '',
            path,
            keyword: error.keyword,
            format: error.params?.format,
          } as StandardSchemaV1Issue);
        }
        if (issues.length === 0)
          issues.push({ message: '', path: [], keyword: 'invalid' } as StandardSchemaV1Issue);
        return { issues };
      },
    },
  };
}
