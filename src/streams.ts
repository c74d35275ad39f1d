// Streams: StreamReader / StreamWriter over a socket transport (asyncio's
// streams.py), for generator coroutines:
//
//   const [reader, writer] = yield* openConnection('127.0.0.1', 8888);
//   writer.write('ping\n');
//   const line = yield* reader.readLine();
//
// The module functions (openConnection, startServer, ...) use the running
// loop, as asyncio's do.
//
// The reader keeps the Buffers the transport hands it (each is its own copy)
// in a queue of chunks: read(n) of a whole chunk returns that chunk without a
// copy, and a read that finds data buffered returns without suspending.

import { checkFunction } from './arg_checks.js';
import { _markAwaitable } from './async_tasks.js';
import { _isAsyncFunction, isCoroutine, isThenable } from './coroutines.js';
import { RuntimeError } from './errors.js';
import { describeValue, getRunningLoop } from './events.js';
import type { Future } from './futures.js';
import type { AbstractEventLoop } from './events.js';
import { createConnection, createServer, createUnixConnection, createUnixServer } from './connections.js';
import type { CreateConnectionOptions, CreateServerOptions, CreateUnixConnectionOptions, CreateUnixServerOptions } from './connections.js';
import type { SSLContext } from './ssl.js';
import { startTls } from './sslproto.js';
import type { StartTlsOptions } from './sslproto.js';
import { IncompleteReadError, LimitOverrunError } from './stream_errors.js';
import type { Protocol } from './protocols.js';
import type { Server } from './server.js';
import type { InetAddress, UnixAddress } from './native.js';
import { ChunkQueue } from './chunk_queue.js';
import { READ_BUFFER_SIZE, isConnectionLost } from './transport_helpers.js';
import type { ExtraInfo, ReadTransport, Transport, WriteTransport } from './transports.js';
import type { Coroutine, Co } from './coroutines.js';

export { IncompleteReadError, LimitOverrunError } from './stream_errors.js';

/** Default buffer limit: readLine / readUntil fail past it, reading pauses at twice it (asyncio's 64 KiB). */
export const DEFAULT_LIMIT = 64 * 1024;

/**
 * The reading end of a stream (asyncio.StreamReader): a buffer the
 * transport feeds, read by coroutines with `yield* reader.read(n)`,
 * readExactly, readLine and readUntil. A read that finds data buffered
 * returns without suspending. Only one coroutine may wait for data at a
 * time. Made by openConnection / startServer (and Process for pipes).
 */
export class StreamReader {
  private readonly buffer = new ChunkQueue();
  private eof = false;
  private waiter: Future<void> | null = null;
  /** The waiter of the read in progress, kept after wakeup() until that read is over. */
  private pendingRead: Future<void> | null = null;
  private exc: Error | null = null;
  private transport: ReadTransport | null = null;
  private paused = false;
  /**
   * The caller's buffer of a readInto() waiting for data with nothing
   * buffered: the protocol has the transport receive straight into it
   * (_directBuffer / _directFilled), so the bytes are copied once, by the kernel.
   */
  private into: Uint8Array | null = null;
  /** Bytes the transport put at the start of `into` (0: none yet). */
  private intoFilled = 0;

  /**
   * A reader fed by a transport (through StreamReaderProtocol); openConnection and startServer make them.
   * @throws RangeError if limit is not > 0.
   */
  constructor(
    private readonly loop: AbstractEventLoop,
    /** The buffer limit, bytes: readLine / readUntil fail past it; reading pauses at twice it. */
    readonly limit: number = DEFAULT_LIMIT,
  ) {
    if (!(limit > 0)) throw new RangeError(`limit must be > 0, got ${limit}`);
  }

  /** The error the stream failed with (setException), or null. Never throws. */
  exception(): Error | null {
    return this.exc;
  }

  /** Fail every pending and future read with exc (the connection broke). */
  setException(exc: Error): void {
    this.exc = exc;
    this.wakeup(exc);
  }

  /**
   * The transport to pause and resume (any ReadTransport: a socket's, a pipe's).
   * @throws an Error if a transport is already set.
   */
  setTransport(transport: ReadTransport): void {
    if (this.transport !== null) throw new RuntimeError('Transport already set');
    this.transport = transport;
  }

  /** @internal startTls: read through the TLS transport from now on. */
  _replaceTransport(transport: ReadTransport): void {
    this.transport = transport;
    this.paused = false;
  }

  /** @internal startTls: the bytes buffered and not read yet (they are TLS already), removed from the buffer. */
  _takeBuffered(): Buffer | null {
    if (this.buffer.size === 0) return null;
    return this.buffer.take(this.buffer.size);
  }

  /** True when the peer closed and every byte has been read. */
  atEof(): boolean {
    return this.eof && this.buffer.size === 0;
  }

  /** The peer closed its side: reads return what is buffered, then EOF (an empty Buffer). Called by the protocol. */
  feedEof(): void {
    this.eof = true;
    this.wakeup(null);
  }

  /**
   * Take ownership of data (the transport's own copy) and wake a pending read.
   * @throws an Error after feedEof().
   */
  feedData(data: Buffer): void {
    if (this.eof) throw new RuntimeError('feedData after feedEof');
    if (data.length === 0) return;
    this.buffer.push(data);
    this.wakeup(null);
    if (this.transport !== null && !this.paused && this.buffer.size > 2 * this.limit) {
      try {
        this.transport.pauseReading();
        this.paused = true;
      } catch {
        // The transport is closing; nothing more will come anyway.
      }
    }
  }

