// Blocking work in worker threads, and messages from other threads to a
// loop (asyncio's run_in_executor, to_thread and ThreadPoolExecutor; the
// Inbox is Node's answer to call_soon_threadsafe from another thread).
//
// A JavaScript function cannot cross threads: what runs in a worker is
// either
// - a self-contained function, sent as its source text: it is rebuilt in the
//   worker from fn.toString(), so it may not use variables from the scope it
//   was written in (use its arguments; `require` is in scope, and
//   `await import(...)` works); or
// - workerFunction(moduleUrl, exportName): a function exported by a module,
//   which the worker imports (ES module or CommonJS, by absolute path or URL).
// Arguments and results are structured-cloned (postMessage); the function
// may be async (the worker awaits it). An error thrown there is rebuilt here
// with its name, message, stack and plain properties (code, errno, ...).
//
// The worker answers on a MessagePort and wakes the loop through the loop's
// ThreadBridge (thread_bridge.ts): the loop never depends on Node's own event
// loop running. A job cannot be interrupted: cancelling its Future only drops
// the result, as with Python threads.

import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import { RuntimeError } from './errors.js';
import { WORKER_FUNCTION, getRunningLoop } from './events.js';
import type { ThreadFunction, WorkerFunction } from './events.js';
import type { Future } from './futures.js';
import type { AbstractEventLoop } from './events.js';
import { loadedAddonPath, native, packageRoot } from './native.js';
import { threadBridge, wakeRemote, closeRemoteWakeFd } from './thread_bridge.js';
import { _isCoroutineFunction } from './coroutines.js';
import type { Coroutine, Co } from './coroutines.js';

export type { ThreadFunction, WorkerFunction };

/**
 * Name a function exported by a module, for runInExecutor / toThread: the
 * worker thread imports `module` (an absolute path or a URL, e.g.
 * `new URL('./work.js', import.meta.url)`) and calls its export `exportName`.
 * @throws TypeError for a relative path or an empty exportName.
 */
export function workerFunction<A extends unknown[] = unknown[], R = unknown>(module: string | URL, exportName = 'default'): WorkerFunction<A, R> {
  let url: string;
  if (module instanceof URL) url = module.href;
  else if (typeof module === 'string' && isAbsolute(module)) url = pathToFileURL(module).href;
  else if (typeof module === 'string' && /^[a-z][a-z0-9+.-]*:/i.test(module)) url = module;
  else throw new TypeError(`workerFunction: module must be an absolute path or a URL, got ${JSON.stringify(module)}`);
  if (typeof exportName !== 'string' || exportName === '') throw new TypeError('workerFunction: exportName must be a non-empty string');
  return Object.freeze({ [WORKER_FUNCTION]: true as const, module: url, exportName });
}


/** The job's function as it travels to the worker. */
type FunctionSpec = { source: string } | { module: string; exportName: string };

function functionSpec(fn: unknown, caller: string): FunctionSpec {
  if (typeof fn === 'object' && fn !== null && (fn as WorkerFunction)[WORKER_FUNCTION] === true) {
    const wf = fn as WorkerFunction;
    return { module: wf.module, exportName: wf.exportName };
  }
  if (typeof fn !== 'function') throw new TypeError(`${caller}: a function or a workerFunction(module, name) is required`);
  if (_isCoroutineFunction(fn)) throw new TypeError(`coroutines cannot be used with ${caller}()`);
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new TypeError(`${caller}: ${fn.name || 'this function'} is native or bound: its source cannot be sent to a worker thread; pass a self-contained function or workerFunction(module, name)`);
  }
  return { source };
}

// ---- the worker ---------------------------------------------------------------

// CommonJS, run with eval: it must not depend on how coio itself was loaded
// (ESM, CommonJS, or TypeScript under a test runner).
const WORKER_SOURCE = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const { createRequire } = require('node:module');
// workerData.addon: the file native.ts loaded the addon from (a source build, a
// prebuild or COIO_ADDON_PATH), so this thread loads the same one.
const native = (() => { const m = { exports: {} }; process.dlopen(m, workerData.addon); return m.exports; })();
const userRequire = createRequire(process.cwd() + '/');
const compiled = new Map();

