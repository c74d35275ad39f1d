// TaskGroup: structured concurrency (asyncio's taskgroups module, 3.11+).
// asyncio spells it `async with TaskGroup() as tg:`; here the scope is a body
// run inside the current Task:
//
//     const result = yield* TaskGroup.run(function* (tg) {
//       tg.createTask(fetch(1));
//       tg.createTask(fetch(2));
//       return 'started';
//     });
//     // here every task of the group is done
//
// run() returns when the body and all the group's tasks are done. If a task
// fails, the others and the body are cancelled, and once all have finished
// the failures come out together as an ExceptionGroup (the body's own error,
// if it failed too, is among them).

import type { LoopCore, TaskOptions } from './events.js';
import { CancelledError, ExceptionGroup, RuntimeError } from './errors.js';
import { _getRunningLoopOrThrow } from './events.js';
import { FAILED } from './futures.js';
import type { Future } from './futures.js';
import { currentTask } from './tasks.js';
import { isCoroutine } from './coroutines.js';
import type { Task, TaskInput } from './tasks.js';
import type { Coroutine, Co } from './coroutines.js';
import { _callBody } from './async_tasks.js';

/**
 * Structured concurrency (asyncio.TaskGroup): tasks started in the group's
 * body with tg.createTask are all done when run() returns. If one fails, the
 * others and the body are cancelled, and once everything has finished the
 * failures are thrown together as an ExceptionGroup. asyncio's
 * `async with TaskGroup() as tg:` is `yield* TaskGroup.run(function* (tg) { ... })`.
 *
 * @example
 * ```ts
 * const tasks = yield* TaskGroup.run(function* (tg) {
 *   return [tg.createTask(fetch(1)), tg.createTask(fetch(2))];
 * });
 * // every task of the group is done here
 * const [a, b] = tasks!.map((t) => t.result());
 * ```
 */
export class TaskGroup {
  private _entered = false;
  private _exiting = false;
  private _aborting = false;
  private _loop: LoopCore | null = null;
  private _parentTask: Task<unknown> | null = null;
  /** True once the group cancelled its parent (the body) itself: that cancellation is undone on exit. */
  private _parentCancelRequested = false;
  private readonly _tasks = new Set<Task<unknown>>();
  private _errors: unknown[] = [];
  private _onCompleted: Future<boolean> | null = null;
  private _cancelOnEnter = false;

  /**
   * `yield* TaskGroup.run(function* (tg) { ... })`: a new group around body.
   * The body may be an async function (`await TaskGroup.run(async (tg) => ...)`);
   * its tasks may be async functions too.
   * @returns the body's result; undefined only if tg.cancel() stopped the body
   *   (see {@link TaskGroup.run}).
   * @throws as {@link TaskGroup.run}.
   */
  static run<T>(body: (tg: TaskGroup) => Coroutine<T> | PromiseLike<T>): Coroutine<T | undefined> {
    return new TaskGroup().run(body);
  }

  /**
   * Run body(this) in the current Task, then wait for every task of the group.
   * A group runs once.
   *
   * Returns the body's result, except in one case, which is why the type
   * includes undefined: cancel() stopped the body itself, that is, the
   * group's CancelledError reached the body at a suspension point and the
   * body let it propagate. The body then has no result: run() returns
   * undefined and the caller goes on, as after an `async with TaskGroup()`
   * block cut short in asyncio. A body that finished before cancel() was
   * called, or that catches the CancelledError and returns, gives its
   * result. Without cancel() the result is always the body's (failures
   * throw instead).
   * @throws ExceptionGroup of the failures when tasks (or the body) failed;
   *   CancelledError if the enclosing task is cancelled from outside;
   *   RuntimeError if the group was already entered or there is no current task.
   */
  run<T>(body: (tg: TaskGroup) => Coroutine<T> | PromiseLike<T>): Co<T | undefined>;
  *run<T>(body: (tg: TaskGroup) => Coroutine<T> | PromiseLike<T>): Coroutine<T | undefined> {
    this._enter();
    let result: T;
    try {
      result = yield* _callBody<T>(body, [this]);
    } catch (exc) {
      yield* this._exit(true, exc); // throws, unless the group itself caused (and absorbs) the error
      return undefined;
    }
    yield* this._exit(false, undefined);
    return result;
  }

  /**
   * Start coro as a Task of the group.
   * @throws RuntimeError outside run(), or once the group is finished or shutting down (coro is then closed unstarted).
   */
  createTask<T>(coro: TaskInput<T>, options: TaskOptions = {}): Task<T> {
    if (!this._entered) return refuse(coro, 'TaskGroup has not been entered');
    if (this._exiting && this._tasks.size === 0) return refuse(coro, 'TaskGroup is finished');
    if (this._aborting) return refuse(coro, 'TaskGroup is shutting down');
    const task = this._loop!.createTask(coro, options);
    this._tasks.add(task as Task<unknown>);
    task.addDoneCallback(this._onTaskDone);
    return task;
  }

