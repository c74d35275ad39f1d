// Waiting on several awaitables: gather, wait, waitFor, shield, asCompleted
// (the second half of asyncio's tasks module; the Task itself is tasks.ts).

import { checkSeconds } from './arg_checks.js';
import { Deque } from './deque.js';
import { CancelledError, RuntimeError, TimeoutError } from './errors.js';
import { _getRunningLoop, _getSetLoop, getRunningLoop } from './events.js';
import { CANCELLED, FINISHED, Future } from './futures.js';
import type { LoopCore } from './events.js';
import { Task, ensureFuture } from './tasks.js';
import { isCoroutine } from './coroutines.js';
import type { AnyAwaitable, AwaitedResult } from './tasks.js';
import type { Coroutine, Co } from './coroutines.js';
import { timeout } from './timeouts.js';

// --- gather -----------------------------------------------------------------

/** The options object gather() accepts as its last argument. */
export interface GatherOptions {
  /** Put exceptions (and CancelledErrors) in the results instead of failing on the first one. */
  returnExceptions?: boolean;
}

type GatherResults<A extends readonly unknown[]> = { -readonly [K in keyof A]: AwaitedResult<A[K]> };
type GatherSettled<A extends readonly unknown[]> = { -readonly [K in keyof A]: AwaitedResult<A[K]> | Error };

/** gather()'s Future: cancelling it cancels the children (like Task.cancel, it only requests). */
class GatheringFuture<T> extends Future<T> {
  /** @internal */ _cancelRequested = false;

  constructor(
    private readonly _children: readonly Future<unknown>[],
    loop: LoopCore,
  ) {
    super(loop);
  }

  override cancel(msg?: unknown): boolean {
    this._markRetrieved();
    if (this.done()) return false;
    let ret = false;
    for (const child of this._children) if (child.cancel(msg)) ret = true;
    // Even with returnExceptions, a cancelled gather must end cancelled (bpo-32684).
    if (ret) this._cancelRequested = true;
    return ret;
  }
}

/**
 * Run awaitables concurrently (coroutines become Tasks); a Future of their
 * results in argument order. The first exception fails it (the others keep
 * running) unless an options object `{ returnExceptions: true }` is passed
 * as the last argument, which puts exceptions among the results.
 * Cancelling the gather cancels every child that is not done.
 *
 *     const [a, b] = yield* gather(fetch(1), fetch(2));
 *     const settled = yield* gather(...tasks, { returnExceptions: true });
 *
 * @throws TypeError (at the call) for an argument that is not awaitable;
 *   RuntimeError if no loop is running or set; awaiting the gather throws
 *   the first child's exception, or CancelledError if a child (or the
 *   gather) was cancelled.
 */
export function gather<const A extends readonly AnyAwaitable<unknown>[]>(...aws: A): Future<GatherResults<A>>;
export function gather<const A extends readonly AnyAwaitable<unknown>[]>(...args: [...A, GatherOptions]): Future<GatherSettled<A>>;
export function gather(...args: unknown[]): Future<unknown[]> {
  let returnExceptions = false;
  if (args.length > 0 && isPlainObject(args[args.length - 1])) {
    returnExceptions = Boolean((args.pop() as GatherOptions).returnExceptions);
  }
  const aws = args as AnyAwaitable<unknown>[];
  if (aws.length === 0) {
    const outer = new Future<unknown[]>(defaultLoop());
    outer.setResult([]);
    return outer;
  }

  const children: Future<unknown>[] = [];
  const argToFut = new Map<AnyAwaitable<unknown>, Future<unknown>>();
  let loop: LoopCore | undefined;
  let nfuts = 0;
  let nfinished = 0;
  let outer: GatheringFuture<unknown[]> | null = null;

  const onChildDone = (fut: Future<unknown>): void => {
    nfinished++;
    if (outer === null || outer.done()) {
      if (!fut.cancelled()) fut.exception(); // mark it retrieved: the gather has already failed
      return;
    }
    if (!returnExceptions) {
      if (fut._state === CANCELLED) {
        outer.setException(fut._makeCancelledError());
        return;
      }
      if (fut._state !== FINISHED) {
        outer.setException(fut.exception());
        return;
      }
    }
    if (nfinished < nfuts) return;
    const results = children.map((child) => {
      if (child._state === CANCELLED) return child._makeCancelledError();
      return child._state === FINISHED ? child._result : child.exception();
    });
    if (outer._cancelRequested) outer.setException(fut._makeCancelledError());
    else outer.setResult(results);
  };

  for (const aw of aws) {
    let fut = argToFut.get(aw);
    if (fut === undefined) {
      fut = ensureFuture(aw, loop);
      loop ??= fut._loop;
      // A Task made here for a coroutine is invisible to the caller: don't
      // report it as destroyed pending.
      if (fut !== aw && fut instanceof Task) fut._logDestroyPending = false;
      nfuts++;
      argToFut.set(aw, fut);
      fut.addDoneCallback(onChildDone);
    }
    children.push(fut);
  }
  outer = new GatheringFuture<unknown[]>(children, loop!);
  return outer;
}

