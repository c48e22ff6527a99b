/**
 * How `rampart serve` writes its log: one JSON line per event (pino's own lines) when stdout is
 * not a terminal, or short lines for a person when it is (`--log-format json|pretty` chooses).
 * The pretty lines are made from the JSON ones, field for field, so they hold nothing the JSON
 * lines do not: no header, body, token or key is ever logged in either.
 */
import type { LogFormatSetting } from './config.ts';

export type LogFormat = 'json' | 'pretty';

/** The format in effect: the setting, or for `auto`, pretty on a terminal and JSON elsewhere. */
export function resolveLogFormat(setting: LogFormatSetting, isTTY: boolean): LogFormat {
  return setting === 'auto' ? (isTTY ? 'pretty' : 'json') : setting;
}

/** Where pino writes: anything with `write(line)`. */
export interface LineSink {
  write(text: string): unknown;
}

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
const COLORS: Readonly<Record<number, string>> = { 40: '\u001b[33m', 50: '\u001b[31m', 60: '\u001b[31m' };
const RESET = '\u001b[0m';
const DIM = '\u001b[2m';
/** pino's own fields, shown in their place rather than as `key=value`. */
const OWN_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId', 'v']);
/** The longest value shown as `key=value`; a longer one is cut (an error stack, a big detail). */
const MAX_VALUE = 240;

function clock(time: unknown): string {
  const date = new Date(typeof time === 'number' ? time : Date.now());
  return date.toTimeString().slice(0, 8);
}

function value(field: unknown): string {
  const text = typeof field === 'string' ? field : JSON.stringify(field);
  const shown = text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}…` : text;
  return /[\s"=]/.test(shown) && typeof field === 'string' ? JSON.stringify(shown) : shown;
}

/**
 * One pino JSON line as a line for a person: `12:00:01 INFO  GET /healthz 200 1.2 ms`. A line
 * that is not JSON is passed through as it is.
 *
 * @example
 * prettyLine('{"level":30,"time":0,"msg":"request","method":"GET","url":"/healthz","status":200,"ms":1.2}', false)
 * // '01:00:00 INFO  GET /healthz 200 1.2 ms\n' (in the local time zone)
 */
export function prettyLine(line: string, color: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const name = LEVELS[level] ?? String(level);
  const tint = color ? (COLORS[level] ?? '') : '';
  const head = `${color ? DIM : ''}${clock(entry.time)}${color ? RESET : ''} ${tint}${name}${tint ? RESET : ''}`;
  const rest = { ...entry };
  let text: string;
  if (entry.msg === 'request') {
    text = `${entry.method} ${entry.url} ${entry.status} ${entry.ms} ms`;
    for (const shown of ['method', 'url', 'status', 'ms', 'route', 'ua']) delete rest[shown];
  } else if (entry.msg === 'security_event' && typeof entry.event === 'object' && entry.event !== null) {
    const event = entry.event as Record<string, unknown>;
    text = `security event ${event.type} ${event.outcome}`;
    delete rest.event;
    for (const [key, field] of Object.entries(event)) {
      if (!['type', 'outcome', 'id', 'at'].includes(key) && field !== undefined) rest[key] = field;
    }
  } else {
    text = String(entry.msg ?? '');
  }
  const fields = Object.entries(rest)
    .filter(([key, field]) => !OWN_FIELDS.has(key) && field !== undefined && field !== null)
    .map(([key, field]) => `${key}=${value(field)}`);
  return `${head} ${text}${fields.length > 0 ? `  ${color ? DIM : ''}${fields.join(' ')}${color ? RESET : ''}` : ''}\n`;
}

/** A sink for pino that writes pretty lines to `out`. pino writes one whole line per call. */
export function prettySink(out: LineSink, color: boolean): LineSink {
  return {
    write(text: string) {
      for (const line of text.split('\n')) if (line !== '') out.write(prettyLine(line, color));
      return true;
    },
  };
}
