/**
 * `rampart identities …` and `rampart plans …`: owners of keys with shared credits and rate
 * limits, and the named sets of limits they subscribe to, on the deployment's storage. A
 * change is announced on Redis (`REDIS_URL`) so running servers drop their cached limits at
 * once; otherwise they read them again within 5 seconds.
 */
import { isDuration, parseDuration } from 'rampart/internal/lib/duration.ts';
import { isId, newId } from 'rampart/internal/lib/ids.ts';
import { INVALIDATION_CHANNEL } from '../server/api-keys/service.ts';
import type { ServerConfig } from '../server/config.ts';
import { publishOnce } from '../server/redis.ts';
import { identityView, planView } from '../server/routes/identities.ts';
import { openStorage } from '../server/server.ts';
import type {
  CreditsPatch,
  IdentityChange,
  IdentityPatch,
  IdentityRecord,
  PlanChange,
  PlanCredits,
  PlanPatch,
  PlanRecord,
  RateLimitSpec,
  Storage,
} from '../storage/types.ts';
import { type Parsed, subcommand, wholeNumber } from './args.ts';
import { recordCliEvent } from './audit.ts';
import type { Command, Form, Io } from './command.ts';
import { loadCliConfig } from './config.ts';
import { cell, table, UsageError } from './output.ts';
import { readUsageCli, usageTable } from './usage.ts';

const json = { type: 'boolean' } as const;
const limitsFlag = { type: 'string', value: '<n>/<window>[:name],… | none' } as const;

export const PLANS_USAGE = `Usage:
  rampart plans create --name <name> [--rate-limits <n>/<window>[:name],…] [--credits <n>] [--refill <n>/<interval>] [--json]
  rampart plans list   [--json]
  rampart plans show   <plan> [--json]
  rampart plans update <plan> [--name <name>] [--rate-limits …|none] [--credits <n>|none] [--refill <n>/<interval>] [--json]
  rampart plans delete <plan>

<plan> is a plan id (pln_…) or its name. --rate-limits 100/1m,10000/1d:daily sets two limits
(the first named "default"). A plan's limits apply to every identity on it at once.
`;

export const IDENTITIES_USAGE = `Usage:
  rampart identities create --external-id <id> --name <name> [--plan <plan>] [--credits <n>]
                            [--rate-limits <n>/<window>[:name],…] [--json]
  rampart identities list   [--plan <plan> | --no-plan] [--json]
  rampart identities show   <identity> [--json]
  rampart identities update <identity> [--name <name>] [--plan <plan> | none] [--credits <n> | none]
                            [--add-credits=<±n>] [--rate-limits …|none|plan] [--json]
  rampart identities delete <identity>
  rampart identities usage  <identity> [--granularity minute|hour|day] [--since …] [--until …] [--json]

<identity> is an identity id (idt_…) or its external id. --rate-limits on an identity
overrides its plan's ("plan" drops the override). Every key of the identity shares its
credits and limits; give a key an identity with POST /v1/keys (identityId).
`;

const PLAN_FORMS = {
  create: {
    options: {
      name: { type: 'string', value: '<name>' },
      'rate-limits': limitsFlag,
      credits: { type: 'string', value: '<n>' },
      refill: { type: 'string', value: '<n>/<interval>' },
      json,
    },
  },
  list: { options: { json } },
  show: { options: { json }, positionals: ['<plan>'] },
  update: {
    options: {
      name: { type: 'string', value: '<name>' },
      'rate-limits': limitsFlag,
      credits: { type: 'string', value: '<n> | none' },
      refill: { type: 'string', value: '<n>/<interval>' },
      json,
    },
    positionals: ['<plan>'],
  },
  delete: { options: {}, positionals: ['<plan>'] },
} as const satisfies Record<string, Form>;

const IDENTITY_FORMS = {
  create: {
    options: {
      'external-id': { type: 'string', value: '<id>' },
      name: { type: 'string', value: '<name>' },
      plan: { type: 'string', value: '<plan>' },
      credits: { type: 'string', value: '<n>' },
      'rate-limits': limitsFlag,
      json,
    },
  },
  list: { options: { plan: { type: 'string', value: '<plan>' }, 'no-plan': { type: 'boolean' }, json } },
  show: { options: { json }, positionals: ['<identity>'] },
  update: {
    options: {
      name: { type: 'string', value: '<name>' },
      plan: { type: 'string', value: '<plan> | none' },
      credits: { type: 'string', value: '<n> | none' },
      'add-credits': { type: 'string', value: '<±n>' },
      'rate-limits': { type: 'string', value: '<n>/<window>[:name],… | none | plan' },
      json,
    },
    positionals: ['<identity>'],
  },
  delete: { options: {}, positionals: ['<identity>'] },
  usage: {
    options: {
      granularity: { type: 'string', value: '<size>', choices: ['minute', 'hour', 'day'] },
      since: { type: 'string', value: '<ISO | epoch ms | 1h>' },
      until: { type: 'string', value: '<ISO | epoch ms>' },
      json,
    },
    positionals: ['<identity>'],
  },
} as const satisfies Record<string, Form>;

