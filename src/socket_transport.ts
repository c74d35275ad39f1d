// The stream transport over a non-blocking socket (asyncio's
// _SelectorSocketTransport), built for the hot path of the echo benchmark
// (bench/run.mjs):
//
// - Register once: the fd is watched for reading from connectionMade to
//   close; only pauseReading / resumeReading change the interest.
// - One recv per readiness event, into a read buffer shared by every
//   transport of this thread (reads happen only in loop callbacks, one at a
//   time), so an idle connection costs no buffer and a read allocates
//   nothing unless the protocol asks for its own copy.
// - Try first, wait second: write() sends at once and buffers only what the
//   kernel did not take (in a WriteBuffer, write_buffer.ts, made on the
//   first such write: a copy of a small tail, a reference to a large one);
//   the buffer goes out with one vectored send when the fd becomes writable.

import { RuntimeError } from './errors.js';
import type { Future } from './futures.js';
import { native, WOULD_BLOCK } from './native.js';
import type { BaseProtocol, BufferedProtocol, Protocol } from './protocols.js';
import { SHUT_WR } from './socket.js';
import type { Socket } from './socket.js';
import type { AbstractEventLoop } from './events.js';
import { CONNLOST_WRITE_WARNING, READ_BUFFER_SIZE, borrowedView, overlaps, readBuffer, toBytes } from './transport_helpers.js';
import { WriteBuffer } from './write_buffer.js';

import { StreamSocketTransport } from './stream_transport.js';
import type { ConnectionWaiter, TransportOwner } from './stream_transport.js';

export type { TransportOwner } from './stream_transport.js';

export class SocketTransport extends StreamSocketTransport {
  private writing = false;

  constructor(loop: AbstractEventLoop, sock: Socket, protocol: BaseProtocol, waiter: ConnectionWaiter | null = null, owner: TransportOwner | null = null) {
    super(loop, sock, protocol, waiter, owner);
    owner?.attach(this);
    loop.callSoon(SocketTransport.startCb, this);
    loop._attachTransport(sock, this);
  }

  // The once-per-connection callbacks are static functions given the
  // transport as an argument, not per-instance closures: two closures less
  // per connection (112 bytes of every idle connection, heap snapshot).
  private static readonly startCb = (t: SocketTransport): void => t.start();
  private static readonly connectionLostCb = (t: SocketTransport, exc: Error | null): void => t.callConnectionLost(exc);

  protected startReading(): void {
    this.loop._addReader(this.fd, this.readReady);
  }

  // ---- reading -------------------------------------------------------

  private readonly readReady = (): void => {
    if (this.connLost !== 0) return;
    if (this.buffered !== null) return this.readIntoProtocol(this.buffered);
    const buf = readBuffer();
    let n: number;
    try {
      n = native.recv(this.fd, buf, 0, READ_BUFFER_SIZE);
    } catch (err) {
      return this.fatalError(err, 'Fatal read error on socket transport');
    }
    if (n === WOULD_BLOCK) return;
    if (n === 0) return this.readEof();
    let data: Buffer;
    if (this.borrow) {
      data = borrowedView(n);
    } else {
      data = Buffer.allocUnsafe(n);
      buf.copy(data, 0, 0, n);
    }
    try {
      (this.protocol as Protocol).dataReceived(data);
    } catch (err) {
      this.fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
    }
  };

  private readIntoProtocol(protocol: BufferedProtocol): void {
    let buf: Uint8Array;
    try {
      buf = protocol.getBuffer(-1);
      if (!(buf instanceof Uint8Array) || buf.length === 0) {
        throw new RangeError('getBuffer() returned an empty or non-Uint8Array buffer');
      }
    } catch (err) {
      return this.fatalError(err, 'Fatal error: protocol.getBuffer() call failed.');
    }
    if (this.intoReused) this.intoBuf = buf;
    let n: number;
    try {
      n = native.recv(this.fd, buf, 0, buf.length);
    } catch (err) {
      return this.fatalError(err, 'Fatal read error on socket transport');
    }
    if (n === WOULD_BLOCK) return;
    if (n === 0) return this.readEof();
    try {
      protocol.bufferUpdated(n);
    } catch (err) {
      this.fatalError(err, 'Fatal error: protocol.bufferUpdated() call failed.');
    }
  }

  pauseReading(): void {
    if (this.closing || !this.reading) return;
    this.reading = false;
    if (this.protocolConnected) this.loop._removeReader(this.fd);
  }

  resumeReading(): void {
    if (this.closing || this.reading) return;
    this.reading = true;
    if (this.protocolConnected) this.loop._addReader(this.fd, this.readReady);
  }

  // ---- writing -------------------------------------------------------