function compile(source) {
  let fn = compiled.get(source);
  if (fn !== undefined) return fn;
  try {
    fn = new Function('require', 'return (' + source + '\\n);')(userRequire);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    // A method's source ("name(a) { ... }") is not an expression: rebuild it in an object literal.
    let holder;
    try {
      holder = new Function('require', 'return ({' + source + '\\n});')(userRequire);
    } catch {
      throw new SyntaxError('cannot rebuild the function from its source in the worker thread (' + err.message + '): pass a self-contained function expression or workerFunction(module, name)');
    }
    fn = Object.values(holder)[0];
  }
  if (typeof fn !== 'function') throw new TypeError('the source sent to the worker thread is not a function');
  compiled.set(source, fn);
  return fn;
}

async function load(spec) {
  if (spec.source !== undefined) return compile(spec.source);
  const mod = await import(spec.module);
  const fn = mod[spec.exportName] ?? (spec.exportName !== 'default' && mod.default ? mod.default[spec.exportName] : undefined);
  if (typeof fn !== 'function') throw new TypeError('export ' + JSON.stringify(spec.exportName) + ' of ' + spec.module + ' is not a function');
  return fn;
}

function describe(err) {
  if (!(err instanceof Error)) return { thrown: err };
  const props = {};
  for (const key of Object.keys(err)) {
    const v = err[key];
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') props[key] = v;
  }
  return { error: { name: err.name, message: err.message, stack: err.stack, props } };
}

function reply(port, message) {
  try {
    port.postMessage(message);
  } catch (err) {
    // The result (or a thrown value) cannot be cloned: report why.
    try { port.postMessage({ ok: false, ...describe(err) }); } catch {}
  }
}

// Shared with the pool: [dead, done, taken] (see WorkerSlot.state).
const state = new Int32Array(workerData.state);
// Jobs taken and not answered yet: each owns its port and wake fd until answered.
const running = new Set();

function take(job) {
  running.add(job);
  Atomics.add(state, 2, 1);
}

async function runJob(job) {
  let message;
  try {
    const fn = await load(job.fn);
    message = { ok: true, value: await fn(...job.args) };
  } catch (err) {
    message = { ok: false, ...describe(err) };
  }
  answer(job, message);
}

function answer(job, message) {
  if (!running.delete(job)) return;
  reply(job.port, message);
  job.port.close();
  // false: the loop closed its waker and reads no more replies. Any other
  // failure would leave the loop asleep beside its answer: it is thrown,
  // and ends this thread (below), which answers the other jobs.
  try { native.wakeWrite(job.wakeFd); } finally { native.close(job.wakeFd); }
}

// An exception nothing caught (a job's timer threw, or waking a loop
// failed) ends this thread; the jobs it had are answered with it (below).
let died;
process.on('uncaughtException', (err) => {
  died = describe(err);
  process.exit(1);
});

parentPort.on('message', (msg) => {
  if (msg.kind === 'exit') parentPort.close(); // the thread ends once its jobs are done
  else {
    take(msg);
    runJob(msg).catch((err) => process.nextTick(() => { throw err; }));
  }
});

