// Socket: a non-blocking socket object over the native syscalls, shaped like
// Python's socket.socket in non-blocking mode.
//
// Differences from Python, on purpose:
// - Every socket is non-blocking and close-on-exec; there is no blocking mode.
// - "Would block" is a return value (null), not BlockingIOError: the event
//   loop tries the syscall first and only waits when it would block, and an
//   exception per EAGAIN would cost more than the syscall itself.
// - Addresses are objects ({ family, address, port }, { family: 'unix', path })
//   when returned; when given, [host, port] pairs, { host, port } objects and
//   Unix paths (strings) are all accepted. Hosts must be numeric here; name
//   resolution belongs to the loop (getaddrinfo), which never blocks.

import { native, WOULD_BLOCK } from './native.js';
import type { SockAddress } from './native.js';

// A Socket nobody closed (nor detached) keeps its fd until the process
// exits, unless the garbage collector tells: as CPython's socket.__del__,
// the fd of a collected Socket is closed, with a warning ("unclosed
// Socket", a ResourceWarning) if the Socket was made while a loop in debug
// mode ran. The registry holds the fd number only (bit-inverted when the
// warning is due), never the Socket, so it keeps nothing alive; close() and
// detach() unregister, so a number the owner gave up is never touched.
// Node runs these callbacks from its own event loop: while coio's loop
// blocks in run() they wait for it to return (in guest mode they run as
// the host loop turns).
/**
 * @internal Whether the running loop is in debug mode. This module sits
 * below the event loop and imports none of it; the loop's selector layer
 * (selector_events.ts) installs the real question when it loads.
 */
export const _loopDebug = { enabled: (): boolean => false };

const unclosed = new FinalizationRegistry<number>((held) => {
  const warn = held < 0;
  const fd = warn ? ~held : held;
  try {
    native.close(fd);
  } catch {
    // Closed behind the Socket's back already: nothing left to release.
  }
  if (warn) process.emitWarning(`unclosed Socket fd=${fd}: closed when it was garbage-collected; close() sockets when done`, 'ResourceWarning');
});

/** Address family: IPv4. */
export const AF_INET = native.AF_INET;
/** Address family: IPv6. */
export const AF_INET6 = native.AF_INET6;
/** Address family: Unix domain sockets (a path, or an abstract name starting with '\0' on Linux). */
export const AF_UNIX = native.AF_UNIX;
/** Socket type: a byte stream (TCP, or a Unix stream socket). */
export const SOCK_STREAM = native.SOCK_STREAM;
/** Socket type: datagrams (UDP, or a Unix datagram socket). */
export const SOCK_DGRAM = native.SOCK_DGRAM;
/** shutdown(): no more receiving. */
export const SHUT_RD = native.SHUT_RD;
/** shutdown(): no more sending (the peer reads EOF). */
export const SHUT_WR = native.SHUT_WR;
/** shutdown(): both directions. */
export const SHUT_RDWR = native.SHUT_RDWR;

/** Socket options by name; the addon maps each to its (level, optname). */
export const SocketOption = {
  /** Bind a port still in TIME_WAIT (servers set it). */
  SO_REUSEADDR: native.SO_REUSEADDR,
  /** Several sockets (processes) listen on the same port; the kernel spreads connections. */
  SO_REUSEPORT: native.SO_REUSEPORT,
  /** Send small segments at once (no Nagle delay). */
  TCP_NODELAY: native.TCP_NODELAY,
  /** TCP keep-alive probes on idle connections. */
  SO_KEEPALIVE: native.SO_KEEPALIVE,
  /** The kernel's receive buffer size, bytes. */
  SO_RCVBUF: native.SO_RCVBUF,
  /** The kernel's send buffer size, bytes. */
  SO_SNDBUF: native.SO_SNDBUF,
  /** Allow sending datagrams to a broadcast address. */
  SO_BROADCAST: native.SO_BROADCAST,
  /** An AF_INET6 socket accepts IPv6 only (no IPv4-mapped addresses). */
  IPV6_V6ONLY: native.IPV6_V6ONLY,
  /** The socket's type, SOCK_STREAM or SOCK_DGRAM (read only). */
  SO_TYPE: native.SO_TYPE,
  /** Seconds a connection is idle before the first keep-alive probe (TCP_KEEPALIVE on macOS); ENOPROTOOPT where the OS has none. */
  TCP_KEEPIDLE: native.TCP_KEEPIDLE,
  /** Seconds between keep-alive probes. */
  TCP_KEEPINTVL: native.TCP_KEEPINTVL,
  /** Unanswered probes before the connection is dropped. */
  TCP_KEEPCNT: native.TCP_KEEPCNT,
} as const;
/** The name of a socket option setsockopt / getsockopt know (a key of SocketOption). */
export type SocketOptionName = keyof typeof SocketOption;

