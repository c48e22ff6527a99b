/**
 * API keys: search and filter, create (the secret shown once), rotate with a grace period,
 * disable and enable, revoke, edit limits and credits, and each key's usage.
 */
import * as api from '../api.js';
import { bucketize, Chart } from '../chart.js';
import { ago, count, duration, when } from '../format.js';
import { Badge, CopyButton, Dialog, html, PageHead, Problem, useLoad, useState } from '../ui.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const statusOf = (key) => (key.disabledAt || key.enabled === false ? 'disabled' : key.status);

function CreateKey({ onDone }) {
  const [error, setError] = useState(undefined);
  const [made, setMade] = useState(undefined);
  const submit = async (event) => {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const scopes = String(f.get('scopes') ?? '')
      .split(/[\s,]+/)
      .filter(Boolean);
    const body = { name: String(f.get('name')).trim(), scopes };
    const expires = String(f.get('expiresAt') ?? '');
    if (expires) body.expiresAt = new Date(`${expires}T23:59:59`).toISOString();
    const limit = Number(f.get('limit'));
    if (limit > 0) body.rateLimit = { limit, window: String(f.get('window') || '1m') };
    const credits = String(f.get('credits') ?? '');
    if (credits !== '') body.credits = { remaining: Number(credits) };
    if (f.get('owner') === 'none') body.ownerId = null;
    try {
      setMade(await api.createKey(body));
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  };
  if (made) {
    return html`<div class="secret-once">
      <p><strong>Copy this key now.</strong> It is shown this once; the server keeps only its hash.</p>
      <p class="secret"><code id="new-key-secret">${made.key}</code></p>
      <div class="actions">
        <${CopyButton} text=${made.key} label="Copy key" />
        <button type="button" onClick=${() => onDone(made)}>I have stored it</button>
      </div>
    </div>`;
  }
  return html`<form onSubmit=${submit} class="form">
    <label for="key-name">Name</label>
    <input id="key-name" name="name" required maxlength="200" />
    <label for="key-scopes">Scopes <span class="muted">(space or comma separated)</span></label>
    <input id="key-scopes" name="scopes" placeholder="orders:read orders:write" spellcheck="false" />
    <label for="key-owner">Owner</label>
    <select id="key-owner" name="owner"><option value="me">Me (the signed-in admin)</option><option value="none">No owner</option></select>
    <label for="key-expires">Expires <span class="muted">(optional)</span></label>
    <input id="key-expires" name="expiresAt" type="date" />
    <div class="two">
      <div><label for="key-limit">Rate limit <span class="muted">(requests)</span></label><input id="key-limit" name="limit" type="number" min="1" /></div>
      <div><label for="key-window">per</label><select id="key-window" name="window"><option>1s</option><option selected>1m</option><option>1h</option><option>1d</option></select></div>
    </div>
    <label for="key-credits">Credits <span class="muted">(optional; empty is unlimited)</span></label>
    <input id="key-credits" name="credits" type="number" min="0" />
    <${Problem} error=${error} />
    <div class="actions"><button type="button" class="secondary" onClick=${() => onDone()}>Cancel</button><button type="submit">Create key</button></div>
  </form>`;
}

function Usage({ keyId }) {
  const state = useLoad(async () => {
    const until = Date.now();
    return {
      until,
      answer: await api.keyUsage(keyId, {
        granularity: 'minute',
        since: new Date(until - HOUR).toISOString(),
        until: new Date(until).toISOString(),
      }),
    };
  }, [keyId]);
  if (state.loading) return html`<p class="loading" role="status">Loading usage…</p>`;
  if (state.error) return html`<${Problem} error=${state.error} what="Usage per key" />`;
  const { until, answer } = state.data;
  const buckets = answer.buckets ?? [];
  const outcomes = [...new Set(buckets.flatMap((b) => Object.keys(b.outcomes ?? {})))].sort();
  const keys = outcomes.length > 0 ? outcomes : ['VALID'];
  const from = Math.floor((until - HOUR) / MINUTE) * MINUTE + MINUTE;
  const items = buckets.flatMap((b) =>
    Object.entries(b.outcomes ?? {}).map(([outcome, n]) => ({ at: api.toMs(b.start), outcome, n })),
  );
  const { x, values } = bucketize(items, {
    from,
    to: from + HOUR,
    step: MINUTE,
    keys,
    keyOf: (i) => i.outcome,
    atOf: (i) => i.at,
    weightOf: (i) => i.n,
  });
  const total = buckets.reduce((a, b) => a + (b.total ?? 0), 0);
  return html`<${Chart}
    title="Verifications of this key, last hour (per minute)"
    x=${x}
    series=${keys.map((k) => ({ label: k, values: values[k] }))}
    summary=${`${count(total)} verifications: ${keys.map((k) => `${k} ${values[k].reduce((a, b) => a + b, 0)}`).join(', ')}`}
    bars=${true}
    height=${160}
  />`;
}

function EditLimits({ apiKey, onSaved }) {
  const [error, setError] = useState(undefined);
  const submit = async (event) => {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const limit = Number(f.get('limit'));
    const credits = String(f.get('credits') ?? '');
    const patch = {
      name: String(f.get('name')).trim(),
      rateLimit: limit > 0 ? { limit, window: String(f.get('window')) } : null,
      credits: credits === '' ? null : { remaining: Number(credits) },
    };
    try {
      onSaved(await api.updateKey(apiKey.id, patch));
    } catch (e) {
      setError(e);
    }
  };
  const windowText = apiKey.rateLimit ? duration(apiKey.rateLimit.windowMs) : '1m';
  return html`<form class="form" onSubmit=${submit}>
    <label for="edit-name">Name</label>
    <input id="edit-name" name="name" required value=${apiKey.name} />
    <div class="two">
      <div><label for="edit-limit">Rate limit <span class="muted">(empty: none)</span></label><input id="edit-limit" name="limit" type="number" min="1" value=${apiKey.rateLimit?.limit ?? ''} /></div>
      <div><label for="edit-window">per</label><select id="edit-window" name="window">${['1s', '1m', '1h', '1d'].map((w) => html`<option selected=${w === windowText}>${w}</option>`)}</select></div>
    </div>
    <label for="edit-credits">Credits remaining <span class="muted">(empty: unlimited)</span></label>
    <input id="edit-credits" name="credits" type="number" min="0" value=${apiKey.credits?.remaining ?? ''} />
    <${Problem} error=${error} what="Editing a key" />
    <div class="actions"><button type="submit">Save</button></div>
  </form>`;
}

function KeyDetail({ apiKey, onChanged }) {
  const [editing, setEditing] = useState(false);
  return html`<div class="detail">
    <dl class="facts">
      <div><dt>Id</dt><dd><code>${apiKey.id}</code></dd></div>
      <div><dt>Owner</dt><dd>${apiKey.ownerId ? html`<code>${apiKey.ownerId}</code>` : 'none (admin key)'}</dd></div>
      <div><dt>Created</dt><dd>${when(apiKey.createdAt)}</dd></div>
      <div><dt>Expires</dt><dd>${when(apiKey.expiresAt)}</dd></div>
      <div><dt>Last used</dt><dd>${apiKey.lastUsedAt ? ago(apiKey.lastUsedAt) : 'never'}</dd></div>
      <div><dt>Rate limit</dt><dd>${apiKey.rateLimit ? `${apiKey.rateLimit.limit} per ${duration(apiKey.rateLimit.windowMs)}` : 'none of its own'}</dd></div>
      <div><dt>Credits</dt><dd>${apiKey.credits ? count(apiKey.credits.remaining) : 'unlimited'}</dd></div>
      ${apiKey.rotatedFrom ? html`<div><dt>Rotated from</dt><dd><code>${apiKey.rotatedFrom}</code></dd></div>` : null}
    </dl>
    <${Usage} keyId=${apiKey.id} />
    ${
      editing
        ? html`<${EditLimits} apiKey=${apiKey} onSaved=${(k) => {
            setEditing(false);
            onChanged(k);
          }} />`
        : html`<button type="button" class="secondary" onClick=${() => setEditing(true)}>Edit name, limits and credits</button>`
    }
  </div>`;
}

export function KeysPage() {
  const state = useLoad(() => api.listKeys());
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState('live');
  const [open, setOpen] = useState(undefined);
  const [dialog, setDialog] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [message, setMessage] = useState(undefined);
  const keys = state.data?.keys ?? [];
  const needle = search.trim().toLowerCase();
  const shown = keys.filter((k) => {
    const s = statusOf(k);
    if (status === 'live' && (s === 'revoked' || s === 'expired')) return false;
    if (status !== 'live' && status !== 'all' && s !== status) return false;
    if (!needle) return true;
    return [k.name, k.id, k.hint, k.prefix, k.ownerId, ...(k.scopes ?? [])].some((v) =>
      String(v ?? '')
        .toLowerCase()
        .includes(needle),
    );
  });
  const act = async (what, fn) => {
    setError(undefined);
    try {
      await fn();
      setMessage(what);
      state.reload();
    } catch (e) {
      setError(e);
    }
  };
  const close = () => setDialog(undefined);
  return html`<${PageHead} title="API keys">
      <button type="button" onClick=${() => setDialog({ kind: 'create' })}>New key</button>
    </${PageHead}>
    <div class="filters" role="search">
      <label for="key-search" class="sr-only">Search keys</label>
      <input id="key-search" type="search" placeholder="Search name, id, scope, owner" value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} />
      <label for="key-status" class="sr-only">Status</label>
      <select id="key-status" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}>
        <option value="live">Active and ending</option><option value="active">Active</option><option value="disabled">Disabled</option>
        <option value="ending">Ending (rotated)</option><option value="expired">Expired</option><option value="revoked">Revoked</option><option value="all">All</option>
      </select>
    </div>
    ${message ? html`<p class="notice good" role="status">${message}</p>` : null}
    <${Problem} error=${error} what="This action" />
    <${Problem} error=${state.error} />
    ${state.loading && !state.data ? html`<p class="loading" role="status">Loading…</p>` : null}
    <div class="table-wrap">
    <table class="list">
      <caption class="sr-only">API keys (${shown.length} shown)</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Scopes</th><th scope="col">Status</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${shown.map((k) => {
          const s = statusOf(k);
          const ended = s === 'revoked' || s === 'expired';
          return html`<tr key=${k.id} data-key-id=${k.id}>
            <td data-label="Name"><button type="button" class="link" aria-expanded=${open === k.id} onClick=${() => setOpen(open === k.id ? undefined : k.id)}>${k.name}</button></td>
            <td data-label="Key"><code class="nowrap">${k.hint}</code></td>
            <td data-label="Scopes">${(k.scopes ?? []).length ? k.scopes.map((x) => html`<code class="scope">${x}</code> `) : html`<span class="muted">none</span>`}</td>
            <td data-label="Status"><${Badge} value=${s} /></td>
            <td data-label="Last used">${k.lastUsedAt ? ago(k.lastUsedAt) : 'never'}</td>
            <td class="row-actions">
              ${
                ended
                  ? null
                  : html`<button type="button" class="secondary" onClick=${() => setDialog({ kind: 'rotate', key: k })}>Rotate</button>
                    ${
                      s === 'disabled'
                        ? html`<button type="button" class="secondary" onClick=${() => act(`Enabled ${k.name}.`, () => api.updateKey(k.id, { enabled: true }))}>Enable</button>`
                        : html`<button type="button" class="secondary" onClick=${() => act(`Disabled ${k.name}.`, () => api.updateKey(k.id, { enabled: false }))}>Disable</button>`
                    }
                    <button type="button" class="danger" onClick=${() => setDialog({ kind: 'revoke', key: k })}>Revoke</button>`
              }
            </td>
          </tr>
          ${open === k.id ? html`<tr class="detail-row"><td colspan="6"><${KeyDetail} apiKey=${k} onChanged=${() => state.reload()} /></td></tr>` : null}`;
        })}
      </tbody>
    </table>
    </div>
    ${state.data && shown.length === 0 ? html`<p class="muted">No key matches.</p>` : null}
    <${Dialog} open=${dialog?.kind === 'create'} title="New API key" onClose=${close}>
      <${CreateKey} onDone=${(made) => {
        close();
        if (made) {
          setMessage(`Created ${made.name}.`);
          state.reload();
        }
      }} />
    </${Dialog}>
    <${Dialog} open=${dialog?.kind === 'rotate'} title=${`Rotate ${dialog?.key?.name ?? ''}`} onClose=${close}>
      <${Rotate} apiKey=${dialog?.key} onDone=${(made) => {
        if (!made) close();
        else state.reload();
      }} />
    </${Dialog}>
    <${Dialog} open=${dialog?.kind === 'revoke'} title=${`Revoke ${dialog?.key?.name ?? ''}?`} onClose=${close}>
      <p>The key <code>${dialog?.key?.hint}</code> is refused everywhere at once. This cannot be undone.</p>
      <div class="actions">
        <button type="button" class="secondary" onClick=${close}>Cancel</button>
        <button type="button" class="danger" onClick=${() => {
          const k = dialog.key;
          close();
          act(`Revoked ${k.name}.`, () => api.revokeKey(k.id));
        }}>Revoke key</button>
      </div>
    </${Dialog}>`;
}

function Rotate({ apiKey, onDone }) {
  const [made, setMade] = useState(undefined);
  const [error, setError] = useState(undefined);
  const submit = async (event) => {
    event.preventDefault();
    const grace = String(new FormData(event.currentTarget).get('grace'));
    try {
      const rotated = await api.rotateKey(apiKey.id, grace === '0' ? undefined : grace);
      setMade(rotated);
      onDone(rotated);
    } catch (e) {
      setError(e);
    }
  };
  if (made) {
    return html`<div class="secret-once">
      <p><strong>Copy the new key now.</strong> It is shown this once. The old key works until ${when(made.previous?.revokedAt)}.</p>
      <p class="secret"><code>${made.key}</code></p>
      <div class="actions"><${CopyButton} text=${made.key} label="Copy key" /><button type="button" onClick=${() => onDone()}>I have stored it</button></div>
    </div>`;
  }
  return html`<form class="form" onSubmit=${submit}>
    <p>A new key with the same settings replaces <code>${apiKey?.hint}</code>.</p>
    <label for="grace">The old key keeps working for</label>
    <select id="grace" name="grace"><option value="0">no time: it stops now</option><option value="15m">15 minutes</option><option value="1h" selected>1 hour</option><option value="1d">1 day</option><option value="7d">7 days</option></select>
    <${Problem} error=${error} />
    <div class="actions"><button type="button" class="secondary" onClick=${() => onDone()}>Cancel</button><button type="submit">Rotate</button></div>
  </form>`;
}
