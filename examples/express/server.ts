/**
 * Runs the Express example: `node examples/express/server.ts` (Node 24; `npm run example:express`).
 * PORT (default 3000), HOST (127.0.0.1), JWT_SECRET, API_KEY_PEPPER, CORS_ORIGINS.
 */
import type { AddressInfo } from 'node:net';
import { exampleEnv, printDemo } from '../shared/server-env.ts';
import { createApp } from './app.ts';

const env = exampleEnv();
const example = createApp(env);
const server = example.app.listen(env.port, env.host, () => {
  const { address, port } = server.address() as AddressInfo;
  void printDemo(`http://${address}:${port}`, example);
});
const stop = () => server.close(() => void example.rampart.close());
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
