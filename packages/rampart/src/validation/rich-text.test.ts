import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as z from 'zod';
import { checkRichText, richTextSchema, sanitizeRichText } from './rich-text.ts';
import { validateSync } from './standard-schema.ts';

const REL = 'rel="noopener noreferrer nofollow"';

/** Vectors from the OWASP XSS filter evasion cheat sheet and known sanitizer bypasses. */
const XSS_VECTORS = [
  '<script>alert(1)</script>',
  '<SCRIPT SRC=https://evil.example/x.js></SCRIPT>',
  '<img src=x onerror=alert(1)>',
  '<img src=x onerror=alert(1)//',
  '<a href="javascript:alert(1)">x</a>',
  '<a href="JaVaScRiPt:alert(1)">x</a>',
  '<a href=" javascript:alert(1)">x</a>',
  '<a href="java&#x09;script:alert(1)">x</a>',
  '<a href="java\tscript:alert(1)">x</a>',
  '<a href="jav&#x0A;ascript:alert(1)">x</a>',
  '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
  '<a href="&#x6A;avascript&colon;alert(1)">x</a>',
  '<a href="vbscript:msgbox(1)">x</a>',
  '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
  '<a href="DATA:text/html,<script>alert(1)</script>">x</a>',
  '<svg onload=alert(1)>',
  '<svg><script>alert(1)</script></svg>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '<scr<script>ipt>alert(1)</script>',
  '<<script>script>alert(1)<</script>/script>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '<object data="javascript:alert(1)"></object>',
  '<embed src="javascript:alert(1)">',
  '<body onload=alert(1)>',
  '<b onmouseover=alert(1)>hover</b>',
  '<p style="background:url(javascript:alert(1))">x</p>',
  '<a href="https://ok.example"\nonclick=alert(1)>x</a>',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
  '<!--<img src=x onerror=alert(1)>-->',
  '<template><img src=x onerror=alert(1)></template>',
  '<form action="javascript:alert(1)"><button>x</button></form>',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  '"><img src=x onerror=alert(1)>',
];

/** Every tag of an HTML fragment, as written. */
function tags(html: string): string[] {
  return html.match(/<[^>]*>/g) ?? [];
}

/** Every href value, decoded as a browser would read it (entities and control characters). */
function hrefs(html: string): string[] {
  return [...html.matchAll(/href="([^"]*)"/g)].map((m) =>
    m[1]!
      .replaceAll('&amp;', '&')
      .replaceAll('&quot;', '"')
      .replace(/[\u0000-\u0020]/g, ''),
  );
}

function assertSafe(input: string, output: string): void {
  assert.doesNotMatch(output, /<script/i, `${input} → ${output}`);
  for (const tag of tags(output)) {
    assert.doesNotMatch(tag, /[\s/]on[a-z]+\s*=/i, `${input} → event handler in ${tag}`);
    assert.doesNotMatch(tag, /\s(style|class|src)\s*=/i, `${input} → ${tag}`);
    assert.match(tag, /^<\/?(p|br|b|i|em|strong|ul|ol|li|blockquote|code|pre|a)[\s/>]/, `${input} → ${tag}`);
  }
  for (const href of hrefs(output)) {
    assert.doesNotMatch(href, /^(javascript|vbscript|data):/i, `${input} → href ${href}`);
  }
}

test('the safety assertions catch what they look for (the checker is not blind)', () => {
  assert.throws(() => assertSafe('', '<SCRIPT>x</SCRIPT>'));
  assert.throws(() => assertSafe('', '<b onclick="x()">b</b>'));
  assert.throws(() => assertSafe('', '<b/onclick="x()">b</b>'));
  assert.throws(() => assertSafe('', '<a href="java&#x09;script:x">a</a>'.replace('&#x09;', '\t')));
  assert.throws(() => assertSafe('', '<a href=" data:text/html,x">a</a>'));
  assert.throws(() => assertSafe('', '<img src="x">'));
  assert.doesNotThrow(() => assertSafe('', `<p>on=1 <a href="https://x.example" ${REL}>a</a></p>`));
});

test('no script, event handler or javascript/vbscript/data URL survives the XSS vectors', () => {
  for (const vector of XSS_VECTORS) assertSafe(vector, sanitizeRichText(vector));
});

