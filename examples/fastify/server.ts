/**
 * Runs the Fastify example: `node examples/fastify/server.ts` (Node 24; `npm run example:fastify`).
 * PORT (default 3000), HOST (127.0.0.1), JWT_SECRET, API_KEY_PEPPER, CORS_ORIGINS.
 */
import { exampleEnv, printDemo } from '../shared/server-env.ts';
import { createApp } from './app.ts';

const env = exampleEnv();
const example = await createApp(env);
const url = await example.app.listen({ port: env.port, host: env.host });
await printDemo(url, example);
const stop = () => void example.app.close();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
