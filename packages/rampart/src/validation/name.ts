/**
 * The display-name rule: plain text, one line, free of markup and of the invisible characters
 * that make one name look like another.
 *
 * Order matters: markup is stripped first (the seed tutorial ran `sanitizeHtml` on names), then
 * the text is NFC-normalized and trimmed, and only then checked and counted, so the limits
 * apply to what will be stored and shown.
 */

import sanitizeHtml from 'sanitize-html';
import { NON_TEXT_TAGS } from './html.ts';
import type { RuleResult, RuleSchema } from './rule.ts';
import { assertLimit, ruleSchema } from './rule.ts';

/** The codes the name rule refuses with. */
export type NameCode =
  | 'invalid_type'
  | 'too_short'
  | 'too_long'
  | 'control_character'
  | 'invisible_character'
  | 'invalid_characters';

/** Options of `checkName`. */
export interface NameOptions {
  /** Fewest grapheme clusters (user-perceived characters) after cleaning. Default 2. */
  minLength?: number;
  /** Most grapheme clusters after cleaning. Default 50. */
  maxLength?: number;
}

const DEFAULTS = { minLength: 2, maxLength: 50 } as const;
/**
 * Raw input longer than this is refused before parsing, bounding the sanitizer's work and the
 * size of a "name" made of one letter and hundreds of stacked combining marks (Zalgo), which
 * counts as one grapheme.
 */
const MAX_INPUT_LENGTH = 1024;

/** No tag survives; script/style/… bodies vanish with their tags (see `NON_TEXT_TAGS`). */
const PLAIN_TEXT: sanitizeHtml.IOptions = {
  allowedTags: [],
  allowedAttributes: {},
  disallowedTagsMode: 'discard',
  nonTextTags: [...NON_TEXT_TAGS],
  enforceHtmlBoundary: false,
};

/**
 * Refused anywhere in a name:
 * - C0, DEL and C1 controls (`\p{Cc}`): newlines and NULs break log lines (log injection,
 *   OWASP A09) and terminal output;
 * - U+2028/U+2029 line and paragraph separators, for the same reason;
 * - bidirectional controls: the embeddings and overrides U+202A–U+202E, the isolates
 *   U+2066–U+2069, and the marks U+200E, U+200F, U+061C. They reorder what is displayed
 *   without changing what is stored (Trojan Source, CVE-2021-42574): `admin\u202Enimda`
 *   shows as another name, and a name beside other text in a page or email can flip it.
 */
const FORBIDDEN_CONTROL = /[\p{Cc}\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
/**
 * Characters that draw nothing (or almost nothing) yet make two names differ, so
 * `ad\u200Bmin` displays as `admin` while being another account's name, and tag characters
 * (U+E0020–U+E007F) can carry a whole hidden ASCII text ("ASCII smuggling"):
 * - every format character (`\p{Cf}`): zero-width space, non-joiner and joiner
 *   U+200B–U+200D, word joiner and invisible operators U+2060–U+2064, U+FEFF, soft hyphen
 *   U+00AD, U+180E, tag characters, interlinear annotation marks, …;
 * - every default-ignorable code point (Unicode's list of what renderers may draw as
 *   nothing): variation selectors, the combining grapheme joiner U+034F, the Hangul fillers
 *   U+115F, U+1160, U+3164 and U+FFA0 (the classic "invisible name"), reserved U+E0000–U+E0FFF;
 * - U+2800 BRAILLE PATTERN BLANK, not ignorable by Unicode but drawn as a blank cell.
 *
 * Only sequences that draw something else stay allowed (see `drawsWithNeighbours`).
 */
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]/gu;
const PICTOGRAPHIC = /^\p{Extended_Pictographic}$/u;
const IDEOGRAPHIC = /^\p{Ideographic}$/u;
const ZWJ = 0x200d;
const VS15 = 0xfe0e;
const VS16 = 0xfe0f;
const KEYCAP = 0x20e3;
/** Left over only if markup was entity-encoded (`&lt;script&gt;`): a name needs no angle brackets. */
const ANGLE_BRACKET = /[<>]/;
/** sanitize-html escapes exactly these in text; decoding them once yields the plain text. */
const SANITIZER_ENTITIES = /&(?:amp|lt|gt);/g;
const DECODED: Readonly<Record<string, string>> = { '&amp;': '&', '&lt;': '<', '&gt;': '>' };
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Checks a display name and returns its clean plain-text form: markup removed (with the
 * content of `script`, `style` and similar), NFC-normalized (`e\u0301` becomes `é`), trimmed.
 * Its length is counted in grapheme clusters, so `👩‍👩‍👧` is one character as the user sees it.
 * The value is plain text (`Tom & Jerry`, not `Tom &amp; Jerry`): escape it when rendering.
 *
 * Never throws on the name, whatever its type; throws only on misconfigured options.
 *
 * @throws TypeError naming the option when `options` is invalid.
 * @example
 * checkName('  <b>Al</b> ')             // { ok: true, value: 'Al' }
 * checkName('<script>x</script>')       // { ok: false, code: 'too_short', … }
 * checkName('Bob\u202Egnp.exe')         // { ok: false, code: 'control_character', … }
 * checkName('ad\u200Bmin')              // { ok: false, code: 'invisible_character', … }
 */
