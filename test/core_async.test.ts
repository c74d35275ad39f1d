// The core tests (tasks, combinators, timeouts, locks, queues) once more, with async functions instead of generator
// coroutines where that makes sense: sleep, gather, shield, wait, waitFor,
// asCompleted, timeout, TaskGroup, locks and queues, awaited from async
// functions and given async functions. In both modes: the blocking loop
// (started from a macrotask) and guest mode.
//
// Clocks: every test here runs on a virtual clock (a TestLoop, test_loop.ts,
// in both modes). Their point is timer semantics (which sleep wakes first,
// what a deadline or a timeout cuts off, what cancellation reaches) and they
// wait on nothing but coio's own timers and Futures, so time may jump
// straight to the next timer: each runs in no real time and its order
// cannot be upset by a loaded machine. No test here needs the real clock
// or Node's own timers; those are in async_functions.test.ts and
// guest.test.ts.
import { describe, expect, test } from 'vitest';
import {
  ALL_COMPLETED,
  asCompleted,
  Barrier,
  BoundedSemaphore,
  CancelledError,
  Condition,
  createTask,
  currentTask,
  ensureFuture,
  Event,
  ExceptionGroup,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  gather,
  getRunningLoop,
  LifoQueue,
  Lock,
  PriorityQueue,
  Queue,
  Semaphore,
  shield,
  sleep,
  TaskGroup,
  timeout,
  timeoutAt,
  TimeoutError,
  wait,
  waitFor,
} from '../src/index.js';
import type { Main, Task, Timeout } from '../src/index.js';
import { expectNothingLeft, runIn } from './async_helpers.js';
import type { ModeName } from './async_helpers.js';
import { backends } from './helpers.js';

const modes: ModeName[] = ['blocking', 'guest'];

