import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './app.ts';

/** Registers every API route of API.md. Each feature's routes live in their own module. */
export async function registerRoutes(_app: FastifyInstance, _context: ServerContext): Promise<void> {}
