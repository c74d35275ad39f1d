// Shared by the example servers: how a coio program waits for Ctrl-C.
import { getRunningLoop } from 'coio';

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
