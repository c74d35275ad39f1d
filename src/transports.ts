// Transport interfaces (asyncio's transports.py): what a protocol may call.
// The implementations over non-blocking sockets are in socket_transport.ts
// and datagram_transport.ts.

import type { SockAddress } from './native.js';
import type { Socket } from './socket.js';
import type { BaseProtocol, SubprocessProtocol } from './protocols.js';
import type { PeerCertificate, SSLContext, SSLObject } from './ssl.js';

/** Keys of getExtraInfo(). */
export interface ExtraInfo {
  /** The remote address (undefined if unknown, e.g. the peer already reset). */
  peername: SockAddress | undefined;
  /** The local address. */
  sockname: SockAddress | undefined;
  /** The transport's Socket (use it for options; reading or writing it directly confuses the transport). */
  socket: Socket;
  /** TLS: the connection's SSLObject (undefined on a plain transport, as the other TLS keys). */
  sslObject: SSLObject;
  /** TLS: the peer's certificate as SSLObject.getpeercert() gives it ({} when not verified, null when none). */
  peercert: PeerCertificate | Record<string, never> | null;
  /** TLS: [cipher name, protocol version, secret bits]. */
  cipher: [string, string, number] | null;
  /** TLS: always null (no TLS compression). */
  compression: string | null;
  /** TLS: the SSLContext in use. */
  sslContext: SSLContext;
  /** TLS: the ALPN protocol agreed on, or null. */
  alpnProtocol: string | null;
}

/** What every transport has (asyncio.BaseTransport). */
export interface BaseTransport {
  /** 'peername', 'sockname', 'socket', or over TLS 'sslObject', 'peercert', 'cipher', 'compression', 'sslContext', 'alpnProtocol'; `fallback` when unknown. */
  getExtraInfo<K extends keyof ExtraInfo>(name: K, fallback?: ExtraInfo[K]): ExtraInfo[K] | undefined;
  /** True once close() or abort() was called, or the connection was lost. */
  isClosing(): boolean;
  /** Close after the buffered data is sent; the protocol's connectionLost(null) follows. */
  close(): void;
  /** Send the callbacks to another protocol from now on. */
  setProtocol(protocol: BaseProtocol): void;
  /** The protocol the callbacks go to. */
  getProtocol(): BaseProtocol;
}

/** The reading side of a transport (asyncio.ReadTransport). */
export interface ReadTransport extends BaseTransport {
  /** True unless reading is paused (or the transport is closing). */
  isReading(): boolean;
  /** Stop calling dataReceived until resumeReading(). No-op when paused or closing. */
  pauseReading(): void;
  /** Call dataReceived again after pauseReading(). No-op when reading or closing. */
  resumeReading(): void;
}

/** The writing side of a transport (asyncio.WriteTransport). */
export interface WriteTransport extends BaseTransport {
  /**
   * Send now what the kernel takes; buffer the rest. Never blocks. A rest of
   * up to 16 KiB is copied; a larger one is kept by reference (as asyncio
   * keeps a memoryview): do not change such a buffer until it is sent
   * (drain() returned, or getWriteBufferSize() is 0).
   * After close(), or once the connection is lost, the data is dropped.
   * @throws TypeError for data that is not a Uint8Array or string; an Error after writeEof().
   */
  write(data: Uint8Array | string): void;
  /** write() each buffer in turn. Throws as write(). */
  writelines(list: Iterable<Uint8Array | string>): void;
  /** Close the write side once the buffer is flushed (shutdown SHUT_WR). */
  writeEof(): void;
  /** True if writeEof() is supported (it is on coio's socket and pipe transports). */
  canWriteEof(): boolean;
  /** Close at once, dropping buffered data; connectionLost(null) follows. */
  abort(): void;
  /** Bytes buffered and not yet sent. */
  getWriteBufferSize(): number;
  /** The [low, high] water marks of the write buffer, bytes. */
  getWriteBufferLimits(): [low: number, high: number];
  /**
   * pauseWriting() fires above high, resumeWriting() at or below low. Default high 64 KiB, low high/4.
   * @throws RangeError unless high >= low >= 0.
   */
  setWriteBufferLimits(high?: number, low?: number): void;
}

/** A bidirectional stream transport (asyncio.Transport): what a Protocol's connectionMade receives. */
export interface Transport extends ReadTransport, WriteTransport {}

/** A datagram endpoint's transport (asyncio.DatagramTransport). */
export interface DatagramTransport extends BaseTransport {
  /**
   * Send one datagram, to addr or (when connected) to the remote address.
   * @throws an Error for a missing address on an unconnected endpoint, or another address on a connected one.
   */
  sendto(data: Uint8Array | string, addr?: SockAddress | readonly [string, number] | string): void;
  /** Close at once, dropping buffered datagrams; connectionLost(null) follows. */
  abort(): void;
  /** Bytes of datagrams buffered and not yet sent. */
  getWriteBufferSize(): number;
}

/** A child process's transport (asyncio.SubprocessTransport): what a SubprocessProtocol's connectionMade receives. */
export interface SubprocessTransport {
  /** The child's process id. */
  getPid(): number;
  /** The exit status, -N if signal N killed it, null while it runs. */
  getReturncode(): number | null;
  /** The transport of pipe fd (0, 1 or 2), or null if that fd is not piped. */
  getPipeTransport(fd: number): BaseTransport | null;
  /** The protocol the callbacks go to. */
  getProtocol(): SubprocessProtocol;
  /** Send the callbacks to another protocol from now on. */
  setProtocol(protocol: SubprocessProtocol): void;
  /** True once close() was called. */
  isClosing(): boolean;
  /** Send a signal (a name or number). */
  sendSignal(sig: NodeJS.Signals | number): void;
  /** sendSignal('SIGTERM'). */
  terminate(): void;
  /** sendSignal('SIGKILL'). */
  kill(): void;
  /** Close the pipes, and kill the child if it still runs. */
  close(): void;
}
