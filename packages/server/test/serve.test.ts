import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { sqliteStorage } from '../src/storage/sqlite.ts';
import { tempDir } from './helpers.ts';
import { failedStart, selfSignedCert, startServe } from './process.ts';

test('rampart serve starts on the embedded defaults, answers /healthz, and stops cleanly on SIGTERM', async () => {
  const dataDir = tempDir();
  const server = await startServe({ RAMPART_DATA_DIR: dataDir });
  const res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  server.child.kill('SIGTERM');
  const { code } = await server.exited;
  assert.equal(code, 0);
  // Buffered events were flushed on the way out.
  const storage = sqliteStorage({ path: join(dataDir, 'rampart.db') });
  const types = (await storage.audit.list({ limit: 10 })).events.map((e) => e.type);
  storage.close();
  assert.ok(types.includes('sys_startup'), types.join());
  assert.ok(types.includes('sys_shutdown'), types.join());
  // One JSON line per request, each with the request id.
  const lines = server
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.msg === 'request' && l.url === '/healthz' && typeof l.reqId === 'string'));
});

test('an invalid config file stops the start with a message naming the field', async () => {
  const dir = tempDir();
  const path = join(dir, 'bad.json');
  writeFileSync(path, JSON.stringify({ rateLimit: { default: { limit: 100, window: 'soon' } } }));
  const result = await failedStart({ RAMPART_DATA_DIR: dir, RAMPART_CONFIG: path, PORT: '0' });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /rateLimit\.default\.window/);
  assert.ok(!result.stderr.includes('    at '), 'no stack trace');
});

test('unknown config keys and bad environment values are refused by name', async () => {
  const dir = tempDir();
  const path = join(dir, 'extra.json');
  writeFileSync(path, JSON.stringify({ cors: { origins: [] }, tokenz: {} }));
  assert.match((await failedStart({ RAMPART_DATA_DIR: dir, RAMPART_CONFIG: path })).stderr, /tokenz/);
  assert.match((await failedStart({ RAMPART_DATA_DIR: dir, PORT: 'eighty' })).stderr, /PORT/);
  assert.match(
    (await failedStart({ RAMPART_DATA_DIR: dir, RAMPART_BOOTSTRAP_ADMIN_KEY: 'short' })).stderr,
    /RAMPART_BOOTSTRAP_ADMIN_KEY/,
  );
  assert.match(
    (await failedStart({ RAMPART_DATA_DIR: dir, RAMPART_TLS_CERT: '/nonexistent.pem' })).stderr,
    /RAMPART_TLS_KEY/,
  );
});

test('a port already taken stops the start with a clear message', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  const result = await failedStart({ RAMPART_DATA_DIR: tempDir(), PORT: String(port) });
  blocker.close();
  assert.equal(result.code, 1);
  assert.match(result.stderr, /already in use/);
});

test('with RAMPART_TLS_CERT and RAMPART_TLS_KEY the server speaks HTTPS and sends HSTS', async () => {
  const dir = tempDir();
  const { cert, key } = selfSignedCert(dir);
  const server = await startServe({ RAMPART_DATA_DIR: dir, RAMPART_TLS_CERT: cert, RAMPART_TLS_KEY: key });
  let res: { status: number; hsts: string | undefined };
  try {
    assert.match(server.url, /^https:/);
    res = await new Promise<{ status: number; hsts: string | undefined }>((resolve, reject) => {
      const req = httpsRequest(`${server.url}/healthz`, { ca: readFileSync(cert) }, (r) => {
        r.resume();
        resolve({ status: r.statusCode ?? 0, hsts: r.headers['strict-transport-security'] });
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  assert.equal(res.status, 200);
  assert.match(res.hsts ?? '', /max-age=(\d+); includeSubDomains/);
  assert.ok(Number(/max-age=(\d+)/.exec(res.hsts ?? '')?.[1]) >= 31_536_000);
});

/** The command line and the memory settings of a running process, read from /proc. */
function processSettings(pid: number) {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((line) => line.split(/=(.*)/s).slice(0, 2)),
  );
  return { argv, env };
}

test("rampart serve re-executes itself once, same pid, with the memory settings; the operator's own settings win; RAMPART_MEMORY_TUNING=off starts as is", async () => {
  const tuned = await startServe({ RAMPART_DATA_DIR: tempDir() });
  const own = await startServe({
    RAMPART_DATA_DIR: tempDir(),
    NODE_OPTIONS: '--max-semi-space-size=16',
    MALLOC_ARENA_MAX: '4',
  });
  const off = await startServe({ RAMPART_DATA_DIR: tempDir(), RAMPART_MEMORY_TUNING: 'off' });
  try {
    // The pid spawned is the pid that listens (execve replaces the image, it forks nothing).
    const t = processSettings(tuned.child.pid!);
    assert.equal((await fetch(`${tuned.url}/healthz`)).status, 200);
    assert.deepEqual(
      t.argv.filter((a) => a.startsWith('--')),
      ['--max-semi-space-size=8', '--heap-growing-percent=50'],
    );
    assert.deepEqual(t.argv.slice(-1), ['serve']);
    assert.equal(t.env.MALLOC_ARENA_MAX, '2');
    assert.equal(t.env.MALLOC_MMAP_THRESHOLD_, '1048576');
    assert.equal(tuned.stderr(), '', 'no experimental-feature warning');

    const o = processSettings(own.child.pid!);
    assert.deepEqual(
      o.argv.filter((a) => a.startsWith('--')),
      ['--heap-growing-percent=50'],
    );
    assert.equal(o.env.MALLOC_ARENA_MAX, '4');
    assert.equal(o.env.MALLOC_MMAP_THRESHOLD_, '1048576');

    const f = processSettings(off.child.pid!);
    assert.deepEqual(
      f.argv.filter((a) => a.startsWith('--')),
      [],
    );
    assert.equal(f.env.MALLOC_ARENA_MAX, undefined);
  } finally {
    for (const server of [tuned, own, off]) server.child.kill('SIGTERM');
    await Promise.all([tuned.exited, own.exited, off.exited]);
  }
});
