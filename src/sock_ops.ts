// Socket coroutines (asyncio's loop.sock_* methods): try the syscall first;
// only when it would block, wait for readiness, then try again.
//
// The syscall is only ever made by the coroutine itself, in its own step:
// the readiness callback just completes a Future. So a cancellation (or a
// waitFor timeout) that lands after the socket became ready but before the
// task resumed finds nothing consumed: no accepted connection is dropped
// (it stays in the kernel's queue for the next accept) and no received data
// is lost (it stays in the socket for the next recv). asyncio makes the
// syscall in the readiness callback and drops the result in that case (the
// accepted socket is left to the garbage collector; the data is gone); we
// do not copy that. The cost is nothing: the same syscalls, one Future per
// wait as before. A cancelled sockSendall may still have sent part of its
// data, as in asyncio: how much is unknown to the caller.
//
// Closing a socket (Socket.close) while a coroutine here waits on it removes
// the fd from the loop at once (before the number can be reused) and fails
// the waiter with an EBADF error naming its syscall: the error the retried
// syscall would have raised on the closed socket. (asyncio leaves such a
// waiter pending forever, and its stale registration in the selector.)

import type { Future } from './futures.js';
import type { AbstractEventLoop } from './events.js';
import { native, OP_CONNECT } from './native.js';
import type { SockAddress } from './native.js';
import type { BaseSelectorEventLoop, OpTarget } from './selector_events.js';
import { _uringProbe } from './selectors.js';
import { AF_UNIX, SOCK_STREAM, splitInetAddress } from './socket.js';
import type { AddressLike, Socket } from './socket.js';
import { toBytes } from './transport_helpers.js';
import type { Coroutine, Co } from './coroutines.js';

function setReady(fut: Future<void>): void {
  if (!fut.done()) fut.setResult(undefined);
}

/**
 * @internal A Future that completes once sock is ready for `direction` (its
 * reader or writer is removed then), or fails with EBADF if sock is closed
 * first. Cancelling it removes the reader or writer. (sendfile.ts waits with it too.)
 */
export function waitReady(loop: AbstractEventLoop, sock: Socket, direction: 'read' | 'write', syscall: string): Future<void> {
  const fut = loop.createFuture<void>();
  const fd = sock.fileno();
  const read = direction === 'read';
  const handle = read ? loop.addReader(fd, setReady, fut) : loop.addWriter(fd, setReady, fut);
  // Only our own registration: another waiter that replaced it keeps its own.
  const stop = (): void => {
    if (handle.cancelled()) return;
    if (read) loop.removeReader(fd);
    else loop.removeWriter(fd);
  };
  const onClose = (): void => {
    // A loop closed since has dropped its selector and its tasks: nothing
    // to remove, nobody to tell (and a Future of a closed loop cannot complete).
    if (loop.isClosed()) return;
    stop();
    if (!fut.done()) fut.setException(sock._closedError(syscall));
  };
  sock._watchClose(onClose);
  fut.addDoneCallback(() => {
    sock._unwatchClose(onClose);
    stop();
  });
  return fut;
}

/** Up to n bytes (an empty Buffer at EOF). */
export function sockRecv(loop: AbstractEventLoop, sock: Socket, n: number): Co<Buffer>;
export function* sockRecv(loop: AbstractEventLoop, sock: Socket, n: number): Coroutine<Buffer> {
  for (;;) {
    const data = sock.recv(n);
    if (data !== null) return data;
    yield* waitReady(loop, sock, 'read', 'recv');
  }
}

/** Read into buf; returns the count (0 at EOF). */
export function sockRecvInto(loop: AbstractEventLoop, sock: Socket, buf: Uint8Array, nbytes?: number): Co<number>;
export function* sockRecvInto(loop: AbstractEventLoop, sock: Socket, buf: Uint8Array, nbytes?: number): Coroutine<number> {
  for (;;) {
    const got = sock.recvInto(buf, nbytes);
    if (got !== null) return got;
    yield* waitReady(loop, sock, 'read', 'recv');
  }
}

