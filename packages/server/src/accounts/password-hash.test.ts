import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createPasswordHasher,
  DEFAULT_ARGON2_PARAMS,
  dummyVerify,
  hashPassword,
  MAX_PASSWORD_BYTES,
  needsRehash,
  parsePasswordHash,
  verifyPassword,
} from './password-hash.ts';

// The argon2 reference implementation's own test vector (phc-winner-argon2 src/test.c):
// argon2id, v=19, m=65536, t=2, p=1, password "password", salt "somesalt".
const REFERENCE_PHC =
  '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';

describe('password hashing (argon2id)', () => {
  test('a hash is a PHC string at the OWASP parameters with a fresh 16-byte salt', async () => {
    const a = await hashPassword('correct horse battery staple');
    const b = await hashPassword('correct horse battery staple');
    assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.notEqual(a, b, 'same password, different salt, different hash');
    assert.equal(parsePasswordHash(a).salt.length, DEFAULT_ARGON2_PARAMS.saltLength);
  });

  test('the right password verifies and a wrong one does not', async () => {
    const phc = await hashPassword('correct horse battery staple');
    assert.equal(await verifyPassword('correct horse battery staple', phc), true);
    assert.equal(await verifyPassword('correct horse battery stapler', phc), false);
    assert.equal(await verifyPassword('', phc), false);
  });

  test('hashes from the reference implementation verify (interop, parameters read from the string)', async () => {
    assert.equal(await verifyPassword('password', REFERENCE_PHC), true);
    assert.equal(await verifyPassword('Password', REFERENCE_PHC), false);
  });

  test('a tampered stored tag does not verify', async () => {
    const phc = await hashPassword('hunter2hunter2');
    const at = phc.length - 10; // inside the tag, away from the final character's unused bits
    const tampered = phc.slice(0, at) + (phc[at] === 'A' ? 'B' : 'A') + phc.slice(at + 1);
    assert.equal(await verifyPassword('hunter2hunter2', tampered), false);
  });

  test('NFKC: composed and decomposed accents, full-width digits are the same password', async () => {
    const phc = await hashPassword('caf\u00e9 \uff11\uff12\uff13');
    assert.equal(await verifyPassword('cafe\u0301 123', phc), true);
  });

  test('a non-string or over-long password never verifies and never throws', async () => {
    const phc = await hashPassword('pw-pw-pw-pw');
    assert.equal(await verifyPassword(undefined as unknown as string, phc), false);
    assert.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_BYTES + 1), phc), false);
    await assert.rejects(hashPassword('x'.repeat(MAX_PASSWORD_BYTES + 1)), TypeError);
  });

  test('a stored hash with absurd parameters is refused before any work (no 4 TiB allocation)', async () => {
    const huge =
      '$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';
    await assert.rejects(verifyPassword('password', huge), { name: 'TypeError', message: /phc\.m/ });
    await assert.rejects(verifyPassword('password', '$2b$10$bcrypt-is-not-argon2'), TypeError);
    await assert.rejects(verifyPassword('password', REFERENCE_PHC.replace('argon2id', 'argon2i')), TypeError);
  });

  test('errors about a stored hash never echo the hash', async () => {
    const phc = '$argon2id$v=19$m=abc$secretsalt$secrettag';
    await assert.rejects(verifyPassword('pw', phc), (error: Error) => !error.message.includes('secret'));
  });

  test('an unknown account costs a verification and never succeeds (dummyVerify)', async () => {
    assert.equal(await dummyVerify('correct horse battery staple'), false);
    assert.equal(await dummyVerify(undefined as unknown as string), false);
  });

  test('needsRehash says yes when the parameters change, no when they match', async () => {
    const phc = await hashPassword('correct horse battery staple');
    assert.equal(needsRehash(phc), false);
    assert.equal(needsRehash(phc, { memory: 47_104, passes: 1 }), true);
    assert.equal(needsRehash(REFERENCE_PHC), true);
    assert.equal(needsRehash('not a hash'), true);
  });

  test('a hasher with stronger parameters writes them into its hashes', async () => {
    const hasher = createPasswordHasher({ memory: 32_768, passes: 3 });
    const phc = await hasher.hash('correct horse battery staple');
    assert.match(phc, /\$m=32768,t=3,p=1\$/);
    assert.equal(hasher.needsRehash(phc), false);
    assert.equal(needsRehash(phc), true);
    assert.equal(await hasher.verify('correct horse battery staple', phc), true);
  });

  test('weak parameters are refused at creation with the field named', () => {
    assert.throws(() => createPasswordHasher({ memory: 1024 }), { name: 'TypeError', message: /^memory:/ });
    assert.throws(() => createPasswordHasher({ passes: 0 }), { name: 'TypeError', message: /^passes:/ });
    assert.throws(() => createPasswordHasher({ saltLength: 8 }), {
      name: 'TypeError',
      message: /^saltLength:/,
    });
    assert.throws(() => createPasswordHasher({ tagLength: 1.5 }), {
      name: 'TypeError',
      message: /^tagLength:/,
    });
  });

  test('hashing runs off the event loop (timers keep firing during a hash)', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      await createPasswordHasher({ memory: 65_536, passes: 3 }).hash('correct horse battery staple');
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks > 0, 'the event loop ran while argon2 worked');
  });
});