/** `100/1m,10000/1d:daily` as limits. */
function limitsOf(text: string, flag: string): RateLimitSpec[] {
  const specs = text.split(',').map((part, i) => {
    const match = /^(\d{1,10})\/([0-9]+[smhd]):?([a-z][a-z0-9-]{0,31})?$/.exec(part.trim());
    if (!match || !isDuration(match[2]!))
      throw new UsageError(`${flag}: expected <n>/<window>[:name], e.g. 100/1m`);
    const name = match[3] ?? (i === 0 ? undefined : `limit-${i + 1}`);
    return {
      ...(name ? { name } : {}),
      limit: wholeNumber(match[1]!, flag, 1, 1e9),
      windowMs: parseDuration(match[2]!),
    };
  });
  if (new Set(specs.map((s) => s.name ?? 'default')).size !== specs.length) {
    throw new UsageError(`${flag}: each limit needs its own name`);
  }
  return specs;
}

function refillOf(text: string): NonNullable<PlanCredits['refill']> {
  const [amount, interval] = text.split('/');
  if (amount === undefined || interval === undefined || !isDuration(interval)) {
    throw new UsageError('--refill: expected <n>/<interval>, e.g. 1000/1d');
  }
  return { amount: wholeNumber(amount, '--refill', 1, 1e12), intervalMs: parseDuration(interval) };
}

async function announce(config: ServerConfig, id: string, io: Io) {
  if (config.redisUrl === undefined) return;
  try {
    await publishOnce(config.redisUrl, INVALIDATION_CHANNEL, [id]);
  } catch {
    io.err('warning: could not reach REDIS_URL; running servers apply the change within 5 s\n');
  }
}

async function planNamed(storage: Storage, ref: string): Promise<PlanRecord> {
  const plan = isId(ref, 'pln') ? await storage.plans.get(ref) : await storage.plans.get({ name: ref });
  if (plan === undefined) throw new Error(`no plan ${JSON.stringify(ref)}`);
  return plan;
}

async function identityNamed(storage: Storage, ref: string): Promise<IdentityRecord> {
  const identity = isId(ref, 'idt')
    ? await storage.identities.get(ref)
    : await storage.identities.get({ externalId: ref });
  if (identity === undefined) throw new Error(`no identity ${JSON.stringify(ref)}`);
  return identity;
}

function planSettled(change: PlanChange): PlanRecord {
  if (change.ok) return change.plan;
  throw new Error(
    change.code === 'NAME_TAKEN'
      ? 'a plan with this name exists'
      : change.code === 'IN_USE'
        ? 'identities are on this plan; move them first'
        : 'no such plan',
  );
}

function identitySettled(change: IdentityChange): IdentityRecord {
  if (change.ok) return change.identity;
  const messages = {
    NOT_FOUND: 'no such identity',
    EXTERNAL_ID_TAKEN: 'an identity with this external id exists',
    PLAN_NOT_FOUND: 'no such plan',
    IN_USE: 'the identity still has live keys; revoke them first',
  } as const;
  throw new Error(messages[change.code]);
}

