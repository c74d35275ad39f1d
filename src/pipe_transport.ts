// Transports over pipes and other non-socket fds (asyncio's
// _UnixReadPipeTransport / _UnixWritePipeTransport): read(2) and write(2)
// instead of recv / send, no half-close (closing the write end is the EOF).
// A transport owns its fd: it closes it after connectionLost.
//
// Used by loop.connectReadPipe / connectWritePipe and for a subprocess's
// stdin, stdout and stderr.

import { fstatSync } from 'node:fs';
import type { Future } from './futures.js';
import type { AbstractEventLoop } from './events.js';
import { native, WOULD_BLOCK } from './native.js';
import type { BaseProtocol, Protocol } from './protocols.js';
import { CONNLOST_WRITE_WARNING, READ_BUFFER_SIZE, readBuffer, toBytes, isConnectionLost } from './transport_helpers.js';
import { WriteBuffer } from './write_buffer.js';
import type { ExtraInfo, ReadTransport, Transport, WriteTransport } from './transports.js';
import type { Coroutine, Co } from './coroutines.js';

type Waiter = Future<void> | null;

/** fstat: what kind of file fd is. Pipe transports take pipes, sockets and character devices. */
function fileKind(fd: number): 'fifo' | 'socket' | 'char' | 'other' {
  const st = fstatSync(fd);
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'char';
  return 'other';
}

/** As selectors.ts checks fds: TypeError for a value that is not an integer, RangeError for a negative integer. */
function checkFd(fd: number, caller: string): void {
  if (!Number.isInteger(fd)) throw new TypeError(`${caller}: fd must be a non-negative integer, got ${String(fd)}`);
  if (fd < 0) throw new RangeError(`${caller}: fd must be a non-negative integer, got ${fd}`);
}

// Protocols declare connectionMade(transport: Transport); a pipe transport is
// only half of one, hence the `as unknown as Transport` where it is passed.
abstract class PipeTransportBase {
  protected closing = false;
  protected fdOpen = true;

  constructor(
    protected readonly loop: AbstractEventLoop,
    protected readonly fd: number,
    protected protocol: BaseProtocol,
  ) {}

  /** The pipe's fd (asyncio's get_extra_info('pipe')). -1 once closed. */
  fileno(): number {
    return this.fdOpen ? this.fd : -1;
  }

  getExtraInfo<K extends keyof ExtraInfo>(_name: K, fallback?: ExtraInfo[K]): ExtraInfo[K] | undefined {
    // A pipe has no socket, sockname or peername.
    return fallback;
  }

  /** True once close(), writeEof() or abort() was called, or the pipe was lost. */
  isClosing(): boolean {
    return this.closing;
  }

  /** Send the callbacks to another protocol from now on. */
  setProtocol(protocol: BaseProtocol): void {
    this.protocol = protocol;
  }

  /** The protocol the callbacks go to. */
  getProtocol(): BaseProtocol {
    return this.protocol;
  }

  protected readonly callConnectionLost = (exc: Error | null): void => {
    try {
      this.protocol.connectionLost?.(exc);
    } finally {
      if (this.fdOpen) {
        this.fdOpen = false;
        native.close(this.fd);
      }
    }
  };

  protected reportFatal(err: unknown, message: string): void {
    // The other side going away (EPIPE; EIO on a pty) is not a bug: no
    // report. Any other failure is, as on a socket (transport_helpers.ts).
    if (!isConnectionLost(err)) {
      this.loop.callExceptionHandler({ message, exception: err, transport: this, protocol: this.protocol });
    }
  }
}

/** Reads a pipe into protocol.dataReceived; EOF calls eofReceived, then connectionLost(null). */
export class ReadPipeTransport extends PipeTransportBase implements ReadTransport {
  private paused = false;
  private readerAdded = false;

  /**
   * Takes ownership of fd (made non-blocking); connectionMade runs on the next loop iteration.
   * Prefer loop.connectReadPipe / connectWritePipe.
   * @throws TypeError for an fd that is not an integer, or not a pipe, socket or character device; RangeError for a negative fd.
   */
  constructor(loop: AbstractEventLoop, fd: number, protocol: Protocol, waiter: Waiter = null) {
    checkFd(fd, 'ReadPipeTransport');
    if (fileKind(fd) === 'other') throw new TypeError('Pipe transport is for pipes/sockets only.');
    super(loop, fd, protocol);
    native.setBlocking(fd, false);
    loop.callSoon(this.start, waiter);
  }

