// Handles (what callSoon / callLater return) and the per-thread "which loop"
// state (asyncio's events module). Module state here is per thread for free:
// each worker_thread has its own module instances.

import { RuntimeError } from './errors.js';
import type { BaseEventLoop, ExceptionContext } from './base_events.js';
import type { EventLoop } from './loop.js';

/**
 * @internal An entry of the loop's ready queue: a Handle, or a Task whose
 * next step is due (a Task schedules itself without allocating a Handle).
 */
export interface Runnable {
  _run(): void;
}

/** A callback for callSoon / callLater / callAt / addReader: called with the arguments given there. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Callback = (...args: any[]) => unknown;

const NO_ARGS: readonly unknown[] = Object.freeze([]);

/**
 * @internal Record where an object was created or scheduled on an exception
 * context: `sourceTraceback`, plus the deprecated `source_traceback` alias,
 * not enumerable so the default handler and key-listing handlers see it once.
 */
export function _setSourceTraceback(context: ExceptionContext, traceback: string): void {
  context.sourceTraceback = traceback;
  Object.defineProperty(context, 'source_traceback', { value: traceback, writable: true, configurable: true, enumerable: false });
}

/** A callback scheduled by callSoon (or an fd callback of addReader / addWriter). */
export class Handle implements Runnable {
  /** @internal */ _callback: Callback | null;
  /** @internal */ _args: readonly unknown[] | null;
  /** @internal */ _cancelled = false;
  /** @internal */ readonly _loop: BaseEventLoop;
  /** @internal Where it was scheduled, kept in debug mode for the exception handler. */
  _sourceTraceback: string | undefined = undefined;

  constructor(callback: Callback, args: readonly unknown[], loop: BaseEventLoop) {
    this._callback = callback;
    this._args = args.length === 0 ? NO_ARGS : args;
    this._loop = loop;
    if (loop._debug) this._sourceTraceback = new Error('scheduled here').stack;
  }

  /** Do not run the callback. Idempotent; a no-op once it has run. */
  cancel(): void {
    if (this._cancelled) return;
    this._cancelled = true;
    // Drop the references: a cancelled handle may sit in a queue for a while.
    this._callback = null;
    this._args = null;
  }

  /** True once cancel() was called. Never throws. */
  cancelled(): boolean {
    return this._cancelled;
  }

  /** @internal Called by the loop's runOnce only. */
  _run(): void {
    if (this._cancelled) return;
    const cb = this._callback!;
    const args = this._args!;
    try {
      // Spreading an empty or one-element array is measurably slower than a direct call.
      if (args.length === 0) cb();
      else if (args.length === 1) cb(args[0]);
      else cb(...args);
    } catch (exc) {
      const context: ExceptionContext = { message: `Exception in callback ${this._describe()}`, exception: exc, handle: this };
      if (this._sourceTraceback !== undefined) _setSourceTraceback(context, this._sourceTraceback);
      this._loop.callExceptionHandler(context);
    }
  }

  /** @internal "name(args)" for messages. */
  _describe(): string {
    if (this._callback === null) return '<cancelled>';
    const name = this._callback.name || '<anonymous>';
    return `${name}(${this._args!.map(describeValue).join(', ')})`;
  }

  toString(): string {
    return `<${this.constructor.name} ${this._cancelled ? 'cancelled' : this._describe()}>`;
  }
}

/** A callback scheduled at a loop time (callLater / callAt). */
export class TimerHandle extends Handle {
  /** @internal */ readonly _when: number;
  /** @internal Tie-breaker: timers due at the same time run in the order they were scheduled. */
  readonly _seq: number;
  /** @internal True while in the loop's timer heap. */
  _scheduled = false;

  constructor(when: number, seq: number, callback: Callback, args: readonly unknown[], loop: BaseEventLoop) {
    super(callback, args, loop);
    this._when = when;
    this._seq = seq;
  }

  /** The loop time (seconds) at which the callback is due. */
  when(): number {
    return this._when;
  }

  override cancel(): void {
    if (this._cancelled) return;
    // The heap drops it lazily; the loop counts it to know when to rebuild.
    if (this._scheduled) this._loop._timerHandleCancelled();
    super.cancel();
  }

  override toString(): string {
    return `<TimerHandle when=${this._when} ${this._cancelled ? 'cancelled' : this._describe()}>`;
  }
}

/** @internal A short, safe description of a value for messages. */
export function describeValue(v: unknown): string {
  if (typeof v === 'function') return v.name || '<anonymous>';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (v === null || typeof v !== 'object') return String(v);
  try {
    const s = String(v);
    return s === '[object Object]' ? `<${v.constructor?.name ?? 'Object'}>` : s;
  } catch {
    return '<object>';
  }
}

// ---------------------------------------------------------------------------
// Which loop: the running one (set by runForever), and the one set with
// setEventLoop (what getEventLoop returns outside a running loop).

let runningLoop: BaseEventLoop | null = null;
let currentLoop: BaseEventLoop | null = null;

/**
 * The loop running in this thread (inside run(), runUntilComplete, runForever or runGuest).
 * @throws RuntimeError if no loop is running.
 */
export function getRunningLoop(): EventLoop {
  if (runningLoop === null) throw new RuntimeError('no running event loop');
  // Every loop that can run is an EventLoop; BaseEventLoop is its layer, not a peer.
  return runningLoop as EventLoop;
}

/** @internal The running loop or null (no throw: for hot paths and checks). */
export function _getRunningLoop(): BaseEventLoop | null {
  return runningLoop;
}

/** @internal Called by runForever on entry (loop) and exit (null). */
export function _setRunningLoop(loop: BaseEventLoop | null): void {
  runningLoop = loop;
}

/** @internal The loop set with setEventLoop, or null. */
export function _getSetLoop(): BaseEventLoop | null {
  return currentLoop;
}

/** @internal */
export function _setSetLoop(loop: BaseEventLoop | null): void {
  currentLoop = loop;
}

/**
 * @internal The loop a new Future / Task binds to when none is given: the
 * running loop, else the loop set with setEventLoop. Never creates one (that
 * is getEventLoop's job, in loop.ts, which this layer must not import).
 */
export function _loopForNewFuture(): BaseEventLoop {
  const loop = runningLoop ?? currentLoop;
  if (loop === null) throw new RuntimeError('no running event loop and none set: pass a loop, or call setEventLoop()');
  return loop;
}
