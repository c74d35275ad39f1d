// Typed loader of the native addon (native/*.cc): a prebuild shipped in the
// package, or a source build by node-gyp (see addonPath).
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
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Interest / readiness bits used by the pollers. */
export const POLL_READ = 1;
export const POLL_WRITE = 2;
/** Output only: an error condition (EPOLLERR, POLLERR, EV_ERROR, ...). */
export const POLL_ERROR = 4;
/** Output only: hang-up (EPOLLHUP / EPOLLRDHUP, POLLHUP, EV_EOF). */
export const POLL_HUP = 8;
/** Output only, with POLL_ERROR: the fd is not open (closed while registered: POLLNVAL, or EBADF from select). */
export const POLL_NVAL = 16;

/** Returned by non-blocking calls that would block (EAGAIN, EINPROGRESS). */
export const WOULD_BLOCK = -1;

/** The name of a poller backend (a selector, a loop's `selector` option). */
export type BackendName = 'epoll' | 'io_uring' | 'kqueue' | 'poll' | 'select';

/**
 * One OS readiness poller. Each instance owns its own kernel object
 * (epoll fd, kqueue fd) or fd table; there is no process-global state.
 */
export interface NativePoller {
  /** Start watching fd for `interest` (POLL_READ | POLL_WRITE, may be 0). EEXIST if already added. */
  add(fd: number, interest: number): void;
  /**
   * Change the interest of a watched fd. ENOENT if not added. An unchanged
   * interest makes no syscall unless `again` (a new owner takes the fd over:
   * a registration close(2) dropped behind the poller's back is made anew).
   * True when the fd's number was found to name another file than when it
   * was added (epoll: the kernel had dropped it; poll, select: fstat), else false.
   */
  modify(fd: number, interest: number, again?: boolean): boolean;
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
  /**
   * Hand registration changes queued since the last wait to the kernel now
   * (io_uring queues them until its next wait; the others apply them at
   * once): for a caller about to wait on fileno() elsewhere (guest mode).
   * With settle (io_uring), also let the kernel finish at once what they set
   * off (a cancelled operation lets go of its file); their completions
   * come with the next wait().
   */
  flush(settle?: boolean): void;
  /**
   * Completion operations (io_uring; made with a completions array):
   * queue op (OP_RECV into / OP_SEND from buf[offset, offset+length),
   * OP_ACCEPT multishot, OP_CLOSE, OP_SHUTDOWN with arg = how, OP_CONNECT to
   * the struct sockaddr in buf[offset, offset+length)) on fd, named
   * by token (0 .. 2^20-1, unique among those in flight: EEXIST). No
   * syscall: the next wait() submits it. buf (null for the others) stays
   * referenced by the poller until the operation's last completion, a
   * cancelled one's included (or, for a poller made with a keep array, the
   * caller holds keep[token] = buf until then); wait() writes completions
   * into the array.
   * Other backends: ENOTSUP.
   */
  submit(op: number, fd: number, buf: Uint8Array | null, offset: number, length: number, token: number, arg?: number): void;
  /**
   * A vectored send (io_uring's sendmsg): chunks[0 .. count) in one
   * operation, the first from offset; count at most SENDV_MAX. Named by
   * token as submit() is; the chunks stay alive until its completion (the
   * poller references a copy of the list, or the caller holds
   * keep[token] = a list it leaves unchanged meanwhile).
   */
  submitSendv(fd: number, chunks: readonly Uint8Array[], count: number, offset: number, token: number): void;
  /** Cancel the operation in flight named token: it completes with -ECANCELED (or its own result, if it finished first). False if none is in flight. */
  cancelOp(token: number): boolean;
  /**
   * Provided buffers for OP_RECV_MULTI (io_uring): buffer i is
   * pool[i * size, (i + 1) * size), count a power of two (at most 32768),
   * all given to the kernel now. A completion with OP_BUFFER in its flags
   * has its bytes at the start of buffer `flags >>> 16`, which stays the
   * caller's until it writes the id into recycle (an Int32Array of at least
   * count + 1: ids at [1..n], n at [0]); the next wait() gives those back to
   * the kernel and sets recycle[0] to 0. pool and recycle stay referenced
   * by the poller until close() has reaped every operation. Once per
   * poller (EEXIST); EINVAL where the kernel has no provided-buffer rings.
   */
  setBufRing(pool: Uint8Array, count: number, size: number, recycle: Int32Array): void;
  /** How many completion operations are in flight (their buffers held). */
  readonly opsInFlight: number;
  /** Release the kernel object. Further calls throw an EBADF error. Idempotent. */
  close(): void;
  /** The fd to watch for readiness from outside: the poller's own (epoll / kqueue), an eventfd the ring signals (io_uring), or -1 for poll and select. */
  fileno(): number;
  readonly backend: BackendName;
  readonly closed: boolean;
}

