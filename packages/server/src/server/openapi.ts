/**
 * The contract as data: every route of `rampart serve` carries its description
 * (`config: routeDoc({...})`) beside the zod schemas its handler validates with, an `onRoute`
 * hook collects them as Fastify registers the routes, and `openApiDocument` turns them into
 * one OpenAPI 3.1 document (`GET /openapi.json`), with the problem+json answers and the two
 * security schemes. The schemas are the same objects the engine validates with
 * (`rampart.validate`), converted by zod 4's `z.toJSONSchema`, so the document cannot say one
 * thing while the route checks another. A route registered without a description is listed
 * by `undocumentedRoutes` (the route-coverage test fails on it).
 */
import type { FastifyInstance } from 'fastify';
import { ERROR_CODES, type ErrorCode } from 'rampart/internal/errors.ts';
import { z } from 'zod';

/** Who may call a route. */
export type RouteAuth = 'none' | 'bearer' | 'any' | 'admin';

export interface ResponseDoc {
  description: string;
  /** The JSON body; omitted for an answer without one (204) or a free-form one. */
  schema?: z.ZodType;
  /** Default `application/json`. */
  contentType?: string;
}

/** What a route says about itself. */
export interface RouteDoc {
  summary: string;
  description?: string;
  tags: readonly string[];
  /** Default `'none'`. */
  auth?: RouteAuth;
  /** Scopes (or the admin role) a credential needs, for the description. */
  scopes?: readonly string[];
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  /** The successful answers by status. */
  responses: Readonly<Record<number, string | ResponseDoc>>;
  /** Error codes the route answers beside the common ones (validation, auth, limits). */
  errors?: readonly ErrorCode[];
  /**
   * Why the route is left out of the document: the console's pages, files and relay are
   * the browser's, not a client's contract (the relay reaches only documented admin routes).
   */
  outsideContract?: string;
}

const DOC = 'rampartDoc';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's description for the OpenAPI document (`routeDoc`). */
    rampartDoc?: RouteDoc;
  }
}

/** Route options' `config` carrying a description: `app.get(url, { config: routeDoc({...}) }, …)`. */
export function routeDoc(doc: RouteDoc): { rampartDoc: RouteDoc } {
  return { [DOC]: doc };
}

interface CollectedRoute {
  method: string;
  url: string;
  doc: RouteDoc | undefined;
}

const collected = new WeakMap<FastifyInstance, CollectedRoute[]>();

/** Starts collecting the routes of `app` (call before any route is added). */
export function collectRoutes(app: FastifyInstance): void {
  const routes: CollectedRoute[] = [];
  collected.set(app, routes);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const doc = (route.config as Record<string, RouteDoc> | undefined)?.[DOC];
    for (const method of methods) {
      // HEAD routes are Fastify's own twins of GET routes (exposeHeadRoutes): the GET says it.
      if (method === 'HEAD') continue;
      routes.push({ method, url: route.url, doc });
    }
  });
}

/** Every route collected so far, `METHOD /path` with Fastify's `:param` syntax. */
export function collectedRoutes(
  app: FastifyInstance,
): Array<{ method: string; url: string; documented: boolean; inContract: boolean }> {
  return (collected.get(app) ?? []).map((r) => ({
    method: r.method,
    url: r.url,
    documented: r.doc !== undefined,
    inContract: r.doc?.outsideContract === undefined,
  }));
}

/** The routes registered without a `routeDoc`. */
export function undocumentedRoutes(app: FastifyInstance): string[] {
  return collectedRoutes(app)
    .filter((r) => !r.documented)
    .map((r) => `${r.method} ${r.url}`);
}

/** `/v1/keys/:id` → `/v1/keys/{id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

const problemRef = { $ref: '#/components/schemas/Problem' };
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemRef } },
});

function parameters(schema: z.ZodType | undefined, where: 'query' | 'path') {
  if (schema === undefined) return [];
  const json = jsonSchema(schema);
  const properties = (json.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      schema: rest,
      ...(typeof description === 'string' ? { description } : {}),
    };
  });
}

function operation(route: CollectedRoute, doc: RouteDoc) {
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(doc.responses)) {
    const r = typeof answer === 'string' ? { description: answer } : answer;
    responses[status] =
      r.schema === undefined && r.contentType === undefined
        ? { description: r.description }
        : {
            description: r.description,
            content: {
              [r.contentType ?? 'application/json']: { schema: r.schema ? jsonSchema(r.schema) : {} },
            },
          };
  }
  const auth = doc.auth ?? 'none';
  const codes = new Set<ErrorCode>(doc.errors ?? []);
  if (doc.body || doc.query || doc.params) codes.add('VALIDATION_FAILED');
  if (doc.body) {
    codes.add('MALFORMED_JSON');
    codes.add('UNSUPPORTED_MEDIA_TYPE');
    codes.add('PAYLOAD_TOO_LARGE');
  }
  if (auth !== 'none') {
    codes.add('UNAUTHENTICATED');
    codes.add('INSUFFICIENT_SCOPE');
  }
  codes.add('RATE_LIMITED');
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[String(status)] ??= problem(`Problem (code ${list.join(', ')})`);
  }
  responses.default = problem('Any other problem (see docs/errors.md for every code)');
  const security =
    auth === 'none' ? [] : auth === 'bearer' ? [{ bearer: [] }] : [{ bearer: [] }, { apiKey: [] }];
  const scopes = doc.scopes?.length ? ` Needs: ${doc.scopes.join(', ')}.` : '';
  return {
    operationId: `${route.method.toLowerCase()}${openApiPath(route.url)
      .replace(/[{}]/g, '')
      .split(/[/.-]/)
      .filter(Boolean)
      .map((p) => p[0]!.toUpperCase() + p.slice(1))
      .join('')}`,
    summary: doc.summary,
    ...(doc.description || scopes ? { description: `${doc.description ?? ''}${scopes}`.trim() } : {}),
    tags: [...doc.tags],
    security,
    parameters: [...parameters(doc.params, 'path'), ...parameters(doc.query, 'query')],
    ...(doc.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(doc.body) } } } }
      : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of every documented route of `app`. */
export function openApiDocument(app: FastifyInstance, info: { version: string; serverUrl?: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of collected.get(app) ?? []) {
    if (route.doc === undefined || route.doc.outsideContract !== undefined) continue;
    const path = openApiPath(route.url);
    paths[path] ??= {};
    paths[path]![route.method.toLowerCase()] = operation(route, route.doc);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Rampart',
      version: info.version,
      description:
        'The HTTP API of `rampart serve`: accounts, tokens, API keys, identities and plans, usage, limits, audit and the admin plane. Every error is `application/problem+json` (RFC 9457) with a stable `code`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token from /v1/auth/login (or an API key as a bearer token).',
        },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'An API key (`rk_live_…`).' },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'code'],
          properties: {
            type: { type: 'string', format: 'uri-reference' },
            title: { type: 'string' },
            status: { type: 'integer' },
            code: { type: 'string', enum: Object.keys(ERROR_CODES) },
            detail: { type: 'string' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                required: ['path', 'code', 'message'],
                properties: {
                  path: { type: 'string' },
                  code: { type: 'string' },
                  message: { type: 'string' },
                },
              },
            },
            requestId: { type: 'string' },
          },
        },
      },
    },
  };
}
