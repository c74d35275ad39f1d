// Future: states, results, callbacks, the await protocol, unretrieved
// exceptions (after CPython's test_futures.py).
import { describe, expect, expectTypeOf, test } from 'vitest';
import { CancelledError, InvalidStateError, RuntimeError } from '../src/errors.js';
import { _setResultUnlessCancelled, Future, isFuture } from '../src/futures.js';
import { EventLoop, newEventLoop, setEventLoop } from '../src/loop.js';
import type { AbstractEventLoop } from '../src/events.js';
import { createTask } from '../src/tasks.js';
import type { Coroutine, Task } from '../src/tasks.js';
import { runBriefly, takeErrors, thrown, useCoreLoop } from './core_helpers.js';

describe('Future', () => {
  const core = useCoreLoop();

  test('initial state, then cancelled', () => {
    const f = core.loop.createFuture();
    expect(f.cancelled()).toBe(false);
    expect(f.done()).toBe(false);
    expect(f.getLoop()).toBe(core.loop);
    expect(f.cancel()).toBe(true);
    expect(f.cancelled()).toBe(true);
    expect(f.done()).toBe(true);
  });

  test('getLoop() is typed AbstractEventLoop, as getRunningLoop() is', () => {
    const f = core.loop.createFuture();
    // Checked by the typecheck: it was BaseEventLoop, without e.g. addReader or createServer.
    expectTypeOf(f.getLoop()).toEqualTypeOf<AbstractEventLoop>();
    expectTypeOf<ReturnType<Task['getLoop']>>().toEqualTypeOf<AbstractEventLoop>();
    expect(f.getLoop()).toBeInstanceOf(EventLoop);
    f.cancel();
  });

  test('a Future needs a loop: the running one, else the set one', () => {
    expect(thrown(() => new Future())).toBeInstanceOf(RuntimeError);
    setEventLoop(core.loop);
    try {
      expect(new Future().getLoop()).toBe(core.loop);
    } finally {
      setEventLoop(null);
    }
    const other = newEventLoop();
    try {
      const inside = other.runUntilComplete(
        (function* () {
          return new Future();
        })(),
      );
      expect(inside.getLoop()).toBe(other);
    } finally {
      other.close();
    }
  });

  test('cancel', () => {
    const f = new Future<number>(core.loop);
    expect(f.cancel()).toBe(true);
    expect(thrown(() => f.result())).toBeInstanceOf(CancelledError);
    expect(thrown(() => f.exception())).toBeInstanceOf(CancelledError);
    expect(thrown(() => f.setResult(1))).toBeInstanceOf(InvalidStateError);
    expect(thrown(() => f.setException(new Error()))).toBeInstanceOf(InvalidStateError);
    expect(f.cancel()).toBe(false);
  });

  test('cancel with a message: the CancelledError carries it, and is the same object each time', () => {
    const f = new Future(core.loop);
    f.cancel('my message');
    const e1 = thrown(() => f.result()) as CancelledError;
    expect(e1.message).toBe('my message');
    expect(thrown(() => f.exception())).toBe(e1);
  });

  test('result', () => {
    const f = new Future<number>(core.loop);
    expect(thrown(() => f.result())).toBeInstanceOf(InvalidStateError);
    expect(thrown(() => f.exception())).toBeInstanceOf(InvalidStateError);
    f.setResult(42);
    expect(f.cancelled()).toBe(false);
    expect(f.done()).toBe(true);
    expect(f.result()).toBe(42);
    expect(f.exception()).toBeUndefined();
    expect(thrown(() => f.setResult(2))).toBeInstanceOf(InvalidStateError);
    expect(f.cancel()).toBe(false);
  });

  test('exception', () => {
    const exc = new RangeError('boom');
    const f = new Future(core.loop);
    f.setException(exc);
    expect(f.done()).toBe(true);
    expect(thrown(() => f.result())).toBe(exc);
    expect(f.exception()).toBe(exc);
    expect(thrown(() => f.setResult(1))).toBeInstanceOf(InvalidStateError);
    expect(f.cancel()).toBe(false);
  });

  test('any value can be the exception, as anything can be thrown', () => {
    const f = new Future(core.loop);
    f.setException('a string');
    expect(thrown(() => f.result())).toBe('a string');
  });

  test('toString shows the state', () => {
    const f = new Future<number>(core.loop);
    expect(String(f)).toBe('<Future pending>');
    f.setResult(7);
    expect(String(f)).toBe('<Future finished result=7>');
    const g = new Future(core.loop);
    g.cancel();
    expect(String(g)).toBe('<Future cancelled>');
    const h = new Future(core.loop);
    h.setException(new Error('x'));
    h.exception();
    expect(String(h)).toMatch(/^<Future finished exception=Error: x>$/);
  });

  test('isFuture', () => {
    expect(isFuture(new Future(core.loop))).toBe(true);
    expect(isFuture({ then() {} })).toBe(false);
    expect(isFuture(undefined)).toBe(false);
  });

  test('setResultUnlessCancelled', () => {
    const f = new Future<number>(core.loop);
    f.cancel();
    _setResultUnlessCancelled(f, 2);
    expect(f.cancelled()).toBe(true);
  });

  describe('the await protocol', () => {
    test('the Future is its own iterator: it yields itself while pending, then returns the result', () => {
      const f = new Future<string>(core.loop);
      const it = f[Symbol.iterator]();
      expect(it).toBe(f);
      const r = it.next();
      expect(r.done).toBe(false);
      expect(r.value).toBe(f);
      expect(f._blocking).toBe(true);
      f.setResult('ok');
      expect(it.next()).toEqual({ done: true, value: 'ok' });
    });

    test('a failed Future throws from next(); throw() rethrows', () => {
      const f = new Future(core.loop);
      const exc = new Error('x');
      f.setException(exc);
      expect(thrown(() => f.next())).toBe(exc);
      expect(thrown(() => f.throw(exc))).toBe(exc);
    });

    test('yield* on a done Future does not suspend, and gives the same result each time', () => {
      const f = new Future<number>(core.loop);
      f.setResult(5);
      function* twice(): Coroutine<number[]> {
        const x = yield* f;
        const y = yield* f;
        return [x, y];
      }
      const g = twice();
      expect(g.next()).toEqual({ done: true, value: [5, 5] });
    });

    test('in a coroutine driven by hand, yield* suspends with the Future', () => {
      const f = new Future<number>(core.loop);
      function* co(): Coroutine<number> {
        return (yield* f) + 1;
      }
      const g = co();
      const r = g.next();
      expect(r.done).toBe(false);
      expect(r.value).toBe(f);
      f.setResult(1);
      expect(g.next()).toEqual({ done: true, value: 2 });
    });

    test('thenable: await works in an async function, and marks a failure retrieved', async () => {
      const f = new Future<number>(core.loop);
      const p = (async () => (await f) * 2)();
      core.loop.callSoon(() => f.setResult(21));
      runBriefly(core.loop, 2);
      expect(await p).toBe(42);

      const g = new Future(core.loop);
      g.setException(new TypeError('bad'));
      await expect((async () => await g)()).rejects.toThrow('bad');
      expect(g._unretrieved).toBe(null);

      const c = new Future(core.loop);
      c.cancel('stop');
      await expect((async () => await c)()).rejects.toBeInstanceOf(CancelledError);
    });
  });

  describe('done callbacks', () => {
    test('run from the loop in registration order, never inline', () => {
      const f = new Future<number>(core.loop);
      const calls: string[] = [];
      f.addDoneCallback(() => calls.push('a'));
      f.addDoneCallback(() => calls.push('b'));
      f.addDoneCallback((fut) => calls.push(`c${fut.result()}`));
      f.setResult(1);
      expect(calls).toEqual([]);
      runBriefly(core.loop);
      expect(calls).toEqual(['a', 'b', 'c1']);
    });

    test('added after done: scheduled, not called inline', () => {
      const f = new Future<number>(core.loop);
      f.setResult(1);
      const calls: number[] = [];
      f.addDoneCallback((fut) => calls.push(fut.result()));
      expect(calls).toEqual([]);
      runBriefly(core.loop);
      expect(calls).toEqual([1]);
    });

    test('removeDoneCallback removes every registration and says how many', () => {
      const f = new Future(core.loop);
      const calls: string[] = [];
      const a = (): void => void calls.push('a');
      const b = (): void => void calls.push('b');
      f.addDoneCallback(a);
      f.addDoneCallback(b);
      f.addDoneCallback(a);
      f.addDoneCallback(b);
      expect(f.removeDoneCallback(a)).toBe(2);
      expect(f.removeDoneCallback(a)).toBe(0);
      f.setResult(undefined);
      runBriefly(core.loop);
      expect(calls).toEqual(['b', 'b']);
    });

    test('removing the only callback, then adding others', () => {
      const f = new Future(core.loop);
      const calls: string[] = [];
      const a = (): void => void calls.push('a');
      f.addDoneCallback(a);
      expect(f.removeDoneCallback(a)).toBe(1);
      f.addDoneCallback(() => calls.push('b'));
      f.cancel();
      runBriefly(core.loop);
      expect(calls).toEqual(['b']);
    });

    test('a callback that throws goes to the exception handler; the others still run', () => {
      const f = new Future(core.loop);
      const calls: string[] = [];
      f.addDoneCallback(function failing() {
        throw new Error('in callback');
      });
      f.addDoneCallback(() => calls.push('second'));
      f.setResult(1);
      runBriefly(core.loop);
      expect(calls).toEqual(['second']);
      const [ctx, ...rest] = takeErrors(core);
      expect(rest).toEqual([]);
      expect(ctx!.message).toMatch(/^Exception in callback failing\(<Future finished result=1>\)/);
      expect((ctx!.exception as Error).message).toBe('in callback');
    });

    test('callbacks need a function', () => {
      const f = new Future(core.loop);
      expect(thrown(() => f.addDoneCallback(42 as never))).toBeInstanceOf(TypeError);
    });
  });

  describe('unretrieved exceptions are reported at loop close', () => {
    test('a failure nobody looked at', () => {
      const f = new Future(core.loop);
      f.setException(new Error('lost'));
      core.loop.close();
      const [ctx, ...rest] = takeErrors(core);
      expect(rest).toEqual([]);
      expect(ctx!.message).toBe('Future exception was never retrieved');
      expect((ctx!.exception as Error).message).toBe('lost');
      expect(ctx!.future).toBe(f);
    });

    test('not once result(), exception() or cancel() saw it', () => {
      const a = new Future(core.loop);
      a.setException(new Error('a'));
      thrown(() => a.result());
      const b = new Future(core.loop);
      b.setException(new Error('b'));
      b.exception();
      const c = new Future(core.loop);
      c.setException(new Error('c'));
      c.cancel();
      const d = new Future(core.loop);
      d.setResult(1); // a result is never reported
      core.loop.close();
      expect(takeErrors(core)).toEqual([]);
    });

    test('a failed Task is reported as a Task', () => {
      createTaskIn(core.loop, new Error('task failed'));
      runBriefly(core.loop, 2);
      core.loop.close();
      const [ctx] = takeErrors(core);
      expect(ctx!.message).toBe('Task exception was never retrieved');
    });
  });
});

function createTaskIn(loop: ReturnType<typeof newEventLoop>, err: Error): void {
  loop.createTask(
    (function* (): Coroutine<never> {
      yield;
      throw err;
    })(),
  );
}

test('createTask outside a running loop is a RuntimeError', () => {
  function* co(): Coroutine<void> {}
  const coro = co();
  expect(thrown(() => createTask(coro))).toBeInstanceOf(RuntimeError);
});
