/**
 * Claim mapping, one provider layout at a time. The claim sets are shaped like each provider's
 * documented access tokens (values invented).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { claimAt, claimMappingOption, DEFAULT_CLAIM_MAPPING, mapClaims } from './claims.ts';

const base = { exp: 1_900_000_000, iat: 1_899_999_000 };

describe('claim mapping per provider layout', () => {
  test('Auth0: scope string and RBAC permissions merge; roles from a namespaced claim; org_id is the tenant', () => {
    const claims = {
      ...base,
      iss: 'https://example.eu.auth0.com/',
      sub: 'auth0|65f0c1',
      aud: ['https://api.example.com', 'https://example.eu.auth0.com/userinfo'],
      azp: 'Yq3kCLIENT',
      scope: 'openid profile read:orders',
      permissions: ['read:orders', 'write:orders'],
      'https://example.com/roles': ['support', 'billing'],
      org_id: 'org_9dGk2',
    };
    const principal = mapClaims(claims, { roles: [['https://example.com/roles']] });
    assert.deepEqual(principal, {
      issuer: 'https://example.eu.auth0.com/',
      subject: 'auth0|65f0c1',
      clientId: 'Yq3kCLIENT',
      scopes: ['openid', 'profile', 'read:orders', 'write:orders'],
      roles: ['support', 'billing'],
      tenant: 'org_9dGk2',
    });
    assert.ok(
      Object.isFrozen(principal) && Object.isFrozen(principal.scopes) && Object.isFrozen(principal.roles),
    );
  });

  test('Keycloak: realm roles and one client’s roles; another client’s roles are not taken', () => {
    const claims = {
      ...base,
      iss: 'https://sso.example.com/realms/main',
      sub: 'f3b2a1c0-5d4e-4f3a-9b8c-7d6e5f4a3b2c',
      typ: 'Bearer',
      azp: 'orders-web',
      scope: 'profile email',
      realm_access: { roles: ['default-roles-main', 'user'] },
      resource_access: {
        'orders-api': { roles: ['orders:write'] },
        'admin-console': { roles: ['admin'] },
      },
    };
    const principal = mapClaims(claims, {
      roles: [
        ['realm_access', 'roles'],
        ['resource_access', 'orders-api', 'roles'],
      ],
    });
    assert.deepEqual(principal.roles, ['default-roles-main', 'user', 'orders:write']);
    assert.deepEqual(principal.scopes, ['profile', 'email']);
    assert.equal(principal.clientId, 'orders-web');
    assert.equal(principal.tenant, undefined);
  });

  test('Keycloak organisations: the tenant from a mapper’s nested claim', () => {
    const claims = { ...base, iss: 'i', sub: 's', organization: { acme: { id: 'a1b2' } } };
    assert.equal(mapClaims(claims, { tenant: [['organization', 'acme', 'id']] }).tenant, 'a1b2');
  });

  test('Cognito: cognito:groups are the roles; client_id is the client; no aud needed', () => {
    const claims = {
      ...base,
      iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123',
      sub: '2f1e0d9c-8b7a-4654-3210-fedcba987654',
      client_id: '3n4b5v6c7x8z9a0s1d2f3g4h5j',
      token_use: 'access',
      scope: 'aws.cognito.signin.user.admin orders/read',
      'cognito:groups': ['Admins', 'Support'],
      'custom:tenant_id': 'tenant-42',
      username: 'alice',
    };
    const principal = mapClaims(claims, {
      roles: [['cognito:groups']],
      tenant: [['custom:tenant_id']],
    });
    assert.deepEqual(principal, {
      issuer: claims.iss,
      subject: claims.sub,
      clientId: '3n4b5v6c7x8z9a0s1d2f3g4h5j',
      scopes: ['aws.cognito.signin.user.admin', 'orders/read'],
      roles: ['Admins', 'Support'],
      tenant: 'tenant-42',
    });
  });

  test('Entra ID v2: scp string (delegated) and roles array (app roles); tid is the tenant; azp is the client', () => {
    const delegated = {
      ...base,
      iss: 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
      sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
      oid: '00000000-0000-0000-66f3-3332eca7ea81',
      aud: 'api://orders',
      azp: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
      scp: 'Orders.Read Orders.Write',
      roles: ['Orders.Admin'],
      tid: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      ver: '2.0',
    };
    const principal = mapClaims(delegated);
    assert.deepEqual(principal.scopes, ['Orders.Read', 'Orders.Write']);
    assert.deepEqual(principal.roles, ['Orders.Admin']);
    assert.equal(principal.tenant, '72f988bf-86f1-41af-91ab-2d7cd011db47');
    assert.equal(principal.clientId, '6e74172b-be56-4843-9ff4-e66a39bb12e3');
  });

  test('Entra ID v1: appid is the client when there is no azp', () => {
    const v1 = { ...base, iss: 'https://sts.windows.net/t/', sub: 's', appid: 'c0ffee', roles: ['Reader'] };
    assert.equal(mapClaims(v1).clientId, 'c0ffee');
    assert.deepEqual(mapClaims(v1).roles, ['Reader']);
  });

  test('Okta: scp as an array; groups from a custom claim', () => {
    const claims = {
      ...base,
      iss: 'https://example.okta.com/oauth2/default',
      sub: '00u1ab2cd3',
      cid: '0oa1client',
      scp: ['openid', 'orders.read'],
      groups: ['Everyone', 'Ops'],
    };
    const principal = mapClaims(claims, { roles: [['groups']] });
    assert.deepEqual(principal.scopes, ['openid', 'orders.read']);
    assert.deepEqual(principal.roles, ['Everyone', 'Ops']);
  });

  test('Clerk v2 session token: organisation id and role under "o"', () => {
    const claims = {
      ...base,
      iss: 'https://clerk.example.com',
      sub: 'user_2a',
      o: { id: 'org_2b', rol: 'admin' },
    };
    const principal = mapClaims(claims, { roles: [['o', 'rol']], tenant: [['o', 'id']] });
    assert.deepEqual(principal.roles, ['admin']);
    assert.equal(principal.tenant, 'org_2b');
  });
});

describe('claim mapping gives fewer privileges on odd claims, never more', () => {
  test('wrong types give nothing: roles as an object, scopes as a number, a non-string inside a list', () => {
    const principal = mapClaims({
      iss: 'i',
      sub: 's',
      roles: { admin: true },
      scope: 42,
      scp: ['read', 7, { write: true }, '', 'has space'],
      permissions: 'not-a-list',
      tid: 99,
    });
    // `permissions` as a string is read as space-separated scopes, like `scope`.
    assert.deepEqual(principal.scopes, ['read', 'not-a-list']);
    assert.deepEqual(principal.roles, []);
    assert.equal(principal.tenant, undefined);
  });

  test('scope strings with several spaces, and duplicates across claims, collapse', () => {
    const principal = mapClaims({
      iss: 'i',
      sub: 's',
      scope: ' read  write ',
      scp: ['read'],
      permissions: ['write'],
    });
    assert.deepEqual(principal.scopes, ['read', 'write']);
  });

  test('scope tokens outside RFC 6749 §3.3 characters are dropped', () => {
    const principal = mapClaims({
      iss: 'i',
      sub: 's',
      scp: ['ok', 'quote"d', 'back\\slash', 'tab\tbed', 'é'],
    });
    assert.deepEqual(principal.scopes, ['ok']);
  });

  test('only own members are read: nothing inherited, nothing through __proto__ or constructor', () => {
    const inherited = Object.assign(Object.create({ roles: ['admin'] }), { iss: 'i', sub: 's' });
    assert.deepEqual(mapClaims(inherited).roles, []);
    assert.deepEqual(
      mapClaims({ iss: 'i', sub: 's' }, { roles: [['__proto__'], ['constructor', 'name']] }).roles,
      [],
    );
    assert.equal(claimAt({}, ['toString']), undefined);
    assert.equal(claimAt({ a: [{ b: 1 }] }, ['a', '0', 'b']), undefined, 'arrays are not walked into');
  });

  test('a single role string is one role, not split', () => {
    assert.deepEqual(mapClaims({ iss: 'i', sub: 's', roles: 'org admin' }).roles, ['org admin']);
  });

  test('the tenant is the first configured path holding a string', () => {
    const claims = { iss: 'i', sub: 's', org_id: 'org_1', tid: 'tid_1' };
    assert.equal(mapClaims(claims).tenant, 'org_1');
    assert.equal(mapClaims(claims, { tenant: [['tid'], ['org_id']] }).tenant, 'tid_1');
    assert.equal(mapClaims(claims, { tenant: [] }).tenant, undefined);
  });

  test('the defaults are data and frozen', () => {
    assert.deepEqual(DEFAULT_CLAIM_MAPPING.scopes, [['scope'], ['scp'], ['permissions']]);
    assert.ok(Object.isFrozen(DEFAULT_CLAIM_MAPPING) && Object.isFrozen(DEFAULT_CLAIM_MAPPING.roles));
  });
});

describe('claim mapping options', () => {
  test('a bare string where a path belongs is refused, naming the field', () => {
    assert.throws(() => claimMappingOption({ roles: ['realm_access', 'roles'] }, 'issuers[1].claims'), {
      name: 'TypeError',
      message: /^issuers\[1\]\.claims\.roles\[0\]: expected a claim path/,
    });
    assert.throws(() => claimMappingOption({ roles: 'roles' }, 'c'), /^TypeError: c\.roles: expected a list/);
    assert.throws(
      () => claimMappingOption({ role: [['roles']] }, 'c'),
      /^TypeError: c\.role: unknown option/,
    );
    assert.throws(
      () => claimMappingOption({ tenant: [[]] }, 'c'),
      /^TypeError: c\.tenant\[0\]: expected a claim path/,
    );
    assert.throws(() => claimMappingOption([], 'c'), /^TypeError: c: expected/);
  });

  test('a valid mapping comes back frozen, a copy of what was given', () => {
    const given = { roles: [['realm_access', 'roles']] };
    const mapping = claimMappingOption(given, 'c');
    assert.deepEqual(mapping, given);
    assert.ok(Object.isFrozen(mapping) && Object.isFrozen(mapping.roles![0]));
    assert.notEqual(mapping.roles, given.roles);
  });
});
