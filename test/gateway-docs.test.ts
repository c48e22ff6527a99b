/**
 * docs/gateway.md shows the nginx and Caddy configurations that
 * packages/server/test/forward-auth-proxies.test.ts runs: both come from
 * test/harness/proxy-configs.ts, and this test keeps the page equal to them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { caddySite, DOC_ADDRESSES, nginxSite } from './harness/proxy-configs.ts';

const doc = readFileSync(new URL('../docs/gateway.md', import.meta.url), 'utf8');

function block(language: string): string {
  const match = new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``).exec(doc);
  assert.ok(match, `docs/gateway.md has a \`\`\`${language} block`);
  return match[1]!;
}

test('the nginx block of docs/gateway.md is the configuration the proxy test runs', () => {
  assert.equal(block('nginx'), nginxSite(DOC_ADDRESSES));
});

test('the Caddyfile block of docs/gateway.md is the configuration the proxy test runs', () => {
  assert.equal(block('caddyfile'), caddySite(DOC_ADDRESSES));
});
