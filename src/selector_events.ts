// BaseSelectorEventLoop: readiness I/O on top of the selectors (asyncio's
// selector_events module). It implements BaseEventLoop's one abstract step,
// _poll, and addReader / removeReader / addWriter / removeWriter, on which
// the networking layer (network_events.ts: sock*, transports) is built.
//
// Each fd is registered once, with one key holding both its reader and its
// writer handle; replacing a handle never touches the kernel, and the
// interest is modified only when it really changes (the selector only calls
// the poller when the events differ).

import { BaseEventLoop } from './base_events.js';
import { RuntimeError } from './errors.js';
import { Handle, _getRunningLoop } from './events.js';
import type { Callback } from './events.js';
import { BaseSelector, EVENT_READ, EVENT_WRITE, createSelector, fileobjToFd, recvPath } from './selectors.js';
import type { FileObj, SelectorKey } from './selectors.js';
import { OP_MORE } from './native.js';
import type { BackendName, RecvPath } from './native.js';
import { RecvPool } from './recv_pool.js';
import type { Socket } from './socket.js';
import { _loopDebug } from './socket.js';
import { tuneHeap } from './transport_helpers.js';
import { _promiseWorkPending } from './microtasks.js';

// A Socket made while a loop in debug mode runs warns if it is collected unclosed (socket.ts).
_loopDebug.enabled = () => _getRunningLoop()?._debug === true;

/** The data of a selector key: who to call when the fd is readable / writable. */
interface IoHandles {
  reader: Handle | null;
  writer: Handle | null;
}

/** Options of a loop's constructor (newEventLoop): which selector it waits in. */
export interface SelectorLoopOptions {
  /** A backend name ('epoll', 'io_uring', 'kqueue', 'poll', 'select') or a selector instance (the loop closes it). Default: defaultBackend() (the platform's best, or the environment variable COIO_BACKEND). */
  selector?: BackendName | BaseSelector;
  /**
   * On the io_uring backend, which socket transports the loop makes:
   * 'proactor' (recv, send and accept submitted to the ring as completion
   * operations, proactor_transport.ts) or 'readiness' (the selector
   * transports, woken by poll requests in the ring). Ignored on the other
   * backends (always readiness). Default: the environment variable
   * COIO_TRANSPORTS ('proactor' or 'readiness'), else 'proactor'.
   */
  transports?: 'proactor' | 'readiness';
  /**
   * How the proactor transports receive: 'multishot' (one multishot recv per
   * connection into buffers the kernel picks from the loop's pool when data
   * comes, so an idle connection holds no buffer) or 'oneshot' (one recv at a
   * time into the transport's own 64 KiB buffer). Default: the environment
   * variable COIO_RECV, else 'multishot' where the kernel has it (Linux 6.0;
   * uringStatus().multishotRecv), else 'oneshot'.
   */
  recv?: RecvPath;
}

/**
 * @internal What a completion operation reports to (a proactor transport, a
 * server's multishot accept): called from the loop's poll step, once per
 * completion, with the kind given at submission. Must not throw; it stores
 * the result and schedules its own callback.
 */
export interface OpTarget {
  _opDone(kind: number, result: number, flags: number): void;
}

function transportsOption(value: unknown): boolean {
  const v = value ?? process.env.COIO_TRANSPORTS;
  if (v === undefined || v === '' || v === 'proactor') return true;
  if (v === 'readiness') return false;
  throw new RangeError(`transports must be 'proactor' or 'readiness', got ${String(v)}`);
}

/**
 * The readiness layer of the event loop (asyncio's BaseSelectorEventLoop):
 * waits in a selector (epoll, io_uring, kqueue, poll or select) and calls the callbacks
 * registered with addReader / addWriter. A layer of {@link EventLoop}; make
 * loops with newEventLoop().
 */
export abstract class BaseSelectorEventLoop extends BaseEventLoop {
  /** @internal */ readonly _selector: BaseSelector;

  /**
   * A loop waiting in options.selector (a backend name or a selector; default: the platform's best).
   * @throws RangeError for an unknown or unavailable backend; an errno Error if the poller cannot be made.
   */
  constructor(options: SelectorLoopOptions = {}) {
    super();
    const sel = options.selector;
    const proactor = transportsOption(options.transports);
    this._selector = sel instanceof BaseSelector ? sel : createSelector(sel);
    this._proactor = proactor && this._selector._completions !== null;
    const recv = options.recv;
    if (recv !== undefined && recv !== 'multishot' && recv !== 'oneshot') throw new RangeError(`recv must be 'multishot' or 'oneshot', got ${String(recv)}`);
    this._recvMultishot = this._proactor && recvPath(recv) === 'multishot';
    // Before the program allocates its I/O buffers (a BufferedProtocol's, a
    // readInto's): one allocated while glibc's thresholds are still the
    // defaults is mmap()ed, and a recv of 100 KiB into it measured twice the
    // kernel time of one into a buffer from the tuned heap (strace -c, echo bench).
    tuneHeap();
  }

