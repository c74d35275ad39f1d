// The loop's pool of receive buffers for the proactor transports' multishot
// recvs (io_uring's provided-buffer ring). The kernel picks a free buffer
// of the pool when data comes for a socket, so a connection holds a buffer
// only from the moment bytes arrive until its protocol has had them: an
// idle connection holds none, and one recv submission serves every read of
// a connection (IORING_RECV_MULTISHOT) until it is paused or closed.
//
// The memory is one ArrayBuffer owned here and referenced by the poller
// (setBufRing) until the poller has closed and reaped every operation, so
// it is never collected while the kernel may write into it. A buffer comes
// to JS with a completion (its id in the flags) and goes back by writing
// its id into the recycle array, which the next wait hands to the kernel:
// no call into the addon per buffer.
//
// Sizing: POOL_COUNT buffers of POOL_SIZE bytes (2 MiB of address space per
// loop, allocated on the first proactor transport). A read never exceeds one
// buffer; the kernel touches only the pages it writes, so the resident cost
// follows the sizes actually read (16 reads of 1 KiB touch 16 pages). Fewer,
// larger buffers measured better than many: the kernel hands buffers out in
// ring order, so a pool of 64 x 64 KiB spread a 100 KiB echo's reads over
// 4 MiB (cache misses: 1.94x / 2.02x the C epoll server's CPU per request)
// and split each message into two reads; 16 x 64 KiB gave 1.36x / 1.47x,
// 8 x 128 KiB 1.26x / 1.15x / 1.19x, 16 x 128 KiB 1.06x (one read a
// message; 1 KiB unchanged within noise). Buffers are
// held between a completion and the end of its delivery (or of the send a
// borrowed view was written back with): a few per connection that is
// reading at that moment, whatever the number of idle ones. When more
// connections receive at once than there are free buffers, the kernel ends
// the multishot recvs it cannot serve with -ENOBUFS, leaving their bytes in
// the socket; each such transport waits here (starve) and is armed again,
// in turn, as buffers come back (recycle). Nothing is lost, only delayed.

import { markAsUntransferable } from 'node:worker_threads';
import type { BaseSelector } from './selectors.js';

/** Buffers in the pool (a power of two). */
export const POOL_COUNT = 16;
/** Bytes per buffer: the largest single read. */
export const POOL_SIZE = 128 * 1024;

/** @internal Who waits for a buffer to come back (a transport whose recv ended with -ENOBUFS). */
export interface PoolWaiter {
  _poolReady(): void;
}

/** @internal */
export class RecvPool {
  /** The whole pool; buffer bid is [bid * size, (bid + 1) * size). */
  readonly mem: Buffer;
  readonly buffer: ArrayBufferLike;
  readonly count: number;
  readonly size: number;
  /** Buffers JS holds (reported by a completion, not recycled yet). */
  held = 0;
  /** Buffers lent to sends (a borrowed view written back); at most half the pool. */
  lent = 0;
  /** How many multishot recvs ended for want of a buffer (-ENOBUFS), and how many of those waited for one to come back (figures for tests and tuning). */
  ended = 0;
  starved = 0;
  private readonly recycleIds: Int32Array;
  private readonly isHeld: Uint8Array;
  /** Per buffer: a full-size view (made once), and the last borrowed view handed out. */
  private readonly whole: Array<Buffer | undefined>;
  private readonly views: Array<Buffer | undefined>;
  private readonly waiting: PoolWaiter[] = [];

  constructor(selector: BaseSelector, count = POOL_COUNT, size = POOL_SIZE) {
    this.count = count;
    this.size = size;
    // Not zeroed: the kernel touches only what it writes, and a view is
    // only ever of bytes a recv wrote.
    this.mem = Buffer.allocUnsafeSlow(count * size);
    this.buffer = this.mem.buffer;
    // The kernel writes here whenever data comes: the memory must never
    // leave with a transfer of a borrowed view's buffer (postMessage,
    // structuredClone), which would let its new owner free it. Node then
    // copies instead of transferring; the poller also gives the ArrayBuffer
    // a detach key, so ArrayBuffer's transfer() throws (this mark must come
    // first: Node's postMessage aborts the process on a buffer it cannot
    // detach).
    markAsUntransferable(this.buffer);
    this.recycleIds = new Int32Array(count + 1);
    this.isHeld = new Uint8Array(count);
    this.whole = new Array<Buffer | undefined>(count);
    this.views = new Array<Buffer | undefined>(count);
    selector._setBufRing(this.mem, count, size, this.recycleIds);
  }

  /** A completion brought bytes in buffer bid: it is JS's until recycle(bid). */
  take(bid: number): void {
    if (this.isHeld[bid] === 0) {
      this.isHeld[bid] = 1;
      this.held++;
    }
  }

  /** The full buffer bid (a view made once). */
  bytes(bid: number): Buffer {
    return (this.whole[bid] ??= this.mem.subarray(bid * this.size, (bid + 1) * this.size));
  }

  /** A view of the first n bytes of buffer bid; the last one is reused when n repeats. */
  view(bid: number, n: number): Buffer {
    const v = this.views[bid];
    if (v !== undefined && v.length === n) return v;
    return (this.views[bid] = this.bytes(bid).subarray(0, n));
  }

  /** The buffer a view of the pool lies in, or -1 when it is not within one buffer. */
  bidOf(bytes: Uint8Array): number {
    const bid = Math.floor(bytes.byteOffset / this.size);
    return bytes.byteOffset + bytes.length <= (bid + 1) * this.size ? bid : -1;
  }

  /** Gives buffer bid back to the kernel (at the next wait), and wakes one transport waiting for a buffer. */
  recycle(bid: number): void {
    if (this.isHeld[bid] === 0) return;
    this.isHeld[bid] = 0;
    this.held--;
    const ids = this.recycleIds;
    const n = ids[0]!;
    ids[1 + n] = bid;
    ids[0] = n + 1;
    const w = this.waiting.shift();
    if (w !== undefined) w._poolReady();
  }

  /** Every buffer is held by JS: a recv armed now would end with -ENOBUFS at once. */
  exhausted(): boolean {
    return this.held >= this.count;
  }

  /** w's recv ended for want of a buffer: call w._poolReady() when one comes back. */
  starve(w: PoolWaiter): void {
    if (this.waiting.includes(w)) return;
    this.waiting.push(w);
    this.starved++;
  }

  /** w no longer waits (closed). */
  unstarve(w: PoolWaiter): void {
    const i = this.waiting.indexOf(w);
    if (i !== -1) this.waiting.splice(i, 1);
  }
}
