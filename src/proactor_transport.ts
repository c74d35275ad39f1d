// The stream transport over a socket on the io_uring loop's completion
// operations (asyncio's _ProactorSocketTransport, proactor_events.py): the
// kernel does the recv and the send, the loop is told when they are done.
//
// Where the selector transport (socket_transport.ts) waits until the socket
// is readable and then calls recv, this one keeps a recv in flight: the
// kernel fills the transport's buffer when data comes, and the completion
// (token, bytes, flags) lands in the loop's completions array at the next
// poll step, the same io_uring_enter that submitted the transport's other
// operations and waited. No recv / send syscall of ours, no readiness event.
//
// - Reading, the multishot path (where the kernel has it: Linux 6.0; the
//   loop option `recv`, COIO_RECV): one multishot recv per connection into
//   the loop's pool of buffers (recv_pool.ts), which the kernel picks from
//   when data comes, so an idle connection holds no buffer and a reading one
//   submits nothing per read. Each completion names its buffer; the read
//   callback (a Handle made once, pushed on the ready queue) hands the bytes
//   over (a borrowed view with borrowsData, a copy otherwise, getBuffer /
//   bufferUpdated for a BufferedProtocol) and gives the buffer back to the
//   pool at once, unless the view was written back (an echo): that buffer
//   is lent to the send and goes back when the write buffer has drained.
//   A recv that ends without EOF (the pool was empty: -ENOBUFS; cancelled)
//   is armed again, once a buffer is back if the pool was empty.
// - Reading, the one-shot path: one recv in flight, into a buffer the
//   transport owns (RECV_SIZE bytes); its completion schedules the read
//   callback, which hands the bytes over as above and submits the next recv.
// - pauseReading cancels the recv in flight; what completed before the
//   cancel took effect is parked, in order, until resumeReading hands it
//   over (no byte is lost: a cancelled recv either took nothing or
//   completes with its data).
// - Writing: one send in flight (a vectored send when several large writes
//   are queued: submitSend). write() queues the bytes (the WriteBuffer
//   holds every byte not yet acknowledged, the in-flight ones first, so
//   getWriteBufferSize() and the high / low water marks count them) and
//   submits a send when none is in flight; the send's completion consumes
//   what the kernel took and submits the rest. The ring holds the buffer
//   until the completion, so small writes are copied first (the caller may
//   reuse a small buffer at once, as with the selector transport) and large
//   ones are kept by reference (WriteBuffer's rule). A protocol with
//   borrowsData that writes back the view it was given (an echo) is not
//   copied: that receive buffer is lent to the send (on the multishot path
//   up to LEND_MAX pool buffers, so a message read in pieces is sent from
//   them all; on the one-shot path one, the next recv going into another
//   buffer of the transport's).
// - writeEof: a shutdown(SHUT_WR) operation once everything is sent.
// - close: the recv in flight is cancelled (the kernel holds the socket open
//   while an operation on it is in flight) and parked buffers go back to the
//   pool, buffered data is sent, then connectionLost; abort cancels both and
//   drops the data.

import { markAsUntransferable } from 'node:worker_threads';
import { RuntimeError } from './errors.js';
import { Handle } from './events.js';
import { native, OP_BUFFER, OP_MORE, OP_RECV, OP_RECV_MULTI, OP_SEND, OP_SHUTDOWN, SENDV_MAX } from './native.js';
import type { BaseProtocol, Protocol } from './protocols.js';
import type { PoolWaiter, RecvPool } from './recv_pool.js';
import type { BaseSelectorEventLoop, OpTarget } from './selector_events.js';
import { SHUT_WR } from './socket.js';
import type { Socket } from './socket.js';
import { SocketTransport } from './socket_transport.js';
import { StreamSocketTransport } from './stream_transport.js';
import type { ConnectionWaiter, TransportOwner } from './stream_transport.js';
import type { Transport } from './transports.js';
import type { AbstractEventLoop } from './events.js';
import { CONNLOST_WRITE_WARNING, isReadBufferView, overlaps, toBytes } from './transport_helpers.js';
import { COPY_LIMIT, WriteBuffer } from './write_buffer.js';

