// Queues for coordinating producer and consumer coroutines (asyncio's queues
// module, with Python 3.13's shutdown): Queue (FIFO), PriorityQueue,
// LifoQueue, and their errors QueueEmpty, QueueFull, QueueShutDown.
//
// Blocked getters and putters wait on Futures in FIFO order. A waiter is
// removed from its list when it is woken (by the waker) or when it leaves
// (cancelled); a waiter woken and then cancelled before it ran passes the
// wakeup on to the next one, so no item or free slot is stranded.
//
// Python's ValueError (taskDone() called too many times) is a RangeError.

import { Deque } from './deque.js';
import { describeValue } from './events.js';
import { Heap, pythonCompare } from './heap.js';
import type { Compare } from './heap.js';
import type { Future } from './futures.js';
import { LoopBound } from './loop_bound.js';
import type { Coroutine, Co } from './coroutines.js';

/** Thrown by getNowait() on an empty queue. */
export class QueueEmpty extends Error {
  /** Always 'QueueEmpty'. */
  override name = 'QueueEmpty';
}

/** Thrown by putNowait() on a full queue. */
export class QueueFull extends Error {
  /** Always 'QueueFull'. */
  override name = 'QueueFull';
}

/** Thrown by puts, and by gets once the queue is empty, after shutdown(). */
export class QueueShutDown extends Error {
  /** Always 'QueueShutDown'. */
  override name = 'QueueShutDown';
}

/** Options of new Queue / LifoQueue (a number is accepted too: the maxsize). */
export interface QueueOptions {
  /** The most items the queue holds; 0 or less (the default) is unbounded. */
  maxsize?: number;
}

/** Options of new PriorityQueue. */
export interface PriorityQueueOptions<T> extends QueueOptions {
  /**
   * The order of the items: negative if a comes out before b. Default:
   * Python's order (numbers, strings, and arrays element by element, so
   * `[priority, item]` pairs work); see {@link pythonCompare}.
   */
  compare?: Compare<T>;
}

function maxsizeOf(arg: number | QueueOptions | undefined): number {
  let maxsize: unknown = arg;
  if (arg === undefined) maxsize = 0;
  else if (typeof arg === 'object' && arg !== null) maxsize = arg.maxsize ?? 0;
  if (typeof maxsize !== 'number' || Number.isNaN(maxsize)) throw new TypeError(`maxsize must be a number, got ${String(maxsize)}`);
  return maxsize;
}

/** Wake the first waiter that is not done yet, removing it (and the done ones before it). */
function wakeupNext(waiters: Deque<Future<void>>): void {
  while (waiters.length > 0) {
    const waiter = waiters.shift()!;
    if (!waiter.done()) {
      waiter.setResult(undefined);
      return;
    }
  }
}

/**
 * A first-in, first-out queue. With maxsize > 0, put() waits while the queue
 * is full; get() waits while it is empty.
 *
 * @example
 * ```ts
 * const queue = new Queue<string>(10);
 * function* worker() {
 *   for (;;) {
 *     const job = yield* queue.get();
 *     try { yield* handle(job); } finally { queue.taskDone(); }
 *   }
 * }
 * // ...put jobs, then:
 * yield* queue.join(); // every job taken and marked done
 * ```
 */
export class Queue<T = unknown> extends LoopBound {
  /** @internal Futures of blocked get() calls, FIFO. */
  readonly _getters = new Deque<Future<void>>();
  /** @internal Futures of blocked put() calls, FIFO. */
  readonly _putters = new Deque<Future<void>>();
  /** @internal Items put and not yet marked done with taskDone(). */
  _unfinishedTasks = 0;
  /** @internal */
  _isShutdown = false;
  private readonly _maxsize: number;
  /** Futures of blocked join() calls (asyncio uses an Event; this allocates less). */
  private readonly _finished: Future<void>[] = [];

  /**
   * maxsize (a number, or `{ maxsize }`): the most items held; 0 or less
   * (default) is unbounded.
   * @throws TypeError if maxsize is not a number.
   */
  constructor(maxsizeOrOptions?: number | QueueOptions) {
    super();
    this._maxsize = maxsizeOf(maxsizeOrOptions);
  }

  // --- storage: what the subclasses change ---------------------------------

  private readonly _items = new Deque<T>();

  /** @internal Store an item. */
  protected _put(item: T): void {
    this._items.push(item);
  }

  /** @internal Remove the next item (the queue is not empty). */
  protected _get(): T {
    return this._items.shift() as T;
  }

