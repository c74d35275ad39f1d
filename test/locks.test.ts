// Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier: the behaviour
// of CPython's Lib/test/test_asyncio/test_locks.py (written anew for
// generator coroutines; `await asyncio.sleep(0)` is `yield* sleep(0)`, one
// loop iteration), plus hold() and the loop binding.
import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  RuntimeError,
  TimeoutError,
  allTasks,
  createTask,
  currentTask,
  gather,
  getRunningLoop,
  newEventLoop,
  run,
  sleep,
  timeout,
  waitFor,
  wait,
} from '../src/index.js';
import type { ExceptionContext, Task } from '../src/index.js';
import { Barrier, BoundedSemaphore, BrokenBarrierError, Condition, Event, Lock, Semaphore } from '../src/locks.js';

type Co<T> = Generator<unknown, T, unknown>;

/**
 * Run a test body as the main task of a new loop (closed by run()). The body
 * must leave no other task behind, and the loop must report nothing.
 */
function runTest<T>(body: () => Co<T>): T {
  const reported: ExceptionContext[] = [];
  const result = run(function* () {
    getRunningLoop().setExceptionHandler((_loop, ctx) => void reported.push(ctx));
    const value = yield* body();
    const left = [...allTasks()].filter((t) => t !== currentTask());
    expect(left.map(String), 'tasks left by the test').toEqual([]);
    return value;
  });
  expect(reported.map((c) => c.message)).toEqual([]);
  return result;
}

const tick = (): Co<undefined> => sleep(0);

function* ticks(n: number): Co<void> {
  for (let i = 0; i < n; i++) yield* sleep(0);
}

/** Await a task that must end cancelled; returns its CancelledError. */
function* expectCancelled(task: Task<unknown>): Co<CancelledError> {
  try {
    yield* task;
  } catch (exc) {
    expect(exc).toBeInstanceOf(CancelledError);
    expect(task.cancelled()).toBe(true);
    return exc as CancelledError;
  }
  throw new Error(`${String(task)} was not cancelled`);
}

/** Await a task that must fail; returns its error. */
function* expectThrows(aw: Co<unknown> | Task<unknown>): Co<unknown> {
  try {
    yield* aw;
  } catch (exc) {
    return exc;
  }
  throw new Error('did not throw');
}

// ---------------------------------------------------------------------------

