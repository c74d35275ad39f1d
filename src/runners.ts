// run() and Runner: the one-line way to start a program (asyncio's runners
// module). run(main) makes a new loop, runs main to completion, cancels the
// tasks still pending and waits for them, closes the loop, returns main's
// result (or throws its exception).

import type { Context } from './contextvars.js';
import { gather } from './combinators.js';
import { RuntimeError } from './errors.js';
import { _getRunningLoop } from './events.js';
import { FAILED } from './futures.js';
import { newEventLoop, setEventLoop } from './loop.js';
import type { EventLoopOptions, EventLoop } from './loop.js';
import { allTasks } from './tasks.js';
import { _runMain } from './async_tasks.js';
import type { Task } from './tasks.js';
import type { Coroutine } from './coroutines.js';
import { cancelOnSigint, forwardNodeSignals } from './sigint.js';

/** Options of run() and new Runner(): the loop's (selector, debug), or a factory for it. */
export interface RunnerOptions extends EventLoopOptions {
  /** Makes the loop instead of newEventLoop(options) (then it is not set as the current loop). */
  loopFactory?: () => EventLoop;
}

/**
 * The main coroutine, or a generator function to call for it; or an async
 * function (called on the main Task's first step) or a promise.
 */
export type Main<T> = Coroutine<T> | PromiseLike<T> | (() => Coroutine<T> | PromiseLike<T>);

const CREATED = 0;
const INITIALIZED = 1;
const CLOSED = 2;

/**
 * Runs several top-level coroutines on one loop, then closes it:
 *
 *     const runner = new Runner();
 *     try { runner.run(setup()); runner.run(main()); } finally { runner.close(); }
 */
export class Runner {
  private _state = CREATED;
  private _loop: EventLoop | null = null;
  private _setEventLoop = false;

  constructor(private readonly _options: RunnerOptions = {}) {}

  /**
   * Run main on the runner's loop until it completes; its result, or its exception thrown.
   * @throws main's exception; KeyboardInterrupt if Ctrl-C cancelled it;
   *   RuntimeError if called from a running loop or after close(); TypeError
   *   if main is not a coroutine, a generator function, an async function or a promise.
   * options.context: the Context main runs in (default: a copy of the current one).
   */
  run<T>(main: Main<T>, options: { context?: Context } = {}): T {
    if (_getRunningLoop() !== null) throw new RuntimeError('Runner.run() cannot be called from a running event loop');
    // A generator function is called now; an async function or a promise is
    // checked now (the blocking loop cannot drive one from inside a
    // microtask: async_tasks.ts) and adapted by createTask.
    const coro = _runMain(main) as Main<T>;
    const loop = this.getLoop();
    const task = loop.createTask<T>(coro, options.context === undefined ? {} : { context: options.context });
    // Ctrl-C cancels the main task, then run() throws KeyboardInterrupt (sigint.ts).
    const sigint = cancelOnSigint(loop, task as Task<unknown>);
    // Node's own signal listeners fire from the loop while it blocks (sigint.ts).
    const unforward = forwardNodeSignals(loop);
    try {
      return loop.runUntilComplete(task);
    } catch (exc) {
      throw sigint === null ? exc : sigint.translate(exc);
    } finally {
      unforward();
      sigint?.restore();
    }
  }

  /**
   * The loop (created on first use).
   * @throws RuntimeError once the runner is closed; as newEventLoop when it makes the loop.
   */
  getLoop(): EventLoop {
    this._lazyInit();
    return this._loop!;
  }

  /**
   * Cancel the tasks left, wait for them, shut the default executor down
   * and wait for its threads (up to THREAD_JOIN_TIMEOUT seconds), close the
   * loop. Idempotent.
   */
  close(): void {
    if (this._state !== INITIALIZED) return;
    const loop = this._loop!;
    try {
      cancelAllTasks(loop);
      loop.runUntilComplete(_shutdownDefaultExecutor(loop));
    } finally {
      if (this._setEventLoop) setEventLoop(null);
      loop.close();
      this._loop = null;
      this._state = CLOSED;
    }
  }

  private _lazyInit(): void {
    if (this._state === CLOSED) throw new RuntimeError('Runner is closed');
    if (this._state === INITIALIZED) return;
    const { loopFactory, ...loopOptions } = this._options;
    if (loopFactory === undefined) {
      this._loop = newEventLoop(loopOptions);
      setEventLoop(this._loop);
      this._setEventLoop = true;
    } else {
      this._loop = loopFactory();
      if (loopOptions.debug !== undefined) this._loop.setDebug(loopOptions.debug);
    }
    this._state = INITIALIZED;
  }
}

/**
 * Run `main` (a coroutine, or a generator function) on a new loop and return
 * its result; the tasks it leaves are cancelled and the loop is closed.
 * Options: `{ debug, selector }` (selector: 'epoll' | 'kqueue' | 'poll' | 'select').
 * On the main thread, Ctrl-C cancels main; run() then throws KeyboardInterrupt,
 * and a second Ctrl-C ends the program (sigint.ts).
 *
 *     run(function* () { yield* sleep(1); console.log('hello'); });
 *
 * @throws main's exception (CancelledError if it was cancelled);
 *   KeyboardInterrupt after Ctrl-C; RuntimeError if a loop is already running
 *   in this thread (or, for async functions, if run() is entered from inside
 *   a microtask: use runGuest there); TypeError for a main of the wrong kind;
 *   RangeError for an unknown selector.
 */
export function run<T>(main: Main<T>, options: RunnerOptions = {}): T {
  if (_getRunningLoop() !== null) throw new RuntimeError('run() cannot be called from a running event loop');
  const runner = new Runner(options);
  try {
    return runner.run(main);
  } finally {
    runner.close();
  }
}

function cancelAllTasks(loop: EventLoop): void {
  const toCancel = _cancelTasksLeft(loop);
  if (toCancel.length === 0) return;
  loop.runUntilComplete(gather(...toCancel, { returnExceptions: true }));
  _reportShutdownFailures(loop, toCancel, 'run()');
}

/**
 * How long run(), Runner.close() and runGuest() wait for the default
 * executor's threads to end, in seconds (asyncio's THREAD_JOIN_TIMEOUT).
 */
export const THREAD_JOIN_TIMEOUT = 300;

/**
 * @internal The last step of the shutdown run() and runGuest() share, once
 * the tasks left are done: the default executor's threads end (asyncio's
 * shutdown_default_executor(THREAD_JOIN_TIMEOUT)).
 */
export function _shutdownDefaultExecutor(loop: EventLoop): Coroutine<void> {
  return loop.shutdownDefaultExecutor(THREAD_JOIN_TIMEOUT) as Coroutine<void>;
}

/**
 * @internal The first half of the shutdown run() and runGuest() share
 * (asyncio's _cancel_all_tasks): cancel every task left on `loop`, and
 * return them, for the caller to wait for them in its own way.
 */
export function _cancelTasksLeft(loop: EventLoop): Task<unknown>[] {
  const left = [...allTasks(loop)];
  for (const task of left) task.cancel();
  return left;
}

/**
 * @internal The second half, once those tasks are done: each one that failed
 * instead of ending cancelled goes to the exception handler.
 */
export function _reportShutdownFailures(loop: EventLoop, tasks: readonly Task<unknown>[], who: string): void {
  for (const task of tasks) {
    if (task._state !== FAILED) continue;
    loop.callExceptionHandler({ message: `unhandled exception during ${who} shutdown`, exception: task.exception(), task });
  }
}
