import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { PassThrough } from 'node:stream';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../src/server/config.ts';
import { createRampartServer } from '../src/server/server.ts';
import { tempDir } from './helpers.ts';

/**
 * The pepper: kept outside the database (env or a 0600 file), versioned so it can rotate,
 * and never silently replaced under existing keys.
 */

const BIN = new URL('../bin/rampart.js', import.meta.url).pathname;
type Server = Awaited<ReturnType<typeof createRampartServer>>;
const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** A server on `dataDir`'s SQLite with `env` (the pepper is read from it, not from process.env). */
async function start(dataDir: string, extra: Record<string, string> = {}): Promise<Server> {
  const env = { RAMPART_DATA_DIR: dataDir, ...extra };
  const s = await createRampartServer(loadConfig(env, dataDir), {
    env,
    logStream: new PassThrough().resume(),
  });
  servers.push(s);
  return s;
}

const adminKey = (dataDir: string) => readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
const use = (s: Server, key: string) =>
  s.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': key } });

function storedHashes(dataDir: string): string[] {
  const db = new DatabaseSync(join(dataDir, 'rampart.db'), { readOnly: true });
  try {
    return db
      .prepare('SELECT hash FROM api_keys')
      .all()
      .map((r) => String(r.hash));
  } finally {
    db.close();
  }
}

describe('pepper', () => {
  test('first start makes <data dir>/pepper with mode 0600, and stored hashes are HMACs under v1', async () => {
    const dataDir = tempDir();
    await start(dataDir);
    const path = join(dataDir, 'pepper');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(readFileSync(path, 'utf8'), /^v1:[A-Za-z0-9_-]{43}$/m);
    assert.ok(storedHashes(dataDir).every((h) => /^v1:[A-Za-z0-9_-]{43}$/.test(h)));
  });

  test('with RAMPART_API_KEY_PEPPER no pepper file is written', async () => {
    const dataDir = tempDir();
    const s = await start(dataDir, { RAMPART_API_KEY_PEPPER: randomBytes(32).toString('hex') });
    assert.ok(!existsSync(join(dataDir, 'pepper')));
    assert.equal((await use(s, adminKey(dataDir))).statusCode, 200);
  });

  test('a pepper rotates: keys hashed under v1 keep working under v2, are re-hashed on use, and v1 can then go', async () => {
    const dataDir = tempDir();
    const v1 = randomBytes(32).toString('base64');
    const v2 = randomBytes(48).toString('hex');
    const first = await start(dataDir, { RAMPART_API_KEY_PEPPER: `v1:${v1}` });
    const key = adminKey(dataDir);
    assert.equal((await use(first, key)).statusCode, 200);
    await first.close();

    const both = await start(dataDir, { RAMPART_API_KEY_PEPPER: `v2:${v2},v1:${v1}` });
    assert.equal((await use(both, key)).statusCode, 200);
    // The re-hash is written off the request path; the next request finds it done.
    await use(both, key);
    assert.ok(
      storedHashes(dataDir).every((h) => h.startsWith('v2:')),
      storedHashes(dataDir).join(),
    );
    await both.close();

    const onlyV2 = await start(dataDir, { RAMPART_API_KEY_PEPPER: `v2:${v2}` });
    assert.equal((await use(onlyV2, key)).statusCode, 200);
    await onlyV2.close();
    // The wrong pepper: the same key is unknown (a stolen database alone cannot confirm keys).
    const wrong = await start(dataDir, { RAMPART_API_KEY_PEPPER: randomBytes(32).toString('hex') });
    assert.equal((await use(wrong, key)).statusCode, 401);
  });

  test('keys exist but the pepper file is gone: the start is refused rather than a new pepper made', async () => {
    const dataDir = tempDir();
    const s = await start(dataDir);
    await s.close();
    rmSync(join(dataDir, 'pepper'));
    const config = loadConfig({ RAMPART_DATA_DIR: dataDir }, dataDir);
    await assert.rejects(
      createRampartServer(config, { env: {} }),
      /pepper is missing: restore .*pepper or set RAMPART_API_KEY_PEPPER/,
    );
    assert.ok(!existsSync(join(dataDir, 'pepper')));
  });

  test('a short or malformed pepper stops the start with a message naming the variable, never the value', async () => {
    for (const value of [randomBytes(16).toString('hex'), 'not a pepper!', 'v1:abc,v1:def']) {
      const dataDir = tempDir();
      const env = { RAMPART_DATA_DIR: dataDir, RAMPART_API_KEY_PEPPER: value };
      await assert.rejects(start(dataDir, env), (e: Error) => {
        assert.match(e.message, /RAMPART_API_KEY_PEPPER/);
        assert.ok(!e.message.includes(value));
        return true;
      });
    }
  });

  test('a tutorial key imported as SHA-256 hex works in import mode only, and is re-hashed under the pepper on first use', async () => {
    const dataDir = tempDir();
    const tutorialKey = randomBytes(32).toString('hex');
    const hex = createHash('sha256').update(tutorialKey).digest('hex');
    const cli = spawnSync(
      process.execPath,
      [
        BIN,
        'keys',
        'import',
        '--sha256',
        hex,
        '--name',
        'from the tutorial',
        '--scopes',
        'keys:write',
        '--owner',
        'usr_importedOwner000000000',
        '--json',
      ],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, RAMPART_DATA_DIR: dataDir },
        encoding: 'utf8',
      },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.ok(!cli.stdout.includes(tutorialKey));

    const strict = await start(dataDir);
    assert.equal((await use(strict, tutorialKey)).statusCode, 401, 'not without import mode');
    await strict.close();
    const importing = await start(dataDir, { RAMPART_API_KEY_LEGACY_SHA256: 'true' });
    assert.equal((await use(importing, tutorialKey)).statusCode, 200);
    await use(importing, tutorialKey);
    assert.ok(!storedHashes(dataDir).some((h) => h.startsWith('sha256:')), 'the SHA-256 hash is gone');
    assert.equal((await use(importing, tutorialKey)).statusCode, 200);
  });
});