  /** Number of items in the queue. Never throws. */
  qsize(): number {
    return this._items.length;
  }

  /** @internal The items in storage order, for toString. */
  protected _snapshot(): T[] {
    return this._items.toArray();
  }

  // --- the public API ------------------------------------------------------

  /** The most items the queue holds (0 or less: unbounded). */
  get maxsize(): number {
    return this._maxsize;
  }

  /** True if the queue holds no item. Never throws. */
  empty(): boolean {
    return this.qsize() === 0;
  }

  /** True if the queue holds maxsize items (never, when unbounded). Never throws. */
  full(): boolean {
    return this._maxsize > 0 && this.qsize() >= this._maxsize;
  }

  /**
   * Put an item, waiting for a free slot while the queue is full.
   * @throws QueueShutDown if the queue is shut down (before or while waiting).
   * @throws CancelledError if cancelled while waiting (the item is not put; a
   *   free slot this putter was woken for is passed to the next one).
   * @throws RuntimeError if bound to another loop, or no loop runs (only when it has to wait).
   */
  put(item: T): Co<void>;
  *put(item: T): Coroutine<void> {
    while (this.full()) {
      if (this._isShutdown) throw new QueueShutDown('put() on a shut-down queue');
      const putter = this._getLoop().createFuture<void>();
      this._putters.push(putter);
      try {
        yield* putter;
      } catch (exc) {
        putter.cancel(); // in case it is still pending
        // A getter may have removed it already (that is how it was woken).
        this._putters.remove(putter);
        // Woken by a get, but leaving: wake the next putter in line.
        if (!this.full() && !putter.cancelled()) wakeupNext(this._putters);
        throw exc;
      }
    }
    this.putNowait(item);
  }

  /**
   * Put an item if there is a free slot now.
   * @throws QueueShutDown if the queue is shut down.
   * @throws QueueFull if the queue is full.
   */
  putNowait(item: T): void {
    if (this._isShutdown) throw new QueueShutDown('putNowait() on a shut-down queue');
    if (this.full()) throw new QueueFull('putNowait() on a full queue');
    this._put(item);
    this._unfinishedTasks++;
    wakeupNext(this._getters);
  }

  /**
   * Remove and return the next item, waiting while the queue is empty.
   * @throws QueueShutDown if the queue is shut down and empty (at once after
   *   shutdown(true)).
   * @throws CancelledError if cancelled while waiting (no item is taken; an
   *   item this getter was woken for is left to the next one).
   * @throws RuntimeError if bound to another loop, or no loop runs (only when it has to wait).
   */
  get(): Co<T>;
  *get(): Coroutine<T> {
    while (this.empty()) {
      if (this._isShutdown) throw new QueueShutDown('get() on a shut-down, empty queue');
      const getter = this._getLoop().createFuture<void>();
      this._getters.push(getter);
      try {
        yield* getter;
      } catch (exc) {
        getter.cancel(); // in case it is still pending
        // A put may have removed it already (that is how it was woken).
        this._getters.remove(getter);
        // Woken by a put, but leaving: wake the next getter in line.
        if (!this.empty() && !getter.cancelled()) wakeupNext(this._getters);
        throw exc;
      }
    }
    return this.getNowait();
  }

  /**
   * Remove and return the next item if there is one now.
   * @throws QueueShutDown if the queue is shut down and empty.
   * @throws QueueEmpty if the queue is empty.
   */
  getNowait(): T {
    if (this.empty()) {
      if (this._isShutdown) throw new QueueShutDown('getNowait() on a shut-down, empty queue');
      throw new QueueEmpty('getNowait() on an empty queue');
    }
    const item = this._get();
    wakeupNext(this._putters);
    return item;
  }

  /**
   * Mark one item taken with get() as processed; join() returns once every
   * item put has been marked.
   * @throws RangeError (Python's ValueError) if called more times than items were put.
   */
  taskDone(): void {
    if (this._unfinishedTasks <= 0) throw new RangeError('taskDone() called too many times');
    this._unfinishedTasks--;
    if (this._unfinishedTasks === 0) this._setFinished();
  }

  /**
   * Wait until every item put has been taken and marked with taskDone()
   * (at once if there is none).
   * @throws CancelledError if cancelled while waiting.
   * @throws RuntimeError if bound to another loop, or no loop runs (only when it has to wait).
   */
  join(): Co<void>;
  *join(): Coroutine<void> {
    if (this._unfinishedTasks === 0) return;
    const fut = this._getLoop().createFuture<void>();
    this._finished.push(fut);
    try {
      yield* fut;
    } finally {
      const i = this._finished.indexOf(fut);
      if (i >= 0) this._finished.splice(i, 1);
    }
  }