export type { InetAddress, SockAddress, UnixAddress } from './native.js';

/**
 * What an address argument may be: [host, port], { host, port } (or
 * { address, port }, the shape of a returned InetAddress), or a Unix path.
 * Hosts are numeric ('127.0.0.1', '::1', '' for any); ports 0-65535.
 */
export type AddressLike = readonly [string, number] | { host?: string; address?: string; port: number } | string;

/** A reusable out-parameter for recvfrom, so the hot path allocates one object less. */
interface RecvfromOut {
  address?: SockAddress;
}

/**
 * A non-blocking socket (Python's socket.socket in non-blocking mode), over
 * the addon's syscalls. Every call that could block returns null instead
 * ("would block" is flow, not an error); real failures throw an Error with
 * `code` (e.g. 'ECONNREFUSED'), `errno` and `syscall`, as Node's own do, and
 * calls on a closed socket throw one with code 'EBADF'. The event loop's
 * sock* coroutines, transports and servers are built on it.
 */
export class Socket {
  /** AF_INET, AF_INET6 or AF_UNIX. */
  readonly family: number;
  /** SOCK_STREAM or SOCK_DGRAM. */
  readonly type: number;
  private fd: number;

  /**
   * A new non-blocking socket, or (with `fd`) a Socket taking ownership of an
   * fd the caller got from accept, socketpair or elsewhere: close() closes it,
   * and so does the garbage collector if nobody did (detach() to give it up).
   * @throws RangeError for a bad fd; an errno Error from socket(2) (EAFNOSUPPORT, EMFILE, ...).
   */
  constructor(family: number = AF_INET, type: number = SOCK_STREAM, fd?: number) {
    if (fd !== undefined && (!Number.isInteger(fd) || fd < 0)) {
      throw new RangeError(`fd must be a non-negative integer, got ${String(fd)}`);
    }
    this.family = family;
    this.type = type;
    this.fd = fd ?? native.socket(family, type);
    unclosed.register(this, _loopDebug.enabled() ? ~this.fd : this.fd, this);
  }

  /** The fd, or -1 once closed (as Python's fileno()). */
  fileno(): number {
    return this.fd;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.fd < 0;
  }

  /**
   * Bind to a local address ([host, port] with a numeric host, { host, port }, or a path for AF_UNIX).
   * @throws TypeError / RangeError for a malformed address; an errno Error (EADDRINUSE, EACCES, EADDRNOTAVAIL, ...).
   */
  bind(address: AddressLike): void {
    const [host, port] = this.splitAddress(address);
    native.bind(this.open('bind'), this.family, host, port);
  }

  /**
   * Start accepting connections, with up to `backlog` waiting in the kernel's queue.
   * @throws TypeError if backlog is not an integer; an errno Error.
   */
  listen(backlog = 511): void {
    if (!Number.isInteger(backlog)) throw new TypeError(`backlog must be an integer, got ${String(backlog)}`);
    native.listen(this.open('listen'), Math.max(0, backlog));
  }

  /**
   * Accept one connection: [socket, peer address], or null if none is pending.
   * @throws an errno Error (EMFILE when out of fds, ECONNABORTED, EINVAL if not listening, EBADF once closed).
   */
  accept(): [Socket, SockAddress] | null {
    const fd = native.accept(this.open('accept'));
    if (fd === WOULD_BLOCK) return null;
    const conn = new Socket(this.family, this.type, fd);
    let peer: SockAddress;
    try {
      peer = internAddress(native.getpeername(fd));
    } catch {
      // The peer may already have reset; the connection is still ours to read
      // (and to find the reset on).
      peer = this.family === AF_UNIX ? { family: 'unix', path: '' } : { family: this.family === AF_INET6 ? 'IPv6' : 'IPv4', address: '', port: 0 };
    }
    return [conn, peer];
  }