// However the thread ends (process.exit() in a job, the handler above, or
// its work is over), no job runs here any more. Every job it took, and every
// job still queued for it, is answered now, so that no loop waits for a
// reply that cannot come: this works while coio's loop blocks, through the
// thread bridge, where Node's 'exit' event would wait for Node's loop.
// 'dead' tells the pool to send later jobs to another thread.
process.on('exit', (code) => {
  Atomics.store(state, 0, 1);
  for (let r; (r = receiveMessageOnPort(parentPort)) !== undefined; ) if (r.message.kind !== 'exit') take(r.message);
  for (const job of [...running]) {
    try { answer(job, { ok: false, workerExit: code, died }); } catch {} // its fd is closed: nothing else to do while exiting
  }
  Atomics.store(state, 1, 1);
  Atomics.notify(state, 1);
  // A loop joining this thread (shutdownDefaultExecutor) left a wake fd in
  // cell 3: tell it the thread has ended (-2 in the cell: no joiner may
  // leave one from now on).
  const joinFd = Atomics.exchange(state, 3, -2);
  if (joinFd >= 0) {
    try { workerData.exitPort.postMessage(code); native.wakeWrite(joinFd); } catch {} finally { try { native.close(joinFd); } catch {} }
  }
});
`;

interface JobMessage {
  kind: 'job';
  fn: FunctionSpec;
  args: unknown[];
  port: MessagePort;
  wakeFd: number;
}

/**
 * `workerExit`: the thread ended (that exit code) before the job finished;
 * `died`: of this uncaught exception (describe() of it).
 */
type Reply =
  | { ok: true; value: unknown }
  | { ok: false; error?: SerializedError; thrown?: unknown; workerExit?: number; died?: { error?: SerializedError; thrown?: unknown } };

/**
 * The worker thread a job was given to ended before the job finished: a job
 * on it called process.exit(), or an exception nothing caught (thrown from a
 * job's timer) ended it. Every job it had, running or queued, fails with
 * this (`cause`: that exception); the pool sends later jobs to a new thread.
 * (Python's concurrent.futures BrokenThreadPool, a RuntimeError.)
 */
export class BrokenThreadPool extends RuntimeError {
  /** Always 'BrokenThreadPool'. */
  override name = 'BrokenThreadPool';

  constructor(
    message: string,
    /** The thread's exit code, or null if not known. */
    readonly exitCode: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** @internal An Error as it crosses threads (name, message, stack, plain properties). */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  props: Record<string, unknown>;
}

const STANDARD_ERRORS: Record<string, new (message: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** @internal Rebuild an Error that crossed threads (also threadsafe.ts). */
export function _rebuildError(e: SerializedError): Error {
  return rebuildError(e);
}

function rebuildError(e: SerializedError): Error {
  const Ctor = Object.prototype.hasOwnProperty.call(STANDARD_ERRORS, e.name) ? STANDARD_ERRORS[e.name]! : Error;
  const err = new Ctor(e.message);
  if (err.name !== e.name) Object.defineProperty(err, 'name', { value: e.name, writable: true, configurable: true });
  if (e.stack !== undefined) err.stack = e.stack;
  Object.assign(err, e.props);
  return err;
}

interface WorkerSlot {
  worker: Worker;
  /** Jobs posted and not answered yet (to pick the least busy worker). */
  outstanding: number;
  /** Jobs posted so far: a job's sequence number, compared with TAKEN. */
  posted: number;
  /** Int32 cells shared with the thread: DEAD, DONE, TAKEN. */
  readonly state: Int32Array;
  exited: Promise<void>;
  /** How to fail each job posted to it and not answered yet, should the thread end first. */
  readonly unanswered: Set<(err: Error) => void>;
  /** Where the thread says, as it ends, that it has ended (to a loop joining it: see EXIT_WAKE). */
  readonly exitPort: MessagePort;
  /** Node reported the thread's exit. */
  ended: boolean;
  /** A loop's bridge watches exitPort (the loop closes it when done). */
  joining: boolean;
  /** exitPort is closed (a join ended, or the thread did). */
  exitPortClosed: boolean;
  /** The joining loop's callback for Node's 'exit' event. */
  onEnded: (() => void) | null;
}

/** Set by the thread as it ends: it takes no more jobs. */
const DEAD = 0;
/** Set once the ending thread has answered every job it took. */
const DONE = 1;
/** Jobs the thread has taken (they arrive in the order posted). */
const TAKEN = 2;
/**
 * A wake fd a joining loop left for the thread, -1 for none, -2 once the
 * thread has ended (it exchanges the cell for -2 as it ends, and posts on
 * its exit port and wakes the loop if it found an fd there).
 */
const EXIT_WAKE = 3;

/** Options of new ThreadPoolExecutor. */
export interface ThreadPoolExecutorOptions {
  /** At most this many worker threads (default: min(32, CPUs + 4), as Python). */
  maxWorkers?: number;
}

/**
 * A pool of worker threads for blocking functions (Python's
 * ThreadPoolExecutor). Threads start on demand and never keep the process
 * alive; each runs its jobs one after another (an async function's awaits
 * let the next one start). Pass it to loop.runInExecutor; null there means
 * the loop's default executor.
 */
export class ThreadPoolExecutor {
  /** The most worker threads it starts. */
  readonly maxWorkers: number;
  /** The threads that take jobs. */
  private readonly slots: WorkerSlot[] = [];
  /** Every thread started, for shutdown() to wait on. */
  private readonly started: WorkerSlot[] = [];
  private isShutdown = false;
  /** @internal Futures of jobs not answered yet, for shutdownDefaultExecutor. */
  readonly _pending = new Set<Future<unknown>>();

  /**
   * A pool of at most `options.maxWorkers` threads (none started yet).
   * @throws RangeError if maxWorkers is not a positive integer.
   */
  constructor(options: ThreadPoolExecutorOptions = {}) {
    const max = options.maxWorkers ?? Math.min(32, availableParallelism() + 4);
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxWorkers must be a positive integer, got ${String(max)}`);
    this.maxWorkers = max;
  }

  /**
   * Accept no more work; each thread ends once the jobs it has are done.
   * Resolves when every thread has exited: that is reported by Node's own
   * event loop, so await it outside coio's loop (in a coroutine, wait for
   * the jobs' Futures instead, as loop.shutdownDefaultExecutor() does).
   */
  shutdown(): Promise<void> {
    if (!this.isShutdown) {
      this.isShutdown = true;
      for (const slot of this.slots) slot.worker.postMessage({ kind: 'exit' });
    }
    return Promise.all(this.started.map((s) => s.exited)).then(() => undefined);
  }

  /**
   * @internal Shut down (as shutdown()) and return a Future of `loop` that
   * completes once every thread this pool started has ended: each thread,
   * as it ends, posts on its exit port and wakes the loop through a wake fd
   * the loop leaves in its EXIT_WAKE cell (Node's own 'exit' event would
   * wait for Node's loop, which does not run while coio's blocks). Ended
   * means the thread ran its last JavaScript (its 'exit' listeners); the OS
   * thread is gone a moment later. Cancelling the Future stops waiting (the
   * threads still end once their work is done). A thread already being
   * joined by another loop, or killed without running its exit handler, is
   * not waited for here (a timeout bounds that).
   */
  _join(loop: AbstractEventLoop): Future<void> {
    void this.shutdown();
    const fut = loop.createFuture<void>();
    const bridge = threadBridge(loop);
    const waiting = new Map<WorkerSlot, { fd: number; unwatch: () => void }>();
    const stop = (slot: WorkerSlot): void => {
      const w = waiting.get(slot)!;
      waiting.delete(slot);
      // Take the fd back unless the thread took it (it closes it then).
      if (Atomics.compareExchange(slot.state, EXIT_WAKE, w.fd, -1) === w.fd) native.close(w.fd);
      slot.joining = false;
      slot.onEnded = null;
      slot.exitPortClosed = true;
      w.unwatch();
    };
    for (const slot of this.started) {
      if (slot.ended || slot.joining || slot.exitPortClosed || Atomics.load(slot.state, EXIT_WAKE) !== -1) continue;
      slot.joining = true;
      const ended = (): void => {
        if (!waiting.has(slot)) return;
        stop(slot);
        this._retire(slot);
        if (waiting.size === 0 && !fut.done() && !loop.isClosed()) fut.setResult(undefined);
      };
      // Whichever comes first: the thread's own word (through the bridge), or Node's 'exit' event (its loop runs in guest mode).
      slot.onEnded = ended;
      const unwatch = bridge.watch(slot.exitPort, ended);
      const fd = bridge.remoteWakeFd();
      if (Atomics.compareExchange(slot.state, EXIT_WAKE, -1, fd) === -1) waiting.set(slot, { fd, unwatch });
      else {
        // It ended meanwhile (-2): the fd stayed ours.
        native.close(fd);
        slot.joining = false;
        slot.exitPortClosed = true;
        unwatch();
      }
    }
    if (waiting.size === 0) fut.setResult(undefined);
    else {
      fut.addDoneCallback(() => {
        for (const slot of [...waiting.keys()]) stop(slot);
      });
    }
    return fut;
  }

  /** Worker threads started so far (they end at shutdown). */
  get threads(): number {
    return this.slots.length;
  }

  /**
   * @internal Post a job to the least busy thread (starting one if all are
   * busy); returns the slot, or null if that thread ended as the job was
   * posted, without taking it (the job never ran: post it again, with a new
   * port and wake fd, which are the caller's again).
   */
  _post(job: JobMessage, transfer: TransferListItem[]): WorkerSlot | null {
    if (this.isShutdown) throw new RuntimeError('cannot schedule new futures after shutdown');
    // Threads that ended: seen here, not through Node's loop, which may not run.
    for (const s of this.slots.filter((s) => Atomics.load(s.state, DEAD) !== 0)) this._retire(s);
    let slot = this.slots.reduce<WorkerSlot | undefined>((best, s) => (best === undefined || s.outstanding < best.outstanding ? s : best), undefined);
    if (slot === undefined || (slot.outstanding > 0 && this.slots.length < this.maxWorkers)) slot = this.startWorker();
    const seq = slot.posted++;
    slot.worker.postMessage(job, transfer);
    slot.outstanding++;
    if (Atomics.load(slot.state, DEAD) === 0) return slot; // it takes the job, now or as it ends
    // It is ending: it answers what it took, its queue included, then sets
    // DONE (at once: no user code runs there any more). Was this one taken?
    this._retire(slot);
    Atomics.wait(slot.state, DONE, 0, 1000);
    if (seq < Atomics.load(slot.state, TAKEN)) return slot;
    slot.outstanding--;
    return null;
  }

  /** @internal A thread that is ending gets no more jobs. */
  _retire(slot: WorkerSlot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private startWorker(): WorkerSlot {
    const state = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
    state[EXIT_WAKE] = -1;
    const { port1: exitPort, port2: threadExitPort } = new MessageChannel();
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { root: packageRoot(), addon: loadedAddonPath, state: state.buffer, exitPort: threadExitPort },
      transferList: [threadExitPort],
    });
    worker.unref();
    const exited = new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
    });
    const slot: WorkerSlot = { worker, outstanding: 0, posted: 0, state, exited, unanswered: new Set(), exitPort, ended: false, joining: false, exitPortClosed: false, onEnded: null };
    // A thread that ended without answering its jobs (it failed to start, or
    // was killed without running its exit handler: out of memory) fails
    // them, and later jobs go to a new one. Node reports this on its own
    // event loop: at once in guest mode, else once coio's loop stops
    // waiting. (Any other end is answered in band by the thread itself, see
    // WORKER_SOURCE: those answers are already posted here, and win.)
    let cause: Error | undefined;
    worker.on('error', (err) => {
      cause = err;
    });
    worker.once('exit', (code) => {
      slot.ended = true;
      slot.onEnded?.();
      if (!slot.joining && !slot.exitPortClosed) {
        slot.exitPortClosed = true;
        exitPort.close();
      }
      this._retire(slot);
      const err = new BrokenThreadPool(`the worker thread running this job ended (exit code ${code})${cause === undefined ? '' : `: ${cause.message}`}`, code, { cause });
      for (const fail of [...slot.unanswered]) fail(err);
      slot.unanswered.clear();
    });
    this.slots.push(slot);
    this.started.push(slot);
    return slot;
  }
}

