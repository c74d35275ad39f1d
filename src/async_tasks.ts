// Async functions and promises as coio coroutines.
//
// Wherever a coroutine is accepted, so is a promise (any thenable) or a
// function returning one, such as an async function:
//
//     run(async () => { await sleep(1); return 42; });
//     const t = createTask(async () => await loop.sockRecv(sock, 100));
//     const [a, b] = yield* gather(fetchGen(1), fetchAsync(2));
//     yield* TaskGroup.run(async (tg) => { tg.createTask(worker); });
//
// A promise becomes a PromiseFuture: a Future settled by the promise's
// callbacks. Cancelling a Future cannot cancel a promise, so a Future made
// from a bare promise is simply abandoned when cancelled (it ends cancelled
// at once; the promise runs on, its outcome ignored), as asyncio's
// wrap_future does with a running concurrent future.
//
// A Task made from a FUNCTION is cancellable like a coroutine's: cancel()
// makes CancelledError surface at the `await` the async function is stopped
// at, it may catch it and go on, and an uncaught one ends the Task cancelled.
// How the Task learns what its async function awaits: the function is
// called inside an AsyncContext, carried by Node's AsyncLocalStorage through
// every continuation of that call (each `await` resumes in the context it
// was made in, including the then() call V8 makes on a thenable it awaits).
// Awaiting a coio Future calls Future.then(), which records the Future in
// the context it runs in (futures.ts calls onThen). cancel() then cancels
// the pending Futures recorded there; if there is none (the function is
// busy, or awaits a plain promise) the request is kept and delivered at its
// next await of a coio Future, or, if it finishes first, the Task ends
// cancelled (asyncio's "must cancel"). The context is per call, not per
// promise: async functions called (not made Tasks) inside it share it, so
// `await helper()` is cancelled with its caller, as with `yield*`.
//
// Only a function can be run inside a new context: a promise passed as is
// was started by its caller, in the caller's context. So createTask(fn) (or
// createTask(() => f(x))) is the cancellable form; createTask(f(x)) works
// but its cancel() only abandons the promise. Pass functions.
//
// Cost: Node 20's AsyncLocalStorage tracks contexts with promise hooks,
// which makes every promise of the process ~4x slower to create and resolve
// while it is enabled (Node >= 22 with AsyncContextFrame: nearly free). So
// the storage is enabled only while some context is live and disabled when
// the last one ends; programs with no async Task pay nothing.
//
// Coroutines awaited from async functions: `await sleep(1)`,
// `await reader.read(100)`, `await lock.acquire()` work because coio marks
// its own coroutine functions awaitable (awaitables.ts; coroutine() marks
// yours): awaiting such a generator object runs it as a Task
// (ensureFuture) and awaits that.

import { AsyncLocalStorage } from 'node:async_hooks';
import { CancelledError, RuntimeError } from './errors.js';
import { _getRunningLoop, _getRunningLoopOrThrow, _getSetLoop, _loopForNewFuture, describeValue } from './events.js';
import type { FutureOf, LoopCore, TaskOf } from './events.js';
import { Future, PENDING, _promiseHooks } from './futures.js';
import { _checkCanDrain, _promiseSettled, _promiseWorkDone, _promiseWorkStarted } from './microtasks.js';
import { _isAsyncFunction, _isGeneratorFunction, isCoroutine, isThenable } from './coroutines.js';
import type { Co, Coroutine } from './coroutines.js';

// --- contexts ---------------------------------------------------------------

const storage = new AsyncLocalStorage<AsyncContext>();
/** Contexts not finished yet; the storage is enabled only while there are some. */
let liveContexts = 0;

/** The dynamic extent of one call of an async function run for a Task (see the top of this file). */
class AsyncContext {
  /** The coio Future awaited last in this context (null or done: none). */
  private _awaiting: Future<unknown> | null = null;
  /** Others awaited at the same time (Promise.all over Futures, promises started and not awaited yet). */
  private _more: Future<unknown>[] | null = null;
  /** A cancel() that found nothing to cancel: delivered at the next await. */
  _cancelRequested = false;
  _cancelMessage: unknown = undefined;
  done = false;

  constructor(
    readonly loop: LoopCore,
    /** The Task this function runs for (currentTask() inside it). */
    readonly task: TaskOf<unknown> | null,
  ) {
    liveContexts++;
  }

