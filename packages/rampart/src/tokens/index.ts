/**
 * Tokens: signing keys and the JWKS, access tokens (RFC 9068 profile, RFC 8725 checks) and
 * opaque refresh tokens with family rotation. Framework-free; storage lives elsewhere.
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
