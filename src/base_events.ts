// BaseEventLoop: the OS-agnostic loop (asyncio's base_events module): the
// ready queue, the timer heap, runOnce / runForever / runUntilComplete, the
// exception handler, debug mode, Futures and Tasks. Waiting for I/O is the
// one abstract step (_poll); selector_events.ts implements it over the
// selectors (with addReader / addWriter), and the layers above that add the
// networking (network_events.ts) and Unix (unix_events.ts) methods.

import { checkFunction, checkSeconds, invalidArgType } from './arg_checks.js';
import { inspect } from 'node:util';
import { Deque } from './deque.js';
import { RuntimeError } from './errors.js';
import { Handle, TimerHandle, _getRunningLoop, _setRunningLoop, _setSourceTraceback, describeValue } from './events.js';
import { Context } from './contextvars.js';
import type { LoopCore, AbstractServer, AddrInfo, CallOptions, Callback, TlsOptions, CreateConnectionOptions, CreateServerOptions, CreateUnixConnectionOptions, CreateUnixServerOptions, DatagramEndpointOptions, ExceptionContext, ExceptionHandler, Executor, GetaddrinfoOptions, NameinfoAddress, Runnable, SendfileFile, SendfileOptions, Signal, StartTlsOptions, SubprocessOptions, TaskFactory, TaskOptions, ThreadFunction } from './events.js';
import { Future, isFuture } from './futures.js';
import { Task, ensureFuture } from './tasks.js';
import { isCoroutine } from './coroutines.js';
import { TimerHeap } from './timer_heap.js';
import type { Awaitable, TaskInput } from './tasks.js';
import type { Coroutine, Co } from './coroutines.js';
import type { InetAddress, SockAddress, UnixAddress } from './native.js';
import type { BaseProtocol, DatagramProtocol, Protocol, SubprocessProtocol } from './protocols.js';
import type { FileObj } from './selectors.js';
import type { SSLContext } from './ssl.js';
import type { AddressLike, Socket } from './socket.js';
import type { DatagramTransport, ReadTransport, SubprocessTransport, Transport, WriteTransport } from './transports.js';
import { _taskCoroutine } from './async_tasks.js';
import { Unretrieved } from './unretrieved.js';
import type { UnretrievedRecord } from './unretrieved.js';
import { _debugLoopCount } from './never_awaited.js';

export type { ExceptionContext, ExceptionHandler, TaskOptions, TaskFactory };

/** Rebuild the timer heap when more than this fraction of it is cancelled timers... */
const MIN_CANCELLED_TIMER_HANDLES_FRACTION = 0.5;
/** ...and it holds more than this many (asyncio's constants). */
const MIN_SCHEDULED_TIMER_HANDLES = 100;
/** The longest single wait in the poller, seconds (asyncio's MAXIMUM_SELECT_TIMEOUT). */
const MAXIMUM_SELECT_TIMEOUT = 24 * 3600;

/**
 * The OS-agnostic part of the event loop (asyncio's BaseEventLoop): the ready
 * queue, the timer heap, running and stopping, the exception handler, debug
 * mode, Futures and Tasks. Waiting for I/O is the one step a subclass
 * provides; use {@link EventLoop} (from newEventLoop()), which adds readiness
 * I/O, networking, signals, threads and subprocesses.
 */
export abstract class BaseEventLoop implements LoopCore {
  /** Callbacks slower than this many seconds are logged in debug mode. */
  slowCallbackDuration = 0.1;

