/**
 * `rampart migrate`, `rampart export` and `rampart import`: schema upgrades, and moving a
 * deployment's state between storages (SQLite → PostgreSQL, or back) as JSON Lines.
 */
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig } from '../server/config.ts';
import { openStorage } from '../server/server.ts';
import { readSigningKeyFile, sharedRingView, writeSigningKeyFile } from '../server/signing-keys.ts';
import type {
  ApiKeyRecord,
  AuditEvent,
  RefreshTokenRecord,
  Storage,
  StoredSigningKey,
  UserRecord,
} from '../storage/types.ts';
import type { Io } from './keys.ts';
import { UsageError } from './output.ts';

export const MIGRATE_USAGE = `Usage:
  rampart migrate [--json]

Applies the schema migrations the deployment's storage is missing: PostgreSQL when
DATABASE_URL is set (under an advisory lock, so it is safe while instances start), else the
data dir's SQLite database. \`rampart serve\` does the same at start.
`;

export const EXPORT_USAGE = `Usage:
  rampart export [--out <file>]

Writes every user, API key (hashes only), refresh token, revocation, signing key and audit
event of the deployment's storage as JSON Lines to stdout (or to a new file, mode 0600). The
API key pepper is not in it: keep RAMPART_API_KEY_PEPPER (or <data dir>/pepper) for the target.

  From SQLite to PostgreSQL in one step:
    rampart export | DATABASE_URL=postgres://… rampart import
`;

export const IMPORT_USAGE = `Usage:
  rampart import [--in <file>]

Reads an export (stdin, or --in) into the deployment's storage, which must hold no users, API
keys or signing keys yet (run it before the first \`rampart serve\` on the new storage).
`;

const FORMAT = 'rampart-export';
const VERSION = 1;

type Line =
  | { kind: 'user'; record: UserRecord }
  | { kind: 'apiKey'; record: ApiKeyRecord }
  | { kind: 'refreshToken'; record: RefreshTokenRecord }
  | { kind: 'ttl'; record: { key: string; value: string; expiresAt: number } }
  | { kind: 'signingKey'; record: StoredSigningKey }
  | { kind: 'auditEvent'; record: AuditEvent };

type Counts = Record<Line['kind'], number>;

const zero = (): Counts => ({
  user: 0,
  apiKey: 0,
  refreshToken: 0,
  ttl: 0,
  signingKey: 0,
  auditEvent: 0,
});

/** `rampart migrate`. */
export async function migrateCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: { json: { type: 'boolean' } } });
  const config = loadConfig(io.env);
  const storage = await openStorage(config);
  try {
    const applied =
      storage.kind === 'postgres' && 'applied' in storage ? [...(storage.applied as string[])] : [];
    if (values.json) io.out(`${JSON.stringify({ storage: storage.kind, applied })}\n`);
    else if (applied.length > 0) io.out(`applied ${applied.join(', ')} (${storage.kind})\n`);
    else io.out(`${storage.kind} schema is up to date\n`);
  } finally {
    await storage.close();
  }
}

/** Every record of `storage`, one kind after the other. */
async function* records(storage: Storage, dataDir: string, now: number): AsyncGenerator<Line> {
  let cursor: string | undefined;
  do {
    const page = await storage.users.list({ limit: 500, ...(cursor ? { cursor } : {}) });
    for (const record of page.users) yield { kind: 'user', record };
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  do {
    const page = await storage.apiKeys.list({ limit: 500, ...(cursor ? { cursor } : {}) });
    for (const record of page.keys) yield { kind: 'apiKey', record };
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  do {
    const page = await storage.refreshTokens.list({ limit: 500, ...(cursor ? { cursor } : {}) });
    for (const record of page.tokens) yield { kind: 'refreshToken', record };
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  for (const record of await storage.ttl.list('', now)) yield { kind: 'ttl', record };
  // Single-host storage keeps its keys in the data dir: each one signed from its creation.
  const keys: StoredSigningKey[] = storage.signingKeys
    ? await storage.signingKeys.list()
    : readSigningKeyFile(dataDir)
        .map(({ retiredAt: _retired, ...record }) => ({ record, activatesAt: record.createdAt }))
        .sort((a, b) => a.activatesAt - b.activatesAt);
  for (const record of keys) yield { kind: 'signingKey', record };
  do {
    const page = await storage.audit.list({ limit: 500, ...(cursor ? { cursor } : {}) });
    for (const record of page.events) yield { kind: 'auditEvent', record };
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/** `rampart export`. */
export async function exportCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: { out: { type: 'string' } } });
  const config = loadConfig(io.env);
  // The export holds password hashes and private signing keys: a file is made 0600, and only if new.
  const fd = values.out === undefined ? undefined : openSync(values.out, 'wx', 0o600);
  const write = fd === undefined ? io.out : (text: string) => void writeSync(fd, text);
  const storage = await openStorage(config);
  try {
    const counts = zero();
    write(
      `${JSON.stringify({ format: FORMAT, version: VERSION, source: storage.kind, exportedAt: new Date(io.now()).toISOString() })}\n`,
    );
    let buffer = '';
    for await (const line of records(storage, config.dataDir, io.now())) {
      counts[line.kind]++;
      buffer += `${JSON.stringify(line)}\n`;
      if (buffer.length > 64 * 1024) {
        write(buffer);
        buffer = '';
      }
    }
    write(`${buffer}${JSON.stringify({ kind: 'end', counts })}\n`);
    io.err(
      `exported ${describe(counts)} from ${storage.kind}. The export holds password hashes and private signing keys: keep it like a backup.\n`,
    );
  } finally {
    if (fd !== undefined) closeSync(fd);
    await storage.close();
  }
}

function describe(counts: Counts): string {
  return Object.entries(counts)
    .map(([kind, n]) => `${n} ${kind}`)
    .join(', ');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Checks the shape a line must have before it reaches a store (an export is data, not trusted code). */
function parseLine(text: string, number: number): Line | { kind: 'end'; counts: Counts } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`line ${number}: not JSON`);
  }
  const bad = (what: string) => new Error(`line ${number}: ${what}`);
  if (!isObject(value) || typeof value.kind !== 'string') throw bad('expected { kind, record }');
  if (value.kind === 'end') {
    if (!isObject(value.counts)) throw bad('the end line has no counts');
    return { kind: 'end', counts: value.counts as Counts };
  }
  const r = value.record;
  if (!isObject(r)) throw bad('expected a record');
  const str = (field: string) => typeof r[field] === 'string';
  const int = (field: string) => Number.isSafeInteger(r[field]);
  const ok: Record<string, () => boolean> = {
    user: () => str('id') && str('emailKey') && str('passwordHash') && int('createdAt'),
    apiKey: () => str('id') && str('hash') && Array.isArray(r.scopes) && int('createdAt'),
    refreshToken: () => str('tokenHash') && str('familyId') && str('userId') && int('createdAt'),
    ttl: () => str('key') && str('value') && int('expiresAt'),
    signingKey: () => isObject(r.record) && Number.isSafeInteger(r.activatesAt),
    auditEvent: () => str('id') && str('type') && int('at') && isObject(r.detail),
  };
  const check = ok[value.kind];
  if (!check) throw bad(`unknown kind "${value.kind}"`);
  if (!check()) throw bad(`not a valid ${value.kind} record`);
  return value as Line;
}