export interface NativePollerConstructor {
  /**
   * `events` is the shared result array: pairs (fd, bits); its length must be even and >= 2.
   * `completions` (io_uring's completion operations): [count, (token, result, flags) * k],
   * written by each wait(); flags has OP_MORE while more completions of the operation follow.
   * `keep` (with completions): the caller keeps each operation's buffer at keep[token] from
   * before submit() until the operation's last completion, and the poller makes no reference
   * per operation (the array itself is held until close() has cancelled and reaped them all).
   * `queue` (with keep): the submission queue, [count, (op, fd, token, offset, length, arg) * k]:
   * the caller writes entries and sets count; the next wait() or flush() submits them in order
   * and sets count to 0. An entry's buffer is keep[token] (OP_SENDMSG: a list of `length`
   * chunks, the first from offset; OP_CANCEL: arg names the operation to cancel). One the
   * kernel cannot take (a bad entry, a detached buffer) completes at that wait with -errno.
   */
  new (
    backend: BackendName,
    events: Int32Array,
    completions?: Int32Array,
    keep?: Array<Uint8Array | readonly Uint8Array[] | null>,
    queue?: Int32Array,
  ): NativePoller;
}

/** Completion operations of Poller.submit (io_uring). */
export const OP_RECV = 1;
export const OP_SEND = 2;
export const OP_ACCEPT = 3;
export const OP_CLOSE = 4;
export const OP_SHUTDOWN = 5;
/** Multishot recv into the provided buffers (setBufRing); buf is null. Ends with EOF (0), an error, -ECANCELED or -ENOBUFS (no buffer left). With arg 1: one recv into one picked buffer. */
export const OP_RECV_MULTI = 7;
/** A completion's flag: more completions of the same operation follow (multishot accept and recv). */
export const OP_MORE = 1;
/** A completion's flag: its bytes are in provided buffer `flags >>> 16`. */
export const OP_BUFFER = 2;
/** Queue-only operations (the poller's submission queue): cancel the operation whose token is arg; a vectored send. */
export const OP_CANCEL = 6;
export const OP_SENDMSG = 8;
/**
 * connect(fd) to the struct sockaddr in buf[offset, offset+length)
 * (native.connectAddress), kept until the completion: 0 once connected
 * (the kernel waits out a TCP handshake itself), or -errno.
 */
export const OP_CONNECT = 9;
/** Chunks per vectored send (NativePoller.submitSendv). */
export const SENDV_MAX = 64;

/** Wakes a poller from another thread or from a signal handler. */
export interface NativeWaker {
  /** The fd to register for POLL_READ (eventfd on Linux, a pipe's read end elsewhere). */
  fileno(): number;
  /**
   * The fd wake() writes to: the same eventfd on Linux, the pipe's write end
   * elsewhere. Another thread wakes the loop with wakeWrite() on its own
   * dup() of this fd (never of fileno(): a pipe's read end cannot be written).
   */
  writeFd(): number;
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
  /** 'IPv4' or 'IPv6' (Node's spelling). */
  family: 'IPv4' | 'IPv6';
  /** The numeric host, e.g. '127.0.0.1' or '::1'. */
  address: string;
  /** The port, 0-65535. */
  port: number;
  /** IPv6 only. */
  flowinfo?: number;
  /** IPv6 only. */
  scopeid?: number;
}
/** A Unix socket address as returned by getsockname / getpeername / accept / recvfrom. */
export interface UnixAddress {
  /** Always 'unix'. */
  family: 'unix';
  /** '' for an unnamed socket. Abstract names start with '\0'. */
  path: string;
}
/** An address coio returns: an InetAddress or a UnixAddress (tell them apart by `family`). */
export type SockAddress = InetAddress | UnixAddress;