  /**
   * Shut the queue down: put() and putNowait() throw QueueShutDown from now
   * on, and get() / getNowait() once the queue is empty. Blocked putters and
   * getters are woken (and throw, unless a getter finds an item).
   *
   * immediate: also drop the items left, marking each done (which may
   * release join()), so gets throw at once.
   *
   * Never throws; calling it again is harmless (and may upgrade to immediate).
   */
  shutdown(immediate = false): void {
    this._isShutdown = true;
    if (immediate) {
      while (!this.empty()) {
        this._get();
        if (this._unfinishedTasks > 0) this._unfinishedTasks--;
      }
      if (this._unfinishedTasks === 0) this._setFinished();
    }
    // Every blocked caller re-checks: getters find the queue empty and throw.
    for (const waiters of [this._getters, this._putters]) {
      while (waiters.length > 0) {
        const w = waiters.shift()!;
        if (!w.done()) w.setResult(undefined);
      }
    }
  }

  override toString(): string {
    let out = `<${this.constructor.name} maxsize=${this._maxsize}`;
    if (!this.empty()) out += ` _queue=[${this._snapshot().map(describeValue).join(', ')}]`;
    if (this._getters.length > 0) out += ` _getters[${this._getters.length}]`;
    if (this._putters.length > 0) out += ` _putters[${this._putters.length}]`;
    if (this._unfinishedTasks > 0) out += ` tasks=${this._unfinishedTasks}`;
    if (this._isShutdown) out += ' shutdown';
    return out + '>';
  }

  private _setFinished(): void {
    const waiters = this._finished;
    if (waiters.length === 0) return;
    for (const fut of waiters) if (!fut.done()) fut.setResult(undefined);
  }
}

/**
 * A queue that returns the smallest item first: by the `compare` option, or
 * by Python's order (numbers, strings, arrays element-wise like tuples, so
 * `[priority, item]` pairs come out by priority). Items that compare equal
 * come out in the order they were put.
 *
 * @example
 * ```ts
 * const jobs = new PriorityQueue<[number, string]>();
 * jobs.putNowait([2, 'later']);
 * jobs.putNowait([1, 'first']);
 * const [, job] = yield* jobs.get(); // 'first'
 *
 * const byDeadline = new PriorityQueue<Job>({ compare: (a, b) => a.deadline - b.deadline });
 * ```
 */
export class PriorityQueue<T = unknown> extends Queue<T> {
  private readonly _heap: Heap<T>;

  /**
   * A maxsize (number), or options `{ maxsize, compare }`.
   * @throws TypeError if maxsize is not a number or compare not a function.
   */
  constructor(maxsizeOrOptions?: number | PriorityQueueOptions<T>) {
    super(maxsizeOrOptions);
    const compare = typeof maxsizeOrOptions === 'object' ? maxsizeOrOptions.compare : undefined;
    if (compare !== undefined && typeof compare !== 'function') throw new TypeError('compare must be a function');
    this._heap = new Heap<T>(compare ?? (pythonCompare as Compare<T>));
  }

  /**
   * Put an item, waiting while the queue is full (see {@link Queue.put}).
   * @throws TypeError (from the default order) if the item cannot be
   *   compared with the items in the queue; QueueShutDown, CancelledError,
   *   RuntimeError as Queue.put.
   */
  override put(item: T): Co<void> {
    return super.put(item);
  }

  protected override _put(item: T): void {
    this._heap.push(item);
  }

  protected override _get(): T {
    return this._heap.pop() as T;
  }

  /** Number of items in the queue. Never throws. */
  override qsize(): number {
    return this._heap.length;
  }

  protected override _snapshot(): T[] {
    return this._heap.toArray();
  }
}

/**
 * A last-in, first-out queue (a stack): get() returns the item put last.
 *
 * @example
 * ```ts
 * const stack = new LifoQueue<number>();
 * stack.putNowait(1);
 * stack.putNowait(2);
 * stack.getNowait(); // 2
 * ```
 */
export class LifoQueue<T = unknown> extends Queue<T> {
  private readonly _stack: T[] = [];

  protected override _put(item: T): void {
    this._stack.push(item);
  }

  protected override _get(): T {
    return this._stack.pop() as T;
  }

  /** Number of items in the queue. Never throws. */
  override qsize(): number {
    return this._stack.length;
  }

  protected override _snapshot(): T[] {
    return this._stack.slice();
  }
}
