// timeout() / timeoutAt(): a deadline over a piece of a coroutine (asyncio's
// timeouts module, 3.11+). asyncio spells it `async with timeout(1):`; here
// the guarded code is a body run inside the current Task:
//
//     const data = yield* timeout(0.5, function* (t) {
//       // ... t.reschedule(t.when()! + 1) to extend, t.expired() to ask ...
//       return yield* reader.read(100);
//     });
//
// At the deadline the Task is cancelled; the CancelledError unwinds the body
// (its finally blocks run and may still await) and comes out of timeout() as
// a TimeoutError (its cause is the CancelledError). A cancellation from
// anywhere else stays a CancelledError. The body may also be a coroutine
// object or a Future: `yield* timeout(1, fetch(url))`.

import { checkSeconds } from './arg_checks.js';
import { CancelledError, RuntimeError, TimeoutError } from './errors.js';
import { getRunningLoop } from './events.js';
import type { Handle } from './events.js';
import { currentTask } from './tasks.js';
import type { AnyAwaitable, Task } from './tasks.js';
import type { Coroutine, Co } from './coroutines.js';
import { _callBody, _toAwaitable } from './async_tasks.js';

const CREATED = 0;
const ENTERED = 1;
const EXPIRING = 2;
const EXPIRED = 3;
const EXITED = 4;
const STATE_NAMES = ['created', 'active', 'expiring', 'expired', 'finished'] as const;

/**
 * The body of a timeout: a generator function given the Timeout, or an
 * awaitable; or an async function given the Timeout (cancelled at its
 * awaits at the deadline, see async_tasks.ts).
 */
export type TimeoutBody<T> = ((timeout: Timeout) => Coroutine<T> | PromiseLike<T>) | AnyAwaitable<T>;

/** A running deadline, handed to the body of timeout() / timeoutAt(). */
export class Timeout {
  private _state = CREATED;
  private _when: number | null;
  private _handle: Handle | null = null;
  private _task: Task<unknown> | null = null;
  /** The Task's cancel count on entry: only a cancellation we added becomes a TimeoutError. */
  private _cancelling = 0;

  /** @internal Made by timeout() / timeoutAt(). */
  constructor(when: number | null) {
    this._when = when;
  }

  /** The deadline in loop time (seconds), or null for none. */
  when(): number | null {
    return this._when;
  }

  /**
   * Move the deadline (loop time, seconds; null: no deadline). Only while the body runs.
   * @throws RuntimeError before the body runs or after it finished; TypeError (ERR_INVALID_ARG_TYPE) if when is not a number (or is NaN) or null.
   */
  reschedule(when: number | null): void {
    checkSeconds('when', when, true);
    if (this._state !== ENTERED) {
      if (this._state === CREATED) throw new RuntimeError('Timeout has not been entered');
      throw new RuntimeError(`Cannot change state of ${STATE_NAMES[this._state]} Timeout`);
    }
    this._when = when;
    if (this._handle !== null) this._handle.cancel();
    this._handle = null;
    if (when === null) return;
    const loop = getRunningLoop();
    this._handle = when <= loop.time() ? loop.callSoon(() => this._onTimeout()) : loop.callAt(when, () => this._onTimeout());
  }

  /** True once the deadline has passed (the body was cancelled for it). */
  expired(): boolean {
    return this._state === EXPIRING || this._state === EXPIRED;
  }

  /** `<Timeout [active] when=...>`: its state (created, active, expiring, expired, finished) and deadline. */
  toString(): string {
    const when = this._state === ENTERED ? ` when=${String(this._when)}` : '';
    return `<Timeout [${STATE_NAMES[this._state]}]${when}>`;
  }

  /** @internal Run the body under this deadline (once). */
  *_run<T>(body: TimeoutBody<T>): Coroutine<T> {
    this._enter();
    let result: T;
    try {
      result = yield* (typeof body === 'function' ? _callBody<T>(body, [this]) : _toAwaitable<T>(body));
    } catch (exc) {
      this._exit(exc); // a TimeoutError instead, if this deadline caused it
      throw exc;
    }
    this._exit(undefined);
    return result;
  }

  private _enter(): void {
    if (this._state !== CREATED) throw new RuntimeError('Timeout has already been entered');
    const task = currentTask();
    if (task === null) throw new RuntimeError('Timeout should be used inside a task');
    this._state = ENTERED;
    this._task = task;
    this._cancelling = task.cancelling();
    this.reschedule(this._when);
  }

  private _exit(exc: unknown): void {
    if (this._handle !== null) {
      this._handle.cancel();
      this._handle = null;
    }
    if (this._state === EXPIRING) {
      this._state = EXPIRED;
      if (this._task!.uncancel() <= this._cancelling && exc instanceof CancelledError) {
        throw new TimeoutError('timed out', { cause: exc });
      }
    } else if (this._state === ENTERED) {
      this._state = EXITED;
    }
  }

  private _onTimeout(): void {
    if (this._state !== ENTERED) return;
    this._task!.cancel();
    this._state = EXPIRING;
    this._handle = null;
  }
}

/**
 * Run `body` in the current Task with a deadline `delay` seconds from now
 * (null: none); a TimeoutError if it is reached. Returns the body's result.
 * @throws TimeoutError at the deadline (its cause is the CancelledError that
 *   unwound the body); whatever the body throws; CancelledError if the task
 *   is cancelled from elsewhere; RuntimeError outside a Task.
 */
export function timeout<T>(delay: number | null, body: TimeoutBody<T>): Co<T>;
export function* timeout<T>(delay: number | null, body: TimeoutBody<T>): Coroutine<T> {
  checkSeconds('delay', delay, true);
  const when = delay === null ? null : getRunningLoop().time() + delay;
  return yield* new Timeout(when)._run(body);
}

/**
 * timeout() with an absolute deadline in loop time (loop.time() seconds; null: none).
 * @throws as timeout().
 */
export function timeoutAt<T>(when: number | null, body: TimeoutBody<T>): Co<T>;
export function* timeoutAt<T>(when: number | null, body: TimeoutBody<T>): Coroutine<T> {
  checkSeconds('when', when, true);
  return yield* new Timeout(when)._run(body);
}
