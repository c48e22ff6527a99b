/** Users: search, role, disable and enable, end sessions (the admin API's user routes). */
import * as api from '../api.js';
import { ago, when } from '../format.js';
import { Badge, Dialog, html, PageHead, Problem, useLoad, useState } from '../ui.js';

export function UsersPage() {
  const [query, setQuery] = useState({ text: '', role: '', status: '' });
  const state = useLoad(() => {
    const text = query.text.trim();
    return api.listUsers({
      ...(text.includes('@') ? { email: text.toLowerCase() } : text ? { name: text } : {}),
      role: query.role,
      status: query.status,
    });
  }, [query.text, query.role, query.status]);
  const [error, setError] = useState(undefined);
  const [message, setMessage] = useState(undefined);
  const [confirm, setConfirm] = useState(undefined);
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
  const search = (event) => {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    setQuery({ text: String(f.get('q')), role: String(f.get('role')), status: String(f.get('status')) });
  };
  const users = state.data?.users ?? [];
  return html`<${PageHead} title="Users" />
    <form class="filters" role="search" onSubmit=${search}>
      <label for="user-q" class="sr-only">E-mail (start) or name</label>
      <input id="user-q" name="q" type="search" placeholder="E-mail (start) or name" />
      <label for="user-role" class="sr-only">Role</label>
      <select id="user-role" name="role"><option value="">Any role</option><option value="admin">Admins</option><option value="user">Users</option></select>
      <label for="user-status" class="sr-only">State</label>
      <select id="user-status" name="status"><option value="">Enabled and disabled</option><option value="active">Enabled</option><option value="disabled">Disabled</option></select>
      <button type="submit" class="secondary">Search</button>
    </form>
    ${message ? html`<p class="notice good" role="status">${message}</p>` : null}
    <${Problem} error=${error} what="This action" />
    <${Problem} error=${state.error} what="The user directory" />
    ${state.loading && !state.data ? html`<p class="loading" role="status">Loading…</p>` : null}
    ${
      state.data
        ? html`<div class="table-wrap"><table class="list">
            <caption class="sr-only">Users</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">E-mail</th><th scope="col">Role</th><th scope="col">State</th><th scope="col">Joined</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>${users.map(
              (u) => html`<tr key=${u.id}>
                <td data-label="Name">${u.name}</td>
                <td data-label="E-mail">${u.email}</td>
                <td data-label="Role">
                  <label class="sr-only" for=${`role-${u.id}`}>Role of ${u.email}</label>
                  <select id=${`role-${u.id}`} value=${u.role} onChange=${(e) => act(`${u.email} is now ${e.currentTarget.value}.`, () => api.setRole(u.id, e.currentTarget.value))}>
                    <option value="user">user</option><option value="admin">admin</option>
                  </select>
                </td>
                <td data-label="State"><${Badge} value=${u.disabledAt ? 'disabled' : 'active'} /></td>
                <td data-label="Joined" title=${when(u.createdAt)}>${ago(u.createdAt)}</td>
                <td class="row-actions">
                  ${
                    u.disabledAt
                      ? html`<button type="button" class="secondary" onClick=${() => act(`Enabled ${u.email}.`, () => api.enableUser(u.id))}>Enable</button>`
                      : html`<button type="button" class="secondary" onClick=${() => act(`Disabled ${u.email}.`, () => api.disableUser(u.id))}>Disable</button>`
                  }
                  <button type="button" class="danger" onClick=${() => setConfirm(u)}>End sessions</button>
                </td>
              </tr>`,
            )}</tbody>
          </table></div>
          ${users.length === 0 ? html`<p class="muted">No user matches.</p>` : null}`
        : null
    }
    <${Dialog} open=${confirm !== undefined} title=${`End every session of ${confirm?.email ?? ''}?`} onClose=${() => setConfirm(undefined)}>
      <p>Their access and refresh tokens stop working at once; they must sign in again.</p>
      <div class="actions">
        <button type="button" class="secondary" onClick=${() => setConfirm(undefined)}>Cancel</button>
        <button type="button" class="danger" onClick=${() => {
          const u = confirm;
          setConfirm(undefined);
          act(`Ended the sessions of ${u.email}.`, () => api.endSessions(u.id));
        }}>End sessions</button>
      </div>
    </${Dialog}>`;
}
