// Ctrl-C for run() and Runner (asyncio.Runner's SIGINT handling).
//
// While run() waits, the first SIGINT cancels the main task: it sees
// CancelledError at its suspension point and its finally blocks run. If the
// task ends by that cancellation, run() throws KeyboardInterrupt. The handler
// removes itself at once, so the disposition it replaced is back: a second
// Ctrl-C ends the program the way Node ends it (Node's own SIGINT handler
// restores the terminal and dies of the signal), even if the main task is
// stuck in its finally blocks.
//
// Installed only where asyncio installs it: on the main thread, and when
// SIGINT has its usual behaviour (not ignored, no process.on('SIGINT')
// listener and no coio handler already). run() and runGuest() both do it.
//
// A KeyboardInterrupt nobody catches ends the program the way Ctrl-C ends a
// shell command: one line on stderr ("KeyboardInterrupt: interrupted by
// SIGINT") and exit status 130 (128 + SIGINT), not a stack trace into the
// loop's internals. When run() throws one (or runGuest() rejects with one),
// a process 'uncaughtException' listener is added until Node's loop next
// turns (setImmediate): if the KeyboardInterrupt reaches it, it prints the
// line and exits; any other error that reaches it in that window is thrown
// again from a nextTick, with the listener gone, so Node reports it as it
// would have. A program that catches the KeyboardInterrupt never sees any of
// this.

import { isMainThread } from 'node:worker_threads';
import { CancelledError } from './errors.js';
import type { BaseEventLoop } from './base_events.js';
import { addSignalHandler, removeSignalHandler, signalNumber, signalWatchers } from './signals.js';
import { constants as osConstants } from 'node:os';
import type { Task } from './tasks.js';
import { native } from './native.js';

/** What run() throws when Ctrl-C cancelled its main task (Python's KeyboardInterrupt). */
export class KeyboardInterrupt extends Error {
  /** Always 'KeyboardInterrupt'. */
  override name = 'KeyboardInterrupt';

  constructor(message = 'interrupted by SIGINT') {
    super(message);
  }
}

export interface SigintGuard {
  /** What run() should throw instead of `exc`: KeyboardInterrupt for the cancellation Ctrl-C caused. */
  translate(exc: unknown): unknown;
  /** Remove the handler if it is still installed (run() is returning). */
  restore(): void;
}

/**
 * Make the first Ctrl-C cancel `mainTask` on `loop`; null when it does not
 * apply here. `viaNode` (guest mode, where Node's loop turns): listen with
 * process.on('SIGINT') rather than a coio handler, so a process.on('SIGINT')
 * the program adds later shares the signal instead of replacing coio's
 * disposition under it; while the program has a SIGINT listener of its own,
 * Ctrl-C is its to handle, and this one steps aside.
 */
export function cancelOnSigint(loop: BaseEventLoop, mainTask: Task<unknown>, viaNode = false): SigintGuard | null {
  const SIGINT = signalNumber('SIGINT');
  if (!isMainThread || process.listenerCount('SIGINT') > 0) return null;
  const disposition = native.signalDisposition(SIGINT);
  if (disposition === 'ignore' || disposition === 'coio') return null;
  let interrupted = false;
  let installed = true;
  const uninstall = (): void => {
    installed = false;
    if (viaNode) process.removeListener('SIGINT', onSigint);
    else {
      loop._onlyCtrlCWatched = null;
      removeSignalHandler(loop, SIGINT);
    }
  };
  const onSigint = (): void => {
    // Guest mode: a listener the program added since handles Ctrl-C itself
    // (a graceful shutdown); a Ctrl-C that finds only ours cancels main.
    if (viaNode && process.listenerCount('SIGINT') > 1) return;
    uninstall();
    interrupted = true;
    if (!mainTask.done()) mainTask.cancel();
  };
  try {
    if (viaNode) process.on('SIGINT', onSigint);
    else {
      addSignalHandler(loop, SIGINT, onSigint, []);
      // A loop whose only fd is this handler's pipe waits for Ctrl-C alone: the loop refuses that wait (selector_events.ts).
      const watchers = signalWatchers(loop);
      loop._onlyCtrlCWatched = () => watchers.size === 1;
    }
  } catch {
    // No Ctrl-C handling (no fd left for the self-pipe?) is better than no program.
    return null;
  }
  return {
    translate(exc: unknown): unknown {
      if (interrupted && exc instanceof CancelledError && mainTask.uncancel() === 0) {
        const interrupt = new KeyboardInterrupt();
        exitIfUncaught(interrupt);
        return interrupt;
      }
      return exc;
    },
    restore(): void {
      if (installed) uninstall();
    },
  };
}

