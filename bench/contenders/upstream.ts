// The protected API of the gateway benchmarks: bare node:http answering a small JSON body on any path.
import { createServer } from 'node:http';

const body = JSON.stringify({ orders: [{ id: 1, sku: 'ABC-1', quantity: 2 }] });
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as { port: number }).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
