/**
 * Body schemas of gateway routes: JSON Schema (draft 2020-12) compiled with Ajv, the most
 * used JSON Schema validator for Node, in strict mode (an unknown keyword or a misspelt one is
 * a configuration error at start, never a silently ignored rule), and handed to the engine's
 * validation step as a Standard Schema (`jsonSchema` of the library), which words the errors.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { type CompiledJsonSchema, jsonSchema, type StandardSchemaV1 } from 'rampart';

let ajv: Ajv2020 | undefined;

function instance(): Ajv2020 {
  if (ajv === undefined) {
    // allErrors: every field problem in one answer, as the server's own routes report them.
    // No coercion, no defaults written in, no properties removed: the body is checked, not changed.
    ajv = new Ajv2020({ allErrors: true, strict: true, coerceTypes: false, useDefaults: false });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  }
  return ajv;
}

/** Compiles a route's body schema. @throws Error with Ajv's reason when the schema is invalid. */
export function compileBodySchema(schema: Record<string, unknown>): StandardSchemaV1 {
  return jsonSchema(instance().compile(schema) as unknown as CompiledJsonSchema);
}
