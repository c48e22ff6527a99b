import {
  type ApiKeyRecord,
  type ApiKeySettings,
  checkKeySettings,
  createApiKeyIssuer,
  SCOPE_NAME,
} from 'rampart/internal/api-keys/index.ts';
import { isDuration, parseDuration } from 'rampart/internal/lib/duration.ts';
import { isId, newId } from 'rampart/internal/lib/ids.ts';
import { openKeyHasher } from '../server/api-keys/pepper.ts';
import { INVALIDATION_CHANNEL, rotateStoredKey } from '../server/api-keys/service.ts';
import type { ServerConfig } from '../server/config.ts';
import { publishOnce } from '../server/redis.ts';
import { openStorage } from '../server/server.ts';
import type { ApiKeyPatch } from '../storage/types.ts';
import { instant, type OptionSpecs, type Parsed, subcommand, type Values, wholeNumber } from './args.ts';
import { recordCliEvent } from './audit.ts';
import type { Command, Form, Io } from './command.ts';
import { loadCliConfig } from './config.ts';
import { cell, table, UsageError } from './output.ts';
import { readUsageCli, usageTable } from './usage.ts';
import { type KeyView, safeKeyView } from './views.ts';

export const KEYS_USAGE = `Usage:
  rampart keys create --name <name> [--scopes a,b] [--owner <user id>] [--expires <ISO date-time | 30d>]
                      [--credits <n>] [--rate-limit <n>/<window>, e.g. 100/1m] [--json]
  rampart keys list   [--owner <user id> | --ownerless] [--limit <n>] [--json]
  rampart keys revoke <key id> [--json]
  rampart keys rotate <key id> [--grace <duration, e.g. 1h>] [--json]
  rampart keys update <key id> [--name <name>] [--scopes a,b] [--expires <ISO date-time | 30d | never>]
                      [--enable | --disable] [--rate-limit <n>/<window> | none]
                      [--credits <n> | none] [--add-credits=<±n>] [--refill <n>/<interval> | none] [--json]
  rampart keys usage  <key id> [--granularity minute|hour|day] [--since <ISO | epoch ms | 1h>]
                      [--until <ISO | epoch ms>] [--json]
  rampart keys import --sha256 <64 hex> --name <name> [--scopes a,b] [--owner <user id>] [--json]
                      (a tutorial-style key stored as SHA-256 hex; the server accepts it in x-api-key
                      with RAMPART_API_KEY_LEGACY_SHA256=true and re-hashes it on first use)

Works on the deployment's storage: PostgreSQL when DATABASE_URL is set, else the data dir's
SQLite database (RAMPART_DATA_DIR, default ./data), with the API key pepper of
RAMPART_API_KEY_PEPPER or <data dir>/pepper. When REDIS_URL is set, revocations and
rotations are announced to running servers at once. The key of create and rotate is printed
this once and is never stored. A stored time outside the date range is listed as "invalid".
`;

const json = { type: 'boolean' } as const;
const settings = {
  name: { type: 'string', value: '<name>' },
  scopes: { type: 'string', value: '<a,b>' },
  owner: { type: 'string', value: '<user id>' },
  expires: { type: 'string', value: '<ISO date-time | 30d>' },
  json,
} as const satisfies OptionSpecs;

const FORMS = {
  create: {
    options: {
      ...settings,
      credits: { type: 'string', value: '<n>' },
      'rate-limit': { type: 'string', value: '<n>/<window>' },
    },
  },
  list: {
    options: {
      owner: settings.owner,
      ownerless: { type: 'boolean' },
      limit: { type: 'string', value: '<n>' },
      json,
    },
  },
  revoke: { options: { json }, positionals: ['<key id>'] },
  rotate: { options: { grace: { type: 'string', value: '<duration>' }, json }, positionals: ['<key id>'] },
  update: {
    options: {
      name: settings.name,
      scopes: settings.scopes,
      expires: { type: 'string', value: '<ISO date-time | 30d | never>' },
      enable: { type: 'boolean' },
      disable: { type: 'boolean' },
      'rate-limit': { type: 'string', value: '<n>/<window> | none' },
      credits: { type: 'string', value: '<n> | none' },
      'add-credits': { type: 'string', value: '<±n>' },
      refill: { type: 'string', value: '<n>/<interval> | none' },
      json,
    },
    positionals: ['<key id>'],
  },
  usage: {
    options: {
      granularity: { type: 'string', value: '<size>', choices: ['minute', 'hour', 'day'] },
      since: { type: 'string', value: '<ISO | epoch ms | 1h>' },
      until: { type: 'string', value: '<ISO | epoch ms>' },
      json,
    },
    positionals: ['<key id>'],
  },
  import: { options: { ...settings, sha256: { type: 'string', value: '<64 hex>' } } },
} as const satisfies Record<string, Form>;

