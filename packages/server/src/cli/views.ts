/**
 * Records as the CLI shows them, built to survive a bad row: a stored instant outside the
 * JavaScript date range (an `expiresAt` of 9e15) is shown as "invalid" on its own row instead
 * of failing the whole listing, so one damaged row cannot hide every other key or event.
 */
import { eventView } from '../server/routes/admin.ts';
import { inRange, keyView } from '../server/routes/keys.ts';
import type { ApiKeyRecord, AuditEvent } from '../storage/types.ts';

/** What a bad instant is shown as. */
export const INVALID = 'invalid';

/**
 * An instant outside what the API accepts (1970 to the end of 9999), such as one an older
 * version stored or the storage layer clamped (absent ones are fine).
 */
const unrenderable = (ms: number | null | undefined): ms is number =>
  ms !== null && ms !== undefined && !inRange(ms);

export type KeyView = Omit<
  ReturnType<typeof keyView>,
  'createdAt' | 'expiresAt' | 'lastUsedAt' | 'revokedAt'
> & {
  createdAt: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /** The raw values of the fields shown as "invalid", when there are any. */
  invalid?: Record<string, number>;
};

const KEY_TIMES = ['createdAt', 'expiresAt', 'lastUsedAt', 'revokedAt'] as const;

/** `keyView`, with every unrenderable instant shown as "invalid" and kept raw in `invalid`. */
export function safeKeyView(record: ApiKeyRecord, now: number): KeyView {
  const invalid: Record<string, number> = {};
  const clean: ApiKeyRecord = { ...record };
  for (const field of KEY_TIMES) {
    const ms = record[field];
    if (unrenderable(ms)) {
      invalid[field] = ms;
      // A placeholder the view can render; replaced by INVALID below.
      if (field === 'createdAt') clean.createdAt = 0;
      else clean[field] = null;
    }
  }
  const refill = record.credits?.refill;
  if (refill && unrenderable(refill.lastRefillAt)) {
    invalid['credits.refill.lastRefillAt'] = refill.lastRefillAt;
    clean.credits = { ...record.credits!, refill: { ...refill, lastRefillAt: 0 } };
  }
  if (Object.keys(invalid).length === 0) return keyView(record, now);
  const view: KeyView = { ...keyView(clean, now), invalid };
  for (const field of KEY_TIMES) if (field in invalid) view[field] = INVALID;
  return view;
}

export type EventView = Omit<ReturnType<typeof eventView>, 'at'> & {
  at: string;
  invalid?: Record<string, number>;
};

/** `eventView`, with an unrenderable `at` shown as "invalid". */
export function safeEventView(event: AuditEvent): EventView {
  if (!unrenderable(event.at)) return eventView(event);
  return { ...eventView({ ...event, at: 0 }), at: INVALID, invalid: { at: event.at } };
}
