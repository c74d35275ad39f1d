// Task: stepping a coroutine, awaiting, cancellation, names, currentTask /
// allTasks, sleep, ensureFuture (after CPython's test_tasks.py). On a
// virtual clock (test_loop.ts): the sleeps here only order the tasks,
// nothing waits for real time.
import { describe, expect, test } from 'vitest';
import { CancelledError, InvalidStateError, RuntimeError } from '../src/errors.js';
import { getRunningLoop } from '../src/events.js';
import { Future } from '../src/futures.js';
import { newEventLoop } from '../src/loop.js';
import { allTasks, createTask, currentTask, ensureFuture, isCoroutine, sleep, Task } from '../src/tasks.js';
import type { Coroutine } from '../src/tasks.js';
import { after, runBriefly, takeErrors, thrown, thrownBy, useCoreLoop } from './core_helpers.js';

describe('Task', () => {
  const core = useCoreLoop({ virtualClock: true });

  test('runs its coroutine and takes its result', () => {
    function* notMuch(): Coroutine<string> {
      yield;
      return 'ko';
    }
    const t = core.loop.createTask(notMuch());
    expect(t).toBeInstanceOf(Task);
    expect(t).toBeInstanceOf(Future);
    expect(t.getLoop()).toBe(core.loop);
    expect(core.loop.runUntilComplete(t)).toBe('ko');
    expect(t.done()).toBe(true);
    expect(t.result()).toBe('ko');
  });

  test('starts on the next iteration, not inline', () => {
    const log: string[] = [];
    core.run(function* () {
      createTask(
        (function* () {
          log.push('child');
        })(),
      );
      log.push('parent');
      yield;
      log.push('parent again');
    });
    expect(log).toEqual(['parent', 'child', 'parent again']);
  });

  test('the coroutine exception becomes the task exception', () => {
    const err = new Error('inner');
    const t = core.loop.createTask(
      (function* (): Coroutine<never> {
        yield;
        throw err;
      })(),
    );
    expect(thrown(() => core.loop.runUntilComplete(t))).toBe(err);
    expect(t.exception()).toBe(err);
  });

  test('setResult / setException are not for Tasks', () => {
    const t = core.loop.createTask(after(0, 1));
    expect(thrown(() => t.setResult(2))).toBeInstanceOf(RuntimeError);
    expect(thrown(() => t.setException(new Error()))).toBeInstanceOf(RuntimeError);
    core.loop.runUntilComplete(t);
  });

  test('a non-coroutine is a TypeError', () => {
    expect(thrown(() => core.loop.createTask({ next() {} } as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => core.loop.createTask(42 as never))).toBeInstanceOf(TypeError);
    // A function is called on the Task's first step (an async function is
    // welcome, test/async_functions.test.ts): one returning no awaitable fails the Task.
    const t = core.loop.createTask((() => 1) as never);
    expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(TypeError);
  });

  test('names: Task-N by default, settable, or given', () => {
    const a = core.loop.createTask(after(0, 1));
    const b = core.loop.createTask(after(0, 1), { name: 'custom' });
    const n = Number(/^Task-(\d+)$/.exec(a.getName())![1]);
    const c = core.loop.createTask(after(0, 1));
    expect(c.getName()).toBe(`Task-${n + 1}`);
    expect(b.getName()).toBe('custom');
    c.setName(42);
    expect(c.getName()).toBe('42');
    expect(String(b)).toBe('<Task pending name="custom">');
    core.run(function* () {
      yield* a;
      yield* b;
      yield* c;
    });
    expect(String(b)).toBe('<Task finished result=1 name="custom">');
  });

  test('getCoro', () => {
    const coro = after(0, 1);
    const t = core.loop.createTask(coro);
    expect(t.getCoro()).toBe(coro);
    core.loop.runUntilComplete(t);
  });

  test('awaiting a Future resumes with its result', () => {
    const fut = core.loop.createFuture<number>();
    core.loop.callLater(0.001, () => fut.setResult(7));
    expect(
      core.run(function* () {
        const v = yield* fut;
        return v * 6;
      }),
    ).toBe(42);
  });

  test('awaiting a failed Future throws at the yield*', () => {
    const fut = core.loop.createFuture<number>();
    const err = new Error('x');
    core.loop.callSoon(() => fut.setException(err));
    expect(
      core.run(function* () {
        return yield* thrownBy(fut);
      }),
    ).toBe(err);
  });

  test('awaiting another Task', () => {
    expect(
      core.run(function* () {
        const t = createTask(after(3, 'child'));
        return (yield* t) + '!';
      }),
    ).toBe('child!');
  });

  test('yield* chains 1,000 levels deep, suspending at the bottom', () => {
    function* level(n: number): Coroutine<number> {
      if (n === 0) {
        yield* sleep(0);
        const fut = getRunningLoop().createFuture<number>();
        getRunningLoop().callSoon(() => fut.setResult(1));
        return yield* fut;
      }
      return 1 + (yield* level(n - 1));
    }
    expect(core.run(level(1000))).toBe(1001);
  });

  test('an exception crosses a 1,000-level chain', () => {
    function* level(n: number): Coroutine<number> {
      if (n === 0) {
        yield;
        throw new RangeError('deep');
      }
      return yield* level(n - 1);
    }
    expect(thrown(() => core.run(level(1000)))).toBeInstanceOf(RangeError);
  });

  describe('bad yields', () => {
    test('yielding a value that is not a Future throws a TypeError into the coroutine', () => {
      const caught = core.run(function* () {
        try {
          yield 42;
        } catch (e) {
          return e;
        }
        return null;
      });
      expect(caught).toBeInstanceOf(TypeError);
      expect((caught as Error).message).toMatch(/bad yield: 42/);
    });

    test('`yield fut` instead of `yield* fut` is a TypeError', () => {
      const fut = core.loop.createFuture();
      const caught = core.run(function* () {
        try {
          yield fut;
        } catch (e) {
          return e;
        }
        return null;
      });
      expect((caught as Error).message).toMatch(/yield was used instead of yield\*/);
      fut.cancel();
    });

    test('a Future of another loop is a RuntimeError', () => {
      const other = newEventLoop();
      try {
        const fut = other.createFuture();
        const caught = core.run(function* () {
          return yield* thrownBy(fut);
        });
        expect((caught as Error).message).toMatch(/attached to a different loop/);
      } finally {
        other.close();
      }
    });

    test('a task awaiting itself is a RuntimeError', () => {
      let t!: Task<unknown>;
      t = core.loop.createTask(
        (function* (): Coroutine<unknown> {
          return yield* thrownBy(t);
        })(),
      );
      expect((core.loop.runUntilComplete(t) as Error).message).toMatch(/cannot await on itself/);
    });

    test('the coroutine may go on after a bad yield', () => {
      expect(
        core.run(function* () {
          try {
            yield 'oops';
          } catch {
            // ignored
          }
          yield* sleep(0);
          return 'fine';
        }),
      ).toBe('fine');
    });
  });

  describe('cancellation', () => {
    test('of a sleeping task: CancelledError at its suspension point', () => {
      const log: string[] = [];
      const t = core.loop.createTask(
        (function* () {
          try {
            yield* sleep(10);
          } finally {
            log.push('finally');
          }
        })(),
      );
      core.loop.callLater(0.001, () => t.cancel());
      expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      expect(log).toEqual(['finally']);
    });

    test('before the first step: the coroutine never runs', () => {
      const log: string[] = [];
      const t = core.loop.createTask(
        (function* () {
          log.push('ran');
          yield;
        })(),
      );
      t.cancel();
      expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
      expect(log).toEqual([]);
    });

    test('with a message, seen by the coroutine and by the awaiter', () => {
      let inner: unknown;
      const t = core.loop.createTask(
        (function* () {
          try {
            yield* sleep(10);
          } catch (e) {
            inner = e;
            throw e;
          }
        })(),
      );
      core.loop.callSoon(() => t.cancel('my message'));
      const outer = thrown(() => core.loop.runUntilComplete(t)) as CancelledError;
      expect(outer).toBeInstanceOf(CancelledError);
      expect((inner as CancelledError).message).toBe('my message');
      expect(outer).toBe(inner);
      expect(thrown(() => t.result())).toBe(inner);
    });

    test('of a task awaiting a Future cancels the Future', () => {
      const fut = core.loop.createFuture();
      const t = core.loop.createTask(
        (function* () {
          yield* fut;
        })(),
      );
      runBriefly(core.loop);
      expect(t._futWaiter).toBe(fut);
      expect(t.cancel()).toBe(true);
      expect(fut.cancelled()).toBe(true);
      expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
    });

    test('of a bare yield', () => {
      const t = core.loop.createTask(
        (function* () {
          yield;
          yield;
          return 'not reached';
        })(),
      );
      runBriefly(core.loop);
      t.cancel();
      expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
    });

    test('a coroutine that catches CancelledError goes on, and its result stands', () => {
      const fut = core.loop.createFuture();
      const t = core.loop.createTask(
        (function* () {
          try {
            yield* fut;
          } catch (e) {
            if (!(e instanceof CancelledError)) throw e;
          }
          yield* sleep(0);
          return 42;
        })(),
      );
      core.loop.callSoon(() => t.cancel());
      expect(core.loop.runUntilComplete(t)).toBe(42);
      expect(t.cancelled()).toBe(false);
      expect(fut.cancelled()).toBe(true);
      expect(t.cancelling()).toBe(1);
    });

    test('a task that ignores cancellation and awaits something else', () => {
      const f1 = core.loop.createFuture<number>();
      const f2 = core.loop.createFuture<number>();
      const t = core.loop.createTask(
        (function* () {
          try {
            yield* f1;
          } catch {
            // ignore the cancellation
          }
          return yield* f2;
        })(),
      );
      core.loop.callSoon(() => {
        t.cancel();
        core.loop.callSoon(() => core.loop.callSoon(() => f2.setResult(3)));
      });
      expect(core.loop.runUntilComplete(t)).toBe(3);
    });

    test('a task cancelling itself: the next await throws at once', () => {
      const log: string[] = [];
      let t!: Task<number>;
      t = core.loop.createTask(
        (function* (): Coroutine<number> {
          t.cancel();
          log.push('after cancel');
          yield* sleep(100); // cancelled immediately: the sleep's Future is cancelled on arrival
          return 12;
        })(),
      );
      const t0 = core.loop.time();
      expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
      expect(core.loop.time() - t0).toBeLessThan(5);
      expect(log).toEqual(['after cancel']);
    });

    test('cancel() just before the coroutine returns: the task ends cancelled', () => {
      let t!: Task<number>;
      t = core.loop.createTask(
        (function* (): Coroutine<number> {
          yield;
          t.cancel();
          return 12;
        })(),
      );
      expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
    });

    test('cancel() of a done task is false', () => {
      const t = core.loop.createTask(after(0, 1));
      core.loop.runUntilComplete(t);
      expect(t.cancel()).toBe(false);
      expect(t.cancelling()).toBe(0);
    });

    test('cancelling() counts requests; uncancel() takes them back', () => {
      const t = core.loop.createTask(
        (function* () {
          try {
            yield* sleep(10);
          } catch (e) {
            if (!(e instanceof CancelledError)) throw e;
          }
          const me = currentTask()!;
          return [me.cancelling(), me.uncancel(), me.uncancel(), me.uncancel()];
        })(),
      );
      runBriefly(core.loop);
      expect(t.cancelling()).toBe(0);
      t.cancel();
      t.cancel();
      expect(t.cancelling()).toBe(2);
      expect(core.loop.runUntilComplete(t)).toEqual([2, 1, 0, 0]);
    });

    test('uncancel() down to 0 also withdraws a cancellation not yet delivered (asyncio 3.13)', () => {
      const t = core.loop.createTask(
        (function* () {
          const me = currentTask()!;
          // Running: no awaited Future to cancel, so the request waits for the next await.
          me.cancel();
          me.cancel();
          expect(me.uncancel()).toBe(1);
          // One request remains: it is still delivered.
          expect(yield* thrownBy(sleep(0))).toBeInstanceOf(CancelledError);
          me.cancel();
          expect(me.uncancel()).toBe(1);
          expect(me.uncancel()).toBe(0);
          // None remains: the next await is not cancelled.
          yield* sleep(0.001);
          return 'not cancelled';
        })(),
      );
      expect(core.loop.runUntilComplete(t)).toBe('not cancelled');
    });

    test('cancelling a task cancels the task it awaits', () => {
      const inner = core.loop.createTask(
        (function* () {
          yield* sleep(10);
        })(),
      );
      const outer = core.loop.createTask(
        (function* () {
          yield* inner;
        })(),
      );
      runBriefly(core.loop, 2);
      outer.cancel();
      expect(thrown(() => core.loop.runUntilComplete(outer))).toBeInstanceOf(CancelledError);
      expect(inner.cancelled()).toBe(true);
    });

    test('an inner task that refuses cancellation keeps the outer waiting for its result', () => {
      const inner = core.loop.createTask(
        (function* () {
          try {
            yield* sleep(10);
          } catch {
            // refuse
          }
          return 'inner done';
        })(),
      );
      const outer = core.loop.createTask(
        (function* () {
          return yield* inner;
        })(),
      );
      runBriefly(core.loop, 2);
      outer.cancel();
      expect(core.loop.runUntilComplete(outer)).toBe('inner done');
      expect(outer.cancelled()).toBe(false);
    });

    test('finally blocks may still await after a cancellation', () => {
      const log: string[] = [];
      const t = core.loop.createTask(
        (function* () {
          try {
            yield* sleep(10);
          } finally {
            yield* sleep(0.001);
            log.push('cleaned up');
          }
        })(),
      );
      core.loop.callSoon(() => t.cancel());
      expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
      expect(log).toEqual(['cleaned up']);
    });

    test('a CancelledError raised by the coroutine itself cancels the task', () => {
      const t = core.loop.createTask(
        (function* (): Coroutine<never> {
          yield;
          throw new CancelledError('by itself');
        })(),
      );
      expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
    });
  });

  describe('currentTask and allTasks', () => {
    test('currentTask is the running task, null between steps', () => {
      expect(currentTask(core.loop)).toBeNull();
      let seen: unknown;
      const t = core.loop.createTask(
        (function* () {
          seen = currentTask();
          yield;
          expect(currentTask()).toBe(seen);
        })(),
      );
      core.loop.runUntilComplete(t);
      expect(seen).toBe(t);
      expect(currentTask(core.loop)).toBeNull();
    });

    test('currentTask with interleaved tasks', () => {
      const seen: [string, string][] = [];
      function* co(name: string): Coroutine<void> {
        for (let i = 0; i < 2; i++) {
          seen.push([name, currentTask()!.getName()]);
          yield* sleep(0);
        }
      }
      core.run(function* () {
        const a = createTask(co('a'), { name: 'a' });
        const b = createTask(co('b'), { name: 'b' });
        yield* a;
        yield* b;
      });
      expect(seen).toEqual([
        ['a', 'a'],
        ['b', 'b'],
        ['a', 'a'],
        ['b', 'b'],
      ]);
    });

    test('currentTask() outside a running loop is a RuntimeError', () => {
      expect(thrown(() => currentTask())).toBeInstanceOf(RuntimeError);
    });

    test('allTasks lists the pending tasks only', () => {
      const a = core.loop.createTask(after(1, 'a'));
      const b = core.loop.createTask(after(5, 'b'));
      expect(allTasks(core.loop)).toEqual(new Set([a, b]));
      core.loop.runUntilComplete(a);
      expect(allTasks(core.loop)).toEqual(new Set([b]));
      const inside = core.run(function* () {
        return allTasks();
      });
      expect(inside.has(b)).toBe(true);
      core.loop.runUntilComplete(b);
      expect(allTasks(core.loop).size).toBe(0);
    });
  });

  describe('sleep', () => {
    test('returns its value after at least the delay', () => {
      const t0 = core.loop.time();
      expect(core.run(sleep(0.02, 'v'))).toBe('v');
      expect(core.loop.time() - t0).toBeGreaterThanOrEqual(0.02);
    });

    test('sleep(0) gives exactly one loop iteration, without a timer', () => {
      const log: string[] = [];
      core.run(function* () {
        core.loop.callSoon(() => log.push('callback 1'));
        const s = sleep(0, 'x');
        expect(core.loop._scheduled.length).toBe(0);
        log.push('before');
        expect(yield* s).toBe('x');
        log.push('after');
        core.loop.callSoon(() => log.push('callback 2'));
        yield* sleep(-1);
        log.push('after 2');
      });
      expect(log).toEqual(['before', 'callback 1', 'after', 'callback 2', 'after 2']);
    });

    test('sleep(0) is a coroutine: it can be a Task of its own', () => {
      expect(isCoroutine(sleep(0))).toBe(true);
      expect(core.loop.runUntilComplete(core.loop.createTask(sleep(0, 5)))).toBe(5);
    });

    test('cancelling a sleep cancels its timer', () => {
      const t = core.loop.createTask(sleep(10));
      runBriefly(core.loop);
      expect(core.loop._scheduled.toArray().filter((h) => !h.cancelled()).length).toBe(1);
      t.cancel();
      expect(thrown(() => core.loop.runUntilComplete(t))).toBeInstanceOf(CancelledError);
      expect(core.loop._scheduled.toArray().filter((h) => !h.cancelled()).length).toBe(0);
    });

    test('NaN is a TypeError', () => {
      expect(thrown(() => sleep(NaN))).toBeInstanceOf(TypeError);
    });

    test('sleeps wake in deadline order', () => {
      const order: number[] = [];
      core.run(function* () {
        const ts = [0.03, 0.01, 0.02].map((d) =>
          createTask(
            (function* () {
              yield* sleep(d);
              order.push(d);
            })(),
          ),
        );
        for (const t of ts) yield* t;
      });
      expect(order).toEqual([0.01, 0.02, 0.03]);
    });
  });

  describe('ensureFuture', () => {
    test('a Future is returned as is', () => {
      const f = core.loop.createFuture();
      expect(ensureFuture(f)).toBe(f);
      expect(ensureFuture(f, core.loop)).toBe(f);
      const other = newEventLoop();
      try {
        expect(thrown(() => ensureFuture(f, other))).toBeInstanceOf(RangeError);
      } finally {
        other.close();
      }
      f.cancel();
    });

    test('a coroutine becomes a Task of the given loop', () => {
      const t = ensureFuture(after(1, 'x'), core.loop);
      expect(t).toBeInstanceOf(Task);
      expect(core.loop.runUntilComplete(t)).toBe('x');
    });

    test('anything else is a TypeError', () => {
      expect(thrown(() => ensureFuture('x' as never, core.loop))).toBeInstanceOf(TypeError);
      expect(thrown(() => ensureFuture({ then: 1 } as never, core.loop))).toBeInstanceOf(TypeError);
      // (A promise becomes a PromiseFuture: test/async_functions.test.ts.)
    });

    test('no loop given, none running or set: a RuntimeError', () => {
      const coro = after(0, 1);
      expect(thrown(() => ensureFuture(coro))).toBeInstanceOf(RuntimeError);
    });
  });

  test('isCoroutine: generator objects only', () => {
    function* g(): Coroutine<void> {}
    expect(isCoroutine(g())).toBe(true);
    expect(isCoroutine(g)).toBe(false);
    expect(isCoroutine(core.loop.createFuture())).toBe(false);
    expect(isCoroutine([1, 2][Symbol.iterator]())).toBe(false);
    expect(isCoroutine(null)).toBe(false);
  });

  test('a step on a done task is an InvalidStateError reported to the handler', () => {
    const t = core.loop.createTask(after(0, 1));
    core.loop.runUntilComplete(t);
    t._run();
    const [ctx] = takeErrors(core);
    expect(ctx!.exception).toBeInstanceOf(InvalidStateError);
  });

  test('tasks left pending at close are reported, and their finally blocks run', () => {
    const log: string[] = [];
    core.loop.createTask(
      (function* () {
        try {
          yield* sleep(10);
        } finally {
          log.push('closed');
        }
      })(),
      { name: 'orphan' },
    );
    runBriefly(core.loop);
    core.loop._scheduled.toArray().forEach((h) => h.cancel());
    core.loop.close();
    expect(log).toEqual(['closed']);
    const [ctx] = takeErrors(core);
    expect(ctx!.message).toBe('Task was destroyed but it is pending!');
    expect((ctx!.task as Task).getName()).toBe('orphan');
  });

  test('the loop that runs a coroutine task is the running loop inside it', () => {
    expect(
      core.run(function* () {
        return getRunningLoop();
      }),
    ).toBe(core.loop);
  });
});
