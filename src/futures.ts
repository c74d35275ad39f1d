// Future: a result that will exist later (asyncio's futures module).
//
// The await protocol: a Future is its own iterator. `yield* fut` calls
// next(); while the Future is pending that yields the Future itself, which
// travels up the yield* chain to the Task driving the coroutine; the Task
// adds itself as a done-callback and, once the Future is done, resumes the
// chain with next() again, which now returns the result (or throws the
// exception / CancelledError) at the yield* of the awaiting coroutine.
// Being its own iterator, an await allocates nothing but IteratorResults.
// This is correct because a Task only resumes a coroutine when the Future it
// waits on is done, or to throw into it (throw() rethrows at the yield*).
//
// Callbacks are never called inline: a Future hands them to the loop
// (callSoon), and the loop's runOnce is the only place they run.

import { CancelledError, InvalidStateError, RuntimeError } from './errors.js';
import { _baseLoop, _loopForNewFuture, describeValue } from './events.js';
import type { AbstractEventLoop, FutureLike, LoopCore, Runnable } from './events.js';
import type { UnretrievedRecord } from './unretrieved.js';

// The contract (events.ts) names Future<T> as FutureOf<T>: register the class there.
declare module './events.js' {
  interface CoreClasses<T> {
    future: Future<T>;
  }
}

/** @internal */ export const PENDING = 0;
/** @internal */ export const CANCELLED = 1;
/** @internal Done with a result. */ export const FINISHED = 2;
/** @internal Done with an exception (reported as FINISHED, as asyncio does). */ export const FAILED = 3;
const STATE_NAMES = ['PENDING', 'CANCELLED', 'FINISHED', 'FINISHED'] as const;

/** What addDoneCallback takes: called from the loop with the Future, once it is done. */
export type DoneCallback<T> = (fut: Future<T>) => void;
/**
 * A done-callback, or a Task to wake (scheduled without a Handle: the await
 * fast path). Not generic: typing it by T would make Future<T> invariant.
 */
type Waiter = ((fut: any) => void) | Runnable;

/**
 * A result that will exist later (asyncio.Future): pending, then done with a
 * result, an exception, or cancelled. Coroutines await it with `yield* fut`
 * (it is its own iterator: pending, it yields itself to the Task driving the
 * coroutine; done, it returns the result or throws); async functions await it
 * with `await fut` (it is a thenable). Callbacks added with addDoneCallback
 * always run from the loop, never inline.
 *
 * @example
 * ```ts
 * const fut = loop.createFuture<number>();
 * loop.callLater(0.1, () => fut.setResult(42));
 * const answer = yield* fut; // 42
 * ```
 */
export class Future<T = unknown> implements FutureLike<T> {
  /** @internal */ _state: number = PENDING;
  /** @internal */ _result: T | undefined = undefined;
  /** @internal */ _exception: unknown = undefined;
  /** @internal */ readonly _loop: LoopCore;
  /** @internal */ _cancelMessage: unknown = undefined;
  /** @internal The CancelledError that result() throws once cancelled (a Task keeps the one its coroutine raised). */
  _cancelledExc: CancelledError | null = null;
  /**
   * @internal While a failure is set and nobody has looked at it: what its
   * report needs (unretrieved.ts: reported when this Future is collected, or
   * when its loop closes), else null.
   */
  _unretrieved: UnretrievedRecord<Future<unknown>> | null = null;
  /**
   * @internal Set by next() when it yields this Future for a Task to wait on.
   * A Task that receives a Future with the flag unset knows the coroutine
   * wrote `yield fut` instead of `yield* fut` (asyncio's _asyncio_future_blocking).
   */
  _blocking = false;
  // The first callback gets a field of its own: most Futures have exactly one
  // (the Task awaiting them), so the common case allocates no array.
  private _cb0: Waiter | null = null;
  private _callbacks: Waiter[] | null = null;

  /** @internal Where it was created, kept in debug mode for the exception handler. */
  _sourceTraceback: string | undefined = undefined;
  /**
   * @internal Debug mode: the stack of the last yield* that suspended on it
   * (Task.getStack). An own property only in debug mode; the prototype's
   * undefined otherwise, so Futures keep their shape.
   */
  declare _awaitedAt: string | undefined;

  /**
   * A pending Future. loop: defaults to the running loop, else the one set with setEventLoop.
   * @throws RuntimeError if no loop is given, running or set.
   */
  constructor(loop?: AbstractEventLoop) {
    this._loop = loop !== undefined ? _baseLoop(loop) : _loopForNewFuture();
    if (this._loop._debug) this._sourceTraceback = new Error('created here').stack;
  }

