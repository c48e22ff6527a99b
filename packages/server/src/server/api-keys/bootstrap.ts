/**
 * The first admin credential: `RAMPART_BOOTSTRAP_ADMIN_KEY` when set, otherwise a new admin key
 * written to `<data dir>/admin-key` (mode 0600) whose path only is printed. Run one instance at
 * a time on shared storage (the caller holds the lock); the file itself is the lock on one
 * data dir.
 */
import { timingSafeEqual } from 'node:crypto';
import { mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiKeyIssuer, ApiKeyRecord, KeyHasher } from 'rampart/internal/api-keys/index.ts';
import { newId } from 'rampart/internal/lib/ids.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { Storage } from '../../storage/types.ts';
import { writeSecretFileOnce } from './pepper.ts';

/** The name of the first-start admin key file in the data dir. */
export const ADMIN_KEY_FILE = 'admin-key';
/** Longest bootstrap key compared; longer text is not the bootstrap key (and costs no more hashing). */
const MAX_BOOTSTRAP_KEY = 1024;

/** What the first start did about an admin credential. */
export type BootstrapOutcome =
  | { kind: 'existing' }
  | { kind: 'env'; keyId: string; created: boolean }
  | { kind: 'file'; keyId: string; path: string }
  | { kind: 'file-exists'; path: string }
  | { kind: 'skipped' };

/**
 * Recognises the bootstrap key: any text of 32+ characters, so it fails the key format and is
 * told apart by its HMAC (a constant-time compare). Exactly one HMAC whatever the text.
 */
export function bootstrapMatcher(
  hasher: KeyHasher,
  bootstrapKey: string | undefined,
): (text: unknown) => boolean {
  if (bootstrapKey === undefined) return () => false;
  const expected = Buffer.from(hasher.hash(bootstrapKey));
  return (text) => {
    const candidate = typeof text === 'string' && text.length <= MAX_BOOTSTRAP_KEY ? text : undefined;
    const mac = Buffer.from(hasher.hash(candidate ?? (typeof text === 'string' ? text.slice(0, 96) : '')));
    return candidate !== undefined && mac.length === expected.length && timingSafeEqual(mac, expected);
  };
}

export interface EnsureAdminKeyOptions {
  dataDir: string;
  bootstrapAdminKey: string | undefined;
  storage: Storage;
  hasher: KeyHasher;
  issuer: ApiKeyIssuer;
  now: Clock;
  warn: (message: string) => void;
}

/** Makes sure an admin credential exists (see the file comment); never prints a key. */
export async function ensureAdminKey(options: EnsureAdminKeyOptions): Promise<BootstrapOutcome> {
  const { dataDir, storage, hasher, issuer, now, warn } = options;
  const at = now();
  const live = (k: ApiKeyRecord) =>
    (k.revokedAt === null || k.revokedAt > at) && (k.expiresAt === null || k.expiresAt > at);
  let adminExists = false;
  let cursor: string | undefined;
  do {
    const page = await storage.apiKeys.list({ ownerId: null, limit: 500, ...(cursor ? { cursor } : {}) });
    if (page.keys.some((k) => k.scopes.includes('admin') && live(k))) adminExists = true;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && !adminExists);

  const bootstrapKey = options.bootstrapAdminKey;
  if (bootstrapKey !== undefined) {
    const existing = await storage.apiKeys.findByHash(hasher.candidates(bootstrapKey));
    if (existing !== undefined && hasher.matches(existing.hash, bootstrapKey)) {
      if (live(existing)) return { kind: 'env', keyId: existing.id, created: false };
      warn('RAMPART_BOOTSTRAP_ADMIN_KEY was revoked and is not accepted; set a new value to bootstrap again');
    } else if (!adminExists) {
      const record: ApiKeyRecord = {
        id: newId('key'),
        hash: hasher.hash(bootstrapKey),
        hint: 'bootstrap',
        prefix: '',
        name: 'bootstrap admin key (RAMPART_BOOTSTRAP_ADMIN_KEY)',
        ownerId: null,
        scopes: ['admin'],
        createdAt: at,
        expiresAt: null,
        lastUsedAt: null,
        revokedAt: null,
        metadata: { bootstrap: 'env' },
        credits: null,
        rateLimit: null,
        rotatedFrom: null,
      };
      // False when another instance starting at the same time stored it first: same key, fine.
      const created = await storage.apiKeys.insert(record);
      const stored = created ? record : await storage.apiKeys.findByHash([record.hash]);
      return { kind: 'env', keyId: stored?.id ?? record.id, created };
    } else {
      warn('RAMPART_BOOTSTRAP_ADMIN_KEY is ignored: an admin key already exists');
      return { kind: 'existing' };
    }
  }
  if (adminExists) return { kind: 'existing' };

  const path = join(dataDir, ADMIN_KEY_FILE);
  const made = issuer.issue({
    name: 'admin (first start)',
    ownerId: null,
    scopes: ['admin'],
    metadata: { bootstrap: 'file' },
  });
  if (!made.ok) throw new Error('could not issue the first admin key');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // The file is the lock: of two instances starting on one data dir, one writes it.
  if (!writeSecretFileOnce(path, `${made.key}\n`)) {
    warn(
      `no admin API key is active, but ${path} exists: read the key in it, or delete the file and restart to have a new one made`,
    );
    return { kind: 'file-exists', path };
  }
  try {
    await storage.apiKeys.insert(made.record);
  } catch (error) {
    unlinkSync(path);
    throw error;
  }
  return { kind: 'file', keyId: made.record.id, path };
}
