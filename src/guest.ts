// Guest mode: coio's loop running as a guest of Node's own (libuv) loop.
//
// run() blocks: coio's loop owns the thread and waits in its poller, so
// Node's timers, fs, http and their promises stand still until it returns.
// runGuest(main) instead lends the waiting to libuv and returns at once
// with a Promise of main's result:
//
//     const result = await runGuest(async () => {
//       const server = await startServer(handle, '127.0.0.1', 8080);
//       setInterval(() => console.log('still ticking'), 1000); // Node's timers run
//       const text = await readFile('config.json', 'utf8');     // and Node's I/O
//       await server.serveForever();
//     });
//
// How (native/guest.cc): a uv_poll watches the poller's own fd (epoll or
// kqueue: readable when any coio fd is ready), a uv_timer is armed for coio's
// next timer, and a uv_prepare runs one coio iteration (_runStep with a zero
// poll timeout) right before libuv would block, whenever I/O or a timer was
// noted or coio has callbacks ready (scheduled from Node callbacks or promise
// continuations count too: the prepare phase sees them before libuv
// blocks). While callbacks stay ready a uv_idle keeps libuv from blocking,
// so coio and Node take turns, one iteration each. Each step is a Node
// callback (napi_make_callback): process.nextTick and promise continuations
// run after it exactly as after any Node callback, so async functions,
// nextTick and unhandled-rejection tracking behave as everywhere in Node.
//
// poll and select have no single fd libuv could watch: with them the guest
// polls with a zero timeout every `pollInterval` ms (default 1), and right
// after any step that ran callbacks (they may have made I/O ready, as the
// blocking loop's next iteration would find). So an exchange in progress
// runs at full speed, while I/O arriving after a quiet spell waits up to
// one interval. epoll (Linux) and kqueue (macOS, BSD) are event driven:
// prefer them (the default backend is one of them).
//
// While a guest runs, it is this thread's running loop: code in Node
// callbacks may call getRunningLoop(), createTask(), sockets, ..., and any
// async function may `await` coio Futures and coroutines. run() (blocking)
// cannot start then, and a second runGuest() is refused.
//
// On the main thread, the first Ctrl-C cancels main and the Promise rejects
// with KeyboardInterrupt, as run() throws it (sigint.ts); left uncaught, it
// ends the program with one line and exit status 130.
//
// When main is done, the tasks it left are cancelled and awaited (as run()
// does), the uv handles are closed (uv_close: nothing is left to keep the
// process alive), the loop is closed, and the Promise settles: main's result,
// or its exception (a CancelledError if it was cancelled). An error of the
// loop machinery itself, or loop.stop(), ends the guest the same way with
// that error.

import { gather } from './combinators.js';
import { RuntimeError } from './errors.js';
import { _getRunningLoop } from './events.js';
import { newEventLoop, setEventLoop } from './loop.js';
import type { EventLoop } from './loop.js';
import { _promiseWorkPending, _setGuest } from './microtasks.js';
import { native } from './native.js';
import type { NativeGuest } from './native.js';
import { _cancelTasksLeft, _reportShutdownFailures, _shutdownDefaultExecutor } from './runners.js';
import type { Main, RunnerOptions } from './runners.js';
import { cancelOnSigint } from './sigint.js';
import type { SigintGuard } from './sigint.js';
import type { Task } from './tasks.js';

export interface GuestOptions extends RunnerOptions {
  /**
   * poll and select backends only: how often (milliseconds, >= 1) the guest
   * polls coio's fds, since libuv cannot watch them as one fd. Default 1.
   */
  pollInterval?: number;
}

/**
 * Run `main` (a coroutine, a generator function, an async function or a
 * promise) on a new loop that runs as a guest of Node's event loop, next to
 * Node's timers, I/O and promises; a Promise of main's result (rejected with
 * its exception). Options: those of run() (`selector`, `debug`,
 * `loopFactory`) and `pollInterval`.
 *
 *     const answer = await runGuest(async () => { await sleep(0.1); return 42; });
 *
 * Never throws: the Promise rejects with main's exception (CancelledError if
 * it was cancelled; KeyboardInterrupt if Ctrl-C cancelled it, on the main
 * thread), RuntimeError if a loop already runs in this thread,
 * RangeError for a bad pollInterval or selector.
 */
export function runGuest<T>(main: Main<T>, options: GuestOptions = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    new GuestRun<T>(main, options, resolve, reject);
  });
}

/** Iterations one step may run after the first while they find work (see _step). */
const MORE_STEPS = 16;

const RUNNING = 0;
const SHUTTING_DOWN = 1;
const FINISHING = 2;
const DONE = 3;

class GuestRun<T> {
  private readonly _loop: EventLoop;
  private readonly _ownsLoop: boolean;
  private _state = RUNNING;
  private _task: Task<T> | null = null;
  private _native: NativeGuest | null = null;
  /** Set when the machinery failed: the Promise rejects with it. */
  private _failure: { error: unknown } | null = null;
  /** poll / select: no fd for libuv to watch, so the guest polls them itself. */
  private _intervalMode = false;
  /** The last step ran callbacks (they may have made I/O ready: poll again at once). */
  private _busy = false;
  /** Ctrl-C cancels main, as in run(); null where that does not apply. */
  private _sigint: SigintGuard | null = null;