  private wakeup(exc: Error | null): void {
    const w = this.waiter;
    if (w === null) return;
    this.waiter = null;
    if (w.done()) return;
    if (exc === null) w.setResult(undefined);
    else w.setException(exc);
  }

  private maybeResumeTransport(): void {
    if (this.paused && this.buffer.size <= this.limit) {
      this.paused = false;
      this.transport!.resumeReading();
    }
  }

  /** Suspend until data or EOF arrives. */
  private *waitForData(func: string): Coroutine<void> {
    const w = this.newWaiter(func);
    try {
      yield* w;
    } finally {
      if (this.waiter === w) this.waiter = null;
      if (this.pendingRead === w) this.pendingRead = null;
    }
  }

  /** The Future a read waits on (read() inlines waitForData: one generator less per wait, and per idle connection). */
  private newWaiter(func: string): Future<void> {
    // RuntimeError, as asyncio raises (it was a plain Error; found by test/bad_input.test.ts).
    if (this.waiter !== null) throw new RuntimeError(`${func}() called while another coroutine is already waiting for incoming data`);
    if (this.eof) throw new RuntimeError('waitForData after EOF');
    // A paused transport with an empty buffer would never resume: resume it.
    if (this.paused) {
      this.paused = false;
      this.transport!.resumeReading();
    }
    const w = this.loop.createFuture<void>();
    this.waiter = w;
    this.pendingRead = w;
    return w;
  }

  /**
   * Up to n bytes (n = -1: everything until EOF). Waits only when nothing is
   * buffered; an empty Buffer means EOF.
   * @throws the error the connection was lost with (e.g. code ECONNRESET);
   *   TypeError if n is not an integer; an Error if another coroutine is
   *   already waiting on this reader; CancelledError if cancelled while
   *   waiting (the buffered data stays).
   */
  read(n = -1): Co<Buffer> {
    // A hand-written coroutine for the common case (see ReadOp): the checks
    // run when it is first resumed, as a generator's would.
    return (Number.isInteger(n) && n < 0 ? this.readAll() : new ReadOp(this, n)) as Co<Buffer>; // both awaitable (awaitables.ts, below)
  }

  private *readAll(): Coroutine<Buffer> {
    if (this.exc !== null) throw this.exc;
    const parts: Buffer[] = [];
    for (;;) {
      const block = yield* this.read(this.limit);
      if (block.length === 0) break;
      parts.push(block);
    }
    return Buffer.concat(parts);
  }

  /** @internal ReadOp's first step: the Future to wait on, or null when read(n) can return at once. */
  _readStart(n: number): Future<void> | null {
    if (this.exc !== null) throw this.exc;
    if (!Number.isInteger(n)) throw new TypeError(`n must be an integer, got ${String(n)}`);
    if (n === 0 || this.buffer.size > 0 || this.eof) return null;
    return this.newWaiter('read');
  }

  /**
   * Read up to buffer.length bytes into `buffer` (from its start), waiting
   * only when nothing is buffered; returns the count, 0 at EOF (and for an
   * empty buffer). What Deno's conn.read(buffer) does and asyncio lacks: no
   * Buffer is allocated per read, and when the read has to wait, the socket
   * transport receives straight into `buffer` (no copy but the kernel's), so
   * a loop reusing one buffer allocates nothing. `buffer` may be written
   * until the read returns; after it, only the bytes counted.
   *
   * Reusing the buffer after writing what was read: a socket transport
   * keeps an unsent tail over 16 KiB by reference, so reuse it once
   * `writer.transport.getWriteBufferSize()` is 0 (take a fresh buffer otherwise).
   * @throws TypeError if buffer is not a Uint8Array; otherwise as read()
   *   (when cancelled, bytes already received into buffer go back to the
   *   reader for the next read: nothing is lost).
   */
  readInto(buffer: Uint8Array): Co<number> {
    return new ReadIntoOp(this, buffer) as unknown as Co<number>; // awaitable: marked below
  }

  /** @internal ReadIntoOp's first step: the Future to wait on, or null when it can return at once. */
  _readIntoStart(target: Uint8Array): Future<void> | null {
    if (this.exc !== null) throw this.exc;
    if (!(target instanceof Uint8Array)) throw new TypeError(`readInto() needs a Uint8Array, got ${describeValue(target)}`);
    if (target.length === 0 || this.buffer.size > 0 || this.eof) return null;
    const w = this.newWaiter('readInto');
    this.into = target;
    this.intoFilled = 0;
    return w;
  }

  /** @internal ReadIntoOp's last step: the count received into target directly, or what is buffered copied into it (0 at EOF). */
  _readIntoTake(target: Uint8Array): number {
    if (this.into === target) {
      const got = this.intoFilled;
      this.into = null;
      this.intoFilled = 0;
      if (got > 0) return got;
    }
    const n = this.buffer.takeInto(target);
    this.maybeResumeTransport();
    return n;
  }

  /**
   * @internal The buffer to receive into: the waiting readInto's own, when
   * nothing is buffered and it has not been filled yet; otherwise null (the
   * protocol receives into its scratch buffer and feeds a copy).
   */
  _directBuffer(): Uint8Array | null {
    return this.into !== null && this.intoFilled === 0 && this.buffer.size === 0 && !this.eof ? this.into : null;
  }

