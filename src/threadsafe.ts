// asyncio's run_coroutine_threadsafe and wrap_future across Node's threads.
//
// In Python every thread shares one heap: another thread makes the
// coroutine object and hands it to the loop. In Node each thread has its own
// heap, so what crosses is a description of the work, as for runInExecutor:
// a self-contained generator function (sent as its source text and rebuilt
// in the loop's thread) or workerFunction(module, name), with arguments and
// the result structured-cloned. The loop's thread makes a reference for one
// other thread (loop.threadsafeRef(): a MessagePort to transfer, a wake fd,
// a shared cell saying whether the loop is closed); that thread wraps it in a
// RemoteLoop and calls runCoroutineThreadsafe(fn, args, remote), which
// returns a ConcurrentFuture (concurrent.futures.Future's counterpart): its
// state is an Int32Array on a SharedArrayBuffer that both threads change with
// Atomics, so result(timeout) can block on it, and cancel() and the loop's
// answer race safely (the first compareExchange wins). The answer travels on
// a MessagePort of its own; a waiting coio loop on the calling side
// (wrapFuture) leaves a wake fd in the future's second cell, which the loop's
// thread swaps out and writes when it answers (as the executor's threads do
// when they end).
//
// Cancellation goes both ways, as asyncio's _chain_future: cancel() on the
// ConcurrentFuture (or on the Future wrapFuture made) cancels the Task in the
// loop; a Task cancelled there cancels the ConcurrentFuture. An exception is
// rebuilt on the calling side with its name, message, stack and plain
// properties. A loop that closes fails what it has not answered with
// RuntimeError('Event loop is closed'); runCoroutineThreadsafe on a closed
// loop throws that at once.

import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { CancelledError, InvalidStateError, RuntimeError, TimeoutError } from './errors.js';
import { WORKER_FUNCTION, getRunningLoop } from './events.js';
import type { AbstractEventLoop, WorkerFunction } from './events.js';
import { isFuture } from './futures.js';
import type { Future } from './futures.js';
import { ensureFuture } from './tasks.js';
import { isCoroutine, isThenable } from './coroutines.js';
import type { Coroutine } from './coroutines.js';
import { native } from './native.js';
import { threadBridge } from './thread_bridge.js';
import { _rebuildError } from './threads.js';
import type { SerializedError } from './threads.js';

/** A ConcurrentFuture's state cell. */
const PENDING = 0;
const CANCELLED = 1;
const FINISHED = 2;
const FAILED = 3;
/** Cells of a ConcurrentFuture's shared array. */
const STATE = 0;
/** A wake fd a waiting loop left (-1: none; -2: the answer is in, no more may be left). */
const WAKE = 1;

/** The work, as it travels: a generator function's source, or a module export. */
type WorkSpec = { source: string } | { module: string; exportName: string };

type Answer = { ok: true; value: unknown } | { ok: false; error?: SerializedError; thrown?: unknown } | { cancelled: true };

interface RunRequest {
  kind: 'run';
  id: number;
  fn: WorkSpec;
  args: unknown[];
  reply: MessagePort;
  state: SharedArrayBuffer;
}
type Request = RunRequest | { kind: 'cancel'; id: number } | { kind: 'close' };

/** What loop.threadsafeRef() returns, for one other thread: transfer `port` with it. */
export interface LoopRefData {
  /** The MessagePort requests travel on (list it in the transferList). */
  port: MessagePort;
  /** Wakes the loop's poller (owned by the RemoteLoop made from this). */
  wakeFd: number;
  /** Cell 0 becomes 1 once the loop is closed. */
  closed: SharedArrayBuffer;
}

function describeError(err: unknown): { error?: SerializedError; thrown?: unknown } {
  if (!(err instanceof Error)) return { thrown: err };
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    const v = (err as unknown as Record<string, unknown>)[key];
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') props[key] = v;
  }
  return { error: { name: err.name, message: err.message, stack: err.stack, props } };
}

/** Post the answer, then publish the state (first writer wins), then wake a waiting loop. */
function answer(reply: MessagePort, cells: Int32Array, message: Answer): void {
  const state = 'cancelled' in message ? CANCELLED : message.ok ? FINISHED : FAILED;
  try {
    reply.postMessage(message);
  } catch (err) {
    // A result that cannot be cloned: say why instead.
    reply.postMessage({ ok: false, ...describeError(new TypeError(`runCoroutineThreadsafe: the result cannot be sent to the calling thread: ${(err as Error).message}`)) });
  }
  reply.close();
  if (Atomics.compareExchange(cells, STATE, PENDING, state) === PENDING) Atomics.notify(cells, STATE);
  const fd = Atomics.exchange(cells, WAKE, -2);
  if (fd >= 0) {
    try {
      native.wakeWrite(fd);
    } finally {
      native.close(fd);
    }
  }
}