/**
 * Run fn(...args) in a thread of `executor` and return a Future of its
 * result (asyncio's loop.run_in_executor). See the top of this file for
 * what fn may be. TypeError at once for a function that cannot be sent or
 * arguments that cannot be cloned; RuntimeError after shutdown. The Future
 * fails with BrokenThreadPool (a RuntimeError; its `cause` the exception, if
 * one ended the thread) when the thread the job went to ends before the job
 * finished: a job there called process.exit(), or an exception nothing
 * caught (thrown from a timer, say) ended it.
 */
export function runInExecutor<A extends unknown[], R>(loop: AbstractEventLoop, executor: ThreadPoolExecutor, fn: ThreadFunction<A, R>, args: A): Future<Awaited<R>> {
  if (loop.isClosed()) throw new RuntimeError('Event loop is closed');
  const spec = functionSpec(fn, 'runInExecutor');
  const fut = loop.createFuture<Awaited<R>>();
  // Rarely more than once: only if the chosen thread ended as the job was posted.
  for (let attempt = 1; !postJob(loop, executor, fut, spec, args); attempt++) {
    if (attempt === 3) throw new RuntimeError('runInExecutor: the worker threads keep ending as jobs are posted to them');
  }
  executor._pending.add(fut as Future<unknown>);
  return fut;
}

