import type { FastifyReply, FastifyRequest } from 'fastify';
import { RampartError } from 'rampart/internal/errors.ts';
import type { Accept } from 'rampart/internal/policy/authenticate.ts';
import {
  insufficientScope,
  isAllowed,
  type Principal,
  type Requirement,
} from 'rampart/internal/policy/principal.ts';
import type { StandardSchemaV1 } from 'rampart/internal/validation/standard-schema.ts';
import { validate } from 'rampart/internal/validation/standard-schema.ts';
import type { ServerContext } from './app.ts';
import { eventFor } from './app.ts';
import type { Services } from './services.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate()` on protected routes. */
    principal: Principal | undefined;
  }
}

export interface GuardOptions extends Requirement {
  accept?: Accept;
}

/**
 * A preHandler that runs the policy's authenticate and authorize steps (RFC 6750 answers)
 * and records `authz_fail` on a refusal for lack of scope or role.
 */
export function authenticate(context: Services, options: GuardOptions = {}) {
  const accept = options.accept ?? { bearer: true, apiKey: true };
  const needed = [...(options.scopes ?? []), ...(options.roles ?? []).map((r) => `role:${r}`)];
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const q = request.url.indexOf('?');
    const result = await context.authenticator.authenticate(
      {
        header: (name) => {
          const v = request.headers[name];
          return Array.isArray(v) ? v.join(', ') : v;
        },
        query: q === -1 ? undefined : request.url.slice(q + 1),
      },
      request.clientIp,
      accept,
    );
    if (!result.ok) throw result.error;
    request.principal = result.principal;
    await context.rateLimits.checkIdentity(request, reply, {
      userId: result.principal.userId ?? undefined,
      apiKeyId: result.principal.keyId,
    });
    if (!isAllowed(result.principal, options)) {
      context.audit.record(
        eventFor(request, {
          type: 'authz_fail',
          outcome: 'failure',
          actor: result.principal.userId ?? result.principal.keyId,
          detail: { route: request.routeOptions.url, needed },
        }),
      );
      throw insufficientScope(options.scopes ?? []);
    }
  };
}

/** The principal of an authenticated route (the guard ran). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new RampartError('UNAUTHENTICATED');
  return request.principal;
}

/**
 * A preValidation hook that checks body, query and params against Standard Schemas and
 * replaces them with the parsed output. A failure is 400 VALIDATION_FAILED with the field
 * errors (paths are JSON Pointers; query and params fields are prefixed `/query`, `/params`)
 * and an `input_validation_fail` event (field names and codes only, never values).
 */
export function validateRequest(
  context: ServerContext,
  schemas: { body?: StandardSchemaV1; query?: StandardSchemaV1; params?: StandardSchemaV1 },
) {
  return async (request: FastifyRequest) => {
    const errors = [];
    for (const part of ['params', 'query', 'body'] as const) {
      const schema = schemas[part];
      if (!schema) continue;
      const input = part === 'body' ? (request.body ?? {}) : request[part];
      const result = await validate(schema, input);
      if (result.ok) {
        (request as unknown as Record<string, unknown>)[part] = result.value;
      } else {
        const prefix = part === 'body' ? '' : `/${part}`;
        errors.push(...result.errors.map((e) => ({ ...e, path: prefix + e.path })));
      }
    }
    if (errors.length > 0) {
      context.audit.record(
        eventFor(request, {
          type: 'input_validation_fail',
          outcome: 'failure',
          detail: { route: request.routeOptions.url, fields: errors.map((e) => `${e.path}:${e.code}`) },
        }),
      );
      throw new RampartError('VALIDATION_FAILED', { errors });
    }
  };
}
