/**
 * The tutorial's Express app, on Rampart. Compared with the tutorial: an invalid token is 401
 * (RFC 6750), not 403; a key without the permission is 403, not 401; every error is
 * problem+json; limits send the IETF RateLimit headers; and nothing leaks in an error.
 *
 * In your project, import from 'rampart' and 'rampart/express'.
 */
import express, { type Express } from 'express';
import { createExpressRampart } from 'rampart/express';
import { type ExampleOptions, type ExamplePolicy, examplePolicy, userInput } from '../shared/policy.ts';

export interface ExampleApp extends ExamplePolicy {
  app: Express;
}

export function createApp(options: ExampleOptions): ExampleApp {
  const policy = examplePolicy(options);
  const security = createExpressRampart(policy.rampart);
  const app = express();
  app.disable('x-powered-by');

  // Every response: security headers, CORS, the API limit (app.use(apiLimiter) in the tutorial).
  app.use(security.securityHeaders, security.cors, security.apiLimiter, security.jsonBody);

  app.get('/api/protected', security.authenticateToken, (req, res) => {
    const { userId, role } = security.principal(req);
    res.json({ message: 'Access granted', user: { userId, role } });
  });

  app.post('/api/reset-password', security.sensitiveLimiter, (_req, res) => {
    // Password reset logic: always 202, so the answer never tells whether the account exists.
    res.status(202).json({ status: 'accepted' });
  });

  app.post('/api/users', security.validateUserInput(userInput), (req, res) => {
    const { email, name } = req.body; // validated and sanitized; create the user here
    res.status(201).json({ email, name });
  });

  app.get('/api/data', security.validateApiKey('read'), (req, res) => {
    res.json({ data: ['alpha', 'beta'], keyId: security.principal(req).keyId });
  });

  app.use(security.notFound, security.errorHandler);
  return { ...policy, app };
}
