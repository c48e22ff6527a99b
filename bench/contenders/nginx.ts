// nginx as a contender of the gateway benchmarks (started by bench/lib.ts under `taskset -c 0`,
// which its processes inherit): plain proxy_pass to BENCH_UPSTREAM, or, with BENCH_RAMPART,
// auth_request to Rampart first (the configuration docs/gateway.md shows).

import { freePort, startNginx } from '../../test/harness/proxies.ts';
import { nginxSite } from '../../test/harness/proxy-configs.ts';

const upstream = process.env.BENCH_UPSTREAM!;
const rampart = process.env.BENCH_RAMPART;
const port = await freePort();
const listen = `127.0.0.1:${port}`;
// Upstream keep-alive, as Rampart's undici pool keeps its connections: the proxies are compared alike.
const pool = `upstream bench_api {\n    server ${upstream};\n    keepalive 64;\n}\n`;
const site = rampart
  ? nginxSite({ listen, rampart, upstream })
  : `server {\n    listen ${listen};\n    location / {\n        proxy_http_version 1.1;\n        proxy_set_header Connection "";\n        proxy_pass http://bench_api;\n    }\n}\n`;
const nginx = await startNginx(`${pool}${site}`, port);
console.log(`listening ${port}`);
process.on('SIGTERM', () => nginx.stop().then(() => process.exit(0)));
