/**
 * The checks of options objects, once: every factory validates its options at creation with
 * these, and every refusal is a TypeError whose message starts with the field's path
 * (`rules[1].window: …`, `jwt.issuers[0].jwksUri: …`). A caller that passes a domain
 * factory part of its own options names where they sit with `within(path, …)`, which joins
 * the paths: messages are built right the first time, never rewritten.
 */

/** A plain boolean on purpose: a type guard would narrow typed options to `Record<string, unknown>`. */
export function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value's fields, for reading an option of unknown shape. */
export function record(value: unknown): Record<string, unknown> {
  return value as Record<string, unknown>;
}

/** `path` joined with a member name: `join('jwt', 'issuer')` is `jwt.issuer`; `join('', 'issuer')` is `issuer`. */
export function join(path: string, name: string): string {
  return path === '' ? name : name.startsWith('[') ? `${path}${name}` : `${path}.${name}`;
}

/** Refuses a field name that is not in `keys`, naming it (`jwt.isRevokd: unknown option; expected …`). */
export function knownKeys(value: object, keys: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(value)) {
    // A misspelt option silently ignored would be a silent hole (`isRevokd`, `scope`).
    if (!keys.has(key)) {
      throw new TypeError(`${join(path, key)}: unknown option; expected one of ${[...keys].join(', ')}`);
    }
  }
}

/** `value` when it is a function or absent; a TypeError naming `path` otherwise. */
export function optionalFunction<T>(value: T | undefined, path: string): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`${path}: expected a function`);
  return value;
}

/** A whole number from `min` to `max`, or a TypeError naming `path`. */
export function wholeNumber(
  value: unknown,
  path: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(
      `${path}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A frozen copy of a list of non-empty strings, or `undefined` when absent. */
export function stringList(value: unknown, path: string): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError(`${path}: expected an array of non-empty strings`);
  }
  return Object.freeze([...value]);
}

/**
 * Runs a factory that validates options nested at `path` of the caller's own, so that its
 * TypeError names the field where the caller wrote it: `within('jwt', …)` turns `issuer: …`
 * into `jwt.issuer: …`. The factory's message already starts with its field path; this only
 * joins the two.
 */
export function within<T>(path: string, make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (
      error instanceof TypeError &&
      !error.message.startsWith(`${path}.`) &&
      !error.message.startsWith(`${path}:`)
    ) {
      // A factory refusing its whole options object says `(options): …`.
      const message = error.message.startsWith('(options)')
        ? error.message.slice('(options)'.length)
        : error.message;
      throw new TypeError(message.startsWith(':') ? `${path}${message}` : `${join(path, message)}`, {
        cause: error,
      });
    }
    throw error;
  }
}
