import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * The server's Prometheus metrics, on a registry of their own (never prom-client's global
 * one, so two servers in one process, or an embedding application, never share counters).
 * Labels are bounded: routes are the route patterns (`/v1/keys/:id`), never raw URLs.
 */
export interface Metrics {
  readonly registry: Registry;
  /** `rampart_http_requests_total{method,route,status}`. */
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  /** `rampart_http_request_duration_seconds{method,route}`. */
  readonly httpDuration: Histogram<'method' | 'route'>;
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
  return {
    registry,
    httpRequests: new Counter({
      name: 'rampart_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'rampart_http_request_duration_seconds',
      help: 'Time from the request arriving to the response being sent, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
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
