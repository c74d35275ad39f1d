// Shared by the example servers: how a coio program waits for Ctrl-C, and
// the echo examples' command line. The servers run in guest mode
// (runGuest: coio's loop inside Node's), so Node's own process.on() signal
// listeners fire, and Node's timers, fs and fetch work beside coio.
import { getRunningLoop, runGuest } from 'coio';

/**
 * Wait for the first SIGINT (Ctrl-C) or SIGTERM; returns its name. Node's
 * own listeners (process.once), which fire in guest mode. Once one arrived
 * they are removed: a second Ctrl-C then cancels the main task (runGuest's
 * own Ctrl-C handling) and a shutdown that hangs ends with KeyboardInterrupt.
 */
export function* untilSignal() {
  const got = getRunningLoop().createFuture();
  const signals = ['SIGINT', 'SIGTERM'];
  const listener = (sig) => got.done() || got.setResult(sig);
  for (const sig of signals) process.once(sig, listener);
  try {
    return yield* got;
  } finally {
    for (const sig of signals) process.removeListener(sig, listener);
  }
}

/**
 * The command line of the echo examples (protocols, streams, sock*):
 *   node examples/NAME.mjs [demo | server [port] [host] | client HOST PORT MSG]
 * serverMain(port, host) and echoClient(host, port, msg) are the example's
 * own coroutines; this only parses argv and reports a client's error.
 * Returns runGuest's Promise: the example awaits it.
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
  if (mode === undefined || mode === 'demo') return runGuest(demo);
  if (mode === 'server') return runGuest(serverMain(Number(args[0] ?? 8888), args[1] ?? '127.0.0.1'));
  if (mode === 'client' && args.length === 3) return runGuest(clientMain(args[0], Number(args[1]), args[2]));
  console.error(`usage: node examples/${name}.mjs [demo | server [port] [host] | client HOST PORT MSG]`);
  process.exit(2);
}
