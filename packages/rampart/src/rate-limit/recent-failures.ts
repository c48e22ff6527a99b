/**
 * Which client addresses failed to authenticate lately. A request from any other address can
 * skip reading the failure budget: it cannot be blocked. This saves a store round trip on
 * nearly every authenticated request, and it must never skip a read that would have refused.
 *
 * - **Exact** (the budget counts in this process's memory store): every failure passes through
 *   `note()`, so the map knows every address that has counts.
 * - **Told** (the budget counts in a shared store): other instances' failures arrive as news
 *   ({@link FailureNews}, in the server a Redis channel). Until the news is live (at start,
 *   after a disconnection, until what was missed has been told) every address may be blocked.
 *   A marker lasts `window + window/4`, and a failure is published only when the address's last
 *   news does not already cover its window, so an address failing on and on is told about once
 *   per quarter window and every failure stays covered.
 *
 * The map is bounded. An exact map may forget the oldest address, which loosens the check just
 * as the memory store's own eviction does. A told map cannot know what the shared store still
 * counts, so after an eviction it asks for every address for one marker lifetime.
 */
import type { Clock } from '../lib/types.ts';

/** The most client addresses whose recent failures are remembered (as the memory store's own bound). */
export const MAX_RECENT_FAILURES = 100_000;

/** Failures told between instances that share a failure budget. */
export interface FailureNews {
  /** Tells every instance (this one may hear it too) that `address` failed; a marker until `until` (epoch ms). */
  publish(address: string, until: number): void;
  /** Starts the news; called once, by the engine, with the listener below. */
  listen(listener: FailureNewsListener): void;
}

/** What a {@link FailureNews} tells the engine. */
export interface FailureNewsListener {
  /** `address` failed somewhere: it may be blocked until `until` (epoch ms). */
  heard(address: string, until: number): void;
  /** News may be missed from now on (a lost connection): every address must be asked. */
  blind(): void;
  /** News arrives again, and everything missed has been told through `heard`. */
  sighted(): void;
}

export interface RecentFailures {
  /** Could the address (the limiter's key: IPv6 by prefix) have failures counted? */
  mayHave(address: string): boolean;
  /** The address failed here. */
  note(address: string): void;
}

export interface RecentFailuresOptions {
  windowMs: number;
  now: Clock;
  /** Most addresses remembered. */
  max: number;
  /** Given when the budget counts in a shared store. */
  news?: FailureNews;
}

/** Is `x` a {@link FailureNews}? */
export function isFailureNews(x: unknown): x is FailureNews {
  if (typeof x !== 'object' || x === null) return false;
  const news = x as Record<string, unknown>;
  return typeof news.publish === 'function' && typeof news.listen === 'function';
}

export function recentFailures(options: RecentFailuresOptions): RecentFailures {
  const { windowMs, now, max, news } = options;
  const told = news !== undefined;
  // How stale a marker may get before the address is published again (told maps only).
  const republishMs = told ? Math.ceil(windowMs / 4) : 0;
  const lifetimeMs = windowMs + republishMs;
  const until = new Map<string, number>();
  // Told maps start blind: failures counted before this process listened are unknown.
  let sighted = !told;
  let blindUntil = 0;

  const remember = (address: string, at: number): void => {
    until.delete(address);
    if (until.size >= max) {
      until.delete(until.keys().next().value!);
      if (told) blindUntil = Math.max(blindUntil, now() + lifetimeMs);
    }
    until.set(address, at);
  };

  news?.listen({
    heard(address, at) {
      if (typeof address !== 'string' || !Number.isFinite(at)) return;
      const known = until.get(address);
      if (known === undefined || known < at) remember(address, at);
    },
    blind() {
      sighted = false;
    },
    sighted() {
      sighted = true;
    },
  });

  return {
    mayHave(address) {
      if (!sighted) return true;
      const t = now();
      if (t < blindUntil) return true;
      const marker = until.get(address);
      if (marker === undefined) return false;
      if (marker > t) return true;
      until.delete(address);
      return false;
    },
    note(address) {
      const t = now();
      if (!told) return remember(address, t + windowMs);
      // Told: publish unless the last news of this address (its marker) already covers this
      // failure's window, which it does for `republishMs` after each publish.
      if ((until.get(address) ?? 0) >= t + windowMs) return;
      remember(address, t + lifetimeMs);
      news.publish(address, t + lifetimeMs);
    },
  };
}