/** Send all of data, waiting for the socket to drain as often as needed. */
export function sockSendall(loop: AbstractEventLoop, sock: Socket, data: Uint8Array | string): Co<void>;
export function* sockSendall(loop: AbstractEventLoop, sock: Socket, data: Uint8Array | string): Coroutine<void> {
  const bytes = toBytes(data);
  let offset = 0;
  for (;;) {
    offset += sock.send(bytes, offset) ?? 0;
    if (offset >= bytes.length) return;
    yield* waitReady(loop, sock, 'write', 'send');
  }
}

/** Accept one connection: [socket, peer address]. */
export function sockAccept(loop: AbstractEventLoop, sock: Socket): Co<[Socket, SockAddress]>;
export function* sockAccept(loop: AbstractEventLoop, sock: Socket): Coroutine<[Socket, SockAddress]> {
  for (;;) {
    const conn = sock.accept();
    if (conn !== null) return conn;
    yield* waitReady(loop, sock, 'read', 'accept');
  }
}

/**
 * Connect to a numeric address (resolve names first with loop.getaddrinfo).
 * On a proactor loop (io_uring) a stream socket connects with one
 * operation in the ring (connectInRing); elsewhere, and for datagram
 * sockets (whose connect never waits), by readiness.
 */
export function sockConnect(loop: AbstractEventLoop, sock: Socket, address: AddressLike): Co<void>;
export function* sockConnect(loop: AbstractEventLoop, sock: Socket, address: AddressLike): Coroutine<void> {
  if (sock.family !== AF_UNIX) splitInetAddress(address); // validate before any syscall
  if (sock.type === SOCK_STREAM && (loop as { _proactor?: boolean })._proactor === true && _uringProbe().connect) {
    if (!(yield* connectInRing(loop as BaseSelectorEventLoop, sock, address))) return;
  } else if (sock.connect(address)) {
    return;
  }
  yield* waitReady(loop, sock, 'write', 'connect');
  sock.checkConnect(address);
  if (sock.family === AF_UNIX) checkUnixConnected(sock, address as string);
}

const EAGAIN = native.errno.EAGAIN ?? 11;

/**
 * A Unix stream connect that would block (Linux) did not start: the
 * listener's backlog was full (EAGAIN), nothing goes on in the background,
 * and the socket polls writable at once with no error, while unconnected.
 * Raised as EAGAIN, as the ring's connect and libuv report it (asyncio
 * reports such a socket connected, and its first read fails ENOTCONN).
 */
function checkUnixConnected(sock: Socket, path: string): void {
  try {
    sock.getpeername();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTCONN') throw native.errorFromErrno(EAGAIN, 'connect', path);
    throw err;
  }
}

// ---- connect as a completion operation (io_uring) -------------------------
//
// The readiness path costs, per connect: connect() (EINPROGRESS), a poll
// request armed in the ring for writability, then getsockopt(SO_ERROR) and
// the poll's removal once woken. In the ring it is one IORING_OP_CONNECT:
// the kernel makes the connect, parks it on the socket's writability
// itself, and completes with the outcome (0, or -ECONNREFUSED, ...): no
// syscall of ours beyond the io_uring_enter the loop makes anyway. The
// struct sockaddr (native.connectAddress) is the operation's buffer, held
// in the loop's keep array until its completion, as recv and send buffers
// are: the kernel may read it when it first issues the operation, after
// the submitting call returned.
//
// Cancelled (the Task, a waitFor timeout, Happy Eyeballs' losers), the
// operation is cancelled in the ring and the socket left to its owner, as
// asyncio leaves it: open, its connect maybe still under way in the kernel
// (cancelling the operation only stops the wait). The cancel is handed to
// the kernel at once (_flushOps), so the operation has let go of the file
// before the owner closes the fd, and a connect still queued cannot reach
// a number closed and reused meanwhile. Closing the socket while it
// connects fails the wait with EBADF, as the readiness path does.

