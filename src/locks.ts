// Synchronization primitives (asyncio's locks module): Lock, Event,
// Condition, Semaphore, BoundedSemaphore, Barrier.
//
// Every wait is a generator method, so `yield* lock.acquire()` suspends the
// calling coroutine and is typed. Waiters are Futures of the loop the
// primitive is bound to (see loop_bound.ts), kept in FIFO order; waking one
// means setting its Future's result, which resumes its Task on the next
// loop iteration. Between the wakeup and that resumption the waiter may be
// cancelled: every primitive here then passes the wakeup on, so a
// cancellation never strands a lock or loses a permit (CPython bpo-27585,
// bpo-32734, gh-90155).
//
// Holding across a block: there is no `async with` for generators, so each
// lock-like primitive has hold(body), which acquires, runs `yield* body()`
// and releases in a finally (on return, on error and on cancellation).
//
// Python's ValueError (a bad semaphore value, over-release of a
// BoundedSemaphore) is a RangeError here; its RuntimeError (release of an
// unlocked Lock, wait/notify without the lock) is the core's RuntimeError.

import { Deque } from './deque.js';
import { CancelledError, RuntimeError } from './errors.js';
import type { Future } from './futures.js';
import { LoopBound } from './loop_bound.js';
import { isCoroutine } from './coroutines.js';
import type { Coroutine, Co } from './coroutines.js';

/** A coroutine: what `yield*` awaits. */

/** Anything with an acquire coroutine and a synchronous release. */
export interface Acquirable {
  acquire(): Coroutine<unknown>;
  release(): void;
}

/** What hold() runs: a generator function (called once the lock is held), or a coroutine object. */
export type HoldBody<T> = (() => Coroutine<T>) | Coroutine<T>;

/**
 * @internal Acquire, run the body, release in a finally: `async with` for
 * generator coroutines. Exported so that awaitables.ts makes its coroutines
 * awaitable, as hold() promises.
 */
export function holdWith<T>(primitive: Acquirable, body: HoldBody<T>): Co<T>;
export function* holdWith<T>(primitive: Acquirable, body: HoldBody<T>): Coroutine<T> {
  // Checked before acquiring, so a bad argument never leaves the lock held.
  if (typeof body !== 'function' && !isCoroutine(body)) {
    throw new TypeError('hold(body): body must be a generator function, e.g. hold(function* () { ... }), or a coroutine');
  }
  yield* primitive.acquire();
  // Set when the body returns or throws; if neither, the generator is being
  // closed with return() (its loop is closing) and a Condition.wait() inside
  // may have been unable to take its Lock back: release a Lock only if held.
  let settled = false;
  try {
    const result = yield* (typeof body === 'function' ? body() : body);
    settled = true;
    return result;
  } catch (exc) {
    settled = true;
    throw exc;
  } finally {
    if (settled || !(primitive instanceof Lock) || primitive.locked()) primitive.release();
  }
}

/** True if every waiter was cancelled (or there are none): nobody is ahead of a newcomer. */
function allCancelled(waiters: Deque<Future<boolean>> | null): boolean {
  if (waiters === null) return true;
  for (let i = 0; i < waiters.length; i++) if (!waiters.at(i)!.cancelled()) return false;
  return true;
}

function waitersInfo(waiters: Deque<unknown> | null): string {
  return waiters !== null && waiters.length > 0 ? `, waiters:${waiters.length}` : '';
}

// ---------------------------------------------------------------------------

/**
 * A mutual-exclusion lock, not owned by a task: any coroutine may release it.
 *
 * Fair: waiters acquire it in the order they started waiting, and a
 * newcomer does not barge past a waiter that was woken but has not run yet.
 *
 * @example
 * ```ts
 * const lock = new Lock();
 * function* update(key: string) {
 *   // Released when the body returns, throws, or the task is cancelled.
 *   return yield* lock.hold(function* () {
 *     const old = yield* fetch(key);
 *     yield* store(key, old + 1);
 *     return old + 1;
 *   });
 * }
 * ```
 */
