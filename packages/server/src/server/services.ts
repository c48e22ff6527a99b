import type { AuthenticateOptions } from 'rampart';
import type { RampartHook } from 'rampart/fastify';
import type { AuditRecorder } from 'rampart/internal/audit/index.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { AccountDeps } from '../accounts/accounts.ts';
import type { UserAdminDeps } from '../accounts/admin.ts';
import type { Storage } from '../storage/types.ts';
import type { AddressListService } from './address-lists.ts';
import type { ApiKeyService } from './api-keys/service.ts';
import type { Readiness } from './app.ts';
import type { ServerConfig } from './config.ts';
import type { Metrics } from './metrics.ts';
import type { ServerLimitRules } from './policy.ts';
import type { Retention } from './retention.ts';
import type { SessionService } from './sessions.ts';
import type { KeyRingHolder } from './signing-keys.ts';
import type { UsageRecorder } from './usage.ts';

/** What the routes use: the server's own services. Policy decisions are the engine's (`app.rampart`). */
export interface Services {
  config: ServerConfig;
  storage: Storage;
  now: Clock;
  /** Security events: written in batches off the request path (the engine's `onEvent` sink). */
  audit: AuditRecorder;
  keyRing: KeyRingHolder;
  sessions: SessionService;
  /** API keys: issue, verify (cached), revoke, rotate, bootstrap admin key. */
  apiKeys: ApiKeyService;
  /** The account use-cases' dependencies. */
  accounts: AccountDeps;
  /** Prometheus metrics (`GET /metrics`). */
  metrics: Metrics;
  /** The server's limit rules (the failure budgets of login and password change among them). */
  limits: ServerLimitRules;
  /** Readiness checks (storage; Redis when configured). */
  readiness: Readiness[];
  /** The admin plane's account use-cases' dependencies. */
  userAdmin: UserAdminDeps;
  /** Verification counts, batched off the request path. */
  usage: UsageRecorder;
  /** Usage and audit retention on a timer. */
  retention: Retention;
  /** The stored, shared allow and deny entries (the engine's dynamic address lists). */
  addressLists: AddressListService;
  /**
   * The hooks of a protected route: the engine's authenticate step, then the limits keyed by
   * user or API key (so a refused credential never spends them).
   */
  protect(options?: AuthenticateOptions): RampartHook[];
}
