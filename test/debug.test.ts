// formatTasks (src/debug.ts): one line per live task and what it waits on.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { Lock, newEventLoop } from '../src/index.js';
import { gather } from '../src/combinators.js';
import { RuntimeError } from '../src/errors.js';
import { formatTasks } from '../src/debug.js';
import { getRunningLoop } from '../src/events.js';
import { run } from '../src/runners.js';
import { createTask, sleep } from '../src/tasks.js';
import type { Coroutine } from '../src/tasks.js';
import { thrown, useCoreLoop } from './core_helpers.js';

function* innerWait(seconds: number): Coroutine<void> {
  yield* sleep(seconds);
}
function* worker(seconds: number): Coroutine<void> {
  yield* innerWait(seconds);
}

describe('formatTasks', () => {
  const core = useCoreLoop();

  test('names each task, marks the running one, and says what the others wait on', () => {
    core.run(function* () {
      const loop = getRunningLoop();
      const sleeper = createTask(worker(5), { name: 'sleeper' });
      const waiter = createTask(
        (function* () {
          yield* sleeper;
        })(),
        { name: 'waiter' },
      );
      const fut = loop.createFuture<void>();
      const blocked = createTask(
        (function* () {
          yield* fut;
        })(),
        { name: 'blocked' },
      );
      yield* sleep(0);
      const fresh = createTask(sleep(0), { name: 'not started' });
      const lines = formatTasks(loop).split('\n');
      for (const t of [sleeper, waiter, blocked]) t.cancel();
      expect(lines).toHaveLength(5); // main, sleeper, waiter, blocked, not started
      expect(lines).toContainEqual(expect.stringMatching(/^Task "Task-\d+" running$/));
      expect(lines).toContainEqual(expect.stringMatching(/^Task "sleeper" pending, waiting on <Future pending> \(a sleep\(\) timer, due in [45]\.\d\d s\)$/));
      expect(lines).toContain('Task "waiter" pending, waiting on Task "sleeper"');
      expect(lines).toContain('Task "blocked" pending, waiting on <Future pending>');
      expect(lines).toContain('Task "not started" pending, ready to run');
      yield* gather(sleeper, waiter, blocked, fresh, { returnExceptions: true });
    });
  });

  test('an empty string when no task is pending; the running loop by default', () => {
    expect(formatTasks(core.loop)).toBe('');
    expect(thrown(() => formatTasks())).toBeInstanceOf(RuntimeError);
  });
});

describe('formatTasks with stacks', () => {
  test('in debug mode, the yield* chain where the awaited Future was made', () => {
    let text = '';
    run(
      function* () {
        const t = createTask(worker(5), { name: 'deep' });
        yield* sleep(0);
        text = formatTasks(undefined, { stacks: true });
        t.cancel();
      },
      { debug: true },
    );
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('Task "deep"'));
    const frames = lines.slice(at + 1).filter((l) => l.startsWith('    at '));
    const names = frames.map((l) => /at (\S+)/.exec(l)![1]);
    // Innermost first: sleep's own generator, then the user's chain.
    expect(names.slice(0, 3)).toEqual(['sleepFor', 'innerWait', 'worker']);
  });

  test('outside debug mode, a note instead of a stack', () => {
    let text = '';
    run(function* () {
      const t = createTask(worker(5), { name: 'plain' });
      yield* sleep(0);
      text = formatTasks(undefined, { stacks: true });
      t.cancel();
    });
    expect(text).toContain('(no stack: the Future was created outside debug mode)');
  });
});

describe('debug mode: a coroutine never awaited', () => {
  /** Collect garbage until `done()` or 2 s pass; FinalizationRegistry callbacks run in tasks after a collection. */
  async function collectUntil(done: () => boolean): Promise<void> {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 100 && !done(); i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  function forget(): void {
    void new Lock().acquire(); // no yield*: never runs
    void sleep(1);
  }

  test('is reported with where it was made, once collected; started ones are not; outside debug mode nothing is tracked', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    const plainAcquire = Lock.prototype.acquire;
    const loop = newEventLoop({ debug: true });
    try {
      expect(Lock.prototype.acquire).not.toBe(plainAcquire); // the tracking wrapper
      forget();
      const started = new Lock().acquire();
      expect(started.next()).toEqual({ done: true, value: true });
      const ours = (): Error[] => warnings.filter((w) => (w as { code?: string }).code === 'COIO_NEVER_AWAITED');
      await collectUntil(() => ours().length >= 2);
      const messages = ours()
        .map((w) => w.message)
        .sort();
      expect(messages).toHaveLength(2);
      expect(messages[0]).toMatch(/^coroutine Lock\.acquire\(\) was never awaited/);
      expect(messages[1]).toMatch(/^coroutine sleep\(\) was never awaited/);
      // Where: the first frame shown is the function that made it.
      for (const m of messages) expect(m.split('\n')[1]).toMatch(/at forget .*debug\.test\.ts/);
      expect(ours()[0]!.name).toBe('RuntimeWarning');
    } finally {
      loop.close();
    }
    // No debug loop left: the plain methods are back (nothing runs per call), and nothing is recorded.
    expect(Lock.prototype.acquire).toBe(plainAcquire);
    const before = warnings.length;
    forget();
    await collectUntil(() => false);
    expect(warnings.length).toBe(before);
    process.off('warning', onWarning);
  }, 20_000);
});
