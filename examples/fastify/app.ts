/**
 * The tutorial's app on Fastify with Rampart's plugin: the same policy and answers as the
 * Express example. In your project, import from 'rampart' and 'rampart/fastify'.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { rampartPlugin } from 'rampart/fastify';
import { type ExampleOptions, type ExamplePolicy, examplePolicy, userInput } from '../shared/policy.ts';

export interface ExampleApp extends ExamplePolicy {
  app: FastifyInstance;
}

export async function createApp(options: ExampleOptions): Promise<ExampleApp> {
  const policy = examplePolicy(options);
  const app = Fastify();
  // Security headers, CORS (from the policy's `cors`), JSON bodies, problem+json errors and 404s.
  await app.register(rampartPlugin, { policy: policy.rampart, cors: true });
  app.addHook('onRequest', app.rampart.apiLimiter);

  app.get('/api/protected', { preHandler: app.rampart.authenticateToken }, async (request) => {
    const { userId, role } = request.principal!;
    return { message: 'Access granted', user: { userId, role } };
  });

  app.post('/api/reset-password', { preHandler: app.rampart.sensitiveLimiter }, async (_request, reply) => {
    return reply.code(202).send({ status: 'accepted' });
  });

  app.post('/api/users', { preHandler: app.rampart.validateUserInput(userInput) }, async (request, reply) => {
    const { email, name } = request.body as { email: string; name: string };
    return reply.code(201).send({ email, name });
  });

  app.get('/api/data', { preHandler: app.rampart.validateApiKey('read') }, async (request) => {
    return { data: ['alpha', 'beta'], keyId: request.principal!.keyId };
  });

  app.addHook('onClose', async () => policy.rampart.close());
  return { ...policy, app };
}
