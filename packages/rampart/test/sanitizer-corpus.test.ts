import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type DefaultTreeAdapterMap, parseFragment } from 'parse5';
import { sanitizeRichText } from '../src/validation/rich-text.ts';

/**
 * The rich-text sanitizer against an XSS corpus, judged by an oracle that parses the output
 * the way a browser would (parse5 implements the HTML5 parsing algorithm): no script or other
 * active element, no event-handler or style attribute, no javascript:/vbscript:/data: URL in
 * any URL attribute, and sanitizing the output again changes nothing (idempotence).
 */
const vectors: string[] = JSON.parse(
  readFileSync(new URL('./corpus/xss-vectors.json', import.meta.url), 'utf8'),
);

type Node = DefaultTreeAdapterMap['childNode'] | DefaultTreeAdapterMap['documentFragment'];
const ACTIVE = new Set([
  'script',
  'style',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'svg',
  'math',
  'link',
  'meta',
  'base',
  'form',
  'input',
  'img',
  'video',
  'audio',
  'source',
  'template',
  'body',
  'bgsound',
  'isindex',
  'marquee',
  'details',
  'noscript',
  'xmp',
  'textarea',
]);
const URL_ATTRS = new Set([
  'href',
  'src',
  'action',
  'formaction',
  'background',
  'dynsrc',
  'lowsrc',
  'data',
  'xlink:href',
]);

function problems(html: string): string[] {
  const found: string[] = [];
  const walk = (node: Node) => {
    if ('tagName' in node) {
      if (ACTIVE.has(node.tagName)) found.push(`element <${node.tagName}>`);
      for (const attr of node.attrs) {
        const name = attr.name.toLowerCase();
        if (name.startsWith('on')) found.push(`handler ${name}`);
        if (name === 'style') found.push('style attribute');
        if (URL_ATTRS.has(name)) {
          // What a browser does before resolving: strip ASCII control and space characters.
          const url = attr.value.replace(/[\u0000-\u0020]/g, '').toLowerCase();
          if (/^(javascript|vbscript|data):/.test(url)) found.push(`${name}=${attr.value}`);
        }
      }
    }
    if ('childNodes' in node) for (const child of node.childNodes) walk(child as Node);
    if ('content' in node && node.content) walk(node.content as Node);
  };
  walk(parseFragment(html) as Node);
  return found;
}

test('the oracle itself flags dangerous markup (it is not blind)', () => {
  assert.ok(problems('<img src=x onerror=alert(1)>').length > 0);
  assert.ok(problems('<a href="JaVa\tScRiPt:alert(1)">x</a>').length > 0);
  assert.ok(problems('<svg><script>alert(1)</script></svg>').length > 0);
  assert.deepEqual(problems('<p><a href="https://example.com">ok</a></p>'), []);
});

test(`every vector of the XSS corpus (${vectors.length}) comes out inert`, () => {
  const failures: string[] = [];
  for (const vector of vectors) {
    const out = sanitizeRichText(vector);
    const found = problems(out);
    if (found.length > 0) failures.push(`${vector}\n  → ${out}\n  ${found.join(', ')}`);
  }
  assert.deepEqual(failures, []);
});

test('sanitizing is idempotent on every vector', () => {
  const failures: string[] = [];
  for (const vector of vectors) {
    const once = sanitizeRichText(vector);
    const twice = sanitizeRichText(once);
    if (once !== twice) failures.push(`${vector}\n  once:  ${once}\n  twice: ${twice}`);
  }
  assert.deepEqual(failures, []);
});

test('wrapping a vector in allowed markup does not smuggle it through', () => {
  const failures: string[] = [];
  for (const vector of vectors) {
    for (const wrapped of [
      `<p>${vector}</p>`,
      `<b><i>${vector}</i></b>`,
      `<ul><li>${vector}</li></ul>`,
      `<a href="https://x.example">${vector}</a>`,
    ]) {
      const found = problems(sanitizeRichText(wrapped));
      if (found.length > 0) failures.push(`${wrapped}: ${found.join(', ')}`);
    }
  }
  assert.deepEqual(failures, []);
});
