import { Counter, collectDefaultMetrics, type Histogram, Registry } from 'prom-client';

/**
 * The server's Prometheus metrics, on a registry of their own (never prom-client's global
 * one, so two servers in one process, or an embedding application, never share counters).
 * Labels are bounded: routes are the route patterns (`/v1/keys/:id`), never raw URLs.
 */
export interface Metrics {
  readonly registry: Registry;
  /**
   * One answered request: `rampart_http_requests_total{method,route,status}` and
   * `rampart_http_request_duration_seconds{method,route}`. Counted in plain slots per route
   * and handed to the registry when it is scraped: no label hashing per request.
   */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** `rampart_authentications_total{credential,outcome,reason}`: credential `bearer`/`api_key`, outcome `success`/`failure`. */
  readonly authentications: CountLater<'credential' | 'outcome' | 'reason'>;
  /** `rampart_rate_limit_refusals_total{rule}`: increment it wherever a request is refused with 429. */
  readonly rateLimitRefusals: CountLater<'rule'>;
  /** `rampart_api_key_verifications_total{code}`: one per verification, by its code (`VALID`, `REVOKED`, …). */
  readonly keyVerifications: CountLater<'code'>;
}

/** A counter counted in a plain map and added to its prom-client Counter on each scrape. */
export interface CountLater<L extends string> {
  inc(labels: Record<L, string>, value?: number): void;
}

function countLater<L extends string>(
  registers: Registry[],
  name: string,
  help: string,
  labelNames: readonly L[],
): CountLater<L> {
  // Label values joined by a character no label value here holds (route patterns, codes).
  const pending = new Map<string, { labels: Record<L, string>; n: number }>();
  new Counter<L>({
    name,
    help,
    labelNames,
    registers,
    collect() {
      for (const { labels, n } of pending.values()) this.inc(labels, n);
      pending.clear();
    },
  });
  return {
    inc(labels, value = 1) {
      let id = '';
      for (const label of labelNames) id += `${labels[label]}\u0000`;
      const slot = pending.get(id);
      if (slot === undefined) pending.set(id, { labels: { ...labels }, n: value });
      else slot.n += value;
    },
  };
}

/** prom-client's default gauges whose names end in `_total` (see `createMetrics`). */
export const NON_COUNTER_TOTALS = [
  'rampart_nodejs_active_handles_total',
  'rampart_nodejs_active_requests_total',
  'rampart_nodejs_active_resources_total',
] as const;

export interface MetricsOptions {
  /** Also collect Node's process metrics (CPU, memory, event-loop lag, GC). Default true. */
  processMetrics?: boolean;
}

/**
 * Creates the metrics of one server.
 *
 * @example
 * const metrics = createMetrics();
 * metrics.rateLimitRefusals.inc({ rule: 'default' });
 * reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: 'rampart_' });
    // prom-client's totals of these are gauges named `…_total`, which the Prometheus naming
    // rules keep for counters (`promtool check metrics` refuses them; prom-client#283). The
    // same numbers are `sum without (type) (rampart_nodejs_active_handles)` and likewise.
    for (const name of NON_COUNTER_TOTALS) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const requests = countLater(
    registers,
    'rampart_http_requests_total',
    'HTTP requests answered, by method, route pattern and status code.',
    ['method', 'route', 'status'],
  );
  const durations = new DurationSlots();
  registry.registerMetric(durations.histogram() as unknown as Histogram);
  return {
    registry,
    observeRequest(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      durations.observe(method, route, seconds);
    },
    authentications: countLater(
      registers,
      'rampart_authentications_total',
      'Credentials presented, by kind (bearer, api_key), outcome (success, failure) and refusal reason.',
      ['credential', 'outcome', 'reason'],
    ),
    rateLimitRefusals: countLater(
      registers,
      'rampart_rate_limit_refusals_total',
      'Requests refused with 429 by a rate-limit rule.',
      ['rule'],
    ),
    keyVerifications: countLater(
      registers,
      'rampart_api_key_verifications_total',
      'API key verifications by code (VALID, NOT_FOUND, EXPIRED, REVOKED, INSUFFICIENT_SCOPE, RATE_LIMITED, USAGE_EXCEEDED).',
      ['code'],
    ),
  };
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface DurationSlot {
  readonly method: string;
  readonly route: string;
  /** Observations per bucket (the last one is `+Inf`), not cumulative. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * The duration histogram's data, one slot per method and route (a bounded set: route
 * patterns, or `unmatched`): a metric of its own in prom-client's shape (`get()` as its
 * Histogram answers), since prom-client has no way to add counted observations to one of its
 * own.
 */
class DurationSlots {
  readonly slots = new Map<string, DurationSlot>();

  observe(method: string, route: string, seconds: number): void {
    const id = `${method} ${route}`;
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = {
        method,
        route,
        buckets: new Float64Array(DURATION_BUCKETS.length + 1),
        sum: 0,
        count: 0,
      };
      this.slots.set(id, slot);
    }
    let b = 0;
    while (b < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[b]!) b++;
    slot.buckets[b]!++;
    slot.sum += seconds;
    slot.count++;
  }

  histogram() {
    const name = 'rampart_http_request_duration_seconds';
    const slots = this.slots;
    return {
      name,
      help: 'Time from the request arriving to the response being sent, by method and route pattern.',
      type: 'histogram',
      aggregator: 'sum',
      labelNames: ['method', 'route'],
      get() {
        const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> =
          [];
        for (const slot of slots.values()) {
          const labels = { method: slot.method, route: slot.route };
          let cumulative = 0;
          DURATION_BUCKETS.forEach((le, i) => {
            cumulative += slot.buckets[i]!;
            values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${name}_bucket` });
          });
          values.push({ labels: { le: '+Inf', ...labels }, value: slot.count, metricName: `${name}_bucket` });
          values.push({ labels, value: slot.sum, metricName: `${name}_sum` });
          values.push({ labels, value: slot.count, metricName: `${name}_count` });
        }
        return { name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
      },
      reset() {
        for (const slot of slots.values()) {
          slot.buckets.fill(0);
          slot.sum = 0;
          slot.count = 0;
        }
      },
    };
  }
}