  /** @internal n bytes were received into _directBuffer(): wake the readInto. */
  _directFilled(n: number): void {
    if (n === 0) return;
    this.intoFilled = n;
    this.wakeup(null);
  }

  /** @internal ReadOp's last step: up to n bytes of what is buffered (empty at EOF). */
  _readTake(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const data = this.buffer.take(Math.min(n, this.buffer.size));
    this.maybeResumeTransport();
    return data;
  }

  /**
   * @internal True from the moment a read starts waiting for data until it
   * returns (or fails): also while it has been woken and not resumed yet.
   */
  _readPending(): boolean {
    return this.pendingRead !== null;
  }

  /** @internal The read waiting on w is over (woken, failed, cancelled or closed). */
  _readDone(w: Future<void>): void {
    // Woken reads were already forgotten by wakeup(); a read started since then keeps its waiter.
    if (this.waiter === w) this.waiter = null;
    if (this.pendingRead !== w) return;
    this.pendingRead = null;
    const into = this.into;
    if (into !== null) {
      // A readInto that ends without taking its bytes (cancelled, or closed
      // with return()): what the transport put in its buffer is read next.
      this.into = null;
      if (this.intoFilled > 0) this.buffer.unshift(Buffer.from(into.subarray(0, this.intoFilled)));
      this.intoFilled = 0;
    }
  }

  /**
   * Exactly n bytes.
   * @throws IncompleteReadError (with the partial bytes) if EOF comes first;
   *   RangeError if n is not a non-negative integer; otherwise as read().
   */
  readExactly(n: number): Co<Buffer>;
  *readExactly(n: number): Coroutine<Buffer> {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`readExactly size must be a non-negative integer, got ${String(n)}`);
    if (this.exc !== null) throw this.exc;
    if (n === 0) return Buffer.alloc(0);
    while (this.buffer.size < n) {
      if (this.eof) {
        const partial = this.buffer.take(this.buffer.size);
        throw new IncompleteReadError(partial, n);
      }
      yield* this.waitForData('readExactly');
    }
    const data = this.buffer.take(n);
    this.maybeResumeTransport();
    return data;
  }

  /**
   * `for await (const line of reader)` in an async function: each line
   * ('\n' included; the last may lack it) until EOF, as asyncio's
   * `async for line in reader`. In a generator coroutine, use eachLine().
   * @throws as readLine().
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    for (;;) {
      // A Task: a thenable an async function can await.
      const line = await this.loop.createTask(this.readLine());
      if (line.length === 0) return;
      yield line;
    }
  }

  /**
   * The generator coroutines' `async for line in reader`: body(line) for
   * each line until EOF (or until body returns false). Returns the count of
   * lines given to body.
   * @throws what readLine() or body throws.
   */
  eachLine(body: (line: Buffer) => Coroutine<unknown> | unknown): Co<number>;
  *eachLine(body: (line: Buffer) => Coroutine<unknown> | unknown): Coroutine<number> {
    if (typeof body !== 'function') throw new TypeError('eachLine: body must be a function (a generator function or a plain one)');
    let count = 0;
    for (;;) {
      const line = yield* this.readLine();
      if (line.length === 0) return count;
      count++;
      const r = body(line);
      const verdict = isCoroutine(r) ? yield* r : r;
      if (verdict === false) return count;
    }
  }

  /**
   * One line, '\n' included. At EOF returns what is left (maybe without
   * '\n'; empty at EOF). A line longer than the limit is discarded and an
   * RangeError (asyncio's ValueError) is thrown; the next readLine goes on after it.
   * @throws an Error for a line over the limit; otherwise as read().
   */
  readLine(): Co<Buffer>;
  *readLine(): Coroutine<Buffer> {
    try {
      return yield* this.readUntil('\n');
    } catch (err) {
      if (err instanceof IncompleteReadError) return err.partial;
      if (err instanceof LimitOverrunError) {
        if (this.buffer.startsWith(Buffer.from('\n'), err.consumed)) this.buffer.discard(err.consumed + 1);
        else this.buffer.discard(this.buffer.size);
        this.maybeResumeTransport();
        throw new RangeError(err.message);
      }
      throw err;
    }
  }

  /**
   * Data up to and including separator (a string, Buffer, or an array of
   * them: the first that matches ends the read). EOF first: IncompleteReadError
   * with what was buffered. Separator not found within `limit` bytes:
   * LimitOverrunError, and the data stays in the buffer.
   * @throws IncompleteReadError, LimitOverrunError as above; RangeError for an
   *   empty separator; otherwise as read().
   */
  readUntil(separator?: string | Uint8Array | ReadonlyArray<string | Uint8Array>): Co<Buffer>;
  *readUntil(separator: string | Uint8Array | ReadonlyArray<string | Uint8Array> = '\n'): Coroutine<Buffer> {
    const seps = (Array.isArray(separator) ? separator : [separator]).map((s) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s as Uint8Array)));
    if (seps.length === 0 || seps.some((s) => s.length === 0)) throw new RangeError('Separator should contain at least one byte');
    if (this.exc !== null) throw this.exc;
    const minLen = Math.min(...seps.map((s) => s.length));
    const maxLen = Math.max(...seps.map((s) => s.length));
    // Resume searching where the last attempt stopped.
    let offset = 0;
    for (;;) {
      const size = this.buffer.size;
      if (size - offset >= minLen) {
        // The match that ENDS first (asyncio 3.13: "the shortest possible
        // data"), not the one that starts first: with ['abx', 'b'] on
        // 'abx', earliest-start answered 'abx' when the bytes came at once
        // but 'ab' when 'x' came later. Earliest-end is the same answer
        // however the data is split (found by test/fuzz.test.ts).
        let best = -1;
        let bestEnd = -1;
        for (const sep of seps) {
          const at = this.buffer.indexOf(sep, offset);
          if (at !== -1 && (bestEnd === -1 || at + sep.length < bestEnd)) {
            best = at;
            bestEnd = at + sep.length;
          }
        }
        if (best !== -1) {
          // The limit bounds the data before the separator, as asyncio 3.13
          // compares where the match starts: `limit` bytes and then the
          // separator is a valid chunk.
          if (best > this.limit) throw new LimitOverrunError('Separator is found, but chunk is longer than limit', best);
          const data = this.buffer.take(bestEnd);
          this.maybeResumeTransport();
          return data;
        }
        offset = Math.max(0, size + 1 - maxLen);
        if (offset > this.limit) throw new LimitOverrunError('Separator is not found, and chunk exceed the limit', offset);
      }
      if (this.eof) {
        const partial = this.buffer.take(this.buffer.size);
        throw new IncompleteReadError(partial, null);
      }
      yield* this.waitForData('readUntil');
    }
  }

  /** `<StreamReader N bytes eof exception>`. */
  toString(): string {
    return `<StreamReader ${this.buffer.size} bytes${this.eof ? ' eof' : ''}${this.exc ? ' exception' : ''}>`;
  }
}

