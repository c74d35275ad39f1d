// EventLoop, the public loop class, and the functions that make and find
// loops (asyncio's event loop policy, without the policy object).

import { BaseEventLoop } from './base_events.js';
import { _getRunningLoop, _getSetLoop, _setSetLoop } from './events.js';
import { UnixEventLoop } from './unix_events.js';
import type { SelectorLoopOptions } from './selector_events.js';

export interface EventLoopOptions extends SelectorLoopOptions {
  /** Start in debug mode (setDebug). */
  debug?: boolean;
}

/**
 * The event loop: scheduling and timers (BaseEventLoop), readiness I/O over a
 * selector (BaseSelectorEventLoop), sockets, servers and connections
 * (NetworkEventLoop), signals, threads, pipes and subprocesses
 * (UnixEventLoop). One per thread at a time may run.
 */
export class EventLoop extends UnixEventLoop {
  constructor(options: EventLoopOptions = {}) {
    super(options);
    if (options.debug !== undefined) this.setDebug(options.debug);
  }
}

/** A new loop; `newEventLoop({ selector: 'poll' })` picks the backend. */
export function newEventLoop(options: EventLoopOptions = {}): EventLoop {
  return new EventLoop(options);
}

/**
 * The running loop; outside one, the loop set with setEventLoop; if none is
 * set, a new loop, which becomes the set loop (so later calls return it).
 */
export function getEventLoop(): EventLoop {
  const loop = _getRunningLoop() ?? _getSetLoop();
  if (loop !== null) return loop as EventLoop;
  const created = newEventLoop();
  _setSetLoop(created);
  return created;
}

/** Make `loop` the current loop of this thread (null: none). */
export function setEventLoop(loop: BaseEventLoop | null): void {
  if (loop !== null && !(loop instanceof BaseEventLoop)) throw new TypeError('setEventLoop: an event loop or null is required');
  _setSetLoop(loop);
}
