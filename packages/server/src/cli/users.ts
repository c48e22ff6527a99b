import { checkEmail } from 'rampart/internal/validation/email.ts';
import { checkName } from 'rampart/internal/validation/name.ts';
import { checkPassword, tutorialPasswordPolicy } from 'rampart/internal/validation/password.ts';
import {
  type AdminOutcome,
  adminUserView,
  createUser,
  deleteUser,
  endSessions,
  findUser,
  setDisabled,
  setRole,
  type UserAdminDeps,
} from '../accounts/admin.ts';
import { INVALIDATION_CHANNEL } from '../server/api-keys/service.ts';
import type { ServerConfig } from '../server/config.ts';
import { publishOnce } from '../server/redis.ts';
import { openStorage } from '../server/server.ts';
import { endSessionsOffline } from '../server/sessions.ts';
import type { Role, Storage, UserRecord } from '../storage/types.ts';
import { type Parsed, subcommand, wholeNumber } from './args.ts';
import { recordCliEvent } from './audit.ts';
import type { Command, Form, Io } from './command.ts';
import { loadCliConfig } from './config.ts';
import { cell, table, UsageError } from './output.ts';
import { readSecret } from './secret-input.ts';

export const USERS_USAGE = `Usage:
  rampart users create --email <address> --name <name> [--role user|admin] [--json]
                       (the password is asked for without echo, or read from stdin: ... | rampart users create ...)
  rampart users list   [--email <prefix>] [--name <part>] [--role user|admin] [--status active|disabled]
                       [--limit <n>] [--json]
  rampart users show         <user> [--json]
  rampart users set-role     <user> <user|admin> [--json]
  rampart users disable      <user> [--json]
  rampart users enable       <user> [--json]
  rampart users delete       <user> [--json]
  rampart users end-sessions <user> [--json]

<user> is an e-mail address or a user id (usr_…). Disabling ends every session of the user
and disables their API keys; demoting an admin ends their sessions; deleting revokes their
keys. The last enabled admin cannot be demoted, disabled or deleted. With REDIS_URL set,
running servers refuse the ended sessions at once; otherwise within 15 seconds.
`;

const json = { type: 'boolean' } as const;
const ROLES = ['user', 'admin'] as const;
const one = { options: { json }, positionals: ['<user>'] } as const satisfies Form;
const FORMS = {
  create: {
    options: {
      email: { type: 'string', value: '<address>' },
      name: { type: 'string', value: '<name>' },
      role: { type: 'string', value: '<role>', choices: ROLES },
      json,
    },
  },
  list: {
    options: {
      email: { type: 'string', value: '<prefix>' },
      name: { type: 'string', value: '<part>' },
      role: { type: 'string', value: '<role>', choices: ROLES },
      status: { type: 'string', value: '<status>', choices: ['active', 'disabled'] },
      limit: { type: 'string', value: '<n>' },
      json,
    },
  },
  show: one,
  'set-role': { options: { json }, positionals: ['<user>', '<role>'] },
  disable: one,
  enable: one,
  delete: one,
  'end-sessions': one,
} as const satisfies Record<string, Form>;

type UserOptions = typeof FORMS.create.options & typeof FORMS.list.options;