/**
 * reader.read(n), n >= 0: the coroutine `function* () { if (nothing buffered)
 * yield* waiter; return take(n) }` written by hand, as sleep(0) is
 * (tasks.ts). An idle stream connection sits in a read: a generator there
 * held its object and register file, 224 bytes (heap snapshot of 2,000 idle
 * connections); this is one small object, and the hot path creates no
 * generator frame per read. It behaves as that generator would: checks run
 * on the first next(); throw() and return() end the wait; isCoroutine()
 * accepts it; `await reader.read(n)` works (marked awaitable below).
 * ReadIntoOp is the same for readInto(buffer).
 */
abstract class WaitOp<T> implements Generator<unknown, T, unknown> {
  protected waiter: Future<void> | null = null;
  protected state = 0; // 0: not started, 1: waiting, 2: finished

  constructor(protected readonly reader: StreamReader) {}

  /** The Future to wait on, or null when the read can return at once (throws as the read does). */
  protected abstract start(): Future<void> | null;
  /** The read's value once there is data (or EOF). */
  protected abstract take(): T;

  get [Symbol.toStringTag](): string {
    return 'Generator';
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<unknown, T> {
    if (this.state === 0) {
      this.state = 2;
      const w = this.start();
      if (w !== null) {
        this.state = 1;
        this.waiter = w;
        const r = w.next();
        if (r.done !== true) return r;
      }
    } else if (this.state === 1) {
      const w = this.waiter!;
      let r: IteratorResult<unknown, void>;
      try {
        r = w.next(); // the Future's result: throws its error (or CancelledError)
      } catch (exc) {
        this.finish();
        throw exc;
      }
      if (r.done !== true) return r; // still pending: wait again
    } else {
      return { done: true, value: undefined as unknown as T };
    }
    // Take before finish(): bytes received into a readInto's buffer are still its own.
    const value = this.take();
    this.finish();
    return { done: true, value };
  }

  throw(exc: unknown): IteratorResult<unknown, T> {
    this.finish();
    throw exc;
  }

  return(value: T): IteratorResult<unknown, T> {
    this.finish();
    return { done: true, value };
  }

  protected finish(): void {
    if (this.state === 1) this.reader._readDone(this.waiter!);
    this.state = 2;
    this.waiter = null;
  }
}

class ReadOp extends WaitOp<Buffer> {
  constructor(
    reader: StreamReader,
    private readonly n: number,
  ) {
    super(reader);
  }

  protected start(): Future<void> | null {
    return this.reader._readStart(this.n);
  }

  protected take(): Buffer {
    return this.reader._readTake(this.n);
  }
}

class ReadIntoOp extends WaitOp<number> {
  constructor(
    reader: StreamReader,
    private readonly target: Uint8Array,
  ) {
    super(reader);
  }

  protected start(): Future<void> | null {
    return this.reader._readIntoStart(this.target);
  }

  protected take(): number {
    return this.reader._readIntoTake(this.target);
  }
}
// Awaitable from async functions, driven inline as sleep() is (they only wait on a Future).
_markAwaitable(ReadOp.prototype, true);
_markAwaitable(ReadIntoOp.prototype, true);

/**
 * writer.drain(): the coroutine
 * `function* () { if (exc) throw exc; if (closing) yield; if (mustDrain) yield* drainHelper() }`
 * written by hand, as ReadOp is for read(): the common case (nothing to wait
 * for) creates no generator. The checks run on the first next(), as the
 * generator's would; throw() and return() go to the drainHelper coroutine
 * while it waits (its finally forgets the waiter).
 */
const DRAIN_YIELD: IteratorResult<unknown, never> = Object.freeze({ done: false, value: undefined });

class DrainOp implements Generator<unknown, void, unknown> {
  /** 0: not started, 1: yielded once (closing), 2: waiting in drainHelper, 3: finished. */
  private state = 0;
  private inner: Coroutine<void> | null = null;

