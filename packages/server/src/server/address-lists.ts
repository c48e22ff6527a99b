/**
 * The dynamic allow and deny lists of `rampart serve`: entries an admin adds at run time on
 * top of the config file's static ones. They are stored, not config-only, because a block
 * must survive a restart and reach every instance: each entry is a row of the TTL store
 * (`acl:<id>`, on SQLite or PostgreSQL like the sessions' deny-lists, expiring by itself
 * when it has an end). Every instance loads them at start, reloads them on a change
 * announced on Redis and every 15 s otherwise, and hands them to the engine
 * (`rampart.limits.addresses`), which decides.
 */

import { newId } from 'rampart/internal/lib/ids.ts';
import type { Clock } from 'rampart/internal/lib/types.ts';
import type { AddressLists, DynamicAddressEntry } from 'rampart/internal/rate-limit/address-lists.ts';
import { canonicalCidr } from 'rampart/internal/rate-limit/address-lists.ts';
import type { Storage } from '../storage/types.ts';
import type { Bus } from './redis.ts';

const PREFIX = 'acl:';
/** Instances tell each other to reload the lists on this channel. */
export const ADDRESS_LIST_CHANNEL = 'rampart:address-lists:changed';
/** "No end" as the TTL store holds it: the end of year 9999. */
const FOREVER = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A dynamic entry as stored and listed. */
export interface StoredAddressEntry extends DynamicAddressEntry {
  note?: string;
  createdAt: number;
  createdBy: string | null;
}

export interface AddressListService {
  list(): StoredAddressEntry[];
  add(input: Omit<StoredAddressEntry, 'id' | 'createdAt'>): Promise<StoredAddressEntry>;
  remove(id: string): Promise<StoredAddressEntry | undefined>;
  /** Reads the stored entries again (start, reconnect, timer). */
  reload(): Promise<void>;
  close(): void;
}

export async function createAddressListService(options: {
  storage: Storage;
  lists: AddressLists;
  now: Clock;
  bus?: Bus;
  reloadEveryMs?: number;
}): Promise<AddressListService> {
  const { storage, lists, now, bus } = options;
  let entries = new Map<string, StoredAddressEntry>();
  const reload = async () => {
    const rows = await storage.ttl.list(PREFIX, now());
    const next = new Map<string, StoredAddressEntry>();
    for (const row of rows) {
      try {
        const entry = JSON.parse(row.value) as StoredAddressEntry;
        next.set(entry.id, entry);
      } catch {
        // A row that does not parse was not written by Rampart: ignored, never half-applied.
      }
    }
    lists.replace([...next.values()]);
    entries = next;
  };
  await reload();
  await bus?.subscribe(ADDRESS_LIST_CHANNEL, {
    onMessage: () => void reload().catch(() => {}),
    onReconnect: () => void reload().catch(() => {}),
  });
  const every = options.reloadEveryMs ?? (storage.kind === 'memory' ? 0 : 15_000);
  const timer = every > 0 ? setInterval(() => void reload().catch(() => {}), every) : undefined;
  timer?.unref();
  const announce = () => bus?.publish(ADDRESS_LIST_CHANNEL, 'reload');

  return {
    list: () => {
      const at = now();
      return [...entries.values()].filter((e) => e.expiresAt == null || e.expiresAt > at);
    },
    async add(input) {
      const entry: StoredAddressEntry = {
        ...input,
        id: newId('acl'),
        cidr: canonicalCidr(input.cidr),
        createdAt: now(),
      };
      lists.put(entry); // checks the entry (routes, CIDR) before anything is stored
      await storage.ttl.put(PREFIX + entry.id, JSON.stringify(entry), entry.expiresAt ?? FOREVER);
      entries.set(entry.id, entry);
      await announce();
      return entry;
    },
    async remove(id) {
      const taken = await storage.ttl.take(PREFIX + id, now());
      const entry = entries.get(id) ?? (taken ? (JSON.parse(taken) as StoredAddressEntry) : undefined);
      lists.remove(id);
      entries.delete(id);
      if (taken === undefined) return undefined;
      await announce();
      return entry;
    },
    reload,
    close: () => clearInterval(timer),
  };
}