/**
 * The transport's receive buffer. Smaller than the selector transport's
 * shared 256 KiB (READ_BUFFER_SIZE): each connection holds its own while its
 * recv is in flight, idle or not.
 */
export const RECV_SIZE = 64 * 1024;
/**
 * Queued writes totalling at most this are merged into one buffer and sent
 * with a plain send; more go as one vectored send (up to SENDV_MAX chunks)
 * from the writers' own buffers.
 */
const MERGE_LIMIT = 16 * 1024;
/**
 * Pool buffers one transport may lend to its sends at a time (a borrowed
 * view written back): a message of a few reads (loopback delivers 64 KiB
 * segments, so a 100 KiB echo is mostly two) is sent without a copy; the
 * pool-wide cap (half the pool) still applies.
 */
const LEND_MAX = 4;

// The kinds of operation a transport submits (its _opDone argument).
const K_RECV = 1;
const K_SEND = 2;
const K_SHUTDOWN = 3;

/** sendToken of a send that completed and waits for writeDone. */
const SEND_DONE = -2;

const ECANCELED = native.errno.ECANCELED ?? 125;
const ENOTCONN = native.errno.ENOTCONN ?? 107;
const ENOBUFS = native.errno.ENOBUFS ?? 105;
/** The empty parked queues every transport starts with (shared, never written: see recvMultiDone and copyParked). */
const NONE_PARKED: number[] = [];
const NO_COPIES: Buffer[] = [];

export class ProactorSocketTransport extends StreamSocketTransport<BaseSelectorEventLoop> implements OpTarget, PoolWaiter {
  /** The loop's pool on the multishot path; null on the one-shot path. */
  private readonly pool: RecvPool | null;
  /**
   * Multishot completions not yet handed over, in order: (result, flags)
   * pairs. While reading is paused their bytes are copied out of the pool
   * (flags without OP_BUFFER, the copy in parkedCopies), so that paused
   * connections hold no pool buffer, however many there are.
   */
  private parked: number[] = NONE_PARKED;
  private parkedCopies: Buffer[] = NO_COPIES;
  /** The read Handle is on the ready queue. */
  private readQueued = false;
  /** The pool buffer whose view dataReceived has now (writing it back lends it), or -1. */
  private deliveringBid = -1;
  /**
   * The pool buffers lent to sends (lentN of them, in lentBids, made on the
   * first lend): a message that came in several reads, each written back,
   * lends each of its buffers (up to LEND_MAX), so a large echo copies none.
   */
  private lentBids: number[] | null = null;
  private lentN = 0;
  /** pool.ended when this transport last armed its recv. */
  private endedSeen = 0;
  /** The buffer of the transport's recvs; a second one while the first is lent to a send. */
  private recvBuf: Buffer | null = null;
  private spareBuf: Buffer | null = null;
  /** The receive buffer a send in flight (or queued) is reading from, until the write buffer empties. */
  private lentBuf: Buffer | null = null;
  /** The last borrowed view handed out (reused when the next read has the same length and buffer). */
  private view: Buffer | null = null;
  private otherView: Buffer | null = null;
  /** Token of the recv in flight, or -1. */
  private recvToken = -1;
  /** A recv completed and its result waits for the read callback (or for resumeReading: parked). */
  private recvDone = false;
  private recvResult = 0;

  // this.wb (the base's) holds every byte written and not yet acknowledged by a send completion.
  private sendToken = -1;
  /**
   * The write being sent when it was the only one (write()): kept outside
   * the write buffer's chunks, which then hold only the writes after it;
   * this.wb.size counts both.
   */
  private sending: Uint8Array | null = null;
  private sendResult = 0;
  /** Bytes of the send in flight. */
  private sendLen = 0;
  private shutdownToken = -1;
  private shutdownResult = 0;

  private readonly readHandle: Handle;
  private readonly writeHandle: Handle;
  private readonly shutdownHandle: Handle;

