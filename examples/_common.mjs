// Shared by the example servers: how a coio program waits for Ctrl-C, and
// the echo examples' command line.
import { getRunningLoop, run } from 'coio';

/**
 * Wait for the first SIGINT (Ctrl-C) or SIGTERM; returns its name. The
 * handlers run from coio's loop (loop.addSignalHandler): a process.on()
 * listener would not fire while the loop waits in epoll. Once one arrived
 * they are removed, so a second Ctrl-C kills a shutdown that hangs.
 */
export function* untilSignal() {
  const loop = getRunningLoop();
  const got = loop.createFuture();
  const signals = ['SIGINT', 'SIGTERM'];
  for (const sig of signals) loop.addSignalHandler(sig, () => got.done() || got.setResult(sig));
  try {
    return yield* got;
  } finally {
    for (const sig of signals) loop.removeSignalHandler(sig);
  }
}

/**
 * The command line of the echo examples (protocols, streams, sock*):
 *   node examples/NAME.mjs [demo | server [port] [host] | client HOST PORT MSG]
 * serverMain(port, host) and echoClient(host, port, msg) are the example's
 * own coroutines; this only parses argv and reports a client's error.
 */
export function echoCli(name, { demo, serverMain, echoClient }) {
  function* clientMain(host, port, msg) {
    try {
      console.log(yield* echoClient(host, port, msg));
    } catch (err) {
      console.error(`echo client: ${err.message}`); // e.g. connect ECONNREFUSED 127.0.0.1:8888
      process.exitCode = 1;
    }
  }
  const [mode, ...args] = process.argv.slice(2);
  if (mode === undefined || mode === 'demo') run(demo);
  else if (mode === 'server') run(serverMain(Number(args[0] ?? 8888), args[1] ?? '127.0.0.1'));
  else if (mode === 'client' && args.length === 3) run(clientMain(args[0], Number(args[1]), args[2]));
  else {
    console.error(`usage: node examples/${name}.mjs [demo | server [port] [host] | client HOST PORT MSG]`);
    process.exit(2);
  }
}
