// run() and Runner (after CPython's test_runners.py).
import { afterEach, describe, expect, test, vi } from 'vitest';
import { RuntimeError } from '../src/errors.js';
import { getRunningLoop } from '../src/events.js';
import type { EventLoop } from '../src/loop.js';
import { getEventLoop, newEventLoop, setEventLoop } from '../src/loop.js';
import type { AbstractEventLoop } from '../src/events.js';
import { Runner, run } from '../src/runners.js';
import { availableBackends } from '../src/selectors.js';
import { createTask, sleep } from '../src/tasks.js';
import type { Coroutine } from '../src/tasks.js';
import { thrown } from './core_helpers.js';

afterEach(() => setEventLoop(null));

describe('run', () => {
  test('returns the result of a coroutine or of a generator function', () => {
    function* main(): Coroutine<number> {
      yield* sleep(0.001);
      return 42;
    }
    expect(run(main())).toBe(42);
    expect(run(main)).toBe(42);
  });

  test('throws the exception of main', () => {
    const err = new Error('main failed');
    expect(
      thrown(() =>
        run(function* () {
          yield;
          throw err;
        }),
      ),
    ).toBe(err);
  });

  test('a new loop each time, closed afterwards, and no loop set', () => {
    const loops: AbstractEventLoop[] = [];
    for (let i = 0; i < 2; i++) {
      run(function* () {
        loops.push(getRunningLoop());
        expect(getEventLoop()).toBe(getRunningLoop());
      });
    }
    expect(loops[0]).not.toBe(loops[1]);
    expect(loops.every((l) => l.isClosed())).toBe(true);
    const after = getEventLoop(); // a new one: run() left none set
    expect(loops).not.toContain(after);
    after.close();
  });

  test('tasks left pending are cancelled and awaited (their finally blocks run)', () => {
    const log: string[] = [];
    run(function* () {
      createTask(
        (function* () {
          try {
            yield* sleep(10);
          } finally {
            yield* sleep(0.001); // may still await
            log.push('cleaned up');
          }
        })(),
      );
      yield;
    });
    expect(log).toEqual(['cleaned up']);
  });

  test('a task failing while being cancelled at shutdown is reported', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      run(function* () {
        createTask(
          (function* () {
            try {
              yield* sleep(10);
            } finally {
              throw new Error('failed in cleanup');
            }
          })(),
        );
        yield;
      });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(String(spy.mock.calls[0]![0])).toMatch(/^unhandled exception during run\(\) shutdown/);
    } finally {
      spy.mockRestore();
    }
  });

  test('options: debug and selector', () => {
    for (const backend of availableBackends()) {
      const seen = run(
        function* () {
          const loop = getRunningLoop() as EventLoop;
          return [loop.getDebug(), loop.backend];
        },
        { debug: true, selector: backend },
      );
      expect(seen).toEqual([true, backend]);
    }
  });

  test('not a coroutine: a TypeError; inside a running loop: a RuntimeError', () => {
    expect(thrown(() => run(42 as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => run((() => 42) as never))).toBeInstanceOf(TypeError);
    const inner = run(function* () {
      return thrown(() => run(sleep(0)));
    });
    expect(inner).toBeInstanceOf(RuntimeError);
  });
});

describe('Runner', () => {
  test('several runs on one loop, then close', () => {
    const runner = new Runner();
    try {
      const loop = runner.getLoop();
      expect(runner.run(sleep(0, 1))).toBe(1);
      expect(
        runner.run(function* () {
          return getRunningLoop();
        }),
      ).toBe(loop);
      expect(getEventLoop()).toBe(loop);
    } finally {
      runner.close();
    }
    expect(runner.getLoop.bind(runner)).toThrow(RuntimeError);
    expect(thrown(() => runner.run(sleep(0)))).toBeInstanceOf(RuntimeError);
    runner.close(); // idempotent
  });

  test('a task started in one run keeps going in the next', () => {
    const runner = new Runner();
    try {
      const t = runner.run(function* () {
        return createTask(sleep(0.005, 'bg'));
      });
      expect(runner.run(() => (function* () {
        return yield* t;
      })())).toBe('bg');
    } finally {
      runner.close();
    }
  });

  test('loopFactory: its loop is used and not set as the current loop', () => {
    const made: EventLoop[] = [];
    const runner = new Runner({ loopFactory: () => (made.push(newEventLoop()), made[0]!), debug: true });
    try {
      expect(runner.getLoop()).toBe(made[0]);
      expect(made[0]!.getDebug()).toBe(true);
      runner.run(sleep(0));
    } finally {
      runner.close();
    }
    expect(made[0]!.isClosed()).toBe(true);
  });

  test('close() before any run does nothing', () => {
    new Runner().close();
  });
});
