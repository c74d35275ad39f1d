// Selectors over the native pollers: Python's `selectors` module, camelCased.
//
// A selector maps fds to keys (fileobj, fd, events, data) and waits for
// readiness. The kernel object (epoll, kqueue) or fd table lives in the
// addon; this layer keeps the key map and turns the raw (fd, bits) pairs the
// addon writes into a shared Int32Array into keys and EVENT_* bits.
//
// Two ways to wait:
// - select(timeout) returns [key, events] pairs: the Python API, allocates.
// - wait(timeout) returns a count, then readyKey(i) / readyEvents(i): the
//   event loop's hot path, allocates nothing.

import { native, OP_CANCEL, OP_SENDMSG, POLL_ERROR, POLL_HUP, POLL_NVAL, POLL_READ, POLL_WRITE } from './native.js';
import type { BackendName, NativePoller, RecvPath, UringProbe } from './native.js';

/** Interest and readiness bit: the fd is readable (or at EOF, or in error). */
export const EVENT_READ = 1;
/** Interest and readiness bit: the fd is writable (or in error). */
export const EVENT_WRITE = 2;
const EVENT_MASK = EVENT_READ | EVENT_WRITE;

/** An fd, or an object with a fileno() method (a Socket). */
export type FileObj = number | { fileno(): number };

/** A registration of a selector (Python's SelectorKey): returned by register(), getKey() and select(). */
export interface SelectorKey<T = unknown> {
  /** What was registered: an fd or an object with fileno(). */
  readonly fileobj: FileObj;
  /** Its fd. */
  readonly fd: number;
  /** The events watched: EVENT_READ, EVENT_WRITE or both. */
  events: number;
  /** The data given to register() / modify(). */
  data: T;
}

/** How many ready fds one wait() can report (each is a pair in the shared array). */
const MAX_EVENTS = 1024;
/** How many completions one wait() can report (io_uring); the rest wait in the ring for the next one. */
const MAX_COMPLETIONS = 1024;
/** Entries of the submission queue; more between two waits are handed to the kernel in batches. */
const SUBMIT_QUEUE = 256;

/** Resolve a FileObj to its fd, with Python's errors for bad values. */
export function fileobjToFd(fileobj: FileObj): number {
  let fd: unknown = fileobj;
  if (typeof fileobj === 'object' && fileobj !== null && typeof fileobj.fileno === 'function') {
    fd = fileobj.fileno();
  }
  if (typeof fd !== 'number' || !Number.isInteger(fd)) {
    throw new TypeError(`Invalid file object: ${String(fileobj)}`);
  }
  if (fd < 0) throw new RangeError(`Invalid file descriptor: ${fd}`);
  return fd;
}

function checkEvents(events: number): void {
  if (!Number.isInteger(events) || events === 0 || (events & ~EVENT_MASK) !== 0) {
    throw new RangeError(`Invalid events: ${String(events)} (expected EVENT_READ, EVENT_WRITE or both)`);
  }
}

/**
 * Python's KeyError, as the selectors raise it: registering a fileobj that is
 * already registered (code 'EEXIST'), or unregister / modify / getKey of one
 * that is not (code 'ENOENT').
 */
export class KeyError extends Error {
  /** Always 'KeyError'. */
  override name = 'KeyError';
  /** 'EEXIST' (already registered) or 'ENOENT' (not registered). */
  readonly code: string;

  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/**
 * A selector over one of the native pollers (Python's selectors.BaseSelector):
 * register fds with the events to watch, then wait for readiness with
 * select() (or the allocation-free wait()). Each instance owns its own kernel
 * object; close() it when done. Make one with `new DefaultSelector()`, a
 * backend's class, or createSelector(name).
 * @throws (constructor) an Error with code (e.g. EMFILE) if the kernel object cannot be created.
 */
export abstract class BaseSelector {
  /** The poller behind it: 'epoll', 'io_uring', 'kqueue', 'poll' or 'select'. */
  abstract readonly backend: BackendName;
  private readonly map = new Map<number, SelectorKey>();
  private readonly poller: NativePoller;
  private readonly ready = new Int32Array(MAX_EVENTS * 2);
  /** Keys and masked events of the last wait(), valid until the next one. */
  private readonly readyKeys: SelectorKey[] = [];
  private readonly readyBits = new Int32Array(MAX_EVENTS);
  private closed = false;
  /**
   * @internal The completions array of the completion operations (io_uring
   * only, else null): [count, (token, result, flags) * k], written by each
   * wait(); the proactor layer (selector_events.ts) reads it.
   */
  readonly _completions: Int32Array | null;
  /**
   * The buffers of the completion operations in flight, by token: held here
   * (the poller's keep array) from submit until the operation's last
   * completion, which _opFinished clears. Cheaper than a native reference
   * per operation, and as safe: the poller holds this array until it has
   * cancelled and reaped every operation.
   */
  private readonly opBufs: Array<Uint8Array | readonly Uint8Array[] | null> = [];
  /**
   * The submission queue the poller reads at its next wait() (or flush()):
   * [count, (op, fd, token, offset, length, arg) * SUBMIT_QUEUE]. Queuing an
   * operation is six stores here; the native call that submits them is
   * the wait the loop makes anyway.
   */
  private readonly subq: Int32Array | null;

