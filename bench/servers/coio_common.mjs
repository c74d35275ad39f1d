// Startup and shutdown shared by the coio echo servers.
//
// While coio's loop waits in its own poller, Node's libuv loop does not run,
// so process.on('SIGTERM') and process.stdin listeners would never fire.
// These servers leave SIGTERM at its default action (the process ends) and
// watch stdin through coio itself: EOF on fd 0 means the harness is gone.
import { fstatSync } from 'node:fs';
import * as coio from '../../dist/esm/index.js';
import { native } from '../../dist/esm/native.js';
import { parseServerArgs, announce, skip } from './common.mjs';

/**
 * Arguments, the loop, and with --cert/--key the server's TLS options:
 * `listenOptions` is what createServer / startServer get ({ backlog, ssl }).
 */
export function setup() {
  const args = parseServerArgs(process.argv.slice(2));
  const loop = coio.newEventLoop(args.backend ? { selector: args.backend } : {});
  const listenOptions = { backlog: 4096 };
  if (args.cert || args.key) {
    if (typeof coio.SSLContext !== 'function') skip('this build of coio has no TLS (no SSLContext export)');
    const ssl = new coio.SSLContext(coio.PROTOCOL_TLS_SERVER);
    ssl.loadCertChain(args.cert, args.key);
    listenOptions.ssl = ssl;
  }
  return { args, loop, listenOptions };
}

/** Announce the bound port, then stop the loop when stdin (a pipe from the harness) reaches EOF. */
export function serve(loop, server) {
  const addr = server.sockets[0].getsockname();
  announce(addr.family === 'unix' ? 0 : addr.port);
  let isPipe = false;
  try {
    const st = fstatSync(0);
    isPipe = st.isFIFO() || st.isSocket();
  } catch {}
  if (isPipe) {
    const buf = Buffer.alloc(4096);
    loop.addReader(0, () => {
      let n;
      try {
        n = native.read(0, buf, 0, buf.length);
      } catch {
        n = 0;
      }
      if (n === 0) {
        loop.removeReader(0);
        server.close();
        loop.stop();
      }
    });
  }
}
