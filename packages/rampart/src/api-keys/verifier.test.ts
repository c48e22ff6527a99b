import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createVerificationCache } from './cache.ts';
import { generateApiKey } from './format.ts';
import { createKeyHasher, type KeyHasher } from './hashing.ts';
import { type ApiKeyRecord, type ApiKeySettings, createApiKeyIssuer } from './record.ts';
import { type ApiKeyVerifierOptions, createApiKeyVerifier } from './verifier.ts';
import { applyCredits } from './verify.ts';

const T0 = 1_700_000_000_000;
const v1 = randomBytes(32);

/** A Map-backed key store, counting its lookups. */
function memoryStore() {
  const byHash = new Map<string, ApiKeyRecord>();
  const store = {
    lookups: 0,
    put(record: ApiKeyRecord) {
      for (const [hash, r] of byHash) if (r.id === record.id) byHash.delete(hash);
      byHash.set(record.hash, record);
    },
    findByHash(hashes: readonly string[]) {
      store.lookups++;
      for (const hash of hashes) {
        const found = byHash.get(hash);
        if (found) return found;
      }
      return undefined;
    },
  };
  return store;
}

function setup(options: Partial<ApiKeyVerifierOptions> & { hasher?: KeyHasher } = {}) {
  const clock = { t: T0 };
  const hasher = options.hasher ?? createKeyHasher({ peppers: { v1 }, current: 'v1' });
  const store = memoryStore();
  const issuer = createApiKeyIssuer({ hasher, now: () => clock.t });
  const touched: string[] = [];
  const verifier = createApiKeyVerifier({
    hasher,
    findByHash: store.findByHash,
    lastUsed: { touch: (id) => touched.push(id) },
    now: () => clock.t,
    ...options,
  });
  const issue = (settings: ApiKeySettings) => {
    const made = issuer.issue(settings);
    assert.ok(made.ok);
    store.put(made.record);
    return made;
  };
  return { clock, hasher, store, issuer, verifier, touched, issue };
}

