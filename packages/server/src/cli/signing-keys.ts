import { newId } from 'rampart/internal/lib/ids.ts';
import type { ServerConfig } from '../server/config.ts';
import { openStorage } from '../server/server.ts';
import { openKeyRing, rotateSigningKeyFile } from '../server/signing-keys.ts';
import { parseFlags } from './args.ts';
import type { Command, Io } from './command.ts';
import { loadCliConfig } from './config.ts';
import { UsageError } from './output.ts';
import { didYouMean } from './suggest.ts';

export const SIGNING_KEYS_USAGE = `Usage:
  rampart signing-keys rotate [--json]

Generates a new access-token signing key in the data dir (RAMPART_DATA_DIR, default ./data),
or with DATABASE_URL in the database every instance shares. The previous key keeps verifying,
and stays in /.well-known/jwks.json, until the last token it signed has expired. A running
server picks the new key up within seconds; a shared key is published by every instance at
once and starts signing 15 seconds later (activatesAt), when all of them know it.
`;

const FORMS = { rotate: { options: { json: { type: 'boolean' } } } } as const;

/** Rotates the shared keys of a DATABASE_URL deployment; answers the new key and when it signs. */
async function rotateShared(config: ServerConfig, now: () => number) {
  const storage = await openStorage(config);
  try {
    const holder = await openKeyRing(config, now, { store: storage.signingKeys! });
    try {
      await holder.rotate();
    } finally {
      holder.close();
    }
    const last = (await storage.signingKeys!.list()).at(-1)!;
    return { key: last.record, activatesAt: last.activatesAt };
  } finally {
    await storage.close();
  }
}

/** `rampart signing-keys rotate`. */
export async function signingKeysCommand(argv: string[], io: Io): Promise<void> {
  const [action, ...rest] = argv;
  if (action !== 'rotate') {
    throw new UsageError(
      action === undefined
        ? 'signing-keys: expected a subcommand (rotate)'
        : `signing-keys: unknown subcommand "${action}"${didYouMean(action, ['rotate'])}`,
    );
  }
  const { values } = parseFlags('signing-keys rotate', rest, FORMS.rotate.options);
  const config = loadCliConfig(io.env);
  if (config.tokens.algorithm === 'HS256') {
    throw new UsageError('HS256 keys come from RAMPART_JWT_SECRET: rotate by changing the secret');
  }
  const { key, activatesAt } = config.databaseUrl
    ? await rotateShared(config, io.now)
    : { key: await rotateSigningKeyFile(config, io.now), activatesAt: undefined };
  const summary = {
    kid: key.kid,
    alg: key.alg,
    createdAt: new Date(key.createdAt).toISOString(),
    ...(activatesAt !== undefined ? { activatesAt: new Date(activatesAt).toISOString() } : {}),
  };
  // The rotation is an event of the audit trail, like every other admin action.
  const storage = await openStorage(config);
  try {
    await storage.audit.append([
      {
        id: newId('evt'),
        type: 'signing_key_rotated',
        at: io.now(),
        actor: 'cli',
        outcome: 'success',
        detail: { kid: key.kid, alg: key.alg, scheduled: false, via: 'cli' },
        count: 1,
      },
    ]);
  } finally {
    await storage.close();
  }
  io.out(values.json ? `${JSON.stringify(summary)}\n` : `new signing key ${summary.kid} (${summary.alg})\n`);
}

export const SIGNING_KEYS_COMMAND: Command = {
  name: 'signing-keys',
  summary: 'rotate the access-token signing key',
  usage: SIGNING_KEYS_USAGE,
  form: { subcommands: FORMS },
  run: signingKeysCommand,
};
