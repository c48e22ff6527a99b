import type { Authenticator } from 'rampart/internal/policy/authenticate.ts';
import type { RefreshPolicy } from 'rampart/internal/tokens/refresh-token.ts';
import type { Mailer } from '../accounts/mailer.ts';
import type { ApiKeyService } from './api-keys.ts';
import type { ServerContext } from './app.ts';
import type { ServerRateLimits } from './rate-limit.ts';
import type { Metrics } from './routes/admin.ts';
import type { SessionService } from './sessions.ts';
import type { KeyRingHolder } from './signing-keys.ts';

/** Everything the routes use: the shell's context plus the token, key and mail services. */
export interface Services extends ServerContext {
  keyRing: KeyRingHolder;
  sessions: SessionService;
  authenticator: Authenticator;
  refreshPolicy: RefreshPolicy;
  mailer: Mailer;
  /** API keys: issue, verify (cached), revoke, rotate, bootstrap admin key. */
  apiKeys: ApiKeyService;
  /** Prometheus metrics (`GET /metrics`); `metrics.rateLimitRefusals` is for the rate limiter. */
  metrics: Metrics;
  /** Rate limits beyond the IP and body hooks: per user/key, failed logins. */
  rateLimits: ServerRateLimits;
}