  /** The loop this Future belongs to (its callbacks run there). Never throws. */
  getLoop(): AbstractEventLoop {
    return this._loop;
  }

  /** True once the Future has a result or an exception, or was cancelled. Never throws. */
  done(): boolean {
    return this._state !== PENDING;
  }

  /** True if the Future was cancelled. Never throws. */
  cancelled(): boolean {
    return this._state === CANCELLED;
  }

  /**
   * The result. Throws the Future's exception if it has one, CancelledError if
   * it was cancelled, InvalidStateError if it is not done yet.
   */
  result(): T {
    const state = this._state;
    if (state === FINISHED) return this._result as T;
    if (state === CANCELLED) throw this._makeCancelledError();
    if (state === PENDING) throw new InvalidStateError('Result is not ready.');
    this._markRetrieved();
    throw this._exception;
  }

  /**
   * The exception (undefined if the Future has a result). Throws CancelledError
   * if it was cancelled, InvalidStateError if it is not done yet.
   */
  exception(): unknown {
    const state = this._state;
    if (state === CANCELLED) throw this._makeCancelledError();
    if (state === PENDING) throw new InvalidStateError('Exception is not set.');
    this._markRetrieved();
    return this._exception;
  }

  /** Cancel a pending Future: false if it is already done. Schedules the callbacks. Never throws. */
  cancel(msg?: unknown): boolean {
    this._markRetrieved();
    if (this._state !== PENDING) return false;
    this._state = CANCELLED;
    this._cancelMessage = msg;
    this._scheduleCallbacks();
    return true;
  }

