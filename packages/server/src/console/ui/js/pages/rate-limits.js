/** Rate limits: the addresses and keys blocked now (with unblock), and the allow and deny lists. */
import * as api from '../api.js';
import { ago, count, when } from '../format.js';
import { html, PageHead, Problem, useLoad, useState } from '../ui.js';

function Entries({ list, title, help }) {
  const state = useLoad(() => api.listEntries(list), [list]);
  const [error, setError] = useState(undefined);
  const add = async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const f = new FormData(form);
    try {
      await api.addEntry(list, {
        cidr: String(f.get('cidr')).trim(),
        ...(f.get('note') ? { note: String(f.get('note')) } : {}),
      });
      form.reset();
      setError(undefined);
      state.reload();
    } catch (e) {
      setError(e);
    }
  };
  const remove = async (entry) => {
    try {
      await api.removeEntry(list, entry.id);
      state.reload();
    } catch (e) {
      setError(e);
    }
  };
  return html`<section class="panel" aria-labelledby=${`${list}-title`}>
    <h2 id=${`${list}-title`}>${title}</h2>
    <p class="muted">${help}</p>
    ${
      state.error
        ? html`<${Problem} error=${state.error} what=${title} />`
        : state.data
          ? html`<ul class="plain">${(state.data.entries ?? []).map(
              (
                e,
              ) => html`<li><code>${e.cidr}</code> ${e.note ? html`<span class="muted">${e.note}</span>` : null}
                <button type="button" class="secondary small" onClick=${() => remove(e)} aria-label=${`Remove ${e.cidr} from the ${list} list`}>Remove</button></li>`,
            )}</ul>
            ${(state.data.entries ?? []).length === 0 ? html`<p class="muted">Empty.</p>` : null}
            <form class="filters" onSubmit=${add}>
              <label for=${`${list}-cidr`} class="sr-only">Address or CIDR range</label>
              <input id=${`${list}-cidr`} name="cidr" required placeholder="203.0.113.7 or 10.0.0.0/8" spellcheck="false" />
              <label for=${`${list}-note`} class="sr-only">Note</label>
              <input id=${`${list}-note`} name="note" placeholder="Note (optional)" />
              <button type="submit" class="secondary">Add</button>
            </form>`
          : html`<p class="loading" role="status">Loading…</p>`
    }
    <${Problem} error=${error} what="Changing this list" />
  </section>`;
}

export function RateLimitsPage() {
  const state = useLoad(() => api.rateLimits());
  const [error, setError] = useState(undefined);
  const [message, setMessage] = useState(undefined);
  const unblock = async (b) => {
    setError(undefined);
    try {
      await api.unblock(b.rule, b.key);
      setMessage(`Unblocked ${b.key} (${b.rule}).`);
      state.reload();
    } catch (e) {
      setError(e);
    }
  };
  const blocked = state.data?.blocked ?? [];
  return html`<${PageHead} title="Rate limits">
      <button type="button" class="secondary" onClick=${state.reload}>Refresh</button>
    </${PageHead}>
    ${state.data ? html`<p class="muted">Counters in ${state.data.store} (${state.data.storeState}).</p>` : null}
    ${message ? html`<p class="notice good" role="status">${message}</p>` : null}
    <${Problem} error=${error} what="Unblocking" />
    <${Problem} error=${state.error} />
    <section class="panel" aria-labelledby="blocked-title">
      <h2 id="blocked-title">Blocked now</h2>
      ${
        blocked.length === 0
          ? html`<p class="muted">Nothing is blocked on this instance.</p>`
          : html`<div class="table-wrap"><table class="list">
              <caption class="sr-only">Blocked addresses and keys</caption>
              <thead><tr><th scope="col">Rule</th><th scope="col">Who</th><th scope="col">Refusals</th><th scope="col">Last</th><th scope="col">Until</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
              <tbody>${blocked.map(
                (b) => html`<tr key=${`${b.rule} ${b.key}`} data-blocked-key=${b.key}>
                  <td data-label="Rule"><code>${b.rule}</code></td>
                  <td data-label="Who"><code>${b.key}</code></td>
                  <td data-label="Refusals">${count(b.count)}</td>
                  <td data-label="Last">${ago(b.lastAt)}</td>
                  <td data-label="Until">${when(b.expiresAt)}</td>
                  <td class="row-actions"><button type="button" class="secondary" onClick=${() => unblock(b)} aria-label=${`Unblock ${b.key}`}>Unblock</button></td>
                </tr>`,
              )}</tbody>
            </table></div>`
      }
    </section>
    <div class="grid">
      <${Entries} list="allow" title="Allow list" help="Addresses and ranges no limit refuses." />
      <${Entries} list="deny" title="Deny list" help="Addresses and ranges refused before anything else." />
    </div>`;
}
