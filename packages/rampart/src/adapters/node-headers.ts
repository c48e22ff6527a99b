/**
 * Request headers of a Node `IncomingMessage` as the engine's `RequestView.headers` wants them:
 * several lines of a header joined with `, ` (RFC 9110 §5.3). Node itself keeps only the first
 * line of some headers in `req.headers`, `Authorization` among them, which would let a second
 * credential pass unseen ("first wins"); for that header the lines are read from `rawHeaders`.
 */
import type { IncomingMessage } from 'node:http';

/** The header reader of one request. */
export function nodeHeaders(req: IncomingMessage): (name: string) => string | undefined {
  return (name) => {
    const value = req.headers[name];
    if (name === 'authorization' && value !== undefined) {
      const raw = req.rawHeaders;
      let lines: string[] | undefined;
      for (let i = 0; i < raw.length; i += 2) {
        const field = raw[i]!;
        if (field.length !== 13 || field.toLowerCase() !== 'authorization') continue;
        lines ??= [];
        lines.push(raw[i + 1]!);
      }
      if (lines !== undefined && lines.length > 1) return lines.join(', ');
    }
    return Array.isArray(value) ? value.join(', ') : value;
  };
}