const userRequire = createRequire(process.cwd() + '/');

function compile(source: string): (...args: unknown[]) => unknown {
  let fn: unknown;
  try {
    fn = new Function('require', `return (${source}\n);`)(userRequire);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    const holder = new Function('require', `return ({${source}\n});`)(userRequire) as Record<string, unknown>;
    fn = Object.values(holder)[0];
  }
  if (typeof fn !== 'function') throw new TypeError('runCoroutineThreadsafe: the source sent is not a function');
  return fn as (...args: unknown[]) => unknown;
}

/** The loop side: runs each request as a Task. */
class Acceptor {
  private readonly running = new Map<number, { task: Future<unknown>; reply: MessagePort; cells: Int32Array }>();
  private readonly unwatch: () => void;
  readonly closedCell = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    private readonly loop: AbstractEventLoop,
    private readonly port: MessagePort,
  ) {
    this.unwatch = threadBridge(loop).watch(port, (message) => this.onRequest(message as Request));
  }

  private onRequest(req: Request): void {
    if (req.kind === 'close') {
      // The other thread is done with this reference: stop watching (what runs still answers).
      this.detach();
      return;
    }
    if (req.kind === 'cancel') {
      this.running.get(req.id)?.task.cancel();
      return;
    }
    const cells = new Int32Array(req.state);
    if (Atomics.load(cells, STATE) !== PENDING) {
      // Cancelled before it started: nothing to run.
      req.reply.close();
      return;
    }
    let task: Future<unknown>;
    try {
      task = this.loop.createTask(runWork(req.fn, req.args));
    } catch (err) {
      answer(req.reply, cells, { ok: false, ...describeError(err) });
      return;
    }
    this.running.set(req.id, { task, reply: req.reply, cells });
    task.addDoneCallback(() => {
      if (!this.running.delete(req.id)) return;
      if (task.cancelled()) answer(req.reply, cells, { cancelled: true });
      else if (task.exception() !== undefined && task.exception() !== null) answer(req.reply, cells, { ok: false, ...describeError(task.exception()) });
      else answer(req.reply, cells, { ok: true, value: task.result() });
    });
  }

  /** The loop is closing: no more requests; what was not answered fails. */
  close(): void {
    Atomics.store(this.closedCell, 0, 1);
    const closed = { ok: false as const, ...describeError(new RuntimeError('Event loop is closed')) };
    for (let r; (r = receiveMessageOnPort(this.port)) !== undefined; ) {
      const req = r.message as Request;
      if (req.kind === 'run') answer(req.reply, new Int32Array(req.state), closed);
    }
    for (const { reply, cells } of this.running.values()) answer(reply, cells, closed);
    this.running.clear();
    this.detach();
  }

  private detach(): void {
    this.unwatch();
    const list = acceptors.get(this.loop);
    const i = list?.indexOf(this) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }
}

function* runWork(spec: WorkSpec, args: unknown[]): Coroutine<unknown> {
  let fn: (...a: unknown[]) => unknown;
  if ('source' in spec) fn = compile(spec.source);
  else {
    const mod = (yield* ensureFuture(import(spec.module) as Promise<Record<string, unknown>>)) as Record<string, unknown>;
    const f = mod[spec.exportName] ?? (spec.exportName !== 'default' ? (mod.default as Record<string, unknown> | undefined)?.[spec.exportName] : undefined);
    if (typeof f !== 'function') throw new TypeError(`export ${JSON.stringify(spec.exportName)} of ${spec.module} is not a function`);
    fn = f as (...a: unknown[]) => unknown;
  }
  const r = fn(...args);
  if (isCoroutine(r)) return yield* r;
  if (isThenable(r)) return yield* ensureFuture(r);
  return r;
}

const acceptors = new WeakMap<AbstractEventLoop, Acceptor[]>();

/** @internal loop.threadsafeRef(): a reference to `loop` for one other thread. */
export function _threadsafeRef(loop: AbstractEventLoop): LoopRefData {
  if (loop.isClosed()) throw new RuntimeError('Event loop is closed');
  const { port1, port2 } = new MessageChannel();
  const acceptor = new Acceptor(loop, port1);
  let list = acceptors.get(loop);
  if (list === undefined) acceptors.set(loop, (list = []));
  list.push(acceptor);
  return { port: port2, wakeFd: threadBridge(loop).remoteWakeFd(), closed: acceptor.closedCell.buffer as SharedArrayBuffer };
}

