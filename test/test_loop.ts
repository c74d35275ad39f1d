// A loop on a virtual clock, for tests of timer semantics (CPython's TestLoop
// in test_asyncio/utils.py): time() is a number the loop moves itself, and
// when an iteration would wait for a timer, the poll step looks for I/O
// without blocking and, if there is none, jumps the clock to that timer.
// sleep(10) then takes no real time, and timers fire in exactly the order
// and at exactly the loop times they were scheduled for, whatever the load
// on the machine. Real I/O still works (it is polled each step), but time
// only moves when nothing else is ready: use the real loop where the real
// clock is the point (timeouts around I/O, worker threads, child processes).
import { EventLoop } from '../src/loop.js';
import type { EventLoopOptions } from '../src/loop.js';

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

  protected override _poll(timeout: number | null): void {
    // No timer due (null): block for I/O as the real loop does.
    if (timeout === null) return super._poll(null);
    const before = this._ready.length;
    super._poll(0);
    // Nothing became ready: the loop would have slept until the next timer.
    if (this._ready.length === before && timeout > 0) this._clock += timeout;
  }
}
