/**
 * The tutorial's app on Fastify with Rampart's plugin: the same policy and answers as the
 * Express example. In your project, import from 'rampart' and 'rampart/fastify'.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { createFastifyRampart } from 'rampart/fastify';
import { type ExampleOptions, type ExamplePolicy, examplePolicy, userInput } from '../shared/policy.ts';

export interface ExampleApp extends ExamplePolicy {
  app: FastifyInstance;
}

export async function createApp(options: ExampleOptions): Promise<ExampleApp> {
  const policy = examplePolicy(options);
  const security = createFastifyRampart(policy.rampart, { cors: true });
  const app = Fastify();
  // Security headers, CORS (from the policy's `cors`), JSON bodies, problem+json errors and 404s.
  await app.register(security.plugin);
  app.addHook('onRequest', security.apiLimiter);

  app.get('/api/protected', { preHandler: security.authenticateToken }, async (request) => {
    const { userId, role } = security.principal(request);
    return { message: 'Access granted', user: { userId, role } };
  });

  app.post('/api/reset-password', { preHandler: security.sensitiveLimiter }, async (_request, reply) => {
    return reply.code(202).send({ status: 'accepted' });
  });

  app.post('/api/users', { preHandler: security.validateUserInput(userInput) }, async (request, reply) => {
    const { email, name } = request.body; // validated and sanitized; the schema's output type
    return reply.code(201).send({ email, name });
  });

  app.get('/api/data', { preHandler: security.validateApiKey('read') }, async (request) => {
    return { data: ['alpha', 'beta'], keyId: security.principal(request).keyId };
  });

  app.addHook('onClose', async () => policy.rampart.close());
  return { ...policy, app };
}
