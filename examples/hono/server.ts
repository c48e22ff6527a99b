/**
 * Runs the Hono example on Node: `node examples/hono/server.ts` (Node 24; `npm run example:hono`).
 * PORT (default 3000), HOST (127.0.0.1), JWT_SECRET, API_KEY_PEPPER, CORS_ORIGINS.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { exampleEnv, printDemo } from '../shared/server-env.ts';
import { createApp } from './app.ts';

const env = exampleEnv();
const example = createApp(env);
const server = serve(
  { fetch: example.app.fetch, port: env.port, hostname: env.host },
  (info: AddressInfo) => {
    void printDemo(`http://${info.address}:${info.port}`, example);
  },
);
const stop = () => server.close(() => void example.rampart.close());
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