/** The CLI's side of the account use-cases: sessions and keys ended in storage, announced on Redis. */
function cliDeps(config: ServerConfig, storage: Storage, io: Io): UserAdminDeps {
  const warnUnannounced = () =>
    io.err('warning: could not reach REDIS_URL; running servers apply the change within 15-30 s\n');
  return {
    storage,
    now: io.now,
    async endAllSessions(userId) {
      const ended = await endSessionsOffline(config, storage, userId, io.now());
      if (config.redisUrl !== undefined && ended.sessions > 0 && !ended.announced) warnUnannounced();
    },
    async endKeys(userId, how) {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await storage.apiKeys.list({
          ownerId: userId,
          limit: 500,
          ...(cursor ? { cursor } : {}),
        });
        const at = io.now();
        for (const key of page.keys) {
          if (key.revokedAt !== null && key.revokedAt <= at) continue;
          if (how === 'disable' && key.disabledAt != null) continue;
          await storage.apiKeys.update(key.id, how === 'revoke' ? { revokedAt: at } : { disabledAt: at });
          ids.push(key.id);
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      if (ids.length > 0 && config.redisUrl !== undefined) {
        await publishOnce(config.redisUrl, INVALIDATION_CHANNEL, ids).catch(warnUnannounced);
      }
      return ids;
    },
  };
}

function usersTable(users: UserRecord[]): string {
  return table(
    ['ID', 'EMAIL', 'NAME', 'ROLE', 'STATUS', 'CREATED'],
    users.map((u) => {
      const v = adminUserView(u);
      return [v.id, cell(v.email, 40), cell(v.name, 30), v.role, v.status, v.createdAt];
    }),
  );
}

/** `rampart users …`. */
export async function usersCommand(argv: string[], io: Io): Promise<void> {
  const { sub, values, positionals } = subcommand('users', FORMS, argv) as {
    sub: string;
  } & Parsed<UserOptions>;
  const asJson = values.json === true;

  // Checked before anything is opened: a mistake costs no database connection.
  let createInput: { email: string; name: string; role: Role } | undefined;
  if (sub === 'create') {
    if (values.email === undefined) throw new UsageError('users create: --email is required');
    if (values.name === undefined) throw new UsageError('users create: --name is required');
    const email = checkEmail(values.email);
    if (!email.ok) throw new UsageError(`users create: --email: ${email.message}`);
    const name = checkName(values.name);
    if (!name.ok) throw new UsageError(`users create: --name: ${name.message}`);
    createInput = { email: email.value, name: name.value, role: (values.role as Role | undefined) ?? 'user' };
  } else if (sub !== 'list' && positionals[0] === undefined) {
    throw new UsageError(`users ${sub}: expected a user (an e-mail address or usr_…)`);
  }
  const role = sub === 'set-role' ? positionals[1] : undefined;
  if (sub === 'set-role' && (role === undefined || !(ROLES as readonly string[]).includes(role))) {
    throw new UsageError(`users set-role: expected a role (${ROLES.join(', ')})`);
  }

  const config = loadCliConfig(io.env);
  const password = createInput !== undefined ? await readSecret('Password (not shown): ', io) : undefined;
  if (createInput !== undefined) {
    const policy =
      config.passwords.preset === 'tutorial'
        ? { ...tutorialPasswordPolicy, minLength: config.passwords.minLength }
        : { minLength: config.passwords.minLength };
    const check = checkPassword(password ?? '', {
      ...policy,
      context: [createInput.email, createInput.name],
    });
    if (!check.ok) throw new UsageError(`users create: the password: ${check.message}`);
  }
  const storage = await openStorage(config);
  try {
    const now = io.now();
    const deps = cliDeps(config, storage, io);
    const show = (user: UserRecord, text: string) =>
      io.out(asJson ? `${JSON.stringify(adminUserView(user))}\n` : `${text}\n`);

    if (createInput !== undefined) {
      const made = await createUser(deps, { ...createInput, password: password! });
      if (!made.ok) throw new Error(`an account with ${createInput.email} exists`);
      await recordCliEvent(storage, 'user_created', now, { userId: made.user.id, role: made.user.role });
      show(made.user, `Created ${made.user.id} (${cell(made.user.email)}, ${made.user.role}).`);
      return;
    }

    if (sub === 'list') {
      const limit = values.limit === undefined ? 100 : wholeNumber(values.limit, '--limit', 1, 10_000);
      const users: UserRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await storage.userAdmin.search({
          limit: Math.min(500, limit - users.length),
          ...(cursor ? { cursor } : {}),
          ...(values.email !== undefined ? { emailPrefix: values.email.toLowerCase() } : {}),
          ...(values.name !== undefined ? { nameContains: values.name } : {}),
          ...(values.role !== undefined ? { role: values.role as Role } : {}),
          ...(values.status !== undefined ? { disabled: values.status === 'disabled' } : {}),
        });
        users.push(...page.users);
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined && users.length < limit);
      io.out(
        asJson
          ? `${JSON.stringify({ users: users.map(adminUserView) })}\n`
          : users.length === 0
            ? 'No users.\n'
            : usersTable(users),
      );
      return;
    }

    const ref = positionals[0]!;
    const user = await findUser(storage, ref);
    if (user === undefined) {
      throw new Error(`no user ${JSON.stringify(ref)} (name one by e-mail or usr_… id)`);
    }
    const settled = (outcome: AdminOutcome) => {
      if (outcome.ok) return outcome;
      throw new Error(
        outcome.code === 'LAST_ADMIN'
          ? `${user.email} is the last enabled admin; make another admin first`
          : `no user ${ref}`,
      );
    };

    if (sub === 'show') {
      show(user, usersTable([user]).trimEnd());
      return;
    }
    if (sub === 'set-role') {
      const after = settled(await setRole(deps, user.id, role as Role)).user;
      await recordCliEvent(storage, 'user_updated', now, {
        userId: user.id,
        fields: ['role'],
        from: user.role,
        to: role,
      });
      show(after, `${after.email} is now ${after.role}.`);
      return;
    }
    if (sub === 'disable' || sub === 'enable') {
      const outcome = settled(await setDisabled(deps, user.id, sub === 'disable'));
      await recordCliEvent(storage, sub === 'disable' ? 'user_disabled' : 'user_enabled', now, {
        userId: user.id,
        ...(outcome.keys ? { keysDisabled: outcome.keys } : {}),
      });
      show(
        outcome.user,
        sub === 'disable'
          ? `Disabled ${user.email}: sessions ended, ${outcome.keys?.length ?? 0} API key(s) disabled.`
          : `Enabled ${user.email}. (Their disabled API keys stay disabled: enable them one by one.)`,
      );
      return;
    }
    if (sub === 'delete') {
      const outcome = settled(await deleteUser(deps, user.id));
      await recordCliEvent(storage, 'user_deleted', now, {
        userId: user.id,
        keysRevoked: outcome.keys ?? [],
      });
      show(outcome.user, `Deleted ${user.email}; ${outcome.keys?.length ?? 0} API key(s) revoked.`);
      return;
    }
    // end-sessions
    settled(await endSessions(deps, user.id));
    await recordCliEvent(storage, 'user_sessions_ended', now, { userId: user.id });
    show(user, `Ended every session of ${user.email}.`);
  } finally {
    await storage.close();
  }
}

export const USERS_COMMAND: Command = {
  name: 'users',
  summary: 'create, list, show, change, disable, delete users and end their sessions',
  usage: USERS_USAGE,
  form: { subcommands: FORMS },
  run: usersCommand,
};