describe('api key verifier', () => {
  test('a valid key with the needed scope is VALID and its use is noted', async () => {
    const { verifier, issue, touched } = setup();
    const { key, record } = issue({ name: 'ci', ownerId: 'usr_1', scopes: ['keys:verify'] });
    assert.deepEqual(await verifier.verify(key, { scope: 'keys:verify' }), {
      valid: true,
      code: 'VALID',
      keyId: record.id,
      ownerId: 'usr_1',
      scopes: ['keys:verify'],
      expiresAt: null,
    });
    assert.deepEqual(touched, [record.id]);
    assert.equal((await verifier.verify(key, { scope: 'keys:write' })).code, 'INSUFFICIENT_SCOPE');
    assert.deepEqual(touched, [record.id], 'a refused use is not noted');
  });

  test('mistyped, invented and foreign-prefix keys are refused before any store lookup', async () => {
    const { verifier, issue, store } = setup();
    const { key } = issue({ name: 'ci' });
    const typo = key.slice(0, 20) + (key[20] === 'a' ? 'b' : 'a') + key.slice(21);
    const cases: Array<[unknown, string]> = [
      [typo, 'CHECKSUM'],
      [`rk_live_${'A'.repeat(49)}`, 'CHECKSUM'],
      [generateApiKey('rk_test_').key, 'PREFIX'],
      ['not a key', 'FORMAT'],
      [undefined, 'FORMAT'],
    ];
    for (const [text, reason] of cases) {
      assert.deepEqual(await verifier.verify(text), { valid: false, code: 'NOT_FOUND', reason });
    }
    assert.equal(store.lookups, 0);
  });

  test('a key refused by parsing still pays one HMAC (uniform timing) unless that is turned off', async () => {
    const real = createKeyHasher({ peppers: { v1 }, current: 'v1' });
    let hashed = 0;
    const counting: KeyHasher = {
      ...real,
      hash(key) {
        hashed++;
        return real.hash(key);
      },
    };
    const findByHash = () => undefined;
    await createApiKeyVerifier({ hasher: counting, findByHash }).verify('rk_live_typo');
    assert.equal(hashed, 1);
    await createApiKeyVerifier({ hasher: counting, findByHash, uniformTiming: false }).verify('rk_live_typo');
    assert.equal(hashed, 1);
  });

  test('a well-formed unknown key is NOT_FOUND after one lookup, then answered from the cache', async () => {
    const { verifier, store } = setup({ cache: createVerificationCache({ now: () => T0 }) });
    const unknown = generateApiKey().key;
    assert.deepEqual(await verifier.verify(unknown), { valid: false, code: 'NOT_FOUND' });
    assert.deepEqual(await verifier.verify(unknown), { valid: false, code: 'NOT_FOUND' });
    assert.equal(store.lookups, 1);
  });

  test('revocation takes effect at once on this instance despite the cache', async () => {
    const cache = createVerificationCache({ now: () => T0 });
    const { verifier, issue, store, clock } = setup({ cache });
    const { key, record } = issue({ name: 'ci' });
    assert.equal((await verifier.verify(key)).code, 'VALID');
    assert.equal((await verifier.verify(key)).code, 'VALID');
    assert.equal(store.lookups, 1, 'the second verification was a cache hit');
    store.put({ ...record, revokedAt: clock.t });
    cache.invalidate(record.id);
    assert.deepEqual(await verifier.verify(key), { valid: false, code: 'REVOKED', keyId: record.id });
  });

  test('a disabled key is DISABLED, spends no credit, and the same secret works again once enabled', async () => {
    let spent = 0;
    const { verifier, issue, store } = setup({
      consumeCredits: () => {
        spent++;
        return { allowed: true, remaining: 9 };
      },
    });
    const { key, record } = issue({ name: 'ci', credits: { remaining: 10 } });
    store.put({ ...record, disabledAt: T0 });
    assert.deepEqual(await verifier.verify(key), { valid: false, code: 'DISABLED', keyId: record.id });
    assert.equal(spent, 0);
    store.put({ ...record, disabledAt: null });
    assert.equal((await verifier.verify(key)).code, 'VALID');
    assert.equal(spent, 1);
  });

  test('a cached key still expires on time', async () => {
    const clock = { t: T0 };
    const cache = createVerificationCache({ ttlMs: 60_000, now: () => clock.t });
    const ctx = setup({ cache, now: () => clock.t });
    const { key } = ctx.issue({ name: 'ci', expiresAt: T0 + 1_000 });
    assert.equal((await ctx.verifier.verify(key)).code, 'VALID');
    clock.t = T0 + 1_000;
    assert.equal((await ctx.verifier.verify(key)).code, 'EXPIRED');
  });

  test('a row the store returns is trusted only if its hash matches the key', async () => {
    const hasher = createKeyHasher({ peppers: { v1 }, current: 'v1' });
    const other = createApiKeyIssuer({ hasher }).issue({ name: 'other' });
    assert.ok(other.ok);
    // A store that matches loosely (a bad collation, a prefix index) returns someone else's row.
    const verifier = createApiKeyVerifier({ hasher, findByHash: () => other.record });
    assert.deepEqual(await verifier.verify(generateApiKey().key), { valid: false, code: 'NOT_FOUND' });
  });

  test('after a pepper rotation, keys hashed under the old pepper still verify', async () => {
    const before = createKeyHasher({ peppers: { v1 }, current: 'v1' });
    const ctx = setup({ hasher: before });
    const { key } = ctx.issue({ name: 'old' });
    const after = createKeyHasher({ peppers: { v1, v2: randomBytes(32) }, current: 'v2' });
    const verifier = createApiKeyVerifier({ hasher: after, findByHash: ctx.store.findByHash });
    assert.equal((await verifier.verify(key)).code, 'VALID');
  });

  test('imported tutorial keys verify only with acceptLegacyKeys and a legacySha256 hasher', async () => {
    const hasher = createKeyHasher({ peppers: { v1 }, current: 'v1', legacySha256: true });
    const tutorialKey = randomBytes(32).toString('hex');
    const record = {
      ...(
        createApiKeyIssuer({ hasher }).issue({ name: 'imported', scopes: ['read'] }) as {
          record: ApiKeyRecord;
        }
      ).record,
      hash: `sha256:${createHash('sha256').update(tutorialKey).digest('hex')}`,
      prefix: '',
    };
    const store = memoryStore();
    store.put(record);
    const legacy = createApiKeyVerifier({ hasher, findByHash: store.findByHash, acceptLegacyKeys: true });
    assert.equal((await legacy.verify(tutorialKey, { scope: 'read' })).code, 'VALID');
    const strict = createApiKeyVerifier({ hasher, findByHash: store.findByHash });
    assert.deepEqual(await strict.verify(tutorialKey), { valid: false, code: 'NOT_FOUND', reason: 'FORMAT' });
    assert.throws(
      () =>
        createApiKeyVerifier({
          hasher: createKeyHasher({ peppers: { v1 }, current: 'v1' }),
          findByHash: store.findByHash,
          acceptLegacyKeys: true,
        }),
      { name: 'TypeError', message: /^acceptLegacyKeys: / },
    );
  });

  test('credits are spent through the store and run out as USAGE_EXCEEDED', async () => {
    const credits = new Map<string, ApiKeyRecord['credits']>();
    const ctx = setup({
      consumeCredits: (record, cost, now) => {
        const out = applyCredits(credits.get(record.id) ?? record.credits, now, cost);
        credits.set(record.id, out.credits);
        return { allowed: out.allowed, remaining: out.credits?.remaining ?? 0 };
      },
    });
    const { key, record } = ctx.issue({ name: 'metered', credits: { remaining: 2 } });
    const remaining = async () => {
      const decision = await ctx.verifier.verify(key);
      return decision.valid ? decision.remaining : decision.code;
    };
    assert.equal(await remaining(), 1);
    assert.equal(await remaining(), 0);
    assert.deepEqual(await ctx.verifier.verify(key), {
      valid: false,
      code: 'USAGE_EXCEEDED',
      keyId: record.id,
    });
    assert.equal((await ctx.verifier.verify(key, { scope: 'nope' })).code, 'INSUFFICIENT_SCOPE');
  });

  test('a refused scope spends no credit and no rate-limit slot', async () => {
    let limited = 0;
    let spent = 0;
    const ctx = setup({
      checkRateLimit: () => ({ allowed: ++limited > 0 }),
      consumeCredits: () => ({ allowed: ++spent > 0 }),
    });
    const { key } = ctx.issue({
      name: 'ci',
      credits: { remaining: 5 },
      rateLimit: { limit: 1, windowMs: 1_000 },
    });
    assert.equal((await ctx.verifier.verify(key, { scope: 'admin' })).code, 'INSUFFICIENT_SCOPE');
    assert.deepEqual([limited, spent], [0, 0]);
  });

  test('a per-key rate limit answers RATE_LIMITED with the wait, before credits are spent', async () => {
    let spent = 0;
    const ctx = setup({
      checkRateLimit: () => ({ allowed: false, retryAfterMs: 750 }),
      consumeCredits: () => ({ allowed: ++spent > 0 }),
    });
    const { key, record } = ctx.issue({
      name: 'ci',
      credits: { remaining: 5 },
      rateLimit: { limit: 1, windowMs: 1_000 },
    });
    assert.deepEqual(await ctx.verifier.verify(key), {
      valid: false,
      code: 'RATE_LIMITED',
      keyId: record.id,
      retryAfterMs: 750,
    });
    assert.equal(spent, 0);
  });

  test('a limit or credits the verifier cannot enforce refuse the key rather than being skipped', async () => {
    const ctx = setup();
    const limited = ctx.issue({ name: 'limited', rateLimit: { limit: 1, windowMs: 1_000 } });
    const metered = ctx.issue({ name: 'metered', credits: { remaining: 5 } });
    assert.equal((await ctx.verifier.verify(limited.key)).code, 'RATE_LIMITED');
    assert.equal((await ctx.verifier.verify(metered.key)).code, 'USAGE_EXCEEDED');
  });

  test('bad options are refused at creation with a TypeError naming the field', () => {
    const hasher = createKeyHasher({ peppers: { v1 }, current: 'v1' });
    const findByHash = () => undefined;
    assert.throws(() => createApiKeyVerifier({ hasher, findByHash, prefixes: ['Live'] }), {
      message: /^prefixes\[0\]: /,
    });
    assert.throws(() => createApiKeyVerifier({ hasher, findByHash, prefixes: [] }), {
      message: /^prefixes: /,
    });
    assert.throws(() => createApiKeyVerifier({ hasher } as never), {
      message: /^findByHash: /,
    });
  });
});