  /** fut.then() was called in this context: it is what the function awaits now. */
  awaited(fut: Future<unknown>): void {
    if (fut._state !== PENDING) return;
    const current = this._awaiting;
    if (current === null || current._state !== PENDING) {
      this._awaiting = fut;
    } else if (current !== fut) {
      const more = (this._more ??= []);
      let j = 0;
      for (let i = 0; i < more.length; i++) if (more[i]!._state === PENDING && more[i] !== fut) more[j++] = more[i]!;
      more.length = j;
      more.push(fut);
    }
    if (this._cancelRequested && fut.cancel(this._cancelMessage)) {
      this._cancelRequested = false;
      this._cancelMessage = undefined;
    }
  }

  /** Deliver a cancellation: cancel what the function awaits, or keep the request for its next await. Always true. */
  requestCancel(msg: unknown): boolean {
    let delivered = false;
    const current = this._awaiting;
    if (current !== null && current._state === PENDING && current.cancel(msg)) delivered = true;
    if (this._more !== null) {
      for (const fut of this._more.splice(0)) if (fut._state === PENDING && fut.cancel(msg)) delivered = true;
    }
    if (!delivered) {
      this._cancelRequested = true;
      this._cancelMessage = msg;
    }
    return true;
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this._awaiting = null;
    this._more = null;
    if (--liveContexts === 0) storage.disable();
  }
}

/** @internal How many contexts are live (tests: none may be left once their Tasks are done). */
export function _liveAsyncContexts(): number {
  return liveContexts;
}

/** Called by Future.then(): record the Future in the context of the caller, if it is an async function run for a Task. */
function onThen(fut: Future<unknown>): void {
  if (liveContexts === 0) return;
  const ctx = storage.getStore();
  if (ctx === undefined || ctx.done || ctx.loop !== fut._loop) return;
  ctx.awaited(fut);
}

_promiseHooks.onThen = onThen;
_promiseHooks.onSettle = _promiseSettled;

/** @internal currentTask() inside an async function run for a Task of `loop` (the Task), else null. */
export function _currentAsyncTask(loop: LoopCore): TaskOf<unknown> | null {
  if (liveContexts === 0) return null;
  const ctx = storage.getStore();
  return ctx !== undefined && !ctx.done && ctx.loop === loop ? ctx.task : null;
}

// --- promises as Futures ----------------------------------------------------

/**
 * A Future settled by a promise (any thenable): its value becomes the
 * result, its rejection the exception (a CancelledError: cancelled). See the
 * top of this file for what cancel() does with and without a context.
 */
export class PromiseFuture<T = unknown> extends Future<T> {
  /** @internal Counted in the loop's promise work until settled or abandoned. */
  private _working = true;

  /** @internal */
  constructor(
    loop: LoopCore,
    thenable: PromiseLike<T>,
    /** @internal The context of the async function whose promise this is, or null. */
    readonly _context: AsyncContext | null = null,
  ) {
    super(loop);
    _promiseWorkStarted(loop);
    // Promise.resolve: a foreign thenable's then() runs in a microtask, never inline.
    const promise = thenable instanceof Promise ? thenable : Promise.resolve(thenable);
    promise.then(
      (value) => this._settle(true, value),
      (reason: unknown) => this._settle(false, reason),
    );
  }

  /**
   * With a context (a Task's async function): cancel what the function
   * awaits (CancelledError surfaces there). Without: abandon the promise and
   * end cancelled now.
   */
  override cancel(msg?: unknown): boolean {
    this._markRetrieved();
    if (this._state !== PENDING) return false;
    const ctx = this._context;
    if (ctx !== null && !ctx.done) return ctx.requestCancel(msg);
    this._stopWorking();
    return this._cancel(msg);
  }

  private _settle(fulfilled: boolean, value: unknown): void {
    this._stopWorking();
    const ctx = this._context;
    if (ctx !== null) ctx.finish();
    // Abandoned, or its loop closed meanwhile: nobody is waiting any more.
    if (this._state !== PENDING || this._loop.isClosed()) return;
    if (fulfilled) {
      if (ctx !== null && ctx._cancelRequested) this._cancel(ctx._cancelMessage);
      else this._setResult(value as T);
    } else if (value instanceof CancelledError) {
      this._cancelledExc = value;
      this._cancel();
    } else {
      this._setException(value);
    }
  }

  /** @internal Its awaiter is gone (closed with its loop): stop counting it, end its context. */
  _release(): void {
    this._stopWorking();
    this._context?.finish();
  }

  private _stopWorking(): void {
    if (!this._working) return;
    this._working = false;
    if (!this._loop.isClosed()) _promiseWorkDone(this._loop);
  }
}

// --- calling functions and adapting what they return -------------------------

/**
 * @internal Call fn(...args) for the running Task and return what to
 * `yield*`: a generator function's coroutine as is (no context, no cost);
 * any other function is called inside a new AsyncContext for the current
 * Task: a coroutine or Future it returns is used as is, a promise becomes a
 * PromiseFuture bound to the context (cancellable at its awaits), anything
 * else is a TypeError. Used for Task functions, TaskGroup and timeout bodies.
 */
