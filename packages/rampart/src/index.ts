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
  toPublicKey,
} from './api-keys/index.ts';
// Security events --------------------------------------------------------------------------------
export type { AuditRecorder, AuditRecorderOptions, SecurityEventInput } from './audit/index.ts';
export { createAuditRecorder, scrub } from './audit/index.ts';
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
export { PROBLEM_CONTENT_TYPE, problemAnswer, toRampartError } from './http/problem.ts';
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
  ApiKeysOptions,
  AuthDecision,
  AuthenticateOptions,
  AuthFailureOptions,
  Decision,
  ForwardedDecision,
  ForwardedOptions,
  JsonBodyDecision,
  JwtOptions,
  Rampart,
  RampartOptions,
  RampartRateLimitOptions,
  RateLimitRule,
  Refusal,
  RequestView,
  SecurityEvent,
  Step,
  ValidatedParts,
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
  RateLimiter,
  RateLimiterOptions,
  RateLimitResult,
  RateLimitRuleOptions,
  RateLimitStore,
} from './rate-limit/index.ts';
export {
  createAddressLists,
  createRateLimiter,
  memoryRateLimitStore,
  rateLimitHeaders,
  redisClientOptions,
  redisRateLimitStore,
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
  IdentityTokenInput,
  IdentityTokenIssuer,
  IdentityTokenIssuerOptions,
  IssuedAccessToken,
  KeyRing,
  KeyRingOptions,
  KeyRingSource,
  PublicJwks,
  SigningAlgorithm,
  SigningKeyRecord,
} from './tokens/index.ts';
export {
  ACCESS_TOKEN_TYPE,
  createAccessTokenIssuer,
  createAccessTokenVerifier,
  createIdentityTokenIssuer,
  createKeyRing,
  generateSigningKey,
  hs256SigningKey,
  IDENTITY_TOKEN_TYPE,
  SIGNING_ALGORITHMS,
} from './tokens/index.ts';
// Validation -------------------------------------------------------------------------------------
export type {
  CompiledJsonSchema,
  JsonSchemaError,
  PasswordOptions,
  StandardSchemaV1,
  ValidationResult,
} from './validation/index.ts';
export {
  checkEmail,
  checkName,
  checkPassword,
  emailSchema,
  jsonSchema,
  nameSchema,
  passwordSchema,
  richTextSchema,
  sanitizeRichText,
  tutorialPasswordPolicy,
  validate,
  validateSync,
} from './validation/index.ts';