  /** @internal Handles and Tasks due in the next runOnce, in order. */
  readonly _ready = new Deque<Runnable>(64);
  /** @internal The timers by (when, seq); cancelled ones are dropped lazily. */
  readonly _scheduled = new TimerHeap<TimerHandle>();
  /** @internal How many timers in the heap are cancelled (to know when to rebuild it). */
  _timerCancelledCount = 0;
  private _timerSeq = 0;
  /** @internal */ _debug = false;
  /** @internal The Task whose step is running, or null (currentTask()). */
  _currentTask: Task<unknown> | null = null;
  /**
   * @internal Called after each batch of callbacks while set: microtasks.ts
   * sets it while the loop has promise work (it drains V8's microtasks);
   * null otherwise, so pure generator code pays one field check.
   */
  _afterBatch: (() => void) | null = null;
  /**
   * @internal microtasks.ts: promise reactions may be queued that no drain
   * has run yet (a promise wrapped before the loop started, one settled
   * meanwhile): the next poll must not block, so the drain comes first.
   */
  _microtasksDue = false;
  /**
   * @internal run()'s Ctrl-C handling (sigint.ts) sets it while installed:
   * true when its SIGINT watcher is the only signal watched, so a loop whose
   * one fd is the signal pipe could only ever be woken by Ctrl-C.
   */
  _onlyCtrlCWatched: (() => boolean) | null = null;
  /**
   * @internal Pending Tasks of this loop (allTasks()); a Task leaves when done.
   * An array with swap-remove (each Task knows its index): cheaper than a Set's hashing, per task.
   */
  readonly _tasks: Task<unknown>[] = [];
  /** @internal Failed Futures whose exception nobody retrieved yet: reported when collected, or at close (unretrieved.ts). */
  readonly _unretrievedFailures = new Unretrieved<Future<unknown>>(this);
  private _stopping = false;
  private _running = false;
  private _closed = false;
  private _exceptionHandler: ExceptionHandler | null = null;
  private _taskFactory: TaskFactory | null = null;
  /** Timers due within this much of now fire (the clock's resolution, seconds). */
  private readonly _clockResolution = 1e-6;

  // --- waiting for I/O: the one step a concrete loop provides ---------------

  /**
   * Wait for I/O readiness for at most `timeout` seconds (0: just poll,
   * null: until something happens) and push the handles of ready fds onto
   * _ready. Called exactly once per runOnce.
   */
  protected abstract _poll(timeout: number | null): void;