  constructor(private readonly writer: { _drainStart(): boolean; _drainWait(): Coroutine<void> | null }) {}

  get [Symbol.toStringTag](): string {
    return 'Generator';
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<unknown, void> {
    const state = this.state;
    if (state === 0) {
      this.state = 3;
      if (this.writer._drainStart()) {
        // Let connectionLost run first so drain raises its error (asyncio yields once here too).
        this.state = 1;
        return DRAIN_YIELD;
      }
    } else if (state === 2) {
      return this.step(this.inner!.next());
    } else if (state === 1) {
      this.state = 3;
    } else {
      return { done: true, value: undefined };
    }
    const inner = this.writer._drainWait();
    if (inner === null) return { done: true, value: undefined };
    this.inner = inner;
    this.state = 2;
    return this.step(inner.next());
  }

  /** After the inner coroutine's step: finished when it is. */
  private step(r: IteratorResult<unknown, void>): IteratorResult<unknown, void> {
    if (r.done === true) {
      this.state = 3;
      this.inner = null;
    }
    return r;
  }

  throw(exc: unknown): IteratorResult<unknown, void> {
    const inner = this.inner;
    if (this.state === 2 && inner !== null) {
      let r: IteratorResult<unknown, void>;
      try {
        r = inner.throw(exc);
      } catch (err) {
        this.state = 3;
        this.inner = null;
        throw err;
      }
      return this.step(r);
    }
    this.state = 3;
    throw exc;
  }

  return(value: void): IteratorResult<unknown, void> {
    const inner = this.inner;
    this.state = 3;
    this.inner = null;
    if (inner !== null) inner.return(value);
    return { done: true, value };
  }
}
// Awaitable from async functions as the generator was (run as a Task).
_markAwaitable(DrainOp.prototype);

/**
 * Where stream connections receive when no readInto() is waiting: one
 * buffer for all of them (a transport reads in a loop callback, and the
 * bytes are copied out before it returns), apart from the socket
 * transport's own read buffer, which a TLS transport's ciphertext may still
 * be a view of while it decrypts into this one. Made on first use.
 */
let scratch: Buffer | undefined;
function scratchBuffer(): Buffer {
  return (scratch ??= Buffer.allocUnsafe(READ_BUFFER_SIZE));
}

/** The last view of the first bytes of the scratch buffer: reused while reads keep their length (echo, fixed-size messages). */
let scratchView: Uint8Array | null = null;

/**
 * The reader's own copy of the first n bytes of the scratch buffer. A
 * Buffer.allocUnsafe (Node's pool below 4 KiB, as before) filled with
 * TypedArray set() from a cached view: one typed array per read. It was
 * Buffer.from(scratch.subarray(0, n)): a subarray (a Buffer built through the
 * species constructor, Buffer.from and its checks) and then Buffer.from's
 * generic path on it (valueOf, fromObject, fromArrayLike), two typed arrays
 * and most of bufferUpdated's time in a profile of the streams echo (epoll).
 */
function copyOfScratch(n: number): Buffer {
  let view = scratchView;
  if (view === null || view.length !== n || view.buffer !== scratch!.buffer) {
    view = scratchView = new Uint8Array(scratch!.buffer, scratch!.byteOffset, n);
  }
  const out = Buffer.allocUnsafe(n);
  out.set(view);
  return out;
}

/**
 * The protocol between a transport and a StreamReader / StreamWriter pair,
 * with the flow control that drain() waits on (asyncio's FlowControlMixin).
 */
export class StreamReaderProtocol implements Protocol {
  private transport: Transport | null = null;
  private paused = false;
  // Made on first use: most connections never wait for a drain or for
  // waitClosed(), and an idle connection should cost little (bench/ memory).
  private drainWaiters: Array<Future<void>> | null = null;
  private connectionLostFlag = false;
  private lostExc: Error | null = null;
  private closedFut: Future<void> | null = null;
  private writer: StreamWriter | null = null;
  /** The handler's task (a server connection whose handler is a coroutine or async function). */
  private task: Future<unknown> | null = null;
  /** The last getBuffer() returned the reader's readInto buffer. */
  private direct = false;
  /** The last getBuffer() returned a Buffer of its own, which the reader keeps as it is. */
  private fresh: Buffer | null = null;

  constructor(
    private readonly loop: AbstractEventLoop,
    private reader: StreamReader | null,
    /** Called with (reader, writer) when a server accepts a connection; may return a coroutine or a promise to run as a task. */
    private readonly clientConnected: ClientConnected | null = null,
    /** Makes the handler's task: a coroutine, a promise, or an async function called on the task's first step. */
    private readonly spawn: ((work: HandlerWork) => Future<unknown>) | null = null,
  ) {}

  connectionMade(transport: Transport): void {
    this.transport = transport;
    this.reader?.setTransport(transport);
    const cb = this.clientConnected;
    if (cb === null) return;
    const reader = this.reader!;
    const writer = (this.writer = new StreamWriter(transport, this, reader, this.loop));
    let task: Future<unknown> | null = null;
    try {
      if (_isAsyncFunction(cb)) {
        // Called on the task's first step, inside its context: cancellable at
        // its awaits, and currentTask() is its task.
        task = this.spawn!(() => cb(reader, writer) as unknown as PromiseLike<unknown>);
      } else {
        const res: unknown = cb(reader, writer);
        if (isGenerator(res) || isThenable(res)) task = this.spawn!(res as HandlerWork);
      }
    } catch (exc) {
      // A plain handler that threw: the same report and close as a failed task.
      handlerFailed(this.loop, exc, transport);
      return;
    }
    if (task !== null) {
      this.task = task;
      task.addDoneCallback((t) => handlerDone(this.loop, t, transport));
    }
  }

