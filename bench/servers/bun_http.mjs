// Bun.serve answering the hello route of examples/http_server.mjs (same body
// and Content-Type; Bun adds Date and Content-Length, keep-alive): a peer of
// the HTTP rows (run by bun).
//
//   bun bench/servers/bun_http.mjs [--host H] [--port N]
//
// Contract of bench/servers/common.mjs: PID/PORT lines, ends on SIGTERM or
// stdin EOF.
import { announce, exitOnStdinEof, parseServerArgs } from './common.mjs';

const args = parseServerArgs(process.argv.slice(2));
const HELLO = 'Hello, World!\n';
const TYPE = { 'Content-Type': 'text/plain; charset=utf-8' };

const server = Bun.serve({
  hostname: args.host,
  port: args.port,
  fetch(req) {
    if (new URL(req.url).pathname === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      return new Response(HELLO, { headers: TYPE });
    }
    return new Response('Not Found\n', { status: 404, headers: TYPE });
  },
});
announce(server.port);

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
exitOnStdinEof(stop);