export function _callBody<T>(fn: (...args: never[]) => unknown, args: readonly unknown[]): Coroutine<T> | Future<T> {
  const call = fn as (...a: unknown[]) => unknown;
  if (_isGeneratorFunction(call)) return call(...args) as Coroutine<T>;
  const loop = _getRunningLoopOrThrow();
  const isAsync = _isAsyncFunction(call);
  if (isAsync) _checkCanDrain(loop);
  const ctx = new AsyncContext(loop, loop._currentTask ?? _currentAsyncTask(loop));
  let result: unknown;
  try {
    result = storage.run(ctx, call, ...args);
    if (isCoroutine(result) || result instanceof Future) {
      ctx.finish();
      return result as Coroutine<T> | Future<T>;
    }
    if (isThenable(result)) {
      if (!isAsync) _checkCanDrain(loop);
      return guarded(new PromiseFuture<T>(loop, result as PromiseLike<T>, ctx));
    }
  } catch (exc) {
    ctx.finish();
    throw exc;
  }
  ctx.finish();
  throw new TypeError(`${describeValue(fn)} returned ${describeValue(result)}: a function run as a coroutine must return a coroutine or a promise (be a generator function or an async function)`);
}

/** Await pf; if closed while it is pending (its loop is closing), stop counting it and end its context. */
function* guarded<T>(pf: PromiseFuture<T>): Coroutine<T> {
  try {
    return yield* pf;
  } finally {
    pf._release();
  }
}

/** @internal What to `yield*` for a body that is not a function: a coroutine or Future as is, a thenable wrapped (no context). */
export function _toAwaitable<T>(aw: unknown): Coroutine<T> | Future<T> {
  if (isCoroutine(aw) || aw instanceof Future) return aw as Coroutine<T> | Future<T>;
  if (isThenable(aw)) {
    const loop = _getRunningLoopOrThrow();
    _checkCanDrain(loop);
    return new PromiseFuture<T>(loop, aw as PromiseLike<T>);
  }
  throw new TypeError(`an awaitable (a coroutine, a Future or a promise) was expected, got ${describeValue(aw)}`);
}

function* callForTask<T>(fn: () => unknown): Coroutine<T> {
  return (yield* _callBody<T>(fn, [])) as T;
}

function* awaitThenable<T>(loop: LoopCore, thenable: PromiseLike<T>): Coroutine<T> {
  return yield* new PromiseFuture<T>(loop, thenable);
}

/**
 * @internal The coroutine a Task runs for something that is not one: a
 * generator function's coroutine; any other function (an async function)
 * called on the Task's first step, in its own context; a thenable awaited.
 * A TypeError for anything else.
 */
export function _taskCoroutine<T>(x: unknown, loop: LoopCore): Coroutine<T> {
  if (isCoroutine(x)) return x as Coroutine<T>;
  if (typeof x === 'function') {
    if (_isGeneratorFunction(x)) {
      const coro = x();
      if (!isCoroutine(coro)) throw new TypeError(`a coroutine was expected from ${describeValue(x)}`);
      return coro as Coroutine<T>;
    }
    if (_isAsyncFunction(x)) _checkCanDrain(loop);
    return callForTask<T>(x as () => unknown);
  }
  if (isThenable(x)) {
    _checkCanDrain(loop);
    return awaitThenable(loop, x as PromiseLike<T>);
  }
  throw new TypeError(`a coroutine (generator object), an async function or a promise was expected, got ${describeValue(x)}`);
}

/** @internal ensureFuture() of a thenable (a PromiseFuture) or of a function (a Task: typed TaskOf, as this module is below tasks.ts). */
export function _ensureFutureAsync<T>(aw: PromiseLike<T> | ((...args: never[]) => unknown), loop?: LoopCore): FutureOf<T> | TaskOf<T> {
  const target = loop ?? _getRunningLoop() ?? _getSetLoop();
  if (target === null) throw new RuntimeError('no running event loop and none set: pass a loop, or call setEventLoop()');
  if (typeof aw === 'function') return target.createTask<T>(aw as () => PromiseLike<T>);
  _checkCanDrain(target);
  return new PromiseFuture<T>(target, aw);
}

/**
 * @internal run(main)'s check, before it makes a loop: a generator
 * function's coroutine, or main as is for the Task to adapt. An async
 * function or a promise fails at once (MICROTASK_ENTRY) when the blocking
 * loop could not drive it from here.
 */
