// Startup and shutdown shared by the coio echo servers.
//
// While coio's loop waits in its own poller, Node's libuv loop does not run,
// so process.on('SIGTERM') and process.stdin listeners would never fire.
// These servers leave SIGTERM at its default action (the process ends) and
// watch stdin through coio itself: EOF on fd 0 means the harness is gone.
// With --guest the same server runs in guest mode (runGuest: coio's loop as
// a guest of Node's), the row that measures what the Node-friendly mode costs.
import { fstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as coio from '../../dist/esm/index.js';
// The implementation behind both entry points is dist/cjs (scripts/build-ts.mjs).
const { native } = createRequire(import.meta.url)('../../dist/cjs/native.js');
import { parseServerArgs, announce, skip } from './common.mjs';

/**
 * Arguments, the loop, and with --cert/--key the server's TLS options:
 * `listenOptions` is what createServer / startServer get ({ backlog, ssl }).
 */
export function setup() {
  const args = parseServerArgs(process.argv.slice(2));
  if (args.backend && !coio.availableBackends().includes(args.backend)) {
    skip(`the ${args.backend} backend is unavailable here${args.backend === 'io_uring' ? `: ${coio.uringStatus().reason}` : ''}`);
  }
  // --proactor / --readiness: which socket transports an io_uring loop makes.
  const transports = args.flags.has('proactor') ? 'proactor' : args.flags.has('readiness') ? 'readiness' : undefined;
  const loopOptions = { ...(args.backend ? { selector: args.backend } : {}), ...(transports ? { transports } : {}) };
  const guest = args.flags.has('guest');
  const loop = guest ? null : coio.newEventLoop(loopOptions);
  const listenOptions = { backlog: 4096 };
  if (args.cert || args.key) {
    if (typeof coio.SSLContext !== 'function') skip('this build of coio has no TLS (no SSLContext export)');
    const ssl = new coio.SSLContext(coio.PROTOCOL_TLS_SERVER);
    ssl.loadCertChain(args.cert, args.key);
    listenOptions.ssl = ssl;
  }
  return { args, loop, listenOptions, start: (makeServer) => start(loop, loopOptions, makeServer) };
}

/**
 * Run `makeServer(loop)` (a generator function returning the server) and
 * serve until stdin reaches EOF: on the blocking loop made by setup(), or,
 * with --guest, in guest mode.
 */
function start(loop, loopOptions, makeServer) {
  if (loop === null) {
    coio.runGuest(function* () {
      const guestLoop = coio.getRunningLoop();
      const server = yield* makeServer(guestLoop);
      const stopped = guestLoop.createFuture();
      serve(guestLoop, server, () => stopped.done() || stopped.setResult(undefined));
      yield* stopped;
    }, loopOptions).catch((err) => {
      console.error(err);
      process.exit(1);
    });
    return;
  }
  const server = loop.runUntilComplete(makeServer(loop));
  serve(loop, server);
  loop.runForever();
  loop.close();
}

/** Announce the bound port, then stop (default: stop the loop) when stdin (a pipe from the harness) reaches EOF. */
export function serve(loop, server, stop = () => loop.stop()) {
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
        stop();
      }
    });
  }
}
