export type { Credential, CredentialSource } from './credentials.ts';
export { extractCredential } from './credentials.ts';
export type { JsonBodyInput, JsonBodyOptions, JsonBodyOutcome } from './json-request.ts';
export { JSON_BODY_DEFAULTS, jsonBodyConfig, readJsonBody } from './json-request.ts';
export type { PublicKeySet } from './jwks-ring.ts';
export { verificationRing } from './jwks-ring.ts';
export type { Principal, Requirement } from './principal.ts';
export {
  ADMIN_SCOPE,
  CHALLENGE,
  insufficientScope,
  invalidCredential,
  isAllowed,
  REALM,
  unauthenticated,
} from './principal.ts';
export type {
  AcceptedCredential,
  ApiKeyLookup,
  ApiKeysOptions,
  Attempt,
  AttemptDecision,
  AttemptsOptions,
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
  RateLimitState,
  Refusal,
  RequestView,
  RouteEvent,
  SecurityEvent,
  Step,
  TokenVerifier,
  ValidatedParts,
  ValidateSchemas,
  ValidationDecision,
} from './rampart.ts';
export { createRampart, isRampart, RAMPART_DEFAULTS } from './rampart.ts';
