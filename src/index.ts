// The public API of coio: an explicit export list, nothing else.
//
// The reference below is emitted into dist/*/index.d.ts: coio's types use
// Node's (Buffer, NodeJS.ErrnoException), and a project whose tsconfig
// lists no global types ("types": [], TypeScript 7's default) still gets
// them from the @types/node coio depends on, instead of `any`.
/// <reference types="node" preserve="true" />

export { CancelledError, TimeoutError, InvalidStateError, RuntimeError, ExceptionGroup, SendfileNotAvailableError } from './errors.js';
export { Handle, TimerHandle, getRunningLoop } from './events.js';
export type { AbstractEventLoop, AbstractServer, Callback, CallOptions } from './events.js';
export { Future, isFuture } from './futures.js';
export type { DoneCallback } from './futures.js';
export { Task, createTask, ensureFuture, currentTask, allTasks, sleep, eagerTaskFactory, createEagerTaskFactory } from './tasks.js';
export type { Awaitable, AnyAwaitable, AwaitedResult, TaskInput, TaskConstructor } from './tasks.js';
export { Context, ContextVar, Token, copyContext, LookupError } from './contextvars.js';
export { isCoroutine, isCoroutineFunction, isThenable } from './coroutines.js';
export type { Co, Coroutine } from './coroutines.js';
export {
  gather,
  shield,
  wait,
  waitFor,
  asCompleted,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  ALL_COMPLETED,
} from './combinators.js';
export type { GatherOptions, WaitOptions, ReturnWhen, AsCompletedOptions, AsCompletedIterator } from './combinators.js';
export { Timeout, timeout, timeoutAt } from './timeouts.js';
export type { TimeoutBody } from './timeouts.js';
export { TaskGroup } from './taskgroups.js';
export { BaseEventLoop } from './base_events.js';
export type { ExceptionContext, ExceptionHandler, TaskOptions, TaskFactory } from './base_events.js';
export { BaseSelectorEventLoop } from './selector_events.js';
export type { SelectorLoopOptions } from './selector_events.js';
export { EventLoop, newEventLoop, getEventLoop, setEventLoop } from './loop.js';
export type { EventLoopOptions } from './loop.js';
export { run, Runner } from './runners.js';
export type { RunnerOptions, Main } from './runners.js';

// Living inside Node: async functions as coroutines (promises in
// Futures, coio coroutines awaitable), and guest mode on Node's own loop.
export { coroutine } from './awaitables.js';
export { PromiseFuture } from './async_tasks.js';
export { runGuest } from './guest.js';
export type { GuestOptions } from './guest.js';

// Selectors and sockets (the ground floor).
export {
  BaseSelector,
  DefaultSelector,
  EpollSelector,
  IoUringSelector,
  KqueueSelector,
  PollSelector,
  SelectSelector,
  EVENT_READ,
  EVENT_WRITE,
  availableBackends,
  createSelector,
  defaultBackend,
  uringStatus,
  KeyError,
} from './selectors.js';
export type { FileObj, SelectorKey } from './selectors.js';
export { Socket, socketpair, SocketOption, AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM, SOCK_DGRAM, SHUT_RD, SHUT_WR, SHUT_RDWR } from './socket.js';
export type { AddressLike, SocketOptionName, InetAddress, SockAddress, UnixAddress } from './socket.js';
export type { BackendName, RecvPath, UringProbe } from './native.js';

// Networking: transports and protocols, servers, streams.
export { NetworkEventLoop } from './network_events.js';
export { BaseProtocolBase, ProtocolBase, DatagramProtocolBase } from './protocols.js';
export type { BaseProtocol, Protocol, BufferedProtocol, DatagramProtocol } from './protocols.js';
export type { BaseTransport, ReadTransport, WriteTransport, Transport, DatagramTransport, ExtraInfo } from './transports.js';
export { Server } from './server.js';
export type { CreateServerOptions, CreateConnectionOptions, CreateUnixServerOptions, CreateUnixConnectionOptions, KeepAliveOption } from './connections.js';
export type { DatagramEndpointOptions } from './datagram_transport.js';
export type { AddrInfo, GetaddrinfoOptions, NameinfoAddress } from './resolver.js';
export { AI_PASSIVE, AI_CANONNAME, AI_NUMERICHOST, AI_NUMERICSERV, AI_ADDRCONFIG, AI_V4MAPPED, AI_ALL, NI_NUMERICHOST, NI_NUMERICSERV, NI_NOFQDN, NI_NAMEREQD, NI_DGRAM, IPPROTO_TCP, IPPROTO_UDP } from './resolver.js';
export type { SendfileFile, SendfileOptions } from './sendfile.js';
export {
  StreamReader,
  StreamWriter,
  StreamReaderProtocol,
  openConnection,
  openUnixConnection,
  startServer,
  startUnixServer,
  IncompleteReadError,
  LimitOverrunError,
  DEFAULT_LIMIT,
} from './streams.js';
export type { ClientConnected, StreamOptions } from './streams.js';

// Synchronization primitives and queues.
export { Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier, BrokenBarrierError } from './locks.js';
export type { HoldBody, BarrierState } from './locks.js';
export { Queue, PriorityQueue, LifoQueue, QueueEmpty, QueueFull, QueueShutDown } from './queues.js';
export type { QueueOptions, PriorityQueueOptions } from './queues.js';
export { pythonCompare } from './heap.js';
export type { Compare } from './heap.js';

// Signals, threads, pipes and subprocesses: the UnixEventLoop layer
// of EventLoop, run()'s Ctrl-C, executors and inboxes, pipe transports.
export { UnixEventLoop } from './unix_events.js';
export { KeyboardInterrupt } from './sigint.js';
export { signalNumber, signalName } from './signals.js';
export type { Signal } from './signals.js';
export { BrokenThreadPool, ThreadPoolExecutor, Inbox, LoopSender, toThread, workerFunction } from './threads.js';
export { ConcurrentFuture, RemoteLoop, runCoroutineThreadsafe, wrapFuture } from './threadsafe.js';
export type { LoopRefData, ThreadsafeFunction } from './threadsafe.js';
export type { ThreadPoolExecutorOptions, ThreadFunction, WorkerFunction, InboxSenderData } from './threads.js';
export { ReadPipeTransport, WritePipeTransport } from './pipe_transport.js';
export { Process, SubprocessTransport, createSubprocessExec, createSubprocessShell, PIPE, STDOUT, DEVNULL } from './subprocess.js';
export type { StdioOption, SubprocessOptions, ProcessOptions, ProcessFor, PipedStream, SubprocessProtocol } from './subprocess.js';

// Debugging: the live tasks and what each waits on.
export { formatTasks } from './debug.js';
export type { FormatTasksOptions } from './debug.js';

// TLS: contexts, errors and the SSL protocol between a transport and an app.
export {
  SSLContext,
  SSLObject,
  SSLError,
  SSLCertVerificationError,
  createDefaultContext,
  PROTOCOL_TLS_CLIENT,
  PROTOCOL_TLS_SERVER,
  CERT_NONE,
  CERT_OPTIONAL,
  CERT_REQUIRED,
  TLSVersion,
  Purpose,
  AlertDescription,
} from './ssl.js';
export type { SNICallback, Password, VerifyLocations, NodeTlsOptions, PeerCertificate, VerifyMode, TLSVersionValue, PurposeValue } from './ssl.js';
export { SSLProtocol, SSLProtocolTransport, SSLProtocolState, SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT } from './sslproto.js';
export type { TlsOptions, StartTlsOptions, SSLProtocolStateName } from './sslproto.js';