/** `rampart plans …`. */
export async function plansCommand(argv: string[], io: Io): Promise<void> {
  const { sub, values, positionals } = subcommand('plans', PLAN_FORMS, argv) as { sub: string } & Parsed<
    typeof PLAN_FORMS.create.options & typeof PLAN_FORMS.update.options
  >;
  if (sub !== 'create' && sub !== 'list' && positionals[0] === undefined) {
    throw new UsageError(`plans ${sub}: expected a plan (pln_… or its name)`);
  }
  const config = loadCliConfig(io.env);
  const storage = await openStorage(config);
  const out = (plan: PlanRecord, text: string) =>
    io.out(values.json ? `${JSON.stringify(planView(plan))}\n` : `${text}\n`);
  try {
    const now = io.now();
    const credits = (): PlanCredits | null | undefined => {
      if (values.credits === 'none') return null;
      if (values.credits === undefined) {
        if (values.refill !== undefined) throw new UsageError('--refill: give --credits with it');
        return undefined;
      }
      return {
        amount: wholeNumber(values.credits, '--credits', 0, 1e12),
        ...(values.refill !== undefined ? { refill: refillOf(values.refill) } : {}),
      };
    };
    if (sub === 'create') {
      if (values.name === undefined) throw new UsageError('plans create: --name is required');
      const plan = planSettled(
        await storage.plans.create({
          id: newId('pln'),
          name: values.name,
          rateLimits: values['rate-limits'] ? limitsOf(values['rate-limits'], '--rate-limits') : [],
          credits: credits() ?? null,
          metadata: {},
          createdAt: now,
          updatedAt: now,
        }),
      );
      await recordCliEvent(storage, 'plan_created', now, { planId: plan.id, name: plan.name });
      out(plan, `Created plan ${plan.id} (${cell(plan.name)}).`);
      return;
    }
    if (sub === 'list') {
      const plans: PlanRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await storage.plans.list({ limit: 500, ...(cursor ? { cursor } : {}) });
        plans.push(...page.plans);
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      io.out(
        values.json
          ? `${JSON.stringify({ plans: plans.map(planView) })}\n`
          : plans.length === 0
            ? 'No plans.\n'
            : table(
                ['ID', 'NAME', 'RATE LIMITS', 'CREDITS'],
                plans.map((p) => [
                  p.id,
                  cell(p.name, 30),
                  cell(p.rateLimits.map((l) => `${l.limit}/${l.windowMs / 1000}s`).join(' ')),
                  p.credits === null ? '-' : String(p.credits.amount),
                ]),
              ),
      );
      return;
    }
    const plan = await planNamed(storage, positionals[0]!);
    if (sub === 'show') {
      out(plan, JSON.stringify(planView(plan), null, 2));
      return;
    }
    if (sub === 'delete') {
      planSettled(await storage.plans.delete(plan.id));
      await recordCliEvent(storage, 'plan_deleted', now, { planId: plan.id, name: plan.name });
      io.out(`Deleted plan ${plan.id}.\n`);
      return;
    }
    const patch: PlanPatch = {};
    if (values.name !== undefined) patch.name = values.name;
    if (values['rate-limits'] !== undefined) {
      patch.rateLimits =
        values['rate-limits'] === 'none' ? [] : limitsOf(values['rate-limits'], '--rate-limits');
    }
    const c = credits();
    if (c !== undefined) patch.credits = c;
    if (Object.keys(patch).length === 0) throw new UsageError('plans update: nothing to change');
    const after = planSettled(await storage.plans.update(plan.id, patch, now));
    await recordCliEvent(storage, 'plan_updated', now, {
      planId: plan.id,
      fields: Object.keys(patch).sort(),
    });
    await announce(config, '*', io);
    out(after, `Updated plan ${plan.id} (${Object.keys(patch).sort().join(', ')}).`);
  } finally {
    await storage.close();
  }
}

