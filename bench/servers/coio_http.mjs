// examples/http_server.mjs as a bench server: its HttpProtocol and default
// routes (GET / answers "Hello, World!\n"), started with startHttpServer and
// announced by the contract of bench/servers/common.mjs (PID/PORT lines, ends
// on SIGTERM or stdin EOF). With COIO_HTTP_FILES=DIR in the environment it
// also serves DIR's files at /file/NAME (the sendfile section).
//
//   node bench/servers/coio_http.mjs [--backend epoll|poll|select] [--host H] [--port N]
import { startHttpServer } from '../../examples/http_server.mjs';
import { setup } from './coio_common.mjs';

const { args, start } = setup();

start(function* () {
  return yield* startHttpServer(args.host, args.port, { backlog: 4096, files: process.env.COIO_HTTP_FILES || undefined });
});
