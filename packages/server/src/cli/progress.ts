/**
 * A progress line on stderr for long commands (`export`, `import` of 500k events take tens of
 * seconds). Shown only when stderr is a terminal: into a pipe or a log file it would be noise,
 * so there it writes nothing at all. The clock is injected, so tests need no sleeping.
 */

export interface ProgressOptions {
  /** Whether to show anything (stderr is a terminal). */
  enabled: boolean;
  write: (text: string) => void;
  now: () => number;
  /** What is being counted, e.g. "exporting". */
  label: string;
  /** The count to reach, when known ("12,000 of 500,000"). */
  total?: number;
  /** Least time between two updates, ms. Default 200. */
  everyMs?: number;
}

export interface Progress {
  /** Counts `n` more (default 1); redraws when `everyMs` has passed since the last draw. */
  tick(n?: number): void;
  /** Clears the line; the command prints its own summary after. */
  done(): void;
}

const number = (n: number) => n.toLocaleString('en-US');

/**
 * @example
 * const p = progress({ enabled: process.stderr.isTTY, write: (t) => process.stderr.write(t), now: Date.now, label: 'exporting' });
 * for (const row of rows) p.tick();
 * p.done();
 */
export function progress(options: ProgressOptions): Progress {
  if (!options.enabled) return { tick() {}, done() {} };
  const everyMs = options.everyMs ?? 200;
  const started = options.now();
  let count = 0;
  let last = started;
  const draw = () => {
    const seconds = Math.max(0, (options.now() - started) / 1000);
    const of = options.total === undefined ? '' : ` of ${number(options.total)}`;
    // \r and "erase to end of line": the line is redrawn in place.
    options.write(`\r\u001b[K${options.label} ${number(count)}${of} records (${seconds.toFixed(0)} s)`);
  };
  draw();
  return {
    tick(n = 1) {
      count += n;
      const at = options.now();
      if (at - last >= everyMs) {
        last = at;
        draw();
      }
    },
    done() {
      options.write('\r\u001b[K');
    },
  };
}
