/**
 * `rampart import`: an export into a new, empty storage, all or nothing.
 *
 * 1. The target must be empty: no users, API keys, refresh tokens, live TTL entries or
 *    signing keys (audit events already there are kept).
 * 2. The whole input is checked before the first write: the header, every line's shape,
 *    duplicate ids, the end line and its counts. A truncated or corrupted file is refused
 *    with the target untouched. Stdin is first copied to a 0700 temporary directory (it is
 *    read twice), removed at the end.
 * 3. The records are written; should a write still fail (the store, a conflict with a row
 *    already there, Ctrl-C), everything the import wrote is deleted again (import-undo.ts).
 */
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import type { ServerConfig } from '../server/config.ts';
import { openStorage } from '../server/server.ts';
import { readSigningKeyFile, sharedRingView, writeSigningKeyFile } from '../server/signing-keys.ts';
import type { AuditEvent, Storage, StoredSigningKey } from '../storage/types.ts';
import { parseFlags } from './args.ts';
import type { Command, Io } from './command.ts';
import { loadCliConfig } from './config.ts';
import {
  type Counts,
  describeCounts,
  idOf,
  KINDS,
  type Kind,
  type Line,
  parseHeader,
  parseLine,
  zeroCounts,
} from './export-format.ts';
import { undoImport, type Written } from './import-undo.ts';
import { UsageError } from './output.ts';
import { progress } from './progress.ts';

export const IMPORT_USAGE = `Usage:
  rampart import [--in <file>]

Reads an export (stdin, or --in) into the deployment's storage, which must be empty (run it
before the first \`rampart serve\` on the new storage). All or nothing: the whole file is
checked before anything is written, so a truncated or corrupted export is refused with the
storage untouched, and if a write fails later everything the import wrote is removed again.
An export made without secrets (plain \`rampart export\` to stdout) is refused: it has no
password hashes and signing keys. Progress is shown on stderr when it is a terminal.
`;

const OPTIONS = { in: { type: 'string', value: '<file>', complete: 'file' } } as const;

