/**
 * Field names that may carry a secret. A value under such a name is never written to a log
 * line or an audit row, whatever the caller passed: the last line of defence against a
 * token or password reaching disk.
 */
export const SECRET_FIELD =
  /pass(word)?|pwd|secret|token|api[-_]?key|^key$|authorization|cookie|credential|pepper/i;

/** Field names that look secret but only ever hold non-secret identifiers. */
const SAFE_FIELD = /^(keyId|key_id|keyPrefix|prefix|tokenType|token_type|hint)$/;

/**
 * A copy of `value` with every secret-named field replaced by `'[redacted]'`, bounded in
 * depth (8) and size (strings cut at 512 characters, arrays at 50 items) so an attacker
 * cannot grow an event without bound.
 */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > 512 ? `${value.slice(0, 512)}…` : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= 8) return '[too deep]';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELD.test(k) && !SAFE_FIELD.test(k) ? '[redacted]' : scrub(v, depth + 1);
  }
  return out;
}
