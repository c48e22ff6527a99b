/**
 * Console sessions, kept in the deployment's TTL store (`storage.ttl`), so every instance on
 * shared storage (PostgreSQL) sees the same sessions and a sign-out anywhere ends it
 * everywhere.
 *
 * What storage holds, and why a copy of the database is worth nothing:
 * - the entry is found by SHA-256 of the session id, never by the id itself;
 * - the credential the session calls the API with (an access and refresh token, or the API
 *   key it signed in with) is sealed with AES-256-GCM under a key derived (HKDF) from the
 *   session id, which only the browser's cookie holds. The server can open it only while
 *   that browser sends the cookie;
 * - the CSRF token is not stored at all: it is an HMAC of the session id, recomputed.
 *
 * Timeouts: an entry expires at the earlier of `lastSeenAt + idle` and `createdAt +
 * absolute`. `lastSeenAt` is written again at most once a minute (not on every call), so the
 * idle timeout is precise to a minute and a busy page costs one write a minute.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { TtlStore } from '../storage/types.ts';

/** What a session calls the admin API with. Held sealed; never sent to the browser. */
export type ConsoleCredential =
  | { kind: 'apiKey'; apiKey: string }
  | { kind: 'password'; accessToken: string; refreshToken: string; accessExpiresAt: number };

/** A session as the console's routes see it (opened). */
export interface ConsoleSession {
  id: string;
  credential: ConsoleCredential;
  /** Who signed in, for display: an e-mail address or a key prefix. Never a secret. */
  label: string;
  /** The user's id for a password session; the key's id for a key session. */
  subject: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface ConsoleSessionStoreOptions {
  ttl: TtlStore;
  now: Clock;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
}

export interface ConsoleSessionStore {
  /** Starts a session; answers it with its fresh id (for the cookie). */
  create(input: Omit<ConsoleSession, 'id' | 'createdAt' | 'lastSeenAt'>): Promise<ConsoleSession>;
  /** The live session of this id, its idle clock moved on; undefined when there is none. */
  open(id: string): Promise<ConsoleSession | undefined>;
  /** Writes a changed credential (a refreshed token pair). */
  save(session: ConsoleSession): Promise<void>;
  /** Ends the session; answers it as it was, if it was live. */
  end(id: string): Promise<ConsoleSession | undefined>;
  /** The CSRF token of a session id. */
  csrfToken(id: string): string;
  /** Is `token` the CSRF token of session `id`? Constant-time. */
  csrfMatches(id: string, token: string | undefined): boolean;
  /** When the session ends if unused from now (epoch ms). */
  expiresAt(session: ConsoleSession): number;
}

const PREFIX = 'console:';
/** `lastSeenAt` is written again only after this long (bounds writes per session). */
const TOUCH_EVERY_MS = 60_000;

interface Stored {
  v: 1;
  label: string;
  subject: string;
  createdAt: number;
  lastSeenAt: number;
  /** base64url(iv ‖ ciphertext ‖ tag) of the credential's JSON. */
  sealed: string;
}

const b64 = (bytes: Buffer) => bytes.toString('base64url');
const entryKey = (id: string) => PREFIX + b64(createHash('sha256').update(id).digest());
const sealKey = (id: string) =>
  Buffer.from(
    hkdfSync('sha256', Buffer.from(id, 'base64url'), Buffer.alloc(0), 'rampart console credential', 32),
  );

function seal(id: string, credential: ConsoleCredential): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(id), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(credential), 'utf8'), cipher.final()]);
  return b64(Buffer.concat([iv, body, cipher.getAuthTag()]));
}

function unseal(id: string, sealed: string): ConsoleCredential | undefined {
  try {
    const bytes = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', sealKey(id), bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const text = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
    return JSON.parse(text.toString('utf8')) as ConsoleCredential;
  } catch {
    // Tampered with, or sealed under another id: no session.
    return undefined;
  }
}

/**
 * The console's session store on a TTL store.
 * @example
 * const sessions = consoleSessionStore({ ttl: storage.ttl, now: Date.now, idleTimeoutMs: 1_800_000, absoluteTimeoutMs: 28_800_000 });
 * const session = await sessions.create({ credential: { kind: 'apiKey', apiKey }, label: 'rk_live_ab12', subject: keyId });
 */
export function consoleSessionStore(options: ConsoleSessionStoreOptions): ConsoleSessionStore {
  const { ttl, now, idleTimeoutMs, absoluteTimeoutMs } = options;
  const endOf = (s: { createdAt: number; lastSeenAt: number }) =>
    Math.min(s.lastSeenAt + idleTimeoutMs, s.createdAt + absoluteTimeoutMs);
  const write = async (session: ConsoleSession) => {
    const stored: Stored = {
      v: 1,
      label: session.label,
      subject: session.subject,
      createdAt: session.createdAt,
      lastSeenAt: session.lastSeenAt,
      sealed: seal(session.id, session.credential),
    };
    await ttl.put(entryKey(session.id), JSON.stringify(stored), endOf(session));
  };
  const read = (id: string, text: string | undefined): ConsoleSession | undefined => {
    if (text === undefined) return undefined;
    let stored: Stored;
    try {
      stored = JSON.parse(text) as Stored;
    } catch {
      return undefined;
    }
    if (stored.v !== 1) return undefined;
    const credential = unseal(id, stored.sealed);
    if (credential === undefined) return undefined;
    return {
      id,
      credential,
      label: stored.label,
      subject: stored.subject,
      createdAt: stored.createdAt,
      lastSeenAt: stored.lastSeenAt,
    };
  };
  const csrfToken = (id: string) =>
    b64(createHmac('sha256', Buffer.from(id, 'base64url')).update('rampart console csrf').digest());

  return {
    async create(input) {
      const at = now();
      const session: ConsoleSession = { ...input, id: b64(randomBytes(32)), createdAt: at, lastSeenAt: at };
      await write(session);
      return session;
    },
    async open(id) {
      const at = now();
      const session = read(id, await ttl.get(entryKey(id), at));
      // The store's expiry already hides ended sessions; the check stands on its own too.
      if (session === undefined || endOf(session) <= at) return undefined;
      if (at - session.lastSeenAt >= TOUCH_EVERY_MS) {
        session.lastSeenAt = at;
        await write(session);
      }
      return session;
    },
    save: write,
    async end(id) {
      return read(id, await ttl.take(entryKey(id), now()));
    },
    csrfToken,
    csrfMatches(id, token) {
      if (typeof token !== 'string' || token.length > 100) return false;
      const expected = Buffer.from(csrfToken(id));
      const given = Buffer.from(token);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
    expiresAt: endOf,
  };
}