describe('api key verifier: keys of an identity', () => {
  test("a key without credits of its own still spends its identity's shared credits", async () => {
    let identityCredits = 2;
    const spent: string[] = [];
    const { verifier, issue } = setup({
      consumeCredits: (record) => {
        spent.push(record.id);
        if (identityCredits <= 0) return { allowed: false };
        identityCredits--;
        return { allowed: true };
      },
      checkRateLimit: () => ({ allowed: true }),
    });
    const { key, record } = issue({ name: 'tenant', ownerId: null, scopes: [], identityId: 'idt_1' });
    assert.equal(record.credits, null);
    assert.equal((await verifier.verify(key)).valid, true);
    assert.equal((await verifier.verify(key)).valid, true);
    assert.deepEqual(await verifier.verify(key), { valid: false, code: 'USAGE_EXCEEDED', keyId: record.id });
    assert.equal(spent.length, 3, 'every use reached the identity');
  });

  test("the identity's shared limits refuse a key without a limit of its own, and name themselves", async () => {
    let left = 1;
    const status = (remaining: number) => [
      { name: 'identity-minute', limit: 1, windowMs: 60_000, remaining, resetAt: T0 + 60_000 },
    ];
    const { verifier, issue } = setup({
      checkRateLimit: () =>
        left-- > 0
          ? { allowed: true, limits: status(0) }
          : { allowed: false, retryAfterMs: 60_000, limits: status(0) },
    });
    const { key, record } = issue({ name: 'tenant', ownerId: null, scopes: [], identityId: 'idt_1' });
    const first = await verifier.verify(key);
    assert.equal(first.valid, true);
    assert.deepEqual(first.valid && first.limits, status(0));
    const second = await verifier.verify(key);
    assert.equal(second.code, 'RATE_LIMITED');
    assert.equal(!second.valid && second.keyId, record.id);
  });
});
