/**
 * The rich-text rule: user HTML reduced to a strict allow-list of formatting and links, safe
 * to insert into a page as HTML.
 *
 * The allow-list holds no element that loads or runs anything (`img`, `iframe`, `svg`, `math`,
 * `object`, `form`, `style`) and no attribute but `href`, so event handlers (`onerror=`),
 * `style` (CSS injection, clickjacking overlays) and `class` (borrowing the host page's styles
 * to spoof its UI) cannot pass. Links keep only http, https and mailto URLs: `javascript:`,
 * `vbscript:` and `data:` are dropped however they are spelled (case, entities, embedded tabs
 * or newlines), since sanitize-html decodes the attribute and strips controls before checking
 * the scheme.
 */

import sanitizeHtml from 'sanitize-html';
import { NON_TEXT_TAGS } from './html.ts';
import type { RuleResult, RuleSchema } from './rule.ts';
import { assertLimit, ruleSchema } from './rule.ts';

/** The codes the rich-text rule refuses with. */
export type RichTextCode = 'invalid_type' | 'too_long';

/** Options of `checkRichText`. */
export interface RichTextOptions {
  /**
   * Most UTF-16 code units of the raw input, checked before parsing so an attacker cannot make
   * the server sanitize megabytes. Default 10,000.
   */
  maxLength?: number;
}

/** Forced on every link: no `window.opener` access (reverse tabnabbing), no referrer leak, no SEO credit for spam. */
const LINK_REL = 'noopener noreferrer nofollow';
const DEFAULT_MAX_LENGTH = 10_000;

const RICH_TEXT: sanitizeHtml.IOptions = {
  allowedTags: ['p', 'br', 'b', 'i', 'em', 'strong', 'ul', 'ol', 'li', 'blockquote', 'code', 'pre', 'a'],
  // `rel` must be allowed for the forced value below to survive; a user's own `rel` is replaced.
  allowedAttributes: { a: ['href', 'rel'] },
  allowedClasses: {},
  allowedStyles: {},
  parseStyleAttributes: false,
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: {},
  allowedSchemesAppliedToAttributes: ['href'],
  // `//evil.example` (and `\\evil.example`, which browsers read alike) would leave the site
  // with whatever scheme the page has.
  allowProtocolRelative: false,
  allowVulnerableTags: false,
  disallowedTagsMode: 'discard',
  nonTextTags: [...NON_TEXT_TAGS],
  enforceHtmlBoundary: false,
  transformTags: {
    // A fixed attribute order (href, then rel) keeps the output a fixed point of sanitizing.
    a: (tagName, attribs): sanitizeHtml.Tag => {
      const href = attribs.href;
      return { tagName, attribs: href === undefined ? { rel: LINK_REL } : { href, rel: LINK_REL } };
    },
  },
};

/**
 * Sanitizes user HTML to the rich-text allow-list: `p br b i em strong ul ol li blockquote
 * code pre`, and `a` with an http(s)/mailto `href` and a forced
 * `rel="noopener noreferrer nofollow"`. Other tags are dropped and their text kept, except
 * non-prose elements (`script`, `style`, `svg`, …) whose content goes too.
 *
 * Idempotent: sanitizing the output again returns it unchanged, so a value stored sanitized
 * can be re-checked without drift.
 *
 * @example
 * sanitizeRichText('<p onclick="x()">Hi <a href="javascript:alert(1)">me</a></p>')
 * // '<p>Hi <a rel="noopener noreferrer nofollow">me</a></p>'
 */
export function sanitizeRichText(html: string): string {
  return sanitizeHtml(html, RICH_TEXT);
}

/**
 * The rich-text rule: refuses a non-string or an over-long input, and otherwise returns the
 * sanitized HTML. Unsafe markup is removed rather than refused, as the seed tutorial does.
 *
 * Never throws on the input, whatever its type; throws only on misconfigured options.
 *
 * @throws TypeError naming the option when `options` is invalid.
 * @example
 * checkRichText('<b>hi</b><script>x</script>') // { ok: true, value: '<b>hi</b>' }
 */
export function checkRichText(
  input: unknown,
  options: RichTextOptions = {},
): RuleResult<string, RichTextCode> {
  const maxLength = assertLimit('maxLength', options.maxLength ?? DEFAULT_MAX_LENGTH, 1);
  if (typeof input !== 'string')
    return { ok: false, code: 'invalid_type', message: 'The text must be a string' };
  if (input.length > maxLength) {
    return { ok: false, code: 'too_long', message: `The text must be at most ${maxLength} characters` };
  }
  return { ok: true, value: sanitizeRichText(input) };
}

/**
 * The rich-text rule (default limit) as a zod schema for the server's routes; outputs the
 * sanitized HTML.
 *
 * @example
 * z.object({ bio: richTextSchema }).parse({ bio: '<img src=x onerror=alert(1)>hi' }) // { bio: 'hi' }
 */
export const richTextSchema: RuleSchema = ruleSchema((input) => checkRichText(input));
