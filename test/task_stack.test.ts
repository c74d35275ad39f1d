// Task.getStack() / printStack() (asyncio's get_stack / print_stack): what a
// suspended generator coroutine can show (the yield* chain down to its
// await, recorded in debug mode), a failed Task's exception frames, and the
// limits of both.
import { describe, expect, test } from 'vitest';
import { Event, sleep } from '../src/index.js';
import type { Coroutine, Task } from '../src/index.js';
import { useCoreLoop } from './core_helpers.js';

function* innermostWait(ev: Event): Coroutine<void> {
  yield* ev.wait();
}
function* middleLayer(ev: Event): Coroutine<void> {
  yield* innermostWait(ev);
}
function* outerLayer(ev: Event): Coroutine<void> {
  yield* middleLayer(ev);
}
function* failsDeep(): Coroutine<void> {
  yield* sleep(0);
  throwingHelper();
}
function throwingHelper(): never {
  throw new RangeError('deep failure');
}

function collect(): { write(text: string): void; text: string } {
  const out = { text: '', write(t: string): void { out.text += t; } };
  return out;
}

describe('Task.getStack and printStack (debug mode)', () => {
  const core = useCoreLoop({ debug: true });

  test('a suspended Task: the chain of generators down to the await, oldest first; limit keeps the newest', () => {
    core.run(function* () {
      const ev = new Event();
      const task = core.loop.createTask(outerLayer(ev), { name: 'layers' });
      yield* sleep(0);
      const frames = task.getStack();
      const names = frames.map((f) => /at (?:Generator\.)?(\w+)/.exec(f)?.[1]);
      const iOuter = names.indexOf('outerLayer');
      const iMiddle = names.indexOf('middleLayer');
      const iInner = names.indexOf('innermostWait');
      expect(iOuter).toBeGreaterThanOrEqual(0);
      expect(iOuter).toBeLessThan(iMiddle);
      expect(iMiddle).toBeLessThan(iInner);
      // The newest frames are the Event's wait() and the innermost generator.
      const last2 = task.getStack({ limit: 2 });
      expect(last2).toEqual(frames.slice(-2));
      expect(task.getStack({ limit: 0 })).toEqual([]);
      expect(task.getStack({ limit: frames.length + 5 })).toEqual(frames);
      const out = collect();
      task.printStack({ file: out });
      expect(out.text).toMatch(/^Stack for <Task pending name="layers".*\(most recent call last\):\n/);
      expect(out.text).toContain('innermostWait');
      ev.set();
      yield* task;
      expect(task.getStack()).toEqual([]); // done with a result
    });
  });

  test('a failed Task: its exception frames, oldest first; limit keeps the oldest; the exception line last', () => {
    core.run(function* () {
      const task = core.loop.createTask(failsDeep(), { name: 'fails' });
      try {
        yield* task;
      } catch {
        // seen below
      }
      const frames = task.getStack();
      expect(frames.at(-1)).toMatch(/throwingHelper/);
      expect(frames.some((f) => /failsDeep/.test(f))).toBe(true);
      expect(task.getStack({ limit: 1 })).toEqual(frames.slice(0, 1));
      const out = collect();
      task.printStack({ file: out, limit: 3 });
      expect(out.text).toMatch(/^Traceback for <Task finished .*name="fails".*\(most recent call last\):\n/);
      expect(out.text.trimEnd().split('\n').at(-1)).toBe('RangeError: deep failure');
    });
  });

  test('not started, ready to run, cancelled: no stack', () => {
    core.run(function* () {
      const ev = new Event();
      const task = core.loop.createTask(outerLayer(ev));
      expect(task.getStack()).toEqual([]); // not started
      task.cancel();
      try {
        yield* task;
      } catch {
        // cancelled
      }
      expect(task.getStack()).toEqual([]);
      const out = collect();
      task.printStack({ file: out });
      expect(out.text).toMatch(/^No stack for <Task cancelled/);
    });
  });

  test('bad limits and files are refused', () => {
    core.run(function* () {
      const task = core.loop.createTask(sleep(0));
      expect(() => task.getStack({ limit: -1 })).toThrow(RangeError);
      expect(() => task.getStack({ limit: 1.5 })).toThrow(RangeError);
      expect(() => task.printStack({ file: {} as never })).toThrow(TypeError);
      yield* task;
    });
  });
});

describe('Task.getStack outside debug mode', () => {
  const core = useCoreLoop();

  test('a suspended Task shows no stack (none is recorded), and printStack says why', () => {
    core.run(function* () {
      const ev = new Event();
      const task: Task<void> = core.loop.createTask(outerLayer(ev), { name: 'quiet' });
      yield* sleep(0);
      expect(task.getStack()).toEqual([]);
      const out = collect();
      task.printStack({ file: out });
      expect(out.text).toMatch(/^No stack for <Task pending name="quiet"/);
      expect(out.text).toContain('recorded in debug mode only');
      ev.set();
      yield* task;
    });
  });
});
