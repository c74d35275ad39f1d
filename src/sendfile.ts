// loop.sockSendfile and loop.sendfile (asyncio's sock_sendfile and
// sendfile): the bytes of a file to a socket or to a transport, by
// sendfile(2) where it can be used (the kernel moves the file's pages to
// the socket: no copy through JavaScript), else by reading and sending.
//
// The file, in Node's terms: an fd (a number, as fs.openSync gives) or a
// FileHandle (fs.promises.open), which stands for its fd. coio never closes it.
//
// The file's position (where read(2), fs.readSync(fd, buf, 0, n, null) and
// a FileHandle's read without a position go on from), as asyncio leaves it:
// after the call, offset + the bytes sent, when any were sent; untouched
// when none were. It is set once, at the end, also when the call fails or
// is cancelled, so it says how far the file got. Both paths read at explicit
// offsets (sendfile's offset argument, pread), so the position in between
// is whatever it was. A file that cannot seek (a pipe, a character device)
// is read from where it is: offset must be 0 (ESPIPE otherwise, before
// anything is read, where asyncio's seek would fail), and its position is
// whatever reading moved it to.
//
// The native path (sockSendfile; sendfile on a plain socket transport):
// sendfile(2) on the non-blocking socket. A full socket buffer
// (WOULD_BLOCK) waits for the socket to be writable on the loop, as every
// sock* coroutine does (so on every backend, io_uring included), then goes
// on from where it got; each partial send advances the offset. It is not
// available (SendfileNotAvailableError, before any byte is sent) when the
// build has no sendfile call (OpenBSD, NetBSD, the portable build), when the
// file is not a regular file, or when the first call fails with an errno
// meaning "not for this pair of fds" (NOT_FOR_THIS_PAIR). asyncio turns any
// error of the first call into it; here the connection's own errors
// (EPIPE, ECONNRESET, ...) are thrown as they come, so a send to a peer that
// is gone is not retried by the fallback, and the error says what happened.
//
// The fallback (fallback: true, the default): read a chunk, send it, until
// count bytes or the end of the file. A regular file is read with pread on
// the loop's thread: the page cache answers in microseconds, but a file
// that must come from the disk blocks the loop for that read (asyncio reads
// in a thread; a coio loop that runs blocks Node's thread pool too, so that
// would be a worker thread per chunk). Any other file is read with read(2)
// when the loop says it is readable: it should be non-blocking (coio's
// pipes are), since a read of a blocking one waits, and the loop with it,
// until data comes.

