/**
 * One argument parser for every command, on `node:util` parseArgs: unknown options get a
 * "did you mean", enumerated values are checked against their list, and a mistake is a
 * `UsageError` in our words (exit 2), never the parser's own message.
 */
import { parseArgs } from 'node:util';
import { isDuration, parseDuration } from 'rampart/internal/lib/duration.ts';
import { UsageError } from './output.ts';
import { didYouMean } from './suggest.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** The value's placeholder in help and completion, e.g. `<port>`. */
  value?: string;
  /** The only values allowed (validated, and offered by shell completion). */
  choices?: readonly string[];
  /** Completion hint: the value is a file or a directory. */
  complete?: 'file' | 'directory';
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export type Values<O extends OptionSpecs> = {
  [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean;
};

export interface Parsed<O extends OptionSpecs> {
  values: Values<O>;
  positionals: string[];
}

/**
 * Parses `argv` for `command` (as it appears in messages, e.g. "keys create"). `positionals`
 * names the positional arguments the command takes; more than that is refused.
 *
 * @example
 * parseFlags('serve', ['--port', '9000'], { port: { type: 'string' } }); // { values: { port: '9000' }, positionals: [] }
 */
export function parseFlags<O extends OptionSpecs>(
  command: string,
  argv: readonly string[],
  options: O,
  positionals: readonly string[] = [],
): Parsed<O> {
  const { tokens } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(Object.entries(options).map(([name, o]) => [name, { type: o.type }])),
  });
  const values: Record<string, string | boolean> = {};
  const rest: string[] = [];
  const known = Object.keys(options).map((name) => `--${name}`);
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      rest.push(token.value);
      continue;
    }
    const spec = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (spec === undefined || token.rawName.length === 2) {
      throw new UsageError(`${command}: unknown option ${token.rawName}${didYouMean(token.rawName, known)}`);
    }
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${command}: ${token.rawName} takes no value`);
      values[token.name] = true;
      continue;
    }
    const value = token.value;
    if (value === undefined || (!token.inlineValue && value.startsWith('-') && value.length > 1)) {
      throw new UsageError(`${command}: ${token.rawName} needs a value${spec.value ? ` ${spec.value}` : ''}`);
    }
    if (spec.choices && !spec.choices.includes(value)) {
      throw new UsageError(
        `${command}: ${token.rawName} "${value}" is not a known value${didYouMean(value, spec.choices)}\n  expected one of: ${spec.choices.join(', ')}`,
      );
    }
    if (Object.hasOwn(values, token.name)) throw new UsageError(`${command}: ${token.rawName} given twice`);
    values[token.name] = value;
  }
  if (rest.length > positionals.length) {
    const extra = rest[positionals.length]!;
    throw new UsageError(
      positionals.length === 0
        ? `${command}: unexpected argument "${extra}"`
        : `${command}: unexpected argument "${extra}" (takes ${positionals.join(', ')})`,
    );
  }
  return { values: values as Values<O>, positionals: rest };
}

/** Is `argv` asking for help (`--help` or `-h` before any `--`)? */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/** A point in time: epoch ms, an ISO 8601 date-time, or a duration from `now` (`30d`). */
export function instant(text: string, flag: string, now: number): number {
  const ms = /^\d{1,16}$/.test(text)
    ? Number(text)
    : isDuration(text)
      ? now + parseDuration(text)
      : /^\d{4}-\d{2}-\d{2}/.test(text)
        ? Date.parse(text)
        : Number.NaN;
  // Past the date range (±8.64e15 ms) a time cannot be shown: refused here rather than stored.
  if (!Number.isFinite(new Date(ms).getTime()))
    throw new UsageError(`${flag}: expected an ISO 8601 date-time, epoch ms or a duration like 30d`);
  return ms;
}

/** A whole number from `min` to `max`, or a UsageError naming `flag`. */
export function wholeNumber(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`${flag}: expected a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

/** One form of a subcommand: its options and the names of its positional arguments. */
interface SubcommandForm {
  options: OptionSpecs;
  positionals?: readonly string[];
}

/**
 * The subcommand `argv` names among `forms`, and its flags parsed: a missing or unknown one is
 * a UsageError naming the subcommands (with a "did you mean").
 */
export function subcommand<F extends Record<string, SubcommandForm>>(
  command: string,
  forms: F,
  argv: string[],
) {
  const [sub, ...rest] = argv;
  const names = Object.keys(forms);
  if (sub === undefined || !Object.hasOwn(forms, sub)) {
    throw new UsageError(
      sub === undefined
        ? `${command}: expected a subcommand (${names.join(', ')})`
        : `${command}: unknown subcommand "${sub}"${didYouMean(sub, names)}`,
    );
  }
  const form = forms[sub]!;
  return { sub, ...parseFlags(`${command} ${sub}`, rest, form.options, form.positionals) };
}
