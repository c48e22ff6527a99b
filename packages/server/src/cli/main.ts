/**
 * The `rampart` command: dispatch on the command table, help that never runs anything, and
 * one rule for failures (usage mistakes exit 2 with "did you mean", other failures exit 1,
 * each with one clear line on stderr).
 */
import { ConfigError } from '../server/config.ts';
import { serverVersion } from '../server/version.ts';
import { parseFlags, wantsHelp } from './args.ts';
import { AUDIT_COMMAND } from './audit.ts';
import type { Command, Io } from './command.ts';
import { bashCompletion, zshCompletion } from './completion.ts';
import { DOCTOR_COMMAND } from './doctor.ts';
import { EXPORT_COMMAND } from './export.ts';
import { IDENTITIES_COMMAND, PLANS_COMMAND } from './identities.ts';
import { IMPORT_COMMAND } from './import.ts';
import { KEYS_COMMAND } from './keys.ts';
import { MIGRATE_COMMAND } from './migrate.ts';
import { UsageError } from './output.ts';
import { SERVE_COMMAND } from './serve.ts';
import { SIGNING_KEYS_COMMAND } from './signing-keys.ts';
import { didYouMean } from './suggest.ts';
import { USERS_COMMAND } from './users.ts';

/** The package's version (src/cli and dist/cli both sit two folders below package.json). */
export function version(): string {
  return serverVersion();
}

const SHELLS = ['bash', 'zsh'] as const;

const COMPLETION_COMMAND: Command = {
  name: 'completion',
  summary: 'print a shell completion script (bash or zsh)',
  usage: `Usage:
  rampart completion bash     eval "$(rampart completion bash)" in ~/.bashrc
  rampart completion zsh      source <(rampart completion zsh) in ~/.zshrc

Prints a script that completes rampart's commands, subcommands, flags and enumerated values
(event types for audit --type, shells for completion).
`,
  form: { options: {}, positionals: ['<shell>'], choices: SHELLS },
  async run(argv, io) {
    const { positionals } = parseFlags('completion', argv, {}, ['<shell>']);
    const shell = positionals[0];
    if (shell === undefined) throw new UsageError(`completion: which shell? (${SHELLS.join(', ')})`);
    if (shell === 'bash') io.out(bashCompletion(COMMANDS));
    else if (shell === 'zsh') io.out(zshCompletion(COMMANDS));
    else
      throw new UsageError(
        `completion: no completion for "${shell}"${didYouMean(shell, SHELLS)} (${SHELLS.join(', ')})`,
      );
  },
};

const VERSION_COMMAND: Command = {
  name: 'version',
  summary: 'print the version (also rampart --version)',
  usage: 'Usage:\n  rampart version      (or rampart --version)\n',
  form: { options: {} },
  async run(argv, io) {
    parseFlags('version', argv, {});
    io.out(`rampart ${version()}\n`);
  },
};

const HELP_COMMAND: Command = {
  name: 'help',
  summary: "show this text, or a command's help (rampart help <command>)",
  usage: 'Usage:\n  rampart help [<command>]\n',
  form: { options: {}, positionals: ['<command>'] },
  async run(argv, io) {
    const { positionals } = parseFlags('help', argv, {}, ['<command>']);
    const name = positionals[0];
    io.out(name === undefined ? usage() : commandNamed(name).usage);
  },
};

export const COMMANDS: readonly Command[] = [
  SERVE_COMMAND,
  KEYS_COMMAND,
  USERS_COMMAND,
  IDENTITIES_COMMAND,
  PLANS_COMMAND,
  AUDIT_COMMAND,
  SIGNING_KEYS_COMMAND,
  MIGRATE_COMMAND,
  EXPORT_COMMAND,
  IMPORT_COMMAND,
  DOCTOR_COMMAND,
  COMPLETION_COMMAND,
  HELP_COMMAND,
  VERSION_COMMAND,
];
// `help <command>` completes the command names; set here, once the table exists.
(HELP_COMMAND.form as { choices?: readonly string[] }).choices = COMMANDS.map((c) => c.name);

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: rampart <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  --help, -h     help (rampart <command> --help shows a command's; it never runs the command)
  --version      the version

The commands work on the deployment's storage: PostgreSQL when DATABASE_URL is set, else the
SQLite database in the data dir (RAMPART_DATA_DIR, default ./data). They need Node.js 24.7 or
later; inside the project, npm start and npx rampart use the project's own.
`;
}

function commandNamed(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    throw new UsageError(
      `unknown command "${name}"${didYouMean(
        name,
        COMMANDS.map((c) => c.name),
      )}`,
    );
  }
  return command;
}

const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  now: Date.now,
  errIsTTY: process.stderr.isTTY === true,
};

/** Prints `error` as one line (and, for a usage mistake, where to read more); sets the exit code. */
function report(error: unknown, command: Command | undefined, io: Io): void {
  if (error instanceof UsageError) {
    // The mistake and where the help is; the whole usage would bury the "did you mean".
    io.err(`rampart: ${error.message}\nSee "rampart ${command ? `${command.name} ` : ''}--help".\n`);
    process.exitCode = 2;
  } else if (error instanceof ConfigError) {
    io.err(
      `rampart: invalid configuration: ${error.message.replace(/\n/g, '\nrampart: invalid configuration: ')}\n`,
    );
    process.exitCode = 2;
  } else {
    io.err(`rampart: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}

let pipeWatched = false;
/**
 * A reader that stops early (`rampart keys list | head -1`, an import that refused its input)
 * closes the pipe: stop writing, quietly, as a shell tool stops on SIGPIPE (exit 141), never
 * with a stack trace.
 */
function watchPipe(): void {
  if (pipeWatched) return;
  pipeWatched = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(141);
    process.stderr.write(`rampart: cannot write to stdout: ${error.message}\n`);
    process.exit(1);
  });
}

/** The `rampart` command. */
export async function main(argv: string[], io: Io = processIo): Promise<void> {
  if (io === processIo) watchPipe();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    io.out(usage());
    return;
  }
  if (name === '--version' || name === '-v') {
    io.out(`rampart ${version()}\n`);
    return;
  }
  let command: Command | undefined;
  try {
    command = commandNamed(name);
    // Help before anything else: `rampart serve --help` starts nothing, opens and writes nothing.
    if (wantsHelp(rest)) {
      io.out(command.usage);
      return;
    }
    await command.run(rest, io);
  } catch (error) {
    report(error, command, io);
  }
}
