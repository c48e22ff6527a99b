/**
 * Retention on a timer: usage buckets of each size and audit events older than their
 * retention are pruned (in batches, each atomic: see `UsageStore.prune`, `audit.prune`). Every
 * instance may run it; pruning is idempotent, so two instances pruning at once delete each row
 * once. A run that prunes audit events records an `audit_pruned` event (how many, before when).
 */
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { Storage, UsageGranularity } from '../storage/types.ts';
import type { ServerConfig } from './config.ts';

export interface Retention {
  /** One pass now (tests, `rampart audit prune`). */
  run(): Promise<{ usage: number; audit: number }>;
  close(): void;
}

/** How often retention runs. */
export const RETENTION_EVERY_MS = 3_600_000;

export function startRetention(options: {
  config: Pick<ServerConfig, 'usage' | 'audit'>;
  storage: Storage;
  now: Clock;
  onError: (error: unknown) => void;
  onAuditPruned: (count: number, before: number) => void;
  everyMs?: number;
}): Retention {
  const { config, storage, now } = options;
  const run = async () => {
    const at = now();
    let usage = 0;
    for (const granularity of ['minute', 'hour', 'day'] as UsageGranularity[]) {
      usage += await storage.usage.prune(at - config.usage.retentionMs[granularity], granularity);
    }
    let audit = 0;
    if (config.audit.retentionMs !== null) {
      const before = at - config.audit.retentionMs;
      audit = await storage.audit.prune(before);
      if (audit > 0) options.onAuditPruned(audit, before);
    }
    return { usage, audit };
  };
  const timer = setInterval(() => void run().catch(options.onError), options.everyMs ?? RETENTION_EVERY_MS);
  timer.unref();
  return { run, close: () => clearInterval(timer) };
}