  protected constructor(backend: BackendName, completions = false) {
    this._completions = completions ? new Int32Array(1 + 3 * MAX_COMPLETIONS) : null;
    this.subq = completions ? new Int32Array(1 + 6 * SUBMIT_QUEUE) : null;
    this.poller =
      this._completions === null ? new native.Poller(backend, this.ready) : new native.Poller(backend, this.ready, this._completions, this.opBufs, this.subq!);
  }

  /** One entry on the submission queue; a full queue is handed to the kernel first. */
  private queueOp(op: number, fd: number, token: number, offset: number, length: number, arg: number): void {
    const q = this.subq!;
    let k = q[0]!;
    if (k >= SUBMIT_QUEUE) {
      this.poller.flush(false);
      k = 0;
    }
    const at = 1 + 6 * k;
    q[at] = op;
    q[at + 1] = fd;
    q[at + 2] = token;
    q[at + 3] = offset;
    q[at + 4] = length;
    q[at + 5] = arg;
    q[0] = k + 1;
  }

  /**
   * @internal Queue a completion operation (io_uring; see NativePoller.submit):
   * the next wait() submits it and reports its completion in _completions
   * (one the kernel cannot take completes there with -errno).
   * @throws RangeError if [offset, offset + length) is not inside buf.
   */
  _submit(op: number, fd: number, buf: Uint8Array | null, offset: number, length: number, token: number, arg: number): void {
    this.checkOpen();
    if (buf !== null) {
      if (!(offset >= 0 && length >= 0 && offset + length <= buf.length)) {
        throw new RangeError(`offset (${offset}) + length (${length}) is beyond the buffer's length (${buf.length})`);
      }
      this.keepBuf(token, buf);
    }
    this.queueOp(op, fd, token, offset, length, arg);
  }

  private keepBuf(token: number, buf: Uint8Array | readonly Uint8Array[]): void {
    const bufs = this.opBufs;
    // Dense: tokens are small, reused integers.
    while (bufs.length < token) bufs.push(null);
    bufs[token] = buf;
  }

  /**
   * @internal Queue a vectored send of chunks[0 .. count) (the first from
   * offset; see NativePoller.submitSendv). chunks must not change until the
   * completion: pass a list of its own.
   */
  _submitSendv(fd: number, chunks: readonly Uint8Array[], count: number, offset: number, token: number): void {
    this.checkOpen();
    this.keepBuf(token, chunks);
    this.queueOp(OP_SENDMSG, fd, token, offset, count, 0);
  }

  /** @internal The operation named token had its last completion: its buffer may go. */
  _opFinished(token: number): void {
    this.opBufs[token] = null;
  }

  /** @internal Register the provided buffers of multishot recvs (see NativePoller.setBufRing). */
  _setBufRing(pool: Uint8Array, count: number, size: number, recycle: Int32Array): void {
    this.checkOpen();
    this.poller.setBufRing(pool, count, size, recycle);
  }

  /** @internal Cancel the completion operation named token (queued: it completes with -ECANCELED, or its result if it finished first). */
  _cancelOp(token: number): void {
    if (this.closed) return;
    this.queueOp(OP_CANCEL, -1, token, 0, 0, token);
  }

