/** `rampart audit`: the audit trail, newest first, filtered by type, time and actor. */
import { closeSync, openSync, writeSync } from 'node:fs';
import { AUDIT_EVENT_TYPES } from 'rampart/internal/audit/events.ts';
import { isDuration, parseDuration } from 'rampart/internal/lib/duration.ts';
import { newId } from 'rampart/internal/lib/ids.ts';
import { openStorage } from '../server/server.ts';
import type { AuditEvent, AuditEventType, AuditQuery, Storage } from '../storage/types.ts';
import { instant, parseFlags, wholeNumber } from './args.ts';
import type { Command, Io } from './command.ts';
import { loadCliConfig } from './config.ts';
import { cell, shellQuote, table, UsageError } from './output.ts';
import { safeEventView } from './views.ts';

export { AUDIT_EVENT_TYPES };

export const AUDIT_USAGE = `Usage:
  rampart audit [--type <event type>] [--since <ISO | epoch ms | 1h>] [--until <ISO | epoch ms | 1h>]
                [--actor <id>] [--limit <1-500, default 50>] [--cursor <cursor>] [--json]
  rampart audit export [--type <event type>] [--since …] [--until …] [--actor <id>] [--out <file>]
                (every matching event as JSON Lines, newest first, to stdout or a new 0600 file)
  rampart audit prune --before <ISO | epoch ms | 90d>
                (deletes the events before that instant; "90d" means older than 90 days)

Lists the audit trail newest first. --since 1h means the last hour. When there is more, the
listing ends with the command for the next page, with the same filters (relative times made
absolute, so the next page belongs to the same listing).

Event types:
${wrap(AUDIT_EVENT_TYPES, '  ')}
`;

const OPTIONS = {
  type: { type: 'string', value: '<event type>', choices: AUDIT_EVENT_TYPES },
  since: { type: 'string', value: '<ISO | epoch ms | 1h>' },
  until: { type: 'string', value: '<ISO | epoch ms | 1h>' },
  actor: { type: 'string', value: '<id>' },
  limit: { type: 'string', value: '<1-500>' },
  cursor: { type: 'string', value: '<cursor>' },
  json: { type: 'boolean' },
} as const;

const EXPORT_OPTIONS = {
  type: OPTIONS.type,
  since: OPTIONS.since,
  until: OPTIONS.until,
  actor: OPTIONS.actor,
  out: { type: 'string', value: '<file>', complete: 'file' },
} as const;

