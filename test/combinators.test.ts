// gather, wait, waitFor, shield, asCompleted (after CPython's test_tasks.py).
import { describe, expect, test } from 'vitest';
import {
  ALL_COMPLETED,
  asCompleted,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  gather,
  shield,
  wait,
  waitFor,
} from '../src/combinators.js';
import { CancelledError, RuntimeError, TimeoutError } from '../src/errors.js';
import { getRunningLoop } from '../src/events.js';
import type { Future } from '../src/futures.js';
import { newEventLoop, setEventLoop } from '../src/loop.js';
import { createTask, sleep } from '../src/tasks.js';
import type { Coroutine, Task } from '../src/tasks.js';
import { after, failAfter, runBriefly, takeErrors, thrown, thrownBy, useCoreLoop } from './core_helpers.js';

describe('gather', () => {
  const core = useCoreLoop({ virtualClock: true });

  test('results in argument order, whatever the completion order', () => {
    const r = core.run(function* () {
      const fut = getRunningLoop().createFuture<string>();
      getRunningLoop().callSoon(() => fut.setResult('f'));
      return yield* gather(after(5, 'slow'), after(1, 'fast'), fut, sleep(0.001, 3));
    });
    expect(r).toEqual(['slow', 'fast', 'f', 3]);
  });

  test('typed: a tuple of the results', () => {
    const r = core.run(function* () {
      const [a, b] = yield* gather(after(0, 1), after(0, 'two'));
      const n: number = a;
      const s: string = b;
      return [n, s];
    });
    expect(r).toEqual([1, 'two']);
  });

  test('no awaitables: an empty list', () => {
    expect(
      core.run(function* () {
        return yield* gather();
      }),
    ).toEqual([]);
    setEventLoop(core.loop);
    try {
      const g = gather();
      expect(g.done()).toBe(true);
      expect(g.result()).toEqual([]);
    } finally {
      setEventLoop(null);
    }
  });

  test('the first exception fails the gather; the others go on', () => {
    const err = new Error('first');
    const log: string[] = [];
    const caught = core.run(function* () {
      const slow = createTask(
        (function* () {
          yield* sleep(0.005);
          log.push('slow finished');
        })(),
      );
      const e = yield* thrownBy(gather(failAfter(1, err), slow, failAfter(3, new Error('second'))));
      yield* slow;
      return e;
    });
    expect(caught).toBe(err);
    expect(log).toEqual(['slow finished']);
  });

  test('returnExceptions: exceptions among the results', () => {
    const e1 = new Error('a');
    const r = core.run(function* () {
      return yield* gather(after(1, 1), failAfter(0, e1), after(2, 3), { returnExceptions: true });
    });
    expect(r).toEqual([1, e1, 3]);
  });

  test('returnExceptions: a cancelled child gives a CancelledError among the results', () => {
    const r = core.run(function* () {
      const child = createTask(sleep(1));
      getRunningLoop().callSoon(() => child.cancel('bye'));
      return yield* gather(child, after(2, 'ok'), { returnExceptions: true });
    });
    expect(r[0]).toBeInstanceOf(CancelledError);
    expect((r[0] as Error).message).toBe('bye');
    expect(r[1]).toBe('ok');
  });

  test('a child cancelled (not the gather): the gather fails with CancelledError but is not cancelled itself', () => {
    const r = core.run(function* () {
      const child = createTask(sleep(1));
      const g = gather(child, after(1, 1));
      getRunningLoop().callSoon(() => child.cancel());
      const e = yield* thrownBy(g);
      return [e, g.cancelled()] as const;
    });
    expect(r[0]).toBeInstanceOf(CancelledError);
    expect(r[1]).toBe(false);
  });

  test('cancelling the gather cancels its children', () => {
    const log: string[] = [];
    function* child(name: string): Coroutine<void> {
      try {
        yield* sleep(10);
      } catch (e) {
        log.push(`${name} cancelled`);
        throw e;
      }
    }
    const r = core.run(function* () {
      const g = gather(child('a'), child('b'));
      yield* sleep(0.001);
      expect(g.cancel()).toBe(true);
      return yield* thrownBy(g);
    });
    expect(r).toBeInstanceOf(CancelledError);
    expect(log.sort()).toEqual(['a cancelled', 'b cancelled']);
  });

  test('cancelling the task that awaits a gather cancels the children, even with returnExceptions', () => {
    const children: Task<unknown>[] = [];
    const outer = core.loop.createTask(
      (function* () {
        children.push(createTask(sleep(10)), createTask(sleep(10)));
        return yield* gather(...children, { returnExceptions: true });
      })(),
    );
    runBriefly(core.loop, 3);
    outer.cancel();
    expect(thrown(() => core.loop.runUntilComplete(outer))).toBeInstanceOf(CancelledError);
    expect(children.every((c) => c.cancelled())).toBe(true);
  });

  test('cancel() after the gather is done is false', () => {
    const g = core.run(function* () {
      const g = gather(after(0, 1));
      yield* g;
      return g;
    });
    expect(g.cancel()).toBe(false);
  });

  test('the same awaitable twice is run once, its result appears twice', () => {
    let runs = 0;
    const r = core.run(function* () {
      const co = (function* () {
        runs++;
        yield;
        return 'x';
      })();
      return yield* gather(co, co);
    });
    expect(r).toEqual(['x', 'x']);
    expect(runs).toBe(1);
  });

  test('outside a running loop, with a set loop: children become Tasks of that loop', () => {
    setEventLoop(core.loop);
    try {
      const g = gather(after(1, 'a'), after(0, 'b'));
      expect(core.loop.runUntilComplete(g)).toEqual(['a', 'b']);
    } finally {
      setEventLoop(null);
    }
  });

  test('after a failure, the other failures are marked retrieved (not reported at close)', () => {
    core.run(function* () {
      yield* thrownBy(gather(failAfter(0, new Error('1')), failAfter(1, new Error('2'))));
      yield* sleep(0.001);
    });
    core.loop.close();
    expect(takeErrors(core)).toEqual([]);
  });
});

