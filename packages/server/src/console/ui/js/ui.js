/**
 * The console's view layer: Preact with htm's tagged templates (no JSX, so no build step),
 * and the small pieces every page shares.
 */

import { useCallback, useEffect, useRef, useState } from '../vendor/hooks.js';
import htm from '../vendor/htm.js';
import { h, render } from '../vendor/preact.js';
import { isUnavailable } from './api.js';

export const html = htm.bind(h);
export { render, useCallback, useEffect, useRef, useState };

/**
 * Loads data with `load()` when the page opens and whenever `deps` change; `reload()` runs it
 * again. `state`: `{ loading, data, error }`.
 */
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ loading: true, data: undefined, error: undefined });
  const run = useCallback(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ loading: false, data, error: undefined }),
      (error) => live && setState({ loading: false, data: undefined, error }),
    );
    return () => {
      live = false;
    };
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

/** "Not available on this server" for a route that is not there yet; the problem otherwise. */
export function Problem({ error, what }) {
  if (!error) return null;
  if (isUnavailable(error)) {
    return html`<p class="notice" role="status">${what ?? 'This'} is not available on this server yet.</p>`;
  }
  const retry = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : '';
  return html`<p class="notice error" role="alert">${error.message}${error.code ? ` (${error.code})` : ''}.${retry}</p>`;
}

/** A page's heading row with its actions. */
export function PageHead({ title, children }) {
  return html`<div class="page-head"><h1 id="page-title" tabindex="-1">${title}</h1><div class="actions">${children}</div></div>`;
}

/** A modal dialog on `<dialog>` (focus is trapped and Escape closes it, natively). */
export function Dialog({ open, title, onClose, children }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return html`<dialog ref=${ref} aria-labelledby="dialog-title" onClose=${onClose}>
    ${open ? html`<h2 id="dialog-title">${title}</h2>${children}` : null}
  </dialog>`;
}

/** A status word as a badge. */
export function Badge({ value }) {
  return html`<span class=${`badge badge-${String(value).toLowerCase()}`}>${value}</span>`;
}

/** Copies `text`, saying so for screen readers too. */
export function CopyButton({ text, label = 'Copy' }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone(true);
    } catch {
      setDone(false);
    }
  };
  return html`<button type="button" class="secondary" onClick=${copy}>${done ? 'Copied' : label}</button>
    <span class="sr-only" aria-live="polite">${done ? 'Copied to the clipboard' : ''}</span>`;
}