  /**
   * Start connecting. Returns true when connected at once, false when the
   * connection is in progress: wait for writability, then checkConnect().
   * @throws TypeError / RangeError for a malformed address; an errno Error
   *   for an immediate failure (ECONNREFUSED for a local port, ENETUNREACH, ...).
   */
  connect(address: AddressLike): boolean {
    const [host, port] = this.splitAddress(address);
    return native.connect(this.open('connect'), this.family, host, port) === 0;
  }

  /** After a non-blocking connect became writable: throws the connect error, if any. */
  checkConnect(address?: AddressLike): void {
    const err = native.getSocketError(this.open('connect'));
    if (err === 0) return;
    const [host, port] = address === undefined ? [undefined, undefined] : this.splitAddress(address);
    throw native.errorFromErrno(err, 'connect', host, this.family === AF_UNIX ? undefined : port);
  }

  /**
   * Up to n bytes as a new Buffer (empty at EOF), or null if nothing is there yet.
   * @throws TypeError / RangeError for a bad n; an errno Error (ECONNRESET, EBADF once closed, ...).
   */
  recv(n: number): Buffer | null {
    checkSize(n, 'n');
    const buf = Buffer.allocUnsafe(n);
    const got = native.recv(this.open('recv'), buf, 0, n);
    if (got === WOULD_BLOCK) return null;
    return got === n ? buf : buf.subarray(0, got);
  }

  /**
   * Read into buf[offset, offset+nbytes): the count (0 at EOF), or null if nothing is there yet.
   * @throws RangeError for a range outside buf; an errno Error (ECONNRESET, EBADF once closed, ...).
   */
  recvInto(buf: Uint8Array, nbytes?: number, offset = 0): number | null {
    const got = native.recv(this.open('recv'), buf, offset, nbytes ?? buf.length - offset);
    return got === WOULD_BLOCK ? null : got;
  }

  /**
   * Send what the kernel takes now: the count, or null if the buffer is full.
   * @throws RangeError for a range outside data; an errno Error (EPIPE, ECONNRESET, EBADF once closed, ...).
   */
  send(data: Uint8Array | string, offset = 0, length?: number): number | null {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const sent = native.send(this.open('send'), buf, offset, length ?? buf.length - offset);
    return sent === WOULD_BLOCK ? null : sent;
  }

  /**
   * Send several buffers with one vectored call: the count, or null if the buffer is full.
   * @throws as send().
   */
  sendv(bufs: Uint8Array[], firstOffset = 0): number | null {
    const sent = native.sendv(this.open('sendmsg'), bufs, firstOffset);
    return sent === WOULD_BLOCK ? null : sent;
  }

  private readonly fromOut: RecvfromOut = {};

  /**
   * One datagram of up to n bytes and its sender, or null if none is there yet.
   * @throws TypeError / RangeError for a bad n; an errno Error (e.g. ECONNREFUSED after an ICMP error).
   */
  recvfrom(n: number): [Buffer, SockAddress] | null {
    checkSize(n, 'n');
    const buf = Buffer.allocUnsafe(n);
    const got = native.recvfrom(this.open('recvfrom'), buf, 0, n, this.fromOut);
    if (got === WOULD_BLOCK) return null;
    return [got === n ? buf : buf.subarray(0, got), this.fromOut.address!];
  }

  /**
   * Read one datagram into buf: [count, sender], or null if none is there yet.
   * @throws as recvfrom().
   */
  recvfromInto(buf: Uint8Array, nbytes?: number, offset = 0): [number, SockAddress] | null {
    const got = native.recvfrom(this.open('recvfrom'), buf, offset, nbytes ?? buf.length - offset, this.fromOut);
    return got === WOULD_BLOCK ? null : [got, this.fromOut.address!];
  }

  /**
   * Send one datagram to address: the count, or null if the buffer is full.
   * @throws TypeError / RangeError for a malformed address; an errno Error (EMSGSIZE, EACCES for broadcast, ...).
   */
  sendto(data: Uint8Array | string, address: AddressLike): number | null {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const [host, port] = this.splitAddress(address);
    const sent = native.sendto(this.open('sendto'), buf, 0, buf.length, this.family, host, port);
    return sent === WOULD_BLOCK ? null : sent;
  }