/** Words as indented lines of at most 80 columns. */
function wrap(words: readonly string[], indent: string): string {
  const lines: string[] = [];
  let line = indent;
  for (const word of words) {
    if (line.length + word.length + 1 > 80 && line.trim() !== '') {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${word} `;
  }
  return [...lines, line.trimEnd()].join('\n');
}

/** The `rampart audit` arguments that fetch the page after `cursor`: the same filters, same limit. */
export function nextPageCommand(query: AuditQuery, cursor: string): string {
  const args = ['rampart', 'audit'];
  if (query.type !== undefined) args.push('--type', query.type);
  if (query.since !== undefined) args.push('--since', new Date(query.since).toISOString());
  if (query.until !== undefined) args.push('--until', new Date(query.until).toISOString());
  if (query.actor !== undefined) args.push('--actor', query.actor);
  if (query.limit !== 50) args.push('--limit', String(query.limit));
  args.push('--cursor', cursor);
  return args.map(shellQuote).join(' ');
}

/** `rampart audit export`: every matching event, one JSON object per line, newest first. */
async function exportEvents(argv: string[], io: Io): Promise<void> {
  const { values } = parseFlags('audit export', argv, EXPORT_OPTIONS);
  const now = io.now();
  const at = (text: string, flag: string) =>
    isDuration(text) ? now - parseDuration(text) : instant(text, flag, now);
  const query = {
    ...(values.type !== undefined ? { type: values.type as AuditEventType } : {}),
    ...(values.since !== undefined ? { since: at(values.since, '--since') } : {}),
    ...(values.until !== undefined ? { until: at(values.until, '--until') } : {}),
    ...(values.actor !== undefined ? { actor: values.actor } : {}),
  };
  const config = loadCliConfig(io.env);
  const storage = await openStorage(config);
  let fd: number | undefined;
  try {
    // A new file only (wx): an export must not overwrite anything, and holds IPs and ids (0600).
    if (values.out !== undefined) fd = openSync(values.out, 'wx', 0o600);
    const write = (text: string) => (fd === undefined ? io.out(text) : writeSync(fd, text));
    let cursor: string | undefined;
    let count = 0;
    do {
      const page = await storage.audit.list({ ...query, limit: 500, ...(cursor ? { cursor } : {}) });
      if (page.events.length > 0)
        write(page.events.map((e) => `${JSON.stringify(safeEventView(e))}\n`).join(''));
      count += page.events.length;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    if (fd !== undefined) io.err(`Exported ${count} events to ${values.out}.\n`);
  } finally {
    if (fd !== undefined) closeSync(fd);
    await storage.close();
  }
}

/** `rampart audit prune --before …`. */
async function pruneEvents(argv: string[], io: Io): Promise<void> {
  const { values } = parseFlags('audit prune', argv, {
    before: { type: 'string', value: '<ISO | epoch ms | 90d>' },
  });
  if (values.before === undefined)
    throw new UsageError('audit prune: --before is required (e.g. --before 90d)');
  const now = io.now();
  const before = isDuration(values.before)
    ? now - parseDuration(values.before)
    : instant(values.before, '--before', now);
  const config = loadCliConfig(io.env);
  const storage = await openStorage(config);
  try {
    const count = await storage.audit.prune(before);
    await storage.audit.append([
      {
        id: newId('evt'),
        type: 'audit_pruned',
        at: now,
        actor: 'cli',
        outcome: 'success',
        detail: { count, before: new Date(before).toISOString(), via: 'cli' },
        count: 1,
      },
    ]);
    io.out(`Deleted ${count} events before ${new Date(before).toISOString()}.\n`);
  } finally {
    await storage.close();
  }
}

/** `rampart audit …`. */
export async function auditCommand(argv: string[], io: Io): Promise<void> {
  if (argv[0] === 'export') return exportEvents(argv.slice(1), io);
  if (argv[0] === 'prune') return pruneEvents(argv.slice(1), io);
  const { values } = parseFlags('audit', argv, OPTIONS);
  const now = io.now();
  const at = (text: string, flag: string) => {
    if (isDuration(text)) return now - parseDuration(text); // "--since 1h": the last hour
    return instant(text, flag, now);
  };
  // --type is checked against AUDIT_EVENT_TYPES by parseFlags (its `choices`).
  const query: AuditQuery = {
    limit: values.limit === undefined ? 50 : wholeNumber(values.limit, '--limit', 1, 500),
    ...(values.type !== undefined ? { type: values.type as AuditEventType } : {}),
    ...(values.since !== undefined ? { since: at(values.since, '--since') } : {}),
    ...(values.until !== undefined ? { until: at(values.until, '--until') } : {}),
    ...(values.actor !== undefined ? { actor: values.actor } : {}),
  };
  const config = loadCliConfig(io.env);
  const storage = await openStorage(config);
  try {
    const page = await storage.audit.list({
      ...query,
      ...(values.cursor !== undefined ? { cursor: values.cursor } : {}),
    });
    const events = page.events.map(safeEventView);
    for (const e of events) {
      if (e.invalid)
        io.err(
          `warning: event ${e.id} holds a time outside the date range (at ${e.invalid.at}); shown as "invalid"\n`,
        );
    }
    if (values.json) {
      io.out(`${JSON.stringify({ events, nextCursor: page.nextCursor })}\n`);
      return;
    }
    io.out(
      events.length === 0
        ? 'No events.\n'
        : table(
            ['AT', 'TYPE', 'OUTCOME', 'ACTOR', 'IP', 'COUNT', 'DETAIL'],
            events.map((e) => [
              e.at,
              e.type,
              e.outcome,
              cell(e.actor),
              cell(e.ip),
              String(e.count),
              cell(JSON.stringify(e.detail), 60),
            ]),
          ),
    );
    if (page.nextCursor) io.out(`\nMore: ${nextPageCommand(query, page.nextCursor)}\n`);
  } finally {
    await storage.close();
  }
}

export const AUDIT_COMMAND: Command = {
  name: 'audit',
  summary: 'read, export (JSON Lines) and prune the audit trail',
  usage: AUDIT_USAGE,
  form: { options: OPTIONS },
  run: auditCommand,
};

/** Records an event a CLI command caused, as the actor `cli` (`detail.via: 'cli'`). */
export async function recordCliEvent(
  storage: Storage,
  type: AuditEventType,
  at: number,
  detail: Record<string, unknown>,
): Promise<void> {
  const event: AuditEvent = {
    id: newId('evt'),
    type,
    at,
    actor: 'cli',
    outcome: 'success',
    detail: { ...detail, via: 'cli' },
    count: 1,
  };
  await storage.audit.append([event]);
}
