// Async functions as coroutines: createTask / ensureFuture / run /
// gather / TaskGroup take async functions and promises; async functions
// await coio Futures, Tasks and coroutines; cancelling their Task throws
// CancelledError at their await. Every test runs in both modes (the
// blocking loop, started from a macrotask, and guest mode) on every backend;
// the last block enters the blocking loop from inside a microtask (a vitest
// test body is one), where it must fail at once, not hang.
//
// Clocks: the tests of the per-backend block and of `await sleep()` run on
// a virtual clock (a TestLoop, test_loop.ts, in both modes): their sleeps
// only order things
// (let a task reach its await, let a child finish first), and they wait on
// nothing but coio's timers, Futures and socket I/O (a socketpair delivers
// at once), so time may jump straight to the next timer. On the real clock,
// where a real clock or Node's own loop is the point: the child process
// (its exit is watched by a poll timer where there is no pidfd, and comes
// in real time), the blocks below that call run() / runGuest() / a loop of
// their own (what the blocking loop does with Node's microtasks and
// nextTicks, entering it from a microtask), and the loop closed under a
// pending task.
import { describe, expect, test } from 'vitest';
import {
  allTasks,
  CancelledError,
  coroutine,
  createTask,
  currentTask,
  ensureFuture,
  Event,
  ExceptionGroup,
  Future,
  gather,
  getRunningLoop,
  isThenable,
  newEventLoop,
  PromiseFuture,
  Queue,
  run,
  runGuest,
  RuntimeError,
  sleep,
  socketpair,
  Task,
  TaskGroup,
  Lock,
  PIPE,
  createSubprocessExec,
} from '../src/index.js';
import type { Coroutine, EventLoop, Main, Socket } from '../src/index.js';
import { MICROTASK_ENTRY } from '../src/microtasks.js';
import { _liveAsyncContexts } from '../src/async_tasks.js';
import { expectNothingLeft, macrotask, runIn } from './async_helpers.js';
import type { ModeName } from './async_helpers.js';
import { backends } from './helpers.js';
import { trackLoop } from './leaks.js';

const modes: ModeName[] = ['blocking', 'guest'];

/** A connected pair, closed by the returned function. */
function pair(): [Socket, Socket, () => void] {
  const [a, b] = socketpair();
  return [a, b, () => (a.close(), b.close())];
}

