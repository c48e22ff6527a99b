// The strongest plugin stack users pick today: Fastify with @fastify/jwt and
// @fastify/rate-limit (its Redis store when REDIS_URL is set), plus the same security headers
// Rampart sends, so the comparison is like for like.
import fastifyJwt from '@fastify/jwt';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const app = Fastify({ logger: false });
await app.register(fastifyJwt, { secret: process.env.JWT_SECRET!, verify: { algorithms: ['HS256'] } });
await app.register(fastifyRateLimit, {
  max: Number(process.env.BENCH_LIMIT ?? 100),
  timeWindow: '15 minutes',
  ...(process.env.REDIS_URL ? { redis: new Redis(process.env.REDIS_URL) } : {}),
});
app.addHook('onRequest', async (_request, reply) => {
  reply.headers({
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
});
app.get('/api/protected', { onRequest: [async (request) => request.jwtVerify()] }, async (request) => ({
  message: 'Access granted',
  user: request.user,
}));
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`listening ${(app.server.address() as { port: number }).port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
