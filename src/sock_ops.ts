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
import type { SockAddress } from './native.js';
import { AF_UNIX, splitInetAddress } from './socket.js';
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

/** Connect to a numeric address (resolve names first with loop.getaddrinfo). */
export function sockConnect(loop: AbstractEventLoop, sock: Socket, address: AddressLike): Co<void>;
export function* sockConnect(loop: AbstractEventLoop, sock: Socket, address: AddressLike): Coroutine<void> {
  if (sock.family !== AF_UNIX) splitInetAddress(address); // validate before any syscall
  if (sock.connect(address)) return;
  yield* waitReady(loop, sock, 'write', 'connect');
  sock.checkConnect(address);
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
