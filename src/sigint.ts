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
// listener and no coio handler already).

import { isMainThread } from 'node:worker_threads';
import { CancelledError } from './errors.js';
import type { BaseEventLoop } from './base_events.js';
import { addSignalHandler, removeSignalHandler, signalNumber } from './signals.js';
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

/** Make the first Ctrl-C cancel `mainTask` on `loop`; null when it does not apply here. */
export function cancelOnSigint(loop: BaseEventLoop, mainTask: Task<unknown>): SigintGuard | null {
  const SIGINT = signalNumber('SIGINT');
  if (!isMainThread || process.listenerCount('SIGINT') > 0) return null;
  const disposition = native.signalDisposition(SIGINT);
  if (disposition === 'ignore' || disposition === 'coio') return null;
  let interrupted = false;
  let installed = true;
  const onSigint = (): void => {
    installed = false;
    removeSignalHandler(loop, SIGINT);
    interrupted = true;
    if (!mainTask.done()) mainTask.cancel();
  };
  try {
    addSignalHandler(loop, SIGINT, onSigint, []);
  } catch {
    // No Ctrl-C handling (no fd left for the self-pipe?) is better than no program.
    return null;
  }
  return {
    translate(exc: unknown): unknown {
      if (interrupted && exc instanceof CancelledError && mainTask.uncancel() === 0) return new KeyboardInterrupt();
      return exc;
    },
    restore(): void {
      if (!installed) return;
      installed = false;
      removeSignalHandler(loop, SIGINT);
    },
  };
}
