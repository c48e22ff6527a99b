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
  readonly authentications: Counter<'credential' | 'outcome' | 'reason'>;
  /** `rampart_rate_limit_refusals_total{rule}`: increment it wherever a request is refused with 429. */
  readonly rateLimitRefusals: Counter<'rule'>;
  /** `rampart_api_key_verifications_total{code}`: one per verification, by its code (`VALID`, `REVOKED`, …). */
  readonly keyVerifications: Counter<'code'>;
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
  const requests = new RequestSlots();
  new Counter({
    name: 'rampart_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'],
    registers,
    // On each scrape: what the slots counted since the last one.
    collect() {
      for (const slot of requests.slots.values()) {
        for (const [status, n] of slot.pending) {
          this.inc({ method: slot.method, route: slot.route, status: String(status) }, n);
        }
        slot.pending.clear();
      }
    },
  });
  registry.registerMetric(requests.histogram() as unknown as Histogram);
  return {
    registry,
    observeRequest: (method, route, status, seconds) => requests.observe(method, route, status, seconds),
    authentications: new Counter({
      name: 'rampart_authentications_total',
      help: 'Credentials presented, by kind (bearer, api_key), outcome (success, failure) and refusal reason.',
      labelNames: ['credential', 'outcome', 'reason'],
      registers,
    }),
    rateLimitRefusals: new Counter({
      name: 'rampart_rate_limit_refusals_total',
      help: 'Requests refused with 429 by a rate-limit rule.',
      labelNames: ['rule'],
      registers,
    }),
    keyVerifications: new Counter({
      name: 'rampart_api_key_verifications_total',
      help: 'API key verifications by code (VALID, NOT_FOUND, EXPIRED, REVOKED, INSUFFICIENT_SCOPE, RATE_LIMITED, USAGE_EXCEEDED).',
      labelNames: ['code'],
      registers,
    }),
  };
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface RequestSlot {
  readonly method: string;
  readonly route: string;
  /** Requests by status since the last scrape (the counter adds them then). */
  readonly pending: Map<number, number>;
  /** Observations per bucket (the last one is `+Inf`), not cumulative. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * The request counter's and duration histogram's data, one slot per method and route (a
 * bounded set: route patterns, or `unmatched`). The histogram is a metric of its own in
 * prom-client's shape (`get()` as its Histogram answers), since prom-client has no way to add
 * counted observations to one of its own.
 */
class RequestSlots {
  readonly slots = new Map<string, RequestSlot>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const id = `${method} ${route}`;
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = {
        method,
        route,
        pending: new Map(),
        buckets: new Float64Array(DURATION_BUCKETS.length + 1),
        sum: 0,
        count: 0,
      };
      this.slots.set(id, slot);
    }
    slot.pending.set(status, (slot.pending.get(status) ?? 0) + 1);
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
