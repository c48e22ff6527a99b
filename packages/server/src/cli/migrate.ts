/** `rampart migrate`: applies the schema migrations the deployment's storage is missing. */
import { openStorage } from '../server/server.ts';
import { parseFlags } from './args.ts';
import type { Command, Io } from './command.ts';
import { loadCliConfig } from './config.ts';

export const MIGRATE_USAGE = `Usage:
  rampart migrate [--json]

Applies the schema migrations the deployment's storage is missing: PostgreSQL when
DATABASE_URL is set (under an advisory lock, so it is safe while instances start), else the
data dir's SQLite database. \`rampart serve\` does the same at start.
`;

const OPTIONS = { json: { type: 'boolean' } } as const;

/** `rampart migrate`. */
export async function migrateCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseFlags('migrate', argv, OPTIONS);
  const config = loadCliConfig(io.env);
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

export const MIGRATE_COMMAND: Command = {
  name: 'migrate',
  summary: 'apply pending schema migrations (SQLite, or PostgreSQL with DATABASE_URL)',
  usage: MIGRATE_USAGE,
  form: { options: OPTIONS },
  run: migrateCommand,
};
