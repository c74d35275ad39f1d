// TaskGroup (after CPython's test_taskgroups.py). On a virtual clock
// (test_loop.ts): the sleeps here only order the tasks, nothing waits for
// real time.
import { describe, expect, test } from 'vitest';
import { CancelledError, ExceptionGroup, RuntimeError } from '../src/errors.js';
import { createTask, currentTask, sleep } from '../src/tasks.js';
import type { Coroutine, Task } from '../src/tasks.js';
import { TaskGroup } from '../src/taskgroups.js';
import { after, failAfter, runBriefly, thrown, thrownBy, useCoreLoop } from './core_helpers.js';

describe('TaskGroup', () => {
  const core = useCoreLoop({ virtualClock: true });

  test('run returns the body result once every task is done', () => {
    const log: string[] = [];
    const r = core.run(function* () {
      const result = yield* TaskGroup.run(function* (tg) {
        tg.createTask(
          (function* () {
            yield* sleep(0.005);
            log.push('t1');
          })(),
        );
        tg.createTask(
          (function* () {
            yield* sleep(0.001);
            log.push('t2');
          })(),
        );
        log.push('body');
        return 'body result';
      });
      log.push('after');
      return result;
    });
    expect(r).toBe('body result');
    expect(log).toEqual(['body', 't2', 't1', 'after']);
  });

  test('createTask returns the task, with a name if given', () => {
    core.run(function* () {
      yield* TaskGroup.run(function* (tg) {
        const t = tg.createTask(after(1, 5), { name: 'named' });
        expect(t.getName()).toBe('named');
        expect(yield* t).toBe(5);
      });
    });
  });

  test('one task fails: the others and the body are cancelled, the error comes out in an ExceptionGroup', () => {
    const err = new Error('child failed');
    const log: string[] = [];
    const caught = core.run(function* () {
      const e = yield* thrownBy(
        TaskGroup.run(function* (tg) {
          tg.createTask(
            (function* () {
              try {
                yield* sleep(10);
              } catch (x) {
                log.push('sibling cancelled');
                throw x;
              }
            })(),
          );
          tg.createTask(failAfter(2, err));
          try {
            yield* sleep(10);
          } catch (x) {
            log.push('body cancelled');
            throw x;
          }
        }),
      );
      // The group took back its own cancellation of the parent.
      expect(currentTask()!.cancelling()).toBe(0);
      return e;
    });
    expect(caught).toBeInstanceOf(ExceptionGroup);
    expect(caught).toBeInstanceOf(AggregateError);
    expect((caught as ExceptionGroup).exceptions).toEqual([err]);
    expect((caught as ExceptionGroup).errors).toEqual([err]);
    expect(log.sort()).toEqual(['body cancelled', 'sibling cancelled']);
  });

  test('several failures come out together', () => {
    const e1 = new Error('1');
    const e2 = new Error('2');
    const caught = core.run(function* () {
      return yield* thrownBy(
        TaskGroup.run(function* (tg) {
          tg.createTask(failAfter(1, e1));
          tg.createTask(
            (function* () {
              try {
                yield* sleep(10);
              } finally {
                throw e2; // fails while being cancelled
              }
            })(),
          );
        }),
      );
    });
    expect((caught as ExceptionGroup).exceptions).toEqual([e1, e2]);
  });

  test("the body's own error is among the errors, and cancels the tasks", () => {
    const bodyErr = new Error('body');
    let child: Task<unknown> | null = null;
    const caught = core.run(function* () {
      return yield* thrownBy(
        TaskGroup.run(function* (tg) {
          child = tg.createTask(sleep(10));
          yield;
          throw bodyErr;
        }),
      );
    });
    expect((caught as ExceptionGroup).exceptions).toEqual([bodyErr]);
    expect(child!.cancelled()).toBe(true);
  });

  test('the parent cancelled from outside: the tasks are cancelled and CancelledError propagates', () => {
    const children: Task<unknown>[] = [];
    const parent = core.loop.createTask(
      (function* () {
        yield* TaskGroup.run(function* (tg) {
          children.push(tg.createTask(sleep(10)), tg.createTask(sleep(10)));
          yield* sleep(10);
        });
      })(),
    );
    runBriefly(core.loop, 3);
    parent.cancel();
    expect(thrown(() => core.loop.runUntilComplete(parent))).toBeInstanceOf(CancelledError);
    expect(children.every((c) => c.cancelled())).toBe(true);
  });

  test('the parent cancelled while the group waits for its tasks at exit', () => {
    const parent = core.loop.createTask(
      (function* () {
        yield* TaskGroup.run(function* (tg) {
          tg.createTask(sleep(10));
        });
      })(),
    );
    runBriefly(core.loop, 3);
    parent.cancel();
    expect(thrown(() => core.loop.runUntilComplete(parent))).toBeInstanceOf(CancelledError);
  });

  test('a task failing while the parent is also cancelled from outside: the ExceptionGroup wins, the cancellation stays pending', () => {
    const err = new Error('x');
    const parent = core.loop.createTask(
      (function* () {
        let e: unknown = null;
        try {
          yield* TaskGroup.run(function* (tg) {
            tg.createTask(failAfter(1, err));
            yield* sleep(10);
          });
        } catch (x) {
          e = x;
        }
        expect(e).toBeInstanceOf(ExceptionGroup);
        expect(currentTask()!.cancelling()).toBe(1);
        yield* sleep(10); // the outside cancellation arrives here
      })(),
    );
    core.loop.callSoon(() => core.loop.callSoon(() => parent.cancel()));
    expect(thrown(() => core.loop.runUntilComplete(parent))).toBeInstanceOf(CancelledError);
  });

  test('cancelled tasks of the group are not errors', () => {
    const r = core.run(function* () {
      return yield* TaskGroup.run(function* (tg) {
        const t = tg.createTask(sleep(10));
        yield;
        t.cancel();
        return 'ok';
      });
    });
    expect(r).toBe('ok');
  });

  test('tg.cancel() stops the group without an error; run returns undefined', () => {
    const log: string[] = [];
    const r = core.run(function* () {
      const result = yield* TaskGroup.run(function* (tg) {
        tg.createTask(sleep(10));
        yield;
        tg.cancel();
        tg.cancel(); // idempotent
        yield* sleep(10);
        log.push('not reached');
        return 'x';
      });
      log.push('after');
      expect(currentTask()!.cancelling()).toBe(0);
      return result;
    });
    expect(r).toBeUndefined();
    expect(log).toEqual(['after']);
  });

  test('tg.cancel() after the body returned, or caught by the body: run returns the body\'s result', () => {
    const r = core.run(function* () {
      const late = yield* TaskGroup.run(function* (tg) {
        tg.createTask(sleep(10));
        tg.createTask(after(1, null)).addDoneCallback(() => tg.cancel());
        return 'late';
      });
      const caught = yield* TaskGroup.run(function* (tg) {
        tg.createTask(sleep(10));
        yield;
        tg.cancel();
        try {
          yield* sleep(10);
        } catch (e) {
          if (!(e instanceof CancelledError)) throw e;
        }
        return 'caught';
      });
      return [late, caught];
    });
    expect(r).toEqual(['late', 'caught']);
  });

  test('tg.cancel() then the body returns without suspending: no stray CancelledError in the parent later', () => {
    const r = core.run(function* () {
      const result = yield* TaskGroup.run(function* (tg) {
        tg.cancel();
        return 'body result';
      });
      expect(currentTask()!.cancelling()).toBe(0);
      // The group took its cancellation of the parent back: this await is not cancelled.
      yield* sleep(0.001);
      return result;
    });
    expect(r).toBe('body result');
  });

  test('cancel() before entering: the group stops as soon as it is entered', () => {
    core.run(function* () {
      const tg = new TaskGroup();
      tg.cancel();
      const r = yield* tg.run(function* (g) {
        // Already shutting down: no new tasks.
        expect(thrown(() => g.createTask(sleep(10)))).toBeInstanceOf(RuntimeError);
        yield* sleep(10);
        return 'x';
      });
      expect(r).toBeUndefined();
    });
  });

  test('misuse: createTask outside the scope, entering twice, outside a task', () => {
    core.run(function* () {
      const tg = new TaskGroup();
      const coro = after(0, 1);
      expect(thrown(() => tg.createTask(coro))).toBeInstanceOf(RuntimeError);
      yield* tg.run(function* () {
        expect(yield* thrownBy(tg.run(function* () {}))).toBeInstanceOf(RuntimeError);
      });
      expect((thrown(() => tg.createTask(after(0, 1))) as Error).message).toBe('TaskGroup is finished');
    });
    expect(thrown(() => TaskGroup.run(function* () {}).next())).toBeInstanceOf(RuntimeError);
  });

  test('no new tasks while shutting down', () => {
    const caught = core.run(function* () {
      return yield* thrownBy(
        TaskGroup.run(function* (tg) {
          tg.createTask(failAfter(0, new Error('boom')));
          try {
            yield* sleep(10);
          } catch (e) {
            expect((thrown(() => tg.createTask(after(0, 1))) as Error).message).toBe('TaskGroup is shutting down');
            throw e;
          }
        }),
      );
    });
    expect(caught).toBeInstanceOf(ExceptionGroup);
  });

  test('tasks may start more tasks in the group while it waits at exit', () => {
    const log: string[] = [];
    core.run(function* () {
      yield* TaskGroup.run(function* (tg) {
        tg.createTask(
          (function* (): Coroutine<void> {
            yield* sleep(0.001);
            tg.createTask(
              (function* () {
                yield* sleep(0.001);
                log.push('grandchild');
              })(),
            );
          })(),
        );
      });
      log.push('after');
    });
    expect(log).toEqual(['grandchild', 'after']);
  });

  test('nested groups: an inner failure surfaces as a nested ExceptionGroup', () => {
    const err = new Error('deep');
    const caught = core.run(function* () {
      return yield* thrownBy(
        TaskGroup.run(function* (outer) {
          outer.createTask(
            (function* () {
              yield* TaskGroup.run(function* (inner) {
                inner.createTask(failAfter(1, err));
              });
            })(),
          );
        }),
      );
    });
    const outerGroup = caught as ExceptionGroup;
    expect(outerGroup.exceptions.length).toBe(1);
    expect((outerGroup.exceptions[0] as ExceptionGroup).exceptions).toEqual([err]);
  });

  test('an unrelated task keeps running', () => {
    const r = core.run(function* () {
      const bystander = createTask(sleep(0.005, 'bystander'));
      yield* thrownBy(
        TaskGroup.run(function* (tg) {
          tg.createTask(failAfter(0, new Error('x')));
          yield* sleep(10);
        }),
      );
      return yield* bystander;
    });
    expect(r).toBe('bystander');
  });
});
