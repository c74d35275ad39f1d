// A loop on a virtual clock, for tests of timer semantics (CPython's TestLoop
// in test_asyncio/utils.py): time() is a number the loop moves itself, and
// when an iteration would wait for a timer, the poll step looks for I/O
// without blocking and, if there is none, jumps the clock to that timer.
// sleep(10) then takes no real time, and timers fire in exactly the order
// and at exactly the loop times they were scheduled for, whatever the load
// on the machine. Real I/O still works (it is polled each step), but time
// only moves when nothing else is ready: use the real loop where the real
// clock is the point (timeouts around I/O, worker threads, child processes).
//
// Guest mode (runGuest) works too: there Node's loop does the waiting and
// asks the loop how long until its next timer (_nextTimeout). A TestLoop
// answers "now" while a timer is pending, and the step that follows jumps
// the clock as the blocking loop's poll does. Node's own timers and I/O keep
// real time meanwhile, so a test that waits for them while coio timers are
// pending belongs on the real loop.
import { EventLoop } from '../src/loop.js';
import type { EventLoopOptions } from '../src/loop.js';
import { _isGuest } from '../src/microtasks.js';

export class TestLoop extends EventLoop {
  private _clock = 0;

  constructor(options: EventLoopOptions = {}) {
    super(options);
  }

  /** The virtual time, seconds (starts at 0). */
  override time(): number {
    return this._clock;
  }

  /** Move the clock by `seconds` (a test may also step time by hand). */
  advanceTime(seconds: number): void {
    if (!(seconds >= 0)) throw new RangeError(`advanceTime: a non-negative number of seconds, got ${seconds}`);
    this._clock += seconds;
  }

  /** @internal Guest mode: a pending timer is due now (the step jumps the clock to it). */
  override _nextTimeout(): number | null {
    const timeout = super._nextTimeout();
    return timeout !== null && timeout > 0 && _isGuest(this) ? 0 : timeout;
  }

  protected override _poll(timeout: number | null): void {
    // No timer due (null): block for I/O as the real loop does.
    if (timeout === null) return super._poll(null);
    const before = this._ready.length;
    super._poll(0);
    // Something became ready: time does not move.
    if (this._ready.length !== before) return;
    if (timeout > 0) {
      // The blocking loop would have slept until the next timer.
      this._clock += timeout;
    } else if (before === 0 && !this._microtasksDue && _isGuest(this)) {
      // Guest mode always steps with timeout 0: with nothing to run, jump
      // to the next live timer, as the blocking loop's wait would.
      const next = this._nextLiveTimer();
      if (next !== null && next > this._clock) this._clock = next;
    }
  }

  /** The loop time of the earliest timer not cancelled, or null. */
  private _nextLiveTimer(): number | null {
    let next: number | null = null;
    for (const timer of this._scheduled.toArray()) {
      if (!timer.cancelled() && (next === null || timer.when() < next)) next = timer.when();
    }
    return next;
  }
}
