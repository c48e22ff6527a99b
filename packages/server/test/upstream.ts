/**
 * A small upstream for gateway and forward-auth tests: a real node:http server on a loopback
 * port that records what reached it (method, URL, headers, body size) and answers as a test
 * asks. It never keeps a body: uploads are counted as they stream in, and downloads are
 * written chunk by chunk from one reused buffer, so nothing here holds a whole body either.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  bodyBytes: number;
  body: string;
}

export interface Upstream {
  readonly url: string;
  readonly port: number;
  /** Requests that reached the upstream, in order. */
  readonly received: Received[];
  /** How each request is answered; default 200 JSON `{ ok: true }`. */
  handle: (req: IncomingMessage, res: ServerResponse, received: Received) => void;
  /** Bytes of the request being received now (for streaming tests). */
  readonly uploading: number;
  stop(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/** Streams `bytes` of `a` in 64 KiB chunks, honouring backpressure. */
export function streamBytes(res: ServerResponse, bytes: number): void {
  let left = bytes;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) });
  const more = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void res.once('drain', more);
    }
    res.end();
  };
  more();
}

export async function startUpstream(): Promise<Upstream> {
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  let uploading = 0;
  const upstream: Upstream = {
    url: '',
    port: 0,
    received,
    handle: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    },
    get uploading() {
      return uploading;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const record: Received = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyBytes: 0,
      body: '',
    };
    received.push(record);
    uploading = 0;
    req.on('data', (chunk: Buffer) => {
      record.bodyBytes += chunk.length;
      uploading = record.bodyBytes;
      if (record.body.length < 4096) record.body += chunk.toString('utf8');
    });
    req.on('end', () => upstream.handle(req, res, record));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  Object.assign(upstream, { url: `http://127.0.0.1:${port}`, port });
  return upstream;
}