/** The lines of the file at `path`, numbered from 1, blank ones skipped. */
async function* linesOf(path: string): AsyncGenerator<{ text: string; number: number }> {
  let number = 0;
  for await (const text of createInterface({
    input: createReadStream(path),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    number++;
    if (text.trim() !== '') yield { text, number };
  }
}

/** Checks the whole export at `path` without writing anything; answers its counts. */
export async function checkExport(path: string, onLine: () => void = () => {}): Promise<Counts> {
  const counts = zeroCounts();
  const seen: Record<Kind, Set<string>> = {
    user: new Set(),
    apiKey: new Set(),
    refreshToken: new Set(),
    ttl: new Set(),
    signingKey: new Set(),
    auditEvent: new Set(),
  };
  const emails = new Set<string>();
  const hashes = new Set<string>();
  let headerSeen = false;
  let ended: Counts | undefined;
  for await (const { text, number } of linesOf(path)) {
    onLine();
    if (!headerSeen) {
      if (number !== 1) throw new Error(`line ${number}: expected the header on line 1`);
      const header = parseHeader(text);
      if (header.secrets === false) {
        throw new UsageError(
          'import: this export was made without secrets (no password hashes, no signing keys): it cannot restore a deployment. Export again with --out <file> or --include-secrets',
        );
      }
      headerSeen = true;
      continue;
    }
    if (ended) throw new Error(`line ${number}: data after the end line`);
    const line = parseLine(text, number);
    if (line.kind === 'end') {
      ended = line.counts;
      continue;
    }
    const id = idOf(line);
    if (seen[line.kind].has(id)) throw new Error(`line ${number}: a second ${line.kind} ${id}`);
    seen[line.kind].add(id);
    if (line.kind === 'user') {
      if (emails.has(line.record.emailKey))
        throw new Error(`line ${number}: a second user with the email of ${id}`);
      emails.add(line.record.emailKey);
    }
    if (line.kind === 'apiKey') {
      if (hashes.has(line.record.hash))
        throw new Error(`line ${number}: a second API key with the hash of ${id}`);
      hashes.add(line.record.hash);
    }
    counts[line.kind]++;
  }
  if (!headerSeen) throw new Error('the input is empty');
  if (!ended) throw new Error(`the export ends without its end line (cut short?); nothing was imported`);
  for (const kind of KINDS) {
    if (counts[kind] !== ended[kind])
      throw new Error(
        `the end line counts ${ended[kind]} ${kind} but the file holds ${counts[kind]}; nothing was imported`,
      );
  }
  return counts;
}

/** Refuses a target that already holds a deployment's state. */
async function checkEmpty(storage: Storage, config: ServerConfig, now: number): Promise<void> {
  const held = [
    (await storage.users.count()) > 0 && 'users',
    (await storage.apiKeys.list({ limit: 1 })).keys.length > 0 && 'API keys',
    (await storage.refreshTokens.list({ limit: 1 })).tokens.length > 0 && 'refresh tokens',
    (await storage.ttl.list('', now)).length > 0 && 'revocations or reset tokens',
    (storage.signingKeys
      ? (await storage.signingKeys.list()).length > 0
      : readSigningKeyFile(config.dataDir).length > 0) && 'signing keys',
  ].filter(Boolean);
  if (held.length > 0) {
    throw new UsageError(
      `import: the ${storage.kind} storage already holds ${held.join(', ')}: import into a new, empty one`,
    );
  }
}

/** Writes the checked export at `path`, recording each written id in `written`. */
async function writeExport(
  path: string,
  storage: Storage,
  config: ServerConfig,
  written: Written,
  io: Io,
  onRecord: () => void,
  interrupted: () => boolean,
): Promise<void> {
  const signingKeys: StoredSigningKey[] = [];
  let audit: AuditEvent[] = [];
  const flushAudit = async () => {
    if (audit.length === 0) return;
    await storage.audit.append(audit); // atomic per batch: recorded only once it is in
    written.auditEvent.push(...audit.map((e) => e.id));
    audit = [];
  };
  let first = true;
  for await (const { text, number } of linesOf(path)) {
    if (first) {
      first = false;
      continue;
    }
    if (interrupted()) throw new Error('interrupted');
    const line = parseLine(text, number) as Line | { kind: 'end' };
    switch (line.kind) {
      case 'end':
        continue;
      case 'user':
        if ((await storage.users.create(line.record)) !== 'created')
          throw new Error(`line ${number}: the email of user ${line.record.id} is already taken`);
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
        onRecord();
        continue;
      case 'auditEvent':
        audit.push(line.record);
        if (audit.length >= 500) await flushAudit();
        onRecord();
        continue;
    }
    written[line.kind].push(idOf(line));
    onRecord();
  }
  await flushAudit();
  if (signingKeys.length === 0) return;
  signingKeys.sort((a, b) => a.activatesAt - b.activatesAt);
  if (storage.signingKeys) {
    let last: string | null = null;
    for (const key of signingKeys) {
      if (!(await storage.signingKeys.add(key, last, 0)))
        throw new Error('signing keys changed while importing');
      written.signingKey.push(key.record.kid);
      last = key.record.kid;
    }
  } else {
    // The last write, and atomic (temporary file and rename): if it fails there is no file to remove.
    writeSigningKeyFile(config.dataDir, sharedRingView(signingKeys, io.now()).records);
  }
}

/** Copies stdin into a new 0700 directory (the import reads its input twice); answers the file and the directory. */
async function spoolStdin(): Promise<{ path: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-import-'));
  const path = join(dir, 'export.jsonl');
  await pipeline(process.stdin, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
  return { path, dir };
}

/** `rampart import`. */
export async function importCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseFlags('import', argv, OPTIONS);
  const config = loadCliConfig(io.env);
  if (values.in !== undefined && !existsSync(values.in)) throw new UsageError(`import: no file ${values.in}`);
  // Waiting on a terminal for an export to be typed in helps nobody.
  if (values.in === undefined && process.stdin.isTTY)
    throw new UsageError(
      'import: give the export on stdin (rampart import < backup.jsonl) or with --in <file>',
    );
  let spool: { path: string; dir: string } | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  const storage = await openStorage(config);
  try {
    await checkEmpty(storage, config, io.now());
    spool = values.in === undefined ? await spoolStdin() : undefined;
    const path = values.in ?? spool!.path;

    const checking = progress({ enabled: io.errIsTTY, write: io.err, now: io.now, label: 'checking' });
    const counts = await checkExport(path, () => checking.tick());
    checking.done();

    const total = KINDS.reduce((sum, kind) => sum + counts[kind], 0);
    const writing = progress({ enabled: io.errIsTTY, write: io.err, now: io.now, label: 'importing', total });
    const written: Written = {
      user: [],
      apiKey: [],
      refreshToken: [],
      ttl: [],
      signingKey: [],
      auditEvent: [],
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await writeExport(
        path,
        storage,
        config,
        written,
        io,
        () => writing.tick(),
        () => interrupted,
      );
    } catch (error) {
      writing.done();
      throw new Error(`${(error as Error).message}; ${await undo(storage, config, written)}`);
    }
    writing.done();
    io.err(
      `imported ${describeCounts(counts)} into ${storage.kind}. API keys keep working only with the same pepper (RAMPART_API_KEY_PEPPER).\n`,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (spool) rmSync(spool.dir, { recursive: true, force: true });
    await storage.close();
  }
}

/** Removes what a failed import wrote; answers the sentence that says how that went. */
async function undo(storage: Storage, config: ServerConfig, written: Written): Promise<string> {
  const count = KINDS.reduce((sum, kind) => sum + written[kind].length, 0);
  if (count === 0) return 'nothing had been written';
  try {
    await undoImport(storage, config, written);
    return `the ${count} records written so far were removed again: the storage is as empty as before`;
  } catch (error) {
    return `removing the ${count} records written so far failed too (${(error as Error).message}): empty the storage before importing again`;
  }
}

export const IMPORT_COMMAND: Command = {
  name: 'import',
  summary: 'read an export into new, empty storage (all or nothing)',
  usage: IMPORT_USAGE,
  form: { options: OPTIONS },
  run: importCommand,
};
