import { ConfigError } from '../server/config.ts';
import { serve } from '../server/serve.ts';
import {
  EXPORT_USAGE,
  exportCommand,
  IMPORT_USAGE,
  importCommand,
  MIGRATE_USAGE,
  migrateCommand,
} from './data.ts';
import { AUDIT_USAGE, auditCommand, type Io, KEYS_USAGE, keysCommand } from './keys.ts';
import { UsageError } from './output.ts';
import { SIGNING_KEYS_USAGE, signingKeysCommand } from './signing-keys.ts';

const USAGE = `Usage: rampart <command>

Commands:
  serve        run the Rampart server (configuration: environment variables and RAMPART_CONFIG)
  keys         create, list, revoke and rotate API keys (rampart keys --help)
  audit        read the audit trail (rampart audit --help)
  signing-keys rotate the access-token signing key (rampart signing-keys --help)
  migrate      apply pending schema migrations (SQLite, or PostgreSQL with DATABASE_URL)
  export       write all state as JSON Lines (rampart export --help)
  import       read an export into new storage, e.g. SQLite to PostgreSQL (rampart import --help)
  help         show this text
`;

const io: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  now: Date.now,
};

/** Runs an admin command: usage problems exit 2, failures 1, with one clear line on stderr. */
async function run(
  usage: string,
  argv: string[],
  command: (argv: string[], io: Io) => Promise<void>,
): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return;
  }
  try {
    await command(argv, io);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`rampart: ${(error as Error).message}\n\n${usage}`);
      process.exitCode = 2;
    } else if (error instanceof ConfigError) {
      process.stderr.write(`rampart: invalid configuration: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`rampart: ${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  }
}

/** The `rampart` command. */
export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve();
    case 'keys':
      return run(KEYS_USAGE, rest, keysCommand);
    case 'audit':
      return run(AUDIT_USAGE, rest, auditCommand);
    case 'signing-keys':
      return run(SIGNING_KEYS_USAGE, rest, signingKeysCommand);
    case 'migrate':
      return run(MIGRATE_USAGE, rest, migrateCommand);
    case 'export':
      return run(EXPORT_USAGE, rest, exportCommand);
    case 'import':
      return run(IMPORT_USAGE, rest, importCommand);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`rampart: unknown command "${command}"\n\n${USAGE}`);
      process.exitCode = 2;
  }
}