function isPlainObject(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

function defaultLoop(): LoopCore {
  const loop = _getRunningLoop() ?? _getSetLoop();
  if (loop === null) throw new RuntimeError('no running event loop');
  return loop;
}

// --- shield -----------------------------------------------------------------

/**
 * Await `aw` but do not let a cancellation of the awaiting Task reach it:
 * the awaiting Task still gets CancelledError, while the inner Task goes on.
 * (If the inner one is cancelled by other means, the shield is cancelled too.)
 * @throws TypeError if aw is not awaitable; RuntimeError if no loop is running or set.
 */
export function shield<T>(aw: AnyAwaitable<T>): Future<T> {
  const inner = ensureFuture(aw);
  if (inner.done()) return inner;
  const outer = inner._loop.createFuture<T>();
  const onInnerDone = (f: Future<T>): void => {
    if (outer.cancelled()) {
      if (!f.cancelled()) f.exception(); // retrieved: nobody awaits the shield any more
      return;
    }
    if (f._state === CANCELLED) outer.cancel();
    else if (f._state === FINISHED) outer.setResult(f._result as T);
    else outer.setException(f.exception());
  };
  const onOuterDone = (): void => {
    if (!inner.done()) inner.removeDoneCallback(onInnerDone);
  };
  inner.addDoneCallback(onInnerDone);
  outer.addDoneCallback(onOuterDone);
  return outer;
}

// --- wait -------------------------------------------------------------------

/** wait(): return as soon as any Future is done (or cancelled). */
export const FIRST_COMPLETED = 'FIRST_COMPLETED';
/** wait(): return when any Future fails with an exception, or when all are done. */
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION';
/** wait(): return when every Future is done (the default). */
export const ALL_COMPLETED = 'ALL_COMPLETED';
/** When wait() returns: FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/** Options of wait(). */
export interface WaitOptions {
  /** Seconds; when it passes, return what is done so far (no TimeoutError). */
  timeout?: number | null;
  /** When to return (default ALL_COMPLETED). */
  returnWhen?: ReturnWhen;
}

/**
 * Wait for Futures / Tasks; returns [done, pending] Sets. Never throws the
 * Futures' exceptions, and does not cancel what is pending at a timeout.
 * Coroutines must be made Tasks first (as in asyncio 3.11+), so that the
 * caller can recognise them in the Sets.
 * @throws TypeError for a single Future or coroutine instead of an iterable,
 *   or for an element that is not a Future; RangeError for an empty
 *   iterable or an unknown returnWhen; RuntimeError if no loop is running.
 */
export function wait<F extends Future<unknown>>(fs: Iterable<F>, options?: WaitOptions): Co<[Set<F>, Set<F>]>;
export function* wait<F extends Future<unknown>>(fs: Iterable<F>, options: WaitOptions = {}): Coroutine<[Set<F>, Set<F>]> {
  const returnWhen = options.returnWhen ?? ALL_COMPLETED;
  const timeoutSecs = options.timeout ?? null;
  if (fs instanceof Future || isCoroutine(fs)) throw new TypeError('wait: expected an iterable of Futures / Tasks, not a single one');
  const set = new Set(fs);
  if (set.size === 0) throw new RangeError('wait: the set of Futures / Tasks is empty');
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new RangeError(`wait: invalid returnWhen value: ${String(returnWhen)}`);
  }
  for (const f of set) {
    if (!(f instanceof Future)) throw new TypeError('wait: pass Futures or Tasks (wrap coroutines with createTask first)');
  }
  const loop = getRunningLoop();
  const waiter = loop.createFuture<void>();
  const timer = timeoutSecs === null ? null : loop.callLater(timeoutSecs, releaseWaiter, waiter);
  let counter = set.size;
  const onCompletion = (f: Future<unknown>): void => {
    counter--;
    const failed = f._state !== FINISHED && f._state !== CANCELLED;
    if (counter <= 0 || returnWhen === FIRST_COMPLETED || (returnWhen === FIRST_EXCEPTION && failed)) {
      timer?.cancel();
      releaseWaiter(waiter);
    }
  };
  for (const f of set) f.addDoneCallback(onCompletion);
  try {
    yield* waiter;
  } finally {
    timer?.cancel();
    for (const f of set) f.removeDoneCallback(onCompletion);
  }
  const done = new Set<F>();
  const pending = new Set<F>();
  for (const f of set) (f.done() ? done : pending).add(f);
  return [done, pending];
}

function releaseWaiter(waiter: Future<void>): void {
  if (!waiter.done()) waiter.setResult(undefined);
}

/** Cancel fut and wait until it is done, without awaiting fut itself (so this stays cancellable). */
function* cancelAndWait(fut: Future<unknown>): Coroutine<void> {
  const waiter = fut._loop.createFuture<void>();
  const onDone = (): void => releaseWaiter(waiter);
  fut.addDoneCallback(onDone);
  try {
    fut.cancel();
    yield* waiter;
  } finally {
    fut.removeDoneCallback(onDone);
  }
}

