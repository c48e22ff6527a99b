/**
 * Usage counting off the request path: each verification adds one to an in-memory tally keyed
 * by key, identity, outcome and minute; a timer writes the tally in one `storage.usage.add`
 * batch (an upsert that adds, so several instances sum exactly). A failed write keeps its
 * counts for the next flush, so a database blip loses nothing; the tally is bounded, and past
 * the bound the oldest counts are written at once rather than dropped silently.
 */
import type { KeyVerificationCode } from 'rampart/internal/api-keys/verify.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { UsageEntry, UsageStore } from '../storage/types.ts';

export interface UsageRecorder {
  /** Counts one verification of `keyId` (and of its identity) with `outcome` at `now`. */
  count(keyId: string, identityId: string | null, outcome: KeyVerificationCode): void;
  /** Writes what is tallied (awaited on stop and by tests). */
  flush(): Promise<void>;
  /** Stops the timer and writes the rest. */
  close(): Promise<void>;
}

const MINUTE_MS = 60_000;
/** Distinct (key, identity, outcome, minute) cells held before a flush is forced. */
const MAX_CELLS = 50_000;

export function createUsageRecorder(options: {
  store: UsageStore;
  intervalMs: number;
  now: Clock;
  onError: (error: unknown) => void;
}): UsageRecorder {
  const { store, now, onError } = options;
  let tally = new Map<string, UsageEntry>();
  let writing: Promise<void> | undefined;

  const flush = async (): Promise<void> => {
    await writing;
    if (tally.size === 0) return;
    const batch = tally;
    tally = new Map();
    writing = (async () => {
      try {
        await store.add([...batch.values()]);
      } catch (error) {
        // Kept for the next flush: counts are added, so writing them late is still exact.
        for (const [cell, entry] of batch) {
          const held = tally.get(cell);
          if (held) held.count = (held.count ?? 1) + (entry.count ?? 1);
          else tally.set(cell, entry);
        }
        onError(error);
      }
    })();
    await writing;
    writing = undefined;
  };

  const timer = setInterval(() => void flush(), options.intervalMs);
  timer.unref();

  return {
    count(keyId, identityId, outcome) {
      const at = now();
      const minute = at - (at % MINUTE_MS);
      const cell = `${keyId} ${identityId ?? ''} ${outcome} ${minute}`;
      const held = tally.get(cell);
      if (held) held.count = (held.count ?? 1) + 1;
      else {
        tally.set(cell, { keyId, identityId, outcome, at: minute, count: 1 });
        if (tally.size >= MAX_CELLS) void flush();
      }
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
