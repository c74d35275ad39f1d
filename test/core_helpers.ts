// Shared by the core tests (futures, tasks, loop, combinators, ...): a fresh
// loop per test that records what reaches its exception handler, closed
// afterwards with a check that it left nothing behind.
import { afterEach, beforeEach, expect } from 'vitest';
import { newEventLoop } from '../src/loop.js';
import type { EventLoop, EventLoopOptions } from '../src/loop.js';
import type { ExceptionContext } from '../src/base_events.js';
import type { Awaitable, Coroutine } from '../src/tasks.js';
import { TestLoop } from './test_loop.js';

/** Options of useCoreLoop: the loop's, and whether it runs on a virtual clock (test_loop.ts). */
export interface CoreLoopOptions extends EventLoopOptions {
  /** A TestLoop: timers fire at once, in order, at exact loop times. */
  virtualClock?: boolean;
}

export interface CoreLoop {
  readonly loop: EventLoop;
  /** Contexts the loop's exception handler received during the test. */
  readonly errors: ExceptionContext[];
  /** runUntilComplete of an awaitable, or of what a function returns (a generator function's coroutine). */
  run<T>(main: Awaitable<T> | (() => Awaitable<T>)): T;
}

/**
 * A fresh loop for each test of the enclosing describe(). Afterwards it must
 * have no pending task, no live timer and no watched fd, and is closed;
 * `expectErrors` lets a test claim the handler contexts it caused (any left
 * unclaimed fail the test).
 */
export function useCoreLoop(options: CoreLoopOptions = {}): CoreLoop {
  const { virtualClock = false, ...loopOptions } = options;
  let loop: EventLoop | undefined;
  let errors: ExceptionContext[] = [];
  beforeEach(() => {
    loop = virtualClock ? new TestLoop(loopOptions) : newEventLoop(loopOptions);
    errors = [];
    loop.setExceptionHandler((_l, ctx) => {
      errors.push(ctx);
    });
  });
  afterEach(() => {
    const l = loop!;
    loop = undefined;
    try {
      if (!l.isClosed()) {
        expectLoopLeftNothing(l);
        l.close();
      }
      expect(errors.map((c) => c.message), 'unexpected exception handler calls').toEqual([]);
    } finally {
      if (!l.isClosed()) l.close();
    }
  });
  return {
    get loop() {
      return loop!;
    },
    get errors() {
      return errors;
    },
    run<T>(main: Awaitable<T> | (() => Awaitable<T>)): T {
      const aw = typeof main === 'function' ? main() : main;
      return loop!.runUntilComplete(aw as Coroutine<T>);
    },
  };
}

/**
 * The leak check after a test (useCoreLoop, and useLoop in helpers.ts): no
 * task pending, no timer live, no fd watched on `loop`.
 */
export function expectLoopLeftNothing(loop: EventLoop): void {
  expect([...loop._tasks].map(String), 'tasks still pending on the loop').toEqual([]);
  expect(loop._scheduled.toArray().filter((t) => !t.cancelled()).map(String), 'timers still pending on the loop').toEqual([]);
  expect([...loop._selector.getMap().keys()], 'fds still registered with the loop').toEqual([]);
}

/** Take (and so allow) the exception-handler contexts recorded so far. */
export function takeErrors(core: CoreLoop): ExceptionContext[] {
  return core.errors.splice(0);
}

/** Run exactly the callbacks ready now (and those due), `iterations` times. */
export function runBriefly(loop: EventLoop, iterations = 1): void {
  for (let i = 0; i < iterations; i++) {
    loop.callSoon(() => loop.stop());
    loop.runForever();
  }
}

/** A coroutine that returns `value` after `turns` loop iterations. */
export function* after<T>(turns: number, value: T): Coroutine<T> {
  for (let i = 0; i < turns; i++) yield;
  return value;
}

/** A coroutine that throws `error` after `turns` loop iterations. */
export function* failAfter(turns: number, error: unknown): Coroutine<never> {
  for (let i = 0; i < turns; i++) yield;
  throw error;
}

/** Catch what a synchronous call throws (for instanceof / message checks). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** Catch what an awaitable throws, from inside a coroutine. */
export function* thrownBy(aw: Awaitable<unknown>): Coroutine<unknown> {
  try {
    yield* aw;
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}