  constructor(loop: BaseSelectorEventLoop, sock: Socket, protocol: BaseProtocol, waiter: ConnectionWaiter | null = null, owner: TransportOwner | null = null) {
    super(loop, sock, protocol, waiter, owner);
    // Made once, pushed on the ready queue by each completion: the
    // callbacks run in the Context current now, as an addReader callback would.
    this.readHandle = new Handle(ProactorSocketTransport.readCb, [this], loop);
    this.writeHandle = new Handle(ProactorSocketTransport.writeCb, [this], loop);
    this.shutdownHandle = new Handle(ProactorSocketTransport.shutdownCb, [this], loop);
    this.pool = loop._recvPool();
    owner?.attach(this);
    loop.callSoon(ProactorSocketTransport.startCb, this);
    loop._attachTransport(sock, this);
  }

  private static readonly startCb = (t: ProactorSocketTransport): void => t.start();
  private static readonly readCb = (t: ProactorSocketTransport): void => t.readDone();
  private static readonly writeCb = (t: ProactorSocketTransport): void => t.writeDone();
  private static readonly shutdownCb = (t: ProactorSocketTransport): void => t.shutdownDone();
  private static readonly connectionLostCb = (t: ProactorSocketTransport, exc: Error | null): void => t.callConnectionLost(exc);

  protected startReading(): void {
    if (this.pool !== null) this.armRecv();
    else this.submitRecv();
  }

  /** @internal A completion of one of this transport's operations (called by the loop's poll step). */
  _opDone(kind: number, result: number, flags: number): void {
    if (kind === K_RECV) {
      if (this.pool !== null) return this.recvMultiDone(result, flags);
      this.recvToken = -1;
      if (this.closing) return; // cancelled by close / abort, or data after close: dropped
      this.recvResult = result;
      this.recvDone = true;
      if (this.reading) this.loop._ready.push(this.readHandle);
      else if (result === -ECANCELED) this.recvDone = false; // paused: resumeReading submits anew
    } else if (kind === K_SEND) {
      const wb = this.wb;
      // The usual case, settled here: everything sent, nothing to tell the
      // protocol, nothing to do next (no Handle run, no loop turn spent).
      if (result === this.sendLen && wb !== null && wb.size === result && this.connLost === 0 && !this.closing && !this.eofWritten && !wb.paused) {
        if (this.sending !== null) {
          this.sending = null;
          wb.size = 0;
        } else {
          wb.consume(result);
        }
        this.releaseLent();
        this.sendToken = -1;
        return;
      }
      // Still busy until writeDone has consumed what was sent: a write()
      // before that must queue, not send the same bytes again.
      this.sendToken = SEND_DONE;
      this.sendResult = result;
      if (this.connLost === 0) this.loop._ready.push(this.writeHandle);
      else this.releaseLent(); // aborted: the send no longer reads the lent buffer
    } else {
      this.shutdownToken = -1;
      this.shutdownResult = result;
      if (this.connLost === 0) this.loop._ready.push(this.shutdownHandle);
    }
  }

  // ---- reading: the multishot path ------------------------------------

  /**
   * Arms the recv, unless one is in flight; waits for a buffer first if the
   * pool is empty. A multishot recv armed while data is waiting takes as many
   * buffers as the data fills, and recvs armed in a turn are served before
   * those already waiting: under contention (a recv ended with -ENOBUFS since
   * this transport last armed), the ones armed anew would take the whole pool
   * turn after turn and the others none. So then it arms a single recv (one
   * buffer a turn, a fair share), and multishot again once a turn passes
   * with no -ENOBUFS.
   */
  private armRecv(): void {
    if (this.recvToken !== -1 || this.closing || !this.reading) return;
    const pool = this.pool!;
    if (pool.exhausted()) return pool.starve(this);
    const single = pool.ended !== this.endedSeen ? 1 : 0;
    this.endedSeen = pool.ended;
    try {
      this.recvToken = this.loop._submitOp(OP_RECV_MULTI, this.fd, null, 0, 0, this, K_RECV, single);
    } catch (err) {
      this.fatalError(err, 'Fatal read error on socket transport');
    }
  }