// --- waitFor ----------------------------------------------------------------

/**
 * Await `aw` with a timeout in seconds (null: none). At the timeout, `aw` is
 * cancelled (and waited for) and a TimeoutError is thrown. If the caller is
 * cancelled, `aw` is cancelled too. A coroutine is awaited in the caller's
 * Task (as in asyncio 3.12): wrap it with shield() to keep it running.
 * @throws TimeoutError at the timeout (its cause is the CancelledError);
 *   whatever `aw` throws; CancelledError if the caller is cancelled.
 */
export function waitFor<T>(aw: AnyAwaitable<T>, seconds: number | null): Co<T>;
export function* waitFor<T>(aw: AnyAwaitable<T>, seconds: number | null): Coroutine<T> {
  checkSeconds('seconds', seconds, true);
  if (seconds !== null && seconds <= 0) {
    const fut = ensureFuture(aw);
    if (fut.done()) return fut.result();
    yield* cancelAndWait(fut);
    try {
      return fut.result();
    } catch (exc) {
      if (exc instanceof CancelledError) throw new TimeoutError('timed out', { cause: exc });
      throw exc;
    }
  }
  return yield* timeout(seconds, aw);
}

// --- asCompleted ------------------------------------------------------------

/** Options of asCompleted(). */
export interface AsCompletedOptions {
  /** Seconds; once passed, the awaitables not yet done throw TimeoutError when awaited. */
  timeout?: number | null;
}

/**
 * One coroutine per awaitable; awaiting the i-th gives the result (or throws
 * the exception) of the i-th to complete:
 *
 *     for (const next of asCompleted(tasks)) {
 *       const result = yield* next;
 *     }
 *
 * As asyncio 3.13's, it is also async-iterable, in an async function:
 * `for await (const task of asCompleted(tasks))` gives the Futures and Tasks
 * themselves (those passed in; a Task for each coroutine or promise) as they
 * complete, done, and throws TimeoutError once the timeout has passed.
 * Consume it one way only: both ways take from the same completions.
 *
 * @throws TypeError (at the call) for a single awaitable instead of an
 *   iterable; RuntimeError if no loop is running or set. Awaiting a returned
 *   coroutine throws that awaitable's exception, or TimeoutError once the
 *   timeout has passed.
 */
/** What asCompleted returns: coroutines to await in order, also async-iterable over the completed Futures. */
export type AsCompletedIterator<T> = Coroutine<T>[] & AsyncIterable<Future<T>>;

export function asCompleted<T>(aws: Iterable<AnyAwaitable<T>>, options: AsCompletedOptions = {}): AsCompletedIterator<T> {
  if (aws instanceof Future || isCoroutine(aws)) throw new TypeError('asCompleted: expected an iterable of awaitables, not a single one');
  const loop = defaultLoop();
  const todo = new Set<Future<T>>();
  for (const aw of new Set(aws)) todo.add(ensureFuture(aw, loop));
  const done = new Deque<Future<T> | null>(); // null: the timeout passed
  const waiters: Future<void>[] = [];
  let timer: { cancel(): void } | null = null;

  const wakeOne = (): void => {
    for (let w = waiters.shift(); w !== undefined; w = waiters.shift()) {
      if (!w.done()) {
        w.setResult(undefined);
        return;
      }
    }
  };
  const onCompletion = (f: Future<T>): void => {
    if (!todo.delete(f)) return; // the timeout was here first
    done.push(f);
    wakeOne();
    if (todo.size === 0) timer?.cancel();
  };
  const onTimeout = (): void => {
    for (const f of todo) {
      f.removeDoneCallback(onCompletion);
      done.push(null);
      wakeOne();
    }
    todo.clear();
  };
  function* nextDone(): Coroutine<Future<T>> {
    while (done.length === 0) {
      const w = loop.createFuture<void>();
      waiters.push(w);
      yield* w;
    }
    const f = done.shift()!;
    if (f === null) throw new TimeoutError('timed out');
    return f;
  }
  function* waitForOne(): Coroutine<T> {
    return (yield* nextDone()).result();
  }

  for (const f of todo) f.addDoneCallback(onCompletion);
  if (todo.size > 0 && options.timeout != null) timer = loop.callLater(options.timeout, onTimeout);
  const count = todo.size;
  const out = Array.from({ length: count }, () => waitForOne()) as AsCompletedIterator<T>;
  // By hand, not an async generator: that would await each Future it
  // yields (a Future is a thenable), giving its result instead. For the
  // same reason the Task below returns the Future in a box.
  function* boxed(): Coroutine<{ f: Future<T> }> {
    return { f: yield* nextDone() };
  }
  out[Symbol.asyncIterator] = (): AsyncIterator<Future<T>> => {
    let given = 0;
    return {
      next: async (): Promise<IteratorResult<Future<T>>> => {
        if (given >= count) return { done: true, value: undefined };
        given++;
        const { f } = await loop.createTask(boxed());
        return { done: false, value: f };
      },
    };
  };
  return out;
}