import { fstatSync, readSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { invalidArgType, outOfRange } from './arg_checks.js';
import { RuntimeError, SendfileNotAvailableError } from './errors.js';
import type { AbstractEventLoop, SendfileFile, SendfileOptions } from './events.js';
import type { Future } from './futures.js';
import { native, WOULD_BLOCK } from './native.js';
import type { BaseProtocol, Protocol } from './protocols.js';
import { SOCK_STREAM, Socket } from './socket.js';
import { waitReady } from './sock_ops.js';
import type { ReadTransport, WriteTransport } from './transports.js';
import type { Coroutine, Co } from './coroutines.js';

export type { SendfileFile, SendfileOptions };

/**
 * @internal What loop.sendfile needs of a transport (asyncio's
 * _sendfile_compatible and its _FlowControlMixin): a transport without
 * `_sendfileCompatible` is refused (a datagram or read-only one).
 */
export interface SendfileTransport extends WriteTransport {
  /** 'native': a plain socket transport (sendfile(2) can write its socket); 'fallback': read and write(). */
  readonly _sendfileCompatible: 'native' | 'fallback';
  /** Whether the transport told its protocol pauseWriting() and not yet resumeWriting(). */
  _isProtocolPaused(): boolean;
}

/** @internal A transport sendfile(2) can write to (SocketTransport). */
export interface NativeSendfileTransport extends SendfileTransport, ReadTransport {
  /** The transport's socket. */
  _sendfileSocket(): Socket;
  /**
   * A Future done once everything written so far is sent (failed if the
   * connection is lost first); until _resetEmptyWaiter(), write() refuses.
   * @throws RuntimeError if one is set already (a sendfile is in progress).
   */
  _makeEmptyWaiter(): Future<void>;
  _resetEmptyWaiter(): void;
}

/** The fallback's chunk for a socket: asyncio's SENDFILE_FALLBACK_READBUFFER_SIZE. */
const SOCK_CHUNK = 256 * 1024;
/**
 * The fallback's chunk for a transport: the default high-water mark, so a
 * chunk that does not go out at once pauses the writer and the next read
 * waits for the drain (asyncio reads 16 KiB at a time).
 */
const TRANSPORT_CHUNK = 64 * 1024;

/**
 * Errors of sendfile(2) that mean this pair of fds cannot do it (Linux:
 * EINVAL for a file without page-cache reads or an O_APPEND socket, ESPIPE,
 * EOVERFLOW; macOS and FreeBSD: ENOTSOCK, EOPNOTSUPP / ENOTSUP for a socket
 * or file system it does not support; ENOSYS: no call in this build).
 */
const NOT_FOR_THIS_PAIR: ReadonlySet<string> = new Set(['EINVAL', 'ENOSYS', 'EOPNOTSUPP', 'ENOTSUP', 'ENOTSOCK', 'ESPIPE', 'EOVERFLOW']);

interface SendfileArgs {
  fd: number;
  offset: number;
  count: number | null;
  fallback: boolean;
}

/** Every argument, checked before anything is read or sent. */
function checkArgs(file: unknown, offset: unknown, count: unknown, options: unknown): SendfileArgs {
  const fd = fileFd(file);
  if (typeof offset !== 'number') throw invalidArgType('offset', 'of type number', offset);
  if (!Number.isSafeInteger(offset) || offset < 0) throw outOfRange('offset', 'a non-negative integer', offset);
  if (count !== null && count !== undefined) {
    if (typeof count !== 'number') throw invalidArgType('count', 'a number or null', count);
    if (!Number.isSafeInteger(count) || count <= 0) throw outOfRange('count', 'a positive integer or null', count);
  }
  let fallback = true;
  if (options !== undefined && options !== null) {
    if (typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const value = (options as SendfileOptions).fallback;
    if (value !== undefined && typeof value !== 'boolean') throw invalidArgType('options.fallback', 'a boolean', value);
    fallback = value ?? true;
  }
  return { fd, offset, count: (count as number | null | undefined) ?? null, fallback };
}

function fileFd(file: unknown): number {
  if (typeof file === 'number') {
    if (!Number.isInteger(file) || file < 0) throw outOfRange('file', 'an fd (a non-negative integer)', file);
    return file;
  }
  if (typeof file === 'object' && file !== null && typeof (file as { fd?: unknown }).fd === 'number') {
    const fd = (file as { fd: number }).fd;
    // A closed FileHandle's fd is -1.
    if (fd < 0) throw native.errorFromErrno(native.errno.EBADF!, 'sendfile');
    return fd;
  }
  throw invalidArgType('file', 'an fd (a number) or a FileHandle (fs.promises.open)', file);
}

/** Files whose reads take an offset (pread): regular files and block devices. */
function seekable(st: Stats): boolean {
  return st.isFile() || st.isBlockDevice();
}

/** Why the native path cannot be taken for this file, before trying it; null if it may. */
function nativeRefusal(fd: number, st: Stats): string | null {
  if (!native.build.sendfile) return 'this build of coio has no sendfile call';
  if (!st.isFile()) return `fd ${fd} is not a regular file`;
  return null;
}

/** Move fd's position to offset + sent, if anything was sent. While another error propagates, a failure here must not replace it. */
function setPosition(fd: number, offset: number, sent: number, quiet: boolean): void {
  if (sent === 0) return;
  try {
    native.lseek(fd, offset + sent, 0);
  } catch (err) {
    if (!quiet) throw err;
  }
}

/** The transport went away under the fallback (asyncio's ConnectionError "Connection closed by peer"). */
function connectionClosed(): NodeJS.ErrnoException {
  return native.errorFromErrno(native.errno.EPIPE!, 'write');
}

function setReady(fut: Future<void>): void {
  if (!fut.done()) fut.setResult(undefined);
}

/** A Future done once fd (not a socket: a pipe, a tty) is readable; its reader is removed then, or when it is cancelled. */
function waitReadable(loop: AbstractEventLoop, fd: number): Future<void> {
  const fut = loop.createFuture<void>();
  const handle = loop.addReader(fd, setReady, fut);
  fut.addDoneCallback(() => {
    if (!handle.cancelled() && !loop.isClosed()) loop.removeReader(fd);
  });
  return fut;
}

/** Up to `want` bytes of the file into buf: pread at `position` when it seeks, else read(2) when readable. 0 at its end. */
function readChunk(loop: AbstractEventLoop, fd: number, canSeek: boolean, buf: Buffer, want: number, position: number): Co<number>;
function* readChunk(loop: AbstractEventLoop, fd: number, canSeek: boolean, buf: Buffer, want: number, position: number): Coroutine<number> {
  if (canSeek) return readSync(fd, buf, 0, want, position);
  for (;;) {
    const n = native.read(fd, buf, 0, want);
    if (n !== WOULD_BLOCK) return n;
    yield* waitReadable(loop, fd);
  }
}

// ---- sockSendfile --------------------------------------------------------------

/**
 * Send a file over a connected stream socket (asyncio's loop.sock_sendfile):
 * `count` bytes (null: to the end of the file) from `offset`. Returns the
 * bytes sent. sendfile(2) where it can be used, else (unless
 * `fallback: false`) chunks read and sent. The file's
 * position ends at offset + the bytes sent (see the top of this file).
 */
export function sockSendfile(loop: AbstractEventLoop, sock: Socket, file: SendfileFile, offset?: number, count?: number | null, options?: SendfileOptions): Co<number>;
export function* sockSendfile(loop: AbstractEventLoop, sock: Socket, file: SendfileFile, offset = 0, count: number | null = null, options: SendfileOptions = {}): Coroutine<number> {
  if (!(sock instanceof Socket)) throw invalidArgType('sock', 'a Socket', sock);
  if (sock.type !== SOCK_STREAM) throw new RangeError(`sockSendfile: only SOCK_STREAM sockets are supported, got ${String(sock)}`);
  const args = checkArgs(file, offset, count, options);
  if (sock.closed) throw sock._closedError('sendfile');
  const st = fstatSync(args.fd);
  const refusal = nativeRefusal(args.fd, st);
  if (refusal === null) {
    try {
      return yield* sendfileNative(loop, sock, args.fd, st.size, args.offset, args.count);
    } catch (err) {
      if (!(err instanceof SendfileNotAvailableError) || !args.fallback) throw err;
    }
  } else if (!args.fallback) {
    throw new SendfileNotAvailableError(`sendfile(2) cannot be used: ${refusal}`);
  }
  return yield* sockSendfileFallback(loop, sock, args.fd, seekable(st), args.offset, args.count);
}

/** sendfile(2) until count bytes are sent or the file ends; `size` is the file's size (the per-call count when count is null, as asyncio). */
function* sendfileNative(loop: AbstractEventLoop, sock: Socket, fd: number, size: number, offset: number, count: number | null): Coroutine<number> {
  const blocksize = count ?? size;
  if (blocksize === 0) return 0;
  let sent = 0;
  let failed = true;
  try {
    for (;;) {
      const want = count === null ? blocksize : count - sent;
      if (want <= 0) break;
      const sockFd = sock.fileno();
      if (sockFd < 0) throw sock._closedError('sendfile');
      let n: number;
      try {
        n = native.sendfile(sockFd, fd, offset + sent, want);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (sent === 0 && code !== undefined && NOT_FOR_THIS_PAIR.has(code)) {
          throw new SendfileNotAvailableError(`sendfile(2) cannot send fd ${fd} to ${String(sock)}: ${(err as Error).message}`, { cause: err });
        }
        throw err;
      }
      if (n === WOULD_BLOCK) {
        yield* waitReady(loop, sock, 'write', 'sendfile');
        continue;
      }
      if (n === 0) break; // the end of the file
      sent += n;
    }
    failed = false;
    return sent;
  } finally {
    setPosition(fd, offset, sent, failed);
  }
}

/**
 * asyncio's _sock_sendfile_fallback: read a chunk, send it all, until count
 * or the end of the file. Each send is counted as it goes (asyncio counts a
 * chunk once all of it is sent), so when a send fails or is cancelled
 * halfway through a chunk, the result and the position still say exactly
 * how far the file got, as on the native path.
 */
function* sockSendfileFallback(loop: AbstractEventLoop, sock: Socket, fd: number, canSeek: boolean, offset: number, count: number | null): Coroutine<number> {
  if (!canSeek && offset !== 0) throw native.errorFromErrno(native.errno.ESPIPE!, 'lseek');
  const size = count === null ? SOCK_CHUNK : Math.min(count, SOCK_CHUNK);
  const buf = Buffer.allocUnsafe(size);
  let sent = 0;
  let failed = true;
  try {
    for (;;) {
      const want = count === null ? size : Math.min(count - sent, size);
      if (want <= 0) break;
      const n = yield* readChunk(loop, fd, canSeek, buf, want, offset + sent);
      if (n === 0) break;
      for (let done = 0; done < n; ) {
        const k = sock.send(buf, done, n - done);
        if (k === null) {
          yield* waitReady(loop, sock, 'write', 'send');
          continue;
        }
        done += k;
        sent += k;
      }
    }
    failed = false;
    return sent;
  } finally {
    if (canSeek) setPosition(fd, offset, sent, failed);
  }
}

// ---- sendfile (to a transport) ---------------------------------------------------

/**
 * Send a file over a transport (asyncio's loop.sendfile): `count` bytes
 * (null: to the end of the file) from `offset`; returns the bytes sent.
 *
 * On a plain socket transport: reading is paused, what the transport still
 * buffers is flushed, sendfile(2) writes the file to its socket (write()
 * throws meanwhile), then reading resumes. On a TLS or pipe transport, or
 * where sendfile(2) cannot be used, the file is read in chunks and written
 * to the transport with its flow control (unless `fallback: false`: then
 * SendfileNotAvailableError). The file's position ends at offset + the
 * bytes sent (see the top of this file).
 */
export function sendfile(loop: AbstractEventLoop, transport: WriteTransport, file: SendfileFile, offset?: number, count?: number | null, options?: SendfileOptions): Co<number>;
export function* sendfile(loop: AbstractEventLoop, transport: WriteTransport, file: SendfileFile, offset = 0, count: number | null = null, options: SendfileOptions = {}): Coroutine<number> {
  if (typeof transport !== 'object' || transport === null || typeof (transport as Partial<WriteTransport>).isClosing !== 'function') {
    throw invalidArgType('transport', 'a Transport', transport);
  }
  const args = checkArgs(file, offset, count, options);
  if (transport.isClosing()) throw new RuntimeError('Transport is closing');
  const mode = (transport as Partial<SendfileTransport>)._sendfileCompatible;
  if (mode !== 'native' && mode !== 'fallback') throw new RuntimeError(`sendfile is not supported for transport ${String(transport)}`);
  const t = transport as SendfileTransport;
  const st = fstatSync(args.fd);
  if (mode === 'native') {
    const refusal = nativeRefusal(args.fd, st);
    if (refusal === null) {
      try {
        return yield* transportNative(loop, t as NativeSendfileTransport, args.fd, st.size, args.offset, args.count);
      } catch (err) {
        if (!(err instanceof SendfileNotAvailableError) || !args.fallback) throw err;
      }
    } else if (!args.fallback) {
      throw new SendfileNotAvailableError(`sendfile(2) cannot be used: ${refusal}`);
    }
  }
  if (!args.fallback) throw new SendfileNotAvailableError(`fallback is disabled and native sendfile is not supported for transport ${String(transport)}`);
  return yield* transportFallback(loop, t, args.fd, seekable(st), args.offset, args.count);
}

/** asyncio's selector _sendfile_native: pause reading, flush, sendfile(2) on the socket, resume. */
function* transportNative(loop: AbstractEventLoop, t: NativeSendfileTransport, fd: number, size: number, offset: number, count: number | null): Coroutine<number> {
  // First, so a second sendfile on the same transport fails before touching anything.
  const flushed = t._makeEmptyWaiter();
  const sock = t._sendfileSocket();
  const resumeReading = t.isReading();
  // The socket is the transport's: loop.addWriter refuses it while the
  // transport holds it, and the wait for writability needs it.
  loop._detachTransport(sock.fileno(), t);
  try {
    t.pauseReading();
    yield* flushed;
    // close() while the buffer was flushing: the socket is about to close.
    if (t.isClosing()) throw new RuntimeError('Transport is closing');
    return yield* sendfileNative(loop, sock, fd, size, offset, count);
  } finally {
    t._resetEmptyWaiter();
    if (resumeReading) t.resumeReading();
    if (!sock.closed) loop._attachTransport(sock, t);
  }
}

/** asyncio's _sendfile_fallback: chunks written to the transport, each followed by a drain. */
function* transportFallback(loop: AbstractEventLoop, t: SendfileTransport, fd: number, canSeek: boolean, offset: number, count: number | null): Coroutine<number> {
  if (!canSeek && offset !== 0) throw native.errorFromErrno(native.errno.ESPIPE!, 'lseek');
  const size = count === null ? TRANSPORT_CHUNK : Math.min(count, TRANSPORT_CHUNK);
  const proto = new FallbackProtocol(loop, t);
  let buf: Buffer | null = null;
  let sent = 0;
  let failed = true;
  try {
    for (;;) {
      const want = count === null ? size : Math.min(count - sent, size);
      if (want <= 0) break;
      buf ??= Buffer.allocUnsafe(size);
      const n = yield* readChunk(loop, fd, canSeek, buf, want, offset + sent);
      if (n === 0) break;
      t.write(n === buf.length ? buf : buf.subarray(0, n));
      // A write the kernel did not take whole may be kept by reference
      // (WriteTransport.write): then the next chunk goes into a new buffer.
      if (t.getWriteBufferSize() !== 0) buf = null;
      yield* proto.drain();
      sent += n;
    }
    failed = false;
    return sent;
  } finally {
    if (canSeek) setPosition(fd, offset, sent, failed);
    proto.restore();
  }
}

/**
 * asyncio's _SendfileFallbackProtocol: stands in for the transport's
 * protocol while the fallback writes, to wait for the transport's flow
 * control (pauseWriting / resumeWriting), and passes connectionLost on.
 * Reading is paused meanwhile.
 */
class FallbackProtocol implements Protocol {
  private readonly proto: BaseProtocol;
  private readonly shouldResumeReading: boolean;
  private readonly shouldResumeWriting: boolean;
  /** Pending while the transport has paused writing. */
  private writeReady: Future<void> | null;

  constructor(
    private readonly loop: AbstractEventLoop,
    private readonly transport: SendfileTransport,
  ) {
    const reader = transport as Partial<ReadTransport>;
    this.proto = transport.getProtocol();
    this.shouldResumeReading = typeof reader.isReading === 'function' && reader.isReading();
    this.shouldResumeWriting = transport._isProtocolPaused();
    if (this.shouldResumeReading) reader.pauseReading!();
    transport.setProtocol(this);
    this.writeReady = this.shouldResumeWriting ? loop.createFuture<void>() : null;
  }

  *drain(): Coroutine<void> {
    if (this.transport.isClosing()) throw connectionClosed();
    const fut = this.writeReady;
    if (fut !== null) yield* fut;
  }

  connectionMade(): void {
    throw new RuntimeError('Invalid state: connection should have been established already.');
  }

  connectionLost(exc: Error | null): void {
    const fut = this.writeReady;
    if (fut !== null && !fut.done()) fut.setException(exc ?? connectionClosed());
    this.proto.connectionLost?.(exc);
  }

  pauseWriting(): void {
    if (this.writeReady === null) this.writeReady = this.loop.createFuture<void>();
  }

  resumeWriting(): void {
    const fut = this.writeReady;
    if (fut === null) return;
    this.writeReady = null;
    if (!fut.done()) fut.setResult(undefined);
  }

  dataReceived(): void {
    throw new RuntimeError('Invalid state: reading should be paused');
  }

  eofReceived(): boolean {
    throw new RuntimeError('Invalid state: reading should be paused');
  }

  /** Give the transport its protocol back, in the state it was found in. */
  restore(): void {
    const t = this.transport;
    t.setProtocol(this.proto);
    if (this.shouldResumeReading) (t as unknown as ReadTransport).resumeReading();
    const fut = this.writeReady;
    if (fut !== null) {
      // Nobody waits for it any more; a connection loss it recorded was
      // reported to the protocol already.
      if (fut.done()) {
        if (!fut.cancelled()) fut.exception();
      } else {
        fut.cancel();
      }
    }
    // The protocol was paused when the fallback began, and the drains since
    // ended with the transport resumed: say so, unless the connection is gone.
    if (this.shouldResumeWriting && !t.isClosing()) this.proto.resumeWriting?.();
  }
}