describe.each(backends)('%s', (backend) => {
  describe.each(modes)('%s', (mode) => {
    const go = <T>(main: Main<T>): Promise<T> => runIn<T>(mode, backend, main, { virtualClock: true });
    /** On the real clock: for what comes in real time (a child process). */
    const goRealTime = <T>(main: Main<T>): Promise<T> => runIn<T>(mode, backend, main);

    test('an async function awaits coio socket I/O (coroutines, ensureFuture, a Task)', async () => {
      const got = await go(async () => {
        const loop = getRunningLoop();
        const [a, b, close] = pair();
        try {
          // A coio coroutine awaited directly (coio marks its coroutines awaitable).
          const first = loop.sockRecv(b, 100);
          expect(isThenable(first)).toBe(true);
          await loop.sockSendall(a, 'one');
          const one = (await first).toString();
          // ensureFuture: a Task of the coroutine, awaited as a Future.
          const pending = ensureFuture(loop.sockRecv(b, 100));
          await sleep(0.01);
          expect(pending.done()).toBe(false);
          await loop.sockSendall(a, 'two');
          const two = (await pending).toString();
          // A Task's then(), from a generator coroutine.
          function* reader(): Coroutine<string> {
            return (yield* loop.sockRecv(b, 100)).toString();
          }
          const task = createTask(reader());
          loop.callSoon(() => void ensureFuture(loop.sockSendall(a, 'three')));
          const three = await task.then((s) => s.toUpperCase());
          return [one, two, three];
        } finally {
          close();
          expectNothingLeft();
        }
      });
      expect(got).toEqual(['one', 'two', 'THREE']);
    });

    test('an async function as a Task awaits a request and answers it over a socket', async () => {
      const got = await go(function* () {
        const loop = getRunningLoop();
        const [a, b, close] = pair();
        try {
          const server = createTask(async () => {
            const req = await loop.sockRecv(b, 100);
            await loop.sockSendall(b, `echo:${req.toString()}`);
            return 'served';
          });
          yield* loop.sockSendall(a, 'ping');
          const reply = (yield* loop.sockRecv(a, 100)).toString();
          const served = yield* server;
          return [reply, served];
        } finally {
          close();
          expectNothingLeft();
        }
      });
      expect(got).toEqual(['echo:ping', 'served']);
    });

    test('gather mixes generator and async coroutines, promises and Tasks of async functions', async () => {
      const got = await go(async () => {
        function* gen(v: number): Coroutine<number> {
          yield* sleep(0.01);
          return v;
        }
        const slow = async (v: number): Promise<number> => {
          await sleep(0.02);
          return v * 10;
        };
        const fromAsync = await gather(gen(1), slow(2), createTask(() => slow(3)), Promise.resolve(4));
        // And from a generator coroutine (yield* gather).
        const fromGen = await createTask(function* () {
          return yield* gather(slow(5), gen(6));
        });
        const settled = await gather(
          gen(7),
          (async () => {
            await sleep(0.001);
            throw new Error('boom');
          })(),
          { returnExceptions: true },
        );
        expectNothingLeft();
        return [fromAsync, fromGen, settled[0], (settled[1] as Error).message];
      });
      expect(got).toEqual([[1, 20, 30, 4], [50, 6], 7, 'boom']);
    });

    test('the first failure of an async child fails the gather', async () => {
      const err = await go(async () => {
        try {
          await gather(sleep(0.05), (async () => {
            await sleep(0.001);
            throw new TypeError('bad');
          })());
          return null;
        } catch (e) {
          await sleep(0.06); // let the other child finish
          return e;
        }
      });
      expect(err).toBeInstanceOf(TypeError);
    });

    test('cancelling an async task mid-await: CancelledError at its await, its socket read withdrawn', async () => {
      const got = await go(async () => {
        const loop = getRunningLoop() as EventLoop;
        const [, b, close] = pair();
        const seen: string[] = [];
        try {
          const task = createTask(async () => {
            try {
              await loop.sockRecv(b, 10);
              seen.push('received?');
            } catch (e) {
              seen.push(`${(e as Error).name}:${(e as Error).message}`);
              throw e;
            } finally {
              seen.push('finally');
            }
          });
          await sleep(0.01);
          expect(loop._selector.getMap().has(b.fileno())).toBe(true);
          expect(task.cancel('stop it')).toBe(true);
          const caught = await task.then(
            () => null,
            (e: unknown) => e,
          );
          expect(caught).toBeInstanceOf(CancelledError);
          expect(task.cancelled()).toBe(true);
          expect(loop._selector.getMap().has(b.fileno())).toBe(false);
          return seen;
        } finally {
          close();
          expectNothingLeft();
        }
      });
      expect(got).toEqual(['CancelledError:stop it', 'finally']);
    });

    test('an async task may catch its cancellation and go on; its result stands', async () => {
      const got = await go(async () => {
        const task = createTask(async () => {
          try {
            await sleep(10);
          } catch (e) {
            if (!(e instanceof CancelledError)) throw e;
          }
          await sleep(0.001);
          return 'survived';
        });
        await sleep(0.01);
        task.cancel();
        const r = await task;
        expect(task.cancelling()).toBe(1);
        return r;
      });
      expect(got).toBe('survived');
    });

    test('cancellation reaches an await nested in helper async functions, and awaited Tasks', async () => {
      const got = await go(async () => {
        const log: string[] = [];
        const inner = async (): Promise<void> => {
          try {
            await new Event().wait();
          } finally {
            log.push('inner finally');
          }
        };
        const middle = async (): Promise<void> => {
          await inner();
        };
        const t1 = createTask(middle);
        const child = createTask(() => new Event().wait());
        const t2 = createTask(async () => {
          await child; // a Task awaited: cancelling t2 cancels it (asyncio semantics)
        });
        await sleep(0.01);
        t1.cancel();
        t2.cancel();
        const r = await gather(t1, t2, { returnExceptions: true });
        expect(child.cancelled()).toBe(true);
        expectNothingLeft();
        return [log, r.map((e) => (e as Error).name)];
      });
      expect(got).toEqual([['inner finally'], ['CancelledError', 'CancelledError']]);
    });

    test('a cancel() while the function awaits a plain promise is delivered at its next coio await', async () => {
      const got = await go(async () => {
        let release!: () => void;
        const plain = new Promise<void>((r) => (release = r));
        const log: string[] = [];
        const task = createTask(async () => {
          await plain;
          log.push('after the plain promise');
          try {
            await sleep(10);
          } catch (e) {
            log.push((e as Error).name);
            throw e;
          }
        });
        await sleep(0.01);
        expect(task.cancel()).toBe(true);
        release();
        await gather(task, { returnExceptions: true });
        expect(task.cancelled()).toBe(true);
        return log;
      });
      expect(got).toEqual(['after the plain promise', 'CancelledError']);
    });

    test('cancelled, the function finishes without another coio await: the Task ends cancelled', async () => {
      const got = await go(async () => {
        let release!: () => void;
        const plain = new Promise<void>((r) => (release = r));
        const task = createTask(async () => {
          await plain;
          return 'done';
        });
        await sleep(0.01);
        task.cancel();
        release();
        await gather(task, { returnExceptions: true });
        return task.cancelled();
      });
      expect(got).toBe(true);
    });

    test('a Task of a bare promise: cancel() abandons the promise (it cannot be cancelled)', async () => {
      const got = await go(async () => {
        let finished = false;
        const work = async (): Promise<string> => {
          await sleep(0.03);
          finished = true;
          return 'late';
        };
        const task = createTask(work());
        await sleep(0.005);
        task.cancel();
        await gather(task, { returnExceptions: true });
        const abandonedEarly = task.cancelled() && !finished;
        await sleep(0.05); // the promise runs on (its Task of sleep finishes)
        return [abandonedEarly, finished];
      });
      expect(got).toEqual([true, true]);
    });

    test('currentTask() inside an async function is its Task, after awaits too', async () => {
      const got = await go(async () => {
        const main = currentTask();
        expect(main).toBeInstanceOf(Task);
        // (Not `return currentTask()`: an async function returning a thenable,
        // its own Task here, waits for it: a deadlock, as in any promise code.)
        let seen: unknown[] = [];
        const t = createTask(async () => {
          const before = currentTask();
          await sleep(0.001);
          const after = currentTask();
          await Promise.resolve();
          seen = [before, after, currentTask()];
        });
        await t;
        expect(currentTask()).toBe(main);
        return seen.every((x) => x === t);
      });
      expect(got).toBe(true);
    });

    test('TaskGroup with an async body and async tasks; a failure cancels the others at their awaits', async () => {
      const got = await go(async () => {
        const log: string[] = [];
        const ok = await ensureFuture(TaskGroup.run(async (tg) => {
          const a = tg.createTask(async () => {
            await sleep(0.01);
            return 'a';
          });
          const b = tg.createTask(function* () {
            yield* sleep(0.005);
            return 'b';
          });
          await sleep(0.001);
          return [a, b];
        }));
        const results = ok!.map((t) => t.result());
        let group: unknown = null;
        try {
          await TaskGroup.run(async (tg) => {
            tg.createTask(async () => {
              try {
                await sleep(10);
              } catch (e) {
                log.push(`sibling ${(e as Error).name}`);
                throw e;
              }
            });
            tg.createTask(async () => {
              await sleep(0.01);
              throw new Error('child failed');
            });
            try {
              await sleep(10);
            } catch (e) {
              log.push(`body ${(e as Error).name}`);
              throw e;
            }
          });
        } catch (e) {
          group = e;
        }
        expect(group).toBeInstanceOf(ExceptionGroup);
        expect((group as ExceptionGroup).exceptions.map((e) => (e as Error).message)).toEqual(['child failed']);
        expectNothingLeft();
        return [results, log.sort()];
      });
      expect(got).toEqual([['a', 'b'], ['body CancelledError', 'sibling CancelledError']]);
    });

    test('locks, events and queues awaited from async functions', async () => {
      const got = await go(async () => {
        const lock = new Lock();
        const q = new Queue<number>();
        const ev = new Event();
        const order: string[] = [];
        const worker = async (name: string): Promise<void> => {
          await lock.acquire();
          try {
            order.push(`${name} in`);
            await sleep(0.002);
            order.push(`${name} out`);
          } finally {
            lock.release();
          }
          await q.put(name.length);
        };
        const waiter = createTask(async () => {
          await ev.wait();
          return 'woken';
        });
        await gather(worker('one'), worker('three'));
        ev.set();
        const items = [await q.get(), await q.get()];
        return [order, items, await waiter];
      });
      expect(got).toEqual([['one in', 'one out', 'three in', 'three out'], [3, 5], 'woken']);
    });

    test('lock.hold(), createSubprocessExec() and loop.startTls() return awaitable coroutines, as their types say', async () => {
      const got = await goRealTime(async () => {
        const loop = getRunningLoop();
        const lock = new Lock();
        const held = await lock.hold(function* () {
          yield* sleep(0);
          return lock.locked();
        });
        const proc = await createSubprocessExec(process.execPath, ['-e', 'process.stdout.write("hi")'], { stdout: PIPE });
        const out = (await proc.stdout.read()).toString();
        const code = await proc.wait();
        // Made, never started: nothing to close.
        const tls = loop.startTls(null as never, null as never, null as never);
        return [held, lock.locked(), out, code, isThenable(tls)];
      });
      expect(got).toEqual([true, false, 'hi', 0, true]);
    });

    test('coroutine() makes your generator functions awaitable; awaiting one twice runs it once', async () => {
      let runs = 0;
      const twice = coroutine(function* (x: number): Coroutine<number> {
        runs++;
        yield* sleep(0.001);
        return 2 * x;
      });
      const got = await go(async () => {
        const c = twice(21);
        const [r1, r2] = [await c, await c];
        return [r1, r2, runs];
      });
      expect(got).toEqual([42, 42, 1]);
    });

    test('run(asyncMain): its result, its exception; a promise; an arrow returning one', async () => {
      expect(await go(async () => 'result')).toBe('result');
      await expect(go(async () => {
        await sleep(0.001);
        throw new RangeError('main failed');
      })).rejects.toThrow(RangeError);
      expect(await go(() => Promise.resolve(7))).toBe(7);
      if (mode === 'guest') {
        // A promise made before the loop (no coio in it).
        expect(await runGuest(Promise.resolve('p'), { selector: backend as 'epoll' })).toBe('p');
      } else {
        expect(await macrotask(() => run(Promise.resolve('p'), { selector: backend as 'epoll' }))).toBe('p');
      }
    });

    test('a Future awaited with then() and an async task mixing Futures and plain promises', async () => {
      const got = await go(async () => {
        const loop = getRunningLoop();
        const fut = loop.createFuture<number>();
        loop.callLater(0.005, () => fut.setResult(5));
        const doubled = await fut.then((v) => v * 2);
        const mixed = await createTask(async () => {
          const a = await Promise.resolve(1);
          const b = await sleep(0.001, 2);
          const c = await new Promise<number>((r) => loop.callSoon(r, 3));
          return a + b + c;
        });
        return [doubled, mixed];
      });
      expect(got).toEqual([10, 6]);
    });

    test('no promise work: the loop does not drain microtasks (the hook is off)', async () => {
      const got = await go(function* () {
        const loop = getRunningLoop() as EventLoop;
        const before = loop._afterBatch;
        yield* sleep(0.001);
        return before === null && loop._afterBatch === null;
      });
      // In guest mode Node drains after each step: the hook is never installed.
      expect(got).toBe(true);
    });
  });
});