  /** @internal True when socket transports and servers use completion operations (io_uring, transports: 'proactor'). */
  readonly _proactor: boolean;
  /** @internal True when the proactor transports receive with multishot recvs into the loop's pool. */
  _recvMultishot: boolean;
  private _pool: RecvPool | null = null;

  /**
   * @internal The pool of the multishot recvs, made (and registered with
   * the ring) by the first proactor transport that asks; null on the
   * one-shot path. A ring that refuses it puts the loop on the one-shot path.
   * count and size (tests: a small pool) apply to the first call only.
   */
  _recvPool(count?: number, size?: number): RecvPool | null {
    if (this._pool !== null || !this._recvMultishot) return this._pool;
    try {
      this._pool = new RecvPool(this._selector, count, size);
    } catch {
      this._recvMultishot = false;
    }
    return this._pool;
  }

  // The completion operations in flight, by token (a token is a slot of
  // these arrays, reused once its operation's last completion came): who to
  // tell, and what kind of operation it was (the target's own numbering).
  private readonly _opTargets: Array<OpTarget | null> = [];
  private readonly _opKinds: number[] = [];
  private readonly _freeTokens: number[] = [];
  private _opsInFlight = 0;

  /**
   * @internal Queue a completion operation (native.ts: OP_RECV, OP_SEND,
   * OP_ACCEPT, OP_SHUTDOWN) for target; the next poll step submits it (no
   * syscall here) and calls target._opDone(kind, result, flags) with its
   * completion. Returns the token (for _cancelOp).
   * @throws as NativePoller.submit (a full ring: the errno of io_uring_enter).
   */
  _submitOp(op: number, fd: number, buf: Uint8Array | null, offset: number, length: number, target: OpTarget, kind: number, arg = 0): number {
    const token = this._takeToken();
    try {
      this._selector._submit(op, fd, buf, offset, length, token, arg);
    } catch (err) {
      this._returnToken(token);
      throw err;
    }
    return this._trackOp(token, target, kind);
  }

  /** @internal _submitOp for a vectored send (NativePoller.submitSendv): chunks is the operation's own list, left unchanged until its completion. */
  _submitSendv(fd: number, chunks: readonly Uint8Array[], count: number, offset: number, target: OpTarget, kind: number): number {
    const token = this._takeToken();
    try {
      this._selector._submitSendv(fd, chunks, count, offset, token);
    } catch (err) {
      this._returnToken(token);
      throw err;
    }
    return this._trackOp(token, target, kind);
  }

  private _takeToken(): number {
    const free = this._freeTokens;
    return free.length > 0 ? free.pop()! : this._opTargets.length;
  }

  /** A token taken for a submission that failed: free again unless it was a new one (never stored). */
  private _returnToken(token: number): void {
    if (token < this._opTargets.length) this._freeTokens.push(token);
  }

  private _trackOp(token: number, target: OpTarget, kind: number): number {
    this._opTargets[token] = target;
    this._opKinds[token] = kind;
    this._opsInFlight++;
    return token;
  }

  /**
   * @internal Before closing an fd that has operations in flight: hand the
   * queue to the kernel now (one io_uring_enter), so that each operation
   * takes its reference to the file while the fd still names it (closed
   * first, the number could name another file by the next poll step, and a
   * queued recv or accept would act on that one), and let the
   * cancellations finish, so that the socket is really closed when close()
   * returns (a listener that lingered would take connections and reset them).
   */
  _flushOps(): void {
    if (this._opsInFlight === 0 || this.isClosed()) return;
    try {
      this._selector._flush(true);
    } catch {
      // A ring that refuses even this has failed the loop: its next wait says so.
    }
  }

  /** @internal Ask the kernel to cancel the operation named token: it completes with -ECANCELED (or its result, if it finished first). */
  _cancelOp(token: number): void {
    if (this._opTargets[token] != null) this._selector._cancelOp(token);
  }

  /** The selector's backend: 'epoll', 'io_uring', 'kqueue', 'poll' or 'select'. */
  get backend(): BackendName {
    return this._selector.backend;
  }

