/**
 * What each example server reads from the environment. Without JWT_SECRET or API_KEY_PEPPER,
 * a random one is made for this run (tokens and keys then die with the process), which is
 * right for a demo and wrong for production.
 */
import { randomBytes } from 'node:crypto';
import type { ExampleOptions } from './policy.ts';

export function exampleEnv(
  env: NodeJS.ProcessEnv = process.env,
): ExampleOptions & { port: number; host: string } {
  return {
    jwtSecret: env.JWT_SECRET ?? randomBytes(32).toString('base64url'),
    pepper: env.API_KEY_PEPPER ? Buffer.from(env.API_KEY_PEPPER, 'base64url') : randomBytes(32),
    ...(env.CORS_ORIGINS ? { corsOrigins: env.CORS_ORIGINS.split(',') } : {}),
    port: env.PORT === undefined ? 3000 : Number(env.PORT),
    host: env.HOST ?? '127.0.0.1',
  };
}

/** Prints how to try the running example: a demo token and key, for this process only. */
export async function printDemo(
  url: string,
  demo: {
    generateToken(user: { id: string; role: 'user' | 'admin' }): Promise<string>;
    keys: { generateKey(p: string[]): string };
  },
): Promise<void> {
  const token = await demo.generateToken({ id: '123', role: 'admin' });
  const key = demo.keys.generateKey(['read', 'write']);
  // One line the tests (and you) can read: where it listens, and credentials to try.
  console.log(JSON.stringify({ listening: url, demoToken: token, demoApiKey: key }));
  console.error(
    `Listening on ${url}\n  curl -H "Authorization: Bearer ${token}" ${url}/api/protected\n  curl -H "x-api-key: ${key}" ${url}/api/data`,
  );
}