  /**
   * Close one direction (SHUT_WR: the peer reads EOF) or both; the fd stays open.
   * @throws an errno Error (ENOTCONN if not connected).
   */
  shutdown(how: number): void {
    native.shutdown(this.open('shutdown'), how);
  }

  /**
   * Set a socket option by name (`sock.setsockopt('TCP_NODELAY', true)`).
   * @throws RangeError for an unknown option name; an errno Error (e.g. ENOPROTOOPT where the platform lacks it).
   */
  setsockopt(option: SocketOptionName, value: number | boolean): void {
    native.setsockopt(this.open('setsockopt'), optionId(option), value);
  }

  /**
   * Read a socket option by name (booleans come back as 0 / 1).
   * @throws RangeError for an unknown option name; an errno Error.
   */
  getsockopt(option: SocketOptionName): number {
    return native.getsockopt(this.open('getsockopt'), optionId(option));
  }

  /**
   * The local address ({ family, address, port }, or { family: 'unix', path }).
   * @throws an errno Error.
   */
  getsockname(): SockAddress {
    return internAddress(native.getsockname(this.open('getsockname')));
  }

  /**
   * The peer's address.
   * @throws an errno Error (ENOTCONN if not connected).
   */
  getpeername(): SockAddress {
    return internAddress(native.getpeername(this.open('getpeername')));
  }

  /**
   * Close the fd. Idempotent. The fd number is forgotten first, so a later
   * call can never touch an fd the process has reused for something else.
   * The loop's sock* coroutines waiting on this socket fail with EBADF.
   */
  close(): void {
    const fd = this.fd;
    if (fd < 0) return;
    const waiters = this.closeWaiters;
    try {
      if (waiters !== null) {
        // The loop's sock* coroutines waiting on this socket: each removes its
        // reader or writer now, while fd is still ours (a number closed
        // behind the selector's back could be reused by the next socket and
        // find a stale registration), then fails its waiter with EBADF.
        this.closeWaiters = null;
        for (let i = 0; i < waiters.length; i++) waiters[i]!();
      }
    } finally {
      this.fd = -1;
      unclosed.unregister(this);
      native.close(fd);
    }
  }

  /** Functions close() calls first (the sock* coroutines waiting on this socket); null when none. */
  private closeWaiters: Array<() => void> | null = null;

  /** @internal Call fn when close() is called, before the fd is closed. */
  _watchClose(fn: () => void): void {
    if (this.closeWaiters === null) this.closeWaiters = [fn];
    else this.closeWaiters.push(fn);
  }

  /** @internal Undo _watchClose(fn). */
  _unwatchClose(fn: () => void): void {
    const waiters = this.closeWaiters;
    if (waiters === null) return;
    const i = waiters.indexOf(fn);
    if (i < 0) return;
    waiters[i] = waiters[waiters.length - 1]!;
    waiters.pop();
  }

  /** @internal The error of a syscall on this socket once closed: EBADF, as open() throws. */
  _closedError(syscall: string): Error {
    return native.errorFromErrno(native.errno.EBADF!, syscall);
  }

  /** Give up ownership of the fd without closing it; the Socket acts closed afterwards. Never throws. */
  detach(): number {
    const fd = this.fd;
    if (fd >= 0) unclosed.unregister(this);
    this.fd = -1;
    return fd;
  }

  /** `<Socket fd=N family=AF_INET type=SOCK_STREAM>` or similar. */
  toString(): string {
    return `<Socket fd=${this.fd} family=${familyName(this.family)} type=${this.type === SOCK_DGRAM ? 'SOCK_DGRAM' : 'SOCK_STREAM'}>`;
  }

  /** The fd, or an EBADF error naming the syscall that was attempted. */
  private open(syscall: string): number {
    if (this.fd < 0) throw native.errorFromErrno(native.errno.EBADF!, syscall);
    return this.fd;
  }

  private splitAddress(address: AddressLike): [string, number] {
    if (this.family === AF_UNIX) {
      if (typeof address !== 'string') throw new TypeError('a Unix socket address is a path string');
      return [address, 0];
    }
    return splitInetAddress(address);
  }
}

