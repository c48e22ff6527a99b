/**
 * Rampart, the library: one security policy for a Node HTTP API, with framework adapters at
 * `rampart/express`, `rampart/fastify` and `rampart/hono`. Explicit named exports only: what
 * is not listed here is not public.
 *
 * @example
 * import { createRampart } from 'rampart';
 * const rampart = createRampart({ jwt: { secret, issuer, audience } });
 */

// API keys ---------------------------------------------------------------------------------------
export type {
  ApiKeyIssuer,
  ApiKeyIssuerOptions,
  ApiKeyRecord,
  ApiKeySettings,
  ApiKeyVerifier,
  ApiKeyVerifierOptions,
  IssuedApiKey,
  KeyDecision,
  KeyHasher,
  KeyHasherOptions,
  MemoryApiKeyStore,
  MemoryApiKeyStoreOptions,
  PublicApiKey,
  VerificationCache,
} from './api-keys/index.ts';
export {
  apiKeyRegex,
  applyCredits,
  createApiKeyIssuer,
  createApiKeyVerifier,
  createKeyHasher,
  createLastUsedBatcher,
  createVerificationCache,
  DEFAULT_API_KEY_PREFIX,
  isWellFormedApiKey,
  memoryApiKeyStore,
  toPublicKey,
} from './api-keys/index.ts';
// Security events --------------------------------------------------------------------------------
export type {
  AuditEvent,
  AuditEventType,
  AuditOutcome,
  AuditPage,
  AuditQuery,
  AuditRecorder,
  AuditRecorderOptions,
  AuditStore,
  SecurityEventInput,
} from './audit/index.ts';
export { createAuditRecorder, memoryAuditStore, scrub } from './audit/index.ts';
// Errors and answers ---------------------------------------------------------------------------
export type { ErrorCode, FieldError, Problem, RampartErrorOptions } from './errors.ts';
export { ERROR_CODES, isErrorCode, problemType, RampartError, toProblem } from './errors.ts';
// HTTP pieces ------------------------------------------------------------------------------------
export type { ClientIpResolver, ClientIpResolverOptions, ForwardingHeader } from './http/client-ip.ts';
export { createClientIpResolver } from './http/client-ip.ts';
export type { Cors, CorsDecision, CorsOptions, CorsRequest } from './http/cors.ts';
export { CORS_DEFAULTS, createCors } from './http/cors.ts';
export { parseJsonBody } from './http/json-body.ts';
export type { HttpAnswer } from './http/problem.ts';
export { CHALLENGE, PROBLEM_CONTENT_TYPE, problemAnswer, REALM, toRampartError } from './http/problem.ts';
export type { RequestTarget } from './http/request-target.ts';
export { parseRequestTarget } from './http/request-target.ts';
export type { SecurityHeadersOptions } from './http/security-headers.ts';
export { SECURITY_HEADERS, securityHeaders } from './http/security-headers.ts';
export type { JsonBodyInput, JsonBodyOptions } from './policy/json-request.ts';
export type { PublicKeySet } from './policy/jwks-ring.ts';
export type { Principal, Requirement } from './policy/principal.ts';
export { isAllowed } from './policy/principal.ts';
// The policy layer (framework-free) ----------------------------------------------------------
export type {
  AcceptedCredential,
  ApiKeyLookup,
  ApiKeySteps,
  ApiKeysOptions,
  Attempt,
  AttemptDecision,
  AttemptsOptions,
  AuthDecision,
  AuthenticateOptions,
  AuthFailureOptions,
  CapabilitiesOf,
  Capability,
  CorsSteps,
  Decision,
  ForwardedDecision,
  ForwardedOptions,
  JsonBodyDecision,
  JwtOptions,
  OptionsWith,
  Rampart,
  RampartCore,
  RampartOptions,
  RampartRateLimitOptions,
  RateLimitRule,
  RateLimitState,
  Refusal,
  RequestView,
  RouteEvent,
  SecurityEvent,
  SigningSteps,
  Step,
  TokenSteps,
  TokenVerifier,
  ValidatedOutput,
  ValidatedParts,
  ValidatePart,
  ValidateSchemas,
  ValidationDecision,
} from './policy/rampart.ts';
export { createRampart, isRampart, RAMPART_DEFAULTS } from './policy/rampart.ts';

