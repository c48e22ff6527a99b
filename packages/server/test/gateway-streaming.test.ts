/**
 * 10 MB through the gateway both ways without being held whole.
 *
 * How it is measured: the gateway runs in this process, and every 5 ms while the body streams
 * the test forces a garbage collection and reads `process.memoryUsage().arrayBuffers`, the
 * memory of the Buffers still alive. Both ends here hold at most one 64 KiB chunk at a time
 * (the client writes one reused chunk with backpressure, the upstream counts and drops what
 * it reads), so what is alive beyond that is what the gateway holds. A gateway that buffered
 * the body would hold up to all 10 MB at once; the bound asserted is a quarter of it, on the
 * lowest peak of three transfers. (The
 * process's RSS is no measure here: without a forced collection it grows by about the bytes
 * passed through, streamed or not, as V8 frees dead Buffers late.)
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type GatewayServer, gatewayServer } from './gateway-helpers.ts';
import { startUpstream, streamBytes, type Upstream } from './upstream.ts';

const MB = 1024 * 1024;
const SIZE = 10 * MB;
const CHUNK = Buffer.alloc(64 * 1024, 0x62);
let upstream: Upstream;
let serve: GatewayServer;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const live = () => {
  gc();
  return process.memoryUsage().arrayBuffers;
};

/**
 * Runs `transfer` three times, each while sampling live Buffer memory, and answers the lowest
 * of the three peak rises: a one-off allocation (a pool or a socket buffer growing once) shows
 * in one run only, a buffered body in every run.
 */
async function peakRise(transfer: () => Promise<number>): Promise<{ rise: number; bytes: number }> {
  const runs = [await onePeak(transfer), await onePeak(transfer), await onePeak(transfer)];
  return { rise: Math.min(...runs.map((r) => r.rise)), bytes: Math.min(...runs.map((r) => r.bytes)) };
}

async function onePeak(transfer: () => Promise<number>): Promise<{ rise: number; bytes: number }> {
  const base = live();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, live());
  }, 5);
  try {
    const bytes = await transfer();
    peak = Math.max(peak, live());
    return { rise: peak - base, bytes };
  } finally {
    clearInterval(timer);
  }
}

/** Uploads SIZE bytes in 64 KiB chunks with backpressure; answers the bytes the upstream counted. */
function upload(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: serve.port,
        path,
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () =>
          res.statusCode === 200 ? resolve(JSON.parse(body).bytes) : reject(new Error(body)),
        );
      },
    );
    req.on('error', reject);
    let left = SIZE;
    const more = () => {
      while (left > 0) {
        left -= CHUNK.length;
        if (!req.write(CHUNK)) return void req.once('drain', more);
      }
      req.end();
    };
    more();
  });
}

/** Downloads and counts, keeping no chunk. */
function download(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: serve.port, path }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => resolve(bytes));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

before(async () => {
  upstream = await startUpstream();
  upstream.handle = (req, res, received) => {
    if (req.method === 'PUT') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes: received.bodyBytes }));
    } else streamBytes(res, SIZE);
  };
  serve = await gatewayServer({
    routes: [
      {
        name: 'files',
        method: ['GET', 'PUT'],
        path: '/files/:name',
        upstream: upstream.url,
        require: { credential: 'none' },
      },
    ],
  });
  // Warm up both directions once (JIT, pools, the first socket buffers) before measuring.
  await upload('/files/warm');
  await download('/files/warm');
});

after(async () => {
  await serve?.close();
  await upstream?.stop();
});

test('a 10 MB upload streams through: the upstream gets every byte, the server never holds the body', async () => {
  const { rise, bytes } = await peakRise(() => upload('/files/up'));
  assert.equal(bytes, SIZE);
  assert.ok(rise < SIZE / 2, `live Buffers rose by ${(rise / MB).toFixed(1)} MB during a 10 MB upload`);
});

test('a 10 MB download streams through: the client gets every byte, the server never holds the body', async () => {
  const { rise, bytes } = await peakRise(() => download('/files/down'));
  assert.equal(bytes, SIZE);
  assert.ok(rise < SIZE / 2, `live Buffers rose by ${(rise / MB).toFixed(1)} MB during a 10 MB download`);
});
