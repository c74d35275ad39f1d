// Protocols: the callbacks a transport calls (asyncio's protocols.py).
//
// A protocol is any object with these methods; the classes below are
// convenient bases whose methods do nothing. Every callback is called from
// the event loop, never inline from a user call.

import type { DatagramTransport, SubprocessTransport, Transport } from './transports.js';
import type { SockAddress } from './native.js';

/**
 * The callbacks every protocol may have (asyncio.BaseProtocol). Each is
 * called from the event loop, never inline from a user call; all are optional.
 */
export interface BaseProtocol {
  /** The connection is up; `transport` is how to write to it. */
  connectionMade?(transport: Transport): void;
  /** The connection is gone: exc is null for a normal EOF or close, else the error. Called exactly once. */
  connectionLost?(exc: Error | null): void;
  /** The transport's write buffer went over the high-water mark: stop writing. */
  pauseWriting?(): void;
  /** The write buffer drained below the low-water mark: writing may go on. */
  resumeWriting?(): void;
}

/**
 * A stream protocol (asyncio.Protocol): what loop.createServer /
 * createConnection connect to a socket transport. Implement the interface, or
 * extend ProtocolBase and override what you need.
 */
export interface Protocol extends BaseProtocol {
  /**
   * Data arrived. By default `data` is the protocol's own Buffer. With
   * `borrowsData: true` it is a view of the loop's read buffer, valid only
   * until this call returns: copy what you keep (`Buffer.from(data)`).
   * Writing the view back (`transport.write(data)`) is safe: the transport
   * copies whatever it cannot send at once.
   */
  dataReceived(data: Buffer): void;
  /**
   * The peer closed its side (FIN). Return true to keep the transport open
   * for writing (half-close); anything else closes it.
   */
  eofReceived?(): boolean | void;
  /** Opt in to borrowed views in dataReceived (no allocation per read). */
  readonly borrowsData?: boolean;
}

/**
 * A protocol that owns its receive buffer: the transport reads straight into
 * the buffer getBuffer() returns, then reports the count with bufferUpdated().
 */
export interface BufferedProtocol extends BaseProtocol {
  /** A buffer to read into; sizeHint is a recommended minimum (-1: no hint). Must not be empty. */
  getBuffer(sizeHint: number): Uint8Array;
  /** nbytes were written at the start of the last buffer getBuffer() returned. */
  bufferUpdated(nbytes: number): void;
  /** The peer closed its side (FIN): return true to keep the transport open for writing (as Protocol.eofReceived). */
  eofReceived?(): boolean | void;
}

/** A datagram protocol (asyncio.DatagramProtocol), for loop.createDatagramEndpoint. */
export interface DatagramProtocol extends BaseProtocol {
  connectionMade?(transport: DatagramTransport | Transport): void;
  /** One datagram arrived from addr. `data` is the protocol's own Buffer. */
  datagramReceived(data: Buffer, addr: SockAddress): void;
  /** A send or receive failed (e.g. ECONNREFUSED from an ICMP reply); the endpoint stays open. */
  errorReceived?(exc: Error): void;
}

/** The callbacks of a subprocess (asyncio's SubprocessProtocol); all run from the loop. */
export interface SubprocessProtocol {
  /** The child is running and its pipes are connected. */
  connectionMade?(transport: SubprocessTransport): void;
  /** The child wrote data on fd (1: stdout, 2: stderr). */
  pipeDataReceived?(fd: number, data: Buffer): void;
  /** One of the child's pipes closed (fd 0, 1 or 2); exc is null for a normal close. */
  pipeConnectionLost?(fd: number, exc: Error | null): void;
  /** The child exited (getReturncode() is set). */
  processExited?(): void;
  /** The child has exited and every pipe is closed. */
  connectionLost?(exc: Error | null): void;
  /** stdin's write buffer is over its high-water mark / back below the low one. */
  pauseWriting?(): void;
  /** stdin's write buffer drained below its low-water mark: writing may go on. */
  resumeWriting?(): void;
}

// The names: an interface is asyncio's (BaseProtocol, Protocol,
// BufferedProtocol, DatagramProtocol, SubprocessProtocol); a class named
// `<interface>Base` implements that interface with no-op callbacks, for
// protocols that override only what they need.

/** BaseProtocol with no-op callbacks; override what you need. */
export class BaseProtocolBase implements BaseProtocol {
  connectionMade(_transport: Transport): void {}
  connectionLost(_exc: Error | null): void {}
  pauseWriting(): void {}
  resumeWriting(): void {}
}

/** Base class for stream protocols: override dataReceived (and eofReceived for half-close). */
export class ProtocolBase extends BaseProtocolBase implements Protocol {
  dataReceived(_data: Buffer): void {}
  eofReceived(): boolean | void {}
}

/** Base class for datagram protocols. */
export class DatagramProtocolBase extends BaseProtocolBase implements DatagramProtocol {
  datagramReceived(_data: Buffer, _addr: SockAddress): void {}
  errorReceived(_exc: Error): void {}
}

export function isBufferedProtocol(p: BaseProtocol): p is BufferedProtocol {
  return typeof (p as BufferedProtocol).getBuffer === 'function';
}