  // The rest of the contract is provided by the layers above: readiness I/O
  // (selector_events.ts), sockets and connections (network_events.ts),
  // signals, threads, pipes and subprocesses (unix_events.ts).
  abstract callSoonThreadsafe<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;
  abstract addReader<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle;
  abstract removeReader(fd: FileObj): boolean;
  abstract addWriter<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle;
  abstract removeWriter(fd: FileObj): boolean;
  /** @internal */ abstract _addReader<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle;
  /** @internal */ abstract _removeReader(fd: FileObj): boolean;
  /** @internal */ abstract _addWriter<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle;
  /** @internal */ abstract _removeWriter(fd: FileObj): boolean;
  /** @internal */ abstract _attachTransport(sock: Socket, transport: { isClosing(): boolean }): void;
  /** @internal */ abstract _detachTransport(fd: number, transport: { isClosing(): boolean }): void;
  abstract sockRecv(sock: Socket, n: number): Co<Buffer>;
  abstract sockRecvInto(sock: Socket, buf: Uint8Array, nbytes?: number): Co<number>;
  abstract sockSendall(sock: Socket, data: Uint8Array | string): Co<void>;
  abstract sockAccept(sock: Socket): Co<[Socket, SockAddress]>;
  abstract sockConnect(sock: Socket, address: AddressLike): Co<void>;
  abstract sockRecvfrom(sock: Socket, n: number): Co<[Buffer, SockAddress]>;
  abstract sockSendto(sock: Socket, data: Uint8Array | string, address: AddressLike): Co<number>;
  abstract sockSendfile(sock: Socket, file: SendfileFile, offset?: number, count?: number | null, options?: SendfileOptions): Co<number>;
  abstract getaddrinfo(host: string | null | undefined, port: number, options?: GetaddrinfoOptions): Co<AddrInfo[]>;
  abstract getnameinfo(sockaddr: NameinfoAddress, flags?: number): Co<[string, string]>;
  abstract createServer(protocolFactory: () => BaseProtocol, host: string | readonly string[] | null | undefined, port: number | null | undefined, options?: CreateServerOptions): Co<AbstractServer<InetAddress>>;
  abstract createConnection<P extends BaseProtocol>(protocolFactory: () => P, host: string | null | undefined, port: number | null | undefined, options?: CreateConnectionOptions): Co<[Transport, P]>;
  abstract connectAcceptedSocket<P extends BaseProtocol>(protocolFactory: () => P, sock: Socket | number, options?: TlsOptions): Co<[Transport, P]>;
  abstract createUnixServer(protocolFactory: () => BaseProtocol, path: string | null | undefined, options?: CreateUnixServerOptions): Co<AbstractServer<UnixAddress>>;
  abstract createUnixConnection<P extends BaseProtocol>(protocolFactory: () => P, path: string | null | undefined, options?: CreateUnixConnectionOptions): Co<[Transport, P]>;
  abstract startTls(transport: Transport, protocol: BaseProtocol, sslContext: SSLContext, options?: StartTlsOptions): Co<Transport>;
  abstract sendfile(transport: WriteTransport, file: SendfileFile, offset?: number, count?: number | null, options?: SendfileOptions): Co<number>;
  abstract createDatagramEndpoint<P extends DatagramProtocol>(protocolFactory: () => P, options?: DatagramEndpointOptions): Co<[DatagramTransport, P]>;
  abstract connectReadPipe<P extends Protocol>(protocolFactory: () => P, fd: number): Co<[ReadTransport, P]>;
  abstract connectWritePipe<P extends BaseProtocol>(protocolFactory: () => P, fd: number): Co<[WriteTransport, P]>;
  abstract subprocessExec<P extends SubprocessProtocol>(protocolFactory: () => P, program: string, args?: readonly string[], options?: SubprocessOptions): Co<[SubprocessTransport, P]>;
  abstract subprocessShell<P extends SubprocessProtocol>(protocolFactory: () => P, cmd: string, options?: SubprocessOptions): Co<[SubprocessTransport, P]>;
  abstract runInExecutor<A extends unknown[], R>(executor: Executor | null, fn: ThreadFunction<A, R>, ...args: A): Future<Awaited<R>>;
  abstract setDefaultExecutor(executor: Executor): void;
  abstract shutdownDefaultExecutor(timeout?: number | null): Co<void>;
  abstract addSignalHandler<A extends unknown[]>(sig: Signal, callback: (...args: A) => unknown, ...args: A): void;
  abstract removeSignalHandler(sig: Signal): boolean;

  // --- time and scheduling -------------------------------------------------

  /** Monotonic time in seconds (the clock of callAt and timeoutAt). */
  time(): number {
    return performance.now() / 1000;
  }

  /**
   * Run callback(...args) on the next loop iteration, in FIFO order, in a
   * copy of the current Context (or the one given as `{ context }` before
   * the callback, asyncio's context= keyword). Returns a Handle whose
   * cancel() prevents the call.
   * @throws RuntimeError if the loop is closed; TypeError if callback is not a function.
   */
  callSoon<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;
  callSoon<A extends unknown[]>(options: CallOptions, callback: (...args: A) => unknown, ...args: A): Handle;
  callSoon(first: Callback | CallOptions, ...rest: unknown[]): Handle {
    this._checkClosed();
    let callback = first as Callback;
    let context: Context | null = null;
    if (typeof first !== 'function') {
      context = callContext(first, 'callSoon');
      callback = rest.shift() as Callback;
    }
    checkFunction('callback', callback);
    const handle = new Handle(callback, rest, this, context);
    this._ready.push(handle);
    return handle;
  }