/** [host, port] from any AddressLike of an inet family; validates the port. */
export function splitInetAddress(address: AddressLike): [string, number] {
  let host: string | undefined;
  let port: unknown;
  if (Array.isArray(address)) {
    [host, port] = address as [string, number];
  } else if (typeof address === 'object' && address !== null) {
    const a = address as { host?: string; address?: string; port: number };
    host = a.host ?? a.address ?? '';
    port = a.port;
  } else {
    throw new TypeError(`an inet address is [host, port] or { host, port }, got ${String(address)}`);
  }
  if (typeof host !== 'string') throw new TypeError(`host must be a string, got ${String(host)}`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer in 0..65535, got ${String(port)}`);
  }
  return [host, port];
}

/**
 * A connected pair of sockets (AF_UNIX by default), as Python's socket.socketpair().
 * @throws an errno Error from socketpair(2) (EMFILE, EAFNOSUPPORT, ...).
 */
export function socketpair(family: number = AF_UNIX, type: number = SOCK_STREAM): [Socket, Socket] {
  const [a, b] = native.socketpair(family, type);
  return [new Socket(family, type, a), new Socket(family, type, b)];
}

function optionId(option: SocketOptionName): number {
  const id = SocketOption[option];
  if (id === undefined) throw new RangeError(`Unknown socket option '${String(option)}'; known: ${Object.keys(SocketOption).join(', ')}`);
  return id;
}

function checkSize(n: number, name: string): void {
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new TypeError(`${name} must be an integer, got ${String(n)}`);
  if (n < 0) throw new RangeError(`${name} must be >= 0, got ${n}`);
}

function familyName(family: number): string {
  if (family === AF_INET) return 'AF_INET';
  if (family === AF_INET6) return 'AF_INET6';
  if (family === AF_UNIX) return 'AF_UNIX';
  return String(family);
}

// Each address the addon returns holds fresh strings: a server's transports
// keep two addresses per connection, so 10,000 peers on 127.0.0.1 held
// 20,000 copies of '127.0.0.1' and of 'IPv4' (112 bytes a connection,
// measured with a heap snapshot). Share the family names, and the last host
// text seen per family: the duplicate the addon made is garbage at once.
const FAMILIES: Record<string, 'IPv4' | 'IPv6' | 'unix'> = { IPv4: 'IPv4', IPv6: 'IPv6', unix: 'unix' };
let lastHost4 = '';
let lastHost6 = '';

function internAddress(addr: SockAddress): SockAddress {
  const family = FAMILIES[addr.family];
  if (family !== undefined) (addr as { family: string }).family = family;
  if (addr.family === 'IPv4') {
    if (addr.address === lastHost4) addr.address = lastHost4;
    else lastHost4 = addr.address;
  } else if (addr.family === 'IPv6') {
    if (addr.address === lastHost6) addr.address = lastHost6;
    else lastHost6 = addr.address;
  }
  return addr;
}

/**
 * The socket of a `{ sock }` option, owned from now on (the transport or
 * server closes it): a coio Socket as is, or an fd (socket activation, one
 * passed by a parent) wrapped in a Socket, its family read with
 * getsockname and made non-blocking. Checked to be of `type` (and `family`).
 * @throws TypeError for neither; RangeError for the wrong type or family;
 *   ENOTSOCK / EBADF for an fd that is no socket.
 */
export function adoptSocket(sock: Socket | number, type: number, where: string, family?: number): Socket {
  let s: Socket;
  if (sock instanceof Socket) {
    s = sock;
  } else {
    if (typeof sock !== 'number' || !Number.isInteger(sock) || sock < 0) throw new TypeError(`${where}: sock must be a Socket or an fd, got ${String(sock)}`);
    const actual = native.getsockopt(sock, native.SO_TYPE);
    if (actual !== type) throw new RangeError(`${where}: a ${typeName(type)} socket was expected, got fd ${sock} of type ${actual}`);
    const name = native.getsockname(sock);
    const fam = name.family === 'unix' ? AF_UNIX : name.family === 'IPv6' ? AF_INET6 : AF_INET;
    native.setBlocking(sock, false);
    s = new Socket(fam, type, sock);
  }
  if (s.type !== type) throw new RangeError(`${where}: a ${typeName(type)} socket was expected, got a ${typeName(s.type)} one`);
  if (family !== undefined && s.family !== family) throw new RangeError(`${where}: an AF_UNIX socket was expected, got family ${s.family}`);
  return s;
}

function typeName(type: number): string {
  return type === SOCK_STREAM ? 'SOCK_STREAM' : type === SOCK_DGRAM ? 'SOCK_DGRAM' : String(type);
}
