// The event loop's contract and what it hands out (asyncio's events module):
// AbstractEventLoop, the interface every loop implements and every layer
// above the core is typed against; AbstractServer; Handles (what callSoon /
// callLater return); and the per-thread "which loop" state. Module state
// here is per thread for free: each worker_thread has its own module
// instances.
//
// This module is the bottom of the loop core: it imports only leaves (no
// Future, Task or loop class) and the networking interfaces (transports,
// protocols, sockets), never a module that implements networking. The
// modules above import downward only:
//
//     events.ts <- futures.ts <- async_tasks.ts <- tasks.ts <- base_events.ts
//
// (unretrieved.ts, microtasks.ts and timer_heap.ts are leaves below it).
// What the contract says of Futures and Tasks it says through interfaces
// declared here (FutureLike, TaskLike); what the core modules need of the
// loop class, through LoopCore. The loop classes (base_events.ts ->
// selector_events.ts -> network_events.ts -> unix_events.ts -> loop.ts)
// implement the interfaces; transports, servers, streams, threads and
// subprocesses take an AbstractEventLoop, so a loop of another kind (a
// completion-based one over io_uring, say) can run them by implementing the
// same interface.

import type { FileHandle } from 'node:fs/promises';
import { RuntimeError } from './errors.js';
import { _EMPTY_VARS, _enter, _leave, contextState } from './contextvars.js';
import type { Context } from './contextvars.js';
import type { Coroutine, Co } from './coroutines.js';
import type { MicrotaskHost } from './microtasks.js';
import type { TimerHeap } from './timer_heap.js';
import type { InetAddress, SockAddress, UnixAddress } from './native.js';
import type { BaseProtocol, DatagramProtocol, Protocol, SubprocessProtocol } from './protocols.js';
import type { FileObj } from './selectors.js';
import type { NodeTlsOptions, SSLContext } from './ssl.js';
import type { AddressLike, Socket } from './socket.js';
import type { DatagramTransport, ReadTransport, SubprocessTransport, Transport, WriteTransport } from './transports.js';
import type { Unretrieved } from './unretrieved.js';

// ---------------------------------------------------------------------------
// Futures and Tasks as the contract names them.
//
// futures.ts and tasks.ts build on this module, so it cannot import them.
// The contract names them through FutureOf<T> / TaskOf<T>: the classes
// Future<T> and Task<T> once those modules are loaded (each registers its
// class in CoreClasses below, by declaration merging: an import of this
// module, downward), and the interfaces FutureLike<T> / TaskLike<T> while
// they are not (when this module, or a module of the core below tasks.ts,
// is compiled on its own: `npm run lint` does that, scripts/check-layers.mjs,
// so nothing here or below can depend on the classes above it). Users always see the classes:
// `getRunningLoop().createFuture<number>()` is a Future<number>.

