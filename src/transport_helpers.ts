// What the transports share (socket, datagram, pipe and TLS transports, and
// the sock* operations): the per-thread read buffer, the bytes of a write,
// the address of a socket that may be gone, and when to complain about
// writes to a lost connection.

import { markAsUntransferable } from 'node:worker_threads';
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
    // Borrowed views of it go to protocols: a transfer of a view's buffer
    // (postMessage, structuredClone) would detach it under every transport
    // of the thread. Node copies a marked buffer instead.
    markAsUntransferable(sharedReadBuffer.buffer);
  }
  return sharedReadBuffer;
}

/** bytes and other share memory (a view of the same bytes, or of some of them). */
export function overlaps(bytes: Uint8Array, other: Uint8Array): boolean {
  return bytes.buffer === other.buffer && bytes.byteOffset < other.byteOffset + other.byteLength && other.byteOffset < bytes.byteOffset + bytes.byteLength;
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

/**
 * True for an error of a system call (what Python calls OSError): an Error
 * with a numeric errno and a string code, as the addon and Node throw them.
 * A CancelledError, a TypeError or a RangeError of bad input is not one.
 */
export function isOSError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).errno === 'number' && typeof (err as NodeJS.ErrnoException).code === 'string';
}

/**
 * The errors that mean "the connection went away": the peer reset or closed
 * it, or the network between us lost it. A transport that fails with one
 * calls connectionLost(exc) and nothing else; every other failure (EBADF,
 * EINVAL, ENOTSOCK, ENOMEM, a TypeError, an error thrown by the protocol)
 * is a fault of this process or host and also reaches the loop's exception
 * handler. The one list, for every transport (socket, TLS, pipe) and for
 * the stream server's handlers.
 *
 * asyncio 3.8+ reports no OSError at all (its transports log them at debug
 * level only); coio reports the errnos outside this list, because they mean
 * a bug (an fd closed under a transport, a bad buffer) that silence would
 * hide. The list:
 * - ECONNRESET, ECONNABORTED, EPIPE, ESHUTDOWN, ECONNREFUSED: Python's
 *   ConnectionError family (BrokenPipeError covers EPIPE and ESHUTDOWN);
 *   asyncio 3.7 silenced exactly the reset / broken-pipe / aborted part.
 * - ETIMEDOUT: retransmissions or keep-alive probes went unanswered (the
 *   peer vanished), or a TLS close_notify that never came.
 * - EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN, ENETRESET: the path to
 *   the peer is gone (an ICMP error on an established connection).
 * - ENOTCONN: a socket the peer already reset (macOS reports it on
 *   shutdown / getpeername after a reset).
 * - EIO: a pseudo-terminal whose other side closed reads EIO, the pty's end
 *   of file (asyncio's read pipe transport makes the same exception).
 * A datagram endpoint is different: every OS error concerns one datagram
 * and goes to errorReceived (asyncio's rule), the endpoint stays open.
 */
export const CONNECTION_LOST_ERRORS: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ESHUTDOWN',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ENETRESET',
  'ENOTCONN',
  'EIO',
]);

/** True when err says the connection went away (its code is in CONNECTION_LOST_ERRORS): connectionLost only, no report. */
export function isConnectionLost(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null | undefined)?.code;
  return typeof code === 'string' && CONNECTION_LOST_ERRORS.has(code);
}

/** A socket's address, or undefined if asking fails (the peer already reset, the socket closed). */
export function addressOrUndefined(get: () => SockAddress): SockAddress | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}
