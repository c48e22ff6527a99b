/**
 * What `rampart serve` prints on a terminal once it listens: where it is, where its data and
 * the admin key are, and the next three commands to try. Never the admin key itself: only
 * the path of its file (or the name of the variable that holds it).
 */
import { relative, sep } from 'node:path';
import type { BootstrapOutcome } from './api-keys/bootstrap.ts';

export interface BannerInfo {
  version: string;
  /** Where to reach it: `http://127.0.0.1:8080`. */
  url: string;
  storage: 'sqlite' | 'postgres' | string;
  dataDir: string;
  /** What the first start did about an admin credential. */
  adminKey: BootstrapOutcome;
  /** `<data dir>/admin-key`, and whether it is there now. */
  adminKeyFile: string;
  adminKeyFilePresent: boolean;
  /** How to run the CLI here: `rampart`, or `npx rampart` inside the repository. */
  command: string;
  /** The working directory, to show paths under it relative to it. */
  cwd: string;
  /** Whether the CLI finds this data dir without being told (it is `./data` here). */
  defaultDataDir: boolean;
  color: boolean;
}

function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  const text = rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep) ? `.${sep}${rel}` : path;
  return /[\s"'$`\\]/.test(text) ? JSON.stringify(text) : text;
}

/** Where the admin key is, and how a command line reads it. */
function adminKeyLines(info: BannerInfo): { where: string; header: string } {
  const file = shown(info.adminKeyFile, info.cwd);
  switch (info.adminKey.kind) {
    case 'file':
      return {
        where: `${file} (new: read it, keep it safe, then delete the file)`,
        header: `$(cat ${file})`,
      };
    case 'file-exists':
      return {
        where: `${file} (no admin key is active: the key in this file is not stored)`,
        header: `$(cat ${file})`,
      };
    case 'env':
      return { where: 'the value of RAMPART_BOOTSTRAP_ADMIN_KEY', header: '$RAMPART_BOOTSTRAP_ADMIN_KEY' };
    default:
      return info.adminKeyFilePresent
        ? { where: `${file} (made at the first start)`, header: `$(cat ${file})` }
        : {
            where: `made at the first start; its file ${file} is gone (make another: ${info.command} keys create --name admin --scopes admin)`,
            header: '$ADMIN_KEY',
          };
  }
}

/**
 * The banner's text.
 *
 * @example
 * banner({ version: '0.1.0', url: 'http://127.0.0.1:8080', storage: 'sqlite', dataDir: '/app/data', … })
 */
export function banner(info: BannerInfo): string {
  const bold = (text: string) => (info.color ? `\u001b[1m${text}\u001b[0m` : text);
  const dim = (text: string) => (info.color ? `\u001b[2m${text}\u001b[0m` : text);
  const admin = adminKeyLines(info);
  const storage =
    info.storage === 'postgres'
      ? 'PostgreSQL (DATABASE_URL); files in the data dir'
      : info.storage === 'sqlite'
        ? 'SQLite'
        : info.storage;
  const cli = info.defaultDataDir
    ? info.command
    : `RAMPART_DATA_DIR=${shown(info.dataDir, info.cwd)} ${info.command}`;
  const lines = [
    '',
    `${bold(`Rampart ${info.version}`)} is running at ${bold(info.url)}`,
    '',
    `  data dir    ${shown(info.dataDir, info.cwd)} (${storage})`,
    `  admin key   ${admin.where}`,
    '',
    'Next:',
    `  curl ${info.url}/                          ${dim('# what this server offers')}`,
    `  curl -H "x-api-key: ${admin.header}" ${info.url}/v1/keys   ${dim('# the admin API')}`,
    `  ${cli} keys create --name my-app --scopes read   ${dim('# an API key for your app')}`,
    '',
    dim('Logs follow. Ctrl-C stops the server (in-flight requests finish first).'),
    '',
  ];
  return `${lines.join('\n')}\n`;
}