  /** @internal A buffer came back to the empty pool: arm the recv that ended for want of one. */
  _poolReady(): void {
    this.armRecv();
  }

  private recvMultiDone(result: number, flags: number): void {
    const pool = this.pool!;
    if ((flags & OP_MORE) === 0) this.recvToken = -1;
    const bid = (flags & OP_BUFFER) !== 0 ? flags >>> 16 : -1;
    if (bid !== -1) pool.take(bid);
    if (this.closing) {
      // Cancelled by close / abort, or data after close: dropped.
      if (bid !== -1) pool.recycle(bid);
      return;
    }
    // -ECANCELED (pauseReading) and -ENOBUFS (the pool was empty) end the
    // recv with nothing read: the read callback arms it again if reading.
    if (result === -ENOBUFS) pool.ended++;
    else if (result !== -ECANCELED) {
      if (this.parked === NONE_PARKED) this.parked = []; // made on the first read: an idle connection has none
      this.parked.push(result, flags);
      if (!this.reading) this.copyParked();
    }
    if (this.reading && !this.readQueued) {
      this.readQueued = true;
      this.loop._ready.push(this.readHandle);
    }
  }

  /** Parked bytes still in pool buffers are copied out and the buffers given back (reading is paused). */
  private copyParked(): void {
    const pool = this.pool!;
    const parked = this.parked;
    const copies: Buffer[] = [];
    let k = 0;
    for (let i = 0; i < parked.length; i += 2) {
      const n = parked[i]!;
      const flags = parked[i + 1]!;
      if ((flags & OP_BUFFER) !== 0) {
        const bid = flags >>> 16;
        copies.push(Buffer.from(pool.bytes(bid).subarray(0, n)));
        pool.recycle(bid);
        parked[i + 1] = flags & ~OP_BUFFER & 0xffff;
      } else if (n > 0) {
        copies.push(this.parkedCopies[k++]!);
      }
    }
    this.parkedCopies = copies;
  }

  private readMultiDone(): void {
    this.readQueued = false;
    const parked = this.parked;
    while (this.reading && !this.closing && parked.length > 0) {
      const n = parked.shift()!;
      const flags = parked.shift()!;
      if (n === 0) return this.readEof();
      if (n < 0) return this.fatalError(native.errorFromErrno(-n, 'recv'), 'Fatal read error on socket transport');
      const ok = (flags & OP_BUFFER) !== 0 ? this.deliver(flags >>> 16, n) : this.deliver(-1, n, this.parkedCopies.shift());
      if (!ok) return;
      // The protocol paused reading: what is left waits, out of the pool.
      if (!this.reading && parked.length > 0) this.copyParked();
    }
    this.armRecv();
  }

  /**
   * The n bytes of pool buffer bid (or of a parked copy) to the protocol;
   * the buffer goes back to the pool unless lent to a send. False after a
   * fatal error.
   */
  private deliver(bid: number, n: number, copy?: Buffer): boolean {
    const pool = this.pool!;
    const bytes = copy ?? pool.bytes(bid);
    let ok = true;
    if (this.buffered !== null) {
      ok = this.handOver(bytes, n);
    } else {
      let data: Buffer;
      if (copy !== undefined) {
        data = copy; // the transport's own copy: the protocol may keep it
      } else if (this.borrow) {
        data = pool.view(bid, n);
        this.deliveringBid = bid;
      } else {
        data = Buffer.allocUnsafe(n);
        bytes.copy(data, 0, 0, n);
      }
      try {
        (this.protocol as Protocol).dataReceived(data);
      } catch (err) {
        ok = false;
        this.deliveringBid = -1;
        this.fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
      }
      this.deliveringBid = -1;
    }
    if (bid !== -1 && !this.lends(bid)) pool.recycle(bid);
    return ok;
  }

  // ---- reading: the one-shot path -------------------------------------

