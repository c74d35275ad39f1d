// The Unix-specific methods of the event loop (asyncio's unix_events.py and
// the executor methods of base_events.py), as a class layer between
// NetworkEventLoop and the public EventLoop (loop.ts): signals, threads,
// pipes and subprocesses. Each method delegates to the module that
// implements it, as network_events.ts does.

import { closeChildWatcher } from './child_watcher.js';
import { checkSeconds } from './arg_checks.js';
import { RuntimeError, TimeoutError } from './errors.js';
import { waitFor } from './combinators.js';
import type { Handle } from './events.js';
import type { Future } from './futures.js';
import { NetworkEventLoop } from './network_events.js';
import { connectReadPipe, connectWritePipe } from './pipe_transport.js';
import type { ReadPipeTransport, WritePipeTransport } from './pipe_transport.js';
import type { BaseProtocol, Protocol } from './protocols.js';
import { addSignalHandler, closeSignals, removeSignalHandler } from './signals.js';
import type { Signal } from './signals.js';
import { subprocessExec, subprocessShell } from './base_subprocess.js';
import type { SubprocessTransport } from './base_subprocess.js';
import type { SubprocessOptions } from './events.js';
import type { SubprocessProtocol } from './protocols.js';
import { closeThreadBridge, existingThreadBridge } from './thread_bridge.js';
import { Inbox, runInExecutor, ThreadPoolExecutor } from './threads.js';
import { _closeThreadsafeRefs, _threadsafeRef } from './threadsafe.js';
import type { LoopRefData } from './threadsafe.js';
import type { ThreadFunction } from './threads.js';
import type { Coroutine, Co } from './coroutines.js';

/**
 * The Unix layer of the event loop: signal handlers, worker threads
 * (runInExecutor, inboxes), pipes and subprocesses. A layer of
 * {@link EventLoop}; make loops with newEventLoop().
 */
export class UnixEventLoop extends NetworkEventLoop {
  private _defaultExecutor: ThreadPoolExecutor | null = null;
  private _executorShutdownCalled = false;

  // --- signals -----------------------------------------------------------------

  /**
   * Call callback(...args) from the loop whenever signal `sig` ('SIGINT' or a
   * number) arrives; replaces this loop's previous handler for it. Main
   * thread only. TypeError for a generator function, RangeError for an
   * unknown signal, RuntimeError for SIGKILL / SIGSTOP.
   */
  addSignalHandler<A extends unknown[]>(sig: Signal, callback: (...args: A) => unknown, ...args: A): void {
    addSignalHandler(this, sig, callback as (...a: unknown[]) => unknown, args);
  }

  /**
   * Remove the handler for `sig`; the disposition it replaced is restored. False if there was none.
   * @throws TypeError / RangeError for a bad signal.
   */
  removeSignalHandler(sig: Signal): boolean {
    return removeSignalHandler(this, sig);
  }

  // --- threads -----------------------------------------------------------------

  /**
   * callSoon that also wakes the poller. A JavaScript function cannot cross
   * threads, so in Node this is for callbacks scheduled from native code or
   * signal-driven paths; another JS thread posts to the loop through an
   * Inbox (createInbox) instead.
   * @throws as callSoon.
   */
  callSoonThreadsafe<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle {
    const handle = this.callSoon(callback, ...args);
    existingThreadBridge(this)?.wake();
    return handle;
  }

  /**
   * Messages from other threads, handed to onMessage from this loop (see Inbox).
   * @throws RuntimeError if the loop is closed; TypeError if onMessage is not a function.
   */
  createInbox<T = unknown>(onMessage: (message: T) => void): Inbox<T> {
    this._checkClosed();
    return new Inbox<T>(this, onMessage);
  }

  /**
   * A reference to this loop for one other thread, to run coroutines here
   * with runCoroutineThreadsafe (see threadsafe.ts): transfer `port` with
   * it (`transferList: [ref.port]`), and wrap it there in a RemoteLoop.
   * While the reference is open the loop waits for its requests (it does not
   * report "would wait forever"); RemoteLoop.close() or closing the loop ends it.
   * @throws RuntimeError if the loop is closed.
   */
  threadsafeRef(): LoopRefData {
    this._checkClosed();
    return _threadsafeRef(this);
  }

