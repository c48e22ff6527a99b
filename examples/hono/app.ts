/**
 * The tutorial's app on Hono with Rampart's middleware: the same policy and answers as the
 * Express example. In your project, import from 'rampart' and 'rampart/hono'.
 */
import { Hono } from 'hono';
import { createHonoRampart, type RampartEnv } from 'rampart/hono';
import { type ExampleOptions, type ExamplePolicy, examplePolicy, userInput } from '../shared/policy.ts';

export interface ExampleApp extends ExamplePolicy {
  app: Hono<RampartEnv>;
}

export function createApp(options: ExampleOptions): ExampleApp {
  const policy = examplePolicy(options);
  const security = createHonoRampart(policy.rampart);
  const app = new Hono<RampartEnv>();

  app.use(security.securityHeaders, security.cors, security.apiLimiter, security.jsonBody);

  app.get('/api/protected', security.authenticateToken, (c) => {
    const { userId, role } = c.get('principal');
    return c.json({ message: 'Access granted', user: { userId, role } });
  });

  app.post('/api/reset-password', security.sensitiveLimiter, (c) => c.json({ status: 'accepted' }, 202));

  app.post('/api/users', security.validateUserInput(userInput), (c) => {
    const { email, name } = c.req.valid('json'); // validated and sanitized; the schema's output type
    return c.json({ email, name }, 201);
  });

  app.get('/api/data', security.validateApiKey('read'), (c) => {
    return c.json({ data: ['alpha', 'beta'], keyId: c.get('principal').keyId });
  });

  app.notFound(security.notFound);
  app.onError(security.errorHandler);
  return { ...policy, app };
}
