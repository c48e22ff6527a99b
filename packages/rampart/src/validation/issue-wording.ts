/**
 * Rampart's own wording for the issues of schema libraries.
 *
 * A Standard Schema issue's `message` is written by the schema library, and some quote the
 * submitted value: Valibot says `Invalid format: Expected /[A-Z]/ but received "hunter2"`,
 * ArkType `password must be matched by [A-Z] (was "hunter2")`. Passed through, a password
 * typed into the wrong field (or any secret) comes back in the 400 body and from there reaches
 * client logs, proxies and error trackers. So no foreign message is ever passed through: each
 * issue is classified by the kind its library names (Zod's `code`, Valibot's `kind` and
 * `type`, ArkType's `code`) and gets the code and message of that kind from
 * {@link ISSUE_WORDING}. Nothing of the issue but those names is read, and they are only
 * compared, never copied; a kind we do not know is `invalid`, "The value is not valid".
 */

import type { StandardSchemaV1Issue } from './standard-schema-spec.ts';

/** The kinds of problem an issue can name, whatever the library. */
export type IssueKind =
  | 'type'
  | 'too_short'
  | 'too_small'
  | 'too_long'
  | 'too_big'
  | 'length'
  | 'format'
  | 'email'
  | 'value'
  | 'step'
  | 'unknown_keys'
  | 'union'
  | 'key'
  | 'element'
  | 'custom'
  | 'invalid';

/**
 * The code and message each kind is reported with. The codes are Zod 4's issue codes (plus
 * `invalid_length` and `invalid`), so a Zod schema reports what it always did.
 */
export const ISSUE_WORDING: Readonly<Record<IssueKind, { readonly code: string; readonly message: string }>> =
  Object.freeze({
    type: { code: 'invalid_type', message: 'The value is missing or of the wrong type' },
    too_short: { code: 'too_small', message: 'The value is too short' },
    too_small: { code: 'too_small', message: 'The value is too small' },
    too_long: { code: 'too_big', message: 'The value is too long' },
    too_big: { code: 'too_big', message: 'The value is too large' },
    length: { code: 'invalid_length', message: 'The value does not have the required length' },
    format: { code: 'invalid_format', message: 'The value is not in the expected format' },
    email: { code: 'invalid_format', message: 'The value is not a valid email address' },
    value: { code: 'invalid_value', message: 'The value is not one of the allowed values' },
    step: { code: 'not_multiple_of', message: 'The value is not a multiple of the required step' },
    unknown_keys: { code: 'unrecognized_keys', message: 'The object has properties that are not allowed' },
    union: { code: 'invalid_union', message: 'The value matches none of the allowed forms' },
    key: { code: 'invalid_key', message: 'The object has a key that is not valid' },
    element: { code: 'invalid_element', message: 'The collection has an element that is not valid' },
    custom: { code: 'custom', message: 'The value is not valid' },
    invalid: { code: 'invalid', message: 'The value is not valid' },
  });

/** Zod 4 codes, and the Zod 3 codes that Zod 4 renamed (Zod 3.24+ is a Standard Schema too). */
const ZOD_KINDS = kindsByName({
  type: ['invalid_type', 'invalid_date', 'not_finite'],
  format: ['invalid_format', 'invalid_string'],
  value: ['invalid_value', 'invalid_literal', 'invalid_enum_value'],
  step: ['not_multiple_of'],
  unknown_keys: ['unrecognized_keys'],
  union: ['invalid_union', 'invalid_union_discriminator'],
  key: ['invalid_key'],
  element: ['invalid_element'],
  custom: ['custom'],
});

/** What Zod's `too_small` / `too_big` measured: a length for these origins, a value otherwise. */
const MEASURES_LENGTH = new Set(['string', 'array', 'set', 'file']);

/** Valibot `kind: 'schema'` types that are not plain type mismatches. */
const VALIBOT_SCHEMA_KINDS = kindsByName({
  value: ['picklist', 'literal', 'enum'],
  union: ['union', 'variant'],
  length: ['strict_tuple'],
  custom: ['custom'],
});