async function announce(config: ServerConfig, id: string, io: Io) {
  if (config.redisUrl === undefined) return;
  try {
    await publishOnce(config.redisUrl, INVALIDATION_CHANNEL, [id]);
  } catch {
    io.err(
      `warning: could not reach REDIS_URL; running servers stop accepting ${id} within their cache TTL (30 s)\n`,
    );
  }
}

function keysTable(keys: KeyView[]): string {
  return table(
    ['ID', 'NAME', 'HINT', 'OWNER', 'SCOPES', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'],
    keys.map((k) => [
      k.id,
      cell(k.name, 30),
      cell(k.hint),
      cell(k.ownerId),
      cell(k.scopes, 40),
      k.status,
      cell(k.createdAt),
      cell(k.expiresAt),
      cell(k.lastUsedAt),
    ]),
  );
}

type KeyOptions = typeof FORMS.create.options &
  typeof FORMS.list.options &
  typeof FORMS.rotate.options &
  typeof FORMS.import.options &
  typeof FORMS.update.options &
  typeof FORMS.usage.options;

/** `rampart keys …`. */
export async function keysCommand(argv: string[], io: Io): Promise<void> {
  const { sub, values, positionals } = subcommand('keys', FORMS, argv) as {
    sub: string;
  } & Parsed<KeyOptions>;
  const config = loadCliConfig(io.env);
  const storage = await openStorage(config);
  try {
    const now = io.now();
    // Only create and rotate hash keys: list and revoke never need (or make) the pepper.
    const openIssuer = async () => {
      const hasher = await openKeyHasher({
        env: io.env,
        dataDir: config.dataDir,
        storage,
        warn: (m) => io.err(`warning: ${m}\n`),
      });
      return createApiKeyIssuer({ hasher, prefix: config.apiKeys.prefix, now: io.now });
    };
    const json = values.json === true;
    const keyId = () => {
      const id = positionals[0];
      if (!isId(id, 'key')) throw new UsageError(`keys ${sub}: expected a key id (key_…)`);
      return id;
    };

    if (sub === 'create') {
      if (values.name === undefined) throw new UsageError('keys create: --name is required');
      const settings: ApiKeySettings = {
        name: values.name,
        ownerId: values.owner ?? null,
        scopes: scopeList(values.scopes),
        expiresAt: values.expires === undefined ? null : instant(values.expires, '--expires', now),
        credits:
          values.credits === undefined ? null : { remaining: wholeNumber(values.credits, '--credits', 0) },
        rateLimit: null,
      };
      if (values['rate-limit'] !== undefined) {
        const [limit, window] = values['rate-limit'].split('/');
        if (limit === undefined || window === undefined || !isDuration(window)) {
          throw new UsageError('--rate-limit: expected <n>/<window>, e.g. 100/1m');
        }
        settings.rateLimit = {
          limit: wholeNumber(limit, '--rate-limit', 1),
          windowMs: parseDuration(window),
        };
      }
      const made = (await openIssuer()).issue(settings);
      if (!made.ok) {
        throw new UsageError(
          `keys create: ${made.errors.map((e) => `${e.path.slice(1) || 'settings'}: ${e.message}`).join('; ')}`,
        );
      }
      if (!(await storage.apiKeys.insert(made.record)))
        throw new Error('key id or hash collision; try again');
      await recordCliEvent(storage, 'key_created', now, {
        keyId: made.record.id,
        prefix: made.record.prefix,
        ownerId: made.record.ownerId,
        scopes: made.record.scopes,
      });
      const view = safeKeyView(made.record, now);
      io.out(
        json
          ? `${JSON.stringify({ ...view, key: made.key })}\n`
          : `Created ${view.id} (${cell(view.name)}). The key is shown this once; store it now:\n\n${made.key}\n`,
      );
      return;
    }

    if (sub === 'import') {
      const hex = values.sha256?.toLowerCase();
      if (hex === undefined || !/^[0-9a-f]{64}$/.test(hex))
        throw new UsageError('keys import: --sha256 <64 hex characters> is required');
      if (values.name === undefined) throw new UsageError('keys import: --name is required');
      const settings: ApiKeySettings = {
        name: values.name,
        ownerId: values.owner ?? null,
        scopes: scopeList(values.scopes),
        expiresAt: values.expires === undefined ? null : instant(values.expires, '--expires', now),
      };
      const errors = checkKeySettings(settings, now);
      if (errors.length > 0)
        throw new UsageError(
          `keys import: ${errors.map((e) => `${e.path.slice(1)}: ${e.message}`).join('; ')}`,
        );
      const imported: ApiKeyRecord = {
        id: newId('key'),
        hash: `sha256:${hex}`,
        hint: 'imported',
        prefix: '',
        name: settings.name,
        ownerId: settings.ownerId ?? null,
        scopes: [...new Set(settings.scopes)],
        createdAt: now,
        expiresAt: settings.expiresAt ?? null,
        lastUsedAt: null,
        revokedAt: null,
        metadata: { imported: 'sha256' },
        credits: null,
        rateLimit: null,
        rotatedFrom: null,
      };
      // The pepper is made now if missing: keys then exist, and a server refuses to start on keys without one.
      await openIssuer();
      if (!(await storage.apiKeys.insert(imported)))
        throw new Error('a key with this hash is already stored');
      await recordCliEvent(storage, 'key_created', now, {
        keyId: imported.id,
        prefix: '',
        ownerId: imported.ownerId,
        scopes: imported.scopes,
        imported: true,
      });
      const view = safeKeyView(imported, now);
      io.out(json ? `${JSON.stringify(view)}\n` : `Imported ${view.id} (${cell(view.name)}).\n`);
      return;
    }

    if (sub === 'list') {
      if (values.owner !== undefined && values.ownerless)
        throw new UsageError('keys list: --owner and --ownerless exclude each other');
      const ownerId = values.ownerless ? null : values.owner;
      const limit = values.limit === undefined ? 100 : wholeNumber(values.limit, '--limit', 1, 10_000);
      const keys = [];
      let cursor: string | undefined;
      do {
        const page = await storage.apiKeys.list({
          limit: Math.min(500, limit - keys.length),
          ...(ownerId !== undefined ? { ownerId } : {}),
          ...(cursor ? { cursor } : {}),
        });
        keys.push(...page.keys.map((k) => safeKeyView(k, now)));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined && keys.length < limit);
      for (const k of keys) {
        if (k.invalid) {
          const fields = Object.entries(k.invalid).map(([field, ms]) => `${field} ${ms}`);
          io.err(
            `warning: ${k.id} holds a time outside the date range (${fields.join(', ')}); shown as "invalid"\n`,
          );
        }
      }
      io.out(json ? `${JSON.stringify({ keys })}\n` : keys.length === 0 ? 'No keys.\n' : keysTable(keys));
      return;
    }

    if (sub === 'update') {
      const id = keyId();
      const { patch, fields } = keyPatch(values, now);
      if (fields.length === 0)
        throw new UsageError('keys update: nothing to change (see rampart keys --help)');
      const updated = await storage.apiKeys.update(id, patch);
      if (updated === undefined) throw new Error(`no key ${id}`);
      await recordCliEvent(storage, 'key_updated', now, { keyId: id, prefix: updated.prefix, fields });
      await announce(config, id, io);
      const view = safeKeyView(updated, now);
      io.out(
        json ? `${JSON.stringify(view)}\n` : `Updated ${id} (${fields.join(', ')}); it is ${view.status}.\n`,
      );
      return;
    }

    if (sub === 'usage') {
      const id = keyId();
      if ((await storage.apiKeys.get(id)) === undefined) throw new Error(`no key ${id}`);
      const usage = await readUsageCli(storage, { keyId: id }, values, now);
      io.out(json ? `${JSON.stringify(usage)}\n` : usageTable(usage));
      return;
    }

    if (sub === 'revoke') {
      const id = keyId();
      const revoked = await storage.apiKeys.update(id, { revokedAt: now });
      if (revoked === undefined) throw new Error(`no key ${id}`);
      await recordCliEvent(storage, 'key_revoked', now, {
        keyId: id,
        prefix: revoked.prefix,
        ownerId: revoked.ownerId,
      });
      await announce(config, id, io);
      const view = safeKeyView(revoked, now);
      io.out(json ? `${JSON.stringify(view)}\n` : `Revoked ${id} at ${view.revokedAt}.\n`);
      return;
    }

    // rotate
    const id = keyId();
    let grace = 0;
    if (values.grace !== undefined) {
      if (!isDuration(values.grace)) throw new UsageError('--grace: expected a duration like 1h');
      grace = parseDuration(values.grace);
      if (grace > 30 * 86_400_000) throw new UsageError('--grace: at most 30d');
    }
    const rotated = await rotateStoredKey(storage, await openIssuer(), id, grace);
    if (!rotated.ok) {
      throw new Error(
        rotated.code === 'NOT_FOUND'
          ? `no key ${id}`
          : rotated.code === 'ROTATED'
            ? `${id} was already rotated; rotate its successor instead`
            : rotated.code === 'CONFLICT'
              ? `${id} was changed meanwhile; try again`
              : `${id} cannot be rotated (${rotated.code})`,
      );
    }
    await recordCliEvent(storage, 'key_rotated', now, {
      keyId: rotated.record.id,
      rotatedFrom: id,
      prefix: rotated.record.prefix,
      gracePeriodMs: grace,
    });
    await announce(config, id, io);
    const view = safeKeyView(rotated.record, now);
    const ends = new Date(rotated.previous.revokedAt!).toISOString();
    io.out(
      json
        ? `${JSON.stringify({ ...view, key: rotated.key, previous: { id, revokedAt: ends } })}\n`
        : `Rotated ${id} into ${view.id}; the old key stops at ${ends}. The new key is shown this once:\n\n${rotated.key}\n`,
    );
  } finally {
    await storage.close();
  }
}

/** The flags of `keys update` as a store patch, and the names of the fields it changes. */
function keyPatch(
  values: Values<typeof FORMS.update.options>,
  now: number,
): { patch: ApiKeyPatch; fields: string[] } {
  const patch: ApiKeyPatch = {};
  const fields: string[] = [];
  if (values.name !== undefined) {
    patch.name = values.name;
    fields.push('name');
  }
  if (values.scopes !== undefined) {
    const scopes = scopeList(values.scopes);
    const bad = scopes.find((s) => !SCOPE_NAME.test(s));
    if (bad !== undefined) throw new UsageError(`--scopes: ${JSON.stringify(bad)} is not a scope name`);
    patch.scopes = scopes;
    fields.push('scopes');
  }
  if (values.expires !== undefined) {
    patch.expiresAt = values.expires === 'never' ? null : instant(values.expires, '--expires', now);
    if (patch.expiresAt !== null && patch.expiresAt <= now)
      throw new UsageError('--expires: must be in the future');
    fields.push('expiresAt');
  }
  if (values.enable && values.disable)
    throw new UsageError('keys update: --enable and --disable exclude each other');
  if (values.enable || values.disable) {
    patch.disabledAt = values.disable ? now : null;
    fields.push('enabled');
  }
  if (values['rate-limit'] !== undefined) {
    patch.rateLimit = values['rate-limit'] === 'none' ? null : rate(values['rate-limit'], '--rate-limit');
    fields.push('rateLimit');
  }
  if (values.credits === 'none') {
    if (values['add-credits'] !== undefined || values.refill !== undefined) {
      throw new UsageError('--credits none: cannot be combined with --add-credits or --refill');
    }
    patch.credits = null;
    fields.push('credits');
  } else if (
    values.credits !== undefined ||
    values['add-credits'] !== undefined ||
    values.refill !== undefined
  ) {
    const credits: NonNullable<ApiKeyPatch['credits']> = {};
    if (values.credits !== undefined) credits.remaining = wholeNumber(values.credits, '--credits', 0, 1e12);
    if (values['add-credits'] !== undefined) {
      const text = values['add-credits'];
      if (!/^[+-]?\d{1,13}$/.test(text))
        throw new UsageError('--add-credits: expected a whole number, e.g. 100 or -5');
      credits.increment = Number(text);
    }
    if (values.refill !== undefined) {
      if (values.refill === 'none') credits.refill = null;
      else {
        const r = rate(values.refill, '--refill');
        credits.refill = { amount: r.limit, intervalMs: r.windowMs, lastRefillAt: now };
      }
    }
    patch.credits = credits;
    fields.push('credits');
  }
  return { patch, fields };
}

/** `<n>/<window>` (`100/1m`). */
function rate(text: string, flag: string): { limit: number; windowMs: number } {
  const [limit, window] = text.split('/');
  if (limit === undefined || window === undefined || !isDuration(window)) {
    throw new UsageError(`${flag}: expected <n>/<window>, e.g. 100/1m`);
  }
  return { limit: wholeNumber(limit, flag, 1, 1e9), windowMs: parseDuration(window) };
}

/** `--scopes a, b,c` as a list (none when the flag is absent). */
function scopeList(text: string | undefined): string[] {
  return text === undefined
    ? []
    : text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

export const KEYS_COMMAND: Command = {
  name: 'keys',
  summary: 'create, list, update, revoke, rotate and import API keys; show their usage',
  usage: KEYS_USAGE,
  form: { subcommands: FORMS },
  run: keysCommand,
};
