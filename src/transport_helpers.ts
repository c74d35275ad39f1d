// What the transports share (socket, datagram, pipe and TLS transports, and
// the sock* operations): the per-thread read buffer, the bytes of a write,
// the address of a socket that may be gone, and when to complain about
// writes to a lost connection.

import { native } from './native.js';
import type { SockAddress } from './native.js';

/** After this many writes to a lost connection, say so once (asyncio's LOG_THRESHOLD_FOR_CONNLOST_WRITES). */
export const CONNLOST_WRITE_WARNING = 5;

/** Read size: large messages come in one recv (measured: 256 KiB took the 100 KiB echo from ~30 to ~21 µs). */
export const READ_BUFFER_SIZE = 256 * 1024;

let sharedReadBuffer: Buffer | undefined;
/** The per-thread read buffer; its contents are valid only inside one read callback. */
export function readBuffer(): Buffer {
  if (sharedReadBuffer === undefined) {
    tuneHeap();
    sharedReadBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  }
  return sharedReadBuffer;
}

/** True for a view of the read buffer (a borrowed view): its bytes change at the next read. */
export function isReadBufferView(bytes: Uint8Array): boolean {
  return sharedReadBuffer !== undefined && bytes.buffer === sharedReadBuffer.buffer;
}

// The last borrowed view handed out, reused when the next read has the same
// length (a request / response protocol's usual case): a Buffer subarray is
// a subclass construction, ~2% of a 1 KiB echo (perf). A borrowed view is
// only valid inside the dataReceived call that got it, so reusing the
// object changes nothing a correct protocol can see.
let lastView: Buffer | undefined;

/** A view of the first n bytes of the read buffer, valid inside one read callback. */
export function borrowedView(n: number): Buffer {
  const view = lastView;
  if (view !== undefined && view.length === n) return view;
  return (lastView = sharedReadBuffer!.subarray(0, n));
}

let heapTuned = false;
/**
 * Keep the pages of large, short-lived Buffers mapped (native/memory.cc says
 * why: a fresh Buffer per read cost up to 2x at 100 KiB without it). Applied
 * once per process, when the first selector event loop is made (and at the
 * latest when a transport first reads); COIO_TUNE_MALLOC=0 turns it off.
 */
export function tuneHeap(): void {
  if (heapTuned) return;
  heapTuned = true;
  if (process.env.COIO_TUNE_MALLOC === '0') return;
  native.tuneMalloc(64 * 1024 * 1024, 4 * 1024 * 1024);
}

/** The bytes of a write: a string as UTF-8, a Uint8Array (Buffer) as is; a TypeError for anything else. */
export function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError(`data must be a Buffer, Uint8Array or string, got ${data === null ? 'null' : typeof data}`);
}

/** A socket's address, or undefined if asking fails (the peer already reset, the socket closed). */
export function addressOrUndefined(get: () => SockAddress): SockAddress | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}
