// The write side the stream transports share (socket_transport.ts,
// pipe_transport.ts): the bytes the kernel has not taken yet, and the flow
// control that pauses the protocol above the high-water mark and resumes it
// below the low one (asyncio's _FlowControlMixin).
//
// A transport makes its WriteBuffer on the first write the kernel does not
// take whole (or when its limits are set): most connections never need one,
// and an idle connection should cost little.

import type { BaseProtocol } from './protocols.js';
import type { AbstractEventLoop } from './events.js';
import type { Future } from './futures.js';
import { isReadBufferView } from './transport_helpers.js';

/** The default high-water mark (asyncio's 64 KiB); the low one is a quarter of it. */
export const DEFAULT_HIGH_WATER = 64 * 1024;

/**
 * [high, low] from setWriteBufferLimits' arguments (asyncio's rules: low
 * defaults to high / 4, high to 4 * low or 64 KiB).
 * @throws RangeError unless high >= low >= 0.
 */
export function writeBufferLimits(high?: number, low?: number): [number, number] {
  if (high === undefined) high = low === undefined ? DEFAULT_HIGH_WATER : 4 * low;
  if (low === undefined) low = Math.floor(high / 4);
  if (!(high >= low && low >= 0)) throw new RangeError(`high (${high}) must be >= low (${low}) must be >= 0`);
  return [high, low];
}

/**
 * Unsent tails up to this size are copied; larger ones are kept by
 * reference (see WriteBuffer.push).
 */
export const COPY_LIMIT = 16 * 1024;

export class WriteBuffer {
  /** What is still to send (copies, or the callers' own buffers); the first is sent from `offset`. */
  chunks: Uint8Array[] = [];
  offset = 0;
  /** Bytes still to send. */
  size = 0;
  high = DEFAULT_HIGH_WATER;
  low = DEFAULT_HIGH_WATER / 4;
  private protocolPaused = false;

  /** True between pauseWriting() and resumeWriting(). */
  get paused(): boolean {
    return this.protocolPaused;
  }
  /**
   * Set while loop.sendfile writes to the transport's socket itself
   * (sendfile.ts): done once the buffer is empty; the transport's write()
   * refuses until it is reset.
   */
  emptyWaiter: Future<void> | null = null;

  /**
   * Keep bytes from `from` on until they are sent. The rule, as asyncio's
   * transports (which keep a memoryview of what write() was given): a tail
   * larger than COPY_LIMIT is kept by reference, not copied, so the caller
   * must not change that buffer until it is sent (drain() returned, or
   * getWriteBufferSize() is 0). Copying it would double the memory of every
   * large unsent write (a response body shared by many connections, copied
   * once per connection that does not read). Small tails are copied: cheap,
   * they free a large buffer of which only the end is left, and the caller
   * may reuse a small scratch buffer at once. A view of the loop's shared
   * read buffer (a protocol with borrowsData writing what it received) is
   * always copied: the next read overwrites it; so is a view of the buffer a
   * BufferedProtocol's getBuffer() gave the last read (`reread`: the
   * transport knows), for the same reason.
   */
  push(bytes: Uint8Array, from: number, reread = false): void {
    const n = bytes.length - from;
    const tail = from === 0 ? bytes : bytes.subarray(from);
    this.chunks.push(n <= COPY_LIMIT || reread || isReadBufferView(bytes) ? Buffer.from(tail) : tail);
    this.size += n;
  }

  /**
   * Whether the chunks still hold the `size` bytes to send. A chunk kept by
   * reference (see push) shrinks to nothing when its ArrayBuffer is
   * detached before it is sent (a transfer: postMessage or structuredClone
   * with `transfer`): its bytes are no longer ours to send, and sending the
   * chunks after it would leave a hole in the stream. The transports check
   * before each send from the buffer (a loop over a few chunks, on the
   * backed-up path only) and fail the connection with detachedError().
   */
  intact(): boolean {
    const chunks = this.chunks;
    let n = -this.offset;
    for (let i = 0; i < chunks.length; i++) n += chunks[i]!.length;
    return n === this.size;
  }

  /** The error a connection fails with when intact() is false. */
  detachedError(): Error {
    const err = new Error(
      'a buffer given to write() was detached (transferred) before it was sent: ' +
        'the bytes still to send are gone, so the connection cannot go on. ' +
        'Keep a written buffer until it is sent (drain() returned, or getWriteBufferSize() is 0), or write a copy',
    ) as Error & { code: string };
    err.code = 'ERR_INVALID_STATE';
    return err;
  }

  /** Whether protocol.pauseWriting() was called and resumeWriting() not yet. */
  isProtocolPaused(): boolean {
    return this.protocolPaused;
  }

  /** Drop n sent bytes from the front. */
  consume(n: number): void {
    this.size -= n;
    const chunks = this.chunks;
    let off = this.offset + n;
    let i = 0;
    while (i < chunks.length && off >= chunks[i]!.length) off -= chunks[i++]!.length;
    if (i > 0) chunks.splice(0, i);
    this.offset = off;
  }

  /** Drop everything (the transport is lost). */
  clear(): void {
    this.chunks = [];
    this.offset = 0;
    this.size = 0;
  }

  /** Set the water marks (see writeBufferLimits), then pause the protocol if already above the new high one. */
  setLimits(high: number | undefined, low: number | undefined, transport: unknown, protocol: BaseProtocol, loop: AbstractEventLoop): void {
    [this.high, this.low] = writeBufferLimits(high, low);
    this.maybePause(transport, protocol, loop);
  }

  /** Above the high-water mark: protocol.pauseWriting(), once. Its errors go to the loop's exception handler. */
  maybePause(transport: unknown, protocol: BaseProtocol, loop: AbstractEventLoop): void {
    if (this.size <= this.high || this.protocolPaused) return;
    this.protocolPaused = true;
    try {
      protocol.pauseWriting?.();
    } catch (err) {
      loop.callExceptionHandler({ message: 'protocol.pauseWriting() failed', exception: err, transport, protocol });
    }
  }

  /** Paused and now at or below the low-water mark: protocol.resumeWriting(). */
  maybeResume(transport: unknown, protocol: BaseProtocol, loop: AbstractEventLoop): void {
    if (!this.protocolPaused || this.size > this.low) return;
    this.protocolPaused = false;
    try {
      protocol.resumeWriting?.();
    } catch (err) {
      loop.callExceptionHandler({ message: 'protocol.resumeWriting() failed', exception: err, transport, protocol });
    }
  }
}