  constructor(
    main: Main<T>,
    options: GuestOptions,
    private readonly _resolve: (value: T) => void,
    private readonly _reject: (reason: unknown) => void,
  ) {
    if (_getRunningLoop() !== null) throw new RuntimeError('runGuest() cannot be called while an event loop is running in this thread');
    const { loopFactory, pollInterval = 1, ...loopOptions } = options;
    if (typeof pollInterval !== 'number' || !(pollInterval >= 1)) throw new RangeError(`runGuest: pollInterval must be a number of milliseconds >= 1, got ${String(pollInterval)}`);
    this._ownsLoop = loopFactory === undefined;
    this._loop = loopFactory === undefined ? newEventLoop(loopOptions) : loopFactory();
    if (loopFactory !== undefined && loopOptions.debug !== undefined) this._loop.setDebug(loopOptions.debug);
    const loop = this._loop;
    try {
      if (this._ownsLoop) setEventLoop(loop);
      // Node drains microtasks after each step: the loop must not (microtasks.ts).
      _setGuest(loop, true);
      const task = loop.createTask<T>(main);
      task._logDestroyPending = false;
      this._task = task;
      loop._startGuest();
      const fd = loop._selector.fileno();
      this._intervalMode = fd < 0;
      this._native = new native.Guest(
        fd,
        (status) => this._step(status),
        () => this._nextTimeout(),
        pollInterval,
      );
      task.addDoneCallback(() => this._mainDone());
      // Ctrl-C cancels main; the Promise then rejects with KeyboardInterrupt (sigint.ts).
      this._sigint = cancelOnSigint(loop, task as Task<unknown>, true);
    } catch (exc) {
      this._state = DONE;
      this._teardown();
      throw exc;
    }
  }

  /** One coio iteration, from the uv_prepare callback. Never throws. */
  private _step(pollStatus: number): void {
    if (this._state === DONE) return;
    try {
      if (pollStatus < 0) throw native.errorFromErrno(-pollStatus, 'uv_poll');
      const loop = this._loop;
      this._busy = loop._ready.length > 0;
      let ran = loop._runStep(0);
      // While iterations keep finding work, run the next ones here, as the
      // blocking loop would: each saves a trip through libuv (its own
      // epoll_wait, a Node callback). Not while promise work is pending
      // (async functions resume in the microtasks Node runs after this
      // callback) and at most MORE_STEPS, so Node's own events wait little.
      for (let i = 0; i < MORE_STEPS && ran > 0 && this._state !== FINISHING && !loop._stopRequested() && !_promiseWorkPending(loop); i++) {
        ran = loop._runStep(0);
      }
      // Libuv waits next, on the selector's fd: what the callbacks
      // registered must reach the kernel first (io_uring queues it).
      if (!this._intervalMode && !this._loop.isClosed()) this._loop._selector._flush();
      if (this._loop._stopRequested() && this._state === RUNNING) throw new RuntimeError('Event loop stopped before Future completed.');
    } catch (exc) {
      this._failure = { error: exc };
      this._state = FINISHING;
    }
    // Not from inside the batch: closing the loop clears its ready queue.
    if (this._state === FINISHING) this._finish();
  }

  /** Milliseconds until coio needs a step (0: now, -1: no timer). Never throws. */
  private _nextTimeout(): number {
    if (this._state === DONE) return -1;
    try {
      const t = this._loop._nextTimeout();
      // Without an fd libuv watches, a step that did work is followed by a
      // poll right away (as the blocking loop's next iteration would), not
      // one pollInterval later: a ping-pong then costs no interval per hop.
      if (this._intervalMode && this._busy) return 0;
      return t === null ? -1 : t * 1000;
    } catch (exc) {
      this._failure = { error: exc };
      this._state = FINISHING;
      return 0; // a step comes next, and finishes
    }
  }

  /** main is done: cancel what it left and wait for it (run()'s shutdown), then finish. */
  private _mainDone(): void {
    if (this._state !== RUNNING) return;
    this._state = SHUTTING_DOWN;
    const rest = _cancelTasksLeft(this._loop);
    if (rest.length === 0) {
      this._joinExecutor();
      return;
    }
    gather(...rest, { returnExceptions: true }).addDoneCallback(() => {
      _reportShutdownFailures(this._loop, rest, 'runGuest()');
      this._joinExecutor();
    });
  }

  /** The tasks left are done: wait for the default executor's threads (run()'s last step), then finish. */
  private _joinExecutor(): void {
    if (this._state !== SHUTTING_DOWN) return;
    this._loop.createTask(_shutdownDefaultExecutor(this._loop)).addDoneCallback(() => {
      if (this._state === SHUTTING_DOWN) this._state = FINISHING;
    });
  }

  private _finish(): void {
    this._state = DONE;
    // Take main's outcome first: closing the loop reports unretrieved failures.
    const task = this._task!;
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    if (!task.done()) outcome = { ok: false, error: new RuntimeError('runGuest() ended before main completed') };
    else {
      try {
        outcome = { ok: true, value: task.result() };
      } catch (exc) {
        outcome = { ok: false, error: this._sigint === null ? exc : this._sigint.translate(exc) };
      }
    }
    this._teardown();
    if (this._failure !== null) this._reject(this._failure.error);
    else if (outcome.ok) this._resolve(outcome.value);
    else this._reject(outcome.error);
  }

  /** Close the uv handles, leave the running state, close the loop. */
  private _teardown(): void {
    this._native?.close();
    this._native = null;
    this._sigint?.restore();
    this._sigint = null;
    const loop = this._loop;
    loop._stopGuest();
    try {
      if (this._ownsLoop) setEventLoop(null);
      loop.close();
    } catch (exc) {
      // Closing reports through the exception handler; a throw here would be a bug.
      if (this._failure === null) this._failure = { error: exc };
    }
    _setGuest(loop, false);
  }
}
