/** A duration as the config writes it: a whole number and a unit, `"30s"`, `"15m"`, `"1h"`, `"7d"`. */
export type Duration = `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;

/**
 * Parses a duration string into milliseconds.
 * @throws TypeError naming `field` when the text is not a duration.
 * @example parseDuration('15m') // 900000
 */
export function parseDuration(text: unknown, field = 'duration'): number {
  if (typeof text === 'number' && Number.isSafeInteger(text) && text >= 0) return text;
  const match = typeof text === 'string' ? DURATION.exec(text) : null;
  if (!match) {
    throw new TypeError(
      `${field}: expected a duration like "30s", "15m", "1h" or "7d", got ${JSON.stringify(text)}`,
    );
  }
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** Is `text` a duration string `parseDuration` accepts? */
export function isDuration(text: unknown): text is Duration {
  return typeof text === 'string' && DURATION.test(text);
}