/** Valibot `kind: 'validation'` types (its actions); the rest are `invalid`. */
const VALIBOT_VALIDATION_KINDS = kindsByName({
  too_short: [
    'min_length',
    'min_size',
    'min_bytes',
    'min_graphemes',
    'min_words',
    'min_entries',
    'min_code_points',
    'non_empty',
  ],
  too_long: [
    'max_length',
    'max_size',
    'max_bytes',
    'max_graphemes',
    'max_words',
    'max_entries',
    'max_code_points',
  ],
  length: [
    'length',
    'size',
    'bytes',
    'graphemes',
    'words',
    'entries',
    'code_points',
    'empty',
    'not_length',
    'not_size',
    'not_bytes',
    'not_graphemes',
    'not_words',
    'not_entries',
    'not_code_points',
  ],
  too_small: ['min_value', 'gt_value'],
  too_big: ['max_value', 'lt_value'],
  value: ['value', 'values', 'not_value', 'not_values'],
  step: ['multiple_of'],
  type: ['integer', 'safe_integer', 'finite'],
  email: ['email', 'rfc_email'],
  format: [
    'regex',
    'url',
    'uuid',
    'ulid',
    'nanoid',
    'cuid2',
    'ksuid',
    'iso_date',
    'iso_date_time',
    'iso_date_time_second',
    'iso_time',
    'iso_time_second',
    'iso_timestamp',
    'iso_week',
    'base64',
    'bic',
    'credit_card',
    'decimal',
    'digits',
    'domain',
    'emoji',
    'hash',
    'hex_color',
    'hexadecimal',
    'imei',
    'ip',
    'ipv4',
    'ipv6',
    'isbn',
    'isrc',
    'jws_compact',
    'mac',
    'mac48',
    'mac64',
    'mime_type',
    'octal',
    'slug',
    'starts_with',
    'ends_with',
    'includes',
    'excludes',
  ],
  custom: ['check', 'raw_check', 'partial_check'],
  element: ['check_items', 'every_item', 'some_item'],
});

/** ArkType error codes (its node kinds). */
const ARKTYPE_KINDS = kindsByName({
  type: ['domain', 'proto', 'required'],
  value: ['unit'],
  union: ['union'],
  format: ['pattern'],
  too_small: ['min', 'after'],
  too_big: ['max', 'before'],
  too_short: ['minLength'],
  too_long: ['maxLength'],
  length: ['exactLength'],
  step: ['divisor'],
  custom: ['predicate'],
});

/** JSON Schema keywords (Ajv's `keyword`, through `json-schema.ts`). */
const JSON_SCHEMA_KINDS = kindsByName({
  type: ['type', 'required', 'dependentRequired', 'dependencies'],
  too_short: ['minLength', 'minItems', 'minProperties', 'minContains'],
  too_long: ['maxLength', 'maxItems', 'maxProperties', 'maxContains'],
  too_small: ['minimum', 'exclusiveMinimum'],
  too_big: ['maximum', 'exclusiveMaximum'],
  format: ['pattern', 'format'],
  value: ['enum', 'const'],
  step: ['multipleOf'],
  unknown_keys: ['additionalProperties', 'unevaluatedProperties'],
  union: ['anyOf', 'oneOf'],
  key: ['propertyNames'],
  element: ['uniqueItems', 'contains', 'items', 'additionalItems', 'unevaluatedItems', 'prefixItems'],
});

/**
 * The issues one library issue stands for. ArkType reports every failed constraint of one
 * value as a single `intersection` listing them (`must be matched by … and at least length
 * 20`); each is taken on its own, as Zod and Valibot report them.
 */
export function issueParts(vendor: string, issue: StandardSchemaV1Issue): readonly StandardSchemaV1Issue[] {
  if (vendor !== 'arktype') return [issue];
  const { code, errors } = issue as { code?: unknown; errors?: unknown };
  if (code !== 'intersection' || !Array.isArray(errors) || errors.length === 0) return [issue];
  return errors as StandardSchemaV1Issue[];
}

