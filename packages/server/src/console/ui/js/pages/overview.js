/**
 * Overview: what the server has been refusing and why, what it has been answering, the
 * blocked addresses and keys, store health and the signing keys. Time series come from what
 * the API gives: refusals from the audit trail (by type and time, the last hour), requests and
 * key verifications from `/metrics`, sampled while the page is open (a counter has no history).
 */
import * as api from '../api.js';
import { bucketize, Chart } from '../chart.js';
import { ago, count } from '../format.js';
import { html, PageHead, Problem, useEffect, useLoad, useState } from '../ui.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** Audit types that stand for each kind of refusal. */
const REFUSALS = {
  '401 bad credential': [
    'authn_token_invalid',
    'authn_token_revoked',
    'authn_login_fail',
    'authn_token_reuse',
  ],
  '403 forbidden': ['authz_fail'],
  '429 rate limited': ['excess_rate_limit_exceeded'],
  '400 validation': ['input_validation_fail'],
};
const REASON_OF = Object.fromEntries(
  Object.entries(REFUSALS).flatMap(([reason, types]) => types.map((t) => [t, reason])),
);

/** Samples of the metrics counters, kept while the console is open (across page changes). */
const samples = [];

/** Prometheus text → the counters the overview shows. */
export function readMetrics(text) {
  const out = { requests: {}, verifications: {} };
  for (const line of text.split('\n')) {
    const m =
      /^(rampart_http_requests_total|rampart_api_key_verifications_total)\{([^}]*)\}\s+([0-9.e+]+)/.exec(
        line,
      );
    if (!m) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const value = Number(m[3]);
    if (m[1] === 'rampart_http_requests_total') {
      if (labels.route?.startsWith('/console')) continue; // the console's own files and relay: counted by their inner calls
      const klass = `${String(labels.status).slice(0, 1)}xx`;
      out.requests[klass] = (out.requests[klass] ?? 0) + value;
    } else {
      out.verifications[labels.code] = (out.verifications[labels.code] ?? 0) + value;
    }
  }
  return out;
}

async function auditSince(since) {
  const events = [];
  let cursor;
  for (let page = 0; page < 4; page++) {
    const answer = await api.audit({ since, limit: 500, cursor });
    events.push(...answer.events);
    cursor = answer.nextCursor;
    if (!cursor) break;
  }
  return events;
}

async function loadOverview() {
  const now = Date.now();
  const settle = (p) =>
    p.then(
      (value) => ({ value }),
      (error) => ({ error }),
    );
  const [metrics, events, limits, ready, jwks, signing, startup] = await Promise.all([
    settle(api.metrics()),
    settle(auditSince(now - HOUR)),
    settle(api.rateLimits()),
    settle(api.readiness()),
    settle(api.jwks()),
    settle(api.signingKeys()),
    // The storage kind (SQLite or PostgreSQL) is in the latest start's event.
    settle(api.audit({ type: 'sys_startup', limit: 1 })),
  ]);
  if (metrics.value !== undefined) {
    samples.push({ at: now, ...readMetrics(metrics.value) });
    if (samples.length > 240) samples.shift();
  }
  return {
    now,
    metrics,
    events,
    limits,
    ready,
    jwks,
    signing,
    storage: startup.value?.events[0]?.detail?.storage,
  };
}

/** Series of per-interval deltas of one counter family across the samples. */
function sampled(family) {
  if (samples.length < 3) return undefined;
  const keys = [...new Set(samples.flatMap((s) => Object.keys(s[family])))].sort();
  const x = samples.slice(1).map((s) => Math.floor(s.at / 1000));
  const series = keys.map((key) => ({
    label: key,
    values: samples
      .slice(1)
      .map((s, i) => Math.max(0, (s[family][key] ?? 0) - (samples[i][family][key] ?? 0))),
  }));
  return { x, series };
}

function Tiles({ items }) {
  return html`<dl class="tiles">
    ${items.map(([label, value, tone]) => html`<div class=${`tile ${tone ?? ''}`}><dt>${label}</dt><dd>${value}</dd></div>`)}
  </dl>`;
}

function Refusals({ events, now }) {
  const from = Math.floor((now - HOUR) / MINUTE) * MINUTE + MINUTE;
  const keys = Object.keys(REFUSALS);
  const { x, values } = bucketize(events, {
    from,
    to: from + HOUR,
    step: MINUTE,
    keys,
    keyOf: (e) => REASON_OF[e.type],
    atOf: (e) => api.toMs(e.at),
    weightOf: (e) => e.count ?? 1,
  });
  const totals = keys.map((k) => values[k].reduce((a, b) => a + b, 0));
  const summary = keys.map((k, i) => `${k}: ${totals[i]}`).join(', ');
  return html`<${Chart}
    title="Refusals by reason, last hour (per minute, from the audit trail)"
    x=${x}
    series=${keys.map((k) => ({ label: k, values: values[k] }))}
    summary=${summary}
    bars=${true}
  />`;
}

function Sampled({ family, title, empty }) {
  const data = sampled(family);
  const latest = samples.at(-1)?.[family] ?? {};
  const totals = Object.entries(latest)
    .sort()
    .map(([k, v]) => `${k}: ${count(v)}`)
    .join(', ');
  if (!data) {
    return html`<figure class="chart">
      <figcaption>${title}</figcaption>
      <p class="chart-summary">Since start: ${totals || empty}. The chart fills in as the page refreshes (Live, or Refresh).</p>
    </figure>`;
  }
  return html`<${Chart} title=${title} x=${data.x} series=${data.series} summary=${`Since start: ${totals || empty}`} />`;
}

