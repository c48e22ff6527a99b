import { RampartError } from '../errors.ts';

export interface JsonBodyOptions {
  /** Deepest nesting of arrays/objects accepted. Default 32. */
  maxDepth?: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parses a JSON request body safely:
 * - invalid UTF-8 is refused (RFC 8259 §8.1) instead of being silently replaced by U+FFFD;
 * - nesting deeper than `maxDepth` is refused by a linear scan *before* parsing, so a
 *   6,000-deep array never reaches `JSON.stringify` or a recursive validator (stack overflow);
 * - `__proto__` keys and `constructor.prototype` anywhere, escaped forms included
 *   (`"\u005f\u005fproto\u005f\u005f"`), are refused: they are prototype-pollution payloads
 *   waiting for a later `Object.assign` or deep merge.
 */
export function parseJsonBody(body: Uint8Array, options: JsonBodyOptions = {}): unknown {
  const maxDepth = options.maxDepth ?? 32;
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    throw new RampartError('INVALID_ENCODING', { detail: 'The body must be UTF-8.' });
  }
  const scan = scanJson(text, maxDepth);
  if (scan === 'too-deep') {
    throw new RampartError('JSON_TOO_DEEP', { detail: `JSON nesting is limited to ${maxDepth} levels.` });
  }
  try {
    // The reviver sees decoded keys, so escaped spellings cannot hide. It is only paid for
    // when the text could hold such a key at all.
    return scan === 'suspicious' ? JSON.parse(text, refuseDangerousKeys) : JSON.parse(text);
  } catch (error) {
    if (error instanceof RampartError) throw error;
    throw new RampartError('MALFORMED_JSON', { detail: 'The body is not valid JSON.' });
  }
}

function refuseDangerousKeys(this: unknown, key: string, value: unknown): unknown {
  if (
    key === '__proto__' ||
    (key === 'constructor' && isObject(value) && Object.hasOwn(value, 'prototype'))
  ) {
    throw new RampartError('FORBIDDEN_PROPERTY', { detail: `The property name "${key}" is not allowed.` });
  }
  return value;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/**
 * One pass over the text: tracks nesting outside strings, and notes whether a string holds
 * an escape or the words that a dangerous key needs.
 */
function scanJson(text: string, maxDepth: number): 'ok' | 'too-deep' | 'suspicious' {
  let depth = 0;
  let inString = false;
  let suspicious = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) {
        suspicious = true;
        i++;
      } else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return 'too-deep';
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  if (!suspicious && (text.includes('__proto__') || text.includes('constructor'))) suspicious = true;
  return suspicious ? 'suspicious' : 'ok';
}