  private submitRecv(): void {
    if (this.recvToken !== -1 || this.recvDone || this.closing) return;
    let buf = this.recvBuf;
    if (buf === null || buf === this.lentBuf) {
      if (this.spareBuf !== null) {
        buf = this.spareBuf;
        this.spareBuf = null;
      } else {
        // A recv writes into it while in flight, and the protocol gets
        // views of it: as with the pool (recv_pool.ts), a transfer of a
        // view's buffer must not take its memory away.
        buf = Buffer.allocUnsafeSlow(RECV_SIZE);
        markAsUntransferable(buf.buffer);
      }
      this.recvBuf = buf;
    }
    try {
      this.recvToken = this.loop._submitOp(OP_RECV, this.fd, buf, 0, buf.length, this, K_RECV);
    } catch (err) {
      this.fatalError(err, 'Fatal read error on socket transport');
    }
  }

  private readDone(): void {
    if (this.pool !== null) return this.readMultiDone();
    if (!this.recvDone || !this.reading || this.closing) return;
    this.recvDone = false;
    const n = this.recvResult;
    if (n < 0) {
      // Cancelled by pauseReading before anything came; reading again now.
      if (n === -ECANCELED) return this.submitRecv();
      return this.fatalError(native.errorFromErrno(-n, 'recv'), 'Fatal read error on socket transport');
    }
    if (n === 0) return this.readEof();
    const buf = this.recvBuf!;
    if (this.buffered !== null) {
      // Into the protocol's own buffer, by copy: a recv in flight into the
      // buffer getBuffer() returned would hold it across loop iterations,
      // which a protocol may share (the TLS protocol's scratch buffer is
      // shared by every connection: valid inside one callback only).
      if (!this.handOver(buf, n)) return;
    } else {
      let data: Buffer;
      if (this.borrow) {
        // The last view of each of the two receive buffers, reused when the
        // length repeats (a Buffer subarray is a subclass construction).
        let view = this.view;
        if (view === null || view.buffer !== buf.buffer) {
          const other = this.otherView;
          this.otherView = view;
          view = this.view = other;
        }
        data = view !== null && view.length === n && view.buffer === buf.buffer ? view : (this.view = buf.subarray(0, n));
      } else {
        data = Buffer.allocUnsafe(n);
        buf.copy(data, 0, 0, n);
      }
      try {
        (this.protocol as Protocol).dataReceived(data);
      } catch (err) {
        return this.fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
      }
    }
    if (this.reading) this.submitRecv();
  }

  /** The first n bytes of buf to a BufferedProtocol: getBuffer(remaining), copy, bufferUpdated, until all are in. False after a fatal error. */
  private handOver(buf: Buffer, n: number): boolean {
    const protocol = this.buffered!;
    let off = 0;
    while (off < n) {
      let into: Uint8Array;
      try {
        into = protocol.getBuffer(n - off);
        if (!(into instanceof Uint8Array) || into.length === 0) throw new RangeError('getBuffer() returned an empty or non-Uint8Array buffer');
      } catch (err) {
        this.fatalError(err, 'Fatal error: protocol.getBuffer() call failed.');
        return false;
      }
      if (this.intoReused) this.intoBuf = into;
      const k = Math.min(into.length, n - off);
      buf.copy(into, 0, off, off + k);
      off += k;
      try {
        protocol.bufferUpdated(k);
      } catch (err) {
        this.fatalError(err, 'Fatal error: protocol.bufferUpdated() call failed.');
        return false;
      }
      // bufferUpdated may have paused reading, closed, or changed the protocol.
      if (this.closing || this.buffered !== protocol) {
        if (off < n && !this.closing) this.deliverRest(buf, off, n);
        return !this.closing;
      }
    }
    return true;
  }

  /** What is left of a read after setProtocol() changed the protocol mid-way, to the new one. */
  private deliverRest(buf: Buffer, off: number, n: number): void {
    if (this.buffered !== null) {
      this.handOver(Buffer.from(buf.subarray(off, n)), n - off);
      return;
    }
    try {
      (this.protocol as Protocol).dataReceived(Buffer.from(buf.subarray(off, n)));
    } catch (err) {
      this.fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
    }
  }

