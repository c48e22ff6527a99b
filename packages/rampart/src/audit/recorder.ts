import { newId } from '../lib/ids.ts';
import type { Clock } from '../lib/types.ts';
import type { AuditEvent, AuditEventType, AuditOutcome, AuditStore } from './events.ts';
import { scrub } from './scrub.ts';

/** What a caller reports; the recorder adds id, time and count. */
export interface SecurityEventInput {
  type: AuditEventType;
  outcome: AuditOutcome;
  actor?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
  detail?: Record<string, unknown>;
}

export interface AuditRecorderOptions {
  /** Where rows go, in batches. */
  store: AuditStore;
  /** Called once per event that is written (the JSON log line). */
  log?: (event: AuditEvent) => void;
  now?: Clock;
  /** How often the buffer is written, ms. Default 1000. */
  flushIntervalMs?: number;
  /** Identical events from one source within this window become one row with a count. Default 60000. */
  collapseWindowMs?: number;
  /** Cap on buffered rows while the store is failing; the oldest are dropped past it. Default 10000. */
  maxBuffered?: number;
  /** Cap on distinct collapse keys tracked. Default 10000. */
  maxTracked?: number;
  /** Told when a batch fails to write (the rows stay buffered for the next try). */
  onError?: (error: unknown) => void;
}

export interface AuditRecorder {
  /** Records an event: O(1), no I/O on the caller's path. */
  record(input: SecurityEventInput): void;
  /** Writes everything buffered now (also closes collapse windows that have ended). */
  flush(): Promise<void>;
  /** Final flush; collapsed counts are written out. */
  close(): Promise<void>;
  /** Rows dropped because the store failed for too long. */
  readonly dropped: number;
}

const DEFAULTS = { flushIntervalMs: 1000, collapseWindowMs: 60_000, maxBuffered: 10_000, maxTracked: 10_000 };

/**
 * The security-event recorder: one JSON log line and one storage row per event, written off
 * the request path in batches and flushed on stop. Repeated identical events from one
 * source (same type, outcome, actor, ip and detail) within `collapseWindowMs` are collapsed:
 * the first is written at once, the repeats become one row whose `count` says how many, so a
 * flood of bad requests cannot fill the disk through the audit log.
 */
export function createAuditRecorder(options: AuditRecorderOptions): AuditRecorder {
  const o = { ...DEFAULTS, ...options };
  const now = o.now ?? Date.now;
  for (const field of ['flushIntervalMs', 'collapseWindowMs', 'maxBuffered', 'maxTracked'] as const) {
    if (!Number.isInteger(o[field]) || o[field] < 1)
      throw new TypeError(`audit.${field}: expected a positive integer`);
  }
  let buffer: AuditEvent[] = [];
  let dropped = 0;
  let writing: Promise<void> = Promise.resolve();
  // collapse key -> the window's first event and how many repeats followed it
  const windows = new Map<string, { first: AuditEvent; repeats: number; endsAt: number }>();

  const emit = (event: AuditEvent) => {
    o.log?.(event);
    buffer.push(event);
    if (buffer.length > o.maxBuffered) {
      dropped += buffer.length - o.maxBuffered;
      buffer = buffer.slice(-o.maxBuffered);
    }
  };

  const closeWindows = (at: number, all: boolean) => {
    for (const [key, w] of windows) {
      if (!all && w.endsAt > at) continue;
      windows.delete(key);
      if (w.repeats > 0) {
        emit({
          ...w.first,
          id: newId('evt'),
          at,
          count: w.repeats,
          detail: { ...w.first.detail, collapsed: true },
        });
      }
    }
  };

  const write = async () => {
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    try {
      await o.store.append(batch);
    } catch (error) {
      buffer = batch.concat(buffer).slice(-o.maxBuffered);
      o.onError?.(error);
    }
  };

  const flush = () => {
    closeWindows(now(), false);
    writing = writing.then(write);
    return writing;
  };

  const timer = setInterval(() => void flush(), o.flushIntervalMs);
  timer.unref();

  return {
    record(input) {
      const at = now();
      const detail = scrub(input.detail ?? {}) as Record<string, unknown>;
      const event: AuditEvent = {
        id: newId('evt'),
        type: input.type,
        at,
        outcome: input.outcome,
        detail,
        count: 1,
      };
      if (input.actor !== undefined) event.actor = input.actor;
      if (input.ip !== undefined) event.ip = input.ip;
      if (input.requestId !== undefined) event.requestId = input.requestId;
      const key = JSON.stringify([input.type, input.outcome, input.actor, input.ip, detail]);
      const open = windows.get(key);
      if (open && open.endsAt > at) {
        open.repeats++;
        return;
      }
      if (open) closeWindows(at, false);
      if (windows.size >= o.maxTracked) {
        // Evict the oldest window (Map keeps insertion order), writing out its count first.
        const [oldestKey, oldest] = windows.entries().next().value!;
        windows.delete(oldestKey);
        if (oldest.repeats > 0) emit({ ...oldest.first, id: newId('evt'), at, count: oldest.repeats });
      }
      windows.set(key, { first: event, repeats: 0, endsAt: at + o.collapseWindowMs });
      emit(event);
    },
    flush,
    async close() {
      clearInterval(timer);
      closeWindows(now(), true);
      writing = writing.then(write);
      await writing;
    },
    get dropped() {
      return dropped;
    },
  };
}
