import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { type TestServer, tempDir, testServer } from './helpers.ts';

/**
 * The console in a real browser: Debian's Chromium driven by playwright-core, against a
 * server listening on loopback. One browser and one page for the whole file.
 *
 * Watched during the whole run: every request the page makes goes to the server's own origin;
 * no Content-Security-Policy violation is reported (`securitypolicyviolation`, and no console
 * message about the policy); no uncaught error. axe-core, injected into the page, finds no
 * serious or critical violation on any page.
 *
 * `CONSOLE_SCREENSHOTS=docs/console` writes a screenshot of each page at desktop and phone width.
 */

const SHOTS = process.env.CONSOLE_SCREENSHOTS ? resolve(process.env.CONSOLE_SCREENSHOTS) : undefined;
const PASSWORD = 'correct horse battery staple';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };
const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// The browser globals the page functions below touch (this file compiles without the DOM lib).
declare const window: unknown;
declare const document: {
  activeElement: { id: string; textContent: string | null } | null;
  body: unknown;
  cookie: string;
  querySelectorAll(selector: string): { length: number };
  addEventListener(
    type: 'securitypolicyviolation',
    listener: (e: {
      violatedDirective: string;
      blockedURI: string;
      sourceFile: string;
      lineNumber: number;
    }) => void,
  ): void;
};
declare const navigator: { clipboard: { readText(): Promise<string> } };
declare function getComputedStyle(element: unknown): { backgroundColor: string };

let server: TestServer;
let base: string;
let admin: string;
let context: BrowserContext;
let page: Page;
const foreign: string[] = [];
const consoleProblems: string[] = [];
const pageErrors: string[] = [];
const violations: string[] = [];

before(async () => {
  server = await testServer({
    file: {
      // The whole file is one client on 127.0.0.1: the default 100 per 15 minutes would end it.
      rateLimit: {
        default: { limit: 100_000, window: '15m' },
        rules: [{ name: 'demo', route: 'GET /api/protected', limit: 1, window: '1h' }],
      },
    },
  });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  admin = readFileSync(join(server.dataDir, 'admin-key'), 'utf8').trim();
  // A fresh profile (user data dir) per run: one browser, one context, for the whole file.
  context = await chromium.launchPersistentContext(tempDir('rampart-chromium-'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: DESKTOP,
    colorScheme: 'light',
    acceptDownloads: true,
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  // Runs in every document before its own scripts (through the debugger, not subject to the
  // CSP), and reports to the test across navigations.
  await context.exposeBinding('reportCspViolation', (_source, text: string) => {
    violations.push(text);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const w = window as unknown as { reportCspViolation(text: string): void };
      w.reportCspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('request', (r) => {
    const url = r.url();
    if (url.startsWith('blob:')) {
      if (!url.startsWith(`blob:${base}/`)) foreign.push(url);
    } else if (new URL(url).origin !== base) foreign.push(url);
  });
  page.on('console', (m) => {
    const text = m.text();
    // A refused call's status shows as "Failed to load resource": expected where a step asks for it.
    if (m.type() === 'error' && !text.startsWith('Failed to load resource')) consoleProblems.push(text);
    if (/Content.Security.Policy/i.test(text)) consoleProblems.push(text);
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await context?.close();
  await server?.close();
});

/** axe-core on the page as it is now: no serious or critical violation. */
async function accessible(what: string) {
  await page.evaluate(AXE);
  const results = await page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run(ctx: unknown, o: unknown): Promise<{ violations: unknown[] }> } }
    ).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations as Array<{
      id: string;
      impact: string;
      nodes: Array<{ target: string[] }>;
    }>;
  });
  const bad = results
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(bad, [], `axe on ${what}`);
}

async function shoot(name: string) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(150); // a chart redraws on resize (a frame, not a threshold)
  await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}

