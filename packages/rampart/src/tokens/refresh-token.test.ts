import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sha256 } from '../lib/secret.ts';
import {
  createRefreshToken,
  DEFAULT_REFRESH_POLICY,
  decideRefresh,
  hashRefreshToken,
  isRefreshTokenShape,
  type RefreshTokenRecord,
  refreshPolicy,
  refreshTokenExpiresAt,
  rotateRefreshRecord,
  startRefreshFamily,
} from './refresh-token.ts';

const T0 = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;
const policy = refreshPolicy({ idleTtlMs: 7 * DAY, absoluteTtlMs: 30 * DAY });
const withGrace = refreshPolicy({ idleTtlMs: 7 * DAY, absoluteTtlMs: 30 * DAY, graceMs: 10_000 });

describe('refresh tokens: format', () => {
  test('a refresh token is rt_ + 43 base62 characters (256 bits) and only its SHA-256 is kept', () => {
    const { token, tokenHash } = createRefreshToken();
    assert.match(token, /^rt_[0-9A-Za-z]{43}$/);
    assert.equal(tokenHash, sha256(token));
    assert.equal(hashRefreshToken(token), tokenHash);
    assert.ok(!tokenHash.includes(token.slice(3)));
    assert.equal(isRefreshTokenShape(token), true);
  });

  test('tokens do not repeat', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => createRefreshToken().token));
    assert.equal(seen.size, 1000);
  });

  test('an access token, an API key or junk is not refresh-token shaped', () => {
    for (const value of [
      'eyJhbGciOiJFZERTQSJ9.e30.sig',
      'rt_short',
      `rt_${'a'.repeat(43)}x`,
      `RT_${'a'.repeat(43)}`,
      42,
    ]) {
      assert.equal(isRefreshTokenShape(value), false);
    }
  });

  test('a new family starts with one record, no secret stored', () => {
    const { token, record } = startRefreshFamily({ userId: 'usr_1', now: T0 });
    assert.match(record.familyId, /^fam_[0-9A-Za-z]{22}$/);
    assert.equal(record.tokenHash, hashRefreshToken(token));
    assert.equal(record.createdAt, T0);
    assert.equal(record.familyCreatedAt, T0);
    assert.ok(!JSON.stringify(record).includes(token));
  });
});

describe('refresh tokens: family decisions', () => {
  const fresh = (): RefreshTokenRecord => startRefreshFamily({ userId: 'usr_1', now: T0 }).record;

  test('a live unused token rotates, and its successor stays in the family', () => {
    const record = fresh();
    assert.equal(decideRefresh(record, T0 + DAY, policy), 'ROTATE');
    const next = rotateRefreshRecord(record, T0 + DAY);
    assert.equal(next.record.familyId, record.familyId);
    assert.equal(next.record.familyCreatedAt, T0);
    assert.equal(next.record.createdAt, T0 + DAY);
    assert.equal(next.parent.usedAt, T0 + DAY);
    assert.equal(next.parent.replacedBy, next.record.tokenHash);
    assert.equal(record.usedAt, undefined, 'pure: the input is not changed');
    assert.equal(decideRefresh(next.record, T0 + DAY, policy), 'ROTATE');
  });

  test('refresh token reuse (a used token presented again) revokes the family', () => {
    const { parent } = rotateRefreshRecord(fresh(), T0 + 1000);
    assert.equal(decideRefresh(parent, T0 + 2000, policy), 'REUSE_DETECTED');
    assert.equal(decideRefresh(parent, T0 + 6 * DAY, policy), 'REUSE_DETECTED');
  });

  test('reuse is detected even after the used token would have idled out (its successor may be alive)', () => {
    const { parent } = rotateRefreshRecord(fresh(), T0 + 1000);
    assert.equal(decideRefresh(parent, T0 + 8 * DAY, policy), 'REUSE_DETECTED');
  });

  test('a token idle longer than idleTtl expires', () => {
    assert.equal(decideRefresh(fresh(), T0 + 7 * DAY - 1, policy), 'ROTATE');
    assert.equal(decideRefresh(fresh(), T0 + 7 * DAY, policy), 'EXPIRED');
  });

  test('an active family still dies at its absolute lifetime', () => {
    let record = fresh();
    for (let day = 6; day < 30; day += 6) record = rotateRefreshRecord(record, T0 + day * DAY).record;
    assert.equal(decideRefresh(record, T0 + 30 * DAY - 1, policy), 'ROTATE');
    assert.equal(decideRefresh(record, T0 + 30 * DAY, policy), 'EXPIRED');
    assert.equal(refreshTokenExpiresAt(record, policy), T0 + 30 * DAY);
  });

  test('a revoked family refuses every token of it', () => {
    assert.equal(decideRefresh({ ...fresh(), revokedAt: T0 + 1 }, T0 + 2, policy), 'REVOKED');
    const { parent } = rotateRefreshRecord(fresh(), T0 + 1);
    assert.equal(decideRefresh({ ...parent, revokedAt: T0 + 2 }, T0 + 3, withGrace), 'REVOKED');
  });

  test('an unknown token is unknown', () => {
    assert.equal(decideRefresh(undefined, T0, policy), 'UNKNOWN');
  });

  test('grace is off by default: an immediate retry of a used token is reuse', () => {
    assert.equal(DEFAULT_REFRESH_POLICY.graceMs, 0);
    const { parent } = rotateRefreshRecord(fresh(), T0);
    assert.equal(decideRefresh(parent, T0, refreshPolicy()), 'REUSE_DETECTED');
  });

  test('with a grace window, a retry that lost its response is replayed, not punished', () => {
    const { parent, record: child } = rotateRefreshRecord(fresh(), T0);
    assert.equal(decideRefresh(parent, T0 + 10_000, withGrace, child), 'GRACE_REPLAY');
    assert.equal(decideRefresh(parent, T0 + 10_001, withGrace, child), 'REUSE_DETECTED');
  });

  test('a replay inside the grace window is still theft once the successor was used', () => {
    const first = rotateRefreshRecord(fresh(), T0);
    const second = rotateRefreshRecord(first.record, T0 + 1000);
    assert.equal(decideRefresh(first.parent, T0 + 2000, withGrace, second.parent), 'REUSE_DETECTED');
  });

  test('a corrupt policy or record fails closed (NaN never means "valid forever")', () => {
    const broken = { idleTtlMs: Number.NaN, absoluteTtlMs: Number.NaN, graceMs: Number.NaN };
    assert.equal(decideRefresh(fresh(), T0, broken), 'EXPIRED');
    assert.equal(decideRefresh({ ...fresh(), createdAt: Number.NaN }, T0, policy), 'EXPIRED');
    const { parent } = rotateRefreshRecord(fresh(), T0);
    assert.equal(decideRefresh({ ...parent, usedAt: Number.NaN }, T0, withGrace), 'REUSE_DETECTED');
  });

  test('policy options are validated naming the field', () => {
    assert.throws(() => refreshPolicy({ idleTtlMs: 0 }), /^TypeError: idleTtlMs:/);
    assert.throws(() => refreshPolicy({ absoluteTtlMs: 1.5 }), /^TypeError: absoluteTtlMs:/);
    assert.throws(() => refreshPolicy({ graceMs: -1 }), /^TypeError: graceMs:/);
    assert.throws(() => refreshPolicy({ idleTtlMs: 31 * DAY }), /^TypeError: idleTtlMs: must not exceed/);
  });
});