/** What the addon was built with (native.build): key on this, not on process.platform. */
export interface NativeBuild {
  /**
   * Built with coio_portable=1 (scripts/portable.sh): the files an OS
   * without epoll or kqueue gets, on any OS, so Linux runs the paths macOS
   * and the BSDs take (the pipe waker, no pidfd, poll as the default).
   */
  portable: boolean;
  /** The Waker's kind: one 'eventfd' (Linux) or a 'pipe' (everywhere else, and the portable build). */
  waker: 'eventfd' | 'pipe';
  /** Whether pidfdOpen can return a pidfd (Linux builds; it may still get -1 from an old kernel). */
  pidfd: boolean;
  /** Whether sendfile makes the call (Linux, macOS, FreeBSD); false where it reports ENOSYS (OpenBSD, NetBSD, the portable build). */
  sendfile: boolean;
}

/** How the proactor transports receive (uringStatus().recv, the loop option `recv`). */
export type RecvPath = 'multishot' | 'oneshot';

/** What uringProbe() found: can this process make an io_uring, and if not, why. */
export interface UringProbe {
  /** A ring could be set up here. */
  available: boolean;
  /** The errno io_uring_setup failed with (0 when available). */
  errno: number;
  /** Why it is unavailable, a sentence for the user ('' when available). */
  reason: string;
  /** The setup flags the ring is made with: 'SINGLE_ISSUER', 'DEFER_TASKRUN', 'COOP_TASKRUN', 'SUBMIT_ALL'. */
  setupFlags: string[];
  /** The kernel's IORING_FEAT_* bits. */
  features: number;
  /** Multishot recv into a provided-buffer ring works here (Linux 6.0): the proactor transports can receive that way. */
  multishotRecv: boolean;
  /** The kernel supports IORING_OP_CONNECT (Linux 5.5): a proactor loop's sockConnect (and createConnection's connect) is one operation in the ring. */
  connect: boolean;
  /**
   * The receive path of the proactor transports of a loop made now without
   * a `recv` option: 'multishot' (one multishot recv per connection into the
   * loop's pool of buffers) where multishotRecv and the environment variable
   * COIO_RECV is unset or 'multishot'; 'oneshot' (one recv at a time into the
   * transport's own buffer) otherwise.
   */
  recv: RecvPath;
}