export function _runMain(main: unknown): unknown {
  if (typeof main === 'function') {
    if (_isGeneratorFunction(main)) return main();
    if (_isAsyncFunction(main)) _checkCanDrain(null);
    return main;
  }
  if (isCoroutine(main)) return main;
  if (isThenable(main)) {
    _checkCanDrain(null);
    return main;
  }
  throw new TypeError(`a coroutine (generator object), an async function or a promise was expected, got ${describeValue(main)}`);
}

// --- coroutines awaited from async functions ---------------------------------

const AWAIT_TASK = Symbol('coio.awaitTask');
const AWAIT_INLINE = Symbol('coio.awaitInline');

/** then() of a marked coroutine: run it as a Task (once) and await that. */
function coroutineThen(this: Coroutine<unknown> & { [AWAIT_TASK]?: TaskOf<unknown> }, onfulfilled?: unknown, onrejected?: unknown): Promise<unknown> {
  let fut = this[AWAIT_TASK];
  if (fut === undefined) {
    try {
      // What ensureFuture(coroutine) does, without importing tasks.ts (which imports this module).
      fut = _loopForNewFuture().createTask(this);
    } catch (exc) {
      return Promise.reject(exc).then(onfulfilled as never, onrejected as never);
    }
    Object.defineProperty(this, AWAIT_TASK, { value: fut });
  }
  return fut.then(onfulfilled as never, onrejected as never);
}

/**
 * Make the coroutines of a generator function awaitable from async
 * functions (asyncio's `@coroutine` decorator, in spirit): `await gen()` runs
 * the coroutine as a Task of the running loop and awaits it. Returns fn.
 * coio's own coroutine functions (sleep, stream reads, locks, queues,
 * sock* methods, ...) are marked already.
 *
 *     const fetch = coroutine(function* (url: string) { ... });
 *     const body = await fetch(url);      // from an async function
 *     const same = yield* fetch(url);     // from a coroutine, as before
 *
 * The function returned is fn itself, typed as returning {@link Co}: its
 * coroutines are both `yield*`-able and awaitable.
 * @throws TypeError if fn is not a generator function.
 */
export function coroutine<A extends unknown[], T, This = unknown>(fn: (this: This, ...args: A) => Generator<unknown, T, unknown>): (this: This, ...args: A) => Co<T>;
export function coroutine(fn: (...args: never[]) => Coroutine<unknown>): (...args: never[]) => Co<unknown> {
  if (!_isGeneratorFunction(fn)) throw new TypeError(`coroutine(): a generator function was expected, got ${describeValue(fn)}`);
  _markAwaitable(fn.prototype as object);
  return fn as unknown as (...args: never[]) => Co<unknown>;
}

/** @internal Give the generator objects with this prototype a then() (see coroutine()). */
export function _markAwaitable(proto: object, inline = false): void {
  if (Object.prototype.hasOwnProperty.call(proto, 'then')) return;
  Object.defineProperty(proto, 'then', { value: inline ? inlineThen : coroutineThen, configurable: true, writable: true, enumerable: false });
}

/**
 * then() of a coroutine simple enough to run without a Task of its own
 * (sleep(): it only awaits Futures, or yields once): driven right here,
 * each Future it yields awaited with a done-callback (and recorded in the
 * awaiting async function's context, so cancelling its Task cancels the
 * sleep). Half the cost of a Task per `await sleep(...)`.
 */
function inlineThen(this: Coroutine<unknown> & { [AWAIT_INLINE]?: Promise<unknown> }, onfulfilled?: unknown, onrejected?: unknown): Promise<unknown> {
  const gen = this;
  // Awaited again: the same run (a coroutine runs once).
  let settled = gen[AWAIT_INLINE];
  if (settled !== undefined) return settled.then(onfulfilled as never, onrejected as never);
  settled = new Promise<unknown>((resolve, reject) => {
    let loop: LoopCore | null = null;
    const step = (): void => {
      let r: IteratorResult<unknown, unknown>;
      try {
        r = gen.next();
      } catch (exc) {
        reject(exc);
        if (loop !== null) _promiseSettled(loop);
        return;
      }
      if (r.done === true) {
        resolve(r.value);
        if (loop !== null) _promiseSettled(loop);
        return;
      }
      loop ??= _getRunningLoopOrThrow();
      const y = r.value;
      if (y instanceof Future) {
        y._blocking = false; // taken from the chain, as a Task would
        onThen(y);
        y.addDoneCallback(step);
      } else {
        loop.callSoon(step); // a bare yield: one loop iteration
      }
    };
    try {
      step();
    } catch (exc) {
      reject(exc); // no running loop
    }
  });
  Object.defineProperty(gen, AWAIT_INLINE, { value: settled });
  return settled.then(onfulfilled as never, onrejected as never);
}