describe('shield', () => {
  const core = useCoreLoop({ virtualClock: true });

  test('passes the result and the exception through', () => {
    expect(
      core.run(function* () {
        return yield* shield(after(1, 'r'));
      }),
    ).toBe('r');
    const err = new Error('e');
    expect(
      core.run(function* () {
        return yield* thrownBy(shield(failAfter(1, err)));
      }),
    ).toBe(err);
  });

  test('a done Future is returned as is', () => {
    const f = core.loop.createFuture<number>();
    f.setResult(1);
    expect(shield(f)).toBe(f);
  });

  test('cancelling the awaiting task does not cancel the inner task', () => {
    const inner = core.loop.createTask(sleep(0.01, 'inner result'));
    const outer = core.loop.createTask(
      (function* () {
        return yield* shield(inner);
      })(),
    );
    runBriefly(core.loop, 2);
    outer.cancel();
    expect(thrown(() => core.loop.runUntilComplete(outer))).toBeInstanceOf(CancelledError);
    expect(inner.cancelled()).toBe(false);
    expect(core.loop.runUntilComplete(inner)).toBe('inner result');
  });

  test('cancelling the inner task cancels the shield', () => {
    const inner = core.loop.createTask(sleep(10));
    const r = core.run(function* () {
      const s = shield(inner);
      getRunningLoop().callSoon(() => inner.cancel());
      const e = yield* thrownBy(s);
      return [e, s.cancelled()] as const;
    });
    expect(r[0]).toBeInstanceOf(CancelledError);
    expect(r[1]).toBe(true);
  });

  test('an inner failure after the shield was cancelled is not reported as unretrieved', () => {
    const inner = core.loop.createTask(failAfter(3, new Error('late')));
    const s = shield(inner);
    s.cancel();
    expect(thrown(() => core.loop.runUntilComplete(inner))).toBeInstanceOf(Error);
    core.loop.close();
    expect(takeErrors(core)).toEqual([]);
  });

  test('shield(gather(...)) keeps the children running', () => {
    const children: Task<unknown>[] = [];
    const outer = core.loop.createTask(
      (function* () {
        children.push(createTask(sleep(0.005, 1)), createTask(sleep(0.005, 2)));
        return yield* shield(gather(...children));
      })(),
    );
    runBriefly(core.loop, 2);
    outer.cancel();
    expect(thrown(() => core.loop.runUntilComplete(outer))).toBeInstanceOf(CancelledError);
    expect(core.run(() => gather(...children))).toEqual([1, 2]);
  });
});

