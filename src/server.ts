// Server: listening sockets that accept connections into transports
// (asyncio's base_events.Server plus selector_events' accept loop).

import { lstatSync, unlinkSync } from 'node:fs';
import { RuntimeError } from './errors.js';
import type { Future } from './futures.js';
import type { AbstractEventLoop, AbstractServer, Handle } from './events.js';
import type { SockAddress } from './native.js';
import type { BaseProtocol } from './protocols.js';
import { Socket } from './socket.js';
import { native, OP_ACCEPT, OP_MORE } from './native.js';
import type { OpTarget } from './selector_events.js';
import { newSocketTransport } from './proactor_transport.js';
import type { TransportOwner } from './socket_transport.js';
import type { Coroutine, Co } from './coroutines.js';
import type { Transport } from './transports.js';


/**
 * How long shutdown() lets open connections finish sending before it aborts
 * them, seconds. Time for a slow client to receive what it was sent, and
 * shorter than the grace period a process manager gives a SIGTERM before it
 * kills (Docker's 10 s, Kubernetes' 30 s, systemd's 90 s), so a stopped
 * server still ends its connections and exits on its own.
 */
export const SHUTDOWN_TIMEOUT = 5;

/** How long to stop accepting after EMFILE / ENFILE / ENOBUFS / ENOMEM (asyncio's ACCEPT_RETRY_DELAY). */
export const ACCEPT_RETRY_DELAY = 1;
/** Accept errors that mean "out of resources for now": retry later instead of failing. */
const ACCEPT_RESOURCE_ERRORS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);
/** Accept errors about one connection that died in the queue: skip it. */
const ACCEPT_SKIP_ERRORS = new Set(['ECONNABORTED', 'EPROTO', 'ECONNRESET', 'EPERM']);

export interface ServerOptions {
  /** Connections accepted per readiness event (asyncio: the backlog). */
  backlog: number;
  /** Called for each accepted socket before its transport is made (TCP_NODELAY, ...). */
  configure?: (sock: Socket) => void;
  /**
   * Unix socket files to remove at close() (cleanupSocket): each with the
   * device and inode it had right after bind, so that a file another server
   * has since bound at the same path is left alone.
   */
  unlinkAtClose?: ReadonlyArray<{ path: string; dev: number; ino: number }>;
}

/**
 * Listening sockets that accept connections into transports (asyncio.Server).
 * Made by loop.createServer / createUnixServer and startServer /
 * startUnixServer; each accepted connection gets a protocol from the factory
 * and a transport. close() stops listening (open connections stay);
 * waitClosed() waits until they are gone too.
 */
export class Server<A extends SockAddress = SockAddress> implements AbstractServer<A>, TransportOwner {
  private sockets_: Socket[] | null;
  private serving = false;
  private readonly transports = new Set<Transport>();
  private closedWaiters: Array<Future<void>> = [];
  private serveForeverFut: Future<void> | null = null;
  private readonly retryHandles = new Map<number, Handle>();
  /** The multishot accepts of a proactor loop, by listening socket. */
  private readonly acceptOps = new Map<Socket, AcceptOp>();

  /** @internal Made by loop.createServer and the stream servers. */
  constructor(
    private readonly loop: AbstractEventLoop,
    sockets: Socket[],
    private readonly protocolFactory: () => BaseProtocol,
    private readonly options: ServerOptions,
  ) {
    this.sockets_ = sockets;
  }

  /** The listening sockets ([] once closed). */
  get sockets(): readonly Socket[] {
    return this.sockets_ ?? [];
  }

  /** The loop the server runs on. */
  getLoop(): AbstractEventLoop {
    return this.loop;
  }

  /** True while it accepts connections (after startServing, before close). */
  isServing(): boolean {
    return this.serving;
  }

  /** Addresses the server listens on: InetAddress for a TCP server, UnixAddress for a Unix one. */
  addresses(): A[] {
    return this.sockets.map((s) => s.getsockname() as A);
  }

  /**
   * Start accepting connections. Idempotent.
   * @throws an Error if the server is closed.
   */
  startServing(): void {
    if (this.sockets_ === null) throw new RuntimeError(`Server ${String(this)} is closed`);
    if (this.serving) return;
    this.serving = true;
    for (const sock of this.sockets_) this.listen(sock);
  }

  /** Accept on sock: a multishot accept in the ring on a proactor loop, else readiness (addReader). */
  private listen(sock: Socket): void {
    if ((this.loop as { _proactor?: boolean })._proactor === true) {
      let op = this.acceptOps.get(sock);
      if (op === undefined) this.acceptOps.set(sock, (op = new AcceptOp(this, sock)));
      op.submit();
    } else {
      this.loop.addReader(sock.fileno(), this.acceptReady, sock);
    }
  }

  private unlisten(sock: Socket): void {
    const op = this.acceptOps.get(sock);
    if (op !== undefined) op.cancel();
    else this.loop.removeReader(sock.fileno());
  }

