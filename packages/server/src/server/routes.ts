import type { FastifyInstance } from 'fastify';
import { consoleRoutes } from '../console/index.ts';
import { adminRoutes } from './routes/admin.ts';
import { authRoutes } from './routes/auth.ts';
import { docsRoutes } from './routes/docs.ts';
import { homeRoutes } from './routes/home.ts';
import { identityRoutes } from './routes/identities.ts';
import { keyRoutes } from './routes/keys.ts';
import { userRoutes } from './routes/users.ts';
import type { Services } from './services.ts';

/** Registers every API route of API.md. Each feature's routes live in their own module. */
export async function registerRoutes(app: FastifyInstance, services: Services): Promise<void> {
  homeRoutes(app);
  authRoutes(app, services);
  keyRoutes(app, services);
  adminRoutes(app, services);
  consoleRoutes(app, services);
  userRoutes(app, services);
  identityRoutes(app, services);
  docsRoutes(app, services);
}
