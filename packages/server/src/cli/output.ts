/** Terminal output for the CLI: plain tables for people, JSON for scripts. */

// Names and metadata come from API callers: never let one drive the terminal (ANSI escapes).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A value as one table cell: no control characters, long text cut. */
export function cell(value: unknown, max = 40): string {
  const text =
    value === null || value === undefined ? '-' : Array.isArray(value) ? value.join(',') : String(value);
  const clean = text.replace(CONTROL, '?');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** Rows as an aligned text table with a header line. */
export function table(columns: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), ...rows.map(line)].join('\n') + '\n';
}

/** `text` as one shell word: bare when it is plainly safe, else single-quoted. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A usage or input problem: printed with the usage line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
