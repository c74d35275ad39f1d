// Failed Futures whose exception nobody retrieved: reported when collected
// (or at loop close if still alive), never kept alive by the loop.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { newEventLoop } from '../src/index.js';
import type { EventLoop, ExceptionContext, Future } from '../src/index.js';
import { trackLoop } from './leaks.js';
import type { Co } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function recording(loop: EventLoop): ExceptionContext[] {
  const contexts: ExceptionContext[] = [];
  loop.setExceptionHandler((_l, ctx) => contexts.push(ctx));
  return contexts;
}

/** Fail n Futures nobody will look at; return WeakRefs to them only. */
function failMany(loop: EventLoop, n: number, tag: string): Array<WeakRef<Future<unknown>>> {
  const refs: Array<WeakRef<Future<unknown>>> = [];
  for (let i = 0; i < n; i++) {
    const f = loop.createFuture();
    f.setException(new Error(`${tag} ${i}`));
    refs.push(new WeakRef(f));
  }
  return refs;
}

describe('unretrieved failures', () => {
  it('5,000 failed Futures nobody retrieved are collected while the loop runs, and each is reported then', () => {
    const loop = trackLoop(newEventLoop());
    const contexts = recording(loop);
    const N = 5_000;
    function* main(): Co<[number, number, number]> {
      const refs = failMany(loop, N, 'lost');
      yield; // a loop turn: the callbacks that made them are over
      // Sweeps run every few hundred failures, and at least once a second
      // at a failure: nothing but gc is needed for the reports to come.
      for (let round = 0; round < 3; round++) {
        gc();
        loop._unretrievedFailures.sweep();
      }
      const alive = refs.filter((r) => r.deref() !== undefined).length;
      return [alive, contexts.length, loop._unretrievedFailures.size];
    }
    try {
      // Run from a vitest body, i.e. inside a microtask: V8's job never ends
      // while the loop runs, the case where WeakRef targets stay pinned.
      const [alive, reported, pending] = loop.runUntilComplete(main());
      expect(alive).toBe(0);
      expect(pending).toBe(0);
      expect(reported).toBe(N);
    } finally {
      loop.close();
    }
    expect(contexts.length).toBe(N); // nothing more at close
    const ctx = contexts[0]!;
    expect(ctx.message).toBe('Future exception was never retrieved');
    expect((ctx.exception as Error).message).toMatch(/^lost \d+$/);
    expect(ctx.future).toMatch(/^<Future finished exception=Error: lost \d+>$/);
  });

  it('a failed Task collected is reported as a Task, with its name', () => {
    const loop = trackLoop(newEventLoop());
    const contexts = recording(loop);
    function* main(): Co<void> {
      loop.createTask(
        (function* (): Co<void> {
          yield;
          throw new Error('task failed');
        })(),
        { name: 'worker' },
      );
      for (let i = 0; i < 3; i++) yield;
      for (let round = 0; round < 3; round++) {
        gc();
        loop._unretrievedFailures.sweep();
      }
    }
    try {
      loop.runUntilComplete(main());
    } finally {
      loop.close();
    }
    expect(contexts.map((c) => [c.message, c.future])).toEqual([['Task exception was never retrieved', '<Task finished exception=Error: task failed name="worker">']]);
  });

  it('failures that were retrieved leave nothing behind and are never reported', () => {
    const loop = trackLoop(newEventLoop());
    const contexts = recording(loop);
    function* main(): Co<number> {
      for (let i = 0; i < 1000; i++) {
        const f = loop.createFuture();
        f.setException(new Error('seen'));
        if (i % 2 === 0) f.exception();
        else {
          try {
            yield* f;
          } catch {
            // retrieved by the await
          }
        }
      }
      return loop._unretrievedFailures.size;
    }
    try {
      expect(loop.runUntilComplete(main())).toBe(0);
    } finally {
      loop.close();
    }
    expect(contexts).toEqual([]);
  });

  it('with the loop not running, a collected failure is reported once Node\'s loop turns (FinalizationRegistry)', async () => {
    const loop = trackLoop(newEventLoop());
    const contexts = recording(loop);
    try {
      failMany(loop, 10, 'idle');
      for (let i = 0; i < 20 && contexts.length < 10; i++) {
        await new Promise((resolve) => setImmediate(resolve)); // ends the job: WeakRef targets are released
        gc();
        await new Promise((resolve) => setImmediate(resolve)); // the registry's callbacks run
      }
      expect(contexts.length).toBe(10);
      expect(loop._unretrievedFailures.size).toBe(0);
    } finally {
      loop.close();
    }
    expect(contexts.length).toBe(10);
  });

  it('a failure still alive when the loop closes is reported then, with the Future itself', () => {
    const loop = trackLoop(newEventLoop());
    const contexts = recording(loop);
    const f = loop.createFuture();
    f.setException(new Error('kept'));
    loop.close();
    expect(contexts.length).toBe(1);
    expect(contexts[0]!.message).toBe('Future exception was never retrieved');
    expect(contexts[0]!.future).toBe(f); // (toEqual would iterate the Future)
    expect(f._unretrieved).toBe(null);
  });
});