  connectionLost(exc: Error | null): void {
    if (this.reader !== null) {
      if (exc === null) this.reader.feedEof();
      else this.reader.setException(exc);
    }
    this.connectionLostFlag = true;
    this.lostExc = exc;
    if (this.closedFut !== null && !this.closedFut.done()) settle(this.closedFut, exc);
    // Wake drain() waiters: with the error, or normally if closed cleanly.
    const waiters = this.drainWaiters;
    this.drainWaiters = null;
    if (waiters !== null) for (const w of waiters) if (!w.done()) settle(w, exc);
    this.reader = null;
    this.transport = null;
    this.task = null;
  }

  dataReceived(data: Buffer): void {
    this.reader?.feedData(data);
  }

  /**
   * The socket and TLS transports read through getBuffer / bufferUpdated
   * (the pipe transports call dataReceived). A readInto() waiting with
   * nothing buffered gets the bytes straight into its own buffer; otherwise
   * they land in a scratch buffer and the reader gets a copy of them (as
   * dataReceived would: the reader keeps what it is fed).
   */
  /**
   * @internal For the transports (stream_transport.ts, intoBuf): no write
   * through this protocol's writer holds a view of memory a later
   * getBuffer() returns again. The reader keeps each fresh Buffer, the
   * scratch buffer's bytes are copied out, and a readInto() buffer is the
   * caller's (the write rule for the caller's buffers applies to it).
   */
  get _freshBuffers(): boolean {
    return true;
  }

  getBuffer(sizeHint: number): Uint8Array {
    const direct = this.reader?._directBuffer() ?? null;
    this.direct = direct !== null;
    this.fresh = null;
    if (direct !== null) return direct;
    if (sizeHint > 0 && sizeHint <= READ_BUFFER_SIZE) {
      // A transport that knows how many bytes it has (the proactor
      // transports, copying out of the loop's receive pool) gets a Buffer of
      // that size, which the reader then keeps: one copy instead of two
      // (into the scratch buffer, then out of it), and no more allocation
      // than the second copy made.
      return (this.fresh = Buffer.allocUnsafe(sizeHint));
    }
    return scratchBuffer();
  }

  bufferUpdated(nbytes: number): void {
    const reader = this.reader;
    if (reader === null) return;
    const fresh = this.fresh;
    if (this.direct) {
      this.direct = false;
      reader._directFilled(nbytes);
    } else if (fresh !== null) {
      this.fresh = null;
      if (nbytes > 0) reader.feedData(nbytes === fresh.length ? fresh : fresh.subarray(0, nbytes));
    } else if (nbytes > 0) {
      reader.feedData(copyOfScratch(nbytes));
    }
  }

  eofReceived(): boolean {
    this.reader?.feedEof();
    // Keep the transport open for writing (half-close), as asyncio does for TCP.
    return true;
  }

  pauseWriting(): void {
    this.paused = true;
  }

  resumeWriting(): void {
    this.paused = false;
    const waiters = this.drainWaiters;
    this.drainWaiters = null;
    if (waiters !== null) for (const w of waiters) if (!w.done()) w.setResult(undefined);
  }

  /** @internal startTls: the protocol talks through the TLS transport from now on. */
  _replaceTransport(transport: Transport): void {
    this.transport = transport;
    this.reader?._replaceTransport(transport);
  }

  /** @internal startTls: a server's connection (made by startServer) does the server side of the handshake. */
  _isServerSide(): boolean {
    return this.clientConnected !== null;
  }

  /** True when drainHelper() would wait or throw (StreamWriter.drain skips it otherwise: one generator less per write). */
  mustDrain(): boolean {
    return this.paused || this.connectionLostFlag;
  }

  /** Wait until the transport's buffer is below its low-water mark. */
  drainHelper(): Co<void>;
  *drainHelper(): Coroutine<void> {
    if (this.connectionLostFlag) throw connectionResetError('Connection lost');
    if (!this.paused) return;
    const w = this.loop.createFuture<void>();
    (this.drainWaiters ??= []).push(w);
    try {
      yield* w;
    } finally {
      const waiters = this.drainWaiters;
      const i = waiters === null ? -1 : waiters.indexOf(w);
      if (i !== -1) waiters!.splice(i, 1);
    }
  }

  /** A Future done when the connection is lost (with its error, if any): what StreamWriter.waitClosed awaits. */
  closedFuture(): Future<void> {
    if (this.closedFut === null) {
      const f = this.loop.createFuture<void>();
      // Nobody has to wait for closing; don't report an exception nobody asked for.
      f.addDoneCallback(markRetrieved);
      if (this.connectionLostFlag) settle(f, this.lostExc);
      this.closedFut = f;
    }
    return this.closedFut;
  }
}

/** Writes to a stream transport; T is any WriteTransport (a subprocess's stdin pipe, for one). */
export class StreamWriter<T extends WriteTransport = Transport> {
  private transport_: T;

  constructor(
    /** The transport it writes to. */
    transport: T,
    private readonly protocol: StreamReaderProtocol,
    private readonly reader: StreamReader | null,
    private readonly loop: AbstractEventLoop,
  ) {
    this.transport_ = transport;
  }

