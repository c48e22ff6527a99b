/**
 * Every default of the engine, as data, in one place: the library's `createRampart` and the
 * server's configuration both read them from here (the server never writes a default of its
 * own for something the engine decides).
 */
export const RAMPART_DEFAULTS = Object.freeze({
  /** The tutorial's `apiLimiter`: 100 requests per 15 minutes per client address. */
  apiLimiter: Object.freeze({ name: 'api', limit: 100, window: '15m' } as const),
  /** The tutorial's `sensitiveLimiter`: 5 per hour per client address. */
  sensitiveLimiter: Object.freeze({ name: 'sensitive', limit: 5, window: '1h' } as const),
  /** Failed authentications of any kind per client address (invented tokens and keys, wrong passwords). */
  authFailures: Object.freeze({ name: 'auth-failures', limit: 30, window: '15m' } as const),
  /** Failed logins per account (`attempts({ account })`): a password guessed from many addresses. */
  accountFailures: Object.freeze({ limit: 10, window: '15m' } as const),
  /** Password resets per address and per e-mail (API.md: 5 per hour). */
  passwordReset: Object.freeze({ limit: 5, window: '1h' } as const),
  /**
   * The wait for one shared-store answer (loop lag not counted), ms. Generous on purpose: a
   * command that timed out has usually still run on Redis, so deciding it again locally counts
   * it twice; a dead connection is told apart at once (it fails without waiting), and a hung one
   * trips the breaker after `failuresToTrip` such waits.
   */
  storeTimeoutMs: 1_000,
  /** Shared-store failures in a row that mark it down (a dead connection: at once). */
  failuresToTrip: 3,
  /** While a shared store is down, how often one probe checks it, ms. */
  probeIntervalMs: 500,
  /** The IPv6 prefix that forms an `'ip'` rate-limit key. */
  ipv6Prefix: 64,
  /** Lifetime of access tokens the engine issues. */
  accessTtl: '15m',
  /** Verified tokens kept (an LRU keyed on the whole token, never past `exp`). */
  tokenCache: Object.freeze({ max: 10_000 }),
  /** Security headers: HSTS only when the deployment says it is HTTPS. */
  securityHeaders: Object.freeze({ https: false }),
  /** JSON bodies: 100 KiB, 32 levels deep. */
  json: Object.freeze({ limitBytes: 102_400, maxDepth: 32 } as const),
});
