// Socket coroutines (asyncio's loop.sock_* methods): try the syscall first;
// only when it would block, make a Future and wait for readiness.
//
// Cancellation is safe: the readiness callback checks that its Future is
// still pending before it makes the syscall, and the Future's done-callback
// removes the reader / writer, so a cancelled recv or accept consumes
// nothing. (As in asyncio, a cancel that lands after the data was received
// but before the task resumed discards that data: cancel a reader you still
// need through a StreamReader, which keeps unread data buffered.)

import type { Future } from './futures.js';
import type { IoLoop } from './io_loop.js';
import type { SockAddress } from './native.js';
import { AF_UNIX, splitInetAddress } from './socket.js';
import type { AddressLike, Socket } from './socket.js';
import { toBytes } from './socket_transport.js';
import type { Coroutine } from './coroutines.js';


/**
 * Wait until `attempt` returns non-null, retrying it whenever the socket is
 * ready for `direction`. The first attempt has already failed.
 */
function waitFor<T>(loop: IoLoop, sock: Socket, direction: 'read' | 'write', attempt: () => T | null): Future<T> {
  const fut = loop.createFuture<T>();
  const fd = sock.fileno();
  const onReady = (): void => {
    if (fut.done()) return;
    let value: T | null;
    try {
      value = attempt();
    } catch (err) {
      fut.setException(err);
      return;
    }
    if (value !== null) fut.setResult(value);
  };
  if (direction === 'read') loop.addReader(fd, onReady);
  else loop.addWriter(fd, onReady);
  fut.addDoneCallback(() => {
    if (direction === 'read') loop.removeReader(fd);
    else loop.removeWriter(fd);
  });
  return fut;
}

/** Up to n bytes (an empty Buffer at EOF). */
export function* sockRecv(loop: IoLoop, sock: Socket, n: number): Coroutine<Buffer> {
  const data = sock.recv(n);
  if (data !== null) return data;
  return yield* waitFor(loop, sock, 'read', () => sock.recv(n));
}

/** Read into buf; returns the count (0 at EOF). */
export function* sockRecvInto(loop: IoLoop, sock: Socket, buf: Uint8Array, nbytes?: number): Coroutine<number> {
  const got = sock.recvInto(buf, nbytes);
  if (got !== null) return got;
  return yield* waitFor(loop, sock, 'read', () => sock.recvInto(buf, nbytes));
}

/** Send all of data, waiting for the socket to drain as often as needed. */
export function* sockSendall(loop: IoLoop, sock: Socket, data: Uint8Array | string): Coroutine<void> {
  const bytes = toBytes(data);
  let offset = sock.send(bytes) ?? 0;
  while (offset < bytes.length) {
    offset += yield* waitFor(loop, sock, 'write', () => sock.send(bytes, offset));
  }
}

/** Accept one connection: [socket, peer address]. */
export function* sockAccept(loop: IoLoop, sock: Socket): Coroutine<[Socket, SockAddress]> {
  const conn = sock.accept();
  if (conn !== null) return conn;
  return yield* waitFor(loop, sock, 'read', () => sock.accept());
}

/** Connect to a numeric address (resolve names first with loop.getaddrinfo). */
export function* sockConnect(loop: IoLoop, sock: Socket, address: AddressLike): Coroutine<void> {
  if (sock.family !== AF_UNIX) splitInetAddress(address); // validate before any syscall
  if (sock.connect(address)) return;
  yield* waitFor(loop, sock, 'write', () => {
    sock.checkConnect(address);
    return true;
  });
}

/** One datagram of up to n bytes and its sender. */
export function* sockRecvfrom(loop: IoLoop, sock: Socket, n: number): Coroutine<[Buffer, SockAddress]> {
  const got = sock.recvfrom(n);
  if (got !== null) return got;
  return yield* waitFor(loop, sock, 'read', () => sock.recvfrom(n));
}

/** Send one datagram to address; returns the count sent. */
export function* sockSendto(loop: IoLoop, sock: Socket, data: Uint8Array | string, address: AddressLike): Coroutine<number> {
  const bytes = toBytes(data);
  const sent = sock.sendto(bytes, address);
  if (sent !== null) return sent;
  return yield* waitFor(loop, sock, 'write', () => sock.sendto(bytes, address));
}