describe('wait', () => {
  const core = useCoreLoop({ virtualClock: true });

  test('ALL_COMPLETED (default): everything done, nothing pending', () => {
    const [done, pending] = core.run(function* () {
      const a = createTask(sleep(0.002, 'a'));
      const b = createTask(sleep(0.001, 'b'));
      return yield* wait([a, b]);
    });
    expect(done.size).toBe(2);
    expect(pending.size).toBe(0);
    expect([...done].map((t) => t.result()).sort()).toEqual(['a', 'b']);
  });

  test('FIRST_COMPLETED', () => {
    core.run(function* () {
      const a = createTask(sleep(10, 'a'));
      const b = createTask(sleep(0.001, 'b'));
      const [done, pending] = yield* wait([a, b], { returnWhen: FIRST_COMPLETED });
      expect(done).toEqual(new Set([b]));
      expect(pending).toEqual(new Set([a]));
      a.cancel();
      yield* wait([a]);
    });
  });

  test('FIRST_EXCEPTION: returns at the first failure', () => {
    core.run(function* () {
      const a = createTask(sleep(10, 'a'));
      const b = createTask(failAfter(2, new Error('b')));
      const c = createTask(after(1, 'c'));
      const [done, pending] = yield* wait([a, b, c], { returnWhen: FIRST_EXCEPTION });
      expect(done).toEqual(new Set([b, c]));
      expect(pending).toEqual(new Set([a]));
      b.exception();
      a.cancel();
      yield* wait([a]);
    });
  });

  test('FIRST_EXCEPTION with no exception waits for all', () => {
    core.run(function* () {
      const a = createTask(after(1, 'a'));
      const b = createTask(after(3, 'b'));
      const [done, pending] = yield* wait([a, b], { returnWhen: FIRST_EXCEPTION });
      expect(done.size).toBe(2);
      expect(pending.size).toBe(0);
    });
  });

  test('a timeout returns what is done so far and cancels nothing', () => {
    core.run(function* () {
      const a = createTask(sleep(10, 'a'));
      const b = createTask(sleep(0.001, 'b'));
      const t0 = getRunningLoop().time();
      const [done, pending] = yield* wait([a, b], { timeout: 0.01 });
      expect(getRunningLoop().time() - t0).toBeGreaterThanOrEqual(0.01);
      expect(done).toEqual(new Set([b]));
      expect(pending).toEqual(new Set([a]));
      expect(a.cancelled()).toBe(false);
      a.cancel();
      yield* wait([a]);
    });
    expect(core.loop._scheduled.toArray().filter((h) => !h.cancelled())).toEqual([]);
  });

  test('already done futures return at once; Futures are accepted too', () => {
    core.run(function* () {
      const f = getRunningLoop().createFuture<number>();
      f.setResult(1);
      const [done, pending] = yield* wait([f]);
      expect(done).toEqual(new Set([f]));
      expect(pending.size).toBe(0);
    });
  });

  test('bad arguments', () => {
    core.run(function* () {
      const f = getRunningLoop().createFuture();
      expect(yield* thrownBy(wait([]))).toBeInstanceOf(RangeError);
      expect(yield* thrownBy(wait(f as never))).toBeInstanceOf(TypeError);
      expect(yield* thrownBy(wait([f], { returnWhen: 'SOMETIMES' as never }))).toBeInstanceOf(RangeError);
      expect(yield* thrownBy(wait([after(0, 1)] as never))).toBeInstanceOf(TypeError);
      f.cancel();
    });
    void ALL_COMPLETED;
  });

  test('the caller cancelled while waiting: the futures keep running, callbacks are removed', () => {
    const inner = core.loop.createTask(sleep(0.005, 'x'));
    const outer = core.loop.createTask(
      (function* () {
        return yield* wait([inner]);
      })(),
    );
    runBriefly(core.loop, 2);
    outer.cancel();
    expect(thrown(() => core.loop.runUntilComplete(outer))).toBeInstanceOf(CancelledError);
    expect(core.loop.runUntilComplete(inner)).toBe('x');
  });
});

