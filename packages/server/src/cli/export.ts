/**
 * `rampart export`: every record of the deployment's storage as JSON Lines (export-format.ts).
 *
 * The full export holds password hashes and private signing keys, so it leaves only through a
 * file this command makes itself (`--out`, mode 0600, never over an existing file unless
 * `--force`) or, to stdout, on an explicit `--include-secrets`. A plain `rampart export >
 * file` would otherwise land in a file the shell made world-readable; without either flag
 * stdout gets the export with those secrets left out, and stderr says so.
 */
import {
  closeSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { openStorage } from '../server/server.ts';
import { readSigningKeyFile } from '../server/signing-keys.ts';
import type { Storage, StoredSigningKey } from '../storage/types.ts';
import { parseFlags } from './args.ts';
import type { Command, Io } from './command.ts';
import { loadCliConfig } from './config.ts';
import { describeCounts, FORMAT, type Header, type Line, VERSION, zeroCounts } from './export-format.ts';
import { UsageError } from './output.ts';
import { progress } from './progress.ts';

export const EXPORT_USAGE = `Usage:
  rampart export --out <file> [--force]      everything, into a new file made with mode 0600
  rampart export --include-secrets           everything, to stdout (for a pipe into rampart import)
  rampart export                             to stdout without password hashes and signing keys

Writes every user, API key (hashes only), refresh token, revocation, signing key and audit
event of the deployment's storage as JSON Lines. Password hashes and private signing keys
leave only through --out (a file only you can read; --force replaces an existing one) or
with --include-secrets; a plain "rampart export > file" leaves them out, and rampart import
refuses such an export (it documents a deployment, it cannot restore one). The API key
pepper is never in it: keep RAMPART_API_KEY_PEPPER (or <data dir>/pepper) for the target.
Progress is shown on stderr when it is a terminal.

  From SQLite to PostgreSQL in one step:
    rampart export --include-secrets | DATABASE_URL=postgres://… rampart import
`;

const OPTIONS = {
  out: { type: 'string', value: '<file>', complete: 'file' },
  force: { type: 'boolean' },
  'include-secrets': { type: 'boolean' },
} as const;

/** Every record of `storage`, one kind after the other; without `secrets`, no password hash and no signing key. */
async function* records(
  storage: Storage,
  dataDir: string,
  now: number,
  secrets: boolean,
): AsyncGenerator<Line> {
  let cursor: string | undefined;
  do {
    const page = await storage.users.list({ limit: 500, ...(cursor ? { cursor } : {}) });
    for (const record of page.users) {
      if (secrets) yield { kind: 'user', record };
      else {
        const { passwordHash: _secret, ...rest } = record;
        yield { kind: 'user', record: rest as typeof record };
      }
    }
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
  if (secrets) {
    // Single-host storage keeps its keys in the data dir: each one signed from its creation.
    const keys: StoredSigningKey[] = storage.signingKeys
      ? await storage.signingKeys.list()
      : readSigningKeyFile(dataDir)
          .map(({ retiredAt: _retired, ...record }) => ({ record, activatesAt: record.createdAt }))
          .sort((a, b) => a.activatesAt - b.activatesAt);
    for (const record of keys) yield { kind: 'signingKey', record };
  }
  do {
    const page = await storage.audit.list({ limit: 500, ...(cursor ? { cursor } : {}) });
    for (const record of page.events) yield { kind: 'auditEvent', record };
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/** Where the export goes: a sink to write to, and how to finish (or abandon) it. */
interface Sink {
  write(text: string): void;
  finish(): void;
  abandon(): void;
}

/**
 * `--out`: without `--force` the file itself is created exclusively (`wx`, 0600), so nothing
 * existing is ever touched; with `--force` a 0600 temporary file beside it replaces it by
 * rename once complete, so a failed export never leaves the old file half-overwritten.
 */
function fileSink(path: string, force: boolean): Sink {
  const target = force ? join(dirname(path), `.${process.pid}.rampart-export.tmp`) : path;
  let fd: number;
  try {
    fd = openSync(target, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && !force)
      throw new UsageError(`export: ${path} exists; choose a new file, or add --force to replace it`);
    throw new Error(`export: cannot create ${target} (${code ?? (error as Error).message})`);
  }
  const close = () => {
    if (fd >= 0) closeSync(fd);
    fd = -1;
  };
  return {
    write: (text) => void writeSync(fd, text),
    finish() {
      fsyncSync(fd);
      close();
      if (force) renameSync(target, path);
    },
    abandon() {
      close();
      try {
        unlinkSync(target);
      } catch {}
    },
  };
}

/**
 * Stdout with secrets: if it is a regular file (`> backup.jsonl`) that others may read, it is
 * made 0600 before the first byte is written, or the export is refused.
 */
function guardStdoutFile(io: Io): void {
  let stat: ReturnType<typeof fstatSync>;
  try {
    stat = fstatSync(1);
  } catch {
    return;
  }
  if (!stat.isFile() || (stat.mode & 0o077) === 0) return;
  try {
    fchmodSync(1, 0o600);
    io.err('export: stdout is a file; made it mode 0600 (owner only) before writing secrets to it\n');
  } catch {
    throw new Error(
      `export: stdout is a file others can read (mode ${(stat.mode & 0o777).toString(8)}) and cannot be made 0600; use --out <file>`,
    );
  }
}

/** `rampart export`. */
export async function exportCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseFlags('export', argv, OPTIONS);
  if (values.force && values.out === undefined)
    throw new UsageError('export: --force only goes with --out <file>');
  const secrets = values.out !== undefined || values['include-secrets'] === true;
  const config = loadCliConfig(io.env);
  const storage = await openStorage(config);
  let sink: Sink | undefined;
  try {
    if (values.out === undefined && secrets) guardStdoutFile(io);
    sink =
      values.out === undefined
        ? { write: io.out, finish() {}, abandon() {} }
        : fileSink(values.out, values.force === true);
    const counts = zeroCounts();
    const header: Header = {
      format: FORMAT,
      version: VERSION,
      source: storage.kind,
      exportedAt: new Date(io.now()).toISOString(),
      secrets,
    };
    sink.write(`${JSON.stringify(header)}\n`);
    const shown = progress({ enabled: io.errIsTTY, write: io.err, now: io.now, label: 'exporting' });
    let buffer = '';
    for await (const line of records(storage, config.dataDir, io.now(), secrets)) {
      counts[line.kind]++;
      shown.tick();
      buffer += `${JSON.stringify(line)}\n`;
      if (buffer.length > 64 * 1024) {
        sink.write(buffer);
        buffer = '';
      }
    }
    sink.write(`${buffer}${JSON.stringify({ kind: 'end', counts })}\n`);
    sink.finish();
    shown.done();
    io.err(
      secrets
        ? `exported ${describeCounts(counts)} from ${storage.kind}${values.out ? ` into ${values.out} (mode 0600)` : ''}. The export holds password hashes and private signing keys: keep it like a backup.\n`
        : `exported ${describeCounts(counts)} from ${storage.kind}, WITHOUT password hashes and signing keys: rampart import refuses this export. For a backup or a move use --out <file> (or --include-secrets into a pipe).\n`,
    );
  } catch (error) {
    sink?.abandon();
    throw error;
  } finally {
    await storage.close();
  }
}

export const EXPORT_COMMAND: Command = {
  name: 'export',
  summary: 'write all state as JSON Lines (secrets only with --out or --include-secrets)',
  usage: EXPORT_USAGE,
  form: { options: OPTIONS },
  run: exportCommand,
};
