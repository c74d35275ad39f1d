// Typed loader of the native addon (native/*.cc, built by node-gyp on install).
//
// The addon is thin and syscall-shaped: every function here is one syscall
// (or a short retry loop around one). Policy lives in TypeScript.
//
// Conventions, shared by every function below:
// - fds are plain integers owned by the caller (Socket, Selector, ...).
// - "Would block" is a return value, never an exception: functions that can
//   meet EAGAIN / EWOULDBLOCK / EINPROGRESS return WOULD_BLOCK (-1).
// - EINTR is retried inside the addon.
// - Any other failure throws an Error built in one place (native/errors.cc)
//   carrying `code` ('ECONNRESET'), `errno` (negative, as Node's own errors),
//   `syscall` ('recv'), and `address` / `port` where the call had one.
// - Bad arguments (wrong type, negative fd, range outside a buffer) throw
//   TypeError / RangeError before any syscall is made.

import bindings from 'bindings';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Interest / readiness bits used by the pollers. */
export const POLL_READ = 1;
export const POLL_WRITE = 2;
/** Output only: an error condition (EPOLLERR, POLLERR, EV_ERROR, ...). */
export const POLL_ERROR = 4;
/** Output only: hang-up (EPOLLHUP / EPOLLRDHUP, POLLHUP, EV_EOF). */
export const POLL_HUP = 8;

/** Returned by non-blocking calls that would block (EAGAIN, EINPROGRESS). */
export const WOULD_BLOCK = -1;

export type BackendName = 'epoll' | 'kqueue' | 'poll' | 'select';

/**
 * One OS readiness poller. Each instance owns its own kernel object
 * (epoll fd, kqueue fd) or fd table; there is no process-global state.
 */
export interface NativePoller {
  /** Start watching fd for `interest` (POLL_READ | POLL_WRITE, may be 0). EEXIST if already added. */
  add(fd: number, interest: number): void;
  /** Change the interest of a watched fd. ENOENT if not added. */
  modify(fd: number, interest: number): void;
  /**
   * Stop watching fd. ENOENT if not added. Removing an fd that was already
   * closed by its owner does not throw (the kernel dropped it already).
   */
  remove(fd: number): void;
  /**
   * Wait for readiness. timeoutMs: -1 waits forever, 0 polls, otherwise
   * milliseconds (fractions allowed; rounded up to the backend's resolution,
   * so it never returns early). Retries EINTR with the remaining time.
   * Writes up to `events.length / 2` pairs (fd, bits) into the Int32Array
   * given at construction and returns how many. Allocates nothing.
   */
  wait(timeoutMs: number): number;
  /** Release the kernel object. Further calls throw an EBADF error. Idempotent. */
  close(): void;
  /** The poller's own fd (epoll / kqueue), or -1 for poll and select. */
  fileno(): number;
  readonly backend: BackendName;
  readonly closed: boolean;
}

export interface NativePollerConstructor {
  /** `events` is the shared result array: pairs (fd, bits); its length must be even and >= 2. */
  new (backend: BackendName, events: Int32Array): NativePoller;
}

/** Wakes a poller from another thread or from a signal handler. */
export interface NativeWaker {
  /** The fd to register for POLL_READ (eventfd on Linux, a pipe's read end elsewhere). */
  fileno(): number;
  /** Make fileno() readable. Async-signal-safe on the native side; never throws on a full pipe. */
  wake(): void;
  /** Consume all pending wakeups (non-blocking). Returns true if there was one. */
  drain(): boolean;
  close(): void;
  readonly closed: boolean;
}

export interface NativeWakerConstructor {
  new (): NativeWaker;
}

/** A socket address as returned by getsockname / getpeername / accept / recvfrom. */
export interface InetAddress {
  family: 'IPv4' | 'IPv6';
  address: string;
  port: number;
  /** IPv6 only. */
  flowinfo?: number;
  /** IPv6 only. */
  scopeid?: number;
}
export interface UnixAddress {
  family: 'unix';
  /** '' for an unnamed socket. Abstract names start with '\0'. */
  path: string;
}
export type SockAddress = InetAddress | UnixAddress;

export interface NativeAddon {
  Poller: NativePollerConstructor;
  Waker: NativeWakerConstructor;
  /** Backends compiled into this build, e.g. ['epoll', 'poll', 'select']. */
  backends(): BackendName[];

