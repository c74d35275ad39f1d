// The loop binding shared by the synchronization primitives and the queues
// (asyncio's mixins._LoopBoundMixin; a base class here, as JavaScript has no
// mixins, so the file is named for what it holds).
//
// A Lock or Queue can be created anywhere, even with no loop yet (at module
// level, in a constructor); it binds to the running loop the first time it
// has to wait, and refuses to be waited on from another loop afterwards: its
// waiters are that loop's Futures, which another loop would never resume.

import { RuntimeError } from './errors.js';
import { getRunningLoop } from './events.js';
import type { AbstractEventLoop } from './events.js';

/** @internal Base class of Lock, Event, Condition, Semaphore, Barrier and Queue. */
export class LoopBound {
  /** @internal The loop this object's waiters belong to; null until the first wait. */
  _loop: AbstractEventLoop | null = null;

  /**
   * @internal The running loop, binding this object to it on first use.
   * @throws RuntimeError when no loop is running, or when this object is
   *   already bound to another loop.
   */
  _getLoop(): AbstractEventLoop {
    const loop = getRunningLoop();
    if (this._loop === null) this._loop = loop;
    else if (this._loop !== loop) throw new RuntimeError(`${String(this)} is bound to a different event loop`);
    return loop;
  }
}
