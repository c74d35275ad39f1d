// timeout() / timeoutAt() (after CPython's test_timeouts.py).
import { describe, expect, test } from 'vitest';
import { CancelledError, RuntimeError, TimeoutError } from '../src/errors.js';
import { getRunningLoop } from '../src/events.js';
import { createTask, currentTask, sleep } from '../src/tasks.js';
import type { Coroutine } from '../src/tasks.js';
import type { Timeout } from '../src/timeouts.js';
import { timeout, timeoutAt } from '../src/timeouts.js';
import { runBriefly, thrown, thrownBy, useCoreLoop } from './core_helpers.js';

describe('timeout', () => {
  const core = useCoreLoop({ virtualClock: true });

  test('the body finishes in time: its result, and nothing left behind', () => {
    const r = core.run(function* () {
      return yield* timeout(1, function* () {
        yield* sleep(0.001);
        return 'done';
      });
    });
    expect(r).toBe('done');
    expect(core.loop._scheduled.toArray().filter((h) => !h.cancelled())).toEqual([]);
  });

  test('the deadline passes: TimeoutError (cause: the CancelledError), finally blocks ran, nothing left behind', () => {
    const log: string[] = [];
    const t0 = core.loop.time();
    const err = core.run(function* () {
      const e = yield* thrownBy(
        timeout(0.01, function* () {
          try {
            yield* sleep(10);
          } finally {
            log.push('finally');
          }
        }),
      );
      expect(currentTask()!.cancelling()).toBe(0);
      return e;
    });
    const elapsed = core.loop.time() - t0;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).cause).toBeInstanceOf(CancelledError);
    expect(log).toEqual(['finally']);
    expect(elapsed).toBeGreaterThanOrEqual(0.01);
    expect(elapsed).toBeLessThan(5);
    expect(core.loop._scheduled.toArray().filter((h) => !h.cancelled())).toEqual([]);
  });

  test('the task goes on normally after a timeout', () => {
    const r = core.run(function* () {
      yield* thrownBy(timeout(0.001, sleep(1)));
      yield* sleep(0.001);
      return 'still alive';
    });
    expect(r).toBe('still alive');
  });

  test('the body may be a coroutine object or a Future', () => {
    const r = core.run(function* () {
      const a = yield* timeout(1, sleep(0.001, 'co'));
      const fut = getRunningLoop().createFuture<string>();
      getRunningLoop().callSoon(() => fut.setResult('fut'));
      const b = yield* timeout(1, fut);
      const pending = getRunningLoop().createFuture<string>();
      const e = yield* thrownBy(timeout(0.001, pending));
      return [a, b, e, pending.cancelled()] as const;
    });
    expect(r.slice(0, 2)).toEqual(['co', 'fut']);
    expect(r[2]).toBeInstanceOf(TimeoutError);
    expect(r[3]).toBe(true);
  });

  test('null: no deadline', () => {
    expect(
      core.run(function* () {
        return yield* timeout(null, function* (t) {
          expect(t.when()).toBeNull();
          yield* sleep(0.001);
          return 1;
        });
      }),
    ).toBe(1);
  });

  test('an error in the body passes through untouched', () => {
    const err = new RangeError('inner');
    expect(
      core.run(function* () {
        return yield* thrownBy(
          timeout(1, function* () {
            yield;
            throw err;
          }),
        );
      }),
    ).toBe(err);
  });

  test('a cancellation from outside stays a CancelledError', () => {
    const t = core.loop.createTask(
      (function* () {
        yield* timeout(10, sleep(10));
      })(),
    );
    runBriefly(core.loop, 2);
    t.cancel();
    expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
  });

  test('expired(), when() and reschedule()', () => {
    core.run(function* () {
      let seen: Timeout | null = null;
      const e = yield* thrownBy(
        timeout(0.005, function* (t) {
          seen = t;
          expect(t.expired()).toBe(false);
          const when = t.when()!;
          expect(when).toBeGreaterThan(getRunningLoop().time());
          t.reschedule(when + 0.01); // a later deadline
          expect(t.when()).toBe(when + 0.01);
          const t0 = getRunningLoop().time();
          try {
            yield* sleep(10);
          } finally {
            expect(getRunningLoop().time() - t0).toBeGreaterThanOrEqual(0.01);
          }
        }),
      );
      expect(e).toBeInstanceOf(TimeoutError);
      expect(seen!.expired()).toBe(true);
      expect(String(seen)).toBe('<Timeout [expired]>');
      expect(thrown(() => seen!.reschedule(1))).toBeInstanceOf(RuntimeError);
    });
  });

  test('reschedule(null) disables the deadline; a past deadline expires on the next iteration', () => {
    core.run(function* () {
      const r = yield* timeout(0.001, function* (t) {
        t.reschedule(null);
        yield* sleep(0.005);
        return 'no deadline';
      });
      expect(r).toBe('no deadline');
      const e = yield* thrownBy(
        timeout(10, function* (t) {
          t.reschedule(getRunningLoop().time() - 1);
          yield* sleep(10);
        }),
      );
      expect(e).toBeInstanceOf(TimeoutError);
    });
  });

  test('a body that catches the cancellation and returns: its result, but expired() is true', () => {
    core.run(function* () {
      let t: Timeout | null = null;
      const r = yield* timeout(0.001, function* (tm) {
        t = tm;
        try {
          yield* sleep(10);
        } catch {
          return 'swallowed';
        }
        return 'not reached';
      });
      expect(r).toBe('swallowed');
      expect(t!.expired()).toBe(true);
    });
  });

  test('nested timeouts: the inner one expires first and only it raises', () => {
    core.run(function* () {
      const r = yield* timeout(1, function* () {
        const inner = yield* thrownBy(timeout(0.001, sleep(10)));
        expect(inner).toBeInstanceOf(TimeoutError);
        return 'outer ok';
      });
      expect(r).toBe('outer ok');
    });
  });

  test('nested timeouts: the outer one expires first, the inner stays a CancelledError inside', () => {
    core.run(function* () {
      let innerSaw: unknown = null;
      const e = yield* thrownBy(
        timeout(0.005, function* () {
          try {
            yield* timeout(10, sleep(10));
          } catch (err) {
            innerSaw = err;
            throw err;
          }
        }),
      );
      expect(innerSaw).toBeInstanceOf(CancelledError);
      expect(e).toBeInstanceOf(TimeoutError);
    });
  });

  test('timeoutAt: an absolute deadline in loop time', () => {
    core.run(function* () {
      const loop = getRunningLoop();
      const e = yield* thrownBy(timeoutAt(loop.time() + 0.005, sleep(10)));
      expect(e).toBeInstanceOf(TimeoutError);
      expect(yield* timeoutAt(loop.time() + 1, sleep(0, 'ok'))).toBe('ok');
    });
  });

  test('outside a task: a RuntimeError', () => {
    core.run(function* () {
      // A coroutine stepped by hand inside a running loop, outside any task's step.
      const loop = getRunningLoop();
      let err: unknown = null;
      loop.callSoon(() => {
        try {
          timeoutAt(null, sleep(0)).next();
        } catch (e) {
          err = e;
        }
      });
      yield* sleep(0);
      yield* sleep(0);
      expect(err).toBeInstanceOf(RuntimeError);
    });
  });

  test('two concurrent tasks with their own timeouts', () => {
    const r = core.run(function* () {
      function* worker(d: number): Coroutine<string> {
        try {
          return yield* timeout(0.01, sleep(d, 'ok'));
        } catch (e) {
          if (e instanceof TimeoutError) return 'timeout';
          throw e;
        }
      }
      const a = createTask(worker(0.001));
      const b = createTask(worker(10));
      return [yield* a, yield* b];
    });
    expect(r).toEqual(['ok', 'timeout']);
  });
});