  /**
   * Start watching fileobj for events; data is kept on the key.
   * @throws TypeError for a fileobj that is neither an fd nor has fileno();
   *   RangeError for a negative fd, bad events, or (select) an fd at or above
   *   FD_SETSIZE; a KeyError (code EEXIST) if it is already registered; an
   *   Error with code EBADF if the selector is closed, or the poller's errno
   *   error (e.g. EBADF for a closed fd, EPERM for a regular file with epoll).
   */
  register<T>(fileobj: FileObj, events: number, data?: T): SelectorKey<T> {
    this.checkOpen();
    checkEvents(events);
    const fd = fileobjToFd(fileobj);
    if (this.map.has(fd)) throw new KeyError(`${String(fileobj)} (fd ${fd}) is already registered`, 'EEXIST');
    this.poller.add(fd, events);
    const key: SelectorKey<T> = { fileobj, fd, events, data: data as T };
    this.map.set(fd, key);
    return key;
  }

  /**
   * Stop watching fileobj. Works after the fd was closed (the key is dropped).
   * @throws a KeyError (code ENOENT) if it is not registered; EBADF if the selector is closed.
   */
  unregister(fileobj: FileObj): SelectorKey {
    this.checkOpen();
    const key = this.getKey(fileobj);
    this.map.delete(key.fd);
    this.poller.remove(key.fd);
    return key;
  }

  /**
   * Change the events and data of a registered fileobj; the kernel is only told when events change.
   * @throws a KeyError (code ENOENT) if it is not registered; RangeError for bad events; EBADF if closed.
   */
  modify<T>(fileobj: FileObj, events: number, data?: T): SelectorKey<T> {
    this.checkOpen();
    checkEvents(events);
    const key = this.getKey(fileobj) as SelectorKey<T>;
    if (events !== key.events) {
      this.poller.modify(key.fd, events);
      key.events = events;
    }
    if (arguments.length > 2) key.data = data as T;
    return key;
  }

  /**
   * Wait until some registered fileobj is ready, or the timeout elapses.
   * timeout in seconds: null / undefined waits forever, <= 0 polls.
   * Returns [key, events] pairs.
   * @throws TypeError if timeout is not a number or null; an Error with code EBADF if the selector is closed.
   */
  select(timeout?: number | null): Array<[SelectorKey, number]> {
    const n = this.wait(timeout ?? null);
    const out: Array<[SelectorKey, number]> = [];
    for (let i = 0; i < n; i++) out.push([this.readyKeys[i]!, this.readyBits[i]!]);
    return out;
  }

  /**
   * The allocation-free form of select(): returns how many keys are ready;
   * read them with readyKey(i) and readyEvents(i) before the next wait.
   * @throws as select().
   */
  wait(timeout: number | null): number {
    this.checkOpen();
    const raw = this.poller.wait(toMillis(timeout));
    const ready = this.ready;
    let n = 0;
    for (let i = 0; i < raw; i++) {
      const fd = ready[2 * i]!;
      const key = this.map.get(fd);
      if (key === undefined) continue; // unregistered while its event was in flight
      const bits = ready[2 * i + 1]!;
      if ((bits & POLL_NVAL) !== 0) {
        // Closed while registered (poll, select): the kernel cannot watch it
        // any more, and would report it on every wait (a callback that does
        // not unregister would spin). Report it this once (both directions,
        // so whoever waits finds out through its own syscall: EBADF), and
        // forget it; the next owner of the number registers afresh.
        this.map.delete(fd);
        this.poller.remove(fd);
      }
      let events = 0;
      if (bits & POLL_READ) events |= EVENT_READ;
      if (bits & POLL_WRITE) events |= EVENT_WRITE;
      // An error or hang-up wakes both directions, so whoever waits finds
      // out through its own syscall (Python's selectors do the same).
      if (bits & (POLL_ERROR | POLL_HUP)) events |= EVENT_MASK;
      events &= key.events;
      if (events === 0) continue;
      this.readyKeys[n] = key;
      this.readyBits[n] = events;
      n++;
    }
    return n;
  }

  /**
   * @internal Set the events of a registered key. The kernel is told when
   * they change, and also when `again` (a new owner takes the fd over: its
   * number may have been closed and reused behind the selector's back, and
   * the kernel's registration dropped). True when that happened (the
   * registration now watches the new file), else false.
   */
  _setEvents(key: SelectorKey, events: number, again: boolean): boolean {
    this.checkOpen();
    checkEvents(events);
    if (events === key.events && !again) return false;
    const reused = this.poller.modify(key.fd, events, again);
    key.events = events;
    return reused;
  }