/** Exit status of a program ended by an uncaught KeyboardInterrupt: 128 + SIGINT, as a shell reports Ctrl-C. */
export const INTERRUPTED_EXIT_CODE = 130;

let pendingInterrupt: KeyboardInterrupt | null = null;

function onUncaught(err: unknown): void {
  process.removeListener('uncaughtException', onUncaught);
  pendingInterrupt = null;
  if (err instanceof KeyboardInterrupt) {
    process.stderr.write(`${err.name}: ${err.message}\n`);
    process.exit(INTERRUPTED_EXIT_CODE);
  }
  // Not ours: let Node report it as it would have without this listener.
  process.nextTick(() => {
    throw err;
  });
}

/** `interrupt` is about to be thrown (or rejected) by run() / runGuest(): if it ends the program, end it quietly (see the top). */
function exitIfUncaught(interrupt: KeyboardInterrupt): void {
  if (pendingInterrupt === null) {
    process.on('uncaughtException', onUncaught);
    setImmediate(() => {
      process.removeListener('uncaughtException', onUncaught);
      pendingInterrupt = null;
    }).unref();
  }
  pendingInterrupt = interrupt;
}

const CATCHABLE = new Set(Object.keys(osConstants.signals).filter((name) => name !== 'SIGKILL' && name !== 'SIGSTOP'));

/**
 * The blocking loop (run(), Runner.run) and Node's signal listeners:
 * process.on('SIGTERM', ...) cannot fire while coio's loop holds the thread,
 * and with a listener installed the signal no longer ends the process
 * either, so it would be ignored, silently. While run() runs, each signal
 * Node has listeners for is watched by the loop as well and handed to those
 * listeners with process.emit(name, name), as Node itself does: they run
 * from the loop, like its callbacks. Signals Node starts listening for
 * meanwhile are picked up ('newListener'). Once run() returns, Node's own
 * handling is back (the watchers restore the dispositions they replaced).
 * Main thread only; a signal coio already handles (addSignalHandler, Ctrl-C)
 * is left to it. Returns the teardown.
 */
export function forwardNodeSignals(loop: BaseEventLoop): () => void {
  if (!isMainThread) return () => {};
  const watched = new Map<string, () => void>();
  const watch = (name: string): void => {
    if (watched.has(name) || !CATCHABLE.has(name)) return;
    const signum = signalNumber(name);
    if (native.signalDisposition(signum) === 'coio') return;
    try {
      watched.set(name, signalWatchers(loop).watch(signum, () => process.emit(name as NodeJS.Signals, name as NodeJS.Signals)));
    } catch {
      // Not forwarded (no fd for the self-pipe?): the signal keeps Node's handling.
    }
  };
  for (const name of process.eventNames()) if (typeof name === 'string' && process.listenerCount(name) > 0) watch(name);
  const onNewListener = (event: string | symbol): void => {
    if (typeof event === 'string' && !loop.isClosed()) watch(event);
  };
  process.on('newListener', onNewListener);
  return () => {
    process.removeListener('newListener', onNewListener);
    for (const unwatch of watched.values()) unwatch();
    watched.clear();
  };
}
