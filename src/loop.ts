// EventLoop, the public loop class, and the functions that make and find
// loops (asyncio's event loop policy, without the policy object).

import { BaseEventLoop } from './base_events.js';
import { _getRunningLoop, _getSetLoop, _setSetLoop } from './events.js';
import type { AbstractEventLoop } from './events.js';
import { UnixEventLoop } from './unix_events.js';
import type { SelectorLoopOptions } from './selector_events.js';

/** Options of newEventLoop / new EventLoop (and of run(), through RunnerOptions). */
export interface EventLoopOptions extends SelectorLoopOptions {
  /**
   * Start in debug mode (setDebug). Default: on when the environment
   * variable COIO_DEBUG is set to anything but '' or '0' (asyncio's
   * PYTHONASYNCIODEBUG), else off.
   */
  debug?: boolean;
}

/**
 * The event loop: scheduling and timers (BaseEventLoop), readiness I/O over a
 * selector (BaseSelectorEventLoop), sockets, servers and connections
 * (NetworkEventLoop), signals, threads, pipes and subprocesses
 * (UnixEventLoop). One per thread at a time may run.
 */
export class EventLoop extends UnixEventLoop {
  /**
   * Prefer newEventLoop(options).
   * @throws as newEventLoop.
   */
  constructor(options: EventLoopOptions = {}) {
    super(options);
    if (options.debug ?? DEBUG_FROM_ENV) this.setDebug(true);
  }
}

/** COIO_DEBUG=1: loops start in debug mode unless their options say otherwise. */
const DEBUG_FROM_ENV = (process.env.COIO_DEBUG ?? '') !== '' && process.env.COIO_DEBUG !== '0';

/**
 * A new loop; `newEventLoop({ selector: 'poll' })` picks the backend.
 * @throws RangeError for an unknown or unavailable backend; an Error with
 *   code (e.g. EMFILE) if the poller cannot be created.
 */
export function newEventLoop(options: EventLoopOptions = {}): EventLoop {
  return new EventLoop(options);
}

/**
 * The running loop; outside one, the loop set with setEventLoop; if none is
 * set, a new loop, which becomes the set loop (so later calls return it).
 * Never throws, except as newEventLoop when it makes one.
 */
export function getEventLoop(): AbstractEventLoop {
  const loop = _getRunningLoop() ?? _getSetLoop();
  if (loop !== null) return loop;
  const created = newEventLoop();
  _setSetLoop(created);
  return created;
}

/**
 * Make `loop` the current loop of this thread (null: none).
 * @throws TypeError if loop is neither an event loop nor null.
 */
export function setEventLoop(loop: BaseEventLoop | null): void {
  if (loop !== null && !(loop instanceof BaseEventLoop)) throw new TypeError('setEventLoop: an event loop or null is required');
  _setSetLoop(loop);
}