  /**
   * Call callback(...args) each time fd is readable, until removeReader. Replaces a previous reader.
   * @throws RuntimeError if the loop is closed, or if fd belongs to an open
   *   transport (its own callback would be replaced: asyncio refuses it too);
   *   TypeError for a bad fd or callback; RangeError for a negative fd, or
   *   (select backend) an fd at or above FD_SETSIZE.
   */
  addReader<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle {
    this._ensureFdNoTransport(fd);
    return this._addReader(fd, callback, ...args);
  }

  /**
   * Stop watching fd for reading; false if it was not watched.
   * @throws RuntimeError if fd belongs to an open transport.
   */
  removeReader(fd: FileObj): boolean {
    this._ensureFdNoTransport(fd);
    return this._removeReader(fd);
  }

  /**
   * Call callback(...args) each time fd is writable, until removeWriter. Replaces a previous writer.
   * @throws as addReader.
   */
  addWriter<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle {
    this._ensureFdNoTransport(fd);
    return this._addWriter(fd, callback, ...args);
  }

  /**
   * Stop watching fd for writing; false if it was not watched.
   * @throws RuntimeError if fd belongs to an open transport.
   */
  removeWriter(fd: FileObj): boolean {
    this._ensureFdNoTransport(fd);
    return this._removeWriter(fd);
  }

  /** @internal addReader for the owner of fd (its transport): no ownership check. */
  _addReader<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle {
    return this._addIo(fd, EVENT_READ, new Handle(callback as Callback, args, this));
  }

  /** @internal removeReader for the owner of fd. */
  _removeReader(fd: FileObj): boolean {
    return this._removeIo(fd, EVENT_READ);
  }

  /** @internal addWriter for the owner of fd. */
  _addWriter<A extends unknown[]>(fd: FileObj, callback: (...args: A) => unknown, ...args: A): Handle {
    return this._addIo(fd, EVENT_WRITE, new Handle(callback as Callback, args, this));
  }

  /** @internal removeWriter for the owner of fd. */
  _removeWriter(fd: FileObj): boolean {
    return this._removeIo(fd, EVENT_WRITE);
  }

  /** @internal Record that transport owns fd: until it closes, addReader & co refuse fd. */
  _attachTransport(sock: Socket, transport: { isClosing(): boolean }): void {
    this._fdTransports.set(sock.fileno(), { sock, transport });
  }

  /** @internal Forget transport's claim on fd (its number, as the socket may be closed already). */
  _detachTransport(fd: number, transport: { isClosing(): boolean }): void {
    if (this._fdTransports.get(fd)?.transport === transport) this._fdTransports.delete(fd);
  }

  // fd -> the transport that owns it (asyncio's loop._transports). A callback
  // registered on its fd by someone else would silently replace the
  // transport's own, which then never reads again: refused instead, as
  // asyncio's _ensure_fd_no_transport does.
  private readonly _fdTransports = new Map<number, { sock: Socket; transport: { isClosing(): boolean } }>();

  private _ensureFdNoTransport(fd: FileObj): void {
    if (this._fdTransports.size === 0) return;
    const n = fileobjToFd(fd);
    const owner = this._fdTransports.get(n);
    if (owner === undefined) return;
    // A socket closed behind its transport's back left its number free for another file.
    if (owner.sock.closed) return void this._fdTransports.delete(n);
    if (!owner.transport.isClosing()) throw new RuntimeError(`File descriptor ${n} is used by transport ${String(owner.transport)}`);
  }

  /** Close the loop and its selector (a RuntimeError if running). */
  override close(): void {
    if (this.isRunning()) throw new RuntimeError('Cannot close a running event loop');
    if (this.isClosed()) return;
    super.close();
    this._selector.close();
  }

  protected _poll(timeout: number | null): void {
    const sel = this._selector;
    const watched = sel.getMap().size;
    if (watched === 0 && this._opsInFlight === 0) {
      // Nothing to poll: skip the syscall when callbacks are ready, and refuse
      // to block forever (no timer, no fd: nothing could ever wake us; no
      // other thread can reach this loop).
      if (timeout === 0) return;
      if (timeout === null) throw new RuntimeError(wouldWaitForever(this, false));
    } else if (watched === 1 && timeout === null && this._onlyCtrlCWatched !== null && this._onlyCtrlCWatched()) {
      // The one fd is the signal pipe of run()'s Ctrl-C handler: only the
      // user could ever end this wait, by interrupting. Say why instead.
      throw new RuntimeError(wouldWaitForever(this, true));
    }
    const n = sel.wait(timeout);
    for (let i = 0; i < n; i++) {
      const key = sel.readyKey(i) as SelectorKey<IoHandles>;
      const events = sel.readyEvents(i);
      const io = key.data;
      if ((events & EVENT_READ) !== 0 && io.reader !== null) {
        if (io.reader._cancelled) this._removeReader(key.fd);
        else this._ready.push(io.reader);
      }
      if ((events & EVENT_WRITE) !== 0 && io.writer !== null) {
        if (io.writer._cancelled) this._removeWriter(key.fd);
        else this._ready.push(io.writer);
      }
    }
    const comp = sel._completions;
    if (comp !== null && comp[0]! > 0) this._dispatchCompletions(comp);
  }