/** What the loop's contract relies on in a Future (asyncio.Future's public methods); Future implements it. */
export interface FutureLike<T = unknown> extends Iterator<unknown, T, unknown>, PromiseLike<T> {
  /** The loop the Future belongs to. */
  getLoop(): AbstractEventLoop;
  /** True once it has a result or an exception, or was cancelled. */
  done(): boolean;
  /** True if it was cancelled. */
  cancelled(): boolean;
  /** The result (throws the exception, CancelledError, or InvalidStateError while pending). */
  result(): T;
  /** The exception, undefined if it has a result (throws CancelledError, or InvalidStateError while pending). */
  exception(): unknown;
  /** Cancel it if pending. */
  cancel(msg?: unknown): boolean;
  /** Call fn(future) from the loop once it is done. */
  addDoneCallback(fn: (fut: FutureLike<T>) => void): void;
  /** Remove every registration of fn; how many were removed. */
  removeDoneCallback(fn: (fut: FutureLike<T>) => void): number;
  /** The await protocol: `yield* fut`. */
  [Symbol.iterator](): Iterator<unknown, T, unknown>;
  /** `await fut` in async functions. */
  then<R1 = T, R2 = never>(onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null, onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R1 | R2>;
}

/** What the loop's contract relies on in a Task (asyncio.Task's public methods); Task implements it. */
export interface TaskLike<T = unknown> extends FutureLike<T> {
  /** The coroutine it drives. */
  getCoro(): Coroutine<T>;
  /** Its name. */
  getName(): string;
  /** Rename it. */
  setName(value: unknown): void;
  /** The Context it runs in. */
  getContext(): Context;
  /** How many cancellation requests are pending. */
  cancelling(): number;
  /** Withdraw one cancellation request; how many remain. */
  uncancel(): number;
}

/**
 * @internal The classes the contract names, registered by the modules that
 * define them (futures.ts: `future`, tasks.ts: `task`) with
 * `declare module './events.js' { interface CoreClasses<T> { ... } }`.
 * Empty here on purpose: see FutureOf.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- T is used by the declarations merged in.
export interface CoreClasses<T> {}

/** Future<T> (futures.ts) where that module is loaded, else FutureLike<T>: the Future type the contract names. */
export type FutureOf<T> = CoreClasses<T> extends { future: infer F extends FutureLike<T> } ? F : FutureLike<T>;
/** Task<T> (tasks.ts) where that module is loaded, else TaskLike<T>: the Task type the contract names. */
export type TaskOf<T> = CoreClasses<T> extends { task: infer K extends TaskLike<T> } ? K : TaskLike<T>;

/** What can be awaited with `yield*`: a coroutine or a Future (Task). */
export type Awaitable<T = unknown> = FutureOf<T> | Coroutine<T>;
/**
 * What the combinators (gather, shield, waitFor, asCompleted) and
 * ensureFuture accept: an Awaitable or a promise (any thenable, such as an
 * async function's promise; see async_tasks.ts). To `yield*` a promise
 * inside a coroutine, wrap it: `yield* ensureFuture(promise)`.
 */
export type AnyAwaitable<T = unknown> = Awaitable<T> | PromiseLike<T>;
/**
 * What createTask, ensureFuture and run accept: an awaitable, or a function
 * returning one (an async function, a generator function), which the Task
 * calls on its first step. A function is the form whose Task is cancellable
 * at its awaits (async_tasks.ts).
 */
export type TaskInput<T = unknown> = AnyAwaitable<T> | (() => AnyAwaitable<T>);

// ---------------------------------------------------------------------------
// What the exception handler and the task factory see.

/** What the exception handler receives: a message and whatever objects explain it. */
export interface ExceptionContext {
  /** What happened, in a sentence (e.g. 'Exception in callback cb()'). */
  message: string;
  /** The error, if the report is about one. */
  exception?: unknown;
  /**
   * The Future whose exception was never retrieved, if any; once that Future
   * was garbage-collected (the usual time of the report), how it looked: a
   * string such as '<Task finished exception=Error: x name="Task-3">'.
   */
  future?: FutureOf<unknown> | string;
  /** The Task concerned (a failed step, a task destroyed while pending), if any. */
  task?: TaskOf<unknown>;
  /** The callback's Handle, for an exception thrown by a callback. */
  handle?: Handle;
  /** Debug mode: the stack where the Future / Task concerned was created, or the Handle scheduled. */
  sourceTraceback?: string;
  /**
   * @deprecated Use sourceTraceback. The same value under asyncio's snake_case
   * key, still set on the loop's contexts (not enumerable, so a handler that
   * lists the keys sees the traceback once).
   */
  source_traceback?: string;
  [key: string]: unknown;
}

/** What setExceptionHandler takes: called with the loop and the report; it should not throw (if it does, both its error and the report go to defaultExceptionHandler). */
export type ExceptionHandler = (loop: AbstractEventLoop, context: ExceptionContext) => void;

/** Options of createTask / loop.createTask / TaskGroup.createTask. */
export interface TaskOptions {
  /** The task's name (default 'Task-N'). */
  name?: string;
  /** The Context the task runs in (default: a copy of the current one). */
  context?: Context;
}

/** The options callSoon, callLater and callAt take before the callback (asyncio's context= keyword). */
export interface CallOptions {
  /** The Context the callback runs in (default: a copy of the one current when it is scheduled). */
  context?: Context;
}

/** What setTaskFactory takes: makes the Task for createTask (e.g. a Task subclass). Must return a Task of `loop` running `coro`. */
export type TaskFactory = (loop: AbstractEventLoop, coro: Coroutine<unknown>, options: TaskOptions) => TaskOf<unknown>;

// ---------------------------------------------------------------------------
// Options of the networking and subprocess methods.

/** TLS options of the connection and server functions (asyncio's ssl, server_hostname, ssl_handshake_timeout, ssl_shutdown_timeout). */
export interface TlsOptions {
  /**
   * Speak TLS: an SSLContext, a plain object of Node's tls options (key,
   * cert, ca, passphrase, ALPNProtocols, rejectUnauthorized, requestCert,
   * servername, minVersion, maxVersion, ciphers), or (clients) true for
   * createDefaultContext().
   */
  ssl?: SSLContext | NodeTlsOptions | boolean | null;
  /** Clients: the host name to verify and to send as SNI; default the host connected to. '' turns both off. */
  serverHostname?: string | null;
  /** Seconds the handshake may take before the connection is aborted (default 60). */
  sslHandshakeTimeout?: number;
  /** Seconds to wait for the peer's close_notify before closing anyway (default 30). */
  sslShutdownTimeout?: number;
}


/** Options of loop.startTls and writer.startTls. */
export interface StartTlsOptions {
  /** loop.startTls: the server side of the handshake (default false). */
  serverSide?: boolean;
  /** Clients: the host name to verify and send as SNI (required while the context checks host names). */
  serverHostname?: string | null;
  /** Seconds the handshake may take (default 60). */
  sslHandshakeTimeout?: number;
  /** Seconds to wait for the peer's close_notify when closing (default 30). */
  sslShutdownTimeout?: number;
}

/** Options of loop.createServer and startServer (and, partly, of the Unix servers). */
/**
 * TCP keep-alive: true for SO_KEEPALIVE with the system's timing, or the
 * timing in seconds / probes (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT; an
 * ENOPROTOOPT error where the OS has not that one).
 */
export type KeepAliveOption = boolean | { idle?: number; interval?: number; count?: number };

export interface CreateServerOptions extends TlsOptions {
  /** Keep-alive on every accepted connection (asyncio 3.13's keep_alive). */
  keepAlive?: KeepAliveOption;
  /**
   * Serve this socket instead of making one (host and port must then be
   * null): a coio Socket, or an fd (socket activation, one passed by a
   * parent), bound already; it is put in listening state with `backlog`.
   * The server owns it from then on.
   */
  sock?: Socket | number;
  /** listen() backlog, also the most connections accepted per readiness event. Default 100 (asyncio's). */
  backlog?: number;
  /** SO_REUSEADDR; default true, as asyncio on POSIX. */
  reuseAddress?: boolean;
  /** SO_REUSEPORT: several processes (each with its own loop) share the port. */
  reusePort?: boolean;
  /** Start accepting at once (default true), or wait for startServing()/serveForever(). */
  startServing?: boolean;
  /** AF_INET / AF_INET6 to restrict resolution; default both. */
  family?: number;
  /** getaddrinfo's AI_* flags for the hosts (default AI_PASSIVE, as asyncio). */
  flags?: number;
  /** getaddrinfo's proto: 0 or IPPROTO_TCP. */
  proto?: number;
}

/** Options of loop.createConnection and openConnection. */
export interface CreateConnectionOptions extends TlsOptions {
  /** Keep-alive on the connection. */
  keepAlive?: KeepAliveOption;
  /** Use this connected socket (a coio Socket or an fd) instead of connecting (host and port must then be null); the transport owns it. */
  sock?: Socket | number;
  /** AF_INET or AF_INET6 to restrict resolution; default both (tried in getaddrinfo's order). */
  family?: number;
  /** getaddrinfo's AI_* flags for host (default 0) and localAddr (with AI_PASSIVE added: a null local host binds "any"). */
  flags?: number;
  /** getaddrinfo's proto: 0 or IPPROTO_TCP. */
  proto?: number;
  /** Local address to bind before connecting (a host name is resolved; the first address of each attempt's family that binds is used). */
  localAddr?: readonly [string, number];
  /**
   * Happy Eyeballs (RFC 8305): seconds to wait for one address's connect
   * before starting the next in parallel (0.25 is the RFC's advice). Default
   * null: one address after another, each until the kernel gives up.
   */
  happyEyeballsDelay?: number | null;
  /**
   * Reorder the resolved addresses by family: this many of the first
   * family, then one of each family in turn. Default 1 with
   * happyEyeballsDelay, else 0 (getaddrinfo's order).
   */
  interleave?: number;
  /** When every address fails: an ExceptionGroup of every attempt's error instead of one error. */
  allErrors?: boolean;
}

/** Options of loop.createUnixServer and startUnixServer. */
export type CreateUnixServerOptions = Pick<CreateServerOptions, 'backlog' | 'startServing' | 'ssl' | 'sslHandshakeTimeout' | 'sslShutdownTimeout' | 'sock'> & {
  /**
   * Remove the socket file when the server closes (default true, as asyncio
   * 3.13): only if the path still names the file this server bound (same
   * device and inode), never one a newer server made there. Abstract names
   * ('\0...') have no file.
   */
  cleanupSocket?: boolean;
};

/** Options of loop.createUnixConnection and openUnixConnection: TLS only (serverHostname is required with ssl, as there is no host name). */
export type CreateUnixConnectionOptions = TlsOptions & Pick<CreateConnectionOptions, 'sock'>;

/** Options of loop.createDatagramEndpoint. */
export interface DatagramEndpointOptions {
  /** Use this datagram socket (a coio Socket or an fd), bound or connected already, instead of making one; no address options then. */
  sock?: Socket | number;
  /** [host, port] to bind (or a path for family AF_UNIX). */
  localAddr?: readonly [string, number] | string;
  /** [host, port] to connect to: sendto() then takes no address. */
  remoteAddr?: readonly [string, number] | string;
  /** AF_INET, AF_INET6 or AF_UNIX; default: from the addresses (AF_INET if neither says). */
  family?: number;
  /** getaddrinfo's AI_* flags for remoteAddr (default 0) and localAddr (with AI_PASSIVE added: a null local host binds "any"). */
  flags?: number;
  /** getaddrinfo's proto: 0 or IPPROTO_UDP. */
  proto?: number;
  /**
   * Refused when true (a TypeError, code ERR_INVALID_ARG_VALUE), as asyncio
   * 3.8+ refuses it: SO_REUSEADDR on UDP lets another socket bind the same
   * address and take a share of the datagrams. Use reusePort.
   */
  reuseAddress?: false;
  /** SO_REUSEPORT: several sockets share the port (default false). */
  reusePort?: boolean;
  /** SO_BROADCAST: allow sending to broadcast addresses (default false). */
  allowBroadcast?: boolean;
}

/** One address from loop.getaddrinfo. */
export interface AddrInfo {
  /** AF_INET or AF_INET6. */
  family: number;
  /** SOCK_STREAM or SOCK_DGRAM. */
  type: number;
  /** The numeric address, e.g. '93.184.215.14' or '2606:2800::1'. */
  host: string;
  /** The port. */
  port: number;
}

/** Options of loop.getaddrinfo. */
export interface GetaddrinfoOptions {
  /** AF_INET, AF_INET6 or 0 (both). */
  family?: number;
  /** SOCK_STREAM (the default) or SOCK_DGRAM. */
  type?: number;
  /** 0 (the default), IPPROTO_TCP with SOCK_STREAM or IPPROTO_UDP with SOCK_DGRAM. */
  proto?: number;
  /** AI_* flags: AI_PASSIVE, AI_NUMERICHOST, AI_NUMERICSERV, AI_ADDRCONFIG, AI_V4MAPPED, AI_ALL (AI_CANONNAME is refused). */
  flags?: number;
}

/** What loop.getnameinfo takes: Python's (host, port) tuple (or (host, port, flowinfo, scopeId)), or the InetAddress coio returns. */
export type NameinfoAddress = readonly [string, number] | readonly [string, number, number, number] | { readonly address: string; readonly port: number };

/** What loop.sockSendfile and loop.sendfile send from: an fd, or a FileHandle (fs.promises.open). */
export type SendfileFile = number | FileHandle;

/** Options of loop.sockSendfile and loop.sendfile. */
export interface SendfileOptions {
  /**
   * Read and send when the sendfile syscall cannot be used (a TLS or pipe
   * transport, a file that is not a regular file, a build without the
   * call). Default true; false raises SendfileNotAvailableError instead.
   */
  fallback?: boolean;
}

/** A signal: its name ('SIGINT') or its number. */
export type Signal = NodeJS.Signals | number;

/**
 * Where a child's stdin / stdout / stderr goes: PIPE (-1), DEVNULL (-3),
 * STDOUT (-2, stderr only), 'inherit' (or null / undefined: the same as
 * ours), or an fd of ours (a non-negative integer; it stays ours).
 */
export type StdioOption = -1 | -2 | -3 | 'inherit' | null | undefined | number;

/** Options of loop.subprocessExec / subprocessShell: the child's stdio, directory and environment. */
export interface SubprocessOptions {
  /** Where the child's stdin comes from (see StdioOption). */
  stdin?: StdioOption;
  /** Where the child's stdout goes. */
  stdout?: StdioOption;
  /** Where the child's stderr goes (STDOUT: with stdout). */
  stderr?: StdioOption;
  /** The child's working directory (default: ours). */
  cwd?: string;
  /** The child's whole environment (default: process.env). Also where PATH is looked up. */
  env?: Record<string, string | undefined>;
}

/** @internal The brand that tells a WorkerFunction from a plain function. */
export const WORKER_FUNCTION = Symbol('coio.workerFunction');

/** A function a worker imports: made by workerFunction() (threads.ts). */
export interface WorkerFunction<A extends unknown[] = unknown[], R = unknown> {
  /** @internal The brand that tells a WorkerFunction from a plain function. */
  readonly [WORKER_FUNCTION]: true;
  /** The module's URL (file: URLs for paths). */
  readonly module: string;
  /** The export to call. */
  readonly exportName: string;
  /** Type only: the function's signature. */
  readonly __signature?: (...args: A) => R;
}

/** What can run in a worker thread. */
export type ThreadFunction<A extends unknown[], R> = ((...args: A) => R) | WorkerFunction<A, R>;

/** What runs functions in worker threads for runInExecutor (asyncio's concurrent.futures.Executor): a ThreadPoolExecutor. */
export interface Executor {
  /** Stop taking jobs; resolves once the running ones have finished and the threads are gone. */
  shutdown(): Promise<void>;
}

// ---------------------------------------------------------------------------
// The contract.

/**
 * A server's public face (asyncio's AbstractServer): what createServer and
 * startServer return.
 */
export interface AbstractServer<A extends SockAddress = SockAddress> {
  /** The listening sockets ([] once closed). */
  readonly sockets: readonly Socket[];
  /** The loop the server runs on. */
  getLoop(): AbstractEventLoop;
  /** True while it accepts connections. */
  isServing(): boolean;
  /** The addresses it listens on: InetAddress for a TCP server, UnixAddress for a Unix one. */
  addresses(): A[];
  /** Start accepting connections (idempotent). */
  startServing(): void;
  /** Accept until cancelled (then close). */
  serveForever(): Co<void>;
  /** Stop listening; open connections stay. */
  close(): void;
  /** Close every connection the server accepted. */
  closeClients(): void;
  /** Abort every connection the server accepted. */
  abortClients(): void;
  /** Wait until the server is closed and its connections are gone. */
  waitClosed(): Co<void>;
}

/**
 * The event loop's public contract (asyncio's AbstractEventLoop): what
 * getRunningLoop(), getEventLoop(), Future.getLoop() and the networking
 * layers rely on. EventLoop (loop.ts) implements it over readiness
 * selectors; the documentation of each method is on the class.
 */
export interface AbstractEventLoop {
  // Running and stopping.
  runForever(): void;
  runUntilComplete<T>(future: Awaitable<T> | TaskInput<T>): T;
  stop(): void;
  isRunning(): boolean;
  isClosed(): boolean;
  close(): void;