export class Lock extends LoopBound {
  /** @internal Futures of the waiting acquirers, FIFO; null until the first one waits. */
  _waiters: Deque<Future<boolean>> | null = null;
  /** @internal */
  _locked = false;

  /** True if the lock is held (by anyone: a Lock has no owner). Never throws. */
  locked(): boolean {
    return this._locked;
  }

  /**
   * Wait until the lock is free, then take it; returns true.
   *
   * Prefer {@link Lock.hold}, which cannot forget the release. Direct use:
   * `yield* lock.acquire(); try { ... } finally { lock.release(); }`.
   *
   * @throws CancelledError if the task is cancelled while waiting (the lock
   *   is then not held, and the next waiter is woken if the lock is free).
   * @throws RuntimeError if the lock is bound to another loop, or no loop runs
   *   (only when it has to wait).
   */
  acquire(): Co<true>;
  *acquire(): Coroutine<true> {
    // Fair scheduling: take the lock at once only if nobody is waiting (or
    // every waiter was cancelled and is about to leave).
    if (!this._locked && allCancelled(this._waiters)) {
      this._locked = true;
      return true;
    }
    const waiters = (this._waiters ??= new Deque<Future<boolean>>());
    const fut = this._getLoop().createFuture<boolean>();
    waiters.push(fut);
    try {
      try {
        yield* fut;
      } finally {
        waiters.remove(fut);
      }
    } catch (exc) {
      // Cancelled, possibly right after release() picked us: if the lock is
      // still free, make sure the waiter now at the head runs.
      if (exc instanceof CancelledError && !this._locked) this._wakeUpFirst();
      throw exc;
    }
    this._locked = true;
    return true;
  }

  /**
   * Release the lock and wake the first waiter, if any.
   * @throws RuntimeError if the lock is not held.
   */
  release(): void {
    if (!this._locked) throw new RuntimeError('Lock is not acquired.');
    this._locked = false;
    this._wakeUpFirst();
  }

  /**
   * Run `body` holding the lock: acquire, `yield* body()`, then release in a
   * finally — on return, on a throw and on cancellation. Returns the body's
   * result. The body is a generator function (called once the lock is
   * held), so it may await; a coroutine object works too:
   * `yield* lock.hold(save(record))`.
   *
   * @example
   * ```ts
   * const total = yield* lock.hold(function* () {
   *   yield* sleep(0.01);
   *   return balance;
   * });
   * ```
   * @throws whatever the body throws (after releasing).
   * @throws CancelledError if cancelled while waiting for the lock (not held then)
   *   or while the body runs (released).
   * @throws RuntimeError as {@link Lock.acquire}; or if the body itself released the lock.
   * @throws TypeError if body is neither a generator function nor a coroutine.
   */
  hold<T>(body: HoldBody<T>): Co<T> {
    return holdWith(this, body);
  }

  override toString(): string {
    return `<Lock [${this._locked ? 'locked' : 'unlocked'}${waitersInfo(this._waiters)}]>`;
  }

  /** Wake the waiter at the head, unless it is already woken (done). */
  private _wakeUpFirst(): void {
    const first = this._waiters?.peekFirst();
    if (first !== undefined && !first.done()) first.setResult(true);
  }
}

// ---------------------------------------------------------------------------

/**
 * A flag that coroutines can wait for: set() wakes every waiter; clear()
 * resets it.
 *
 * @example
 * ```ts
 * const ready = new Event();
 * createTask((function* () { yield* ready.wait(); console.log('go'); })());
 * ready.set();
 * ```
 */
export class Event extends LoopBound {
  /** @internal */
  readonly _waiters = new Deque<Future<boolean>>();
  private _value = false;

  /** True if the flag is set. Never throws. */
  isSet(): boolean {
    return this._value;
  }

  /** Set the flag and wake every waiter. Waits that start while it is set return at once. Never throws. */
  set(): void {
    if (this._value) return;
    this._value = true;
    const waiters = this._waiters;
    for (let i = 0; i < waiters.length; i++) {
      const fut = waiters.at(i)!;
      if (!fut.done()) fut.setResult(true);
    }
  }

  /** Reset the flag: later waits block until the next set(). Never throws. */
  clear(): void {
    this._value = false;
  }