  /**
   * Complete the Future with a result; schedules the callbacks (awaiting Tasks resume).
   * The result may be left out when T allows undefined: `createFuture()`
   * (a Future<unknown>) or a Future<void> is settled with `setResult()`.
   * @throws InvalidStateError if it is already done (cancelled included).
   */
  setResult(...result: undefined extends T ? [result?: T] : [result: T]): void;
  setResult(result?: T): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${String(this)}`);
    this._setResult(result as T);
  }

  /**
   * Complete the Future with an exception (thrown where it is awaited); schedules the callbacks.
   * If nobody retrieves it, the loop reports it when the Future is garbage-collected (or when the loop closes, if sooner).
   * @throws InvalidStateError if it is already done (cancelled included).
   */
  setException(exception: unknown): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${String(this)}`);
    this._setException(exception);
  }

  /**
   * Call fn(this) once the Future is done, from the loop (never inline, even if already done).
   * @throws TypeError if fn is not a function.
   */
  addDoneCallback(fn: DoneCallback<T>): void {
    if (typeof fn !== 'function') throw new TypeError('addDoneCallback: a function is required');
    this._addWaiter(fn);
  }

  /** Remove every registration of fn; returns how many were removed. Never throws. */
  removeDoneCallback(fn: DoneCallback<T>): number {
    const all: Waiter[] = [];
    if (this._cb0 !== null) all.push(this._cb0);
    if (this._callbacks !== null) all.push(...this._callbacks);
    const kept = all.filter((w) => w !== fn);
    this._cb0 = kept.length > 0 ? kept[0]! : null;
    this._callbacks = kept.length > 1 ? kept.slice(1) : null;
    return all.length - kept.length;
  }

  // --- the await protocol -------------------------------------------------

  /** The await protocol: `yield* fut` iterates the Future itself (see next()). */
  [Symbol.iterator](): Iterator<unknown, T, unknown> {
    return this;
  }

  /**
   * Pending: yields this Future (to the Task). Done: returns the result or
   * throws. Called again while still pending before a Task took the Future
   * (iterated by something other than a Task: a spread, a deep-equal), a
   * RuntimeError, as asyncio's "await wasn't used with future": this
   * iterator never yields the same pending Future twice in a row.
   */
  next(): IteratorResult<unknown, T> {
    if (this._state === PENDING) {
      if (this._blocking) throw new RuntimeError(`await wasn't used with future ${String(this)}`);
      this._blocking = true;
      // The awaiting yield* chain is on the stack now (and only now): debug
      // mode keeps it for Task.getStack().
      if (this._loop._debug) this._awaitedAt = new Error('suspended here').stack;
      return { done: false, value: this };
    }
    if (this._state === FINISHED) return { done: true, value: this._result as T };
    return { done: true, value: this.result() };
  }

  /** A Task throwing into the awaiting coroutine: rethrow at its `yield*`. */
  throw(exc?: unknown): IteratorResult<unknown, T> {
    throw exc;
  }

  /** The awaiting generator was closed with return(): stop waiting. */
  return(value?: T): IteratorResult<unknown, T> {
    return { done: true, value: value as T };
  }

  /**
   * Thenable, so `await fut` works in async functions. Settling goes through a
   * done-callback (the loop must be running for a pending Future to settle);
   * the failure is considered retrieved: the Promise carries it on.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    // async_tasks.ts: an async function run for a Task records what it awaits.
    const hooks = _promiseHooks;
    if (hooks.onThen !== null) hooks.onThen(this);
    const settled = new Promise<T>((resolve, reject) => {
      const settle = (fut: Future<T>): void => {
        if (fut._state === FINISHED) resolve(fut._result as T);
        else {
          fut._markRetrieved();
          reject(fut._state === CANCELLED ? fut._makeCancelledError() : fut._exception);
        }
        // microtasks.ts: the blocking loop drains the reactions just queued.
        if (hooks.onSettle !== null) hooks.onSettle(fut._loop);
      };
      // A done Future settles at once: promise reactions are asynchronous anyway.
      if (this._state !== PENDING) settle(this);
      else this._addWaiter(settle);
    });
    return settled.then(onfulfilled, onrejected);
  }

  toString(): string {
    return `<${this.constructor.name} ${this._stateInfo()}>`;
  }

  /** console.log / util.inspect show toString(), not the loop behind the Future. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // --- internals ----------------------------------------------------------

  /** @internal For toString of subclasses. */
  _stateInfo(): string {
    const state = STATE_NAMES[this._state].toLowerCase();
    if (this._state === FINISHED) return `${state} result=${describeValue(this._result)}`;
    if (this._state === FAILED) return `${state} exception=${describeValue(this._exception)}`;
    return state;
  }

  /** @internal Set the result without the guard (Task uses it; its setResult is disabled). */
  _setResult(result: T): void {
    this._result = result;
    this._state = FINISHED;
    this._scheduleCallbacks();
  }

  /** @internal */
  _setException(exception: unknown): void {
    this._exception = exception;
    this._state = FAILED;
    this._unretrieved = this._loop._unretrievedFailures.track(this, this._reportKind(), this._reportName());
    this._scheduleCallbacks();
  }

  /** @internal Cancel without the Task override (Task.cancel only requests). */
  _cancel(msg?: unknown): boolean {
    return Future.prototype.cancel.call(this, msg);
  }

  /** @internal */
  _markRetrieved(): void {
    const record = this._unretrieved;
    if (record === null) return;
    this._unretrieved = null;
    record.owner.untrack(record);
  }

  /** @internal The first word of its "exception was never retrieved" report. */
  _reportKind(): string {
    return 'Future';
  }

  /** @internal The name its report gives (a Task's), or null. */
  _reportName(): string | null {
    return null;
  }

  /** @internal The CancelledError to throw for a cancelled Future (one per Future, so rethrows are the same object). */
  _makeCancelledError(): CancelledError {
    if (this._cancelledExc === null) {
      this._cancelledExc = new CancelledError(this._cancelMessage === undefined ? '' : String(this._cancelMessage));
    }
    return this._cancelledExc;
  }

  /** @internal Register a callback or a Task; if already done, schedule it now. */
  _addWaiter(w: Waiter): void {
    if (this._state !== PENDING) this._schedule(w);
    else if (this._cb0 === null) this._cb0 = w;
    else if (this._callbacks === null) this._callbacks = [w];
    else this._callbacks.push(w);
  }

  private _scheduleCallbacks(): void {
    const first = this._cb0;
    if (first === null) return;
    this._cb0 = null;
    this._schedule(first);
    const rest = this._callbacks;
    if (rest === null) return;
    this._callbacks = null;
    for (let i = 0; i < rest.length; i++) this._schedule(rest[i]!);
  }

  private _schedule(w: Waiter): void {
    if (typeof w === 'function') this._loop.callSoon(w, this);
    else this._loop._pushReady(w);
  }
}

/**
 * @internal Set by async_tasks.ts (this module cannot import it: it builds on
 * Future). onThen(fut): then() was called on fut (an async function may be
 * awaiting it). onSettle(loop): a then() settled its promise.
 */
export const _promiseHooks: {
  onThen: ((fut: Future<unknown>) => void) | null;
  onSettle: ((loop: LoopCore) => void) | null;
} = { onThen: null, onSettle: null };

/** True for a Future (Tasks included). */
export function isFuture(x: unknown): x is Future {
  return x instanceof Future;
}

/** @internal A callLater target: set the result unless the Future was cancelled meanwhile. */
export function _setResultUnlessCancelled<T>(fut: Future<T>, result: T): void {
  if (!fut.cancelled()) fut.setResult(result);
}
