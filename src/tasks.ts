// Task: drives a generator coroutine (asyncio's Task.__step / __wakeup), and
// the basic module functions built on it: createTask, ensureFuture,
// currentTask, allTasks, isCoroutine, sleep. The combinators (gather, wait,
// waitFor, shield, asCompleted) are in combinators.ts.
//
// An invariant, as in asyncio, while a Task is not done: either _futWaiter
// is null and the Task is in the loop's ready queue (its step is due), or
// _futWaiter is a Future that has the Task among its waiters. The only way
// from the latter to the former is the Future completing.

import { CancelledError, InvalidStateError, RuntimeError } from './errors.js';
import { _baseLoop, _getRunningLoop, _getRunningLoopOrThrow, _getSetLoop, describeValue, getRunningLoop } from './events.js';
import type { AbstractEventLoop, AnyAwaitable, Awaitable, Runnable, TaskFactory, TaskInput, TaskLike, TaskOptions } from './events.js';
import { FAILED, Future, PENDING, _setResultUnlessCancelled } from './futures.js';
import { coroutineFrames } from './stacks.js';
import { _currentAsyncTask, _ensureFutureAsync } from './async_tasks.js';
import { isCoroutine, isThenable } from './coroutines.js';
import type { Co, Coroutine } from './coroutines.js';
import { _trackOrigin, _trackingOrigins } from './never_awaited.js';
import { _EMPTY_VARS, _contextOf, _enter, _leave, contextState } from './contextvars.js';
import type { Context } from './contextvars.js';

export { isCoroutine };
export type { Coroutine };

// Declared with the contract (events.ts), which names them.
export type { Awaitable, AnyAwaitable, TaskInput };

// The contract (events.ts) names Task<T> as TaskOf<T>: register the class there.
declare module './events.js' {
  interface CoreClasses<T> {
    task: Task<T>;
  }
}

/** The result type of an awaitable. */
export type AwaitedResult<A> = A extends Future<infer R> ? R : A extends Generator<unknown, infer R, unknown> ? R : A extends PromiseLike<infer R> ? R : never;
let taskNameCounter = 0;

/**
 * A Future that drives a coroutine (asyncio.Task): each step runs the
 * coroutine up to its next `yield*` of a pending Future, then waits for that
 * Future, then resumes it with its result. Done when the coroutine returns
 * (its result) or throws (its exception); cancel() throws CancelledError into
 * it at its suspension point. Make one with createTask / loop.createTask (it
 * starts on the loop's next iteration); await it with `yield* task`.
 */
export class Task<T = unknown> extends Future<T> implements TaskLike<T>, Runnable {
  /** @internal If false, closing the loop does not report this Task as destroyed while pending. */
  _logDestroyPending = true;
  private readonly _coro: Coroutine<T>;
  /** The given name, or null for the default 'Task-<id>' (formatted on demand: number to string costs, per task). */
  private _name: string | null;
  private readonly _id: number;
  private _numCancelsRequested = 0;
  /** A cancel() that could not be passed to an awaited Future yet: delivered at the next step. */
  private _mustCancel = false;
  /** @internal Its index in the loop's list of pending tasks, -1 once done. */
  _taskIndex = -1;
  /** @internal The Future this Task waits on, or null when its step is due. */
  _futWaiter: Future<unknown> | null = null;
  /** An error to throw into the coroutine at the next step (bad yield, wrong loop). */
  private _throwIn: unknown = undefined;
  private _hasThrowIn = false;
  /** @internal Debug mode: the stack of the await it is suspended at (getStack). Own property only in debug mode. */
  declare _suspendedAt: string | undefined;
  /** @internal Its Context: given, or made from _vars when first needed (contextvars.ts). */
  _context: Context | null;
  /** The values of the creator's Context when this Task was made: its copy, until it sets a variable. */
  private readonly _vars: Context['_vars'];

