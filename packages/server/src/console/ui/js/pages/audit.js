/**
 * The audit trail: filter by type, actor, outcome and time; follow new events live (polling
 * with `since` the newest event seen); export what the filters select as JSON Lines, built
 * from the API's listing page by page.
 */
import * as api from '../api.js';
import { AUDIT_EVENT_TYPES } from '../event-types.js';
import { when } from '../format.js';
import { Badge, html, PageHead, Problem, useEffect, useRef, useState } from '../ui.js';

const TYPES = AUDIT_EVENT_TYPES;
const FOLLOW_EVERY_MS = 10_000;
const EXPORT_PAGES = 100;

const isoOf = (local) => (local ? new Date(local).toISOString() : undefined);
const paramsOf = (f) => ({
  type: f.type,
  actor: f.actor.trim(),
  since: isoOf(f.since),
  until: isoOf(f.until),
});
const keep = (f) => (e) => !f.outcome || e.outcome === f.outcome;

function detailText(detail) {
  const entries = Object.entries(detail ?? {});
  return entries.map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
}

export function AuditPage() {
  const [filters, setFilters] = useState({ type: '', actor: '', outcome: '', since: '', until: '' });
  const [events, setEvents] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(undefined);
  const [loading, setLoading] = useState(true);
  const [follow, setFollow] = useState(false);
  const [exporting, setExporting] = useState(undefined);
  const seen = useRef(new Set());

  const load = async (more = false) => {
    setLoading(true);
    setError(undefined);
    try {
      const page = await api.audit({ ...paramsOf(filters), limit: 100, cursor: more ? cursor : undefined });
      const fresh = page.events;
      if (!more) seen.current = new Set();
      for (const e of fresh) seen.current.add(e.id);
      setEvents((old) => (more ? [...old, ...fresh] : fresh));
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load(false);
  }, [filters]);

  // Following: ask for what came since the newest event shown, and put it on top.
  useEffect(() => {
    if (!follow) return undefined;
    const poll = async () => {
      if (document.visibilityState !== 'visible') return;
      const newest = events[0]?.at;
      try {
        const page = await api.audit({
          ...paramsOf(filters),
          ...(newest ? { since: newest } : {}),
          limit: 100,
        });
        const fresh = page.events.filter((e) => !seen.current.has(e.id));
        for (const e of fresh) seen.current.add(e.id);
        if (fresh.length > 0) setEvents((old) => [...fresh, ...old]);
      } catch (e) {
        setError(e);
      }
    };
    const timer = setInterval(poll, FOLLOW_EVERY_MS);
    poll();
    return () => clearInterval(timer);
  }, [follow, filters, events[0]?.id]);

  const exportLines = async () => {
    setExporting('Exporting…');
    try {
      const lines = [];
      let next;
      for (let page = 0; page < EXPORT_PAGES; page++) {
        const answer = await api.audit({ ...paramsOf(filters), limit: 500, cursor: next });
        for (const e of answer.events.filter(keep(filters))) lines.push(JSON.stringify(e));
        next = answer.nextCursor;
        setExporting(`Exporting… ${lines.length} events`);
        if (!next) break;
      }
      const blob = new Blob(lines.length ? [`${lines.join('\n')}\n`] : [], { type: 'application/x-ndjson' });
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = `rampart-audit-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      setExporting(
        `Exported ${lines.length} events${next ? ' (the first pages only: narrow the filters for the rest)' : ''}.`,
      );
    } catch (e) {
      setError(e);
      setExporting(undefined);
    }
  };

  const apply = (event) => {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    setFilters(
      Object.fromEntries(
        ['type', 'actor', 'outcome', 'since', 'until'].map((k) => [k, String(f.get(k) ?? '')]),
      ),
    );
  };
  const shown = events.filter(keep(filters));
  return html`<${PageHead} title="Audit trail">
      <label class="toggle"><input type="checkbox" checked=${follow} onChange=${(e) => setFollow(e.currentTarget.checked)} /> Follow live</label>
      <button type="button" class="secondary" onClick=${exportLines} disabled=${exporting === 'Exporting…'}>Export JSON Lines</button>
    </${PageHead}>
    <form class="filters wrap" role="search" onSubmit=${apply} aria-label="Filter events">
      <div><label for="audit-type">Type</label>
        <select id="audit-type" name="type"><option value="">Any type</option>${TYPES.map((t) => html`<option value=${t}>${t}</option>`)}</select></div>
      <div><label for="audit-actor">Actor</label><input id="audit-actor" name="actor" placeholder="usr_… or key_…" spellcheck="false" /></div>
      <div><label for="audit-outcome">Outcome</label>
        <select id="audit-outcome" name="outcome"><option value="">Any</option><option>success</option><option>failure</option><option>blocked</option><option>info</option></select></div>
      <div><label for="audit-since">From</label><input id="audit-since" name="since" type="datetime-local" step="1" /></div>
      <div><label for="audit-until">Until</label><input id="audit-until" name="until" type="datetime-local" step="1" /></div>
      <div class="end"><button type="submit" class="secondary">Apply</button></div>
    </form>
    ${exporting ? html`<p class="notice" role="status">${exporting}</p>` : null}
    <${Problem} error=${error} />
    <div class="table-wrap">
    <table class="list audit">
      <caption class="sr-only">Security events, newest first</caption>
      <thead><tr><th scope="col">Time</th><th scope="col">Type</th><th scope="col">Outcome</th><th scope="col">Actor</th><th scope="col">Address</th><th scope="col">Detail</th></tr></thead>
      <tbody>${shown.map(
        (e) => html`<tr key=${e.id} data-event-type=${e.type}>
          <td data-label="Time">${when(e.at)}</td>
          <td data-label="Type"><code>${e.type}</code>${e.count > 1 ? html` <span class="muted">×${e.count}</span>` : null}</td>
          <td data-label="Outcome"><${Badge} value=${e.outcome} /></td>
          <td data-label="Actor">${e.actor ? html`<code>${e.actor}</code>` : '—'}</td>
          <td data-label="Address">${e.ip ?? '—'}</td>
          <td data-label="Detail" class="detail-text">${detailText(e.detail)}</td>
        </tr>`,
      )}</tbody>
    </table>
    </div>
    ${loading ? html`<p class="loading" role="status">Loading…</p>` : null}
    ${!loading && shown.length === 0 ? html`<p class="muted">No event matches.</p>` : null}
    ${cursor ? html`<button type="button" class="secondary" onClick=${() => load(true)} disabled=${loading}>Older events</button>` : null}`;
}
