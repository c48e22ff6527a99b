/**
 * The console's shell: sign-in, the navigation, the page of the location's hash, and the
 * caller's API budget from the answers' `RateLimit` headers.
 */
import { onAnswer, session, setCsrfToken } from './api.js';
import { AuditPage } from './pages/audit.js';
import { IdentitiesPage } from './pages/identities.js';
import { KeysPage } from './pages/keys.js';
import { OverviewPage } from './pages/overview.js';
import { RateLimitsPage } from './pages/rate-limits.js';
import { UsersPage } from './pages/users.js';
import { html, render, useEffect, useState } from './ui.js';

const PAGES = [
  { path: 'overview', title: 'Overview', Page: OverviewPage },
  { path: 'keys', title: 'API keys', Page: KeysPage },
  { path: 'users', title: 'Users', Page: UsersPage },
  { path: 'identities', title: 'Identities', Page: IdentitiesPage },
  { path: 'audit', title: 'Audit trail', Page: AuditPage },
  { path: 'rate-limits', title: 'Rate limits', Page: RateLimitsPage },
];

const routeOf = () => {
  const path = location.hash.replace(/^#\/?/, '').split('?')[0];
  return PAGES.find((p) => p.path === path) ?? PAGES[0];
};

function SignIn({ onSignedIn, notice }) {
  const [mode, setMode] = useState('key');
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      const body =
        mode === 'key'
          ? { apiKey: String(form.get('apiKey')).trim() }
          : { email: String(form.get('email')).trim(), password: String(form.get('password')) };
      onSignedIn(await session.signIn(body));
    } catch (e) {
      setError(
        e.status === 403
          ? 'This credential is valid but not an administrator’s: the console is for admins.'
          : e.status === 401
            ? 'That did not work: check the key, or the e-mail and password.'
            : e.message,
      );
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="sign-in" id="main">
    <form class="card" onSubmit=${submit} aria-labelledby="sign-in-title">
      <h1 id="sign-in-title"><span class="logo" aria-hidden="true"></span>Rampart console</h1>
      ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
      <fieldset class="segmented">
        <legend>Sign in with</legend>
        <label><input type="radio" name="mode" checked=${mode === 'key'} onChange=${() => setMode('key')} /> Admin API key</label>
        <label><input type="radio" name="mode" checked=${mode === 'password'} onChange=${() => setMode('password')} /> E-mail and password</label>
      </fieldset>
      ${
        mode === 'key'
          ? html`<label for="apiKey">Admin API key</label>
              <input id="apiKey" name="apiKey" type="password" autocomplete="off" required spellcheck="false" />`
          : html`<label for="email">E-mail</label>
              <input id="email" name="email" type="email" autocomplete="username" required />
              <label for="password">Password</label>
              <input id="password" name="password" type="password" autocomplete="current-password" required />`
      }
      ${error ? html`<p class="notice error" role="alert">${error}</p>` : null}
      <button type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      <p class="hint">The key or password is exchanged for a session on the server; this page never stores it.</p>
    </form>
  </main>`;
}

/** `"default";r=42;t=517` → `{ policy, remaining, reset }`. */
function budgetOf(headers) {
  const value = headers.get('ratelimit');
  const match = value && /"([^"]+)";r=(\d+);t=(\d+)/.exec(value);
  return match ? { policy: match[1], remaining: Number(match[2]), reset: Number(match[3]) } : undefined;
}

function Shell({ who, onSignOut }) {
  const [route, setRoute] = useState(routeOf());
  const [budget, setBudget] = useState(undefined);
  const [menu, setMenu] = useState(false);
  useEffect(() => {
    const change = () => {
      setRoute(routeOf());
      setMenu(false);
      requestAnimationFrame(() => document.getElementById('page-title')?.focus());
    };
    addEventListener('hashchange', change);
    const off = onAnswer(({ headers }) => {
      const b = budgetOf(headers);
      if (b) setBudget(b);
    });
    return () => {
      removeEventListener('hashchange', change);
      off();
    };
  }, []);
  useEffect(() => {
    document.title = `${route.title} · Rampart console`;
  }, [route]);
  const { Page } = route;
  return html`<a class="skip" href="#main" onClick=${(e) => {
    e.preventDefault();
    document.getElementById('page-title')?.focus();
  }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/overview"><span class="logo" aria-hidden="true"></span>Rampart</a>
      <button type="button" class="menu secondary" aria-expanded=${menu} aria-controls="nav" onClick=${() => setMenu(!menu)}>Menu</button>
      <span class="who" title="Signed in">${who.label}</span>
      <button type="button" class="secondary" onClick=${onSignOut}>Sign out</button>
    </header>
    <nav id="nav" class=${menu ? 'open' : ''} aria-label="Console">
      <ul>
        ${PAGES.map(
          (p) =>
            html`<li><a href=${`#/${p.path}`} aria-current=${p === route ? 'page' : undefined}>${p.title}</a></li>`,
        )}
      </ul>
    </nav>
    <main id="main">
      <${Page} key=${route.path} />
    </main>
    <footer class="status">
      ${
        budget
          ? html`<span>API budget (${budget.policy}): ${budget.remaining} requests left, renews in ${budget.reset} s</span>`
          : html`<span>Every call runs through the admin API with this session’s credential.</span>`
      }
    </footer>`;
}

function App() {
  const [who, setWho] = useState(undefined);
  const [notice, setNotice] = useState(undefined);
  const signedIn = (view) => {
    setCsrfToken(view.csrfToken);
    setNotice(undefined);
    setWho(view);
  };
  useEffect(() => {
    session.get().then(
      (view) => (view.signedIn ? signedIn(view) : setWho(null)),
      () => setWho(null),
    );
    return onAnswer(({ status, path }) => {
      if (status === 401 && !path.startsWith('/console/session')) {
        setCsrfToken('');
        setNotice('Your session ended. Sign in again.');
        setWho(null);
      }
    });
  }, []);
  const signOut = async () => {
    try {
      await session.signOut();
    } finally {
      setCsrfToken('');
      setNotice('Signed out.');
      setWho(null);
    }
  };
  if (who === undefined) return html`<p class="loading" role="status">Loading…</p>`;
  if (who === null) return html`<${SignIn} onSignedIn=${signedIn} notice=${notice} />`;
  return html`<${Shell} who=${who} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById('app'));