/** @internal The loop is closing: every reference it gave says so, and fails what it did not answer. */
export function _closeThreadsafeRefs(loop: AbstractEventLoop): void {
  for (const acceptor of acceptors.get(loop) ?? []) acceptor.close();
  acceptors.delete(loop);
}

/**
 * Another thread's loop, from the LoopRefData its thread made with
 * loop.threadsafeRef() (transferred here with its port). Owns the wake fd:
 * close() it when done.
 */
export class RemoteLoop {
  private port: MessagePort | null;
  private readonly wakeFd: number;
  private readonly closedCell: Int32Array;
  private nextId = 1;

  /** @throws TypeError for anything but what threadsafeRef() returned. */
  constructor(data: LoopRefData) {
    if (typeof data !== 'object' || data === null || typeof data.wakeFd !== 'number' || typeof data.port?.postMessage !== 'function' || !(data.closed instanceof SharedArrayBuffer)) {
      throw new TypeError('RemoteLoop: pass the object loop.threadsafeRef() returned (with its port transferred)');
    }
    this.port = data.port;
    this.wakeFd = data.wakeFd;
    this.closedCell = new Int32Array(data.closed);
  }

  /** True once the loop is closed (or this reference is). */
  isClosed(): boolean {
    return this.port === null || Atomics.load(this.closedCell, 0) !== 0;
  }

  /** @internal Post a request and wake the loop; the request's id. */
  _send(make: (id: number) => { message: Request; transfer: MessagePort[] }): number {
    if (this.port === null) throw new RuntimeError('RemoteLoop is closed');
    const id = this.nextId++;
    const { message, transfer } = make(id);
    this.port.postMessage(message, transfer);
    native.wakeWrite(this.wakeFd);
    return id;
  }

  /** @internal Ask the loop to cancel request id (it may have answered already). */
  _cancel(id: number): void {
    if (this.port === null || this.isClosed()) return;
    this.port.postMessage({ kind: 'cancel', id });
    native.wakeWrite(this.wakeFd);
  }

  /**
   * Tell the loop this reference is done (it stops waiting for requests on
   * it), close the port and the wake fd. Futures pending still get their
   * answers. Idempotent.
   */
  close(): void {
    if (this.port === null) return;
    if (Atomics.load(this.closedCell, 0) === 0) {
      this.port.postMessage({ kind: 'close' });
      native.wakeWrite(this.wakeFd);
    }
    this.port.close();
    this.port = null;
    native.close(this.wakeFd);
  }
}

/**
 * The calling thread's view of work submitted to another thread's loop
 * (concurrent.futures.Future): thread-safe, its state shared with that loop.
 */
export class ConcurrentFuture<T = unknown> {
  /** @internal [STATE, WAKE] */
  readonly _cells: Int32Array;
  /** @internal Where the answer arrives. */
  _reply: MessagePort | null;
  private outcome: Answer | null = null;
  private readonly callbacks: Array<(f: ConcurrentFuture<T>) => void> = [];

  /** @internal */
  constructor(
    private readonly remote: RemoteLoop,
    reply: MessagePort,
    cells: Int32Array,
    private readonly id: () => number,
  ) {
    this._reply = reply;
    this._cells = cells;
  }

  /** True once it has a result, an exception, or was cancelled. Never blocks. */
  done(): boolean {
    return Atomics.load(this._cells, STATE) !== PENDING;
  }

  /** True if it was cancelled (here, or its Task in the loop). */
  cancelled(): boolean {
    return Atomics.load(this._cells, STATE) === CANCELLED;
  }

  /** False while the loop has not answered (concurrent.futures' RUNNING and PENDING are one here). */
  running(): boolean {
    return false;
  }

  /**
   * Cancel: it is cancelled at once, and the Task in the loop is cancelled
   * (as asyncio's _chain_future). False if it was done already.
   */
  cancel(): boolean {
    const prev = Atomics.compareExchange(this._cells, STATE, PENDING, CANCELLED);
    if (prev === CANCELLED) return true;
    if (prev !== PENDING) return false;
    Atomics.notify(this._cells, STATE);
    this._reply?.close();
    this._reply = null;
    this.remote._cancel(this.id());
    this.runCallbacks();
    return true;
  }