  /**
   * Wait until the flag is set; returns true (at once if it is set).
   * A waiter woken by set() returns true even if clear() ran before it resumed.
   * @throws CancelledError if the task is cancelled while waiting.
   * @throws RuntimeError if the event is bound to another loop, or no loop runs.
   */
  wait(): Co<true>;
  *wait(): Coroutine<true> {
    if (this._value) return true;
    const fut = this._getLoop().createFuture<boolean>();
    this._waiters.push(fut);
    try {
      yield* fut;
      return true;
    } finally {
      this._waiters.remove(fut);
    }
  }

  override toString(): string {
    return `<Event [${this._value ? 'set' : 'unset'}${waitersInfo(this._waiters)}]>`;
  }
}

// ---------------------------------------------------------------------------

/**
 * A condition variable over a Lock (a new one unless given): coroutines
 * holding the lock wait() until another one notify()s them.
 *
 * wait() may return spuriously (asyncio's rule): re-check the state, or use
 * waitFor(predicate).
 *
 * @example
 * ```ts
 * const cond = new Condition();
 * const items: number[] = [];
 * function* consumer() {
 *   return yield* cond.hold(function* () {
 *     yield* cond.waitFor(() => items.length > 0);
 *     return items.shift()!;
 *   });
 * }
 * function* producer(x: number) {
 *   yield* cond.hold(function* () {
 *     items.push(x);
 *     cond.notify();
 *   });
 * }
 * ```
 */
export class Condition extends LoopBound {
  /** @internal The underlying lock. */
  readonly _lock: Lock;
  /** @internal */
  readonly _waiters = new Deque<Future<boolean>>();

  /**
   * lock: the Lock to use (shared with other code); a new one by default.
   * @throws TypeError if lock is not a Lock.
   */
  constructor(lock?: Lock) {
    super();
    if (lock !== undefined && !(lock instanceof Lock)) throw new TypeError('Condition(lock): lock must be a Lock');
    this._lock = lock ?? new Lock();
  }

  /** True if the underlying lock is held. Never throws. */
  locked(): boolean {
    return this._lock.locked();
  }

  /**
   * Acquire the underlying lock (see {@link Lock.acquire}); prefer {@link Condition.hold}.
   * @throws CancelledError, RuntimeError as Lock.acquire.
   */
  acquire(): Coroutine<true> {
    return this._lock.acquire();
  }

  /**
   * Release the underlying lock.
   * @throws RuntimeError if it is not held.
   */
  release(): void {
    this._lock.release();
  }

  /**
   * Run `body` holding the underlying lock, released in a finally (see
   * {@link Lock.hold}); returns the body's result.
   *
   * @example
   * ```ts
   * yield* cond.hold(function* () {
   *   yield* cond.waitFor(() => done);
   * });
   * ```
   * @throws whatever the body throws; CancelledError, RuntimeError, TypeError as Lock.hold.
   */
  hold<T>(body: HoldBody<T>): Co<T> {
    return holdWith(this._lock, body);
  }

  /**
   * Release the lock, wait until notified, re-acquire the lock; returns true.
   * The lock is held again when this returns or throws, even on cancellation.
   *
   * @throws RuntimeError if the lock is not held (or is bound to another loop).
   * @throws CancelledError if cancelled while waiting or re-acquiring (the
   *   lock is re-acquired first; a notification it had received is passed on
   *   to another waiter).
   */
  wait(): Co<true>;
  *wait(): Coroutine<true> {
    if (!this.locked()) throw new RuntimeError('cannot wait on un-acquired lock');
    const fut = this._getLoop().createFuture<boolean>();
    this.release();
    // Set when the body ends by return or throw: if neither, the generator is
    // being closed with return() (the loop closing) and must not await again.
    let settled = false;
    try {
      try {
        this._waiters.push(fut);
        try {
          yield* fut;
          settled = true;
          return true;
        } catch (exc) {
          settled = true;
          throw exc;
        } finally {
          this._waiters.remove(fut);
        }
      } finally {
        if (settled) yield* this._reacquire();
        // Being closed: no more awaiting, but take the lock back if it is free,
        // so the caller's release (a hold() around this) stays balanced.
        else if (!this._lock._locked) this._lock._locked = true;
      }
    } catch (exc) {
      // The error may have come after this task was notified: pass the
      // notification on (a spurious wakeup for someone is allowed).
      this._notify(1);
      throw exc;
    }
  }

