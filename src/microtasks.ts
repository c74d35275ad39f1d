// Promise work in the blocking loop: when V8's microtasks are drained.
//
// An async function resumes in a microtask (a promise reaction). Node runs
// microtasks when its stack unwinds back to libuv; the blocking loop
// (run(), runUntilComplete) never unwinds while it waits in epoll_wait, so
// it drains them itself: native.drainMicrotasks() (V8's checkpoint, from the
// addon) after each batch of callbacks, in runOnce. The order of one
// iteration is then: poll, due timers, the ready callbacks, the microtasks
// they released (async functions run up to their next `await`, which may
// schedule callbacks for the next iteration).
//
// The drain is off the pure-generator hot path: a loop drains only while it
// has promise work, i.e. while a promise-backed Future is pending on it (an
// async function's Task, a wrapped promise: they count themselves in and
// out, see async_tasks.ts) or once after a Future's then() settled its
// promise (a Future awaited by an async function, or chained with then()).
// Otherwise BaseEventLoop._afterBatch is null and costs one field check.
// The drain itself costs ~50 ns when the queue is empty (one N-API call).
//
// Entering the loop from inside a microtask (after an `await`, at the top
// level of an ES module, in an async test body) leaves V8 unable to drain:
// it runs no checkpoint inside another. Then nothing an async function
// awaits could ever resume it, so coio fails at once with MICROTASK_ENTRY
// (when such a Task or promise is made, or at the first drain), never
// hangs. Generator coroutines do not need microtasks and work anywhere.
// Guest mode (guest.ts) does not drain here at all: each of its steps is a
// Node callback, after which Node runs nextTicks and microtasks itself.
//
// What does not carry over to the blocking loop: process.nextTick callbacks
// queued while it runs wait until it returns (they are Node's own queue,
// which V8's checkpoint does not touch); Node's timers, I/O and their
// promises (setTimeout, fs/promises, http, fetch) make no progress while it
// blocks: an async function awaiting one waits until the loop returns. Use
// guest mode (runGuest) for programs that mix coio with Node's own APIs.
// And microtasks queued by code before run() may now run during run(),
// before run() returns (they would otherwise run after it).

/**
 * What this module needs of a loop (MicrotaskHost has it): its after-batch
 * hook and the flag that microtasks are due. Declared here, so the module
 * is a leaf below the loop core.
 */
export interface MicrotaskHost {
  _afterBatch: (() => void) | null;
  _microtasksDue: boolean;
  isRunning(): boolean;
}
import { RuntimeError } from './errors.js';
import { native } from './native.js';

/** The message of the error thrown when async functions cannot be driven here. */
export const MICROTASK_ENTRY =
  'coio: async functions and promises cannot make progress in this blocking event loop: it was entered from inside a microtask ' +
  '(after an `await`, at the top level of an ES module, or in an async test body), and V8 runs no other promise callback until that one returns. ' +
  'Use `await runGuest(main)` there (coio as a guest of Node\'s event loop), or call run() from a macrotask ' +
  '(e.g. `setImmediate(() => run(main))`) or from CommonJS top-level code. Generator coroutines are not affected.';

interface PromiseWork {
  /** Promise-backed Futures pending on the loop. */
  pending: number;
  /** A then() settled a promise since the last drain. */
  dirty: boolean;
  /** The loop runs as a guest of Node's loop: Node drains, not us. */
  guest: boolean;
  /** Installed as loop._afterBatch while there is work. */
  readonly hook: () => void;
}

const states = new WeakMap<MicrotaskHost, PromiseWork>();
/** True while drainMicrotasks runs (microtasks then run, but inside our own checkpoint: allowed). */
let draining = false;

function stateOf(loop: MicrotaskHost): PromiseWork {
  let state = states.get(loop);
  if (state === undefined) {
    const s: PromiseWork = { pending: 0, dirty: false, guest: false, hook: () => afterBatch(loop, s) };
    states.set(loop, s);
    state = s;
  }
  return state;
}

/** Promise reactions may be queued: drain after the next batch, and do not block before it. */
function markDue(loop: MicrotaskHost, state: PromiseWork): void {
  state.dirty = true;
  if (state.guest) return;
  loop._afterBatch = state.hook;
  loop._microtasksDue = true;
}

/** Runs after each batch of callbacks while the loop has promise work. */
function afterBatch(loop: MicrotaskHost, state: PromiseWork): void {
  state.dirty = false;
  draining = true;
  let drained: boolean;
  try {
    drained = native.drainMicrotasks();
  } finally {
    draining = false;
  }
  // The checkpoint ran until the queue was empty: what it marked is done.
  state.dirty = false;
  loop._microtasksDue = false;
  // Continuations that cannot run while promise-backed work is pending: the
  // loop would wait for them forever.
  if (!drained && state.pending > 0) throw new RuntimeError(MICROTASK_ENTRY);
  if (state.pending === 0 && loop._afterBatch === state.hook) loop._afterBatch = null;
}

/** @internal A promise-backed Future is now pending on loop: drain after every batch until _promiseWorkDone. */
export function _promiseWorkStarted(loop: MicrotaskHost): void {
  const state = stateOf(loop);
  state.pending++;
  markDue(loop, state);
}

/** @internal A promise-backed Future is done (or abandoned). */
export function _promiseWorkDone(loop: MicrotaskHost): void {
  const state = stateOf(loop);
  if (state.pending > 0) state.pending--;
  markDue(loop, state);
}

/** @internal A Future's then() settled its promise (in a loop callback, or at once): drain after this batch. */
export function _promiseSettled(loop: MicrotaskHost): void {
  const state = stateOf(loop);
  if (state.dirty) return;
  markDue(loop, state);
}

/** @internal guest.ts: loop runs (or no longer runs) as a guest of Node's loop, which drains microtasks itself. */
export function _setGuest(loop: MicrotaskHost, guest: boolean): void {
  const state = stateOf(loop);
  state.guest = guest;
  if (guest) {
    if (loop._afterBatch === state.hook) loop._afterBatch = null;
    loop._microtasksDue = false;
  } else if (state.pending > 0 || state.dirty) {
    markDue(loop, state);
  }
}

/** @internal Whether loop runs as a guest of Node's loop. */
export function _isGuest(loop: MicrotaskHost): boolean {
  return states.get(loop)?.guest === true;
}

/**
 * @internal Throw MICROTASK_ENTRY when promise work made now could never be
 * drained: inside a microtask that is not our own drain, for a blocking loop
 * that runs (null: the one run() is about to start). A loop that does not
 * run yet may still be run from elsewhere: its first drain checks then.
 */
export function _checkCanDrain(loop: MicrotaskHost | null): void {
  if (draining) return;
  if (loop !== null && (!loop.isRunning() || _isGuest(loop))) return;
  if (native.isRunningMicrotasks()) throw new RuntimeError(MICROTASK_ENTRY);
}

/** @internal True while a promise-backed Future is pending on loop (an async function's Task, a wrapped promise). */
export function _promiseWorkPending(loop: MicrotaskHost): boolean {
  const state = states.get(loop);
  return state !== undefined && state.pending > 0;
}