export function checkName(input: unknown, options: NameOptions = {}): RuleResult<string, NameCode> {
  const maxLength = assertLimit('maxLength', options.maxLength ?? DEFAULTS.maxLength, 1);
  const minLength = assertLimit('minLength', options.minLength ?? DEFAULTS.minLength, 0, maxLength);

  if (typeof input !== 'string') return refuse('invalid_type', 'The name must be a string');
  if (input.length > MAX_INPUT_LENGTH)
    return refuse('too_long', `The name must be at most ${maxLength} characters`);
  // A lone surrogate cannot be stored or shown faithfully (it turns into U+FFFD in UTF-8).
  if (!input.isWellFormed()) return refuse('invalid_characters', 'The name is not valid Unicode text');

  const name = toPlainText(input).normalize('NFC').trim();
  if (FORBIDDEN_CONTROL.test(name)) {
    return refuse('control_character', 'The name must not contain control or text-direction characters');
  }
  if (hasInvisibleCharacter(name)) {
    return refuse('invisible_character', 'The name must not contain invisible or formatting characters');
  }
  if (ANGLE_BRACKET.test(name)) return refuse('invalid_characters', 'The name must not contain < or >');

  const length = graphemeCount(name, maxLength + 1);
  if (length < minLength) return refuse('too_short', `The name must be at least ${minLength} characters`);
  if (length > maxLength) return refuse('too_long', `The name must be at most ${maxLength} characters`);
  return { ok: true, value: name };
}

/**
 * The name rule (default limits, 2–50) as a zod schema for the server's routes; outputs the
 * clean name.
 *
 * @example
 * z.object({ name: nameSchema }).parse({ name: ' <b>Al</b>' }) // { name: 'Al' }
 */
export const nameSchema: RuleSchema = ruleSchema((input) => checkName(input));

function toPlainText(html: string): string {
  return sanitizeHtml(html, PLAIN_TEXT).replace(SANITIZER_ENTITIES, (entity) => DECODED[entity]!);
}

/** One pass over the name (at most `MAX_INPUT_LENGTH` long): each match looks at two neighbours. */
function hasInvisibleCharacter(name: string): boolean {
  for (const match of name.matchAll(INVISIBLE)) {
    if (!drawsWithNeighbours(name, match.index, match[0].codePointAt(0)!)) return true;
  }
  return false;
}

/**
 * The few uses of an invisible character that change what is drawn, so the name still looks
 * like what it is (UTS #51 emoji sequences, the Ideographic Variation Database):
 * - U+200D joining two pictographs, each optionally with U+FE0F or a skin-tone modifier
 *   (`👩‍👩‍👧`, `🏳️‍🌈`, `👩🏽‍💻`): the sequence draws as one emoji;
 * - U+FE0E / U+FE0F right after a pictograph (`❤️`), or in a keycap `1️⃣`;
 * - an ideographic variation selector U+E0100–U+E01EF right after an ideograph (`葛󠄀`).
 * After a letter, between letters or repeated, each of them is invisible and refused.
 */
function drawsWithNeighbours(text: string, index: number, code: number): boolean {
  const before = codePointBefore(text, index);
  if (code === ZWJ) {
    const after = text.codePointAt(index + 1);
    return after !== undefined && isPictograph(after) && endsEmojiElement(text, index);
  }
  if (code === VS15 || code === VS16) {
    if (before !== undefined && isPictograph(before)) return true;
    return isKeycapBase(before) && code === VS16 && text.codePointAt(index + 1) === KEYCAP;
  }
  if (code >= 0xe0100 && code <= 0xe01ef) {
    return before !== undefined && IDEOGRAPHIC.test(String.fromCodePoint(before));
  }
  return false;
}

/** Does a UTS #51 emoji element (pictograph, optionally + U+FE0F or a modifier) end at `index`? */
function endsEmojiElement(text: string, index: number): boolean {
  const last = codePointBefore(text, index);
  if (last === undefined) return false;
  if (isPictograph(last)) return true;
  if (last !== VS16 && !isSkinTone(last)) return false;
  const base = codePointBefore(text, index - (last > 0xffff ? 2 : 1));
  return base !== undefined && isPictograph(base);
}

function isPictograph(code: number): boolean {
  return PICTOGRAPHIC.test(String.fromCodePoint(code));
}

function isSkinTone(code: number): boolean {
  return code >= 0x1f3fb && code <= 0x1f3ff;
}

function isKeycapBase(code: number | undefined): boolean {
  return code === 0x23 || code === 0x2a || (code !== undefined && code >= 0x30 && code <= 0x39);
}

/** The code point that ends just before `index`, surrogate pairs read whole. */
function codePointBefore(text: string, index: number): number | undefined {
  if (index <= 0) return undefined;
  const low = text.charCodeAt(index - 1);
  if (low >= 0xdc00 && low <= 0xdfff && index >= 2) {
    const high = text.charCodeAt(index - 2);
    if (high >= 0xd800 && high <= 0xdbff) return text.codePointAt(index - 2);
  }
  return low;
}

/** Counts grapheme clusters, stopping at `stopAt`: the caller only needs to know "too many". */
function graphemeCount(text: string, stopAt: number): number {
  let count = 0;
  for (const _ of graphemes.segment(text)) {
    if (++count >= stopAt) break;
  }
  return count;
}

function refuse(code: NameCode, message: string): { ok: false; code: NameCode; message: string } {
  return { ok: false, code, message };
}