  /**
   * @internal AcceptOp: a connection the ring accepted on listener (a new
   * fd), or an accept error (a negative errno). False when accepting waits
   * (an error's retry delay, or the server stopped).
   */
  _accepted(listener: Socket, result: number): boolean {
    if (result >= 0) {
      if (!this.serving || this.sockets_ === null) {
        native.close(result); // accepted while the cancel of a closed server was on its way
        return false;
      }
      this.acceptConnection(new Socket(listener.family, listener.type, result));
      return true;
    }
    const err = native.errorFromErrno(-result, 'accept');
    const code = err.code ?? '';
    if (ACCEPT_SKIP_ERRORS.has(code)) return this.serving;
    // Out of fds (or another failure of the listening socket): say so, and
    // accept again after a delay, as the readiness path does.
    this.loop.callExceptionHandler({ message: ACCEPT_RESOURCE_ERRORS.has(code) ? 'socket.accept() out of system resource' : 'Error on accept', exception: err, socket: listener });
    this.retryHandles.set(
      listener.fileno(),
      this.loop.callLater(ACCEPT_RETRY_DELAY, () => {
        this.retryHandles.delete(listener.fileno());
        if (this.serving && !listener.closed) this.acceptOps.get(listener)?.submit();
      }),
    );
    return false;
  }

  /**
   * Start serving (if not yet) and wait until the server is closed or this wait is cancelled.
   * Cancelled, it shuts the server down (shutdown(): stop listening, close
   * the connections, abort those still open after SHUTDOWN_TIMEOUT) before
   * raising CancelledError.
   * @throws CancelledError when the wait is cancelled (after the shutdown);
   *   an Error if the server is closed or serveForever already runs.
   */
  serveForever(): Co<void>;
  *serveForever(): Coroutine<void> {
    if (this.serveForeverFut !== null) throw new RuntimeError(`serveForever is already running on ${String(this)}`);
    if (this.sockets_ === null) throw new RuntimeError(`Server ${String(this)} is closed`);
    this.startServing();
    this.serveForeverFut = this.loop.createFuture<void>();
    try {
      yield* this.serveForeverFut;
    } catch (err) {
      // Cancelled (Ctrl-C, a shutdown): stop listening and end the
      // connections too, as asyncio closes its clients here; waiting for
      // clients to leave on their own would let one idle connection hold
      // the program forever. shutdown() flushes what they were sent and
      // aborts those still open after its deadline.
      yield* this.shutdown();
      throw err;
    } finally {
      this.serveForeverFut = null;
    }
  }

  /** Stop listening and close the listening sockets; open connections stay (see closeClients). */
  close(): void {
    const sockets = this.sockets_;
    if (sockets === null) return;
    this.sockets_ = null;
    for (const sock of sockets) {
      if (this.serving) this.unlisten(sock);
      this.retryHandles.get(sock.fileno())?.cancel();
      if (this.acceptOps.size > 0) (this.loop as unknown as { _flushOps(): void })._flushOps();
      sock.close();
    }
    this.retryHandles.clear();
    this.serving = false;
    for (const file of this.options.unlinkAtClose ?? []) {
      try {
        const st = lstatSync(file.path);
        if (st.isSocket() && st.dev === file.dev && st.ino === file.ino) unlinkSync(file.path);
      } catch {
        // gone already, or not ours to remove: nothing to clean up
      }
    }
    if (this.serveForeverFut !== null && !this.serveForeverFut.done()) this.serveForeverFut.cancel();
    this.wakeupIfDone();
  }

  /**
   * Close every open connection (flushing its buffer first). A client that
   * does not read keeps its connection open until it does: shutdown() gives
   * that a deadline.
   */
  closeClients(): void {
    for (const t of [...this.transports]) t.close();
  }

  /** Abort every open connection at once. */
  abortClients(): void {
    for (const t of [...this.transports]) t.abort();
  }

  /**
   * Graceful shutdown with a deadline: stop listening, close every
   * connection once its buffered data is sent, wait for them, and abort
   * (drop unsent data, reset) those still open after `timeout` seconds
   * (default SHUTDOWN_TIMEOUT, 5 s; Infinity waits for ever; 0 aborts at
   * the next loop iteration). Returns once every connection is gone. Cancelled, it aborts
   * what is left before raising CancelledError.
   * @throws TypeError if timeout is not a number; RangeError if it is negative or NaN.
   */
  shutdown(timeout?: number): Co<void>;
  *shutdown(timeout: number = SHUTDOWN_TIMEOUT): Coroutine<void> {
    if (typeof timeout !== 'number') throw new TypeError(`shutdown: timeout must be a number of seconds, got ${typeof timeout}`);
    if (!(timeout >= 0)) throw new RangeError(`shutdown: timeout must be >= 0 seconds, got ${timeout}`);
    this.close();
    this.closeClients();
    if (this.transports.size === 0) return;
    const deadline = timeout === Infinity ? null : this.loop.callLater(timeout, Server.abortCb, this);
    try {
      yield* this.waitClosed();
    } catch (err) {
      this.abortClients();
      throw err;
    } finally {
      deadline?.cancel();
    }
  }