describe('the blocking loop and promise work', () => {
  test('drains microtasks only while there is promise work, then turns the hook off', async () => {
    const got = await macrotask(() =>
      run(function* () {
        const loop = getRunningLoop() as EventLoop;
        const t = createTask(async () => {
          await sleep(0.001);
          return 1;
        });
        yield; // its first step: it awaits now
        const during = loop._afterBatch !== null;
        const r = yield* t;
        yield* sleep(0); // one more batch: the last drain, then off
        yield* sleep(0);
        return [r, during, loop._afterBatch === null];
      }),
    );
    expect(got).toEqual([1, true, true]);
  });

  test('process.nextTick callbacks wait until the blocking loop returns (in guest mode they run)', async () => {
    const blocking = await macrotask(() => {
      let ticked = false;
      process.nextTick(() => (ticked = true));
      return run(async () => {
        await sleep(0.01);
        return ticked;
      });
    });
    expect(blocking).toBe(false);
    const guest = await runGuest(async () => {
      let ticked = false;
      process.nextTick(() => (ticked = true));
      await sleep(0.01);
      return ticked;
    });
    expect(guest).toBe(true);
  });

  test('a PromiseFuture: the promise settles it; a rejection with CancelledError cancels it', async () => {
    const got = await macrotask(() => {
      const loop = trackLoop(newEventLoop());
      try {
        const ok = ensureFuture(Promise.resolve('v'), loop);
        const bad = ensureFuture(Promise.reject(new CancelledError('x')), loop);
        expect(ok).toBeInstanceOf(PromiseFuture);
        expect(loop.runUntilComplete(ok)).toBe('v');
        expect(() => loop.runUntilComplete(bad)).toThrow(CancelledError);
        return bad.cancelled();
      } finally {
        loop.close();
      }
    });
    expect(got).toBe(true);
  });
});

