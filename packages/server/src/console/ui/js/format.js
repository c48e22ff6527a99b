/** Formatting shared by the pages. */
import { toMs } from './api.js';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** An instant as local date and time; "—" when absent. */
export function when(value) {
  const ms = toMs(value);
  return ms === undefined || Number.isNaN(ms) ? '—' : dateTime.format(ms);
}

/** An instant relative to now ("3 minutes ago"). */
export function ago(value, now = Date.now()) {
  const ms = toMs(value);
  if (ms === undefined || Number.isNaN(ms)) return '—';
  const s = Math.round((ms - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 60) return relative.format(s, 'second');
  if (abs < 3600) return relative.format(Math.round(s / 60), 'minute');
  if (abs < 86400) return relative.format(Math.round(s / 3600), 'hour');
  return relative.format(Math.round(s / 86400), 'day');
}

/** Milliseconds as a short duration ("15m", "2h", "30d"). */
export function duration(ms) {
  if (ms === undefined || ms === null) return '—';
  const units = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** A whole number with separators. */
export const count = (n) => (n === undefined || n === null ? '—' : new Intl.NumberFormat().format(n));
