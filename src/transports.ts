// Transport interfaces (asyncio's transports.py): what a protocol may call.
// The implementations over non-blocking sockets are in socket_transport.ts
// and datagram_transport.ts.

import type { SockAddress } from './native.js';
import type { Socket } from './socket.js';
import type { BaseProtocol } from './protocols.js';

/** Keys of getExtraInfo(). */
export interface ExtraInfo {
  peername: SockAddress | undefined;
  sockname: SockAddress | undefined;
  socket: Socket;
}

export interface BaseTransport {
  /** 'peername', 'sockname' or 'socket'; `fallback` when unknown. */
  getExtraInfo<K extends keyof ExtraInfo>(name: K, fallback?: ExtraInfo[K]): ExtraInfo[K] | undefined;
  isClosing(): boolean;
  /** Close after the buffered data is sent; the protocol's connectionLost(null) follows. */
  close(): void;
  setProtocol(protocol: BaseProtocol): void;
  getProtocol(): BaseProtocol;
}

export interface ReadTransport extends BaseTransport {
  isReading(): boolean;
  /** Stop calling dataReceived until resumeReading(). No-op when paused or closing. */
  pauseReading(): void;
  resumeReading(): void;
}

export interface WriteTransport extends BaseTransport {
  /** Send now what the kernel takes; buffer (a copy of) the rest. Never blocks. */
  write(data: Uint8Array | string): void;
  writelines(list: Iterable<Uint8Array | string>): void;
  /** Close the write side once the buffer is flushed (shutdown SHUT_WR). */
  writeEof(): void;
  canWriteEof(): boolean;
  /** Close at once, dropping buffered data; connectionLost(null) follows. */
  abort(): void;
  /** Bytes buffered and not yet sent. */
  getWriteBufferSize(): number;
  getWriteBufferLimits(): [low: number, high: number];
  /** pauseWriting() fires above high, resumeWriting() at or below low. Default high 64 KiB, low high/4. */
  setWriteBufferLimits(high?: number, low?: number): void;
}

export interface Transport extends ReadTransport, WriteTransport {}

export interface DatagramTransport extends BaseTransport {
  /** Send one datagram, to addr or (when connected) to the remote address. */
  sendto(data: Uint8Array | string, addr?: SockAddress | readonly [string, number] | string): void;
  abort(): void;
  getWriteBufferSize(): number;
}