function TopLimited({ events, blocked }) {
  const limited = events.filter((e) => e.type === 'excess_rate_limit_exceeded');
  const tally = (keyOf) => {
    const m = new Map();
    for (const e of limited) {
      const k = keyOf(e);
      if (k) m.set(k, (m.get(k) ?? 0) + (e.count ?? 1));
    }
    return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
  };
  const byIp = tally((e) => e.ip);
  const byKey = tally(
    (e) => e.detail?.keyId ?? (String(e.actor ?? '').startsWith('key_') ? e.actor : undefined),
  );
  const list = (rows, what) =>
    rows.length === 0
      ? html`<p class="muted">No ${what} limited in the last hour.</p>`
      : html`<ol class="ranked">${rows.map(([k, n]) => html`<li><code>${k}</code> <span>${count(n)}</span></li>`)}</ol>`;
  return html`<section class="panel" aria-labelledby="top-limited">
    <h2 id="top-limited">Most limited, last hour</h2>
    <div class="two">
      <div><h3>Addresses</h3>${list(byIp, 'address')}</div>
      <div><h3>Keys</h3>${list(byKey, 'key')}</div>
    </div>
    <p class="muted">Blocked now on this instance: ${count(blocked?.length ?? 0)} (<a href="#/rate-limits">rate limits</a>).</p>
  </section>`;
}

const STORAGE_NAMES = { sqlite: 'SQLite', postgres: 'PostgreSQL', memory: 'memory' };

function Health({ ready, limits, jwks, signing, storage, now }) {
  const checks = ready.value?.checks ?? {};
  const keys = jwks.value?.keys ?? [];
  const dated = signing.value?.keys;
  const current = dated?.find((k) => !k.retiredAt) ?? dated?.at(-1);
  return html`<section class="panel" aria-labelledby="health">
    <h2 id="health">Stores and signing keys</h2>
    <${Tiles}
      items=${[
        [
          `Storage${storage ? ` (${STORAGE_NAMES[storage] ?? storage})` : ''}`,
          checks.storage ?? 'unknown',
          checks.storage === 'ok' ? 'good' : 'bad',
        ],
        [
          'Redis',
          checks.redis ?? 'not configured',
          checks.redis === undefined ? '' : checks.redis === 'ok' ? 'good' : 'bad',
        ],
        [
          'Limit counters',
          limits.value ? `${limits.value.store} (${limits.value.storeState})` : '—',
          limits.value?.storeState === 'down' ? 'bad' : '',
        ],
        [
          'Signing key',
          current
            ? `${current.alg}, ${ago(current.createdAt, now).replace(/^in /, '')}`
            : keys.length > 0
              ? `${keys[0].alg} (${keys.length} published)`
              : '—',
          '',
        ],
      ]}
    />
    ${
      current
        ? null
        : html`<p class="muted">Signing-key age: not published by this server (the JWKS carries no dates). ${keys
            .map((k) => k.kid.slice(0, 10))
            .join(', ')}</p>`
    }
    ${ready.error ? html`<${Problem} error=${ready.error} />` : null}
  </section>`;
}

export function OverviewPage() {
  const [live, setLive] = useState(false);
  const state = useLoad(loadOverview);
  useEffect(() => {
    if (!live) return undefined;
    const timer = setInterval(() => document.visibilityState === 'visible' && state.reload(), 30_000);
    return () => clearInterval(timer);
  }, [live, state.reload]);
  const data = state.data;
  return html`<${PageHead} title="Overview">
      <label class="toggle"><input type="checkbox" checked=${live} onChange=${(e) => setLive(e.currentTarget.checked)} /> Live (every 30 s)</label>
      <button type="button" class="secondary" onClick=${state.reload} disabled=${state.loading}>Refresh</button>
    </${PageHead}>
    ${state.error ? html`<${Problem} error=${state.error} />` : null}
    ${
      !data
        ? html`<p class="loading" role="status">Loading…</p>`
        : html`<div class="grid">
            <section class="panel wide" aria-labelledby="refusals">
              <h2 id="refusals" class="sr-only">Refusals</h2>
              ${data.events.error ? html`<${Problem} error=${data.events.error} />` : html`<${Refusals} events=${data.events.value} now=${data.now} />`}
            </section>
            <section class="panel" aria-labelledby="requests">
              <h2 id="requests" class="sr-only">Requests</h2>
              ${data.metrics.error ? html`<${Problem} error=${data.metrics.error} />` : html`<${Sampled} family="requests" title="Requests by status class (from /metrics)" empty="none yet" />`}
            </section>
            <section class="panel" aria-labelledby="verifications">
              <h2 id="verifications" class="sr-only">Key verifications</h2>
              ${data.metrics.error ? null : html`<${Sampled} family="verifications" title="API key verifications by outcome (from /metrics)" empty="none yet" />`}
            </section>
            <${TopLimited} events=${data.events.value ?? []} blocked=${data.limits.value?.blocked} />
            <${Health} ...${data} />
          </div>`
    }`;
}