  /** After wait() returned n: the key of the i-th ready fd (0 <= i < n). Valid until the next wait(). */
  readyKey(i: number): SelectorKey {
    return this.readyKeys[i]!;
  }

  /** After wait() returned n: the ready events (EVENT_READ / EVENT_WRITE bits) of the i-th ready fd. */
  readyEvents(i: number): number {
    return this.readyBits[i]!;
  }

  /** The key of a registered fileobj; a KeyError (code ENOENT) if it is not registered. */
  getKey(fileobj: FileObj): SelectorKey {
    const fd = fileobjToFd(fileobj);
    const key = this.map.get(fd);
    if (key === undefined) throw new KeyError(`${String(fileobj)} (fd ${fd}) is not registered`, 'ENOENT');
    return key;
  }

  /** The registrations by fd (a live, read-only view). Never throws. */
  getMap(): ReadonlyMap<number, SelectorKey> {
    return this.map;
  }

  /**
   * @internal Hand queued registration changes to the kernel now (io_uring
   * queues them until the next wait), before waiting on fileno() elsewhere.
   */
  _flush(settle = false): void {
    this.checkOpen();
    this.poller.flush(settle);
  }

  /** The poller's own fd (epoll, kqueue), an eventfd the ring signals when it has work (io_uring), or -1 (poll, select). */
  fileno(): number {
    this.checkOpen();
    return this.poller.fileno();
  }

  /**
   * True once close() was called. A method, like the loop's isClosed() (it was
   * a getter before: `sel.isClosed` without the call is now always truthy).
   */
  isClosed(): boolean {
    return this.closed;
  }