  /**
   * The result, waiting (blocking this thread) up to `timeout` seconds (null: no limit).
   * @throws the work's exception (rebuilt here); CancelledError if cancelled;
   *   TimeoutError if it is not done in time.
   */
  result(timeout: number | null = null): T {
    const a = this.wait(timeout);
    if ('cancelled' in a) throw new CancelledError();
    if (a.ok) return a.value as T;
    throw a.error !== undefined ? _rebuildError(a.error) : a.thrown;
  }

  /**
   * The exception (undefined if it succeeded), waiting as result() does.
   * @throws CancelledError if cancelled; TimeoutError if not done in time.
   */
  exception(timeout: number | null = null): unknown {
    const a = this.wait(timeout);
    if ('cancelled' in a) throw new CancelledError();
    if (a.ok) return undefined;
    return a.error !== undefined ? _rebuildError(a.error) : a.thrown;
  }

  /** Call fn(this) once it is done (now if it is), in this thread, when result() / wrapFuture sees the answer or cancel() is called. */
  addDoneCallback(fn: (f: ConcurrentFuture<T>) => void): void {
    if (typeof fn !== 'function') throw new TypeError('addDoneCallback: a function is required');
    if (this.outcome !== null || this.cancelled()) fn(this);
    else this.callbacks.push(fn);
  }

  /** @internal The answer, read off the port by a loop's thread bridge (wrapFuture). */
  _accept(a: Answer): void {
    if (this.outcome === null && !this.cancelled()) this.outcome = a;
  }

  /** @internal The answer, if it is in (reads the port once). */
  _take(): Answer | null {
    if (this.outcome !== null) {
      this._reply?.close();
      this._reply = null;
      this.runCallbacks();
      return this.outcome;
    }
    const state = Atomics.load(this._cells, STATE);
    if (state === PENDING) return null;
    if (state === CANCELLED) this.outcome = { cancelled: true };
    else {
      const r = this._reply === null ? undefined : receiveMessageOnPort(this._reply);
      if (r === undefined) throw new InvalidStateError('ConcurrentFuture: the answer is missing');
      this.outcome = r.message as Answer;
    }
    this._reply?.close();
    this._reply = null;
    this.runCallbacks();
    return this.outcome;
  }

  private wait(timeout: number | null): Answer {
    if (timeout !== null && (typeof timeout !== 'number' || Number.isNaN(timeout))) throw new TypeError(`timeout must be a number of seconds or null, got ${String(timeout)}`);
    const deadline = timeout === null ? Infinity : Date.now() + Math.max(0, timeout) * 1000;
    while (Atomics.load(this._cells, STATE) === PENDING) {
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError();
      Atomics.wait(this._cells, STATE, PENDING, left === Infinity ? undefined : left);
    }
    return this._take()!;
  }