async function open(path: string, heading: string) {
  await page.goto(`${base}/console/#/${path}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  await page
    .locator('.loading')
    .first()
    .waitFor({ state: 'detached' })
    .catch(() => {});
}

/** A request from another loopback address (so blocking it does not block the browser). */
function fromOtherAddress(path: string): Promise<number> {
  const { port } = new URL(base);
  return new Promise((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, localAddress: '127.0.0.2' }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
}

async function api(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { 'x-api-key': admin, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.text() };
}

test('the console in Chromium: sign-in, keys, audit, rate limits, users, CSRF and sign-out, accessible, CSP-clean, same-origin only', async (t) => {
  let secret = '';
  let keyId = '';

  await t.test('a non-admin is refused at sign-in', async () => {
    const email = 'not-an-admin@example.com';
    await api('POST', '/v1/auth/register', { email, password: PASSWORD, name: 'Nadia' });
    await page.goto(`${base}/console/`);
    await page.getByRole('heading', { name: 'Rampart console' }).waitFor();
    await accessible('sign-in');
    await shoot('sign-in');
    await page.getByLabel('E-mail and password').check();
    await page.getByLabel('E-mail', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not an administrator' }).waitFor();
    assert.equal((await context.cookies()).length, 0, 'no session cookie');
  });

  await t.test('an admin key signs in; the session cookie is HttpOnly and SameSite=Strict', async () => {
    await page.getByLabel('Admin API key').first().check();
    await page.locator('#apiKey').fill(admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Console' }).waitFor();
    const [cookie] = await context.cookies();
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.equal(cookie?.path, '/console');
    assert.equal(await page.evaluate(() => document.cookie), '', 'no script can read it');
  });

  await t.test('the overview shows the charts, the stores and the signing key', async () => {
    await open('overview', 'Overview');
    await page.getByText('Refusals by reason, last hour').waitFor();
    assert.ok((await page.locator('.uplot canvas').count()) >= 1, 'a uPlot chart is drawn');
    await page.locator('.tile', { hasText: 'Storage' }).getByText('ok').waitFor();
    // Two more samples of /metrics: the sampled charts get two intervals.
    for (let i = 0; i < 2; i++) {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.getByRole('button', { name: 'Refresh', disabled: false }).waitFor();
    }
    await page.getByText('Requests by status class').waitFor();
    await accessible('overview');
    await shoot('overview');
  });

  await t.test('the keyboard reaches the skip link and the navigation', async () => {
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.getByRole('link', { name: 'API keys' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    await page.waitForFunction(() => document.activeElement?.id === 'page-title');
  });

  await t.test('a key is created and its secret shown once, with a copy button', async () => {
    await page.getByRole('button', { name: 'New key' }).click();
    const dialog = page.getByRole('dialog', { name: 'New API key' });
    await dialog.getByLabel('Name').fill('browser test key');
    await dialog.getByLabel(/^Scopes/).fill('orders:read');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    secret = (await dialog.locator('#new-key-secret').textContent()) ?? '';
    assert.match(secret, /^rk_live_[A-Za-z0-9]{49}$/);
    await dialog.getByRole('button', { name: 'Copy key' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await accessible('the new key dialog');
    await dialog.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByRole('button', { name: 'browser test key' }).waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the secret is gone from the page');
    const listed = await api('GET', '/v1/keys');
    keyId = (JSON.parse(listed.body).keys as Array<{ id: string; name: string }>).find(
      (k) => k.name === 'browser test key',
    )!.id;
    assert.ok(!listed.body.includes(secret), 'and the API never shows it again');
  });

  await t.test('the key is used from the test; its usage chart and its audit row appear', async () => {
    // Verified (usage), and refused on a route it may not call (an audit row with the key as actor).
    const verified = await api('POST', '/v1/keys/verify', { key: secret });
    assert.equal(JSON.parse(verified.body).valid, true);
    const refused = await fetch(`${base}/v1/keys`, { headers: { 'x-api-key': secret } });
    assert.equal(refused.status, 403);
    await server.context.audit.flush();

    await page.getByRole('button', { name: 'browser test key' }).click();
    await page.getByText('Verifications of this key, last hour').waitFor();
    await page.locator('.detail .chart-summary', { hasText: /[1-9]\d* verifications/ }).waitFor();
    await accessible('a key with its details open');
    await shoot('keys');

    await open('audit', 'Audit trail');
    await page.getByLabel('Actor').fill(keyId);
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('tr[data-event-type="authz_fail"]').first().waitFor();
    // Following live: a new refusal of the key shows up on top without reloading. (Another
    // route: a repeat of the same refusal within a minute is collapsed into one later row.)
    await page.getByLabel('Follow live').check();
    const before = await page.locator('tr[data-event-type="authz_fail"]').count();
    assert.equal((await fetch(`${base}/metrics`, { headers: { 'x-api-key': secret } })).status, 403);
    await server.context.audit.flush();
    await page.getByLabel('Follow live').uncheck();
    await page.getByLabel('Follow live').check(); // polls at once when turned on
    await page.waitForFunction(
      (n) => document.querySelectorAll('tr[data-event-type="authz_fail"]').length > n,
      before,
    );
    await page.getByLabel('Follow live').uncheck();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export JSON Lines' }).click();
    const file = await (await download).path();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.ok(lines.length >= 2);
    for (const line of lines) assert.equal(JSON.parse(line).actor, keyId);
    assert.ok(!readFileSync(file, 'utf8').includes(secret), 'the export holds no key');
    await accessible('audit');
    await page.getByLabel('Actor').fill('');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('tr[data-event-type="key_created"]').first().waitFor();
    await shoot('audit');
  });

  await t.test('the key is disabled and enabled again', async () => {
    await open('keys', 'API keys');
    const row = page.locator(`tr[data-key-id="${keyId}"]`);
    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByText('disabled').waitFor();
    const refused = await fetch(`${base}/v1/keys/verify`, {
      method: 'POST',
      headers: { 'x-api-key': admin, 'content-type': 'application/json' },
      body: JSON.stringify({ key: secret }),
    });
    assert.equal(((await refused.json()) as { valid: boolean }).valid, false);
    await page.getByLabel('Status').selectOption('all');
    await row.getByRole('button', { name: 'Enable' }).click();
    await row.getByText('active').waitFor();
    assert.equal(JSON.parse((await api('GET', `/v1/keys/${keyId}`)).body).status, 'active');
  });

  await t.test('a blocked address is unblocked', async () => {
    assert.equal(await fromOtherAddress('/api/protected'), 401);
    assert.equal(await fromOtherAddress('/api/protected'), 429);
    await open('rate-limits', 'Rate limits');
    const row = page.locator('tr[data-blocked-key*="127.0.0.2"]');
    await row.waitFor();
    await accessible('rate limits');
    await shoot('rate-limits');
    await row.getByRole('button', { name: /^Unblock/ }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal(await fromOtherAddress('/api/protected'), 401, 'the address is let through again');
  });

  await t.test('users and identities', async () => {
    await open('users', 'Users');
    await page.getByRole('cell', { name: 'not-an-admin@example.com', exact: true }).waitFor();
    await accessible('users');
    await shoot('users');
    await open('identities', 'Identities');
    assert.equal(await page.getByText(/not available on this server/).count(), 0);
    await accessible('identities');
    await shoot('identities');
  });

  await t.test('a state-changing call without the CSRF token is refused 403', async () => {
    const answer = await page.evaluate(async () => {
      const res = await fetch('/console/api/v1/keys', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'forged', scopes: [] }),
      });
      return {
        status: res.status,
        type: res.headers.get('content-type'),
        body: (await res.json()) as { code: string },
      };
    });
    assert.equal(answer.status, 403);
    assert.match(String(answer.type), /^application\/problem\+json/);
    assert.equal(answer.body.code, 'FORBIDDEN');
    assert.ok(!(await api('GET', '/v1/keys')).body.includes('"forged"'));
  });

  await t.test('the dark scheme follows the system setting', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await open('overview', 'Overview');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(15, 20, 26)');
    await accessible('overview, dark');
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'overview-dark-desktop.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  await t.test('sign-out ends the session on the server', async () => {
    const [cookie] = await context.cookies();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Rampart console' }).waitFor();
    await page.getByText('Signed out.').waitFor();
    assert.equal((await context.cookies()).length, 0);
    // The old cookie, replayed, is refused: the session is gone from the server.
    const replay = await fetch(`${base}/console/api/v1/keys`, {
      headers: { cookie: `${cookie!.name}=${cookie!.value}` },
    });
    assert.equal(replay.status, 401);
  });

  await t.test('during the whole run: no CSP violation, no foreign request, no script error', async () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(foreign, []);
    assert.deepEqual(consoleProblems, []);
    assert.deepEqual(pageErrors, []);
  });
});