/** `rampart import`. */
export async function importCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: { in: { type: 'string' } } });
  const config = loadConfig(io.env);
  const input = values.in === undefined ? process.stdin : createReadStream(values.in);
  const storage = await openStorage(config);
  try {
    const keysInFile = storage.signingKeys ? [] : readSigningKeyFile(config.dataDir);
    if (
      (await storage.users.count()) > 0 ||
      (await storage.apiKeys.list({ limit: 1 })).keys.length > 0 ||
      (storage.signingKeys ? (await storage.signingKeys.list()).length > 0 : keysInFile.length > 0)
    ) {
      throw new UsageError(
        `the ${storage.kind} storage already holds users, API keys or signing keys: import into a new, empty one`,
      );
    }
    const counts = zero();
    const signingKeys: StoredSigningKey[] = [];
    let audit: AuditEvent[] = [];
    const flushAudit = async () => {
      if (audit.length > 0) await storage.audit.append(audit);
      audit = [];
    };
    let number = 0;
    let ended: Counts | undefined;
    for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      number++;
      if (text.trim() === '') continue;
      if (number === 1) {
        const header = (() => {
          try {
            return JSON.parse(text) as { format?: unknown; version?: unknown };
          } catch {
            return undefined;
          }
        })();
        if (header?.format !== FORMAT || header.version !== VERSION)
          throw new Error(`line 1: not a ${FORMAT} version ${VERSION} file`);
        continue;
      }
      if (ended) throw new Error(`line ${number}: data after the end line`);
      const line = parseLine(text, number);
      switch (line.kind) {
        case 'end':
          ended = line.counts;
          continue;
        case 'user':
          if ((await storage.users.create(line.record)) !== 'created')
            throw new Error(`line ${number}: email of user ${line.record.id} is already taken`);
          break;
        case 'apiKey':
          if (!(await storage.apiKeys.insert(line.record)))
            throw new Error(`line ${number}: API key ${line.record.id} is already stored`);
          break;
        case 'refreshToken':
          await storage.refreshTokens.insert(line.record);
          break;
        case 'ttl':
          await storage.ttl.put(line.record.key, line.record.value, line.record.expiresAt);
          break;
        case 'signingKey':
          signingKeys.push(line.record);
          break;
        case 'auditEvent':
          audit.push(line.record);
          if (audit.length >= 500) await flushAudit();
          break;
      }
      counts[line.kind]++;
    }
    await flushAudit();
    if (!ended) {
      throw new Error(
        `the export ends without its end line (cut short?); ${describe(counts)} were written: import again into a new, empty storage`,
      );
    }
    if (signingKeys.length > 0) {
      signingKeys.sort((a, b) => a.activatesAt - b.activatesAt);
      if (storage.signingKeys) {
        let last: string | null = null;
        for (const key of signingKeys) {
          if (!(await storage.signingKeys.add(key, last, 0)))
            throw new Error('signing keys changed while importing');
          last = key.record.kid;
        }
      } else {
        writeSigningKeyFile(config.dataDir, sharedRingView(signingKeys, io.now()).records);
      }
    }
    for (const kind of Object.keys(counts) as Array<keyof Counts>) {
      if (counts[kind] !== ended[kind])
        throw new Error(`the end line counts ${ended[kind]} ${kind} but ${counts[kind]} were read`);
    }
    io.err(
      `imported ${describe(counts)} into ${storage.kind}. API keys keep working only with the same pepper (RAMPART_API_KEY_PEPPER).\n`,
    );
  } finally {
    await storage.close();
  }
}