  pauseReading(): void {
    if (this.closing || !this.reading) return;
    this.reading = false;
    // The recv in flight is cancelled, so that what the peer sends while we
    // are paused stays in the kernel (its receive window closes, and a
    // later abort() resets the connection over unread data, as with the
    // selector transport). What completed first is parked until
    // resumeReading; none is lost either way.
    if (this.recvToken !== -1) this.loop._cancelOp(this.recvToken);
    if (this.pool !== null) {
      this.pool.unstarve(this);
      if (this.parked.length > 0) this.copyParked();
    }
  }

  resumeReading(): void {
    if (this.closing || this.reading) return;
    this.reading = true;
    if (!this.protocolConnected) return;
    if (this.pool !== null) {
      if (this.parked.length > 0) {
        if (!this.readQueued) {
          this.readQueued = true;
          this.loop._ready.push(this.readHandle);
        }
      } else {
        this.armRecv();
      }
    } else if (this.recvDone) this.loop._ready.push(this.readHandle);
    else this.submitRecv();
  }

  // ---- writing -------------------------------------------------------

  write(data: Uint8Array | string): void {
    const bytes = toBytes(data);
    if (this.eofWritten) throw new RuntimeError('Cannot call write() after writeEof()');
    const n = bytes.length;
    if (n === 0) return;
    if (this.connLost !== 0) {
      if (this.connLost++ === CONNLOST_WRITE_WARNING) console.warn('coio: socket.send() raised exception.');
      return;
    }
    const wb = (this.wb ??= new WriteBuffer());
    const recvBuf = this.recvBuf;
    const pool = this.pool;
    let chunk: Uint8Array;
    if (pool !== null && bytes.buffer === pool.buffer) {
      // A view of the pool: the buffer dataReceived has now, written back,
      // is lent to the send (up to LEND_MAX of this transport's at a time,
      // all given back when the write buffer has drained); any other
      // (another connection's, a buffer since given back) is copied.
      const bid = pool.bidOf(bytes);
      // At most half the pool is lent at a time (sends wait on their peers;
      // the other half keeps every connection receiving).
      if (bid !== -1 && bid === this.deliveringBid && (this.lends(bid) || (this.lentN < LEND_MAX && pool.lent * 2 < pool.count))) {
        if (!this.lends(bid)) {
          pool.lent++;
          (this.lentBids ??= [])[this.lentN++] = bid;
        }
        chunk = bytes;
      } else {
        chunk = Buffer.from(bytes);
      }
    } else if (recvBuf !== null && bytes.buffer === recvBuf.buffer) {
      // A view of the receive buffer (a borrowed view written back): lend
      // the buffer to the send unless one is lent already; copy otherwise.
      if (this.lentBuf === null) {
        this.lentBuf = recvBuf;
        chunk = bytes;
      } else {
        chunk = Buffer.from(bytes);
      }
    } else if (n <= COPY_LIMIT || isReadBufferView(bytes) || (this.intoBuf !== null && overlaps(bytes, this.intoBuf))) {
      // Small: the caller may reuse it at once; a view of a buffer the
      // next read overwrites (stream_transport.ts, intoBuf): copied.
      chunk = Buffer.from(bytes);
    } else {
      chunk = bytes;
    }
    if (this.sendToken === -1 && wb.size === 0) {
      // Nothing queued, no send in flight (the usual case): sent from the
      // `sending` slot, not through the write buffer's array. Emptying that
      // array when the send completes would make V8 drop its storage, and
      // the next write allocate it again: a young-generation allocation per
      // request, and the collections and page faults that follow.
      wb.size = n;
      this.sending = chunk;
      this.sendLen = n;
      try {
        this.sendToken = this.loop._submitOp(OP_SEND, this.fd, chunk, 0, n, this, K_SEND);
      } catch (err) {
        wb.clear();
        this.sending = null;
        this.fatalError(err, 'Fatal write error on socket transport');
        return;
      }
    } else {
      wb.chunks.push(chunk);
      wb.size += n;
      if (this.sendToken === -1) this.submitSend(wb);
    }
    wb.maybePause(this, this.protocol, this.loop);
  }