  private readonly start = (waiter: Waiter): void => {
    if (this.closing) return;
    try {
      this.protocol.connectionMade?.(this as unknown as Transport);
    } catch (err) {
      waiter?.setException(err);
      this.fatalError(err, 'Exception in connectionMade');
      return;
    }
    if (!this.closing && !this.paused) this.addReader();
    if (waiter !== null && !waiter.cancelled()) waiter.setResult(undefined);
  };

  private addReader(): void {
    this.readerAdded = true;
    this.loop.addReader(this.fd, this.readReady);
  }

  private removeReader(): void {
    if (!this.readerAdded) return;
    this.readerAdded = false;
    this.loop.removeReader(this.fd);
  }

  private readonly readReady = (): void => {
    const buf = readBuffer();
    let n: number;
    try {
      n = native.read(this.fd, buf, 0, READ_BUFFER_SIZE);
    } catch (err) {
      return this.fatalError(err, 'Fatal read error on pipe transport');
    }
    if (n === WOULD_BLOCK) return;
    if (n === 0) {
      this.closing = true;
      this.removeReader();
      this.loop.callSoon(this.callEofReceived);
      this.loop.callSoon(this.callConnectionLost, null);
      return;
    }
    const data = Buffer.allocUnsafe(n);
    buf.copy(data, 0, 0, n);
    try {
      (this.protocol as Protocol).dataReceived(data);
    } catch (err) {
      this.fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
    }
  };

  private readonly callEofReceived = (): void => {
    try {
      (this.protocol as Protocol).eofReceived?.();
    } catch (err) {
      this.loop.callExceptionHandler({ message: 'protocol.eofReceived() failed', exception: err, transport: this, protocol: this.protocol });
    }
  };

  /** True unless reading is paused or the transport is closing. */
  isReading(): boolean {
    return !this.paused && !this.closing;
  }

  /** Stop calling dataReceived until resumeReading(). No-op when paused or closing. */
  pauseReading(): void {
    if (!this.isReading()) return;
    this.paused = true;
    this.removeReader();
  }

  /** Call dataReceived again after pauseReading(). No-op when reading or closing. */
  resumeReading(): void {
    if (this.closing || !this.paused) return;
    this.paused = false;
    this.addReader();
  }

  close(): void {
    if (!this.closing) this.forceClose(null);
  }

  /**
   * @internal Read what the pipe holds now (up to maxBytes, paused or not),
   * then end the stream as at EOF: eofReceived, connectionLost(null), the fd
   * closed. For a pipe whose writer has exited: everything it wrote is in
   * the pipe already, and whoever else still holds the write end (a
   * grandchild) must not keep our fd open. No-op once closing.
   */
  _drainAndClose(maxBytes: number): void {
    if (this.closing) return;
    const buf = readBuffer();
    for (let total = 0; total < maxBytes; ) {
      let n: number;
      try {
        n = native.read(this.fd, buf, 0, Math.min(READ_BUFFER_SIZE, maxBytes - total));
      } catch (err) {
        return this.fatalError(err, 'Fatal read error on pipe transport');
      }
      if (n === WOULD_BLOCK || n === 0) break;
      total += n;
      const data = Buffer.allocUnsafe(n);
      buf.copy(data, 0, 0, n);
      try {
        (this.protocol as Protocol).dataReceived(data);
      } catch (err) {
        return this.fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
      }
      if (this.closing) return;
    }
    this.closing = true;
    this.removeReader();
    this.loop.callSoon(this.callEofReceived);
    this.loop.callSoon(this.callConnectionLost, null);
  }

  private fatalError(err: unknown, message: string): void {
    this.reportFatal(err, message);
    this.forceClose(err instanceof Error ? err : new Error(String(err)));
  }

  private forceClose(exc: Error | null): void {
    this.closing = true;
    this.removeReader();
    this.loop.callSoon(this.callConnectionLost, exc);
  }

  override toString(): string {
    return `<ReadPipeTransport fd=${this.fd} ${this.fdOpen ? (this.closing ? 'closing' : 'open') : 'closed'}>`;
  }
}