test('sanitizing is idempotent: the output of every vector is a fixed point', () => {
  for (const vector of [
    ...XSS_VECTORS,
    '<p>unclosed <b>bold',
    '<a href="https://x.example/?a=1&b=2">q</a>',
    '&nbsp;x &amp; y &lt;z&gt;',
    '<br/><br></br>',
    '<ul><li>a<li>b</ul>',
  ]) {
    const once = sanitizeRichText(vector);
    assert.equal(sanitizeRichText(once), once, `not idempotent for ${vector}`);
  }
});

test('javascript: links lose their href however they are spelled', () => {
  for (const vector of XSS_VECTORS.filter((v) => v.startsWith('<a href="j') || v.startsWith('<a href=" j'))) {
    assert.equal(sanitizeRichText(vector), `<a ${REL}>x</a>`, vector);
  }
});

test('allowed formatting is kept', () => {
  const html =
    '<p>Hi <b>b</b> <i>i</i> <em>em</em> <strong>s</strong><br /></p><ul><li>one</li></ul><ol><li>two</li></ol><blockquote>q</blockquote><pre><code>x = 1</code></pre>';
  assert.equal(sanitizeRichText(html), html);
});

test('links keep http, https, mailto and relative URLs, with rel forced to noopener noreferrer nofollow', () => {
  assert.equal(
    sanitizeRichText('<a href="https://example.com/a?b=1&c=2" rel="opener" target="_blank">x</a>'),
    `<a href="https://example.com/a?b=1&amp;c=2" ${REL}>x</a>`,
  );
  assert.equal(
    sanitizeRichText('<a href="http://example.com">x</a>'),
    `<a href="http://example.com" ${REL}>x</a>`,
  );
  assert.equal(
    sanitizeRichText('<a href="mailto:a@example.com">x</a>'),
    `<a href="mailto:a@example.com" ${REL}>x</a>`,
  );
  assert.equal(sanitizeRichText('<a href="/docs">x</a>'), `<a href="/docs" ${REL}>x</a>`);
});

test('protocol-relative links are dropped, which would leave the site', () => {
  assert.equal(sanitizeRichText('<a href="//evil.example/x">x</a>'), `<a ${REL}>x</a>`);
  assert.equal(sanitizeRichText('<a href="\\\\evil.example/x">x</a>'), `<a ${REL}>x</a>`);
  assert.equal(sanitizeRichText('<a href="ftp://files.example/x">x</a>'), `<a ${REL}>x</a>`);
});

test('style, class, id and event attributes are removed from allowed tags', () => {
  assert.equal(
    sanitizeRichText('<p style="color:red" class="admin" id="x" onclick="steal()">hi</p>'),
    '<p>hi</p>',
  );
});

test('disallowed tags are dropped but their prose is kept; non-prose content goes too', () => {
  assert.equal(sanitizeRichText('<div><span>kept</span></div><h1>title</h1>'), 'kepttitle');
  assert.equal(
    sanitizeRichText('before<script>alert(1)</script><style>p{}</style><svg><text>s</text></svg>after'),
    'beforeafter',
  );
  assert.equal(sanitizeRichText('<img src="https://x.example/a.png" alt="pic">'), '');
});

test('text stays escaped HTML: encoded markup is not turned into tags', () => {
  assert.equal(
    sanitizeRichText('&lt;script&gt;alert(1)&lt;/script&gt;'),
    '&lt;script&gt;alert(1)&lt;/script&gt;',
  );
});

test('checkRichText refuses non-strings and over-long input, and sanitizes the rest', () => {
  assert.deepEqual(checkRichText('<b>hi</b><script>x</script>'), { ok: true, value: '<b>hi</b>' });
  assert.equal(checkRichText(42).ok, false);
  const long = checkRichText('x'.repeat(10_001));
  assert.ok(!long.ok);
  assert.equal(long.code, 'too_long');
  assert.equal(checkRichText('x'.repeat(20), { maxLength: 10 }).ok, false);
  assert.throws(() => checkRichText('x', { maxLength: 0 }), /maxLength/);
});

test('richTextSchema outputs sanitized HTML and reports too_long through validate', () => {
  const schema = z.object({ bio: richTextSchema });
  assert.deepEqual(schema.parse({ bio: '<img src=x onerror=alert(1)>hi' }), { bio: 'hi' });
  const result = validateSync(schema, { bio: 'x'.repeat(10_001) });
  assert.ok(!result.ok);
  assert.deepEqual(
    result.errors.map((e) => [e.path, e.code]),
    [['/bio', 'too_long']],
  );
});