/** `rampart identities …`. */
export async function identitiesCommand(argv: string[], io: Io): Promise<void> {
  const { sub, values, positionals } = subcommand('identities', IDENTITY_FORMS, argv) as {
    sub: string;
  } & Parsed<
    typeof IDENTITY_FORMS.create.options &
      typeof IDENTITY_FORMS.update.options &
      typeof IDENTITY_FORMS.list.options &
      typeof IDENTITY_FORMS.usage.options
  >;
  if (sub !== 'create' && sub !== 'list' && positionals[0] === undefined) {
    throw new UsageError(`identities ${sub}: expected an identity (idt_… or its external id)`);
  }
  const config = loadCliConfig(io.env);
  const storage = await openStorage(config);
  const view = async (identity: IdentityRecord) =>
    identityView(identity, identity.planId ? await storage.plans.get(identity.planId) : undefined);
  const out = async (identity: IdentityRecord, text: string) =>
    io.out(values.json ? `${JSON.stringify(await view(identity))}\n` : `${text}\n`);
  try {
    const now = io.now();
    if (sub === 'create') {
      if (values['external-id'] === undefined)
        throw new UsageError('identities create: --external-id is required');
      if (values.name === undefined) throw new UsageError('identities create: --name is required');
      const plan = values.plan !== undefined ? await planNamed(storage, values.plan) : undefined;
      const overrides = values['rate-limits']
        ? { rateLimits: limitsOf(values['rate-limits'], '--rate-limits') }
        : {};
      const amount =
        values.credits !== undefined
          ? wholeNumber(values.credits, '--credits', 0, 1e12)
          : plan?.credits?.amount;
      const refill = plan?.credits?.refill;
      const identity = identitySettled(
        await storage.identities.create({
          id: newId('idt'),
          externalId: values['external-id'],
          name: values.name,
          metadata: {},
          planId: plan?.id ?? null,
          overrides,
          credits:
            amount === undefined
              ? null
              : { remaining: amount, ...(refill ? { refill: { ...refill, lastRefillAt: now } } : {}) },
          createdAt: now,
          updatedAt: now,
        }),
      );
      await recordCliEvent(storage, 'identity_created', now, {
        identityId: identity.id,
        planId: identity.planId,
      });
      await out(identity, `Created identity ${identity.id} (${cell(identity.externalId)}).`);
      return;
    }
    if (sub === 'list') {
      if (values.plan !== undefined && values['no-plan'])
        throw new UsageError('--plan and --no-plan exclude each other');
      const planId = values['no-plan']
        ? null
        : values.plan !== undefined
          ? (await planNamed(storage, values.plan)).id
          : undefined;
      const identities: IdentityRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await storage.identities.list({
          limit: 500,
          ...(cursor ? { cursor } : {}),
          ...(planId !== undefined ? { planId } : {}),
        });
        identities.push(...page.identities);
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      if (values.json) {
        io.out(`${JSON.stringify({ identities: await Promise.all(identities.map(view)) })}\n`);
        return;
      }
      io.out(
        identities.length === 0
          ? 'No identities.\n'
          : table(
              ['ID', 'EXTERNAL ID', 'NAME', 'PLAN', 'CREDITS'],
              identities.map((i) => [
                i.id,
                cell(i.externalId, 30),
                cell(i.name, 30),
                cell(i.planId),
                i.credits === null ? '-' : String(i.credits.remaining),
              ]),
            ),
      );
      return;
    }
    const identity = await identityNamed(storage, positionals[0]!);
    if (sub === 'show') {
      await out(identity, JSON.stringify(await view(identity), null, 2));
      return;
    }
    if (sub === 'usage') {
      const usage = await readUsageCli(storage, { identityId: identity.id }, values, now);
      io.out(values.json ? `${JSON.stringify(usage)}\n` : usageTable(usage));
      return;
    }
    if (sub === 'delete') {
      identitySettled(await storage.identities.delete(identity.id, now));
      await recordCliEvent(storage, 'identity_deleted', now, { identityId: identity.id });
      await announce(config, identity.id, io);
      io.out(`Deleted identity ${identity.id}.\n`);
      return;
    }
    const patch: IdentityPatch = {};
    if (values.name !== undefined) patch.name = values.name;
    if (values.plan !== undefined)
      patch.planId = values.plan === 'none' ? null : (await planNamed(storage, values.plan)).id;
    if (values['rate-limits'] !== undefined) {
      const { rateLimits: _, ...rest } = identity.overrides;
      patch.overrides =
        values['rate-limits'] === 'plan'
          ? rest
          : {
              ...rest,
              rateLimits:
                values['rate-limits'] === 'none' ? [] : limitsOf(values['rate-limits'], '--rate-limits'),
            };
    }
    if (values.credits === 'none') {
      if (values['add-credits'] !== undefined)
        throw new UsageError('--credits none: cannot be combined with --add-credits');
      patch.credits = null;
    } else if (values.credits !== undefined || values['add-credits'] !== undefined) {
      const credits: NonNullable<CreditsPatch> = {};
      if (values.credits !== undefined) credits.remaining = wholeNumber(values.credits, '--credits', 0, 1e12);
      if (values['add-credits'] !== undefined) {
        if (!/^[+-]?\d{1,13}$/.test(values['add-credits']))
          throw new UsageError('--add-credits: expected a whole number');
        credits.increment = Number(values['add-credits']);
      }
      patch.credits = credits;
    }
    if (Object.keys(patch).length === 0) throw new UsageError('identities update: nothing to change');
    const after = identitySettled(await storage.identities.update(identity.id, patch, now));
    await recordCliEvent(storage, 'identity_updated', now, {
      identityId: identity.id,
      fields: Object.keys(patch).sort(),
    });
    await announce(config, identity.id, io);
    await out(after, `Updated identity ${identity.id} (${Object.keys(patch).sort().join(', ')}).`);
  } finally {
    await storage.close();
  }
}

export const PLANS_COMMAND: Command = {
  name: 'plans',
  summary: 'create, list, show, update and delete plans (named limits and credits)',
  usage: PLANS_USAGE,
  form: { subcommands: PLAN_FORMS },
  run: plansCommand,
};

export const IDENTITIES_COMMAND: Command = {
  name: 'identities',
  summary: 'create, list, show, update and delete identities; show their usage',
  usage: IDENTITIES_USAGE,
  form: { subcommands: IDENTITY_FORMS },
  run: identitiesCommand,
};