  /** Release the kernel object and forget every key. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.map.clear();
    this.readyKeys.length = 0;
    this.poller.close();
  }

  private checkOpen(): void {
    if (this.closed) {
      const err = new Error('Selector is closed') as NodeJS.ErrnoException;
      err.code = 'EBADF';
      throw err;
    }
  }
}

/** Seconds (null = forever) to the poller's milliseconds (-1 = forever). */
function toMillis(timeout: number | null): number {
  if (timeout === null) return -1;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) {
    throw new TypeError(`timeout must be a number of seconds or null, got ${String(timeout)}`);
  }
  if (timeout <= 0) return 0;
  // The native poller takes any number of milliseconds (it counts in
  // nanoseconds and waits again when a backend caps one wait), so this cap
  // (~24.8 days, an int32 of milliseconds) only bounds direct select() calls:
  // the loop never asks for more than a day (MAXIMUM_SELECT_TIMEOUT).
  return Math.min(timeout * 1000, 2 ** 31 - 1);
}

/** epoll(7) (Linux): the interest set lives in the kernel; a wait costs in proportion to the ready fds. */
export class EpollSelector extends BaseSelector {
  /** Always 'epoll'. */
  readonly backend = 'epoll' as const;
  constructor() {
    super('epoll');
  }
}

/** kqueue(2) (macOS, *BSD): the interest set lives in the kernel; a wait costs in proportion to the ready fds. */
export class KqueueSelector extends BaseSelector {
  /** Always 'kqueue'. */
  readonly backend = 'kqueue' as const;
  constructor() {
    super('kqueue');
  }
}

/** poll(2) (POSIX): every watched fd is passed to the kernel on each wait; no limit on fd numbers. */
export class PollSelector extends BaseSelector {
  /** Always 'poll'. */
  readonly backend = 'poll' as const;
  constructor() {
    super('poll');
  }
}

/** select(2): fds must stay below FD_SETSIZE (registering one above raises a RangeError). */
export class SelectSelector extends BaseSelector {
  /** Always 'select'. */
  readonly backend = 'select' as const;
  constructor() {
    super('select');
  }
}

/**
 * io_uring (Linux): readiness through one-shot poll requests in a ring, all
 * changes and the wait made by one io_uring_enter per loop turn. Listed by
 * availableBackends() only where a ring can be made (uringStatus() says why not).
 */
export class IoUringSelector extends BaseSelector {
  /** Always 'io_uring'. */
  readonly backend = 'io_uring' as const;
  constructor() {
    // With a completions array: the proactor transports submit recv / send /
    // accept into the same ring (proactor_transport.ts).
    super('io_uring', true);
  }
}

const SELECTOR_CLASSES: Record<BackendName, new () => BaseSelector> = {
  epoll: EpollSelector,
  io_uring: IoUringSelector,
  kqueue: KqueueSelector,
  poll: PollSelector,
  select: SelectSelector,
};

let available: BackendName[] | undefined;

let uring: Omit<UringProbe, 'recv'> | undefined;

/**
 * Whether io_uring is usable in this process, probed once: `available`, the
 * `setupFlags` the ring is made with, and when it is not, the `reason` (a
 * sentence to print: no io_uring in this kernel or build, a seccomp filter
 * such as a container's default profile, the kernel.io_uring_disabled sysctl).
 */
export function uringStatus(): UringProbe {
  uring ??= native.uringProbe();
  return { ...uring, setupFlags: uring.setupFlags.slice(), recv: recvPath(undefined) };
}

/** @internal What the one probe found (uringStatus() without the copy and the environment). */
export function _uringProbe(): Readonly<Omit<UringProbe, 'recv'>> {
  return (uring ??= native.uringProbe());
}

/**
 * @internal The receive path of a proactor loop: `wanted` (the loop option
 * `recv`), else the environment variable COIO_RECV, else 'multishot';
 * 'oneshot' where the kernel has no multishot recv.
 * @throws RangeError for a value other than 'multishot' or 'oneshot'.
 */
export function recvPath(wanted: unknown): RecvPath {
  const v = wanted ?? process.env.COIO_RECV;
  if (v === 'oneshot') return 'oneshot';
  if (v !== undefined && v !== '' && v !== 'multishot') throw new RangeError(`recv must be 'multishot' or 'oneshot', got ${String(v)}`);
  uring ??= native.uringProbe();
  return uring.multishotRecv ? 'multishot' : 'oneshot';
}

/**
 * The backends compiled in and usable here, the preferred one first
 * (epoll on Linux, kqueue on macOS/BSD, then io_uring where the kernel lets
 * this process make a ring, then poll, then select).
 * Like CPython's `_can_use`, each is probed by creating one.
 */
export function availableBackends(): BackendName[] {
  if (available === undefined) {
    available = native.backends().filter((name) => {
      if (name === 'io_uring' && !uringStatus().available) return false;
      try {
        new native.Poller(name, new Int32Array(2)).close();
        return true;
      } catch {
        return false;
      }
    });
  }
  return available.slice();
}

let warnedEnv = false;

/**
 * The backend of a loop made without a `selector` option: the first of
 * availableBackends(), unless the environment variable COIO_BACKEND names
 * another ('io_uring', say, to run an existing program on it). A backend
 * COIO_BACKEND names but this process cannot use falls back to the default,
 * with one process warning saying why.
 */
export function defaultBackend(): BackendName {
  const best = availableBackends()[0]!;
  const wanted = process.env.COIO_BACKEND;
  if (wanted === undefined || wanted === '' || wanted === best) return best;
  if (availableBackends().includes(wanted as BackendName)) return wanted as BackendName;
  if (!warnedEnv) {
    warnedEnv = true;
    const why = wanted === 'io_uring' ? uringStatus().reason : `available here: ${availableBackends().join(', ')}`;
    process.emitWarning(`COIO_BACKEND=${wanted} is unavailable (${why}); using ${best}`, { code: 'COIO_BACKEND_UNAVAILABLE' });
  }
  return best;
}

/**
 * A new selector for `backend` (default: defaultBackend(), the first of
 * availableBackends() unless COIO_BACKEND names another).
 * @throws RangeError for an unknown or unavailable backend (for io_uring, the
 *   message says why: uringStatus().reason); as the selector's constructor.
 */
export function createSelector(backend?: BackendName | string): BaseSelector {
  const name = (backend ?? defaultBackend()) as BackendName;
  const Cls = SELECTOR_CLASSES[name];
  if (Cls === undefined || !availableBackends().includes(name)) {
    const why = name === 'io_uring' && SELECTOR_CLASSES[name] !== undefined ? ` (${uringStatus().reason})` : '';
    throw new RangeError(`Unknown or unavailable selector backend '${String(backend)}'${why}; available: ${availableBackends().join(', ')}`);
  }
  return new Cls();
}

/** The best selector class on this platform, chosen by availableBackends()' probe. */
export const DefaultSelector: new () => BaseSelector = SELECTOR_CLASSES[availableBackends()[0]!];