  /**
   * Wait until predicate() is truthy and return its value, waiting on the
   * condition between checks (at once if it is already truthy).
   * @throws RuntimeError if it has to wait and the lock is not held.
   * @throws CancelledError as {@link Condition.wait}; whatever the predicate throws.
   */
  waitFor<R>(predicate: () => R): Co<R>;
  *waitFor<R>(predicate: () => R): Coroutine<R> {
    let result = predicate();
    while (!result) {
      yield* this.wait();
      result = predicate();
    }
    return result;
  }

  /**
   * Wake up to n waiters (default 1); they return from wait() once they get
   * the lock back, which the caller still holds.
   * @throws RuntimeError if the lock is not held.
   */
  notify(n = 1): void {
    if (!this.locked()) throw new RuntimeError('cannot notify on un-acquired lock');
    this._notify(n);
  }

  /**
   * Wake every waiter.
   * @throws RuntimeError if the lock is not held.
   */
  notifyAll(): void {
    this.notify(this._waiters.length);
  }

  override toString(): string {
    return `<Condition [${this.locked() ? 'locked' : 'unlocked'}${waitersInfo(this._waiters)}]>`;
  }

  private _notify(n: number): void {
    let woken = 0;
    const waiters = this._waiters;
    for (let i = 0; i < waiters.length && woken < n; i++) {
      const fut = waiters.at(i)!;
      if (!fut.done()) {
        woken++;
        fut.setResult(false);
      }
    }
  }

  /**
   * Re-acquire the lock even if cancelled meanwhile (the caller of wait()
   * relies on holding it); rethrow the last CancelledError afterwards.
   */
  private *_reacquire(): Coroutine<void> {
    let cancelled: CancelledError | null = null;
    for (;;) {
      try {
        yield* this._lock.acquire();
        break;
      } catch (exc) {
        if (!(exc instanceof CancelledError)) throw exc;
        cancelled = exc;
      }
    }
    if (cancelled !== null) throw cancelled;
  }
}

// ---------------------------------------------------------------------------

/**
 * A counter of permits: acquire() takes one (waiting while there is none),
 * release() gives one back. Fair: waiters get permits in FIFO order, and a
 * newcomer waits behind them even when permits are free.
 *
 * @example
 * ```ts
 * const slots = new Semaphore(3); // at most 3 downloads at once
 * function* download(url: string) {
 *   return yield* slots.hold(function* () {
 *     return yield* fetchUrl(url);
 *   });
 * }
 * ```
 */
export class Semaphore extends LoopBound {
  /** @internal Free permits, minus those handed to woken waiters that have not run yet. */
  _value: number;
  /** @internal */
  _waiters: Deque<Future<boolean>> | null = null;