  /** The transport it writes to (the TLS transport after startTls). */
  get transport(): T {
    return this.transport_;
  }

  /**
   * Write data: sent now as far as the kernel takes it, the rest buffered
   * (never blocks; `yield* writer.drain()` waits while the buffer is too full).
   * @throws TypeError for data that is not a Uint8Array or string; an Error after writeEof().
   */
  write(data: Uint8Array | string): void {
    this.transport_.write(data);
  }

  /** write() each buffer in turn. Throws as write(). */
  writelines(list: Iterable<Uint8Array | string>): void {
    this.transport_.writelines(list);
  }

  /** Close the write side once the buffer is sent (the peer reads EOF); reading goes on. */
  writeEof(): void {
    this.transport_.writeEof();
  }

  /** True if writeEof() is supported (it is on coio's socket and pipe transports). */
  canWriteEof(): boolean {
    return this.transport_.canWriteEof();
  }

  /** Close the stream once the buffer is sent; `yield* writer.waitClosed()` waits until it is. */
  close(): void {
    this.transport_.close();
  }

  /** True once close() was called or the connection is lost. */
  isClosing(): boolean {
    return this.transport_.isClosing();
  }

  /** Wait until the connection is closed (after close()). Raises the error it was lost with, if any. */
  waitClosed(): Co<void>;
  *waitClosed(): Coroutine<void> {
    yield* this.protocol.closedFuture();
  }

  /** The transport's 'peername', 'sockname' or 'socket' (see ExtraInfo); `fallback` when unknown. */
  getExtraInfo<K extends keyof ExtraInfo>(name: K, fallback?: ExtraInfo[K]): ExtraInfo[K] | undefined {
    return this.transport_.getExtraInfo(name, fallback);
  }

  /**
   * Back-pressure: returns at once unless the transport's write buffer is
   * over its high-water mark, then waits until it drains below the low one.
   * Raises the reader's error if the connection broke.
   */
  drain(): Co<void> {
    // A hand-written coroutine (DrainOp, below): a write loop calls drain()
    // once per write, and almost always it returns at once.
    return new DrainOp(this) as unknown as Co<void>;
  }

  /** @internal DrainOp's first step: throws the reader's error; true if the transport is closing (drain yields once then). */
  _drainStart(): boolean {
    const exc = this.reader?.exception();
    if (exc) throw exc;
    return this.transport_.isClosing();
  }

  /** @internal DrainOp's last step: the protocol's wait for the write buffer to drain, or null when there is none to do. */
  _drainWait(): Coroutine<void> | null {
    return this.protocol.mustDrain() ? this.protocol.drainHelper() : null;
  }

  /**
   * Upgrade the connection to TLS (STARTTLS): a stream from openConnection
   * does the client side of the handshake, one of startServer the server
   * side. Bytes the reader holds unread at that point were sent after the
   * upgrade began, so they are the start of the TLS stream: they go to the
   * handshake, not to a later read (asyncio loses them).
   * @throws the handshake's SSLError / SSLCertVerificationError (the
   *   connection is closed then); TypeError for a transport that cannot be upgraded.
   */
  startTls(sslContext: SSLContext, options?: Omit<StartTlsOptions, 'serverSide'>): Co<void>;
  *startTls(sslContext: SSLContext, options: Omit<StartTlsOptions, 'serverSide'> = {}): Coroutine<void> {
    yield* this.drain();
    const leftover = this.reader?._takeBuffered() ?? null;
    const transport = yield* startTls(
      this.loop,
      this.transport_ as unknown as Transport,
      this.protocol,
      sslContext,
      { ...options, serverSide: this.protocol._isServerSide() },
      leftover,
    );
    this.transport_ = transport as unknown as T;
    this.protocol._replaceTransport(transport);
  }

  /** The loop the stream runs on. */
  getLoop(): AbstractEventLoop {
    return this.loop;
  }