  /**
   * Prefer loop.createTask / createTask; the coroutine's first step runs on the next iteration.
   * @throws TypeError if coro is not a coroutine; RuntimeError if no loop is given, running or set, or the loop is closed.
   */
  constructor(coro: Coroutine<T>, options: { loop?: AbstractEventLoop; name?: string; context?: Context; eagerStart?: boolean } = {}) {
    super(options.loop);
    if (!isCoroutine(coro)) {
      this._logDestroyPending = false;
      throw new TypeError(`a coroutine (generator object) was expected, got ${describeValue(coro)}`);
    }
    this._coro = coro;
    // As asyncio: only unnamed tasks take a number.
    this._id = options.name === undefined ? ++taskNameCounter : 0;
    this._name = options.name === undefined ? null : String(options.name);
    // As asyncio: a copy of the creator's Context, unless one is given.
    const context = options.context;
    if (context === undefined) {
      this._context = null;
      this._vars = contextState.current._vars;
    } else {
      this._context = context;
      this._vars = _EMPTY_VARS;
    }
    if (options.eagerStart === true && this._loop.isRunning()) {
      this._loop._registerTask(this as Task<unknown>);
      this._eagerStart();
    } else {
      this._loop._pushReady(this);
      this._loop._registerTask(this as Task<unknown>);
    }
  }

  /** The Context this Task runs in (asyncio 3.12's get_context()). Never throws. */
  getContext(): Context {
    return _contextOf(this, this._vars);
  }

  /**
   * The first step, now, inside the creator's call (asyncio's eager start):
   * a coroutine that finishes without waiting is done before createTask
   * returns and is never scheduled. The Task running now (if any) is set
   * aside meanwhile, as asyncio swaps the current task.
   */
  private _eagerStart(): void {
    const loop = this._loop;
    const prev = loop._currentTask;
    loop._currentTask = null;
    try {
      this._run();
    } finally {
      loop._currentTask = prev;
    }
  }

  /**
   * Where the coroutine is suspended, or where its exception was thrown
   * (asyncio's get_stack), as V8 stack frames ("at f (file:line:col)"),
   * oldest first:
   * - pending, waiting on a Future or Task: the yield* chain of generator
   *   frames down to that await, recorded in debug mode only (a suspended
   *   generator keeps no inspectable frame: the chain is on the stack only
   *   while it delegates to the Future, and capturing it costs a stack trace
   *   per await); the newest `limit` frames. Outside debug mode, not started
   *   yet, ready to run, or after a bare `yield`: [].
   *   An async function's frames are never there: its suspension lives in
   *   promise reactions, not on a stack; its Task shows coio's adapter at most.
   * - failed: the frames of its exception's stack (an Error's), the oldest `limit`.
   * - done with a result, or cancelled: [].
   * @throws RangeError if limit is not a non-negative integer or null.
   */
  getStack(options: { limit?: number | null } = {}): string[] {
    const limit = options.limit ?? null;
    if (limit !== null && (!Number.isInteger(limit) || limit < 0)) throw new RangeError(`getStack: limit must be a non-negative integer or null, got ${String(limit)}`);
    let frames: string[];
    if (this._state === PENDING) {
      if (this._futWaiter === null || this._suspendedAt === undefined) return [];
      frames = coroutineFrames(this._suspendedAt).reverse();
      return limit === null ? frames : frames.slice(Math.max(0, frames.length - limit));
    }
    if (this._state !== FAILED) return [];
    const exc = this._exception;
    if (!(exc instanceof Error) || typeof exc.stack !== 'string') return [];
    frames = coroutineFrames(exc.stack).reverse();
    return limit === null ? frames : frames.slice(0, limit);
  }

  /**
   * Print getStack() to `file` (default process.stderr: anything with a
   * write(string) method), as asyncio's print_stack: a "Stack for" or
   * "Traceback for" header, the frames oldest first, and for a failed Task
   * its exception's "Name: message" line.
   * @throws RangeError for a bad limit; TypeError if file has no write method.
   */
  printStack(options: { limit?: number | null; file?: { write(text: string): unknown } } = {}): void {
    const file = options.file ?? process.stderr;
    if (typeof file?.write !== 'function') throw new TypeError('printStack: file must have a write(text) method');
    const frames = this.getStack({ limit: options.limit ?? null });
    const exc = this._state === FAILED ? this._exception : undefined;
    const lines: string[] = [];
    if (frames.length === 0) {
      lines.push(`No stack for ${String(this)}`);
      if (this._state === PENDING && this._futWaiter !== null && !this._loop._debug) lines.push('  (the stack of a suspended Task is recorded in debug mode only)');
    } else {
      lines.push(`${exc !== undefined ? 'Traceback' : 'Stack'} for ${String(this)} (most recent call last):`);
      for (const frame of frames) lines.push(`  ${frame}`);
    }
    if (exc !== undefined) lines.push(exc instanceof Error ? `${exc.name}: ${exc.message}` : String(exc));
    file.write(lines.join('\n') + '\n');
  }