/** Post one job whose answer settles fut; false if the thread it went to ended without taking it. */
function postJob(loop: AbstractEventLoop, executor: ThreadPoolExecutor, fut: Future<unknown>, spec: FunctionSpec, args: unknown[]): boolean {
  const bridge = threadBridge(loop);
  const { port1, port2 } = new MessageChannel();
  let slot: WorkerSlot | null = null;
  const done = (): void => {
    unwatch();
    executor._pending.delete(fut);
    if (slot !== null) {
      slot.outstanding--;
      slot.unanswered.delete(fail);
    }
  };
  const fail = (err: Error): void => {
    // An answer posted before the thread ended wins (the loop may not have
    // read it yet: Node can report the exit first).
    const posted = receiveMessageOnPort(port1);
    done();
    if (loop.isClosed()) return;
    if (posted !== undefined) settle(fut, posted.message as Reply);
    else if (!fut.done()) fut.setException(err);
  };
  const unwatch = bridge.watch(port1, (message) => {
    done();
    // The thread says it is ending: no more jobs for it (Node reports its
    // exit only when its own event loop runs, which may be much later).
    if ((message as Reply).ok === false && (message as { workerExit?: unknown }).workerExit !== undefined && slot !== null) executor._retire(slot);
    settle(fut, message as Reply);
  });
  let wakeFd = -1;
  try {
    wakeFd = bridge.remoteWakeFd();
    slot = executor._post({ kind: 'job', fn: spec, args, port: port2, wakeFd }, [port2]);
  } catch (err) {
    unwatch();
    port2.close();
    if (wakeFd >= 0) native.close(wakeFd);
    if (err instanceof Error && err.name === 'DataCloneError') throw new TypeError(`runInExecutor: an argument cannot be sent to a worker thread: ${err.message}`);
    throw err;
  }
  if (slot === null) {
    // Not taken: the port went with the message, the wake fd is ours again.
    unwatch();
    native.close(wakeFd);
    return false;
  }
  slot.unanswered.add(fail);
  executor._pending.add(fut);
  return true;
}