  /**
   * value: the initial number of permits (default 1).
   * @throws RangeError if value is negative or not an integer.
   */
  constructor(value = 1) {
    super();
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`Semaphore initial value must be an integer >= 0, got ${String(value)}`);
    this._value = value;
  }

  /** True if acquire() would wait: no permit, or waiters ahead (FIFO). Never throws. */
  locked(): boolean {
    if (this._value === 0) return true;
    const waiters = this._waiters;
    if (waiters === null) return false;
    for (let i = 0; i < waiters.length; i++) if (!waiters.at(i)!.cancelled()) return true;
    return false;
  }

  /**
   * Take a permit, waiting for one if needed; returns true. Prefer
   * {@link Semaphore.hold}; direct use:
   * `yield* sem.acquire(); try { ... } finally { sem.release(); }`.
   *
   * @throws CancelledError if cancelled while waiting (no permit is then
   *   held; one handed to this waiter is passed on).
   * @throws RuntimeError if bound to another loop, or no loop runs (only when it has to wait).
   */
  acquire(): Co<true>;
  *acquire(): Coroutine<true> {
    if (!this.locked()) {
      this._value--;
      return true;
    }
    const waiters = (this._waiters ??= new Deque<Future<boolean>>());
    const fut = this._getLoop().createFuture<boolean>();
    waiters.push(fut);
    try {
      try {
        yield* fut;
      } finally {
        waiters.remove(fut);
      }
    } catch (exc) {
      // Woken (a permit was set aside for us by _wakeUpNext) but cancelled
      // before running: give the permit back; the finally passes it on.
      if (exc instanceof CancelledError && fut.done() && !fut.cancelled()) this._value++;
      throw exc;
    } finally {
      // Waiters that arrived while permits were free had to queue (FIFO):
      // wake as many as there are permits.
      while (this._value > 0) if (!this._wakeUpNext()) break;
    }
    return true;
  }

  /**
   * Give a permit back, waking the first waiter if any. Never throws
   * (BoundedSemaphore overrides it to check the bound).
   */
  release(): void {
    this._value++;
    this._wakeUpNext();
  }

  /**
   * Run `body` holding a permit: acquire, `yield* body()`, release in a
   * finally (on return, throw and cancellation); returns the body's result.
   *
   * @example
   * ```ts
   * const page = yield* sem.hold(function* () { return yield* get(url); });
   * ```
   * @throws whatever the body throws (after releasing); CancelledError,
   *   RuntimeError as {@link Semaphore.acquire}; TypeError if body is neither a generator function nor a coroutine;
   *   RangeError from a BoundedSemaphore if the body released the permit itself.
   */
  hold<T>(body: HoldBody<T>): Co<T> {
    return holdWith(this, body);
  }

  override toString(): string {
    const state = this.locked() ? 'locked' : `unlocked, value:${this._value}`;
    return `<${this.constructor.name} [${state}${waitersInfo(this._waiters)}]>`;
  }

  /** Hand a permit to the first waiter not yet woken; false if there is none. */
  private _wakeUpNext(): boolean {
    const waiters = this._waiters;
    if (waiters === null) return false;
    for (let i = 0; i < waiters.length; i++) {
      const fut = waiters.at(i)!;
      if (!fut.done()) {
        this._value--;
        fut.setResult(true);
        return true;
      }
    }
    return false;
  }
}

/**
 * A Semaphore that refuses to be released more times than it was acquired
 * (a bug guard: the count never exceeds the initial value).
 *
 * @example
 * ```ts
 * const pool = new BoundedSemaphore(2);
 * yield* pool.hold(function* () { yield* work(); });
 * pool.release(); // RangeError: released too many times
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  private readonly _boundValue: number;

  /**
   * value: the initial and maximum number of permits (default 1).
   * @throws RangeError if value is negative or not an integer.
   */
  constructor(value = 1) {
    super(value);
    this._boundValue = value;
  }

  /**
   * Give a permit back.
   * @throws RangeError (Python's ValueError) if that would exceed the initial value.
   */
  override release(): void {
    if (this._value >= this._boundValue) throw new RangeError('BoundedSemaphore released too many times');
    super.release();
  }
}

// ---------------------------------------------------------------------------

/** Thrown by Barrier.wait() when the barrier is aborted, or reset while waiting. (Python: a RuntimeError subclass.) */
export class BrokenBarrierError extends RuntimeError {
  /** Always 'BrokenBarrierError'. */
  override name = 'BrokenBarrierError';
}

/** filling: parties arrive; draining: the released ones leave; resetting: waiters are thrown out; broken: aborted. */
export type BarrierState = 'filling' | 'draining' | 'resetting' | 'broken';

/**
 * A meeting point for a fixed number of tasks: each wait() blocks until
 * `parties` tasks are waiting, then all are released together and the
 * barrier can be used again.
 *
 * @example
 * ```ts
 * const barrier = new Barrier(3);
 * function* worker(id: number) {
 *   yield* prepare(id);
 *   const index = yield* barrier.wait(); // 0..2, unique per round
 *   if (index === 0) console.log('all prepared');
 * }
 * ```
 */
