/**
 * Rate limiting: pure algorithms, stores that run them (memory, Redis), and a framework-free
 * limiter with route rules, failure policies, refusal tracking and the IETF RateLimit headers.
 *
 * The store contract suite (`store-contract.ts`) is not exported here: it imports `node:test`.
 * A custom store's tests import it by path.
 */
export type {
  AddressListEntry,
  AddressLists,
  AddressListsOptions,
  AddressRestriction,
  AddressVerdict,
  DynamicAddressEntry,
} from './address-lists.ts';
export { canonicalCidr, createAddressLists } from './address-lists.ts';
export type {
  Algorithm,
  DecideResult,
  Decision,
  FixedWindowState,
  GcraState,
  RateRule,
  RateState,
  SlidingWindowState,
} from './algorithms.ts';
export {
  ALGORITHMS,
  assertCost,
  decide,
  fixedWindow,
  gcra,
  RATE_RULE_DEFAULTS,
  rateRule,
  slidingWindow,
  toDecision,
} from './algorithms.ts';
export type { PolicyStatus } from './headers.ts';
export {
  formatRateLimit,
  formatRateLimitPolicy,
  rateLimitHeaders,
  retryAfterSeconds,
  sfString,
} from './headers.ts';
export type {
  BlockCheck,
  BlockedStat,
  DecisionSource,
  FailOpenInfo,
  RateLimiter,
  RateLimiterOptions,
  RateLimitResult,
  RefusalInfo,
  RequestSummary,
  Reservation,
  RuleDecision,
} from './limiter.ts';
export { createRateLimiter, isResilientStore } from './limiter.ts';
export type { MemoryRateLimitStore, MemoryRateLimitStoreOptions } from './memory-store.ts';
export { memoryRateLimitStore } from './memory-store.ts';
export type { FailureNews, FailureNewsListener } from './recent-failures.ts';
export type {
  RedisClientOptions,
  RedisClientSettings,
  RedisRateLimitStoreOptions,
  RedisScriptClient,
} from './redis-store.ts';
export { redisClientOptions, redisRateLimitStore } from './redis-store.ts';
export type { GuardedDecision, ResilientStore, ResilientStoreOptions } from './resilient-store.ts';
export { isDeadConnection, resilientStore } from './resilient-store.ts';
export type {
  CompiledRule,
  KeyBy,
  RateLimitRequest,
  RateLimitRuleOptions,
  RuleSet,
  StoreErrorPolicy,
} from './rules.ts';
export { bodyEmailKey, compileRoutes, compileRule, RATE_LIMIT_RULE_DEFAULTS, routeCosts } from './rules.ts';
export type { RateLimitStore } from './store.ts';