describe('Lock', () => {
  it('acquire() and release(); locked()', () => {
    runTest(function* () {
      const lock = new Lock();
      expect(lock.locked()).toBe(false);
      expect(yield* lock.acquire()).toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  it('wakes waiters one release at a time, in FIFO order', () => {
    runTest(function* () {
      const lock = new Lock();
      const result: number[] = [];
      expect(yield* lock.acquire()).toBe(true);
      function* c(n: number): Co<boolean> {
        if (yield* lock.acquire()) result.push(n);
        return true;
      }
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      yield* tick();
      expect(result).toEqual([]);

      lock.release();
      yield* tick();
      expect(result).toEqual([1]);
      yield* tick();
      expect(result).toEqual([1]);

      const t3 = createTask(c(3));
      lock.release();
      yield* tick();
      expect(result).toEqual([1, 2]);

      lock.release();
      yield* tick();
      expect(result).toEqual([1, 2, 3]);
      for (const t of [t1, t2, t3]) expect(t.result()).toBe(true);
      lock.release();
    });
  });

  it('a cancelled acquire leaves no waiter behind', () => {
    runTest(function* () {
      const lock = new Lock();
      yield* lock.acquire();
      const task = createTask(lock.acquire());
      getRunningLoop().callSoon(() => task.cancel());
      yield* expectCancelled(task);
      expect(lock._waiters?.length ?? 0).toBe(0);
      expect(lock.locked()).toBe(true);
      lock.release();
    });
  });

  it('cancel race: the next waiter gets the lock when a cancelled one is skipped', () => {
    runTest(function* () {
      // A holds the lock, B and C wait; then, in the same iteration, B is
      // cancelled and A releases: C must get the lock (CPython test_cancel_race).
      const lock = new Lock();
      function* lockit(blocker: Co<unknown> | null): Co<void> {
        yield* lock.acquire();
        try {
          if (blocker !== null) yield* blocker;
        } finally {
          lock.release();
        }
      }
      const fa = getRunningLoop().createFuture<void>();
      const ta = createTask(lockit(fa as unknown as Co<unknown>));
      yield* tick();
      expect(lock.locked()).toBe(true);
      const tb = createTask(lockit(null));
      yield* tick();
      expect(lock._waiters!.length).toBe(1);
      const tc = createTask(lockit(null));
      yield* tick();
      expect(lock._waiters!.length).toBe(2);

      fa.setResult();
      tb.cancel();
      expect(lock._waiters!.at(0)!.cancelled()).toBe(true);
      yield* tick();
      expect(lock.locked()).toBe(false);
      expect(ta.done()).toBe(true);
      expect(tb.cancelled()).toBe(true);
      yield* tc;
    });
  });

  it('cancel + release in one callback: only one waiter gets the lock (bpo-32734)', () => {
    runTest(function* () {
      const lock = new Lock();
      let lockCount = 0;
      let callCount = 0;
      function* lockit(): Co<void> {
        callCount++;
        yield* lock.acquire();
        lockCount++;
      }
      yield* lock.acquire();
      const t1 = createTask(lockit());
      const t2 = createTask(lockit());
      const t3 = createTask(lockit());
      yield* tick();
      getRunningLoop().callSoon(() => {
        t1.cancel();
        lock.release();
      });
      yield* expectCancelled(t1);
      expect(lockCount).toBe(1);
      expect(callCount).toBe(3);
      expect(t2.done()).toBe(true);
      t3.cancel();
      yield* tick();
      expect(t3.cancelled()).toBe(true);
    });
  });

  it('a waiter cancelled just after being woken passes the wakeup on', () => {
    runTest(function* () {
      const lock = new Lock();
      yield* lock.acquire();
      const tb = createTask(lock.acquire());
      yield* tick();
      expect(lock._waiters!.length).toBe(1);
      // A second waiter; wake the first (release) and cancel it before it runs.
      const tc = createTask(lock.acquire());
      tb.cancel();
      lock.release();
      yield* tick();
      expect(lock.locked()).toBe(true);
      expect(tb.cancelled()).toBe(true);
      yield* tc;
      expect(lock.locked()).toBe(true);
      lock.release();
    });
  });

  it('woken waiter cancelled after release(): the lock is not stranded', () => {
    runTest(function* () {
      const lock = new Lock();
      yield* lock.acquire();
      const tb = createTask(lock.acquire());
      const tc = createTask(lock.acquire());
      yield* tick();
      lock.release(); // wakes tb (its future is done) ...
      tb.cancel(); // ... and tb is cancelled before it runs
      yield* tick();
      expect(tb.cancelled()).toBe(true);
      yield* tick();
      expect(tc.done()).toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  it('is fair: a newcomer does not barge past a woken waiter', () => {
    runTest(function* () {
      const lock = new Lock();
      const order: string[] = [];
      yield* lock.acquire();
      const waiter = createTask(
        (function* () {
          yield* lock.acquire();
          order.push('waiter');
          lock.release();
        })(),
      );
      yield* tick();
      lock.release();
      // The waiter is woken but has not run: the lock looks free, yet a new
      // acquire queues behind the waiter.
      expect(lock.locked()).toBe(false);
      yield* lock.acquire();
      order.push('newcomer');
      lock.release();
      yield* waiter;
      expect(order).toEqual(['waiter', 'newcomer']);
    });
  });

  it('100 waiters acquire in arrival order', () => {
    runTest(function* () {
      const lock = new Lock();
      const order: number[] = [];
      yield* lock.acquire();
      const tasks = Array.from({ length: 100 }, (_, i) =>
        createTask(
          lock.hold(function* () {
            order.push(i);
            yield* tick();
          }),
        ),
      );
      yield* tick();
      lock.release();
      yield* gather(...tasks);
      expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i));
      expect(lock.locked()).toBe(false);
    });
  });

  it('release() of an unlocked lock throws RuntimeError', () => {
    const lock = new Lock();
    expect(() => lock.release()).toThrow(RuntimeError);
    expect(() => lock.release()).toThrow('Lock is not acquired.');
  });

  it('toString shows the state and the waiters', () => {
    runTest(function* () {
      const lock = new Lock();
      expect(String(lock)).toBe('<Lock [unlocked]>');
      yield* lock.acquire();
      expect(String(lock)).toBe('<Lock [locked]>');
      const t = createTask(lock.acquire());
      yield* tick();
      expect(String(lock)).toBe('<Lock [locked, waiters:1]>');
      t.cancel();
      yield* expectCancelled(t);
      lock.release();
    });
  });

  it('binds to the first loop it waits on and refuses another', () => {
    const lock = new Lock();
    run(function* () {
      yield* lock.acquire(); // fast path: no binding yet
      const t = createTask(lock.acquire()); // waits: binds to this loop
      yield* tick();
      lock.release();
      yield* t;
    });
    expect(lock.locked()).toBe(true);
    const err = run(function* () {
      return yield* expectThrows(lock.acquire());
    });
    expect(err).toBeInstanceOf(RuntimeError);
    expect(String(err)).toMatch(/bound to a different event loop/);
  });

  it('waiting outside a running loop throws RuntimeError', () => {
    const lock = new Lock();
    run(function* () {
      yield* lock.acquire();
    });
    const gen = lock.acquire();
    expect(() => gen.next()).toThrow(RuntimeError);
  });
});

describe('hold()', () => {
  it('holds the lock for the body and returns its result', () => {
    runTest(function* () {
      const lock = new Lock();
      const r = yield* lock.hold(function* () {
        expect(lock.locked()).toBe(true);
        yield* tick();
        return 42;
      });
      expect(r).toBe(42);
      expect(lock.locked()).toBe(false);
    });
  });

  it('accepts a coroutine object as the body', () => {
    runTest(function* () {
      const lock = new Lock();
      function* body(): Co<string> {
        expect(lock.locked()).toBe(true);
        yield* tick();
        return 'done';
      }
      expect(yield* lock.hold(body())).toBe('done');
      expect(lock.locked()).toBe(false);
    });
  });

  it('releases when the body throws, and rethrows', () => {
    runTest(function* () {
      const lock = new Lock();
      const err = yield* expectThrows(
        lock.hold(function* () {
          yield* tick();
          throw new Error('boom');
        }),
      );
      expect((err as Error).message).toBe('boom');
      expect(lock.locked()).toBe(false);
    });
  });

  it('releases when the task is cancelled inside the body', () => {
    runTest(function* () {
      const lock = new Lock();
      let cleanedUp = false;
      const t = createTask(
        lock.hold(function* () {
          try {
            yield* sleep(10);
          } finally {
            cleanedUp = true;
          }
        }),
      );
      yield* tick();
      expect(lock.locked()).toBe(true);
      t.cancel();
      yield* expectCancelled(t);
      expect(cleanedUp).toBe(true);
      expect(lock.locked()).toBe(false);
    });
  });

  it('a task cancelled while waiting never runs the body, and the lock goes on', () => {
    runTest(function* () {
      const lock = new Lock();
      const ran: string[] = [];
      yield* lock.acquire();
      const a = createTask(lock.hold(function* () { ran.push('a'); }));
      const b = createTask(lock.hold(function* () { ran.push('b'); }));
      yield* tick();
      a.cancel();
      lock.release();
      yield* expectCancelled(a);
      yield* b;
      expect(ran).toEqual(['b']);
      expect(lock.locked()).toBe(false);
    });
  });

  it('with a timeout around it: TimeoutError, lock released', () => {
    runTest(function* () {
      const lock = new Lock();
      const err = yield* expectThrows(timeout(0.005, lock.hold(function* () { yield* sleep(10); })));
      expect(err).toBeInstanceOf(TimeoutError);
      expect(lock.locked()).toBe(false);
    });
  });

  it('rejects a body that is not a generator function or coroutine, without taking the lock', () => {
    runTest(function* () {
      const lock = new Lock();
      const err = yield* expectThrows(lock.hold(42 as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(lock.locked()).toBe(false);
    });
  });

  it('works on Condition, Semaphore and BoundedSemaphore', () => {
    runTest(function* () {
      for (const prim of [new Condition(), new Semaphore(), new BoundedSemaphore()]) {
        expect(prim.locked()).toBe(false);
        const r = yield* prim.hold(function* () {
          expect(prim.locked()).toBe(true);
          yield* tick();
          return 'ok';
        });
        expect(r).toBe('ok');
        expect(prim.locked()).toBe(false);
        yield* expectThrows(prim.hold(function* () { throw new Error('x'); }));
        expect(prim.locked()).toBe(false);
      }
    });
  });
});

// ---------------------------------------------------------------------------

describe('Event', () => {
  it('wait() wakes every waiter on set()', () => {
    runTest(function* () {
      const ev = new Event();
      expect(ev.isSet()).toBe(false);
      const result: number[] = [];
      function* c(n: number): Co<void> {
        if (yield* ev.wait()) result.push(n);
      }
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      yield* tick();
      expect(result).toEqual([]);
      const t3 = createTask(c(3));
      ev.set();
      yield* tick();
      expect(result).toEqual([3, 1, 2]);
      for (const t of [t1, t2, t3]) expect(t.result()).toBeUndefined();
    });
  });

  it('wait() on a set event returns true at once', () => {
    runTest(function* () {
      const ev = new Event();
      ev.set();
      expect(yield* ev.wait()).toBe(true);
    });
  });

  it('a cancelled wait leaves no waiter', () => {
    runTest(function* () {
      const ev = new Event();
      const w = createTask(ev.wait());
      getRunningLoop().callSoon(() => w.cancel());
      yield* expectCancelled(w);
      expect(ev._waiters.length).toBe(0);
    });
  });

  it('clear()', () => {
    const ev = new Event();
    ev.set();
    expect(ev.isSet()).toBe(true);
    ev.clear();
    expect(ev.isSet()).toBe(false);
  });

  it('a waiter woken by set() returns true even if clear() came before it ran', () => {
    runTest(function* () {
      const ev = new Event();
      const result: number[] = [];
      const t = createTask(
        (function* () {
          if (yield* ev.wait()) result.push(1);
          return true;
        })(),
      );
      yield* tick();
      expect(result).toEqual([]);
      ev.set();
      ev.clear();
      expect(ev.isSet()).toBe(false);
      ev.set();
      ev.set();
      expect(ev._waiters.length).toBe(1);
      yield* tick();
      expect(result).toEqual([1]);
      expect(ev._waiters.length).toBe(0);
      expect(t.result()).toBe(true);
    });
  });

  it('toString', () => {
    const ev = new Event();
    expect(String(ev)).toBe('<Event [unset]>');
    ev.set();
    expect(String(ev)).toBe('<Event [set]>');
  });
});

// ---------------------------------------------------------------------------

describe('Condition', () => {
  it('wait() and notify(n): waiters resume one by one as the lock is released', () => {
    runTest(function* () {
      const cond = new Condition();
      const result: number[] = [];
      function* c(n: number): Co<boolean> {
        yield* cond.acquire();
        if (yield* cond.wait()) result.push(n);
        return true;
      }
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      const t3 = createTask(c(3));
      yield* tick();
      expect(result).toEqual([]);
      expect(cond.locked()).toBe(false);

      expect(yield* cond.acquire()).toBe(true);
      cond.notify();
      yield* tick();
      expect(result).toEqual([]);
      expect(cond.locked()).toBe(true);

      cond.release();
      yield* tick();
      expect(result).toEqual([1]);
      expect(cond.locked()).toBe(true);

      cond.notify(2);
      yield* tick();
      expect(result).toEqual([1]);
      expect(cond.locked()).toBe(true);

      cond.release();
      yield* tick();
      expect(result).toEqual([1, 2]);
      expect(cond.locked()).toBe(true);

      cond.release();
      yield* tick();
      expect(result).toEqual([1, 2, 3]);
      expect(cond.locked()).toBe(true);
      for (const t of [t1, t2, t3]) expect(t.result()).toBe(true);
      cond.release();
    });
  });

  it('a cancelled wait() re-acquires the lock before it throws', () => {
    runTest(function* () {
      const cond = new Condition();
      yield* cond.acquire();
      const w = createTask(cond.wait());
      getRunningLoop().callSoon(() => w.cancel());
      yield* expectCancelled(w);
      expect(cond._waiters.length).toBe(0);
      expect(cond.locked()).toBe(true);
      cond.release();
    });
  });

  it('cancel while the woken waiter contends for the lock: it ends holding the lock', () => {
    runTest(function* () {
      const cond = new Condition();
      yield* cond.acquire();
      const waitTask = createTask(cond.wait());
      yield* tick();
      expect(cond.locked()).toBe(false);
      yield* cond.acquire();
      cond.notify();
      getRunningLoop().callSoon(() => waitTask.cancel());
      getRunningLoop().callSoon(() => cond.release());
      try {
        yield* waitTask;
      } catch (exc) {
        expect(exc).toBeInstanceOf(CancelledError);
      }
      expect(cond.locked()).toBe(true);
      cond.release();
    });
  });

  it('cancel after notify (bpo-32841): cancelled, and the body ran', () => {
    runTest(function* () {
      let waited = false;
      const cond = new Condition();
      const waiter = createTask(
        cond.hold(function* () {
          waited = true;
          yield* cond.wait();
        }),
      );
      yield* tick();
      yield* cond.acquire();
      cond.notify();
      yield* tick(); // the waiter gets to re-acquiring
      waiter.cancel();
      yield* tick();
      cond.release();
      yield* tick();
      expect(waiter.cancelled()).toBe(true);
      expect(waited).toBe(true);
      expect(cond.locked()).toBe(false);
    });
  });

  it('wait() without the lock throws RuntimeError', () => {
    runTest(function* () {
      const cond = new Condition();
      const err = yield* expectThrows(cond.wait());
      expect(err).toBeInstanceOf(RuntimeError);
    });
  });

  it('waitFor(predicate) waits until it is truthy', () => {
    runTest(function* () {
      const cond = new Condition();
      let presult = false;
      const result: number[] = [];
      const t = createTask(
        (function* () {
          yield* cond.acquire();
          if (yield* cond.waitFor(() => presult)) {
            result.push(1);
            cond.release();
          }
          return true;
        })(),
      );
      yield* tick();
      expect(result).toEqual([]);

      yield* cond.acquire();
      cond.notify();
      cond.release();
      yield* tick();
      expect(result).toEqual([]);

      presult = true;
      yield* cond.acquire();
      cond.notify();
      cond.release();
      yield* tick();
      expect(result).toEqual([1]);
      expect(t.result()).toBe(true);
    });
  });

  it('waitFor() returns a truthy predicate value at once, even without the lock', () => {
    runTest(function* () {
      const cond = new Condition();
      expect(yield* cond.waitFor(() => [1, 2, 3])).toEqual([1, 2, 3]);
      const err = yield* expectThrows(cond.waitFor(() => false));
      expect(err).toBeInstanceOf(RuntimeError);
    });
  });

  it('notify(1) then notify(2048)', () => {
    runTest(function* () {
      const cond = new Condition();
      const result: number[] = [];
      function* c(n: number): Co<boolean> {
        yield* cond.acquire();
        if (yield* cond.wait()) {
          result.push(n);
          cond.release();
        }
        return true;
      }
      const tasks = [createTask(c(1)), createTask(c(2)), createTask(c(3))];
      yield* tick();
      expect(result).toEqual([]);

      yield* cond.acquire();
      cond.notify(1);
      cond.release();
      yield* tick();
      expect(result).toEqual([1]);

      yield* cond.acquire();
      cond.notify(1);
      cond.notify(2048);
      cond.release();
      yield* tick();
      expect(result).toEqual([1, 2, 3]);
      for (const t of tasks) expect(t.result()).toBe(true);
    });
  });

  it('notifyAll()', () => {
    runTest(function* () {
      const cond = new Condition();
      const result: number[] = [];
      function* c(n: number): Co<boolean> {
        yield* cond.acquire();
        if (yield* cond.wait()) {
          result.push(n);
          cond.release();
        }
        return true;
      }
      const tasks = [createTask(c(1)), createTask(c(2))];
      yield* tick();
      yield* cond.acquire();
      cond.notifyAll();
      cond.release();
      yield* tick();
      expect(result).toEqual([1, 2]);
      for (const t of tasks) expect(t.result()).toBe(true);
    });
  });

  it('notify() and notifyAll() without the lock throw RuntimeError', () => {
    const cond = new Condition();
    expect(() => cond.notify()).toThrow(RuntimeError);
    expect(() => cond.notifyAll()).toThrow(RuntimeError);
  });

  it('over an explicit lock: the lock and the condition are one', () => {
    runTest(function* () {
      function* f(lock?: Lock, cond?: Condition): Co<void> {
        const l = lock ?? new Lock();
        const c = cond ?? new Condition(l);
        expect(c._lock).toBe(l);
        expect(l.locked()).toBe(false);
        yield* c.hold(function* () {
          expect(l.locked()).toBe(true);
          expect(c.locked()).toBe(true);
        });
        expect(l.locked()).toBe(false);
        yield* l.hold(function* () {
          expect(c.locked()).toBe(true);
        });
        expect(c.locked()).toBe(false);
      }
      yield* f();
      yield* f(new Lock());
      const lock = new Lock();
      yield* f(lock, new Condition(lock));
      expect(() => new Condition({} as Lock)).toThrow(TypeError);
    });
  });

  it('a timeout around wait() holding the lock: TimeoutError, lock held again', () => {
    runTest(function* () {
      const cond = new Condition();
      yield* cond.hold(function* () {
        const err = yield* expectThrows(waitFor(cond.wait(), 0.01));
        expect(err).toBeInstanceOf(TimeoutError);
        expect(cond.locked()).toBe(true);
      });
      expect(cond.locked()).toBe(false);
    });
  });

  it('a CancelledError received while waiting comes out unchanged', () => {
    runTest(function* () {
      let raised: unknown = null;
      const cond = new Condition();
      const task = createTask(
        cond.hold(function* () {
          try {
            yield* cond.waitFor(() => false);
          } catch (exc) {
            raised = exc;
            throw exc;
          }
        }),
      );
      yield* tick();
      task.cancel('foo');
      const err = yield* expectCancelled(task);
      expect(err.message).toBe('foo');
      expect(err).toBe(raised);
    });
  });

  it('a CancelledError received while re-acquiring comes out unchanged', () => {
    runTest(function* () {
      let raised: unknown = null;
      let wake = false;
      const cond = new Condition();
      const task = createTask(
        cond.hold(function* () {
          try {
            yield* cond.waitFor(() => wake);
          } catch (exc) {
            raised = exc;
            throw exc;
          }
        }),
      );
      yield* tick();
      yield* cond.acquire();
      wake = true;
      cond.notify();
      yield* tick(); // the task now waits to re-acquire the lock
      task.cancel('foo');
      cond.release();
      const err = yield* expectCancelled(task);
      expect(err.message).toBe('foo');
      expect(err).toBe(raised);
    });
  });

  for (const where of ['awaiting the wakeup', 'awaiting the lock again'] as const) {
    it(`a waiter cancelled as it is notified (${where}) does not lose the notification`, () => {
      runTest(function* () {
        const cond = new Condition();
        let state = 0;
        function* consumer(): Co<void> {
          yield* cond.hold(function* () {
            for (;;) {
              yield* cond.waitFor(() => state !== 0);
              if (state < 0) return;
              state--;
            }
          });
        }
        const c = [createTask(consumer()), createTask(consumer())];
        yield* tick();
        yield* cond.hold(function* () {
          state++;
          cond.notify(1);
          if (where === 'awaiting the lock again') yield* tick();
          c[0]!.cancel();
          // The item must still be consumed, by the other consumer.
          try {
            yield* timeout(0.05, cond.waitFor(() => state === 0));
          } catch (exc) {
            if (!(exc instanceof TimeoutError)) throw exc;
          }
          expect(state).toBe(0);
          state = -1;
          cond.notifyAll();
        });
        yield* c[1]!;
        yield* expectCancelled(c[0]!);
      });
    });
  }

  it('toString', () => {
    runTest(function* () {
      const cond = new Condition();
      expect(String(cond)).toBe('<Condition [unlocked]>');
      yield* cond.acquire();
      expect(String(cond)).toBe('<Condition [locked]>');
      const t = createTask(cond.hold(function* () { yield* cond.wait(); }));
      yield* tick();
      // The waiter queued on the lock (held by us).
      expect(String(cond)).toBe('<Condition [locked]>');
      cond.release();
      yield* tick();
      expect(String(cond)).toBe('<Condition [unlocked, waiters:1]>');
      t.cancel();
      yield* expectCancelled(t);
    });
  });
});

// ---------------------------------------------------------------------------

describe('Semaphore', () => {
  it('initial value 0 is locked; a negative one is a RangeError', () => {
    expect(new Semaphore(0).locked()).toBe(true);
    expect(() => new Semaphore(-1)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
    expect(new Semaphore()._value).toBe(1);
  });

  it('acquire(): permits, waiters, and release() handing them over', () => {
    runTest(function* () {
      const sem = new Semaphore(3);
      const result: number[] = [];
      expect(yield* sem.acquire()).toBe(true);
      expect(yield* sem.acquire()).toBe(true);
      expect(sem.locked()).toBe(false);
      function* c(n: number): Co<boolean> {
        yield* sem.acquire();
        result.push(n);
        return true;
      }
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      const t3 = createTask(c(3));
      yield* tick();
      expect(result).toEqual([1]);
      expect(sem.locked()).toBe(true);
      expect(sem._waiters!.length).toBe(2);
      expect(sem._value).toBe(0);

      const t4 = createTask(c(4));
      sem.release();
      sem.release();
      expect(sem._value).toBe(0);
      yield* tick();
      expect(sem._value).toBe(0);
      expect(result.length).toBe(3);
      expect(sem.locked()).toBe(true);
      expect(sem._waiters!.length).toBe(1);
      expect(t1.result()).toBe(true);
      const race = [t2, t3, t4];
      expect(race.filter((t) => t.done()).length).toBe(2);
      sem.release();
      yield* gather(...race);
    });
  });

  it('a cancelled acquire leaves no pending waiter', () => {
    runTest(function* () {
      const sem = new Semaphore();
      yield* sem.acquire();
      const acquire = createTask(sem.acquire());
      getRunningLoop().callSoon(() => acquire.cancel());
      yield* expectCancelled(acquire);
      expect(sem._waiters === null || [...sem._waiters].every((w) => w.done())).toBe(true);
    });
  });

  it('waiters cancelled before they are woken are skipped', () => {
    runTest(function* () {
      const sem = new Semaphore(0);
      const [t1, t2, t3, t4] = [0, 1, 2, 3].map(() => createTask(sem.acquire()));
      yield* tick();
      t1!.cancel();
      t2!.cancel();
      sem.release();
      yield* ticks(2);
      expect([t3, t4].filter((t) => t!.done()).length).toBe(1);
      expect(t3!.done()).toBe(true);
      expect(t4!.done()).toBe(false);
      t4!.cancel();
      yield* tick();
      yield* wait([t1!, t2!, t4!]);
    });
  });

  it('does not hang when the woken waiter is cancelled (the permit is passed on)', () => {
    runTest(function* () {
      const sem = new Semaphore(0);
      const t1 = createTask(sem.acquire());
      const t2 = createTask(sem.acquire());
      yield* tick();
      t1.cancel();
      sem.release();
      yield* ticks(2);
      expect(sem.locked()).toBe(true);
      expect(t2.done()).toBe(true);
      yield* wait([t1]);
    });
  });

  it('a waiter cancelled right after being handed the permit gives it back', () => {
    runTest(function* () {
      const sem = new Semaphore(1);
      let t2: Task<void> | null = null;
      const t1 = createTask(
        (function* () {
          yield* sem.hold(function* () {
            yield* tick();
          });
          // The release just handed the permit to t2, which has not run yet.
          t2!.cancel();
        })(),
      );
      t2 = createTask(
        sem.hold(function* () {
          throw new Error('must not run');
        }),
      );
      const [r1, r2] = yield* gather(t1, t2, { returnExceptions: true });
      expect(r1).toBeUndefined();
      expect(r2).toBeInstanceOf(CancelledError);
      // The permit came back: it can be acquired (not hung).
      yield* waitFor(sem.acquire(), 1);
      expect(sem.locked()).toBe(true);
      sem.release();
      expect(sem.locked()).toBe(false);
    });
  });

  it('release() with no waiters unlocks', () => {
    runTest(function* () {
      const sem = new Semaphore();
      yield* sem.acquire();
      expect(sem.locked()).toBe(true);
      sem.release();
      expect(sem.locked()).toBe(false);
    });
  });

  it('FIFO across release and re-acquire', () => {
    runTest(function* () {
      const sem = new Semaphore(1);
      const result: string[] = [];
      function* coro(tag: string): Co<void> {
        yield* sem.acquire();
        result.push(`${tag}_1`);
        yield* sleep(0.001);
        sem.release();
        yield* sem.acquire();
        result.push(`${tag}_2`);
        yield* sleep(0.001);
        sem.release();
      }
      yield* gather(coro('c1'), coro('c2'), coro('c3'));
      expect(result).toEqual(['c1_1', 'c2_1', 'c3_1', 'c1_2', 'c2_2', 'c3_2']);
    });
  });

  it('FIFO: a releasing task re-acquires behind the waiters', () => {
    runTest(function* () {
      const sem = new Semaphore(1);
      const result: number[] = [];
      const t1 = createTask((function* () { yield* sem.acquire(); result.push(1); })());
      const t2 = createTask(
        (function* () {
          yield* sem.acquire();
          result.push(2);
          sem.release();
          yield* sem.acquire();
          result.push(4);
        })(),
      );
      const t3 = createTask((function* () { yield* sem.acquire(); result.push(3); })());
      yield* tick();
      sem.release();
      sem.release();
      yield* gather(t1, t2, t3);
      expect(result).toEqual([1, 2, 3, 4]);
    });
  });

  it('FIFO: a waiter cancelled before the releases is skipped', () => {
    runTest(function* () {
      const sem = new Semaphore(0);
      const result: number[] = [];
      const mk = (n: number): Task<void> => createTask((function* () { yield* sem.acquire(); result.push(n); })());
      const tasks = [mk(1), mk(2), mk(3)];
      yield* tick();
      tasks[0]!.cancel();
      yield* tick();
      sem.release();
      sem.release();
      yield* gather(...tasks, { returnExceptions: true });
      expect(result).toEqual([2, 3]);
    });
  });

  it('FIFO: a successful acquire wakes the waiters queued behind it', () => {
    runTest(function* () {
      const sem = new Semaphore(0);
      const result: number[] = [];
      let t4: Task<void> | null = null;
      const t1 = createTask(
        (function* () {
          expect(sem._value).toBe(0);
          yield* sem.acquire();
          // Every waiter that can run was woken.
          expect(sem._value).toBe(0);
          t4 = createTask((function* () { result.push(4); })());
          result.push(1);
        })(),
      );
      const t2 = createTask(
        (function* () {
          sem.release();
          sem.release();
          sem.release();
          expect(sem._value).toBe(2);
          expect(sem.locked()).toBe(true); // t1 was woken but has not run
          yield* sem.acquire();
          result.push(2);
        })(),
      );
      const t3 = createTask(
        (function* () {
          yield* sem.acquire();
          expect(sem.locked()).toBe(true);
          result.push(3);
        })(),
      );
      yield* tick();
      expect(sem._value).toBe(2);
      expect(sem._waiters!.length).toBe(3);
      yield* tick();
      yield* gather(t1, t2, t3);
      yield* t4!;
      expect(result).toEqual([1, 2, 3, 4]);
    });
  });

  it('toString', () => {
    runTest(function* () {
      const sem = new Semaphore();
      expect(String(sem)).toBe('<Semaphore [unlocked, value:1]>');
      yield* sem.acquire();
      expect(String(sem)).toBe('<Semaphore [locked]>');
      const t = createTask(sem.acquire());
      yield* tick();
      expect(String(sem)).toBe('<Semaphore [locked, waiters:1]>');
      t.cancel();
      yield* expectCancelled(t);
    });
  });
});

describe('BoundedSemaphore', () => {
  it('release() beyond the initial value is a RangeError', () => {
    const sem = new BoundedSemaphore();
    expect(() => sem.release()).toThrow(RangeError);
    expect(() => sem.release()).toThrow('BoundedSemaphore released too many times');
  });

  it('counts like a Semaphore up to its bound', () => {
    runTest(function* () {
      const sem = new BoundedSemaphore(2);
      yield* sem.acquire();
      yield* sem.acquire();
      expect(sem.locked()).toBe(true);
      const t = createTask(sem.acquire());
      yield* tick();
      sem.release(); // handed to t
      yield* t;
      sem.release();
      sem.release();
      expect(() => sem.release()).toThrow(RangeError);
      expect(String(sem)).toBe('<BoundedSemaphore [unlocked, value:2]>');
    });
  });
});

// ---------------------------------------------------------------------------

describe('Barrier', () => {
  const N = 5;

  function* gatherN<T>(n: number, coro: () => Co<T>): Co<T[]> {
    const tasks = Array.from({ length: n }, () => createTask(coro()));
    return (yield* gather(...tasks)) as T[];
  }

  it('parties must be >= 1', () => {
    expect(() => new Barrier(0)).toThrow(RangeError);
    expect(() => new Barrier(-4)).toThrow(RangeError);
    expect(new Barrier(N).parties).toBe(N);
  });

  it('toString follows the states', () => {
    runTest(function* () {
      const barrier = new Barrier(N);
      expect(String(barrier)).toBe(`<Barrier [filling, waiters:0/${N}]>`);
      const waiters: Task<number>[] = [];
      for (let i = 0; i < 2; i++) waiters.push(createTask(barrier.wait()));
      yield* tick();
      expect(String(barrier)).toBe(`<Barrier [filling, waiters:2/${N}]>`);
      for (let i = barrier.nWaiting; i < barrier.parties; i++) waiters.push(createTask(barrier.wait()));
      yield* tick();
      expect(barrier.state).toBe('draining');
      for (let i = 0; i < 2; i++) waiters.push(createTask(barrier.wait()));
      yield* tick();
      yield* barrier.reset();
      expect(barrier.state).toBe('resetting');
      for (let i = 0; i < 2; i++) waiters.push(createTask(barrier.wait()));
      yield* tick();
      yield* barrier.abort();
      expect(String(barrier)).toBe('<Barrier [broken]>');
      expect(barrier.broken).toBe(true);
      yield* gather(...waiters, { returnExceptions: true });
    });
  });

  it('wait() returns a unique arrival index per round', () => {
    runTest(function* () {
      const barrier = new Barrier(3);
      const results = yield* gatherN(3, () => barrier.wait());
      expect([...results].sort()).toEqual([0, 1, 2]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it('one party: wait() passes at once, twice', () => {
    runTest(function* () {
      const barrier = new Barrier(1);
      expect(yield* barrier.wait()).toBe(0);
      const t1 = createTask(barrier.wait());
      yield* tick();
      expect(barrier.nWaiting).toBe(0);
      const t2 = createTask(barrier.wait());
      yield* tick();
      expect(t1.result()).toBe(t2.result());
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it('fills task by task', () => {
    runTest(function* () {
      const barrier = new Barrier(3);
      const t1 = createTask(barrier.wait());
      yield* tick();
      expect(barrier.nWaiting).toBe(1);
      const t2 = createTask(barrier.wait());
      yield* tick();
      expect(barrier.nWaiting).toBe(2);
      expect(barrier.state).toBe('filling');
      const t3 = createTask(barrier.wait());
      yield* tick();
      yield* wait([t1, t2, t3]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it('tasks wait twice; indices of the second round are unique too', () => {
    runTest(function* () {
      const barrier = new Barrier(N);
      const first: boolean[] = [];
      const res = yield* gatherN(N, function* () {
        yield* barrier.wait();
        first.push(true);
        return yield* barrier.wait();
      });
      expect(first.length).toBe(N);
      expect([...res].sort()).toEqual([0, 1, 2, 3, 4]);
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it('is draining until the last task leaves', () => {
    runTest(function* () {
      const barrier = new Barrier(N);
      const draining: boolean[] = [];
      yield* gatherN(N, function* () {
        yield* barrier.wait();
        draining.push(barrier.state === 'draining');
      });
      expect(draining.length).toBe(N);
      expect(draining[N - 1]).toBe(false);
      expect(draining.slice(0, N - 1).every(Boolean)).toBe(true);
    });
  });

  it('blocks newcomers while it drains', () => {
    runTest(function* () {
      const rewait = 2;
      const barrier = new Barrier(N);
      const barrierNowaiting = new Barrier(N - rewait);
      let rewaitN = rewait;
      yield* gatherN(N, function* () {
        yield* barrier.wait();
        if (rewaitN > 0) {
          rewaitN--;
          yield* barrier.wait();
        } else {
          yield* barrierNowaiting.wait();
          yield* barrier.wait();
        }
      });
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it('a cancelled waiter leaves the barrier', () => {
    runTest(function* () {
      const barrier = new Barrier(3);
      const results: boolean[] = [];
      function* coro(): Co<void> {
        yield* barrier.wait();
        results.push(true);
      }
      const t1 = createTask(coro());
      yield* tick();
      expect(barrier.nWaiting).toBe(1);
      const t2 = createTask(coro());
      yield* tick();
      expect(barrier.nWaiting).toBe(2);
      t1.cancel();
      yield* tick();
      expect(barrier.nWaiting).toBe(1);
      yield* expectCancelled(t1);
      const t3 = createTask(coro());
      yield* tick();
      expect(barrier.nWaiting).toBe(2);
      const t4 = createTask(coro());
      yield* gather(t2, t3, t4);
      expect(results.length).toBe(3);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it('reset() of an idle barrier', () => {
    runTest(function* () {
      const barrier = new Barrier(1);
      yield* barrier.reset();
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it('reset() while tasks wait: they get BrokenBarrierError', () => {
    runTest(function* () {
      const barrier = new Barrier(N);
      const results: boolean[] = [];
      const tasks = Array.from({ length: N - 1 }, () =>
        createTask(
          (function* () {
            try {
              yield* barrier.wait();
            } catch (exc) {
              if (exc instanceof BrokenBarrierError) results.push(true);
              else throw exc;
            }
          })(),
        ),
      );
      yield* tick();
      const resetter = createTask(barrier.reset());
      yield* gather(...tasks);
      yield* resetter;
      expect(results.length).toBe(N - 1);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.state).toBe('filling');
    });
  });

  it('reset() while half the tasks drain', () => {
    runTest(function* () {
      const barrier = new Barrier(N);
      const broken: boolean[] = [];
      const restOfTasks = Math.floor(N / 2);
      yield* gatherN(N, function* () {
        try {
          yield* barrier.wait();
        } catch (exc) {
          if (!(exc instanceof BrokenBarrierError)) throw exc;
          broken.push(true);
          return;
        }
        if (restOfTasks === barrier._count) yield* barrier.reset();
      });
      expect(broken).toEqual(Array(restOfTasks).fill(true));
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.state).toBe('filling');
    });
  });

  it('reset() while half drain and half block, then all wait again', () => {
    runTest(function* () {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const blockingTasks = Math.floor(N / 2);
      let count = 0;
      yield* gatherN(N, function* () {
        try {
          yield* barrier.wait();
        } catch (exc) {
          if (!(exc instanceof BrokenBarrierError)) throw exc;
          results1.push(true);
          yield* barrier.wait();
          return;
        }
        count++;
        if (count > blockingTasks) {
          yield* barrier.reset();
          yield* barrier.wait();
        } else {
          try {
            yield* barrier.wait();
          } catch (exc) {
            if (!(exc instanceof BrokenBarrierError)) throw exc;
            results2.push(true);
          }
        }
      });
      expect(results1).toEqual(Array(blockingTasks).fill(true));
      expect(results2).toEqual([]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.state).toBe('filling');
    });
  });

  it('reset() while tasks wait, and they wait again', () => {
    runTest(function* () {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const tasks = Array.from({ length: N - 1 }, () =>
        createTask(
          (function* () {
            try {
              yield* barrier.wait();
            } catch (exc) {
              if (!(exc instanceof BrokenBarrierError)) throw exc;
              results1.push(true);
            } finally {
              yield* barrier.wait();
              results2.push(true);
            }
          })(),
        ),
      );
      const resetter = createTask(barrier.reset());
      yield* tick();
      const last = createTask(
        (function* () {
          yield* barrier.wait();
          results2.push(true);
        })(),
      );
      yield* gather(...tasks, resetter, last);
      expect(barrier.broken).toBe(false);
      expect(results1.length).toBe(N - 1);
      expect(results2.length).toBe(N);
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it('reset() while tasks drain', () => {
    runTest(function* () {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const results3: boolean[] = [];
      let count = 0;
      yield* gatherN(N, function* () {
        yield* barrier.wait();
        count++;
        if (count === N) {
          yield* barrier.reset();
          yield* barrier.wait();
        } else {
          try {
            yield* barrier.wait();
            results1.push(true);
          } catch {
            results2.push(true);
          }
        }
        yield* barrier.wait();
        results3.push(true);
      });
      expect(barrier.broken).toBe(false);
      expect(results1.length).toBe(N - 1);
      expect(results2.length).toBe(0);
      expect(results3.length).toBe(N);
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it('abort() breaks it', () => {
    runTest(function* () {
      const barrier = new Barrier(1);
      yield* barrier.abort();
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(true);
      const err = yield* expectThrows(barrier.wait());
      expect(err).toBeInstanceOf(BrokenBarrierError);
      expect(err).toBeInstanceOf(RuntimeError);
    });
  });

  it('abort() while half drain and half block', () => {
    runTest(function* () {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const blockingTasks = Math.floor(N / 2);
      let count = 0;
      yield* gatherN(N, function* () {
        try {
          yield* barrier.wait();
        } catch (exc) {
          if (!(exc instanceof BrokenBarrierError)) throw exc;
          results1.push(true);
          return;
        }
        count++;
        if (count > blockingTasks) {
          yield* barrier.abort();
        } else {
          try {
            yield* barrier.wait();
          } catch (exc) {
            if (!(exc instanceof BrokenBarrierError)) throw exc;
            results2.push(true);
          }
        }
      });
      expect(barrier.broken).toBe(true);
      expect(results1).toEqual(Array(blockingTasks).fill(true));
      expect(results2).toEqual(Array(N - blockingTasks - 1).fill(true));
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it('abort() on an error breaks the barrier for everyone', () => {
    runTest(function* () {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      yield* gatherN(N, function* () {
        try {
          const i = yield* barrier.wait();
          if (i === Math.floor(N / 2)) throw new SyntaxError('boom');
          yield* barrier.wait();
          results1.push(true);
        } catch (exc) {
          if (exc instanceof BrokenBarrierError) results2.push(true);
          else if (exc instanceof SyntaxError) yield* barrier.abort();
          else throw exc;
        }
      });
      expect(barrier.broken).toBe(true);
      expect(results1.length).toBe(0);
      expect(results2.length).toBe(N - 1);
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it('abort() then reset(): usable again', () => {
    runTest(function* () {
      const barrier1 = new Barrier(N);
      const barrier2 = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const results3: boolean[] = [];
      yield* gatherN(N, function* () {
        try {
          const i = yield* barrier1.wait();
          if (i === Math.floor(N / 2)) throw new SyntaxError('boom');
          yield* barrier1.wait();
          results1.push(true);
        } catch (exc) {
          if (exc instanceof BrokenBarrierError) results2.push(true);
          else if (exc instanceof SyntaxError) yield* barrier1.abort();
          else throw exc;
        }
        // Everyone out of barrier1 before the reset, nobody back in before it.
        const i = yield* barrier2.wait();
        if (i === Math.floor(N / 2)) yield* barrier1.reset();
        yield* barrier2.wait();
        yield* barrier1.wait();
        results3.push(true);
      });
      expect(barrier1.broken).toBe(false);
      expect(results1.length).toBe(0);
      expect(results2.length).toBe(N - 1);
      expect(results3.length).toBe(N);
      expect(barrier1.nWaiting).toBe(0);
    });
  });
});

describe('closing the loop', () => {
  it('a task left waiting in Condition.wait() is closed without re-acquiring', () => {
    const loop = newEventLoop();
    const reported: string[] = [];
    loop.setExceptionHandler((_l, ctx) => void reported.push(ctx.message));
    const cond = new Condition();
    let finallyRan = false;
    const t = loop.createTask(
      cond.hold(function* () {
        try {
          yield* cond.wait();
        } finally {
          finallyRan = true;
        }
      }),
    );
    loop.runUntilComplete(sleep(0));
    expect(cond.locked()).toBe(false); // released by wait()
    loop.close();
    expect(reported).toEqual(['Task was destroyed but it is pending!']);
    expect(finallyRan).toBe(true);
    expect(cond.locked()).toBe(false);
    expect(t.done()).toBe(false);
  });

  it('tasks closed inside hold() give their Lock and Semaphore permits back', () => {
    const loop = newEventLoop();
    const reported: string[] = [];
    loop.setExceptionHandler((_l, ctx) => void reported.push(ctx.message));
    const lock = new Lock();
    const sem = new Semaphore(2);
    loop.createTask(lock.hold(function* () { yield* sleep(10); }));
    loop.createTask(sem.hold(function* () { yield* sleep(10); }));
    loop.runUntilComplete(sleep(0));
    expect(lock.locked()).toBe(true);
    expect(sem._value).toBe(1);
    loop.close();
    expect(reported).toEqual(['Task was destroyed but it is pending!', 'Task was destroyed but it is pending!']);
    expect(lock.locked()).toBe(false);
    expect(sem._value).toBe(2);
  });
});