function settle<T>(fut: Future<T>, reply: Reply): void {
  if (fut.done()) return; // cancelled meanwhile: the result is dropped
  if (reply.ok) fut.setResult(reply.value as T);
  else if (reply.workerExit !== undefined) {
    const code = reply.workerExit;
    if (reply.died === undefined) {
      fut.setException(new BrokenThreadPool(`the worker thread running this job ended (exit code ${code}) before the job finished; later jobs go to a new thread`, code));
    } else {
      const cause = reply.died.error !== undefined ? rebuildError(reply.died.error) : reply.died.thrown;
      const what = cause instanceof Error ? cause.message : String(cause);
      fut.setException(new BrokenThreadPool(`the worker thread running this job died of an uncaught exception: ${what} (exit code ${code}); later jobs go to a new thread`, code, { cause }));
    }
  } else if (reply.error !== undefined) fut.setException(rebuildError(reply.error));
  else fut.setException(reply.thrown);
}

/**
 * Run fn(...args) in a worker thread of the running loop's default executor
 * and return its result (asyncio.to_thread):
 *
 *     const digest = yield* toThread((data) => require('node:crypto').createHash('sha256').update(data).digest('hex'), bytes);
 *
 * @throws fn's error (rebuilt with its name, message, stack and code);
 *   TypeError for a function or arguments that cannot be sent to a worker;
 *   RuntimeError if no loop is running; CancelledError if cancelled (the
 *   job still runs to its end: threads cannot be interrupted).
 */