/**
 * Writes to a pipe: write() tries at once and buffers the rest, with the
 * same flow control as the socket transport (pauseWriting above the high
 * mark). writeEof() / close() close the pipe once the buffer is flushed
 * (the reader sees EOF). When the reading end closes, the transport closes
 * (with an EPIPE error if data was still buffered).
 */
export class WritePipeTransport extends PipeTransportBase implements WriteTransport {
  /** What the pipe has not taken yet, and the flow control over it (shared with the socket transport). */
  private readonly wb = new WriteBuffer();
  private writing = false;
  private watchingPeer = false;
  /** connectionLost is scheduled (or done). */
  private lost = false;
  /** Writes attempted after that, for the one warning. */
  private lostWrites = 0;

  /**
   * Takes ownership of fd (made non-blocking); connectionMade runs on the next loop iteration.
   * Prefer loop.connectReadPipe / connectWritePipe.
   * @throws TypeError for an fd that is not an integer, or not a pipe, socket or character device; RangeError for a negative fd.
   */
  constructor(loop: AbstractEventLoop, fd: number, protocol: BaseProtocol, waiter: Waiter = null) {
    checkFd(fd, 'WritePipeTransport');
    const kind = fileKind(fd);
    if (kind === 'other') throw new TypeError('Pipe transport is only for pipes, sockets and character devices');
    super(loop, fd, protocol);
    native.setBlocking(fd, false);
    // Polling the write end for reading reports the reading end closing (as
    // an error / hang-up, which the selector turns into readiness): asyncio's
    // "reader trick", for pipes and sockets.
    loop.callSoon(this.start, waiter, kind === 'fifo' || kind === 'socket');
  }

  private readonly start = (waiter: Waiter, watchPeer: boolean): void => {
    if (this.lost) return;
    try {
      this.protocol.connectionMade?.(this as unknown as Transport);
    } catch (err) {
      waiter?.setException(err);
      this.fatalError(err, 'Exception in connectionMade');
      return;
    }
    if (watchPeer && !this.lost) {
      this.watchingPeer = true;
      this.loop.addReader(this.fd, this.peerClosed);
    }
    if (waiter !== null && !waiter.cancelled()) waiter.setResult(undefined);
  };

  private readonly peerClosed = (): void => {
    if (this.wb.size > 0) this.forceClose(brokenPipe());
    else this.forceClose(null);
  };

  write(data: Uint8Array | string): void {
    const bytes = toBytes(data);
    if (bytes.length === 0) return;
    if (this.lost || this.closing) {
      if (++this.lostWrites === CONNLOST_WRITE_WARNING) console.warn('coio: pipe closed by peer or write(pipe, data) raised exception.');
      return;
    }
    let sent = 0;
    if (this.wb.size === 0) {
      try {
        sent = native.write(this.fd, bytes, 0, bytes.length);
      } catch (err) {
        return this.fatalError(err, 'Fatal write error on pipe transport');
      }
      if (sent === bytes.length) return;
      if (sent === WOULD_BLOCK) sent = 0;
      this.startWriting();
    }
    // Keep a copy: the caller may reuse its buffer.
    this.wb.push(bytes, sent);
    this.wb.maybePause(this, this.protocol, this.loop);
  }

  /** write() each buffer in turn. Throws as write(). */
  writelines(list: Iterable<Uint8Array | string>): void {
    for (const data of list) this.write(data);
  }

  /** @internal loop.sendfile reads the file and writes it here (sendfile(2) writes only to sockets). */
  get _sendfileCompatible(): 'fallback' {
    return 'fallback';
  }

  /** @internal */
  _isProtocolPaused(): boolean {
    return this.wb.isProtocolPaused();
  }

  private startWriting(): void {
    if (this.writing) return;
    this.writing = true;
    this.loop.addWriter(this.fd, this.writeReady);
  }

  private stopWriting(): void {
    if (!this.writing) return;
    this.writing = false;
    this.loop.removeWriter(this.fd);
  }