/** What the completion of a connect in the ring delivers: the result into the Future the coroutine waits on. */
class ConnectOp implements OpTarget {
  token = -1;
  constructor(readonly fut: Future<number>) {}

  _opDone(_kind: number, result: number): void {
    this.token = -1;
    if (!this.fut.done()) this.fut.setResult(result);
  }
}

// Results that mean the connect goes on in the kernel, as they do from
// connect(2) (socket.cc treats them so): EINPROGRESS if the kernel handed a
// non-blocking socket's connect back instead of waiting for it (older
// kernels, from their worker threads), EINTR (POSIX: "the connection shall
// be established asynchronously"). Then the wait is readiness's.
const EINPROGRESS = native.errno.EINPROGRESS ?? 115;
const EINTR = native.errno.EINTR ?? 4;

/**
 * Connect sock with an IORING_OP_CONNECT. True when the connect goes on
 * in the kernel and the caller waits for it by readiness (see above).
 * @throws as sock.connect for a bad address or a closed socket; the
 *   connect's error (ECONNREFUSED, ...) as checkConnect throws it; EBADF if
 *   sock is closed while connecting.
 */
function* connectInRing(loop: BaseSelectorEventLoop, sock: Socket, address: AddressLike): Coroutine<boolean> {
  let host: string;
  let port: number | undefined;
  if (sock.family === AF_UNIX) {
    if (typeof address !== 'string') throw new TypeError('a Unix socket address is a path string');
    host = address;
  } else {
    [host, port] = splitInetAddress(address);
  }
  const fd = sock.fileno();
  if (fd < 0) throw sock._closedError('connect');
  loop._checkClosed(); // as addWriter refuses a closed loop on the readiness path
  const addr = native.connectAddress(sock.family, host, port ?? 0);
  const fut = loop.createFuture<number>();
  const op = new ConnectOp(fut);
  op.token = loop._submitOp(OP_CONNECT, fd, addr, 0, addr.length, op, 0);
  // Once: the close watcher and the coroutine's finally may both come here.
  const stop = (): void => {
    if (op.token === -1) return;
    loop._cancelOp(op.token);
    op.token = -1;
    loop._flushOps();
  };
  const onClose = (): void => {
    // A closed loop has cancelled and reaped its operations: nothing to stop.
    if (loop.isClosed()) return;
    stop();
    if (!fut.done()) fut.setException(sock._closedError('connect'));
  };
  sock._watchClose(onClose);
  let result: number;
  try {
    result = yield* fut;
  } finally {
    sock._unwatchClose(onClose);
    stop();
  }
  if (result === 0) return false;
  const err = -result;
  if (err === EINPROGRESS || err === EINTR) return true;
  throw native.errorFromErrno(err, 'connect', host, port);
}

/** One datagram of up to n bytes and its sender. */
export function sockRecvfrom(loop: AbstractEventLoop, sock: Socket, n: number): Co<[Buffer, SockAddress]>;
export function* sockRecvfrom(loop: AbstractEventLoop, sock: Socket, n: number): Coroutine<[Buffer, SockAddress]> {
  for (;;) {
    const got = sock.recvfrom(n);
    if (got !== null) return got;
    yield* waitReady(loop, sock, 'read', 'recvfrom');
  }
}

/** Send one datagram to address; returns the count sent. */
export function sockSendto(loop: AbstractEventLoop, sock: Socket, data: Uint8Array | string, address: AddressLike): Co<number>;
export function* sockSendto(loop: AbstractEventLoop, sock: Socket, data: Uint8Array | string, address: AddressLike): Coroutine<number> {
  const bytes = toBytes(data);
  for (;;) {
    const sent = sock.sendto(bytes, address);
    if (sent !== null) return sent;
    yield* waitReady(loop, sock, 'write', 'sendto');
  }
}