  /** `<StreamWriter transport=...>`. */
  toString(): string {
    return `<StreamWriter transport=${String(this.transport_)}>`;
  }
}

/** Options of the stream functions (openConnection, startServer, ...). */
export interface StreamOptions {
  /** The StreamReader buffer limit. */
  limit?: number;
}

/**
 * Connect to host:port on the running loop; returns [reader, writer].
 * @throws the connect error (an Error with code, e.g. ECONNREFUSED; when
 *   several addresses all failed, an AggregateError of them whose code is
 *   the first one's); getaddrinfo's errors (e.g. ENOTFOUND); RuntimeError if
 *   no loop is running.
 */
export function openConnection(host: string | null | undefined, port: number | null | undefined, options?: StreamOptions & CreateConnectionOptions): Co<[StreamReader, StreamWriter]>;
export function* openConnection(host: string | null | undefined, port: number | null | undefined, options: StreamOptions & CreateConnectionOptions = {}): Coroutine<[StreamReader, StreamWriter]> {
  const loop = getRunningLoop();
  const reader = new StreamReader(loop, options.limit);
  const protocol = new StreamReaderProtocol(loop, reader);
  const [transport] = yield* createConnection(loop, () => protocol, host, port, options);
  return [reader, new StreamWriter(transport, protocol, reader, loop)];
}

/**
 * Connect to a Unix socket path on the running loop; returns [reader, writer].
 * @throws the connect error (e.g. ENOENT, ECONNREFUSED); RuntimeError if no loop is running.
 */
export function openUnixConnection(path: string | null | undefined, options?: StreamOptions & CreateUnixConnectionOptions): Co<[StreamReader, StreamWriter]>;
export function* openUnixConnection(path: string | null | undefined, options: StreamOptions & CreateUnixConnectionOptions = {}): Coroutine<[StreamReader, StreamWriter]> {
  const loop = getRunningLoop();
  const reader = new StreamReader(loop, options.limit);
  const protocol = new StreamReaderProtocol(loop, reader);
  const [transport] = yield* createUnixConnection(loop, () => protocol, path, options);
  return [reader, new StreamWriter(transport, protocol, reader, loop)];
}

/**
 * What a stream server calls per connection: a plain function, a generator
 * function (its coroutine runs as a task) or an async function (run as a
 * task). If the handler throws, or its task fails, the exception handler
 * gets "Unhandled exception in client_connected_cb" and the connection is
 * closed; if its task is cancelled, the connection is closed.
 */
export type ClientConnected = (reader: StreamReader, writer: StreamWriter) => Generator<unknown, unknown, unknown> | PromiseLike<unknown> | void;

/** What a stream server runs as the handler's task: its coroutine, its promise, or an async function to call. */
type HandlerWork = Generator<unknown, unknown, unknown> | PromiseLike<unknown> | (() => PromiseLike<unknown>);

function streamProtocolFactory(clientConnected: ClientConnected, limit: number | undefined): () => StreamReaderProtocol {
  checkFunction('clientConnected', clientConnected, 'a handler (reader, writer) comes first, then where to listen');
  const loop = getRunningLoop();
  const spawn = (work: HandlerWork): Future<unknown> => loop.createTask(work);
  return () => new StreamReaderProtocol(loop, new StreamReader(loop, limit), clientConnected, spawn);
}

/**
 * A server connection's handler task is done (asyncio 3.12's
 * client_connected_cb callback): cancelled, the connection is closed; failed,
 * the failure goes to the exception handler ("Unhandled exception in
 * client_connected_cb") and the connection is closed, so the client gets EOF
 * and server.waitClosed() does not wait for it forever. A handler that
 * returned normally keeps its connection open: it may have handed the
 * writer on. Reading the exception here also means the task is never
 * reported as "exception was never retrieved".
 */
function handlerDone(loop: AbstractEventLoop, task: Future<unknown>, transport: Transport): void {
  if (task.cancelled()) {
    transport.close();
    return;
  }
  const exc = task.exception();
  if (exc !== undefined) handlerFailed(loop, exc, transport);
}

/**
 * Peer errors that end a handler without a report (outside debug mode):
 * the connection went away (the transports' list, CONNECTION_LOST_ERRORS
 * in transport_helpers.ts: a reset, a broken pipe, a timeout, ...). That is the peer's doing and
 * routine on any network; a handler that did not catch it lost nothing it
 * could have kept (the connection is gone either way), and one report per
 * reset would let any client flood the log. asyncio's transports log the
 * same errors only in debug mode. Every other failure (a bug in the
 * handler, a timeout, an incomplete read) is reported.
 */
function handlerFailed(loop: AbstractEventLoop, exc: unknown, transport: Transport): void {
  if (!isConnectionLost(exc) || loop.getDebug()) {
    loop.callExceptionHandler({ message: 'Unhandled exception in client_connected_cb', exception: exc, transport });
  }
  transport.close();
}

/**
 * Serve host:port on the running loop; clientConnected(reader, writer) runs
 * per connection (a generator function's coroutine runs as a task).
 * @throws the bind / listen errors (e.g. EADDRINUSE); getaddrinfo's errors;
 *   RuntimeError if no loop is running.
 */
export function startServer(
  clientConnected: ClientConnected,
  host: string | readonly string[] | null | undefined,
  port: number | null | undefined,
  options?: StreamOptions & CreateServerOptions,
): Co<Server<InetAddress>>;
export function* startServer(
  clientConnected: ClientConnected,
  host: string | readonly string[] | null | undefined,
  port: number | null | undefined,
  options: StreamOptions & CreateServerOptions = {},
): Coroutine<Server> {
  return yield* createServer(getRunningLoop(), streamProtocolFactory(clientConnected, options.limit), host, port, options);
}

/**
 * Serve a Unix socket path on the running loop, as startServer.
 * @throws the bind / listen errors (e.g. EADDRINUSE); RuntimeError if no loop is running.
 */
export function startUnixServer(clientConnected: ClientConnected, path: string | null | undefined, options?: StreamOptions & CreateUnixServerOptions): Co<Server<UnixAddress>>;
export function* startUnixServer(
  clientConnected: ClientConnected,
  path: string | null | undefined,
  options: StreamOptions & CreateUnixServerOptions = {},
): Coroutine<Server> {
  return yield* createUnixServer(getRunningLoop(), streamProtocolFactory(clientConnected, options.limit), path, options);
}

function settle(f: Future<void>, exc: Error | null): void {
  if (exc === null) f.setResult(undefined);
  else f.setException(exc);
}

function markRetrieved(f: Future<void>): void {
  if (!f.cancelled()) f.exception();
}

function isGenerator(x: unknown): x is Generator<unknown, unknown, unknown> {
  return typeof x === 'object' && x !== null && typeof (x as Generator).next === 'function' && typeof (x as Generator).throw === 'function';
}

function connectionResetError(message: string): NodeJS.ErrnoException {
  const err = new Error(message) as NodeJS.ErrnoException;
  err.code = 'ECONNRESET';
  return err;
}
