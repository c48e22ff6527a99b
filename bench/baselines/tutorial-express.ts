// The tutorial's stack as it wrote it: Express, jsonwebtoken (HS256) and express-rate-limit,
// with rate-limit-redis when REDIS_URL is set. Only the limit is raised (BENCH_LIMIT) so the
// limiter runs on every request without refusing the load.
import express from 'express';
import rateLimit from 'express-rate-limit';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { RedisStore } from 'rate-limit-redis';

const app = express();
const JWT_SECRET = process.env.JWT_SECRET!;
const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;

const apiLimiter = rateLimit({
  windowMs: 15 * 60 * 1000,
  max: Number(process.env.BENCH_LIMIT ?? 100),
  message: 'Too many requests from this IP, please try again later',
  ...(redis
    ? {
        store: new RedisStore({
          sendCommand: (...args: string[]) => redis.call(args[0]!, ...args.slice(1)) as never,
        }),
      }
    : {}),
});
app.use(apiLimiter);

function authenticateToken(req: express.Request, res: express.Response, next: express.NextFunction) {
  const authHeader = req.headers.authorization;
  const token = authHeader?.split(' ')[1];
  if (!token) {
    res.status(401).json({ error: 'No token provided' });
    return;
  }
  jwt.verify(token, JWT_SECRET, (err, user) => {
    if (err) {
      res.status(403).json({ error: 'Invalid token' });
      return;
    }
    (req as unknown as { user: unknown }).user = user;
    next();
  });
}

app.get('/api/protected', authenticateToken, (req, res) => {
  res.json({ message: 'Access granted', user: (req as unknown as { user: unknown }).user });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as { port: number }).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
