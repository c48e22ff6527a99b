import type { FastifyInstance } from 'fastify';
import { authRoutes } from './routes/auth.ts';
import type { Services } from './services.ts';

/** Registers every API route of API.md. Each feature's routes live in their own module. */
export async function registerRoutes(app: FastifyInstance, services: Services): Promise<void> {
  authRoutes(app, services);
}
