// Eager tasks (asyncio 3.12's eager_task_factory, create_eager_task_factory,
// Task(eager_start=True)): the coroutine runs inside createTask until it
// first waits; one that never waits is done before createTask returns.
import { describe, expect, test } from 'vitest';
import { Task, allTasks, createEagerTaskFactory, createTask, currentTask, eagerTaskFactory, getRunningLoop, openConnection, sleep, startServer } from '../src/index.js';
import type { StreamReader, StreamWriter } from '../src/index.js';
import { useCoreLoop } from './core_helpers.js';
import { backends, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

describe('eager tasks', () => {
  const core = useCoreLoop();

  test('a coroutine that never waits is done when createTask returns, and not pending', () => {
    core.loop.setTaskFactory(eagerTaskFactory);
    core.run(function* () {
      const log: string[] = [];
      const t = createTask(
        (function* () {
          log.push('ran');
          return 42;
        })(),
      );
      log.push('after createTask');
      expect(t.done()).toBe(true);
      expect(t.result()).toBe(42);
      expect(allTasks().has(t)).toBe(false);
      expect(log).toEqual(['ran', 'after createTask']);
      expect(yield* t).toBe(42);
    });
  });

  test('runs synchronously up to its first wait, then as any Task; currentTask is set meanwhile', () => {
    core.loop.setTaskFactory(eagerTaskFactory);
    core.run(function* () {
      const outer = currentTask();
      const log: string[] = [];
      let inside: Task | null = null;
      const t = createTask(
        (function* () {
          inside = currentTask();
          log.push('before wait');
          yield* sleep(0);
          log.push('after wait');
          return currentTask();
        })(),
      );
      log.push('createTask returned');
      expect(inside).toBe(t);
      expect(currentTask()).toBe(outer);
      expect(t.done()).toBe(false);
      expect(allTasks().has(t)).toBe(true);
      expect(yield* t).toBe(t);
      expect(log).toEqual(['before wait', 'createTask returned', 'after wait']);
    });
  });

  test('a synchronous throw fails the Task at once; a cancel after the first wait cancels it', () => {
    core.loop.setTaskFactory(eagerTaskFactory);
    core.run(function* () {
      const failed = createTask(
        (function* (): Co<never> {
          throw new Error('boom');
        })(),
      );
      expect(failed.done()).toBe(true);
      expect((failed.exception() as Error).message).toBe('boom');
      const waiting = createTask(sleep(10));
      expect(waiting.cancel()).toBe(true);
      yield* sleep(0);
      expect(waiting.cancelled()).toBe(true);
    });
  });

  test('createEagerTaskFactory(Subclass) makes that class; eagerStart on a loop that is not running schedules normally', () => {
    class Traced<T> extends Task<T> {}
    core.loop.setTaskFactory(createEagerTaskFactory(Traced as never));
    core.run(function* () {
      const t = createTask(
        (function* () {
          return 1;
        })(),
      );
      expect(t).toBeInstanceOf(Traced);
      expect(t.done()).toBe(true);
      yield* t;
    });
    core.loop.setTaskFactory(null);
    let ran = false;
    const t = new Task(
      (function* () {
        ran = true;
      })(),
      { loop: core.loop, eagerStart: true },
    );
    expect(ran).toBe(false);
    core.run(t);
    expect(ran).toBe(true);
  });

  test('createEagerTaskFactory with no constructor: TypeError', () => {
    expect(() => createEagerTaskFactory(undefined as never)).toThrow(TypeError);
  });

  test('an eager Task started from a callback (no Task running)', () => {
    core.loop.setTaskFactory(eagerTaskFactory);
    let t: Task<number> | null = null;
    core.run(function* () {
      const loop = getRunningLoop();
      loop.callSoon(() => {
        t = createTask(
          (function* () {
            return 7;
          })(),
        );
      });
      yield* sleep(0);
      yield* sleep(0);
    });
    expect(t!.result()).toBe(7);
  });
});

describe.each(backends)('eager handler tasks over sockets on %s', (backend) => {
  const t = useLoop(backend);

  test('a server whose handlers start eagerly answers every client', () => {
    t.loop.setTaskFactory(eagerTaskFactory);
    const got = t.run(
      (function* (): Co<string[]> {
        const server = yield* startServer(function* (reader: StreamReader, writer: StreamWriter) {
          const line = yield* reader.readLine();
          writer.write(`echo ${String(line)}`);
          yield* writer.drain();
          writer.close();
        }, '127.0.0.1', 0);
        const { port } = server.addresses()[0] as { port: number };
        const one = function* (i: number): Co<string> {
          const [r, w] = yield* openConnection('127.0.0.1', port);
          w.write(`${i}\n`);
          const reply = String(yield* r.read(100));
          w.close();
          yield* w.waitClosed();
          return reply.trim();
        };
        const tasks = [0, 1, 2].map((i) => createTask(one(i)));
        const out: string[] = [];
        for (const task of tasks) out.push(yield* task);
        server.close();
        yield* server.waitClosed();
        return out;
      })(),
    );
    expect(got).toEqual(['echo 0', 'echo 1', 'echo 2']);
  });
});