  private submitSend(wb: WriteBuffer): void {
    if (!wb.intact()) {
      // A queued chunk was detached (or the one in flight was: the kernel
      // sent what it had from memory the poller pinned, but the rest of that
      // chunk is gone).
      const err = wb.detachedError();
      wb.clear();
      this.releaseLent();
      return this.fatalError(err, 'Fatal write error on socket transport');
    }
    const chunks = wb.chunks;
    const first = chunks[0]!;
    const firstLen = first.length - wb.offset;
    if (chunks.length > 1) {
      // Several writes queued: small ones are merged into one buffer (a
      // copy of a few KiB costs less than a vectored send's per-chunk
      // work), anything larger goes as one vectored send, copying nothing.
      let count = 1;
      let total = firstLen;
      while (count < chunks.length && count < SENDV_MAX && total <= MERGE_LIMIT) total += chunks[count++]!.length;
      if (count > 1) {
        if (total <= MERGE_LIMIT) {
          const merged = Buffer.allocUnsafe(total);
          let at = firstLen;
          merged.set(wb.offset === 0 ? first : first.subarray(wb.offset), 0);
          for (let i = 1; i < count; i++) {
            merged.set(chunks[i]!, at);
            at += chunks[i]!.length;
          }
          chunks.splice(0, count, merged);
          wb.offset = 0;
        } else {
          while (count < chunks.length && count < SENDV_MAX) total += chunks[count++]!.length;
          this.sendLen = total;
          try {
            // A list of its own: the write buffer's changes as sends complete.
            this.sendToken = this.loop._submitSendv(this.fd, chunks.slice(0, count), count, wb.offset, this, K_SEND);
          } catch (err) {
            wb.clear();
            this.fatalError(err, 'Fatal write error on socket transport');
          }
          return;
        }
      }
    }
    const head = chunks[0]!;
    this.sendLen = head.length - wb.offset;
    try {
      this.sendToken = this.loop._submitOp(OP_SEND, this.fd, head, wb.offset, this.sendLen, this, K_SEND);
    } catch (err) {
      wb.clear();
      this.fatalError(err, 'Fatal write error on socket transport');
    }
  }

  private writeDone(): void {
    const wb = this.wb;
    if (this.connLost !== 0 || wb === null) return;
    const n = this.sendResult;
    this.sendToken = -1;
    if (n < 0) {
      wb.clear();
      this.sending = null;
      this.releaseLent();
      return this.fatalError(native.errorFromErrno(-n, 'send'), 'Fatal write error on socket transport');
    }
    const sent = this.sending;
    if (sent !== null) {
      // The slot's send: what the kernel did not take goes to the front of
      // the queue, before the writes made meanwhile.
      this.sending = null;
      wb.size -= n;
      if (n < sent.length) {
        wb.chunks.unshift(sent);
        wb.offset = n;
      }
    } else {
      wb.consume(n);
    }
    if (wb.size === 0) this.releaseLent();
    wb.maybeResume(this, this.protocol, this.loop);
    if (this.connLost !== 0) return;
    if (wb.size > 0) {
      if (this.sendToken === -1) this.submitSend(wb);
      return;
    }
    if (this.closing) {
      this.connLost = 1;
      this.loop.callSoon(ProactorSocketTransport.connectionLostCb, this, null);
    } else if (this.eofWritten) {
      this.shutdownWrite();
    }
  }

  /** Pool buffer bid is lent to one of this transport's sends. */
  private lends(bid: number): boolean {
    const bids = this.lentBids;
    for (let i = 0; i < this.lentN; i++) if (bids![i] === bid) return true;
    return false;
  }

  /** The lent receive buffer is no longer read by a send: it becomes the spare (back to the pool on the multishot path). */
  private releaseLent(): void {
    if (this.lentN !== 0) {
      const pool = this.pool!;
      const bids = this.lentBids!;
      for (let i = 0; i < this.lentN; i++) {
        pool.lent--;
        pool.recycle(bids[i]!);
      }
      this.lentN = 0;
    }
    const lent = this.lentBuf;
    if (lent === null) return;
    this.lentBuf = null;
    if (lent !== this.recvBuf) this.spareBuf = lent;
  }

