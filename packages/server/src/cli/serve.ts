/**
 * `rampart serve`: the server, configured by flags, the environment and the config file, in
 * that order of precedence. A flag is turned into the environment variable it stands for, so
 * the server reads one configuration source (`loadConfig(env)`) and flags cannot drift from
 * the variables they override.
 */
import { ConfigError } from '../server/config.ts';
import { serve } from '../server/serve.ts';
import { parseFlags, wholeNumber } from './args.ts';
import type { Command, Io } from './command.ts';
import { loadCliConfig } from './config.ts';
import { UsageError } from './output.ts';

export const SERVE_USAGE = `Usage:
  rampart serve [--port <port>] [--host <address>] [--data-dir <dir>] [--config <file.json>]
                [--log-format json|pretty]

Runs the Rampart server until SIGTERM or SIGINT (in-flight requests finish first). On a
terminal it prints where it listens, where the data dir and the admin key are, and what to
try next, then short log lines; elsewhere it logs one JSON line per event.

Options:
  --port <port>       listen port, 0 for any free one          (env PORT, default 8080)
  --host <address>    listen address                           (env HOST, default 127.0.0.1)
  --data-dir <dir>    SQLite database, signing keys, pepper     (env RAMPART_DATA_DIR, default ./data)
  --config <file>     the JSON config file (README, Configuration)  (env RAMPART_CONFIG)
  --log-format <fmt>  json, or pretty (with the banner)         (env RAMPART_LOG_FORMAT, default:
                      pretty on a terminal, json otherwise)

Precedence: a flag wins over its environment variable, which wins over the config file.
Everything else (DATABASE_URL, REDIS_URL, RAMPART_API_KEY_PEPPER, TLS, SMTP, …) comes from the
environment; rate limits, CORS, tokens and limits come from the config file. A bad value stops
the start with a message naming it (exit 2). Check a setup first with: rampart doctor
`;

export const SERVE_OPTIONS = {
  port: { type: 'string', value: '<port>' },
  host: { type: 'string', value: '<address>' },
  'data-dir': { type: 'string', value: '<dir>', complete: 'directory' },
  config: { type: 'string', value: '<file>', complete: 'file' },
  'log-format': { type: 'string', value: '<format>', choices: ['json', 'pretty'] },
} as const;

/** The environment variable each flag of serve (and doctor) stands for. */
const VARIABLE: Record<keyof typeof SERVE_OPTIONS, string> = {
  port: 'PORT',
  host: 'HOST',
  'data-dir': 'RAMPART_DATA_DIR',
  config: 'RAMPART_CONFIG',
  'log-format': 'RAMPART_LOG_FORMAT',
};

/**
 * `env` with the given flags laid over it: flags over environment (the file is read by
 * `loadConfig` from what this answers, so it comes last).
 *
 * @example
 * envWithFlags({ PORT: '8080' }, { port: '9000' }); // { PORT: '9000' }
 */
export function envWithFlags(
  env: NodeJS.ProcessEnv,
  flags: Partial<Record<keyof typeof SERVE_OPTIONS, string>>,
): NodeJS.ProcessEnv {
  if (flags.port !== undefined) wholeNumber(flags.port, '--port', 0, 65535);
  for (const name of ['host', 'data-dir', 'config'] as const) {
    if (flags[name] !== undefined && flags[name].trim() === '')
      throw new UsageError(`--${name}: must not be empty`);
  }
  const next = { ...env };
  for (const [flag, variable] of Object.entries(VARIABLE) as Array<[keyof typeof VARIABLE, string]>) {
    if (flags[flag] !== undefined) next[variable] = flags[flag];
  }
  return next;
}

/** A ConfigError about a variable a flag set names the flag instead. */
export function inFlagTerms(
  error: ConfigError,
  flags: Partial<Record<keyof typeof SERVE_OPTIONS, string>>,
): ConfigError {
  let message = error.message;
  for (const [flag, variable] of Object.entries(VARIABLE) as Array<[keyof typeof VARIABLE, string]>) {
    // Whole names only: PORT must not match inside RAMPART_PORT-like names.
    if (flags[flag] !== undefined)
      message = message.replace(new RegExp(`\\b${variable}\\b`, 'g'), `--${flag}`);
  }
  return new ConfigError(message);
}

async function serveCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseFlags('serve', argv, SERVE_OPTIONS);
  const env = envWithFlags(io.env, values);
  try {
    // Checked here first, so an unknown config key gets its "did you mean".
    loadCliConfig(env);
  } catch (error) {
    throw error instanceof ConfigError ? inFlagTerms(error, values) : error;
  }
  await serve(env);
}

export const SERVE_COMMAND: Command = {
  name: 'serve',
  summary: 'run the Rampart server (rampart serve --help for its flags)',
  usage: SERVE_USAGE,
  form: { options: SERVE_OPTIONS },
  run: serveCommand,
};
