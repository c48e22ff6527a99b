/**
 * What a `rampart` command is, as data: its name, one-line summary, help text, and the options
 * of each form. main.ts dispatches on it, `rampart help` prints it and `rampart completion`
 * generates the shell scripts from it, so help, parsing and completion cannot drift apart.
 */
import type { OptionSpecs } from './args.ts';

export interface Io {
  /** Results (stdout). */
  out: (text: string) => void;
  /** Warnings and progress (stderr), so `--json` output stays parseable. */
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  now: () => number;
  /** Whether stderr is a terminal: progress is shown only then, never into a pipe or a file. */
  errIsTTY: boolean;
  /** Reads a secret (tests); default: the terminal without echo, or stdin when redirected. */
  readSecret?: (prompt: string) => Promise<string>;
}

/** One form of a command: `rampart keys create …`, or the command itself when it has no subcommands. */
export interface Form {
  options: OptionSpecs;
  /** Names of the positional arguments, e.g. `['<key id>']`; completion offers `choices` for the first. */
  positionals?: readonly string[];
  choices?: readonly string[];
}

export interface Command {
  name: string;
  summary: string;
  /** The whole help text (`rampart <name> --help`). */
  usage: string;
  /** The command's options, or one form per subcommand (`keys create`, `keys list`, …). */
  form: Form | { subcommands: Readonly<Record<string, Form>> };
  run(argv: string[], io: Io): Promise<void>;
}

/** The subcommands of `command`, or none. */
export function subcommandsOf(command: Command): Readonly<Record<string, Form>> | undefined {
  return 'subcommands' in command.form ? command.form.subcommands : undefined;
}
