// What the two stream transports over a connected socket share: the
// selector transport (socket_transport.ts: wait for readiness, then recv /
// send) and the proactor transport (proactor_transport.ts: the kernel does
// the recv and the send on io_uring and reports completions). They differ in
// how bytes move; the protocol-facing state and rules are the same, and live
// here once:
//
// - the protocol and how it takes data (borrowed views, BufferedProtocol),
// - the closing / connection-lost state, fatal errors and what is reported,
// - end of file from the peer (eofReceived: keep the write side or close),
// - writeEof, abort, the write buffer's size and limits, extra info.
//
// Each subclass supplies the moves: write, pauseReading / resumeReading,
// close, forceClose (drop everything, schedule connectionLost) and
// shutdownWrite (the SHUT_WR once the buffer is empty).

import { isBufferedProtocol } from './protocols.js';
import type { BaseProtocol, BufferedProtocol, Protocol } from './protocols.js';
import type { Socket } from './socket.js';
import type { ExtraInfo, Transport } from './transports.js';
import type { AbstractEventLoop } from './events.js';
import { addressOrUndefined, isConnectionLost } from './transport_helpers.js';
import { DEFAULT_HIGH_WATER, WriteBuffer } from './write_buffer.js';

/** Something that tracks the transports it made (a Server), so close can wait for them. */
export interface TransportOwner {
  attach(transport: Transport): void;
  detach(transport: Transport): void;
}

/** Resolved (with null) once connectionMade has run; rejected if it threw. */
export interface ConnectionWaiter {
  setResult(v: null): void;
  setException(e: unknown): void;
  cancelled(): boolean;
}

export abstract class StreamSocketTransport<L extends AbstractEventLoop = AbstractEventLoop> implements Transport {
  protected readonly fd: number;
  protected protocol!: BaseProtocol;
  protected buffered: BufferedProtocol | null = null;
  protected borrow = false;
  /**
   * The buffer the BufferedProtocol's getBuffer() gave the last read. The
   * next read overwrites it (a protocol usually returns the same buffer
   * every time, often one shared by all its connections), so a write of a
   * view of it is copied before it can wait for the socket: written back by
   * reference, a later read would change bytes not yet sent (another
   * connection's, with a shared buffer). Not kept for a protocol whose
   * getBuffer() never returns memory a write may still hold
   * (`_freshBuffers`: the streams' protocol, whose reader keeps each
   * buffer).
   */
  protected intoBuf: Uint8Array | null = null;
  protected intoReused = false;
  protected closing = false;
  /** Non-zero once connectionLost is scheduled; counts writes after that. */
  protected connLost = 0;
  protected reading = true;
  protected eofWritten = false;
  protected protocolConnected = false;
  /** Bytes written and not yet sent (or acknowledged), with the flow control over them: made when first needed. */
  protected wb: WriteBuffer | null = null;
  protected readonly extra: Partial<ExtraInfo>;

  constructor(
    protected readonly loop: L,
    protected readonly sock: Socket,
    protocol: BaseProtocol,
    protected readonly waiter: ConnectionWaiter | null,
    protected readonly owner: TransportOwner | null,
  ) {
    this.fd = sock.fileno();
    this.setProtocol(protocol);
    this.extra = { socket: sock, sockname: addressOrUndefined(() => sock.getsockname()), peername: addressOrUndefined(() => sock.getpeername()) };
  }

  abstract write(data: Uint8Array | string): void;
  abstract pauseReading(): void;
  abstract resumeReading(): void;
  abstract close(): void;
  /** Drop what is buffered and in flight, and schedule connectionLost(exc). */
  protected abstract forceClose(exc: Error | null): void;
  /** shutdown(SHUT_WR), the write buffer being empty. */
  protected abstract shutdownWrite(): void;

  /** Start reading: connectionMade has run and reading is not paused. */
  protected abstract startReading(): void;

  /** The transport's first callback: connectionMade, then reading, then the waiter. */
  protected start(): void {
    try {
      this.protocol.connectionMade?.(this);
    } catch (err) {
      this.waiter?.setException(err);
      this.fatalError(err, 'Exception in connectionMade');
      return;
    }
    this.protocolConnected = true;
    if (!this.closing && this.reading) this.startReading();
    if (this.waiter !== null && !this.waiter.cancelled()) this.waiter.setResult(null);
  }

  /** The peer sent its end of file: the protocol keeps the write side open (eofReceived() true) or the transport closes. */
  protected readEof(): void {
    let keepOpen: boolean | void = false;
    try {
      keepOpen = (this.protocol as Protocol).eofReceived?.();
    } catch (err) {
      return this.fatalError(err, 'Fatal error: protocol.eofReceived() call failed.');
    }
    if (keepOpen === true) {
      // Half-closed: nothing more to read, but the protocol may still write.
      this.pauseReading();
    } else {
      this.close();
    }
  }

  protected fatalError(err: unknown, message: string): void {
    // The connection going away is the peer's (or the network's) doing, not
    // a bug: connectionLost says it, no report (transport_helpers.ts has the list).
    if (!isConnectionLost(err)) {
      this.loop.callExceptionHandler({ message, exception: err, transport: this, protocol: this.protocol });
    }
    this.forceClose(err instanceof Error ? err : new Error(String(err)));
  }

  isReading(): boolean {
    return this.reading && !this.closing;
  }

  writelines(list: Iterable<Uint8Array | string>): void {
    for (const data of list) this.write(data);
  }

  writeEof(): void {
    if (this.closing || this.eofWritten) return;
    this.eofWritten = true;
    if (this.getWriteBufferSize() === 0) this.shutdownWrite();
  }

  canWriteEof(): boolean {
    return true;
  }

  abort(): void {
    this.forceClose(null);
  }

  isClosing(): boolean {
    return this.closing;
  }

  getWriteBufferSize(): number {
    return this.wb === null ? 0 : this.wb.size;
  }

  getWriteBufferLimits(): [number, number] {
    return this.wb === null ? [DEFAULT_HIGH_WATER / 4, DEFAULT_HIGH_WATER] : [this.wb.low, this.wb.high];
  }

  setWriteBufferLimits(high?: number, low?: number): void {
    (this.wb ??= new WriteBuffer()).setLimits(high, low, this, this.protocol, this.loop);
  }

  /** @internal */
  _isProtocolPaused(): boolean {
    return this.wb !== null && this.wb.isProtocolPaused();
  }

  getExtraInfo<K extends keyof ExtraInfo>(name: K, fallback?: ExtraInfo[K]): ExtraInfo[K] | undefined {
    const value = this.extra[name] as ExtraInfo[K] | undefined;
    return value === undefined ? fallback : value;
  }

  setProtocol(protocol: BaseProtocol): void {
    this.protocol = protocol;
    this.buffered = isBufferedProtocol(protocol) ? protocol : null;
    this.borrow = (protocol as Protocol).borrowsData === true;
    this.intoReused = this.buffered !== null && (protocol as { _freshBuffers?: boolean })._freshBuffers !== true;
    this.intoBuf = null;
  }

  getProtocol(): BaseProtocol {
    return this.protocol;
  }

  toString(): string {
    const state = this.sock.closed ? 'closed' : this.closing ? 'closing' : 'open';
    return `<${this.constructor.name} fd=${this.fd} ${state} write buffer=${this.getWriteBufferSize()}>`;
  }
}