export class Barrier {
  private readonly _cond = new Condition();
  private readonly _parties: number;
  private _state: BarrierState = 'filling';
  /** @internal Tasks inside wait() (filling, or draining out). */
  _count = 0;

  /**
   * parties: how many tasks must wait() to release them.
   * @throws RangeError if parties is not an integer >= 1.
   */
  constructor(parties: number) {
    if (!Number.isInteger(parties) || parties < 1) throw new RangeError(`parties must be an integer >= 1, got ${String(parties)}`);
    this._parties = parties;
  }

  /**
   * Wait until `parties` tasks are waiting; returns this task's arrival
   * index, unique in its round, from 0 to parties - 1. Tasks arriving while
   * the previous round drains wait for the next one.
   *
   * @throws BrokenBarrierError if the barrier is broken (abort()) or reset
   *   while waiting.
   * @throws CancelledError if the task is cancelled (it leaves the barrier;
   *   the others keep waiting).
   * @throws RuntimeError if bound to another loop, or no loop runs.
   */
  wait(): Co<number>;
  *wait(): Coroutine<number> {
    const self = this;
    return yield* this._cond.hold(function* () {
      yield* self._block();
      const index = self._count++;
      try {
        if (index + 1 === self._parties) self._release();
        else yield* self._wait();
        return index;
      } finally {
        self._count--;
        self._exit();
      }
    });
  }

  /**
   * Return the barrier to the filling state; tasks waiting in it get
   * BrokenBarrierError. A generator (it takes the barrier's internal lock).
   * @throws CancelledError if cancelled while taking the internal lock.
   */
  reset(): Co<void>;
  *reset(): Coroutine<void> {
    const self = this;
    yield* this._cond.hold(function* () {
      if (self._count > 0) {
        if (self._state !== 'resetting') self._state = 'resetting';
      } else {
        self._state = 'filling';
      }
      self._cond.notifyAll();
    });
  }

  /**
   * Break the barrier: current and future wait() calls throw
   * BrokenBarrierError until reset(). A generator (it takes the internal lock).
   * @throws CancelledError if cancelled while taking the internal lock.
   */
  abort(): Co<void>;
  *abort(): Coroutine<void> {
    const self = this;
    yield* this._cond.hold(function* () {
      self._state = 'broken';
      self._cond.notifyAll();
    });
  }

  /** How many tasks must wait() to release them. */
  get parties(): number {
    return this._parties;
  }

  /** How many tasks are waiting in the filling barrier (0 while it drains or resets). */
  get nWaiting(): number {
    return this._state === 'filling' ? this._count : 0;
  }

  /** True if the barrier is broken (aborted and not reset). */
  get broken(): boolean {
    return this._state === 'broken';
  }

  /** The barrier's state: filling, draining, resetting or broken. */
  get state(): BarrierState {
    return this._state;
  }

  /** `<Barrier [filling, waiters:N/P]>`: its state, and how many of its parties wait. */
  toString(): string {
    const waiting = this.broken ? '' : `, waiters:${this.nWaiting}/${this._parties}`;
    return `<Barrier [${this._state}${waiting}]>`;
  }

  /** Wait while the previous round drains or resets; throw if broken. */
  private *_block(): Coroutine<void> {
    yield* this._cond.waitFor(() => this._state !== 'draining' && this._state !== 'resetting');
    if (this._state === 'broken') throw new BrokenBarrierError('Barrier aborted');
  }

  /** The last party arrived: release everyone (draining). */
  private _release(): void {
    this._state = 'draining';
    this._cond.notifyAll();
  }

  /** Wait for the last party; throw if the barrier is reset or broken meanwhile. */
  private *_wait(): Coroutine<void> {
    yield* this._cond.waitFor(() => this._state !== 'filling');
    if (this._state === 'broken' || this._state === 'resetting') throw new BrokenBarrierError('Abort or reset of barrier');
  }

  /** The last task out of a draining or resetting barrier makes it filling again. */
  private _exit(): void {
    if (this._count === 0) {
      if (this._state === 'resetting' || this._state === 'draining') this._state = 'filling';
      this._cond.notifyAll();
    }
  }
}