  /**
   * Run fn(...args) in a worker thread of `executor` (null: the loop's
   * default ThreadPoolExecutor) and return a Future of the result. fn is a
   * self-contained function (sent as source) or a workerFunction(module, name);
   * see threads.ts.
   * @throws (at the call) RuntimeError if the loop is closed or the executor
   *   shut down; TypeError for a function or arguments that cannot be sent to
   *   a worker. The Future fails with fn's error, rebuilt here.
   */
  runInExecutor<A extends unknown[], R>(executor: ThreadPoolExecutor | null, fn: ThreadFunction<A, R>, ...args: A): Future<Awaited<R>> {
    this._checkClosed();
    if (executor === null) {
      if (this._executorShutdownCalled) throw new RuntimeError('Executor shutdown has been called');
      executor = this._defaultExecutor ??= new ThreadPoolExecutor();
    } else if (!(executor instanceof ThreadPoolExecutor)) {
      throw new TypeError('executor must be a ThreadPoolExecutor or null');
    }
    return runInExecutor(this, executor, fn, args);
  }

  /**
   * Use `executor` for runInExecutor(null, ...).
   * @throws TypeError if it is not a ThreadPoolExecutor.
   */
  setDefaultExecutor(executor: ThreadPoolExecutor): void {
    if (!(executor instanceof ThreadPoolExecutor)) throw new TypeError('executor must be a ThreadPoolExecutor');
    this._defaultExecutor = executor;
  }

  /**
   * Shut the default executor down and wait until its threads have ended
   * (asyncio 3.12's shutdown_default_executor): each finishes the jobs it
   * has first, whichever loop gave them. After `timeout` seconds (null: no
   * limit) it stops waiting, emits a RuntimeWarning and returns; the threads
   * left end once their work is done (they never keep the process alive).
   * runInExecutor(null, ...) throws afterwards. A second call returns at once.
   * @throws TypeError if timeout is not a number of seconds or null.
   */
  shutdownDefaultExecutor(timeout?: number | null): Co<void>;
  *shutdownDefaultExecutor(timeout: number | null = null): Coroutine<void> {
    checkSeconds('timeout', timeout, true);
    if (this._executorShutdownCalled) return;
    this._executorShutdownCalled = true;
    const executor = this._defaultExecutor;
    if (executor === null) return;
    try {
      yield* waitFor(executor._join(this), timeout);
    } catch (exc) {
      if (!(exc instanceof TimeoutError)) throw exc;
      process.emitWarning(`The executor did not finish joining its threads within ${timeout} seconds.`, { type: 'RuntimeWarning' });
    }
  }

  // --- pipes and subprocesses ----------------------------------------------------------

  /**
   * Connect protocolFactory() to the read end of a pipe (the transport owns fd).
   * @throws TypeError for an fd that is not an integer, or not a pipe, socket or character device;
   *   RangeError for a negative fd.
   */
  connectReadPipe<P extends Protocol>(protocolFactory: () => P, fd: number): Co<[ReadPipeTransport, P]> {
    return connectReadPipe(this, protocolFactory, fd);
  }

  /**
   * Connect protocolFactory() to the write end of a pipe (the transport owns fd).
   * @throws TypeError for an fd that is not an integer, or not a pipe, socket or character device;
   *   RangeError for a negative fd.
   */
  connectWritePipe<P extends BaseProtocol>(protocolFactory: () => P, fd: number): Co<[WritePipeTransport, P]> {
    return connectWritePipe(this, protocolFactory, fd);
  }

  /**
   * Spawn program with args; stdio defaults to PIPE here. [transport, protocol].
   * @throws an Error with code (ENOENT: program not found, EACCES, ...) if it
   *   cannot be started; TypeError for bad options.
   */
  subprocessExec<P extends SubprocessProtocol>(protocolFactory: () => P, program: string, args: readonly string[] = [], options?: SubprocessOptions): Co<[SubprocessTransport, P]> {
    return subprocessExec(this, protocolFactory, program, args, options);
  }

  /**
   * Run cmd with /bin/sh -c; stdio defaults to PIPE here.
   * @throws as subprocessExec.
   */
  subprocessShell<P extends SubprocessProtocol>(protocolFactory: () => P, cmd: string, options?: SubprocessOptions): Co<[SubprocessTransport, P]> {
    return subprocessShell(this, protocolFactory, cmd, options);
  }

  // --- closing -----------------------------------------------------------------------

  /**
   * Close the loop: its signal handlers are removed (the dispositions they
   * replaced are back), its child watcher stops, its default executor shuts
   * down without waiting.
   */
  override close(): void {
    if (this.isRunning()) throw new RuntimeError('Cannot close a running event loop');
    if (this.isClosed()) return;
    closeSignals(this);
    closeChildWatcher(this);
    const executor = this._defaultExecutor;
    this._defaultExecutor = null;
    this._executorShutdownCalled = true;
    if (executor !== null) void executor.shutdown();
    _closeThreadsafeRefs(this);
    super.close();
    closeThreadBridge(this);
  }
}
