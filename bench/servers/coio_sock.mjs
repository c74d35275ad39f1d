// coio echo with the socket coroutines (loop.sockAccept / sockRecvInto / sockSendall).
//
//   node bench/servers/coio_sock.mjs [--backend epoll|poll|select] [--host H] (--port N | --unix PATH)
import { AF_INET, AF_INET6, AF_UNIX, Socket } from '../../dist/esm/index.js';
import { setup, serve } from './coio_common.mjs';

const { args, loop } = setup();

function* handle(conn) {
  const buf = Buffer.allocUnsafe(256 * 1024);
  try {
    conn.setsockopt('TCP_NODELAY', true);
  } catch {}
  try {
    for (;;) {
      const n = yield* loop.sockRecvInto(conn, buf);
      if (n === 0) break;
      yield* loop.sockSendall(conn, buf.subarray(0, n));
    }
  } catch {
    // a reset peer ends this connection only
  } finally {
    conn.close();
  }
}

// serve() wants something with sockets and close(), like a Server.
const listener = new Socket(args.unix ? AF_UNIX : args.host.includes(':') ? AF_INET6 : AF_INET);
if (!args.unix) listener.setsockopt('SO_REUSEADDR', true);
listener.bind(args.unix ? args.unix : [args.host, args.port]);
listener.listen(4096);
const server = { sockets: [listener], close: () => {} };

function* acceptLoop() {
  for (;;) {
    const [conn] = yield* loop.sockAccept(listener);
    loop.createTask(handle(conn));
  }
}

serve(loop, server);
loop.createTask(acceptLoop());
loop.runForever();
listener.close();
loop.close();
