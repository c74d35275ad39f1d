// Shared by the tests of async functions and guest mode: running a
// main in either mode, and the checks that a run left nothing behind.
import { expect } from 'vitest';
import { allTasks, EventLoop, getRunningLoop, run, runGuest } from '../src/index.js';
import type { GuestOptions, Main } from '../src/index.js';
import { trackLoop } from './leaks.js';
import { TestLoop } from './test_loop.js';

/**
 * Call fn from a macrotask (a setImmediate callback). A vitest test body runs
 * inside a microtask, where the blocking loop cannot drain promise
 * continuations (it fails fast instead): blocking-mode tests of async
 * functions start their loop from here, as a CommonJS program or a
 * setImmediate callback would.
 */
export function macrotask<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    setImmediate(() => {
      try {
        resolve(fn());
      } catch (exc) {
        reject(exc);
      }
    });
  });
}

const baselines = new WeakMap<EventLoop, Set<number>>();

export type ModeName = 'blocking' | 'guest';

/** runIn's options: runGuest's, and whether the loop runs on a virtual clock. */
export interface RunInOptions extends GuestOptions {
  /** A TestLoop (test_loop.ts): coio's timers fire at once, in order, at exact loop times. */
  virtualClock?: boolean;
}

/**
 * How to run a main in each mode: run() from a macrotask, or runGuest().
 * Either way on a fresh loop of `backend` (a TestLoop with virtualClock),
 * tracked by test/leaks.ts (the file fails if one is left open), closed
 * afterwards.
 */
export function runIn<T>(mode: ModeName, backend: string, main: Main<T>, runOptions: RunInOptions = {}): Promise<T> {
  const { virtualClock = false, ...options } = runOptions;
  const loopFactory = (): EventLoop => {
    const loopOptions = { selector: backend as 'epoll' };
    const loop = trackLoop(virtualClock ? new TestLoop(loopOptions) : new EventLoop(loopOptions));
    // Runs before main's first step, after run() registered its own fds
    // (its Ctrl-C watcher): those are not main's to close.
    loop.callSoon(() => baselines.set(loop, new Set(loop._selector.getMap().keys())));
    return loop;
  };
  if (mode === 'guest') return runGuest(main, { ...options, loopFactory });
  return macrotask(() => run(main, { loopFactory }));
}


/**
 * End of a main: nothing may be left on the running loop but the main Task
 * itself: no other task, no live timer, no watched fd.
 */
export function expectNothingLeft(): void {
  const loop = getRunningLoop() as EventLoop;
  const base = baselines.get(loop) ?? new Set<number>();
  expect([...allTasks(loop)].length, 'tasks left pending').toBeLessThanOrEqual(1);
  expect(loop._scheduled.toArray().filter((t) => !t.cancelled()).map(String), 'timers left scheduled').toEqual([]);
  expect([...loop._selector.getMap().keys()].filter((fd) => !base.has(fd)), 'fds left watched').toEqual([]);
}

/** A promise settled after `ms` by Node's own timer (it only runs while Node's loop runs: guest mode, or between blocking runs). */
export function nodeDelay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
