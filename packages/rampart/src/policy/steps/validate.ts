/** The validation step: body, query and params against any Standard Schema v1. */
import { RampartError } from '../../errors.ts';
import { mediaTypeOf } from '../../http/content-type.ts';
import {
  type StandardSchemaV1,
  type StandardSchemaV1InferOutput,
  validate as validateWithSchema,
} from '../../validation/standard-schema.ts';
import type { PolicyContext } from '../context.ts';
import { isObject, knownKeys } from '../options.ts';
import {
  NO_HEADERS,
  type RequestView,
  routeOf,
  type Step,
  type ValidatedParts,
  type ValidationDecision,
} from '../view.ts';

/** Schemas for `rampart.validate()`: any Standard Schema v1 (Zod 4, Valibot, ArkType, …). */
export interface ValidateSchemas {
  body?: StandardSchemaV1;
  query?: StandardSchemaV1;
  params?: StandardSchemaV1;
}

/**
 * What a validation step of these schemas puts out: each given part as its schema's output
 * type (`StandardSchemaV1InferOutput`), so a handler reads `body.email` as a string, no cast.
 *
 * @example
 * type Out = ValidatedOutput<{ body: typeof signup }>; // { body: { email: string; … } }
 */
export type ValidatedOutput<S extends ValidateSchemas> = {
  -readonly [K in keyof S as K extends ValidatePart
    ? S[K] extends StandardSchemaV1
      ? K
      : never
    : never]-?: S[K] extends StandardSchemaV1 ? StandardSchemaV1InferOutput<S[K]> : never;
};

/** The parts of a request a validation step can check. */
export type ValidatePart = 'params' | 'query' | 'body';

const VALIDATE_PARTS = ['params', 'query', 'body'] as const satisfies readonly ValidatePart[];

/** Parses a raw query string into an object (repeated names become arrays) with no prototype. */
export function parseQuery(query: string | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  if (!query) return out;
  for (const [name, value] of new URLSearchParams(query)) {
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

/** RFC 9112 §6.3: a request has a body when it says a length above 0 or a transfer coding. */
export function hasBody(view: RequestView): boolean {
  const length = view.headers('content-length');
  return length === undefined ? view.headers('transfer-encoding') !== undefined : length.trim() !== '0';
}

function isJson(contentType: string | undefined): boolean {
  return mediaTypeOf(contentType) === 'application/json';
}

function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const standard = (value as { '~standard'?: { version?: unknown; validate?: unknown } } | null)?.[
    '~standard'
  ];
  return (
    typeof standard === 'object' &&
    standard !== null &&
    standard.version === 1 &&
    typeof standard.validate === 'function'
  );
}

/** Builds one validation step. @throws TypeError when a schema is not a Standard Schema v1. */
export function validateStep(ctx: PolicyContext, schemas: ValidateSchemas): Step<ValidationDecision> {
  if (!isObject(schemas)) throw new TypeError('validate: expected { body?, query?, params? }');
  knownKeys(schemas, new Set(VALIDATE_PARTS), 'validate');
  const parts = VALIDATE_PARTS.filter((part) => schemas[part] !== undefined);
  if (parts.length === 0) throw new TypeError('validate: give at least one of body, query, params');
  for (const part of parts) {
    if (!isStandardSchema(schemas[part])) {
      throw new TypeError(`validate.${part}: expected a Standard Schema v1 (Zod 4, Valibot, ArkType, …)`);
    }
  }
  const checksBody = parts.includes('body');
  return async (view) => {
    // A body some other parser read (Fastify's text/plain) is not the JSON the schema is for.
    if (checksBody && hasBody(view) && !isJson(view.headers('content-type'))) {
      return ctx.refuse(
        new RampartError('UNSUPPORTED_MEDIA_TYPE', { detail: 'Send the body as application/json.' }),
        view,
      );
    }
    const value: ValidatedParts = {};
    const errors = [];
    for (const part of parts) {
      const input =
        part === 'body' ? (view.body ?? {}) : part === 'query' ? parseQuery(view.query) : (view.params ?? {});
      const result = await validateWithSchema(schemas[part]!, input);
      if (result.ok) value[part] = result.value;
      else {
        const prefix = part === 'body' ? '' : `/${part}`;
        for (const error of result.errors) errors.push({ ...error, path: prefix + error.path });
      }
    }
    if (errors.length > 0) {
      ctx.emit(
        {
          type: 'input_validation_fail',
          outcome: 'failure',
          ip: ctx.clientIp(view),
          // Field names and codes only: values may be passwords.
          detail: { route: routeOf(view), fields: errors.map((e) => `${e.path}:${e.code}`) },
        },
        view,
      );
      return ctx.refuse(new RampartError('VALIDATION_FAILED', { errors }), view);
    }
    return { ok: true, headers: NO_HEADERS, value };
  };
}
