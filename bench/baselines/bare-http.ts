// The ceiling: bare node:http answering the tutorial's protected route with no checks at all.
import { createServer } from 'node:http';

const body = JSON.stringify({ message: 'Access granted', user: { userId: '123', role: 'admin' } });
const server = createServer((req, res) => {
  if (req.url === '/api/protected') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } else {
    res.writeHead(404).end();
  }
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as { port: number }).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