  // Constants (platform values).
  AF_INET: number;
  AF_INET6: number;
  AF_UNIX: number;
  SOCK_STREAM: number;
  SOCK_DGRAM: number;
  SHUT_RD: number;
  SHUT_WR: number;
  SHUT_RDWR: number;
  FD_SETSIZE: number;
  /** Option ids for setsockopt/getsockopt; our own numbering, mapped to (level, optname) natively. */
  SO_REUSEADDR: number;
  SO_REUSEPORT: number;
  TCP_NODELAY: number;
  SO_KEEPALIVE: number;
  SO_RCVBUF: number;
  SO_SNDBUF: number;
  SO_BROADCAST: number;
  IPV6_V6ONLY: number;
  /** errno values the TypeScript layer tests for. */
  errno: Record<string, number>;

  /** socket(2), always SOCK_NONBLOCK | SOCK_CLOEXEC. Returns the fd. */
  socket(family: number, type: number): number;
  /** socketpair(2), non-blocking, close-on-exec. */
  socketpair(family: number, type: number): [number, number];
  /** pipe2(2) (pipe + fcntl elsewhere), both ends non-blocking, close-on-exec: [readFd, writeFd]. */
  pipe(): [number, number];
  /**
   * bind(2). For AF_INET / AF_INET6 `host` is a numeric address ('' = any)
   * and `port` a number; for AF_UNIX `host` is the path (a leading '\0'
   * makes an abstract name on Linux) and `port` is ignored.
   * A host that does not parse throws an error with code 'EINVAL'.
   */
  bind(fd: number, family: number, host: string, port: number): void;
  listen(fd: number, backlog: number): void;
  /** accept4(2) non-blocking close-on-exec. Returns the new fd or WOULD_BLOCK. */
  accept(fd: number): number;
  /** connect(2). Returns 0 when connected at once, WOULD_BLOCK when in progress (EINPROGRESS / EAGAIN for Unix sockets). */
  connect(fd: number, family: number, host: string, port: number): number;
  /** getsockopt(SO_ERROR): 0 or a positive errno (use errorFromErrno to raise it). */
  getSocketError(fd: number): number;
  /** recv(2) into buf[offset, offset+length). Returns bytes (0 = EOF) or WOULD_BLOCK. */
  recv(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** send(2) of buf[offset, offset+length) with MSG_NOSIGNAL. Returns bytes sent or WOULD_BLOCK. */
  send(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /**
   * sendmsg(2) / writev(2) of several buffers in one call (at most IOV_MAX
   * are taken; the caller loops). The first buffer starts at `firstOffset`.
   * Returns bytes sent or WOULD_BLOCK.
   */
  sendv(fd: number, bufs: Uint8Array[], firstOffset: number): number;
  /** read(2) for pipes and other non-socket fds. Bytes, 0 = EOF, or WOULD_BLOCK. */
  read(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** write(2) for pipes and other non-socket fds. Bytes or WOULD_BLOCK. */
  write(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /**
   * recvfrom(2). Returns WOULD_BLOCK, or the number of bytes and fills
   * `out` (a reusable object) with the sender's address.
   */
  recvfrom(fd: number, buf: Uint8Array, offset: number, length: number, out: { address?: SockAddress }): number;
  /** sendto(2) to a numeric address (or a path for AF_UNIX). Bytes or WOULD_BLOCK. */
  sendto(fd: number, buf: Uint8Array, offset: number, length: number, family: number, host: string, port: number): number;
  shutdown(fd: number, how: number): void;
  /** close(2). EINTR is not retried (POSIX leaves the fd state unspecified; Linux has closed it). */
  close(fd: number): void;
  setsockopt(fd: number, option: number, value: number | boolean): void;
  getsockopt(fd: number, option: number): number;
  getsockname(fd: number): SockAddress;
  getpeername(fd: number): SockAddress;
  /** dup(2) with close-on-exec: a second fd for the same open file (F_DUPFD_CLOEXEC). */
  dup(fd: number): number;
  /** Build the same Error the addon throws, from a positive errno: for SO_ERROR and for tests. */
  errorFromErrno(errno: number, syscall: string, address?: string, port?: number): NodeJS.ErrnoException;
  /** Number of open fds in this process (Linux: /proc/self/fd entries), -1 if unknown. For leak checks. */
  countOpenFds(): number;
}

/**
 * The package root: the nearest directory above this file whose package.json
 * is coio's. (bindings' own search stops at dist/cjs/package.json, which only
 * sets the module type.)
 */
export function packageRoot(): string {
  let dir = dirname(bindings.getFileName());
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'coio') return dir;
      } catch {
        // an unreadable package.json is not ours; keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('coio: cannot find the package root to load the native addon');
    dir = up;
  }
}

export const native: NativeAddon = bindings({ bindings: 'coio', module_root: packageRoot() }) as NativeAddon;
export default native;