/**
 * Does the issue's path end at the client's own key, the thing at fault (a property a strict
 * object does not allow, a record key failing its schema) rather than at a place in the
 * schema? Such a path is cut before that key, so the key is not echoed and the error points
 * at the object, as Zod's `unrecognized_keys` does.
 */
export function endsAtFaultyKey(vendor: string, issue: StandardSchemaV1Issue): boolean {
  const fields = issue as unknown as Record<string, unknown>;
  if (vendor === 'valibot') {
    const path = fields.path;
    return Array.isArray(path) && (path.at(-1) as { origin?: unknown } | undefined)?.origin === 'key';
  }
  return vendor === 'arktype' && fields.code === 'predicate' && fields.expected === 'removed';
}

/**
 * The kind of one issue, by the schema library that made it (`~standard.vendor`).
 *
 * @example
 * issueKind('valibot', { kind: 'validation', type: 'min_length', message: '…' }) // 'too_short'
 */
export function issueKind(vendor: string, issue: StandardSchemaV1Issue): IssueKind {
  const fields = issue as unknown as Record<string, unknown>;
  switch (vendor) {
    case 'zod':
      return zodKind(fields);
    case 'valibot':
      return valibotKind(fields);
    case 'arktype':
      return arktypeKind(fields);
    case 'json-schema': {
      const { keyword } = fields;
      if (typeof keyword !== 'string') return 'invalid';
      if (keyword === 'format' && fields.format === 'email') return 'email';
      return JSON_SCHEMA_KINDS.get(keyword) ?? 'invalid';
    }
    default:
      return 'invalid';
  }
}

function zodKind(issue: Record<string, unknown>): IssueKind {
  const { code } = issue;
  if (typeof code !== 'string') return 'invalid';
  if (code === 'too_small' || code === 'too_big') {
    const measured = issue.origin ?? issue.type;
    const length = typeof measured === 'string' && MEASURES_LENGTH.has(measured);
    if (code === 'too_small') return length ? 'too_short' : 'too_small';
    return length ? 'too_long' : 'too_big';
  }
  if (code === 'invalid_format' || code === 'invalid_string') {
    return issue.format === 'email' || issue.validation === 'email' ? 'email' : 'format';
  }
  return ZOD_KINDS.get(code) ?? 'invalid';
}

function valibotKind(issue: Record<string, unknown>): IssueKind {
  const { kind, type, path } = issue;
  if (typeof type !== 'string') return 'invalid';
  // The last path item says whether the key itself is the problem (a key not allowed by a
  // strict object, a record key failing its schema) or the value under it.
  const last = Array.isArray(path) ? (path.at(-1) as { origin?: unknown } | undefined) : undefined;
  if (last?.origin === 'key') return type === 'strict_object' ? 'unknown_keys' : 'key';
  if (kind === 'schema') return VALIBOT_SCHEMA_KINDS.get(type) ?? 'type';
  if (kind === 'validation') return VALIBOT_VALIDATION_KINDS.get(type) ?? 'invalid';
  return 'invalid';
}

function arktypeKind(issue: Record<string, unknown>): IssueKind {
  const { code } = issue;
  if (typeof code !== 'string') return 'invalid';
  // ArkType reports an undeclared key under `'+': 'reject'` as a predicate expecting
  // "removed" (it has no code of its own yet: arktypeio/arktype#1403).
  if (code === 'predicate' && issue.expected === 'removed') return 'unknown_keys';
  // A union of literal values is an enum: `'user' | 'admin'`.
  if (code === 'union' && Array.isArray(issue.errors) && issue.errors.length > 0) {
    const units = issue.errors.every((branch) => (branch as { code?: unknown } | null)?.code === 'unit');
    if (units) return 'value';
  }
  return ARKTYPE_KINDS.get(code) ?? 'invalid';
}

/** Inverts a table of kind → the library's names for it into a lookup by name. */
function kindsByName(table: Partial<Record<IssueKind, readonly string[]>>): ReadonlyMap<string, IssueKind> {
  const byName = new Map<string, IssueKind>();
  for (const [kind, names] of Object.entries(table) as [IssueKind, readonly string[]][]) {
    for (const name of names) byName.set(name, kind);
  }
  return byName;
}