  /** The coroutine this Task drives. Never throws. */
  getCoro(): Coroutine<T> {
    return this._coro;
  }

  /** The name given at creation (or with setName), else 'Task-N'. Never throws. */
  getName(): string {
    return this._name ?? `Task-${this._id}`;
  }

  /** Rename the Task (value is converted with String()). Never throws. */
  setName(value: unknown): void {
    this._name = String(value);
  }

  /** Tasks are completed by their coroutine: a RuntimeError. */
  override setResult(..._result: undefined extends T ? [result?: T] : [result: T]): never;
  override setResult(): never {
    throw new RuntimeError('Task does not support setResult operation');
  }

  /** Tasks are completed by their coroutine: a RuntimeError. */
  override setException(_exception: unknown): never {
    throw new RuntimeError('Task does not support setException operation');
  }

  /**
   * Request cancellation: CancelledError is thrown into the coroutine at its
   * suspension point (the awaited Future is cancelled, which wakes it). The
   * coroutine may catch it and go on. False if the Task is already done.
   * Each call counts a cancellation request (cancelling()).
   */
  override cancel(msg?: unknown): boolean {
    this._markRetrieved();
    if (this._state !== PENDING) return false;
    this._numCancelsRequested++;
    // The waiter may be a Task that ignores its cancellation: keep waiting on
    // it then (it may have to be cancelled again later).
    if (this._futWaiter !== null && this._futWaiter.cancel(msg)) return true;
    // The step is already due: deliver the cancellation there.
    this._mustCancel = true;
    this._cancelMessage = msg;
    return true;
  }

  /** How many cancellation requests are pending (cancel() adds one, uncancel() removes one). */
  cancelling(): number {
    return this._numCancelsRequested;
  }

  /**
   * Withdraw one cancellation request; returns how many remain. When none
   * remain, a cancellation not yet delivered (the Task was running when
   * cancel() was called) is withdrawn too, as in asyncio 3.13.
   */
  uncancel(): number {
    if (this._numCancelsRequested > 0) {
      this._numCancelsRequested--;
      // Otherwise the withdrawn request would still throw CancelledError at the next await.
      if (this._numCancelsRequested === 0) this._mustCancel = false;
    }
    return this._numCancelsRequested;
  }

  /** @internal */
  override _reportKind(): string {
    return 'Task';
  }

  /** @internal */
  override _reportName(): string | null {
    return this.getName();
  }

  override toString(): string {
    const waiting = this._futWaiter !== null ? ` wait_for=${String(this._futWaiter)}` : '';
    return `<Task ${this._stateInfo()} name=${JSON.stringify(this.getName())}${waiting}>`;
  }

  /** @internal The loop runs the Task's step (Runnable): the first one, after a sleep(0), or on wakeup. */
  _run(): void {
    try {
      this._step();
    } catch (exc) {
      // Only a bug in this file gets here: the coroutine's own errors finish the Task.
      this._loop.callExceptionHandler({ message: 'Exception in Task step', exception: exc, task: this as Task<unknown> });
    }
  }

  /** @internal Closing the loop: let the suspended coroutine's finally blocks run. */
  _closeCoroutine(): void {
    try {
      this._coro.return(undefined as T);
    } catch (exc) {
      this._loop.callExceptionHandler({ message: 'Exception while closing the coroutine of a pending Task', exception: exc, task: this as Task<unknown> });
    }
  }

