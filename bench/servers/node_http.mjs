// Node's own http module serving the hello route of examples/http_server.mjs
// (same body, same Content-Type, Content-Length, keep-alive): the peer for
// the HTTP example's wrk figure.
//
//   node bench/servers/node_http.mjs [--host 127.0.0.1] [--port N]
//   wrk -t1 -c10 -d3s http://127.0.0.1:N/
//
// Prints "PID <pid>" and "PORT <n>" once listening (the contract of
// bench/servers/common.mjs); exits 0 on SIGTERM / SIGINT and when stdin
// reaches EOF.
import http from 'node:http';
import { announce, exitOnStdinEof, parseServerArgs } from './common.mjs';

const args = parseServerArgs(process.argv.slice(2));
const HELLO = Buffer.from('Hello, World!\n');

const server = http.createServer({ noDelay: true, keepAliveTimeout: 0 }, (req, res) => {
  if (req.url === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': HELLO.length });
    res.end(req.method === 'HEAD' ? undefined : HELLO);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 10 });
    res.end('Not Found\n');
  }
});

server.listen({ host: args.host, port: args.port, backlog: 1024 }, () => {
  announce(server.address().port);
});

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
exitOnStdinEof(stop);
