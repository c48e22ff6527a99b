import type { FastifyRequest } from 'fastify';
import type { Mailer } from '../accounts/mailer.ts';
import type { Authenticator } from '../policy/authenticate.ts';
import type { RefreshPolicy } from '../tokens/refresh-token.ts';
import type { ServerContext } from './app.ts';
import type { SessionService } from './sessions.ts';
import type { KeyRingHolder } from './signing-keys.ts';

/** Everything the routes use: the shell's context plus the token, key and mail services. */
export interface Services extends ServerContext {
  keyRing: KeyRingHolder;
  sessions: SessionService;
  authenticator: Authenticator;
  refreshPolicy: RefreshPolicy;
  mailer: Mailer;
  /** Told of each failed login (the failed-login limits count them). */
  onLoginFailure?: (request: FastifyRequest, email: string) => void;
}