// Rate limiting ----------------------------------------------------------------------------------
export type {
  AddressListEntry,
  AddressLists,
  AddressRestriction,
  DynamicAddressEntry,
  FailureNews,
  FailureNewsListener,
  KeyBy,
  MemoryRateLimitStore,
  MemoryRateLimitStoreOptions,
  RateLimiter,
  RateLimiterOptions,
  RateLimitRequest,
  RateLimitResult,
  RateLimitRuleOptions,
  RateLimitStore,
  RedisClientOptions,
  RedisRateLimitStoreOptions,
  RedisScriptClient,
  ResilientStore,
  ResilientStoreOptions,
  StoreErrorPolicy,
} from './rate-limit/index.ts';
export {
  createAddressLists,
  createRateLimiter,
  memoryRateLimitStore,
  rateLimitHeaders,
  redisClientOptions,
  redisRateLimitStore,
  resilientStore,
  routeCosts,
} from './rate-limit/index.ts';
// Tokens -----------------------------------------------------------------------------------------
export type {
  AccessTokenClaims,
  AccessTokenFailure,
  AccessTokenInput,
  AccessTokenIssuer,
  AccessTokenIssuerOptions,
  AccessTokenResult,
  AccessTokenVerifier,
  AccessTokenVerifierOptions,
  ClaimMapping,
  ClaimPath,
  ExternalPrincipal,
  IdentityTokenInput,
  IdentityTokenIssuer,
  IdentityTokenIssuerOptions,
  IssuedAccessToken,
  IssuerAlgorithm,
  IssuerHealth,
  IssuerTokenClaims,
  IssuerTokenFailure,
  IssuerTokenResult,
  IssuerVerifier,
  IssuerVerifierOptions,
  KeyFetchOptions,
  KeyRing,
  KeyRingOptions,
  KeyRingSource,
  PublicJwks,
  SigningAlgorithm,
  SigningKeyRecord,
  TrustedIssuer,
} from './tokens/index.ts';
export {
  ACCESS_TOKEN_TYPE,
  createAccessTokenIssuer,
  createAccessTokenVerifier,
  createIdentityTokenIssuer,
  createIssuerVerifier,
  createKeyRing,
  generateSigningKey,
  hs256SigningKey,
  IDENTITY_TOKEN_TYPE,
  ISSUER_ALGORITHMS,
  SIGNING_ALGORITHMS,
} from './tokens/index.ts';
// Validation -------------------------------------------------------------------------------------
export type {
  CompiledJsonSchema,
  EmailCode,
  EmailOptions,
  JsonSchemaError,
  NameCode,
  NameOptions,
  PasswordCode,
  PasswordOptions,
  RichTextCode,
  RichTextOptions,
  RuleResult,
  RuleSchema,
  RuleValidator,
  StandardSchemaV1,
  StandardSchemaV1InferInput,
  StandardSchemaV1InferOutput,
  StandardSchemaV1Issue,
  StandardSchemaV1Result,
  ValidationResult,
} from './validation/index.ts';
export {
  checkEmail,
  checkName,
  checkPassword,
  checkRichText,
  emailRule,
  emailRuleWith,
  emailSchema,
  jsonSchema,
  nameRule,
  nameRuleWith,
  nameSchema,
  passwordRule,
  passwordSchema,
  richTextRule,
  richTextRuleWith,
  richTextSchema,
  sanitizeRichText,
  standardRule,
  tutorialPasswordPolicy,
  validate,
  validateSync,
} from './validation/index.ts';