/** Resolve with the rejection of p (fail if it fulfils). */
async function rejection(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe.each(modes)('%s', (mode) => {
  const go = <T>(main: Main<T>): Promise<T> =>
    runIn<T>(
      mode,
      backends[0]!,
      async () => {
        const r = await ensureFuture(main as () => PromiseLike<T>);
        expectNothingLeft();
        return r;
      },
      { virtualClock: true },
    );

  describe('sleep', () => {
    test('wakes in deadline order, returns its value, never early', async () => {
      const got = await go(async () => {
        const loop = getRunningLoop();
        const order: number[] = [];
        const t0 = loop.time();
        const late: number[] = [];
        const sleeper = async (s: number): Promise<void> => {
          const v = await sleep(s, s);
          if (loop.time() - t0 < s) late.push(s);
          order.push(v);
        };
        // 50 ms apart: each deadline counts from its own sleep() call, and a
        // loaded or sanitized run can take ~10 ms between the first and last.
        await gather(sleeper(0.15), sleeper(0.05), sleeper(0.1), sleeper(0));
        return [order, late];
      });
      expect(got).toEqual([[0, 0.05, 0.1, 0.15], []]);
    });

    test('sleep(0) yields to the other tasks once', async () => {
      const got = await go(async () => {
        const log: string[] = [];
        const other = createTask(async () => {
          log.push('other');
        });
        log.push('before');
        await sleep(0);
        await sleep(0);
        log.push('after');
        await other;
        return log;
      });
      expect(got).toEqual(['before', 'other', 'after']);
    });
  });

  describe('gather', () => {
    test('results in argument order, whatever the completion order', async () => {
      const got = await go(async () => {
        const after = async (s: number, v: string): Promise<string> => {
          await sleep(s);
          return v;
        };
        return await gather(after(0.02, 'a'), after(0.01, 'b'), after(0, 'c'));
      });
      expect(got).toEqual(['a', 'b', 'c']);
    });

    test('the first exception fails it, the others go on; returnExceptions collects them', async () => {
      const got = await go(async () => {
        let otherFinished = false;
        // 5 ms against 200 ms: an order a loaded or sanitized run keeps
        // (with 20 ms a 15 ms hitch under ASan flipped it).
        const other = createTask(async () => {
          await sleep(0.2);
          otherFinished = true;
        });
        const failing = async (): Promise<never> => {
          await sleep(0.005);
          throw new Error('first');
        };
        const e = await rejection(gather(other, failing()));
        const finishedThen = otherFinished;
        await other;
        const settled = await gather(failing(), Promise.resolve(2), { returnExceptions: true });
        return [(e as Error).message, finishedThen, otherFinished, (settled[0] as Error).message, settled[1]];
      });
      expect(got).toEqual(['first', false, true, 'first', 2]);
    });

    test('cancelling the gather cancels its async children at their awaits', async () => {
      const got = await go(async () => {
        const log: string[] = [];
        const child = async (name: string): Promise<void> => {
          try {
            await sleep(10);
          } catch (e) {
            log.push(`${name} ${(e as Error).name}`);
            throw e;
          }
        };
        const g = gather(createTask(() => child('a')), createTask(() => child('b')));
        await sleep(0.005);
        expect(g.cancel()).toBe(true);
        const e = await rejection(g);
        return [e instanceof CancelledError, log.sort()];
      });
      expect(got).toEqual([true, ['a CancelledError', 'b CancelledError']]);
    });

    test('cancelling the async task awaiting a gather cancels the children', async () => {
      const got = await go(async () => {
        const children = [createTask(() => sleep(10)), createTask(async () => await sleep(10))];
        const waiter = createTask(async () => await gather(...children, { returnExceptions: true }));
        await sleep(0.005);
        waiter.cancel();
        await gather(waiter, { returnExceptions: true });
        return [waiter.cancelled(), children.map((c) => c.cancelled())];
      });
      expect(got).toEqual([true, [true, true]]);
    });
  });

  describe('shield', () => {
    test('cancelling the awaiter does not cancel the shielded async task', async () => {
      const got = await go(async () => {
        const inner = createTask(async () => {
          await sleep(0.02);
          return 'inner done';
        });
        const outer = createTask(async () => await shield(inner));
        await sleep(0.005);
        outer.cancel();
        await gather(outer, { returnExceptions: true });
        return [outer.cancelled(), await inner];
      });
      expect(got).toEqual([true, 'inner done']);
    });
  });

  describe('wait', () => {
    test('FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED and a timeout over async tasks', async () => {
      const got = await go(async () => {
        const mk = (s: number, fail = false): Task<number> =>
          createTask(async () => {
            await sleep(s);
            if (fail) throw new Error(`failed ${s}`);
            return s;
          });
        const a = [mk(0.005), mk(0.03)];
        const [done1, pending1] = await ensureFuture(wait(a, { returnWhen: FIRST_COMPLETED }));
        const b = [mk(0.005, true), mk(0.03)];
        const [done2] = await ensureFuture(wait(b, { returnWhen: FIRST_EXCEPTION }));
        const c = [mk(0.04)];
        const [done3, pending3] = await ensureFuture(wait(c, { timeout: 0.005 }));
        const [done4] = await ensureFuture(wait([...a, ...b, ...c], { returnWhen: ALL_COMPLETED }));
        b[0]!.exception();
        return [done1.size, pending1.size, [...done2].map((t) => t.exception() !== undefined), done3.size, pending3.size, done4.size];
      });
      expect(got).toEqual([1, 1, [true], 0, 1, 5]);
    });
  });

  describe('waitFor', () => {
    test('in time: the result; too late: TimeoutError, and the async awaitable is cancelled at its await', async () => {
      const got = await go(async () => {
        const ok = await ensureFuture(waitFor(sleep(0.001, 'fast'), 1));
        const log: string[] = [];
        const slow = createTask(async () => {
          try {
            await sleep(10);
          } catch (e) {
            log.push((e as Error).name);
            throw e;
          }
        });
        const e = await rejection(ensureFuture(waitFor(slow, 0.01)));
        // A promise (no Task behind it): abandoned at the timeout.
        const p = await rejection(ensureFuture(waitFor(new Promise<void>(() => undefined), 0.005)));
        return [ok, e instanceof TimeoutError, slow.cancelled(), log, p instanceof TimeoutError];
      });
      expect(got).toEqual(['fast', true, true, ['CancelledError'], true]);
    });
  });

  describe('asCompleted', () => {
    test('results in completion order', async () => {
      const got = await go(async () => {
        const after = async (s: number): Promise<number> => {
          await sleep(s);
          return s;
        };
        const out: number[] = [];
        for (const next of asCompleted([after(0.02), after(0.005), after(0.01)])) out.push(await ensureFuture(next));
        return out;
      });
      expect(got).toEqual([0.005, 0.01, 0.02]);
    });
  });

  describe('timeout', () => {
    test('an async body in time: its result; past the deadline: TimeoutError, the body cancelled at its await', async () => {
      const got = await go(async () => {
        const ok = await ensureFuture(timeout(1, async () => await sleep(0.001, 'in time')));
        const log: string[] = [];
        const e = await rejection(
          ensureFuture(
            timeout(0.01, async (t: Timeout) => {
              try {
                await sleep(10);
              } catch (err) {
                log.push(`${(err as Error).name} expired=${t.expired()}`);
                throw err;
              }
            }),
          ),
        );
        return [ok, e instanceof TimeoutError, (e as Error).cause instanceof CancelledError, log];
      });
      expect(got).toEqual(['in time', true, true, ['CancelledError expired=true']]);
    });

    test('reschedule() from an async body, and timeoutAt', async () => {
      const got = await go(async () => {
        const loop = getRunningLoop();
        const r = await ensureFuture(
          timeout(0.005, async (t: Timeout) => {
            t.reschedule(loop.time() + 1);
            await sleep(0.02);
            return 'rescheduled';
          }),
        );
        const e = await rejection(ensureFuture(timeoutAt(loop.time() + 0.005, async () => await sleep(1))));
        return [r, e instanceof TimeoutError];
      });
      expect(got).toEqual(['rescheduled', true]);
    });

    test('a cancellation from outside stays a CancelledError', async () => {
      const got = await go(async () => {
        const t = createTask(async () => await ensureFuture(timeout(1, async () => await sleep(10))));
        await sleep(0.005);
        t.cancel();
        await gather(t, { returnExceptions: true });
        return t.cancelled();
      });
      expect(got).toBe(true);
    });
  });

  describe('TaskGroup', () => {
    test('run returns the body result once every async task is done', async () => {
      const got = await go(async () => {
        const done: string[] = [];
        const r = await ensureFuture(
          TaskGroup.run(async (tg) => {
            for (const [name, s] of [['a', 0.01], ['b', 0.005]] as const) {
              tg.createTask(async () => {
                await sleep(s);
                done.push(name);
              });
            }
            return 'body';
          }),
        );
        return [r, done];
      });
      expect(got).toEqual(['body', ['b', 'a']]);
    });

    test('failures come out together in an ExceptionGroup; the others and the body are cancelled', async () => {
      const got = await go(async () => {
        const log: string[] = [];
        const e = await rejection(
          ensureFuture(
            TaskGroup.run(async (tg) => {
              tg.createTask(async () => {
                await sleep(0.005);
                throw new Error('one');
              });
              tg.createTask(async () => {
                await sleep(0.005);
                throw new Error('two');
              });
              tg.createTask(async () => {
                try {
                  await sleep(10);
                } catch (err) {
                  log.push(`sibling ${(err as Error).name}`);
                  throw err;
                }
              });
              try {
                await sleep(10);
              } catch (err) {
                log.push(`body ${(err as Error).name}`);
                throw err;
              }
            }),
          ),
        );
        const group = e as ExceptionGroup;
        return [group instanceof ExceptionGroup, group.exceptions.map((x) => (x as Error).message).sort(), log.sort()];
      });
      expect(got).toEqual([true, ['one', 'two'], ['body CancelledError', 'sibling CancelledError']]);
    });

    test('the parent async task cancelled from outside: the group tasks are cancelled, CancelledError propagates', async () => {
      const got = await go(async () => {
        const children: Task<unknown>[] = [];
        const parent = createTask(async () => {
          await ensureFuture(
            TaskGroup.run(async (tg) => {
              children.push(tg.createTask(async () => await sleep(10)));
              await sleep(10);
            }),
          );
        });
        await sleep(0.005);
        parent.cancel();
        await gather(parent, { returnExceptions: true });
        return [parent.cancelled(), children.map((c) => c.cancelled())];
      });
      expect(got).toEqual([true, [true]]);
    });

    test('tg.cancel() from an async task stops the group without an error', async () => {
      const got = await go(async () => {
        const r = await ensureFuture(
          TaskGroup.run(async (tg) => {
            tg.createTask(async () => await sleep(10));
            tg.createTask(async () => {
              await sleep(0.005);
              tg.cancel();
            });
            await sleep(10);
            return 'not reached';
          }),
        );
        return r;
      });
      expect(got).toBeUndefined();
    });

    test('currentTask() in an async body is the task running the group', async () => {
      const got = await go(async () => {
        let inBody: unknown = null;
        let outer: unknown = null;
        const t = createTask(function* () {
          outer = currentTask();
          yield* TaskGroup.run(async () => {
            await sleep(0.001);
            inBody = currentTask();
          });
        });
        await t;
        return inBody === outer && outer === t;
      });
      expect(got).toBe(true);
    });
  });

  describe('locks and queues', () => {
    test('Lock, Semaphore, BoundedSemaphore: mutual exclusion among async tasks', async () => {
      const got = await go(async () => {
        const lock = new Lock();
        const sem = new Semaphore(2);
        const bsem = new BoundedSemaphore(1);
        let inLock = 0;
        let maxInLock = 0;
        let inSem = 0;
        let maxInSem = 0;
        const worker = async (): Promise<void> => {
          await lock.acquire();
          try {
            maxInLock = Math.max(maxInLock, ++inLock);
            await sleep(0.001);
            inLock--;
          } finally {
            lock.release();
          }
          await sem.acquire();
          try {
            maxInSem = Math.max(maxInSem, ++inSem);
            await sleep(0.002);
            inSem--;
          } finally {
            sem.release();
          }
          await bsem.acquire();
          bsem.release();
        };
        await gather(...Array.from({ length: 5 }, () => worker()));
        return [maxInLock, maxInSem];
      });
      expect(got).toEqual([1, 2]);
    });

    test('Event, Condition and Barrier between async tasks', async () => {
      const got = await go(async () => {
        const ev = new Event();
        const cond = new Condition();
        const barrier = new Barrier(3);
        let ready = false;
        const waiters = [
          createTask(async () => {
            await ev.wait();
            return 'event';
          }),
          createTask(async () => {
            await cond.acquire();
            try {
              await ensureFuture(cond.waitFor(() => ready));
              return 'condition';
            } finally {
              cond.release();
            }
          }),
        ];
        const parties = [0, 1, 2].map(() => createTask(async () => await ensureFuture(barrier.wait())));
        await sleep(0.002);
        ev.set();
        await cond.acquire();
        ready = true;
        cond.notifyAll();
        cond.release();
        const idx = (await gather(...parties)).sort();
        return [await gather(...waiters), idx];
      });
      expect(got).toEqual([['event', 'condition'], [0, 1, 2]]);
    });

    test('Queue, PriorityQueue, LifoQueue: producers and consumers as async functions', async () => {
      const got = await go(async () => {
        const q = new Queue<number>(2);
        const consumed: number[] = [];
        const producer = async (): Promise<void> => {
          for (let i = 0; i < 6; i++) await q.put(i);
        };
        const consumer = createTask(async () => {
          for (;;) {
            const v = await ensureFuture(q.get());
            consumed.push(v);
            q.taskDone();
          }
        });
        await producer();
        await q.join();
        consumer.cancel();
        await gather(consumer, { returnExceptions: true });
        const pq = new PriorityQueue<number>();
        const lq = new LifoQueue<number>();
        for (const v of [3, 1, 2]) {
          await pq.put(v);
          await lq.put(v);
        }
        // (Untyped `await pq.get()` works as well; ensureFuture keeps the type.)
        const fromPq = [await ensureFuture(pq.get()), await pq.get(), await pq.get()];
        const fromLq = [await ensureFuture(lq.get()), await lq.get(), await lq.get()];
        return [consumed, fromPq, fromLq];
      });
      expect(got).toEqual([[0, 1, 2, 3, 4, 5], [1, 2, 3], [2, 1, 3]]);
    });
  });
});