  private static readonly abortCb = (server: Server<SockAddress>): void => server.abortClients();

  /** Wait until the server is closed and every connection it accepted is gone. Throws only CancelledError. */
  waitClosed(): Co<void>;
  *waitClosed(): Coroutine<void> {
    if (this.sockets_ === null && this.transports.size === 0) return;
    const fut = this.loop.createFuture<void>();
    this.closedWaiters.push(fut);
    yield* fut;
  }

  /** @internal A transport it accepted is open (TransportOwner). */
  attach(transport: Transport): void {
    this.transports.add(transport);
  }

  /** @internal A transport it accepted is closed (TransportOwner). */
  detach(transport: Transport): void {
    this.transports.delete(transport);
    this.wakeupIfDone();
  }

  private wakeupIfDone(): void {
    if (this.sockets_ !== null || this.transports.size > 0) return;
    const waiters = this.closedWaiters;
    this.closedWaiters = [];
    for (const w of waiters) if (!w.done()) w.setResult(undefined);
  }

  private readonly acceptReady = (listener: Socket): void => {
    for (let i = 0; i < this.options.backlog; i++) {
      let accepted: ReturnType<Socket['accept']>;
      try {
        accepted = listener.accept();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (ACCEPT_SKIP_ERRORS.has(code)) continue;
        if (ACCEPT_RESOURCE_ERRORS.has(code)) {
          // Out of fds: stop watching (level-triggered readiness would spin
          // at 100% CPU) and look again after a delay.
          this.loop.callExceptionHandler({ message: 'socket.accept() out of system resource', exception: err, socket: listener });
          this.loop.removeReader(listener.fileno());
          this.retryHandles.set(
            listener.fileno(),
            this.loop.callLater(ACCEPT_RETRY_DELAY, () => {
              this.retryHandles.delete(listener.fileno());
              if (this.serving && !listener.closed) this.loop.addReader(listener.fileno(), this.acceptReady, listener);
            }),
          );
          return;
        }
        throw err;
      }
      if (accepted === null) return;
      this.acceptConnection(accepted[0]);
    }
  };

  private acceptConnection(conn: Socket): void {
    let protocol: BaseProtocol;
    try {
      this.options.configure?.(conn);
      protocol = this.protocolFactory();
    } catch (err) {
      conn.close();
      this.loop.callExceptionHandler({ message: 'Error on transport creation for incoming connection', exception: err });
      return;
    }
    newSocketTransport(this.loop, conn, protocol, null, this);
  }

  toString(): string {
    return `<Server sockets=${this.sockets.map((s) => s.fileno()).join(',')}>`;
  }
}

/**
 * A multishot accept in the ring (proactor loops): one submission, then a
 * completion per accepted connection (its fd) until the kernel ends it (an
 * error, or a completion without OP_MORE), when it is submitted again. The
 * connections are made into transports from a callback of the ready queue,
 * not from the poll step.
 */
class AcceptOp implements OpTarget {
  private token = -1;
  private ended = false;

  constructor(
    private readonly server: Server<SockAddress>,
    private readonly listener: Socket,
  ) {}

  private static readonly acceptedCb = (op: AcceptOp, result: number): void => op.accepted(result);

  submit(): void {
    if (this.token !== -1) return;
    this.ended = false;
    const loop = this.server.getLoop() as unknown as { _submitOp(op: number, fd: number, buf: null, off: number, len: number, target: OpTarget, kind: number): number };
    this.token = loop._submitOp(OP_ACCEPT, this.listener.fileno(), null, 0, 0, this, 0);
  }

  cancel(): void {
    this.ended = true;
    if (this.token !== -1) (this.server.getLoop() as unknown as { _cancelOp(token: number): void })._cancelOp(this.token);
  }

  _opDone(_kind: number, result: number, flags: number): void {
    const more = (flags & OP_MORE) !== 0;
    if (!more) this.token = -1;
    // After cancel(): the cancellation, or the error of an accept that
    // found its listener closed; a connection accepted meanwhile is closed.
    if (this.ended) {
      if (result >= 0) native.close(result);
      return;
    }
    if (result === -ECANCELED) return;
    this.server.getLoop().callSoon(AcceptOp.acceptedCb, this, result);
  }

  private accepted(result: number): void {
    const again = this.server._accepted(this.listener, result);
    // The multishot ended (an error, or the kernel's choice): again, unless
    // closed or waiting out an error's delay (the server resubmits then).
    if (again && this.token === -1 && !this.ended && this.server.isServing()) this.submit();
  }
}

const ECANCELED = native.errno.ECANCELED ?? 125;