  write(data: Uint8Array | string): void {
    const bytes = toBytes(data);
    if (this.eofWritten) throw new RuntimeError('Cannot call write() after writeEof()');
    let wb = this.wb;
    if (wb !== null && wb.emptyWaiter !== null) throw new RuntimeError('unable to write; sendfile is in progress');
    if (bytes.length === 0) return;
    if (this.connLost !== 0) {
      if (this.connLost++ === CONNLOST_WRITE_WARNING) console.warn('coio: socket.send() raised exception.');
      return;
    }
    let sent = 0;
    if (wb === null || wb.size === 0) {
      try {
        sent = native.send(this.fd, bytes, 0, bytes.length);
      } catch (err) {
        return this.fatalError(err, 'Fatal write error on socket transport');
      }
      if (sent === bytes.length) return;
      if (sent === WOULD_BLOCK) sent = 0;
      this.startWriting();
      wb ??= this.wb = new WriteBuffer();
    }
    wb.push(bytes, sent, this.intoBuf !== null && overlaps(bytes, this.intoBuf));
    wb.maybePause(this, this.protocol, this.loop);
  }

  private startWriting(): void {
    if (this.writing) return;
    this.writing = true;
    this.loop._addWriter(this.fd, this.writeReady);
  }

  private stopWriting(): void {
    if (!this.writing) return;
    this.writing = false;
    this.loop._removeWriter(this.fd);
  }

  private readonly writeReady = (): void => {
    const wb = this.wb;
    if (this.connLost !== 0 || wb === null) return;
    const chunks = wb.chunks;
    if (!wb.intact()) {
      this.stopWriting();
      const err = wb.detachedError();
      wb.clear();
      return this.fatalError(err, 'Fatal write error on socket transport');
    }
    let n: number;
    try {
      n = chunks.length === 1 ? native.send(this.fd, chunks[0]!, wb.offset, chunks[0]!.length - wb.offset) : native.sendv(this.fd, chunks, wb.offset);
    } catch (err) {
      this.stopWriting();
      wb.clear();
      return this.fatalError(err, 'Fatal write error on socket transport');
    }
    if (n === WOULD_BLOCK) return;
    wb.consume(n);
    wb.maybeResume(this, this.protocol, this.loop);
    if (wb.size > 0) return;
    this.stopWriting();
    if (wb.emptyWaiter !== null && !wb.emptyWaiter.done()) wb.emptyWaiter.setResult(undefined);
    if (this.closing) {
      this.connLost = 1;
      this.loop.callSoon(SocketTransport.connectionLostCb, this, null);
    } else if (this.eofWritten) {
      this.shutdownWrite();
    }
  };

  protected shutdownWrite(): void {
    try {
      this.sock.shutdown(SHUT_WR);
    } catch (err) {
      // The peer may be gone already; that is reported by the read side.
      if ((err as NodeJS.ErrnoException).code !== 'ENOTCONN') this.fatalError(err, 'Fatal error on shutdown');
    }
  }

  // ---- loop.sendfile (sendfile.ts: NativeSendfileTransport) ---------------

  /** @internal sendfile(2) can write to this transport's socket. */
  get _sendfileCompatible(): 'native' {
    return 'native';
  }

  /** @internal */
  _sendfileSocket(): Socket {
    return this.sock;
  }

  /**
   * @internal A Future done once the write buffer is empty (failed if the
   * connection is lost first); write() refuses until _resetEmptyWaiter().
   */
  _makeEmptyWaiter(): Future<void> {
    const wb = (this.wb ??= new WriteBuffer());
    if (wb.emptyWaiter !== null) throw new RuntimeError('Empty waiter is already set');
    const waiter = (wb.emptyWaiter = this.loop.createFuture<void>());
    if (wb.size === 0) waiter.setResult(undefined);
    return waiter;
  }

  /** @internal */
  _resetEmptyWaiter(): void {
    if (this.wb !== null) this.wb.emptyWaiter = null;
  }

  /** Fail a pending empty waiter: the buffer will never drain. */
  private failEmptyWaiter(exc: Error | null): void {
    const waiter = this.wb?.emptyWaiter;
    if (waiter != null && !waiter.done()) waiter.setException(exc ?? native.errorFromErrno(native.errno.EPIPE!, 'send'));
  }

  // ---- closing -------------------------------------------------------

  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.protocolConnected && this.reading) this.loop._removeReader(this.fd);
    if (this.getWriteBufferSize() === 0) {
      this.connLost = 1;
      this.loop.callSoon(SocketTransport.connectionLostCb, this, null);
    }
  }

  protected forceClose(exc: Error | null): void {
    if (this.connLost !== 0) return;
    this.failEmptyWaiter(exc);
    this.wb?.clear();
    this.stopWriting();
    if (!this.closing) {
      this.closing = true;
      if (this.protocolConnected && this.reading) this.loop._removeReader(this.fd);
    }
    this.connLost = 1;
    this.loop.callSoon(SocketTransport.connectionLostCb, this, exc);
  }

  private callConnectionLost(exc: Error | null): void {
    this.failEmptyWaiter(exc);
    try {
      if (this.protocolConnected) this.protocol.connectionLost?.(exc);
    } finally {
      this.loop._detachTransport(this.fd, this);
      this.sock.close();
      this.owner?.detach(this);
    }
  }
}