  protected shutdownWrite(): void {
    if (this.shutdownToken !== -1) return;
    try {
      this.shutdownToken = this.loop._submitOp(OP_SHUTDOWN, this.fd, null, 0, 0, this, K_SHUTDOWN, SHUT_WR);
    } catch (err) {
      this.fatalError(err, 'Fatal error on shutdown');
    }
  }

  private shutdownDone(): void {
    const r = this.shutdownResult;
    // The peer may be gone already; that is reported by the read side.
    if (r < 0 && r !== -ENOTCONN && r !== -ECANCELED && this.connLost === 0) {
      this.fatalError(native.errorFromErrno(-r, 'shutdown'), 'Fatal error on shutdown');
    }
  }

  /**
   * @internal loop.sendfile reads the file and writes it here (sendfile.ts):
   * a sendfile(2) of the readiness kind would race the send in flight.
   */
  get _sendfileCompatible(): 'fallback' {
    return 'fallback';
  }

  // ---- closing -------------------------------------------------------

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.stopReading();
    if (this.getWriteBufferSize() === 0) {
      this.connLost = 1;
      this.loop.callSoon(ProactorSocketTransport.connectionLostCb, this, null);
    }
  }

  /** No more reads: cancel the recv in flight (it holds the socket open in the kernel) and drop parked data. */
  private stopReading(): void {
    this.recvDone = false;
    if (this.recvToken !== -1) this.loop._cancelOp(this.recvToken);
    const pool = this.pool;
    if (pool !== null) {
      pool.unstarve(this);
      const parked = this.parked;
      for (let i = 1; i < parked.length; i += 2) {
        if ((parked[i]! & OP_BUFFER) !== 0) pool.recycle(parked[i]! >>> 16);
      }
      if (parked.length > 0) parked.length = 0;
      this.parkedCopies = NO_COPIES;
    }
  }

  protected forceClose(exc: Error | null): void {
    if (this.connLost !== 0) return;
    this.wb?.clear();
    this.sending = null;
    if (this.sendToken >= 0) this.loop._cancelOp(this.sendToken);
    if (this.shutdownToken !== -1) this.loop._cancelOp(this.shutdownToken);
    if (!this.closing) {
      this.closing = true;
      this.stopReading();
    }
    this.connLost = 1;
    this.loop.callSoon(ProactorSocketTransport.connectionLostCb, this, exc);
  }

  private callConnectionLost(exc: Error | null): void {
    try {
      if (this.protocolConnected) this.protocol.connectionLost?.(exc);
    } finally {
      this.loop._detachTransport(this.fd, this);
      // Operations still in flight (a cancelled recv, a send of abort())
      // hold the socket in the kernel until they complete at the next
      // poll step; the fd number is free once the queue is submitted.
      this.loop._flushOps();
      this.sock.close();
      // A buffer lent to a send goes back once no send can read it: now if
      // none is in flight, else at the send's completion (_opDone).
      if (this.sendToken === -1 || this.sendToken === SEND_DONE) this.releaseLent();
      this.recvBuf = this.spareBuf = this.lentBuf = this.view = this.otherView = null;
      this.owner?.detach(this);
    }
  }
}

/**
 * The stream transport for a connected socket: a ProactorSocketTransport on a
 * loop whose transports are completion-based (io_uring with transports:
 * 'proactor'), a SocketTransport (readiness) otherwise.
 */
export function newSocketTransport(
  loop: AbstractEventLoop,
  sock: Socket,
  protocol: BaseProtocol,
  waiter: { setResult(v: null): void; setException(e: unknown): void; cancelled(): boolean } | null = null,
  owner: TransportOwner | null = null,
): Transport {
  if ((loop as { _proactor?: boolean })._proactor === true) return new ProactorSocketTransport(loop as BaseSelectorEventLoop, sock, protocol, waiter, owner);
  return new SocketTransport(loop, sock, protocol, waiter, owner);
}