export interface NativeAddon {
  Poller: NativePollerConstructor;
  Waker: NativeWakerConstructor;
  /** Backends compiled into this build, e.g. ['epoll', 'io_uring', 'poll', 'select']. */
  backends(): BackendName[];
  /**
   * Sets up an io_uring and closes it: whether this process may use one, and
   * if not, why (no io_uring in this kernel or build, a seccomp filter, the
   * kernel.io_uring_disabled sysctl). `simulateErrno` pretends the setup
   * failed with that errno (to test the diagnostics).
   */
  uringProbe(simulateErrno?: number): Omit<UringProbe, 'recv'>;
  /** What this build compiled in. */
  build: NativeBuild;
  /**
   * Wake a Waker from any thread: one write to `fd`, a dup of its writeFd().
   * Returns true (woken, or a full pipe / counter: awake already), or false
   * when its read end is closed (EPIPE: the loop closed its Waker, nobody is
   * left to wake); SIGPIPE is never delivered, whatever its disposition.
   * Other errors (EBADF) throw.
   */
  wakeWrite(fd: number): boolean;

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
  SO_TYPE: number;
  TCP_KEEPIDLE: number;
  TCP_KEEPINTVL: number;
  TCP_KEEPCNT: number;
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
  /**
   * The struct sockaddr connect(fd, family, host, port) would give the
   * kernel, as a Buffer of its length: the address of an OP_CONNECT, which
   * the caller keeps until its completion. Throws as connect() does for an
   * address that does not parse (EINVAL, ENAMETOOLONG, naming 'connect').
   */
  connectAddress(family: number, host: string, port: number): Buffer;
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
  /**
   * glibc only: raise M_TRIM_THRESHOLD and M_MMAP_THRESHOLD (bytes) so the
   * pages of large, short-lived Buffers stay mapped and are reused instead of
   * being returned to the OS and faulted back in. Process-wide. Returns
   * whether it was applied (false with other C libraries).
   */
  tuneMalloc(trimThreshold: number, mmapThreshold: number): boolean;
  /** dup(2) with close-on-exec: a second fd for the same open file (F_DUPFD_CLOEXEC). */
  dup(fd: number): number;
  /** Build the same Error the addon throws, from a positive errno: for SO_ERROR and for tests. */
  errorFromErrno(errno: number, syscall: string, address?: string, port?: number): NodeJS.ErrnoException;
  /** Number of open fds in this process (Linux: /proc/self/fd entries), -1 if unknown. For leak checks. */
  countOpenFds(): number;

  // Signals (native/signals.cc). Signal dispositions are per process: this is
  // the addon's one process-global table (documented at the top of that file).

  /**
   * Watch signal `signum`: the first watcher of a signal installs coio's
   * sigaction handler (saving the disposition it replaces); on each delivery
   * the handler marks every watcher of the signal pending and writes one byte
   * to its `wakeFd` (a non-blocking pipe's write end that the loop polls).
   * `chain`: also call the replaced handler (for SIGCHLD, so libuv still
   * reaps Node's children). Returns the watcher id. EINVAL ('sigaction') for
   * SIGKILL, SIGSTOP and signals the OS reserves; ENOSPC when all 128 watcher
   * slots are taken. RangeError for a signum outside 1 .. NSIG - 1.
   */
  signalAdd(signum: number, wakeFd: number, chain: boolean): number;
  /**
   * Stop watcher `id` (added by this thread). When it was its signal's last
   * watcher, the saved disposition is restored, unless coio's handler was
   * replaced since (then the replacement stays). On return no handler can
   * still write to its wakeFd, so the caller may close it.
   */
  signalRemove(id: number): void;
  /** Whether watcher `id`'s signal arrived since the last call (and clear the mark). */
  signalTake(id: number): boolean;
  /**
   * The current disposition of `signum`: 'default' (SIG_DFL), 'ignore'
   * (SIG_IGN), 'coio' (our handler) or 'handler' (someone else's, e.g. Node's
   * or libuv's).
   */
  signalDisposition(signum: number): 'default' | 'ignore' | 'coio' | 'handler';

  // Child processes (native/spawn.cc).

  /**
   * posix_spawn(2) `path` (no PATH search: pass a path) with `argv` (argv[0]
   * included, not empty), `env` ('NAME=value' strings), `cwd` (null: ours)
   * and the three fds that become the child's 0, 1 and 2 (they may be 0-2
   * themselves, and the same fd twice). The child starts with every signal at
   * its default action and none blocked. Returns the pid. A failed exec is
   * reported here: an error with code 'ENOENT' / 'EACCES', syscall 'spawn' and
   * `address` = path. TypeError for strings with NUL bytes.
   */
  spawn(path: string, argv: string[], env: string[], cwd: string | null, stdinFd: number, stdoutFd: number, stderrFd: number): number;
  /**
   * pidfd_open(2) of our child `pid`: an fd (close-on-exec) that polls
   * readable once the child exits; -1 where the kernel has none (Linux < 5.3,
   * not Linux, or refused by a sandbox). Close it with close().
   */
  pidfdOpen(pid: number): number;
  /**
   * waitpid(pid, WNOHANG) for one child, never -1 (that would reap Node's own
   * children): null while it runs, else its returncode: the exit status, or
   * -N if signal N killed it. ECHILD if it is not our child or was reaped.
   */
  waitpid(pid: number): number | null;
  /** kill(2). pid must be > 0 (no process groups); signum 0 checks the process exists. ESRCH, EPERM. */
  kill(pid: number, signum: number): void;
  /** Clear (true) or set (false) O_NONBLOCK on fd's open file. */
  setBlocking(fd: number, blocking: boolean): void;

