/**
 * API keys: the format (prefix + 256-bit random + CRC32), keyed hashing at rest, records,
 * pure verification decisions, the verification cache and the last-used batcher. No HTTP
 * framework and no driver: routes and stores plug in from outside. See README.md here.
 */
export type { VerificationCache, VerificationCacheOptions, VerificationCacheStats } from './cache.ts';
export { createVerificationCache } from './cache.ts';
export type { ApiKeyParseFailure, GeneratedApiKey, ParseApiKeyOptions, ParsedApiKey } from './format.ts';
export {
  API_KEY_CHECKSUM_LENGTH,
  API_KEY_PREFIX_REGEX,
  API_KEY_RANDOM_LENGTH,
  API_KEY_REGEX,
  apiKeyRegex,
  assertApiKeyPrefix,
  DEFAULT_API_KEY_PREFIX,
  generateApiKey,
  isValidApiKeyPrefix,
  isWellFormedApiKey,
  looksLikeApiKey,
  parseApiKey,
} from './format.ts';
export type { KeyHasher, KeyHasherOptions } from './hashing.ts';
export { createKeyHasher, MIN_PEPPER_BYTES } from './hashing.ts';
export type { LastUsedBatcher, LastUsedBatcherOptions } from './last-used.ts';
export { createLastUsedBatcher } from './last-used.ts';
export type { MemoryApiKeyStore, MemoryApiKeyStoreOptions } from './memory-store.ts';
export { memoryApiKeyStore } from './memory-store.ts';
export type {
  ApiKeyCredits,
  ApiKeyIssuer,
  ApiKeyIssuerOptions,
  ApiKeyRateLimit,
  ApiKeyRecord,
  ApiKeySettings,
  CreditRefill,
  InvalidKeySettings,
  IssuedApiKey,
  PublicApiKey,
  RotateApiKeyOptions,
  RotatedApiKey,
} from './record.ts';
export { checkKeySettings, createApiKeyIssuer, SCOPE_NAME, toPublicKey } from './record.ts';
export type { ApiKeyVerifier, ApiKeyVerifierOptions, VerifyApiKeyOptions } from './verifier.ts';
export { createApiKeyVerifier } from './verifier.ts';
export type {
  CreditsOutcome,
  DecideKeyOptions,
  KeyDecision,
  KeyDenialCode,
  KeyVerificationCode,
  RefusedKey,
  ValidKey,
} from './verify.ts';
export { ADMIN_SCOPE, applyCredits, BUILTIN_SCOPES, decideKey, hasScope, refillCredits } from './verify.ts';