  private _step(): void {
    if (this._state !== PENDING) throw new InvalidStateError(`_step(): already done: ${String(this)}`);
    let hasExc = this._hasThrowIn;
    let exc = this._throwIn;
    this._hasThrowIn = false;
    this._throwIn = undefined;
    if (this._mustCancel) {
      if (!hasExc || !(exc instanceof CancelledError)) exc = new CancelledError(this._cancelMessage === undefined ? '' : String(this._cancelMessage));
      hasExc = true;
      this._mustCancel = false;
    }
    this._futWaiter = null;

    const loop = this._loop;
    if (loop._currentTask !== null) throw new RuntimeError(`Cannot enter into task ${String(this)} while another task ${String(loop._currentTask)} is being executed.`);
    loop._currentTask = this as Task<unknown>;
    // Its Context (contextvars.ts): only once a ContextVar exists, else unobservable.
    const switching = contextState.on;
    const outer = switching ? _enter(this, this._vars) : null;
    let r: IteratorResult<unknown, T>;
    try {
      // Resuming after an await needs no value: the awaited Future's next()
      // returns its own result (or throws) inside the yield* chain.
      r = hasExc ? this._coro.throw(exc) : this._coro.next();
    } catch (err) {
      if (switching) _leave(this, outer!);
      loop._currentTask = null;
      this._finish();
      if (err instanceof CancelledError) {
        this._cancelledExc = err;
        this._cancel();
      } else {
        this._setException(err);
      }
      return;
    }
    if (switching) _leave(this, outer!);
    loop._currentTask = null;

    if (r.done === true) {
      this._finish();
      if (this._mustCancel) {
        // cancel() arrived while the coroutine was finishing.
        this._mustCancel = false;
        this._cancel(this._cancelMessage);
      } else {
        this._setResult(r.value);
      }
      return;
    }
    const y = r.value;
    if (y instanceof Future) this._waitOn(y);
    else if (y === undefined) loop._pushReady(this); // a bare `yield`: sleep(0), one iteration
    else this._throwLater(new TypeError(`Task got bad yield: ${describeValue(y)} (await with yield* a Future, a Task or a coroutine)`));
  }

  private _waitOn(fut: Future<unknown>): void {
    // Taken from the yield* chain: whatever happens next, a later await of
    // this Future may yield it again.
    const viaAwait = fut._blocking;
    fut._blocking = false;
    if (fut._loop !== this._loop) {
      this._throwLater(new RuntimeError(`Task ${String(this)} got Future ${String(fut)} attached to a different loop`));
    } else if (!viaAwait) {
      this._throwLater(new TypeError(`yield was used instead of yield* in task ${String(this)} with ${String(fut)}`));
    } else if (fut === this) {
      this._throwLater(new RuntimeError(`Task cannot await on itself: ${String(this)}`));
    } else {
      fut._addWaiter(this);
      this._futWaiter = fut;
      if (this._loop._debug) this._suspendedAt = fut._awaitedAt;
      if (this._mustCancel && fut.cancel(this._cancelMessage)) this._mustCancel = false;
    }
  }

  private _throwLater(exc: unknown): void {
    this._throwIn = exc;
    this._hasThrowIn = true;
    this._loop._pushReady(this);
  }

  /** Leave the loop's set of pending tasks (before the state changes, so allTasks never lists a done Task). */
  private _finish(): void {
    this._loop._unregisterTask(this as Task<unknown>);
  }
}

/**
 * Run a coroutine as a Task of the running loop (started on its next
 * iteration). Also an async function (called on the Task's first step,
 * cancellable at its awaits) or a promise (see async_tasks.ts).
 * @throws RuntimeError if no loop is running; TypeError if coro is none of those.
 */
export function createTask<T>(coro: TaskInput<T>, options: TaskOptions = {}): Task<T> {
  return getRunningLoop().createTask(coro, options);
}

/**
 * A Future for an awaitable: a Future or Task as is, a coroutine wrapped in a
 * Task, a promise in a Future it settles, a function (an async function) in
 * a Task that calls it. loop: defaults to the running loop, else the one set
 * with setEventLoop.
 * @throws TypeError if aw is not awaitable; RangeError if aw is a Future of
 *   another loop than `loop`; RuntimeError if no loop is given, running or set.
 */
export function ensureFuture<T>(aw: TaskInput<T>, loop?: AbstractEventLoop): Future<T> {
  if (aw instanceof Future) {
    if (loop !== undefined && loop !== aw._loop) throw new RangeError('The future belongs to a different loop than the one specified as the loop argument');
    return aw;
  }
  if (!isCoroutine(aw) && (typeof aw === 'function' || isThenable(aw))) return _ensureFutureAsync<T>(aw, loop === undefined ? undefined : _baseLoop(loop));
  if (!isCoroutine(aw)) throw new TypeError(`An asyncio Future, a Task or a coroutine is required, got ${describeValue(aw)}`);
  const target = loop ?? _getRunningLoop() ?? _getSetLoop();
  if (target === null) throw new RuntimeError('no running event loop and none set: pass a loop, or call setEventLoop()');
  return target.createTask(aw);
}

/**
 * The Task running now on `loop` (default: the running loop), or null. Inside an async function run for a Task: that Task.
 * @throws RuntimeError if loop is omitted and no loop is running.
 */