  /**
   * Run callback(...args) after `delay` seconds (never earlier), in a copy
   * of the current Context (or `{ context }` before the callback). Returns a
   * TimerHandle whose cancel() prevents the call.
   * @throws RuntimeError if the loop is closed; TypeError if delay is not a number or callback not a function.
   */
  callLater<A extends unknown[]>(delay: number, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callLater<A extends unknown[]>(delay: number, options: CallOptions, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callLater(delay: number, first: Callback | CallOptions, ...rest: unknown[]): TimerHandle {
    checkSeconds('delay', delay, false, typeof delay === 'function' ? callOrder('callLater') : '');
    return this._timerAt(this.time() + delay, first, rest, 'callLater');
  }

  /**
   * Run callback(...args) at loop time `when` (seconds, the clock of time()),
   * in a copy of the current Context (or `{ context }` before the callback).
   * @throws RuntimeError if the loop is closed; TypeError if when is not a number or callback not a function.
   */
  callAt<A extends unknown[]>(when: number, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callAt<A extends unknown[]>(when: number, options: CallOptions, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callAt(when: number, first: Callback | CallOptions, ...rest: unknown[]): TimerHandle {
    return this._timerAt(when, first, rest, 'callAt');
  }

  private _timerAt(when: number, first: Callback | CallOptions, rest: unknown[], where: string): TimerHandle {
    this._checkClosed();
    // callLater checked its delay: a NaN here came from its arithmetic on a bad one.
    checkSeconds('when', when, false, typeof when === 'function' ? callOrder(where) : '');
    let callback = first as Callback;
    let context: Context | null = null;
    if (typeof first !== 'function') {
      context = callContext(first, where);
      callback = rest.shift() as Callback;
    }
    checkFunction('callback', callback, callOrder(where));
    const timer = new TimerHandle(when, this._timerSeq++, callback, rest, this, context);
    timer._scheduled = true;
    this._scheduled.push(timer);
    return timer;
  }

  /** @internal Schedule a Runnable (a Task's step) without a Handle. */
  _pushReady(r: Runnable): void {
    this._checkClosed();
    this._ready.push(r);
  }

  /** @internal Called by TimerHandle.cancel while the timer is in the heap. */
  _timerHandleCancelled(): void {
    this._timerCancelledCount++;
  }

  // --- futures and tasks ---------------------------------------------------

  /** A new pending Future bound to this loop (prefer it to `new Future(loop)`: a loop subclass may return its own kind). */
  createFuture<T = unknown>(): Future<T> {
    return new Future<T>(this);
  }

  /**
   * Wrap a coroutine in a Task that starts on the next iteration. Also an
   * async function (called on the Task's first step) or a promise
   * (async_tasks.ts).
   * @throws RuntimeError if the loop is closed; TypeError if input is none of those.
   */
  createTask<T>(input: TaskInput<T>, options: TaskOptions = {}): Task<T> {
    this._checkClosed();
    const coro = isCoroutine(input) ? input : _taskCoroutine<T>(input, this);
    if (this._taskFactory !== null) return this._taskFactory(this, coro, options) as Task<T>;
    if (options.context === undefined) return new Task<T>(coro, { loop: this, name: options.name });
    return new Task<T>(coro, { loop: this, name: options.name, context: taskContext(options.context) });
  }

  /**
   * A factory used by createTask instead of `new Task` (null: the default).
   * @throws TypeError if factory is neither a function nor null.
   */
  setTaskFactory(factory: TaskFactory | null): void {
    if (factory !== null && typeof factory !== 'function') throw new TypeError('task factory must be a function or null');
    this._taskFactory = factory;
  }

  /** The factory set with setTaskFactory, or null. */
  getTaskFactory(): TaskFactory | null {
    return this._taskFactory;
  }

  // --- running -------------------------------------------------------------

  /**
   * Run until stop() is called. An error thrown out of a callback's
   * handling (e.g. by the poller) ends the run and propagates.
   * @throws RuntimeError if the loop is closed, already running, or another loop runs in this thread.
   */
  runForever(): void {
    this._checkClosed();
    this._checkRunning();
    this._running = true;
    _setRunningLoop(this);
    try {
      for (;;) {
        this._runOnce();
        if (this._stopping) break;
      }
    } finally {
      this._stopping = false;
      this._running = false;
      _setRunningLoop(null);
    }
  }

  /**
   * Run until the Future (or a Task made of the coroutine) is done; return
   * its result or throw its exception.
   * @throws whatever the awaitable throws (CancelledError if it was cancelled);
   *   RuntimeError if the loop is closed or already running, or if stop()
   *   ended the run before the Future was done.
   */
  runUntilComplete<T>(future: Future<T>): T;
  runUntilComplete<T>(coro: Coroutine<T>): T;
  runUntilComplete<T>(future: TaskInput<T>): T;
  runUntilComplete<T>(future: Awaitable<T> | TaskInput<T>): T {
    this._checkClosed();
    this._checkRunning();
    const newTask = !isFuture(future);
    const fut = ensureFuture(future, this);
    if (newTask) (fut as Task<T>)._logDestroyPending = false;
    const onDone = (f: Future<T>): void => {
      f._loop.stop();
    };
    fut.addDoneCallback(onDone);
    try {
      this.runForever();
    } catch (exc) {
      // The loop broke out (stop() elsewhere, or an error): don't also report
      // the task's failure as never retrieved.
      if (newTask && fut.done() && !fut.cancelled()) fut.exception();
      throw exc;
    } finally {
      fut.removeDoneCallback(onDone);
    }
    if (!fut.done()) throw new RuntimeError('Event loop stopped before Future completed.');
    return fut.result();
  }

  /** Stop after the current iteration (runForever returns; callbacks already queued stay queued). */
  stop(): void {
    this._stopping = true;
  }

  /** True while runForever / runUntilComplete runs this loop. */
  isRunning(): boolean {
    return this._running;
  }

  /** True once close() was called. */
  isClosed(): boolean {
    return this._closed;
  }

  /**
   * Close the loop: drop queued callbacks and timers, report pending Tasks and
   * unretrieved exceptions, and close the coroutines of pending Tasks (their
   * finally blocks run). A RuntimeError if it is running; idempotent.
   */
  close(): void {
    if (this._running) throw new RuntimeError('Cannot close a running event loop');
    if (this._closed) return;
    this._reportLeftovers();
    this._closed = true;
    if (this._debug) _debugLoopCount(-1);
    this._ready.clear();
    for (const timer of this._scheduled.clear()) timer._scheduled = false;
    this._timerCancelledCount = 0;
  }

  // --- errors and debugging --------------------------------------------------

  /**
   * Send what the loop cannot raise anywhere (errors in callbacks, exceptions
   * never retrieved, tasks destroyed while pending) to `handler` instead of
   * defaultExceptionHandler; null restores the default.
   * @throws TypeError if handler is neither a function nor null.
   */
  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null && typeof handler !== 'function') throw new TypeError('exception handler must be a function or null');
    this._exceptionHandler = handler;
  }

  /** The handler set with setExceptionHandler, or null (the default one is in use). */
  getExceptionHandler(): ExceptionHandler | null {
    return this._exceptionHandler;
  }

  /** Print the context like asyncio's default handler (to console.error). */
  defaultExceptionHandler(context: ExceptionContext): void {
    const lines = [context.message || 'Unhandled exception in event loop'];
    for (const key of Object.keys(context).sort()) {
      if (key === 'message' || key === 'exception') continue;
      // A context made by hand may still use the old key; print it once.
      if (key === 'source_traceback' && context.sourceTraceback !== undefined) continue;
      const value = context[key];
      const traceback = key === 'sourceTraceback' || key === 'source_traceback';
      lines.push(traceback ? `Object created at (most recent call last):\n${String(value)}` : `${key}: ${String(value)}`);
    }
    if (context.exception !== undefined) lines.push(inspect(context.exception));
    console.error(lines.join('\n'));
  }

  /** Hand an error context to the handler (the default one if none is set); never throws. */
  callExceptionHandler(context: ExceptionContext): void {
    if (this._exceptionHandler === null) {
      try {
        this.defaultExceptionHandler(context);
      } catch {
        // Nowhere left to report it (console.error itself failed).
      }
      return;
    }
    try {
      this._exceptionHandler(this, context);
    } catch (exc) {
      // Report both: the handler's own failure, then what it was given.
      try {
        this.defaultExceptionHandler({ message: 'Unhandled error in exception handler', exception: exc });
        this.defaultExceptionHandler(context);
      } catch {
        // As above.
      }
    }
  }

  /**
   * Debug mode: log callbacks slower than slowCallbackDuration (console.warn)
   * and keep where each Future, Task and Handle was created, for the
   * exception handler's reports and formatTasks({ stacks: true }).
   */
  setDebug(enabled: boolean): void {
    const debug = Boolean(enabled);
    // While any open loop is in debug mode, coio's coroutines record where
    // they were made, to warn about those never awaited (never_awaited.ts).
    if (debug !== this._debug && !this._closed) _debugLoopCount(debug ? 1 : -1);
    this._debug = debug;
  }

  /** True in debug mode (setDebug, `run(main, { debug: true })`). */
  getDebug(): boolean {
    return this._debug;
  }

  /** `<EventLoop running=... closed=... debug=...>`. */
  toString(): string {
    return `<${this.constructor.name} running=${this._running} closed=${this._closed} debug=${this._debug}>`;
  }

  /** console.log / util.inspect show toString(), not the queues. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // --- internals -------------------------------------------------------------

  /** @internal A new Task joins the pending ones. */
  _registerTask(task: Task<unknown>): void {
    task._taskIndex = this._tasks.length;
    this._tasks.push(task);
  }

  /** @internal A Task is done (or the loop closes): it leaves the pending ones. */
  _unregisterTask(task: Task<unknown>): void {
    const i = task._taskIndex;
    if (i < 0) return;
    task._taskIndex = -1;
    const last = this._tasks.pop()!;
    if (last === task) return;
    this._tasks[i] = last;
    last._taskIndex = i;
  }

  /** @internal Report a failure nobody retrieved (unretrieved.ts): fut while it lives, undefined once collected. */
  _reportUnretrieved(record: UnretrievedRecord<Future<unknown>>, fut: Future<unknown> | undefined): void {
    const name = record.name === null ? '' : ` name=${JSON.stringify(record.name)}`;
    const context: ExceptionContext = {
      message: `${record.kind} exception was never retrieved`,
      exception: record.exception,
      // The Future itself while it lives; once collected, how it looked.
      future: fut ?? `<${record.kind} finished exception=${describeValue(record.exception)}${name}>`,
    };
    if (record.sourceTraceback !== undefined) _setSourceTraceback(context, record.sourceTraceback);
    this.callExceptionHandler(context);
  }

  /** @internal RuntimeError('Event loop is closed') once closed. */
  _checkClosed(): void {
    if (this._closed) throw new RuntimeError('Event loop is closed');
  }

  private _checkRunning(): void {
    if (this._running) throw new RuntimeError('This event loop is already running');
    if (_getRunningLoop() !== null) throw new RuntimeError('Cannot run the event loop while another loop is running');
  }

  /**
   * One iteration: drop cancelled timers, wait for I/O (no longer than the
   * next timer), move due timers to the ready queue, then run exactly the
   * callbacks that are ready now (those they schedule wait for the next
   * iteration). This is the only place callbacks are called.
   */
  protected _runOnce(): void {
    this._runStep(this._nextTimeout());
  }

  // --- one iteration in two halves (guest.ts drives them from Node's loop) -----

  /**
   * @internal The poll timeout of the next iteration, seconds: 0 when
   * callbacks are ready (or stop() was called), the time until the next
   * timer, null when there is none. Drops cancelled timers first.
   */
  _nextTimeout(): number | null {
    const heap = this._scheduled;
    if (heap.length > MIN_SCHEDULED_TIMER_HANDLES && this._timerCancelledCount > heap.length * MIN_CANCELLED_TIMER_HANDLES_FRACTION) {
      heap.removeCancelled();
      this._timerCancelledCount = 0;
    } else {
      while (heap.length > 0 && heap.peek()!._cancelled) {
        heap.pop()._scheduled = false;
        this._timerCancelledCount--;
      }
    }

    if (this._ready.length > 0 || this._stopping || this._microtasksDue) return 0;
    if (heap.length > 0) return Math.min(Math.max(0, heap.peekWhen() - this.time()), MAXIMUM_SELECT_TIMEOUT);
    return null;
  }

  /**
   * @internal The rest of an iteration: wait for I/O for at most `timeout`
   * (guest mode passes 0: Node's loop did the waiting), move due timers to
   * the ready queue, run the batch, then the _afterBatch hook. Returns how
   * many callbacks the batch ran.
   */
  _runStep(timeout: number | null): number {
    const heap = this._scheduled;
    const ready = this._ready;
    this._poll(timeout);

    if (heap.length > 0) {
      // Timers due within the clock's resolution fire now: the poller
      // rounds its timeout up, so this never fires a timer early.
      const end = this.time() + this._clockResolution;
      while (heap.length > 0 && heap.peekWhen() < end) {
        const timer = heap.pop();
        timer._scheduled = false;
        ready.push(timer);
      }
    }

    const ntodo = ready.length;
    if (this._debug) {
      for (let i = 0; i < ntodo; i++) this._runDebug(ready.shift()!);
    } else {
      for (let i = 0; i < ntodo; i++) ready.shift()!._run();
    }
    const after = this._afterBatch;
    if (after !== null) after();
    return ntodo;
  }

  /** @internal guest.ts: mark the loop running without blocking; Node's loop then calls _runStep. */
  _startGuest(): void {
    this._checkClosed();
    this._checkRunning();
    this._running = true;
    _setRunningLoop(this);
  }

  /** @internal guest.ts: leave the running state entered by _startGuest. */
  _stopGuest(): void {
    this._stopping = false;
    this._running = false;
    if (_getRunningLoop() === this) _setRunningLoop(null);
  }

  /** @internal guest.ts: whether stop() was called. */
  _stopRequested(): boolean {
    return this._stopping;
  }

  private _runDebug(r: Runnable): void {
    const t0 = this.time();
    r._run();
    const dt = this.time() - t0;
    if (dt >= this.slowCallbackDuration) console.warn(`Executing ${String(r)} took ${dt.toFixed(3)} seconds`);
  }

  /** Report what close() leaves behind, and let pending coroutines run their finally blocks. */
  private _reportLeftovers(): void {
    const pending = this._tasks.splice(0);
    for (const task of pending) task._taskIndex = -1;
    for (const task of pending) {
      if (task._logDestroyPending) this.callExceptionHandler(withSource({ message: 'Task was destroyed but it is pending!', task }, task));
    }
    for (const task of pending) task._closeCoroutine();
    this._unretrievedFailures.reportAll();
  }
}

/** The Context of `{ context }` before a callback; a clear error for anything else there. */
/** The argument order of callLater / callAt, for the message of a call that got it wrong. */
function callOrder(where: string): string {
  return where === 'callLater' ? 'callLater takes the delay in seconds, then the callback' : where === 'callAt' ? 'callAt takes the loop time in seconds (loop.time()), then the callback' : '';
}

function callContext(options: unknown, where: string): Context | null {
  // Neither a callback nor { context }: name the callback (callLater(1000) forgot it).
  if (options === null || typeof options !== 'object') throw invalidArgType('callback', 'a function', options, callOrder(where));
  const context = (options as CallOptions).context;
  if (context === undefined) return null;
  if (!(context instanceof Context)) throw new TypeError(`${where}: context must be a Context (from copyContext()), got ${String(context)}`);
  return context;
}

/** createTask's { context }, checked. */
function taskContext(context: unknown): Context | undefined {
  if (context === undefined || context instanceof Context) return context;
  throw new TypeError(`createTask: context must be a Context (from copyContext()), got ${String(context)}`);
}

/** Add where the Future was created (debug mode) to a context. */
function withSource(context: ExceptionContext, fut: Future<unknown>): ExceptionContext {
  if (fut._sourceTraceback !== undefined) _setSourceTraceback(context, fut._sourceTraceback);
  return context;
}