  private runCallbacks(): void {
    for (const fn of this.callbacks.splice(0)) {
      try {
        fn(this);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  toString(): string {
    const s = Atomics.load(this._cells, STATE);
    return `<ConcurrentFuture ${s === PENDING ? 'pending' : s === CANCELLED ? 'cancelled' : 'finished'}>`;
  }
}

/** What runCoroutineThreadsafe runs: a self-contained generator (or async) function, or workerFunction(module, name). */
export type ThreadsafeFunction<A extends unknown[], R> = ((...args: A) => Coroutine<R> | PromiseLike<R> | R) | WorkerFunction<A, R>;

function workSpec(fn: unknown): WorkSpec {
  if (typeof fn === 'object' && fn !== null && (fn as WorkerFunction)[WORKER_FUNCTION] === true) {
    const wf = fn as WorkerFunction;
    return { module: wf.module, exportName: wf.exportName };
  }
  if (typeof fn !== 'function') throw new TypeError('runCoroutineThreadsafe: a generator function (self-contained: it is sent as source) or workerFunction(module, name) is required');
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) throw new TypeError(`runCoroutineThreadsafe: ${fn.name || 'this function'} is native or bound: its source cannot be sent to another thread`);
  return { source };
}

/**
 * Run fn(...args) as a Task on another thread's loop and return a
 * ConcurrentFuture of its result (asyncio.run_coroutine_threadsafe). fn is
 * self-contained (its source is sent and rebuilt there, as runInExecutor's
 * functions) or a workerFunction(module, name); the arguments and the result
 * are structured-cloned.
 *
 *     // in the loop's thread:  const ref = loop.threadsafeRef();
 *     //   new Worker(file, { workerData: { ref }, transferList: [ref.port] });
 *     // in the worker:
 *     const remote = new RemoteLoop(workerData.ref);
 *     const cf = runCoroutineThreadsafe(function* (n) { yield* sleep(0.1); return n * 2; }, [21], remote);
 *     cf.result(5); // 42, blocking this thread; or `yield* wrapFuture(cf)` in a coio loop here
 *
 * @throws RuntimeError if the loop is closed (or the RemoteLoop is);
 *   TypeError for a function or arguments that cannot be sent.
 */
export function runCoroutineThreadsafe<A extends unknown[], R>(fn: ThreadsafeFunction<A, R>, args: A, loop: RemoteLoop): ConcurrentFuture<Awaited<R>> {
  if (!(loop instanceof RemoteLoop)) throw new TypeError('runCoroutineThreadsafe: loop must be a RemoteLoop (new RemoteLoop(ref) with the ref another thread\'s loop.threadsafeRef() made)');
  if (!Array.isArray(args)) throw new TypeError('runCoroutineThreadsafe: args must be an array');
  if (loop.isClosed()) throw new RuntimeError('Event loop is closed');
  const spec = workSpec(fn);
  const cells = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  cells[WAKE] = -1;
  const { port1, port2 } = new MessageChannel();
  let id = 0;
  const cf = new ConcurrentFuture<Awaited<R>>(loop, port1, cells, () => id);
  try {
    id = loop._send((rid) => ({ message: { kind: 'run', id: rid, fn: spec, args, reply: port2, state: cells.buffer as SharedArrayBuffer }, transfer: [port2] }));
  } catch (err) {
    port1.close();
    port2.close();
    if (err instanceof Error && err.name === 'DataCloneError') throw new TypeError(`runCoroutineThreadsafe: an argument cannot be sent to another thread: ${err.message}`);
    throw err;
  }
  // Closed as it was posted: the loop may have drained its port before this
  // arrived, and then nobody answers it. Fail it here (the loop's answer,
  // if it got there first, wins the compareExchange).
  if (loop.isClosed() && Atomics.compareExchange(cells, STATE, PENDING, FAILED) === PENDING) {
    port1.postMessage({ ok: false, ...describeError(new RuntimeError('Event loop is closed')) });
    Atomics.notify(cells, STATE);
  }
  return cf;
}

/**
 * A Future of `loop` (default: the running one) that follows `cf`
 * (asyncio.wrap_future): it completes when the other thread's loop answers
 * (this loop is woken for it, through its thread bridge), and cancelling
 * either one cancels the other. A coio Future is returned as it is.
 * @throws TypeError for anything else; RuntimeError if no loop is running and none is given.
 */
export function wrapFuture<T>(cf: ConcurrentFuture<T> | Future<T>, options: { loop?: AbstractEventLoop } = {}): Future<T> {
  if (isFuture(cf)) return cf as Future<T>;
  if (!(cf instanceof ConcurrentFuture)) throw new TypeError(`wrapFuture: a ConcurrentFuture or a Future is required, got ${String(cf)}`);
  const loop = options.loop ?? getRunningLoop();
  const fut = loop.createFuture<T>();
  const settle = (a: Answer): void => {
    if (fut.done()) return;
    if ('cancelled' in a) fut.cancel();
    else if (a.ok) fut.setResult(a.value as T);
    else fut.setException(a.error !== undefined ? _rebuildError(a.error) : a.thrown);
  };
  const now = cf._take();
  if (now !== null) {
    settle(now);
    return fut;
  }
  const bridge = threadBridge(loop);
  const reply = cf._reply!;
  let fd = -1;
  let watching = true;
  const stop = (): void => {
    if (!watching) return;
    watching = false;
    // Take the fd back unless the other thread took it (it closes it then).
    if (fd >= 0 && Atomics.compareExchange(cf._cells, WAKE, fd, -1) === fd) native.close(fd);
    unwatch();
  };
  // The bridge reads the answer off the port: hand it to the ConcurrentFuture first.
  const unwatch = bridge.watch(reply, (message) => {
    if (!watching) return;
    cf._accept(message as Answer);
    stop();
    settle(cf._take()!);
  });
  fd = bridge.remoteWakeFd();
  if (Atomics.compareExchange(cf._cells, WAKE, -1, fd) !== -1) {
    // Answered meanwhile (-2): the fd stayed ours; the answer is in the port.
    native.close(fd);
    fd = -1;
    const a = cf._take();
    stop();
    if (a !== null) settle(a);
  }
  fut.addDoneCallback(() => {
    if (fut.cancelled()) cf.cancel();
    stop();
  });
  cf.addDoneCallback(() => {
    if (cf.cancelled() && !fut.done() && !loop.isClosed()) fut.cancel();
  });
  return fut;
}
