/**
 * The `rampart export` file: JSON Lines, a header line, one line per record, and an end line
 * with the count of each kind. `parseLine` checks what a line must hold before it may reach a
 * store: an export is data from outside, not trusted code.
 */
import type {
  ApiKeyRecord,
  AuditEvent,
  RefreshTokenRecord,
  StoredSigningKey,
  UserRecord,
} from '../storage/types.ts';

export const FORMAT = 'rampart-export';
export const VERSION = 1;

export interface Header {
  format: typeof FORMAT;
  version: typeof VERSION;
  source: string;
  exportedAt: string;
  /**
   * False when password hashes and signing keys were left out (an export to stdout without
   * `--include-secrets`): such a file documents a deployment but cannot restore one. Files
   * written before this field existed always held them.
   */
  secrets?: boolean;
}

export type Line =
  | { kind: 'user'; record: UserRecord }
  | { kind: 'apiKey'; record: ApiKeyRecord }
  | { kind: 'refreshToken'; record: RefreshTokenRecord }
  | { kind: 'ttl'; record: { key: string; value: string; expiresAt: number } }
  | { kind: 'signingKey'; record: StoredSigningKey }
  | { kind: 'auditEvent'; record: AuditEvent };

export type Kind = Line['kind'];
export type Counts = Record<Kind, number>;
export const KINDS: readonly Kind[] = ['user', 'apiKey', 'refreshToken', 'ttl', 'signingKey', 'auditEvent'];

export const zeroCounts = (): Counts => ({
  user: 0,
  apiKey: 0,
  refreshToken: 0,
  ttl: 0,
  signingKey: 0,
  auditEvent: 0,
});

/** `3 user, 2 apiKey, …`. */
export function describeCounts(counts: Counts): string {
  return KINDS.map((kind) => `${counts[kind]} ${kind}`).join(', ');
}

/** The id a record is stored under, per kind: what duplicates are checked on, and what an undo deletes. */
export function idOf(line: Line): string {
  switch (line.kind) {
    case 'user':
    case 'apiKey':
    case 'auditEvent':
      return line.record.id;
    case 'refreshToken':
      return line.record.tokenHash;
    case 'ttl':
      return line.record.key;
    case 'signingKey':
      return line.record.record.kid;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The header line, or an error naming line 1. */
export function parseHeader(text: string): Header {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!isObject(value) || value.format !== FORMAT || value.version !== VERSION)
    throw new Error(`line 1: not a ${FORMAT} version ${VERSION} file`);
  if (value.secrets !== undefined && typeof value.secrets !== 'boolean')
    throw new Error('line 1: "secrets" must be true or false');
  return value as unknown as Header;
}

/** A record line or the end line, checked field by field; an error names the line number. */
export function parseLine(text: string, number: number): Line | { kind: 'end'; counts: Counts } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`line ${number}: not JSON`);
  }
  const bad = (what: string) => new Error(`line ${number}: ${what}`);
  if (!isObject(value) || typeof value.kind !== 'string') throw bad('expected { kind, record }');
  if (value.kind === 'end') {
    const counts = value.counts;
    if (
      !isObject(counts) ||
      !KINDS.every((k) => Number.isSafeInteger(counts[k]) && (counts[k] as number) >= 0)
    )
      throw bad(`the end line must count every kind (${KINDS.join(', ')})`);
    return { kind: 'end', counts: counts as Counts };
  }
  const r = value.record;
  if (!isObject(r)) throw bad('expected a record');
  const str = (field: string) => typeof r[field] === 'string' && r[field] !== '';
  const text_ = (field: string) => typeof r[field] === 'string';
  // Times must be shown and compared later: whole ms inside the date range.
  const time = (v: unknown) => Number.isSafeInteger(v) && Number.isFinite(new Date(v as number).getTime());
  const int = (field: string) => time(r[field]);
  const intOrNull = (field: string) => r[field] === null || time(r[field]);
  const optionalInt = (field: string) => r[field] === undefined || time(r[field]);
  const nullableStr = (field: string) => r[field] === null || r[field] === undefined || str(field);
  const ok: Record<Kind, () => boolean> = {
    user: () =>
      str('id') &&
      str('email') &&
      str('emailKey') &&
      text_('name') &&
      (r.role === 'user' || r.role === 'admin') &&
      str('passwordHash') &&
      int('createdAt') &&
      int('updatedAt') &&
      intOrNull('notBefore'),
    apiKey: () =>
      str('id') &&
      str('hash') &&
      text_('hint') &&
      text_('prefix') &&
      text_('name') &&
      nullableStr('ownerId') &&
      Array.isArray(r.scopes) &&
      r.scopes.every((s) => typeof s === 'string') &&
      int('createdAt') &&
      intOrNull('expiresAt') &&
      intOrNull('lastUsedAt') &&
      intOrNull('revokedAt') &&
      isObject(r.metadata) &&
      (r.credits === null || isObject(r.credits)) &&
      (r.rateLimit === null || isObject(r.rateLimit)) &&
      nullableStr('rotatedFrom'),
    refreshToken: () =>
      str('tokenHash') &&
      str('familyId') &&
      str('userId') &&
      int('createdAt') &&
      int('familyCreatedAt') &&
      optionalInt('usedAt') &&
      optionalInt('revokedAt') &&
      (r.replacedBy === undefined || str('replacedBy')),
    ttl: () => str('key') && text_('value') && int('expiresAt'),
    signingKey: () =>
      isObject(r.record) &&
      typeof r.record.kid === 'string' &&
      typeof r.record.alg === 'string' &&
      time(r.record.createdAt) &&
      isObject(r.record.privateJwk) &&
      time(r.activatesAt),
    auditEvent: () =>
      str('id') &&
      str('type') &&
      int('at') &&
      str('outcome') &&
      isObject(r.detail) &&
      Number.isSafeInteger(r.count),
  };
  if (!Object.hasOwn(ok, value.kind)) throw bad(`unknown kind "${value.kind}"`);
  if (!ok[value.kind as Kind]()) throw bad(`not a valid ${value.kind} record`);
  return value as Line;
}