  // sendfile (native/sendfile*.cc).

  /**
   * sendfile(2) of up to `count` (>= 1) bytes of fileFd from `offset` to the
   * socket sockFd, leaving fileFd's position alone. Returns the bytes sent
   * (0: offset at or past the end of the file) or WOULD_BLOCK. Throws the
   * errno Error (syscall 'sendfile'): EINVAL / ENOSYS / EOPNOTSUPP when this
   * pair of fds cannot do it (not a regular file, not a socket, no sendfile
   * in this build), EPIPE / ECONNRESET when the peer went away.
   */
  sendfile(sockFd: number, fileFd: number, offset: number, count: number): number;
  /** lseek(2): whence 0 (SEEK_SET), 1 (SEEK_CUR) or 2 (SEEK_END); the new position. ESPIPE for a pipe or socket. */
  lseek(fd: number, offset: number, whence: number): number;

  // V8's microtask queue (native/microtasks.cc), for the blocking loop.

  /**
   * Run V8's microtask checkpoint now (promise continuations, and those they
   * queue, until the queue is empty) and return true; return false without
   * running anything when a microtask is running already (the caller was
   * entered from inside one: V8 refuses nested checkpoints). Node's
   * process.nextTick queue is not touched.
   */
  drainMicrotasks(): boolean;
  /** Whether a microtask is running (so drainMicrotasks() would do nothing). */
  isRunningMicrotasks(): boolean;
  /** End V8's hold on the targets of the WeakRefs made so far (as the end of a job does), so they can be collected. */
  clearKeptObjects(): void;

  // Guest mode (native/guest.cc): coio's loop driven by Node's libuv loop.

  Guest: NativeGuestConstructor;
}

/**
 * Drives a coio loop from Node's libuv loop (src/guest.ts). Construction
 * starts it: a uv_poll on `fd` (the poller's own fd; -1 for poll / select,
 * which are then polled every `intervalMs`), a uv_timer for coio's next
 * timer, a uv_prepare that runs before libuv blocks, a uv_idle while coio
 * has callbacks ready, and one ref'd uv_async that keeps the process alive.
 */
export interface NativeGuestConstructor {
  /**
   * `step(pollStatus)` runs one coio iteration; it is called through
   * napi_make_callback (Node runs nextTicks and microtasks after it), from
   * the prepare phase, when I/O or a timer was noted or `nextTimeout()`
   * said 0. `pollStatus` is 0, or a negative libuv error when the watched
   * fd failed. `nextTimeout()` returns milliseconds until coio needs a step
   * (0: now, -1: no timer); it must run no user code. Neither may throw
   * (an exception becomes an uncaught exception). EEXIST ('uv_poll_init')
   * when libuv already watches fd; RangeError for intervalMs outside 1 .. 1e9.
   */
  new (fd: number, step: (pollStatus: number) => void, nextTimeout: () => number, intervalMs: number): NativeGuest;
}