describe('waitFor', () => {
  const core = useCoreLoop({ virtualClock: true });

  test('the result in time', () => {
    expect(core.run(() => waitFor(sleep(0.001, 'ok'), 1))).toBe('ok');
    expect(core.run(() => waitFor(after(1, 'none'), null))).toBe('none');
  });

  test('a timeout: TimeoutError, and the awaitable is cancelled and finished', () => {
    const log: string[] = [];
    const t0 = core.loop.time();
    const err = core.run(function* () {
      return yield* thrownBy(
        waitFor(
          (function* () {
            try {
              yield* sleep(10);
            } finally {
              log.push('inner finally');
            }
          })(),
          0.01,
        ),
      );
    });
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).cause).toBeInstanceOf(CancelledError);
    expect(log).toEqual(['inner finally']);
    expect(core.loop.time() - t0).toBeLessThan(5);
  });

  test('a timeout on a Task cancels the task', () => {
    const r = core.run(function* () {
      const t = createTask(sleep(10));
      const e = yield* thrownBy(waitFor(t, 0.005));
      return [e, t.cancelled()] as const;
    });
    expect(r[0]).toBeInstanceOf(TimeoutError);
    expect(r[1]).toBe(true);
  });

  test('timeout <= 0: a done Future gives its result, else it is cancelled at once', () => {
    core.run(function* () {
      const f = getRunningLoop().createFuture<number>();
      f.setResult(5);
      expect(yield* waitFor(f, 0)).toBe(5);
      const t = createTask(sleep(10));
      expect(yield* thrownBy(waitFor(t, 0))).toBeInstanceOf(TimeoutError);
      expect(t.cancelled()).toBe(true);
    });
  });

  test('an awaitable that refuses cancellation: its result is returned', () => {
    const r = core.run(function* () {
      const t = createTask(
        (function* () {
          try {
            yield* sleep(10);
          } catch {
            // refuse
          }
          return 'refused';
        })(),
      );
      return yield* waitFor(t, 0.005);
    });
    expect(r).toBe('refused');
  });

  test('the caller cancelled: a CancelledError (not a TimeoutError), and the awaitable is cancelled', () => {
    const inner = core.loop.createTask(sleep(10));
    const outer = core.loop.createTask(
      (function* () {
        return yield* waitFor(inner, 5);
      })(),
    );
    runBriefly(core.loop, 2);
    outer.cancel();
    expect(thrown(() => core.loop.runUntilComplete(outer))).toBeInstanceOf(CancelledError);
    expect(inner.cancelled()).toBe(true);
  });

  test('an exception inside passes through', () => {
    const err = new Error('inner');
    expect(core.run(() => thrownBy(waitFor(failAfter(1, err), 1)))).toBe(err);
  });
});

describe('asCompleted', () => {
  const core = useCoreLoop({ virtualClock: true });

  test('results in completion order', () => {
    const r = core.run(function* () {
      const out: string[] = [];
      for (const next of asCompleted([sleep(0.015, 'c'), sleep(0.005, 'a'), sleep(0.01, 'b')])) out.push(yield* next);
      return out;
    });
    expect(r).toEqual(['a', 'b', 'c']);
  });

  test('an exception is thrown by its own awaitable, in order', () => {
    const err = new Error('x');
    const r = core.run(function* () {
      const out: unknown[] = [];
      for (const next of asCompleted([after(3, 'late'), failAfter(1, err)])) {
        try {
          out.push(yield* next);
        } catch (e) {
          out.push(e);
        }
      }
      return out;
    });
    expect(r).toEqual([err, 'late']);
  });

  test('a timeout: the rest throw TimeoutError', () => {
    const r = core.run(function* () {
      const slow = createTask(sleep(10, 'slow'));
      const out: unknown[] = [];
      for (const next of asCompleted([sleep(0.001, 'fast'), slow], { timeout: 0.01 })) {
        try {
          out.push(yield* next);
        } catch (e) {
          out.push(e);
        }
      }
      slow.cancel();
      yield* thrownBy(slow);
      return out;
    });
    expect(r[0]).toBe('fast');
    expect(r[1]).toBeInstanceOf(TimeoutError);
  });

  test('one coroutine per distinct awaitable', () => {
    core.run(function* () {
      const t = createTask(after(0, 1));
      const list = asCompleted([t, t, after(1, 2)]);
      expect(list.length).toBe(2);
      for (const c of list) yield* c;
    });
  });

  test('a single awaitable instead of a list is a TypeError', () => {
    setEventLoop(core.loop);
    try {
      const f = core.loop.createFuture();
      expect(thrown(() => asCompleted(f as never))).toBeInstanceOf(TypeError);
      f.cancel();
    } finally {
      setEventLoop(null);
    }
  });

  test('outside a loop, with none set: a RuntimeError', () => {
    expect(thrown(() => asCompleted([]))).toBeInstanceOf(RuntimeError);
  });
});

test('gather across loops: each child belongs to the first loop', () => {
  const loop = newEventLoop();
  const other = newEventLoop();
  try {
    const f: Future<number> = other.createFuture();
    expect(thrown(() => gather(loop.createFuture(), f))).toBeInstanceOf(RangeError);
  } finally {
    loop.close();
    other.close();
  }
});