describe('entering the blocking loop from inside a microtask (this test body is one)', () => {
  test('run(asyncMain) fails at once with the message (asyncMain never starts)', () => {
    let started = false;
    expect(() =>
      run(async () => {
        started = true;
      }),
    ).toThrow(MICROTASK_ENTRY);
    expect(() => run(Promise.resolve(1))).toThrow(RuntimeError);
    expect(started).toBe(false);
  });

  test('runUntilComplete of an async function, and createTask of one inside a generator main, fail at once', () => {
    const loop = trackLoop(newEventLoop());
    try {
      let started = false;
      expect(() =>
        loop.runUntilComplete(async () => {
          started = true;
        }),
      ).toThrow(MICROTASK_ENTRY);
      expect(started).toBe(false);
      expect(() =>
        loop.runUntilComplete(function* () {
          createTask(async () => 1);
        }),
      ).toThrow(MICROTASK_ENTRY);
    } finally {
      loop.close();
    }
  });

  test('a promise made earlier: the first drain fails (no hang)', async () => {
    const loop = trackLoop(newEventLoop());
    try {
      let resolve!: (v: number) => void;
      const promise = new Promise<number>((r) => (resolve = r));
      // (In a box: awaiting a Future itself would wait for it.)
      const { fut } = await macrotask(() => ({ fut: ensureFuture(promise, loop) }));
      // Back in a microtask (after the await): the loop cannot drain here. A
      // callback settles the promise: its reaction can never run.
      loop.callSoon(resolve, 1);
      const t0 = performance.now();
      expect(() => loop.runUntilComplete(fut)).toThrow(MICROTASK_ENTRY);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      loop.close();
    }
  });

  test('generator coroutines still run here, Futures included', () => {
    const r = run(function* () {
      const fut = new Future<number>();
      getRunningLoop().callSoon(() => fut.setResult(3));
      return (yield* fut) + (yield* sleep(0.001, 4));
    });
    expect(r).toBe(7);
  });

  test('guest mode works from here', async () => {
    expect(await runGuest(async () => await sleep(0.001, 'fine'))).toBe('fine');
  });
});