  /**
   * Stop the group: cancel its tasks and its body; run() then returns
   * without a CancelledError (undefined if the body was stopped, see run()).
   * Before run(): the group stops as soon as it is entered. Idempotent.
   */
  cancel(): void {
    if (!this._entered) {
      this._cancelOnEnter = true;
      return;
    }
    if (this._exiting && this._tasks.size === 0) return;
    if (this._aborting) return;
    this._abort();
    if (this._parentTask !== null && !this._parentCancelRequested) {
      this._parentCancelRequested = true;
      this._parentTask.cancel();
    }
  }

  /** `<TaskGroup tasks=N errors=N entered|cancelling>`. */
  toString(): string {
    const info = [];
    if (this._tasks.size > 0) info.push(`tasks=${this._tasks.size}`);
    if (this._errors.length > 0) info.push(`errors=${this._errors.length}`);
    if (this._aborting) info.push('cancelling');
    else if (this._entered) info.push('entered');
    return `<TaskGroup${info.map((s) => ' ' + s).join('')}>`;
  }

  private _enter(): void {
    if (this._entered) throw new RuntimeError('TaskGroup has already been entered');
    this._loop = _getRunningLoopOrThrow();
    this._parentTask = currentTask(this._loop);
    if (this._parentTask === null) throw new RuntimeError('TaskGroup cannot determine the parent task');
    this._entered = true;
    if (this._cancelOnEnter) this.cancel();
  }

  private *_exit(hasExc: boolean, exc: unknown): Coroutine<void> {
    this._exiting = true;
    let propagate: CancelledError | null = hasExc && exc instanceof CancelledError ? exc : null;
    // The body failed or our parent is being cancelled: stop the children.
    if (hasExc && !this._aborting) this._abort();

    // A loop: the wait can be cancelled more than once (the parent cancelled
    // repeatedly, or while our own abort is in progress).
    let pendingCancel: CancelledError | null = null;
    while (this._tasks.size > 0) {
      this._onCompleted ??= this._loop!.createFuture<boolean>();
      try {
        yield* this._onCompleted;
      } catch (err) {
        if (!(err instanceof CancelledError)) throw err;
        pendingCancel = err;
        if (!this._aborting) {
          // The parent was cancelled from outside while the children run.
          propagate = err;
          this._abort();
        }
      }
      this._onCompleted = null;
    }

    const parent = this._parentTask!;
    if (this._parentCancelRequested) {
      // We cancelled the parent ourselves: take that back.
      if (parent.uncancel() === 0) propagate = null;
      else if (propagate === null) propagate = pendingCancel; // the remaining cancellation is not ours: keep it
    }
    // Errors take priority over a cancellation.
    if (propagate !== null && this._errors.length === 0) throw propagate;
    if (hasExc && !(exc instanceof CancelledError)) this._errors.push(exc);
    if (this._errors.length === 0) return;

    // Cancelled from outside too: keep its cancel count stable, and the
    // cancellation pending for its next await.
    if (parent.cancelling() > 0) {
      parent.uncancel();
      parent.cancel();
    }
    const errors = this._errors;
    this._errors = [];
    throw new ExceptionGroup('unhandled errors in a TaskGroup', errors);
  }

  private _abort(): void {
    this._aborting = true;
    for (const t of this._tasks) if (!t.done()) t.cancel();
  }

  private readonly _onTaskDone = (task: Future<unknown>): void => {
    this._tasks.delete(task as Task<unknown>);
    if (this._onCompleted !== null && this._tasks.size === 0 && !this._onCompleted.done()) this._onCompleted.setResult(true);
    if (task.cancelled()) return;
    if (task._state !== FAILED) return;
    const exc = task.exception();
    this._errors.push(exc);
    const parent = this._parentTask!;
    if (parent.done()) {
      this._loop!.callExceptionHandler({ message: `Task ${String(task)} has errored out but its parent task ${String(parent)} is already completed`, exception: exc, task: task as Task<unknown> });
      return;
    }
    if (!this._aborting && !this._parentCancelRequested) {
      // Cancel the body, so it stops whatever it awaits; the group's exit
      // will uncancel it (the caller of run() sees the ExceptionGroup only).
      this._abort();
      this._parentCancelRequested = true;
      parent.cancel();
    }
  };
}

function refuse(coro: TaskInput<unknown>, message: string): never {
  if (isCoroutine(coro)) coro.return(undefined); // never started: nothing runs, but it is marked finished
  throw new RuntimeError(message);
}