  // Scheduling callbacks and timers.
  time(): number;
  callSoon<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;
  callSoon<A extends unknown[]>(options: CallOptions, callback: (...args: A) => unknown, ...args: A): Handle;
  callLater<A extends unknown[]>(delay: number, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callLater<A extends unknown[]>(delay: number, options: CallOptions, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callAt<A extends unknown[]>(when: number, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callAt<A extends unknown[]>(when: number, options: CallOptions, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callSoonThreadsafe<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;

  // Futures and Tasks.
  createFuture<T = unknown>(): FutureOf<T>;
  createTask<T>(input: TaskInput<T>, options?: TaskOptions): TaskOf<T>;
  setTaskFactory(factory: TaskFactory | null): void;
  getTaskFactory(): TaskFactory | null;

  // Errors and debug mode.
  setExceptionHandler(handler: ExceptionHandler | null): void;
  getExceptionHandler(): ExceptionHandler | null;
  defaultExceptionHandler(context: ExceptionContext): void;
  callExceptionHandler(context: ExceptionContext): void;
  setDebug(enabled: boolean): void;
  getDebug(): boolean;

  // Readiness of file descriptors (a completion-based loop may refuse these, as asyncio's proactor does).
  addReader<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle;
  removeReader(fd: FileObj): boolean;
  addWriter<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle;
  removeWriter(fd: FileObj): boolean;
  /** @internal The same, for the transport that owns fd (the public four refuse an fd an open transport owns). */
  _addReader<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle;
  /** @internal */ _removeReader(fd: FileObj): boolean;
  /** @internal */ _addWriter<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle;
  /** @internal */ _removeWriter(fd: FileObj): boolean;
  /** @internal A transport claims fd until it closes (asyncio's loop._transports). */
  _attachTransport(sock: Socket, transport: { isClosing(): boolean }): void;
  /** @internal */ _detachTransport(fd: number, transport: { isClosing(): boolean }): void;

  // Sockets.
  sockRecv(sock: Socket, n: number): Co<Buffer>;
  sockRecvInto(sock: Socket, buf: Uint8Array, nbytes?: number): Co<number>;
  sockSendall(sock: Socket, data: Uint8Array | string): Co<void>;
  sockAccept(sock: Socket): Co<[Socket, SockAddress]>;
  sockConnect(sock: Socket, address: AddressLike): Co<void>;
  sockRecvfrom(sock: Socket, n: number): Co<[Buffer, SockAddress]>;
  sockSendto(sock: Socket, data: Uint8Array | string, address: AddressLike): Co<number>;
  sockSendfile(sock: Socket, file: SendfileFile, offset?: number, count?: number | null, options?: SendfileOptions): Co<number>;
  getaddrinfo(host: string | null | undefined, port: number, options?: GetaddrinfoOptions): Co<AddrInfo[]>;
  getnameinfo(sockaddr: NameinfoAddress, flags?: number): Co<[string, string]>;

  // Servers and connections.
  createServer(protocolFactory: () => BaseProtocol, host: string | readonly string[] | null | undefined, port: number | null | undefined, options?: CreateServerOptions): Co<AbstractServer<InetAddress>>;
  createConnection<P extends BaseProtocol>(protocolFactory: () => P, host: string | null | undefined, port: number | null | undefined, options?: CreateConnectionOptions): Co<[Transport, P]>;
  connectAcceptedSocket<P extends BaseProtocol>(protocolFactory: () => P, sock: Socket | number, options?: TlsOptions): Co<[Transport, P]>;
  createUnixServer(protocolFactory: () => BaseProtocol, path: string | null | undefined, options?: CreateUnixServerOptions): Co<AbstractServer<UnixAddress>>;
  createUnixConnection<P extends BaseProtocol>(protocolFactory: () => P, path: string | null | undefined, options?: CreateUnixConnectionOptions): Co<[Transport, P]>;
  startTls(transport: Transport, protocol: BaseProtocol, sslContext: SSLContext, options?: StartTlsOptions): Co<Transport>;
  sendfile(transport: WriteTransport, file: SendfileFile, offset?: number, count?: number | null, options?: SendfileOptions): Co<number>;
  createDatagramEndpoint<P extends DatagramProtocol>(protocolFactory: () => P, options?: DatagramEndpointOptions): Co<[DatagramTransport, P]>;

  // Pipes and subprocesses.
  connectReadPipe<P extends Protocol>(protocolFactory: () => P, fd: number): Co<[ReadTransport, P]>;
  connectWritePipe<P extends BaseProtocol>(protocolFactory: () => P, fd: number): Co<[WriteTransport, P]>;
  subprocessExec<P extends SubprocessProtocol>(protocolFactory: () => P, program: string, args?: readonly string[], options?: SubprocessOptions): Co<[SubprocessTransport, P]>;
  subprocessShell<P extends SubprocessProtocol>(protocolFactory: () => P, cmd: string, options?: SubprocessOptions): Co<[SubprocessTransport, P]>;

  // Threads.
  runInExecutor<A extends unknown[], R>(executor: Executor | null, fn: ThreadFunction<A, R>, ...args: A): FutureOf<Awaited<R>>;
  setDefaultExecutor(executor: Executor): void;
  shutdownDefaultExecutor(timeout?: number | null): Co<void>;

  // Signals.
  addSignalHandler<A extends unknown[]>(sig: Signal, callback: (...args: A) => unknown, ...args: A): void;
  removeSignalHandler(sig: Signal): boolean;
}

/**
 * @internal An entry of the loop's ready queue: a Handle, or a Task whose
 * next step is due (a Task schedules itself without allocating a Handle).
 */
export interface Runnable {
  _run(): void;
}

/**
 * @internal What the core modules (Handles, Futures, Tasks, the "which
 * loop" state, async functions) need of a loop beyond the public contract:
 * the ready queue, the task list, debug mode. BaseEventLoop implements it,
 * and every loop coio makes extends BaseEventLoop (see _baseLoop).
 */
export interface LoopCore extends AbstractEventLoop, MicrotaskHost {
  /** @internal Debug mode (getDebug()), read on hot paths. */
  _debug: boolean;
  /** @internal The Task whose step is running, or null (currentTask()). */
  _currentTask: TaskOf<unknown> | null;
  /** @internal Pending Tasks of this loop (allTasks()). */
  readonly _tasks: readonly TaskOf<unknown>[];
  /** @internal Failed Futures whose exception nobody retrieved yet (unretrieved.ts). */
  readonly _unretrievedFailures: Unretrieved<FutureOf<unknown>>;
  /** @internal The timers by (when, seq) (formatTasks shows what a Task sleeps on). */
  readonly _scheduled: TimerHeap<TimerHandle>;
  /** @internal Schedule a Runnable (a Task's step) without a Handle. */
  _pushReady(r: Runnable): void;
  /** @internal Called by TimerHandle.cancel while the timer is in the heap. */
  _timerHandleCancelled(): void;
  /** @internal RuntimeError('Event loop is closed') once closed. */
  _checkClosed(): void;
  /** @internal A new Task joins the pending ones. */
  _registerTask(task: TaskOf<unknown>): void;
  /** @internal A Task is done (or the loop closes): it leaves the pending ones. */
  _unregisterTask(task: TaskOf<unknown>): void;
}

/** A callback for callSoon / callLater / callAt / addReader: called with the arguments given there. */
// any, not unknown: a callback with typed parameters, (n: number) => void, must fit.
export type Callback = (...args: any[]) => unknown;

const NO_ARGS: readonly unknown[] = Object.freeze([]);

/**
 * @internal Record where an object was created or scheduled on an exception
 * context: `sourceTraceback`, plus the deprecated `source_traceback` alias,
 * not enumerable so the default handler and key-listing handlers see it once.
 */
export function _setSourceTraceback(context: ExceptionContext, traceback: string): void {
  context.sourceTraceback = traceback;
  Object.defineProperty(context, 'source_traceback', { value: traceback, writable: true, configurable: true, enumerable: false });
}

/** A callback scheduled by callSoon (or an fd callback of addReader / addWriter). */
export class Handle implements Runnable {
  /** @internal */ _callback: Callback | null;
  /** @internal */ _args: readonly unknown[] | null;
  /** @internal */ _cancelled = false;
  /** @internal */ readonly _loop: LoopCore;
  /** @internal Where it was scheduled, kept in debug mode for the exception handler. */
  _sourceTraceback: string | undefined = undefined;
  /**
   * @internal The Context given (callSoon's { context }), or null: a copy of
   * _vars (contextvars.ts). Own property only once a ContextVar exists;
   * before that the prototype's null stands in.
   */
  declare _context: Context | null;
  /** @internal The values of the Context current when it was scheduled (the prototype's empty map before any ContextVar exists). */
  declare readonly _vars: Context['_vars'];

  constructor(callback: Callback, args: readonly unknown[], loop: LoopCore, context: Context | null = null) {
    this._callback = callback;
    this._args = args.length === 0 ? NO_ARGS : args;
    this._loop = loop;
    // Until a ContextVar exists no Context can be observed (every map is
    // empty, and _run does not switch): a Handle then carries no context
    // fields at all, so callSoon costs what it did before contextvars.
    if (contextState.on) {
      this._context = context;
      this._vars = contextState.current._vars;
    }
    if (loop._debug) this._sourceTraceback = new Error('scheduled here').stack;
  }

  /** Do not run the callback. Idempotent; a no-op once it has run. */
  cancel(): void {
    if (this._cancelled) return;
    this._cancelled = true;
    // Drop the references: a cancelled handle may sit in a queue for a while.
    this._callback = null;
    this._args = null;
  }

  /** True once cancel() was called. Never throws. */
  cancelled(): boolean {
    return this._cancelled;
  }

  /** @internal Called by the loop's runOnce only. */
  _run(): void {
    if (this._cancelled) return;
    const cb = this._callback!;
    const args = this._args!;
    // In its Context: a copy of the scheduler's (free until it sets a
    // variable), or the one given; only once a ContextVar exists (contextvars.ts).
    if (contextState.on) {
      this._runIn();
      return;
    }
    try {
      // Spreading an empty or one-element array is measurably slower than a direct call.
      if (args.length === 0) cb();
      else if (args.length === 1) cb(args[0]);
      else cb(...args);
    } catch (exc) {
      const context: ExceptionContext = { message: `Exception in callback ${this._describe()}`, exception: exc, handle: this };
      if (this._sourceTraceback !== undefined) _setSourceTraceback(context, this._sourceTraceback);
      this._loop.callExceptionHandler(context);
    }
  }

  private _runIn(): void {
    const outer = _enter(this, this._vars);
    const cb = this._callback!;
    const args = this._args!;
    try {
      if (args.length === 0) cb();
      else if (args.length === 1) cb(args[0]);
      else cb(...args);
    } catch (exc) {
      const context: ExceptionContext = { message: `Exception in callback ${this._describe()}`, exception: exc, handle: this };
      if (this._sourceTraceback !== undefined) _setSourceTraceback(context, this._sourceTraceback);
      this._loop.callExceptionHandler(context);
    } finally {
      _leave(this, outer);
    }
  }

  /** @internal "name(args)" for messages. */
  _describe(): string {
    if (this._callback === null) return '<cancelled>';
    const name = this._callback.name || '<anonymous>';
    return `${name}(${this._args!.map(describeValue).join(', ')})`;
  }

  toString(): string {
    return `<${this.constructor.name} ${this._cancelled ? 'cancelled' : this._describe()}>`;
  }
}

// The stand-ins for a Handle made before any ContextVar existed (see its constructor).
Object.defineProperty(Handle.prototype, '_context', { value: null, writable: true, configurable: true });
Object.defineProperty(Handle.prototype, '_vars', { value: _EMPTY_VARS, writable: true, configurable: true });

/** A callback scheduled at a loop time (callLater / callAt). */
export class TimerHandle extends Handle {
  /** @internal */ readonly _when: number;
  /** @internal Tie-breaker: timers due at the same time run in the order they were scheduled. */
  readonly _seq: number;
  /** @internal True while in the loop's timer heap. */
  _scheduled = false;

  constructor(when: number, seq: number, callback: Callback, args: readonly unknown[], loop: LoopCore, context: Context | null = null) {
    super(callback, args, loop, context);
    this._when = when;
    this._seq = seq;
  }

  /** The loop time (seconds) at which the callback is due. */
  when(): number {
    return this._when;
  }

  override cancel(): void {
    if (this._cancelled) return;
    // The heap drops it lazily; the loop counts it to know when to rebuild.
    if (this._scheduled) this._loop._timerHandleCancelled();
    super.cancel();
  }

  override toString(): string {
    return `<TimerHandle when=${this._when} ${this._cancelled ? 'cancelled' : this._describe()}>`;
  }
}

/** @internal A short, safe description of a value for messages. */
export function describeValue(v: unknown): string {
  if (typeof v === 'function') return v.name || '<anonymous>';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (v === null || typeof v !== 'object') return String(v);
  try {
    const s = String(v);
    return s === '[object Object]' ? `<${v.constructor?.name ?? 'Object'}>` : s;
  } catch {
    return '<object>';
  }
}

// ---------------------------------------------------------------------------
// Which loop: the running one (set by runForever), and the one set with
// setEventLoop (what getEventLoop returns outside a running loop).

let runningLoop: LoopCore | null = null;
let currentLoop: LoopCore | null = null;

/**
 * The loop running in this thread (inside run(), runUntilComplete, runForever or runGuest).
 * @throws RuntimeError if no loop is running.
 */
export function getRunningLoop(): AbstractEventLoop {
  return _getRunningLoopOrThrow();
}

/**
 * @internal The internals behind an AbstractEventLoop. Every loop coio
 * makes extends BaseEventLoop, which implements LoopCore (a loop of another
 * kind would extend it too, as asyncio's proactor loop extends its
 * BaseEventLoop); the core functions that take a loop from the caller
 * (allTasks, currentTask, ensureFuture, new Future(loop), ...) and need its
 * internals (the task list, the ready queue) narrow it here, once: the one
 * cast of the core, sound by that rule.
 */
export function _baseLoop(loop: AbstractEventLoop): LoopCore {
  return loop as LoopCore;
}

/** @internal getRunningLoop() typed with the loop's internals, for the core modules that use its internals. */
export function _getRunningLoopOrThrow(): LoopCore {
  if (runningLoop === null) throw new RuntimeError('no running event loop');
  return runningLoop;
}

/** @internal The running loop or null (no throw: for hot paths and checks). */
export function _getRunningLoop(): LoopCore | null {
  return runningLoop;
}

/** @internal Called by runForever on entry (loop) and exit (null). */
export function _setRunningLoop(loop: LoopCore | null): void {
  runningLoop = loop;
}

/** @internal The loop set with setEventLoop, or null. */
export function _getSetLoop(): LoopCore | null {
  return currentLoop;
}

/** @internal */
export function _setSetLoop(loop: LoopCore | null): void {
  currentLoop = loop;
}

/**
 * @internal The loop a new Future / Task binds to when none is given: the
 * running loop, else the loop set with setEventLoop. Never creates one (that
 * is getEventLoop's job, in loop.ts, which this layer must not import).
 */
export function _loopForNewFuture(): LoopCore {
  const loop = runningLoop ?? currentLoop;
  if (loop === null) throw new RuntimeError('no running event loop and none set: pass a loop, or call setEventLoop()');
  return loop;
}