describe('await sleep() (driven without a Task of its own)', () => {
  test('its value, twice the same run, cancellable at its await, no loop: a rejection', async () => {
    const got = await runIn('guest', backends[0]!, async () => {
      const s = sleep(0.005, 'v');
      const [a, b] = await Promise.all([s, s]);
      const before = allTaskCount();
      const t = createTask(async () => await sleep(10));
      await sleep(0);
      const during = allTaskCount() - before; // the sleeping async task only
      t.cancel();
      await gather(t, { returnExceptions: true });
      return [a, b, during, t.cancelled(), (getRunningLoop() as EventLoop)._scheduled.toArray().filter((h) => !h.cancelled()).length];
    }, { virtualClock: true });
    expect(got).toEqual(['v', 'v', 1, true, 0]);
    await expect(sleep(0.001) as PromiseLike<unknown>).rejects.toThrow(RuntimeError);
  });
});

function allTaskCount(): number {
  return allTasks(getRunningLoop()).size;
}

describe('async contexts are released', () => {
  test('after every run above, and when a loop is closed under a pending async task', async () => {
    expect(_liveAsyncContexts()).toBe(0);
    const closedUnder = await macrotask(() => {
      const loop = trackLoop(newEventLoop());
      loop.setExceptionHandler(() => undefined); // "Task was destroyed but it is pending!"
      const t = loop.createTask(async () => await new Event().wait());
      loop.runUntilComplete(sleep(0.005));
      const during = _liveAsyncContexts();
      loop.close();
      return [during, t.done()];
    });
    expect(closedUnder).toEqual([1, false]);
    expect(_liveAsyncContexts()).toBe(0);
  });
});
