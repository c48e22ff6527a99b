import { loadConfig } from '../server/config.ts';
import { rotateSigningKeyFile } from '../server/signing-keys.ts';
import type { Io } from './keys.ts';
import { UsageError } from './output.ts';

export const SIGNING_KEYS_USAGE = `Usage:
  rampart signing-keys rotate [--json]

Generates a new access-token signing key in the data dir (RAMPART_DATA_DIR, default ./data).
The previous key keeps verifying, and stays in /.well-known/jwks.json, until the last token
it signed has expired. A running server picks the new key up within seconds.
`;

/** `rampart signing-keys rotate`. */
export async function signingKeysCommand(argv: string[], io: Io): Promise<void> {
  const [action, ...flags] = argv;
  if (action !== 'rotate') throw new UsageError(action ? `unknown action "${action}"` : 'missing action');
  const unknown = flags.filter((f) => f !== '--json');
  if (unknown.length > 0) throw new UsageError(`unknown option ${unknown[0]}`);
  const config = loadConfig(io.env);
  if (config.tokens.algorithm === 'HS256') {
    throw new UsageError('HS256 keys come from RAMPART_JWT_SECRET: rotate by changing the secret');
  }
  const key = await rotateSigningKeyFile(config, io.now);
  const summary = { kid: key.kid, alg: key.alg, createdAt: new Date(key.createdAt).toISOString() };
  io.out(
    flags.includes('--json')
      ? `${JSON.stringify(summary)}\n`
      : `new signing key ${summary.kid} (${summary.alg})\n`,
  );
}