  private readonly writeReady = (): void => {
    const wb = this.wb;
    if (!wb.intact()) {
      this.stopWriting();
      const err = wb.detachedError();
      wb.clear();
      return this.fatalError(err, 'Fatal write error on pipe transport');
    }
    while (wb.size > 0) {
      const chunk = wb.chunks[0]!;
      let n: number;
      try {
        n = native.write(this.fd, chunk, wb.offset, chunk.length - wb.offset);
      } catch (err) {
        return this.fatalError(err, 'Fatal write error on pipe transport');
      }
      if (n === WOULD_BLOCK) return;
      wb.consume(n);
    }
    this.stopWriting();
    wb.maybeResume(this, this.protocol, this.loop); // may write more
    if (wb.size === 0 && this.closing && !this.lost) {
      this.lost = true;
      this.stopWatchingPeer();
      this.callConnectionLost(null);
    }
  };

  /** Always true: closing the pipe is its EOF. */
  canWriteEof(): boolean {
    return true;
  }

  /** Close the pipe once the buffer is flushed: the reading side sees EOF. */
  writeEof(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.wb.size === 0 && !this.lost) {
      this.lost = true;
      this.stopWatchingPeer();
      this.loop.callSoon(this.callConnectionLost, null);
    }
  }

  /** As writeEof(): a write pipe has nothing else to close. */
  close(): void {
    this.writeEof();
  }

  /** Close now, dropping buffered data. */
  abort(): void {
    this.forceClose(null);
  }

  getWriteBufferSize(): number {
    return this.wb.size;
  }

  /** The [low, high] water marks of the write buffer, bytes. */
  getWriteBufferLimits(): [number, number] {
    return [this.wb.low, this.wb.high];
  }

  setWriteBufferLimits(high?: number, low?: number): void {
    this.wb.setLimits(high, low, this, this.protocol, this.loop);
  }

  private stopWatchingPeer(): void {
    if (!this.watchingPeer) return;
    this.watchingPeer = false;
    this.loop.removeReader(this.fd);
  }

  private fatalError(err: unknown, message: string): void {
    this.reportFatal(err, message);
    this.forceClose(err instanceof Error ? err : new Error(String(err)));
  }

  private forceClose(exc: Error | null): void {
    this.closing = true;
    this.wb.clear();
    this.stopWriting();
    this.stopWatchingPeer();
    if (this.lost) return;
    this.lost = true;
    this.loop.callSoon(this.callConnectionLost, exc);
  }

  override toString(): string {
    return `<WritePipeTransport fd=${this.fd} ${this.fdOpen ? (this.closing ? 'closing' : 'open') : 'closed'} write buffer=${this.wb.size}>`;
  }
}

function brokenPipe(): NodeJS.ErrnoException {
  return native.errorFromErrno(native.errno.EPIPE!, 'write');
}

/**
 * Connect `protocolFactory()` to the read end of a pipe (asyncio's
 * loop.connect_read_pipe). The transport owns fd from here on. Resolves
 * once connectionMade has run.
 */
export function connectReadPipe<P extends Protocol>(loop: AbstractEventLoop, protocolFactory: () => P, fd: number): Co<[ReadPipeTransport, P]>;
export function* connectReadPipe<P extends Protocol>(loop: AbstractEventLoop, protocolFactory: () => P, fd: number): Coroutine<[ReadPipeTransport, P]> {
  const protocol = protocolFactory();
  const waiter = loop.createFuture<void>();
  const transport = new ReadPipeTransport(loop, fd, protocol, waiter);
  try {
    yield* waiter;
  } catch (err) {
    transport.close();
    throw err;
  }
  return [transport, protocol];
}

/** Connect `protocolFactory()` to the write end of a pipe (asyncio's loop.connect_write_pipe). */
export function connectWritePipe<P extends BaseProtocol>(loop: AbstractEventLoop, protocolFactory: () => P, fd: number): Co<[WritePipeTransport, P]>;
export function* connectWritePipe<P extends BaseProtocol>(loop: AbstractEventLoop, protocolFactory: () => P, fd: number): Coroutine<[WritePipeTransport, P]> {
  const protocol = protocolFactory();
  const waiter = loop.createFuture<void>();
  const transport = new WritePipeTransport(loop, fd, protocol, waiter);
  try {
    yield* waiter;
  } catch (err) {
    transport.abort();
    throw err;
  }
  return [transport, protocol];
}