  // The completions of the last wait, in the order the kernel posted them:
  // each goes to its target, which records it and schedules its callback.
  // Allocates nothing (a freed token goes back on a list that only grows).
  private _dispatchCompletions(comp: Int32Array): void {
    const k = comp[0]!;
    const targets = this._opTargets;
    const sel = this._selector;
    for (let i = 0; i < k; i++) {
      const token = comp[1 + 3 * i]!;
      const result = comp[2 + 3 * i]!;
      const flags = comp[3 + 3 * i]!;
      const target = targets[token];
      if (target == null) continue;
      const kind = this._opKinds[token]!;
      if ((flags & OP_MORE) === 0) {
        sel._opFinished(token);
        targets[token] = null;
        this._freeTokens.push(token);
        this._opsInFlight--;
      }
      target._opDone(kind, result, flags);
    }
  }

  private _addIo(fd: FileObj, event: number, handle: Handle): Handle {
    this._checkClosed();
    if (typeof handle._callback !== 'function') throw new TypeError('a function is required');
    const sel = this._selector;
    const key = sel.getMap().get(fileobjToFd(fd)) as SelectorKey<IoHandles> | undefined;
    if (key === undefined) {
      const io: IoHandles = event === EVENT_READ ? { reader: handle, writer: null } : { reader: null, writer: handle };
      sel.register(fd, event, io);
      return handle;
    }
    const io = key.data;
    const previous = event === EVENT_READ ? io.reader : io.writer;
    if (event === EVENT_READ) io.reader = handle;
    else io.writer = handle;
    // No syscall if the interest was already there, unless a callback is
    // replaced: then its fd's number may have been closed and reused behind
    // our back (by a raw fd's owner; a Socket unregisters when closed), and
    // asking the kernel again makes a dropped registration anew (epoll)
    // instead of never waking. When the kernel says the number now names
    // another file, the other direction's callback belonged to the old one:
    // it is dropped.
    if (sel._setEvents(key, key.events | event, previous !== null)) {
      const other = event === EVENT_READ ? io.writer : io.reader;
      if (other !== null) {
        if (event === EVENT_READ) io.writer = null;
        else io.reader = null;
        other.cancel();
        sel._setEvents(key, event, false);
      }
    }
    if (previous !== null) previous.cancel();
    return handle;
  }

  private _removeIo(fd: FileObj, event: number): boolean {
    if (this.isClosed()) return false;
    const sel = this._selector;
    const key = sel.getMap().get(fileobjToFd(fd)) as SelectorKey<IoHandles> | undefined;
    if (key === undefined) return false;
    const io = key.data;
    const handle = event === EVENT_READ ? io.reader : io.writer;
    if (event === EVENT_READ) io.reader = null;
    else io.writer = null;
    const events = key.events & ~event;
    if (events === 0) sel.unregister(key.fd);
    else sel.modify(key.fd, events);
    if (handle === null) return false;
    handle.cancel();
    return true;
  }
}

/**
 * The error of a loop with nothing that could wake it. With promise work
 * pending (an async function's Task, a wrapped promise), the likely cause is
 * a promise of Node's own (a timer, fetch, fs/promises) awaited in the
 * blocking loop, where Node's loop does not run: say so, and what to use.
 */
function wouldWaitForever(loop: BaseEventLoop, ctrlC: boolean): string {
  const what = ctrlC
    ? 'no callback is ready, no timer is pending and no fd is watched but the Ctrl-C handler'
    : 'no callback is ready, no timer is pending and no fd is watched';
  if (_promiseWorkPending(loop)) {
    return (
      `Event loop would wait forever: ${what}, while an async function or a promise is pending. ` +
      "If it awaits something of Node's own (setTimeout, fetch, fs/promises, a Node socket or stream, an npm client built on them), " +
      'that cannot settle while the blocking loop (run()) owns the thread: run the program with `await runGuest(main)`, where Node\'s loop turns too.'
    );
  }
  return `Event loop would wait forever: ${what} (is a Future never completed?)`;
}