export interface NativeGuest {
  /**
   * Close every uv handle (uv_close; their memory is freed by libuv's close
   * callbacks) and drop the functions: the process may exit once nothing
   * else keeps it alive. Never calls JS. Idempotent; may be called from
   * inside step.
   */
  close(): void;
  readonly closed: boolean;
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

/**
 * COIO_ADDON_PATH: load the addon from this file instead of build/ or prebuilds/ (the
 * sanitized build of scripts/asan.sh lives in build-asan/). Read once, at
 * load; worker threads that load the addon themselves get it in their
 * workerData (resolver.ts), so they load the same file.
 */
export const addonPathOverride: string | undefined = process.env.COIO_ADDON_PATH || undefined;

/** The parts of node-gyp-build's matching rules addonPath() uses (its own loader takes the first addon of a directory; coio has two). */
interface NodeGypBuild {
  parseTuple(dir: string): PrebuildDir | undefined;
  matchTuple(platform: string, arch: string): (tuple: PrebuildDir | undefined) => tuple is PrebuildDir;
  compareTuples(a: PrebuildDir, b: PrebuildDir): number;
  parseTags(file: string): PrebuildTags | undefined;
  matchTags(runtime: string, abi: string): (tags: PrebuildTags | undefined) => tags is PrebuildTags;
  compareTags(runtime: string): (a: PrebuildTags, b: PrebuildTags) => number;
}
/** prebuilds/<platform>-<arch>, parsed. */
interface PrebuildDir {
  name: string;
  platform: string;
  architectures: string[];
}
/** A prebuild's file name, parsed into its tags (napi, glibc / musl, ...). */
interface PrebuildTags {
  file: string;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The file of one of coio's addons ('coio', or 'coio_tls' for TLS), found as
 * node-gyp-build finds an addon: a source build (build/Release, made by
 * `npm install` from a clone, or by the install script when no prebuild
 * matched) first, else the prebuild in the package that matches this
 * platform, architecture and libc (prebuilds/<platform>-<arch>/<name>.napi.<libc>.node,
 * made by scripts/prebuild.mjs with prebuildify: N-API, so one file serves
 * every Node version). COIO_ADDON_PATH overrides both (see addonPathOverride).
 * @throws an Error with code 'ERR_COIO_NO_ADDON' that says what to run, when there is neither.
 */
export function addonPath(name: 'coio' | 'coio_tls', root: string = packageRoot()): string {
  const built = join(root, 'build', 'Release', `${name}.node`);
  if (existsSync(built)) return built;
  const ngb = createRequire(join(root, 'package.json'))('node-gyp-build') as NodeGypBuild;
  const prebuilds = join(root, 'prebuilds');
  const tuple = listDir(prebuilds)
    .map((d) => ngb.parseTuple(d))
    .filter(ngb.matchTuple(process.platform, process.arch))
    .sort(ngb.compareTuples)[0];
  if (tuple !== undefined) {
    const candidates = listDir(join(prebuilds, tuple.name))
      .filter((f) => f.split('.')[0] === name)
      .map((f) => ngb.parseTags(f))
      .filter(ngb.matchTags('node', process.versions.modules))
      .sort(ngb.compareTags('node'));
    if (candidates[0] !== undefined) return join(prebuilds, tuple.name, candidates[0].file);
  }
  const shipped = listDir(prebuilds).join(', ') || 'none';
  throw Object.assign(
    new Error(
      `coio: no native addon for ${process.platform}-${process.arch} (Node ${process.version}) in ${root}: ` +
        `no source build (build/Release/${name}.node) and no matching prebuild (prebuilds shipped: ${shipped}). ` +
        'Build it from source: run `npm rebuild coio` in your project (`pnpm rebuild coio` with pnpm); ' +
        'it needs python3, make and a C++17 compiler.',
    ),
    { code: 'ERR_COIO_NO_ADDON' },
  );
}

function dlopen<T>(file: string): T {
  const mod = { exports: {} as T };
  process.dlopen(mod, file);
  return mod.exports;
}

/**
 * The file the main addon was loaded from: worker threads that load the
 * addon themselves (threads.ts, resolver.ts) get it in their workerData,
 * so they load the same file.
 */
export const loadedAddonPath: string = addonPathOverride ?? addonPath('coio');

export const native: NativeAddon = dlopen<NativeAddon>(loadedAddonPath);

/** @internal Load the TLS addon: beside COIO_ADDON_PATH's file when set (the sanitized builds put both side by side), else as addonPath() finds it. */
export function loadTlsAddon<T>(): T {
  return dlopen<T>(addonPathOverride !== undefined ? join(dirname(addonPathOverride), 'coio_tls.node') : addonPath('coio_tls'));
}
export default native;
