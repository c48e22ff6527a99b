/**
 * Tokens: signing keys and the JWKS, access tokens (RFC 9068 profile, RFC 8725 checks),
 * opaque refresh tokens with family rotation, and access tokens from outside identity
 * providers (trusted issuers with remote keys, claim mapping). Framework-free; storage lives
 * elsewhere.
 */
export type {
  AccessTokenClaims,
  AccessTokenFailure,
  AccessTokenInput,
  AccessTokenIssuer,
  AccessTokenIssuerOptions,
  AccessTokenResult,
  AccessTokenVerifier,
  AccessTokenVerifierOptions,
  IssuedAccessToken,
  KeyRingSource,
} from './access-token.ts';
export { ACCESS_TOKEN_TYPE, createAccessTokenIssuer, createAccessTokenVerifier } from './access-token.ts';
export type { ClaimMapping, ClaimPath, ExternalPrincipal } from './claims.ts';
export { claimAt, DEFAULT_CLAIM_MAPPING, mapClaims } from './claims.ts';
export type {
  IdentityTokenInput,
  IdentityTokenIssuer,
  IdentityTokenIssuerOptions,
} from './identity-token.ts';
export { createIdentityTokenIssuer, IDENTITY_TOKEN_TYPE } from './identity-token.ts';
export type {
  IssuerAlgorithm,
  IssuerHealth,
  IssuerTokenClaims,
  IssuerTokenFailure,
  IssuerTokenResult,
  IssuerVerifier,
  IssuerVerifierOptions,
  KeyFetchOptions,
  TrustedIssuer,
} from './issuers.ts';
export { createIssuerVerifier, ISSUER_ALGORITHMS } from './issuers.ts';
export type { KeySetFailure, KeySetHealth } from './key-source.ts';
export type { RefreshDecision, RefreshPolicy, RefreshTokenRecord } from './refresh-token.ts';
export {
  createRefreshToken,
  DEFAULT_REFRESH_POLICY,
  decideRefresh,
  hashRefreshToken,
  isRefreshTokenShape,
  REFRESH_TOKEN_PREFIX,
  refreshPolicy,
  refreshTokenExpiresAt,
  rotateRefreshRecord,
  startRefreshFamily,
} from './refresh-token.ts';
export type {
  AsymmetricAlgorithm,
  KeyRing,
  KeyRingOptions,
  PublicJwks,
  PublishedJwk,
  RingKey,
  RotateOptions,
  SigningAlgorithm,
  SigningKeyRecord,
} from './signing-keys.ts';
export {
  createKeyRing,
  generateSigningKey,
  hs256SigningKey,
  jwkThumbprint,
  MIN_HS256_SECRET_BYTES,
  MIN_RSA_BITS,
  rotateKeyRecords,
  SIGNING_ALGORITHMS,
} from './signing-keys.ts';
