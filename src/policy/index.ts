export type { Accept, Authenticator, AuthenticatorOptions, AuthFailure, AuthResult } from './authenticate.ts';
export { createAuthenticator } from './authenticate.ts';
export type { Credential, CredentialSource } from './credentials.ts';
export { extractCredential } from './credentials.ts';
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
