/**
 * The tutorial's security policy, once, for the Express, Fastify and Hono examples: JWT
 * (HS256 as in the tutorial, with a pinned issuer and audience), API keys with permissions,
 * 100 requests per 15 minutes per client and 5 per hour on password reset, the tutorial's
 * input rules, exact-origin CORS, security headers and a security-event log.
 */

import type { Rampart, SecurityEvent } from 'rampart';
import { createRampart, emailSchema, nameSchema, passwordSchema, tutorialPasswordPolicy } from 'rampart';
import * as z from 'zod';
import { createKeyRegistry, type KeyRegistry } from './key-registry.ts';

/** The tutorial's `validateUserInput`: email, a password of its composition rule, a 2–50 character name, sanitized. */
export const userInput = z.object({
  email: emailSchema,
  password: passwordSchema(tutorialPasswordPolicy),
  name: nameSchema,
});

export interface ExampleOptions {
  /** The HS256 secret, at least 32 bytes (the tutorial's `JWT_SECRET`). */
  jwtSecret: string;
  /** The API-key pepper, at least 32 bytes. */
  pepper: Uint8Array;
  /** Origins allowed to read responses from a browser. */
  corsOrigins?: string[];
  now?: () => number;
  onEvent?: (event: SecurityEvent) => void;
  onError?: (error: unknown) => void;
}

export interface ExamplePolicy {
  rampart: Rampart;
  keys: KeyRegistry;
  /** The tutorial's `generateToken(user)`. */
  generateToken(user: { id: string; role: 'user' | 'admin' }): Promise<string>;
}

export const ISSUER = 'https://api.example.com';

export function examplePolicy(options: ExampleOptions): ExamplePolicy {
  const now = options.now ?? Date.now;
  const keys = createKeyRegistry({ pepper: options.pepper, now });
  const rampart = createRampart({
    jwt: { secret: options.jwtSecret, issuer: ISSUER, audience: ISSUER, accessTtl: '1h' },
    apiKeys: { store: keys.store, hasher: keys.hasher },
    cors: { origins: options.corsOrigins ?? ['https://app.example.com'], credentials: true },
    onEvent: options.onEvent ?? ((event) => console.log(JSON.stringify({ securityEvent: event }))),
    ...(options.onError ? { onError: options.onError } : {}),
    now,
  });
  return {
    rampart,
    keys,
    generateToken: async (user) => (await rampart.issueAccessToken({ sub: user.id, role: user.role })).token,
  };
}