export function currentTask(loop?: AbstractEventLoop): Task<unknown> | null {
  const l = loop !== undefined ? _baseLoop(loop) : _getRunningLoopOrThrow();
  return l._currentTask ?? _currentAsyncTask(l);
}

/**
 * The pending Tasks of `loop` (default: the running loop), as a new Set.
 * @throws RuntimeError if loop is omitted and no loop is running.
 */
export function allTasks(loop?: AbstractEventLoop): Set<Task<unknown>> {
  return new Set((loop !== undefined ? _baseLoop(loop) : _getRunningLoopOrThrow())._tasks);
}

/**
 * Suspend for `seconds`, then return `result`. sleep(0) (or less) gives the
 * loop exactly one iteration without a timer, like a bare `yield`.
 * @throws TypeError (at the call) if seconds is not a number; RuntimeError
 *   (when awaited) if no loop is running; CancelledError if cancelled.
 */
export function sleep<T = undefined>(seconds: number, result?: T): Co<T> {
  if (typeof seconds !== 'number' || Number.isNaN(seconds)) throw new TypeError(`sleep: seconds must be a number, got ${String(seconds)}`);
  // Also `await sleep(1)` in async functions: awaitables.ts gives both kinds a then().
  const coro = (seconds <= 0 ? new Sleep0<T>(result as T) : sleepFor(seconds, result as T)) as Co<T>;
  if (_trackingOrigins) _trackOrigin(coro, 'sleep()'); // debug mode: warn if it is never awaited
  return coro;
}

function* sleepFor<T>(seconds: number, result: T): Coroutine<T> {
  const loop = getRunningLoop();
  const fut = loop.createFuture<T>();
  const timer = loop.callLater(seconds, _setResultUnlessCancelled, fut, result);
  try {
    return yield* fut;
  } finally {
    timer.cancel();
  }
}

const YIELD_ONCE: IteratorResult<unknown, never> = Object.freeze({ done: false, value: undefined });

/**
 * sleep(0): a coroutine that yields once (a bare yield: one loop iteration)
 * and returns. A hand-written generator: a task switch is on the hot path,
 * and this costs about half of a `function*` (no generator frame to create).
 * It behaves as the generator `function* () { yield; return result; }` would,
 * and isCoroutine() accepts it, so createTask(sleep(0)) works.
 */
class Sleep0<T> implements Generator<unknown, T, unknown> {
  /** 0: not started, 1: yielded, 2: finished. */
  private _state = 0;

  constructor(private readonly _result: T) {}

  get [Symbol.toStringTag](): string {
    return 'Generator';
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<unknown, T> {
    if (this._state === 0) {
      this._state = 1;
      return YIELD_ONCE;
    }
    if (this._state === 1) {
      this._state = 2;
      return { done: true, value: this._result };
    }
    return { done: true, value: undefined as T };
  }

  throw(exc: unknown): IteratorResult<unknown, T> {
    this._state = 2;
    throw exc;
  }

  return(value: T): IteratorResult<unknown, T> {
    this._state = 2;
    return { done: true, value };
  }
}

/** A Task class (or subclass) constructor, as createEagerTaskFactory takes. */
export type TaskConstructor = new (coro: Coroutine<unknown>, options: { loop?: AbstractEventLoop; name?: string; context?: Context; eagerStart?: boolean }) => Task<unknown>;

/**
 * A task factory (loop.setTaskFactory) whose Tasks start eagerly, with
 * `customTaskConstructor` (asyncio 3.12's create_eager_task_factory).
 * @throws TypeError if customTaskConstructor is not a function.
 */
export function createEagerTaskFactory(customTaskConstructor: TaskConstructor): TaskFactory {
  if (typeof customTaskConstructor !== 'function') throw new TypeError('createEagerTaskFactory: a Task constructor is required');
  return (loop, coro, options) => new customTaskConstructor(coro, { loop, name: options.name, context: options.context, eagerStart: true });
}

/**
 * The task factory that starts each Task eagerly (asyncio 3.12's
 * eager_task_factory): `loop.setTaskFactory(eagerTaskFactory)`. A coroutine
 * runs inside createTask until its first suspension; one that returns
 * without waiting is done at once and never goes through the ready queue.
 */
export const eagerTaskFactory: TaskFactory = createEagerTaskFactory(Task as TaskConstructor);