export function toThread<A extends unknown[], R>(fn: ThreadFunction<A, R>, ...args: A): Co<Awaited<R>>;
export function* toThread<A extends unknown[], R>(fn: ThreadFunction<A, R>, ...args: A): Coroutine<Awaited<R>> {
  const loop = getRunningLoop();
  return yield* loop.runInExecutor(null, fn, ...args);
}

// ---- messages from other threads to a loop --------------------------------------

/** What another thread needs to post to an Inbox: transfer `port` with it (see Inbox.sender). */
export interface InboxSenderData {
  /** The MessagePort messages travel on (list it in the transferList). */
  port: MessagePort;
  /** The fd that wakes the loop's poller (owned by the LoopSender made from this). */
  wakeFd: number;
}

/**
 * Messages from other threads, handed to `onMessage` from the loop (made by
 * loop.createInbox). Each other thread gets its own sender:
 *
 *     const inbox = loop.createInbox((msg) => console.log('from a worker:', msg));
 *     const sender = inbox.sender();
 *     new Worker(file, { workerData: { sender }, transferList: [sender.port] });
 *     // in the worker (which imports coio):
 *     const out = new LoopSender(workerData.sender);
 *     out.send({ progress: 0.5 });
 *     out.close();
 *
 * While an inbox is open the loop waits for it (it does not report "would
 * wait forever"); close() it when done.
 */
export class Inbox<T = unknown> {
  private readonly unwatchers: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly loop: AbstractEventLoop,
    private readonly onMessage: (message: T) => void,
  ) {
    if (typeof onMessage !== 'function') throw new TypeError('createInbox: onMessage must be a function');
  }

  /**
   * A sender for one other thread; it owns `wakeFd` (LoopSender.close closes it).
   * @throws RuntimeError if the inbox is closed.
   */
  sender(): InboxSenderData {
    if (this.closed) throw new RuntimeError('Inbox is closed');
    const bridge = threadBridge(this.loop);
    const { port1, port2 } = new MessageChannel();
    this.unwatchers.push(bridge.watch(port1, (message) => this.onMessage(message as T)));
    return { port: port2, wakeFd: bridge.remoteWakeFd() };
  }

  /** Stop receiving (later messages are dropped). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const unwatch of this.unwatchers.splice(0)) unwatch();
  }
}

/** The other thread's end of an Inbox (any thread that imports coio). */
export class LoopSender {
  private port: MessagePort | null;
  private readonly wakeFd: number;

  /**
   * In the other thread: wrap what Inbox.sender() returned (its port transferred).
   * @throws TypeError for anything else.
   */
  constructor(data: InboxSenderData) {
    if (typeof data !== 'object' || data === null || typeof data.wakeFd !== 'number' || typeof data.port?.postMessage !== 'function') {
      throw new TypeError('LoopSender: pass the object Inbox.sender() returned (with its port transferred)');
    }
    this.port = data.port;
    this.wakeFd = data.wakeFd;
  }

  /**
   * Post message (structured-cloned; `transfer` as postMessage) and wake the loop.
   * @throws RuntimeError once closed; DataCloneError for a message that cannot be cloned.
   */
  send(message: unknown, transfer?: TransferListItem[]): void {
    if (this.port === null) throw new RuntimeError('LoopSender is closed');
    this.port.postMessage(message, transfer);
    wakeRemote(this.wakeFd);
  }

  /** Close the port and the wake fd. Idempotent. */
  close(): void {
    if (this.port === null) return;
    this.port.close();
    this.port = null;
    closeRemoteWakeFd(this.wakeFd);
  }
}
