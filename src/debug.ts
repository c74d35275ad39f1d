// Listing a loop's live tasks and what each one waits on (asyncio's
// Task.print_stack / `python -m asyncio ps`, in one helper).
//
// A suspended generator keeps no inspectable frame, so "where is it stuck"
// comes from the Future it waits on: a Task (another task's name), a timer
// (sleep, callLater: when it fires), or, in debug mode, the stack recorded
// when that Future was created. That stack runs through the yield* chain of
// the coroutine that was awaiting at the time (the generator frames are
// live while the Future is made), which is usually the chain still waiting.

import type { LoopCore } from './events.js';
import { _baseLoop, _getRunningLoopOrThrow } from './events.js';
import type { AbstractEventLoop, TimerHandle } from './events.js';
import { coroutineFrames } from './stacks.js';
import { Task, allTasks } from './tasks.js';

/** Options of formatTasks(). */
export interface FormatTasksOptions {
  /**
   * Under each task, the stack where the Future it waits on was created,
   * trimmed to the coroutines' frames (not for a task waiting on another
   * Task: that one's own line shows where it is). Recorded in debug mode only
   * (`run(main, { debug: true })` or `loop.setDebug(true)` before the
   * Future is made); without it there is nothing to show.
   */
  stacks?: boolean;
}

/**
 * One line per pending Task of `loop` (default: the running loop): its
 * name, its state, and what it waits on, e.g.
 *
 *     Task "worker-2" pending, waiting on <Future pending> (a sleep() timer, due in 0.85 s)
 *     Task "main" pending, waiting on Task "worker-1"
 *     Task "Task-7" pending, ready to run
 *
 * The running Task (the one calling formatTasks, if any) is marked
 * "running". Tasks come in allTasks() order (not sorted); the result is
 * an empty string if there is none.
 *
 * @throws RuntimeError if `loop` is omitted and no loop is running.
 */
export function formatTasks(loop?: AbstractEventLoop, options: FormatTasksOptions = {}): string {
  const target = loop !== undefined ? _baseLoop(loop) : _getRunningLoopOrThrow();
  const timers = target._scheduled.toArray();
  const lines: string[] = [];
  for (const task of allTasks(target)) {
    lines.push(`Task ${JSON.stringify(task.getName())} ${describeWait(task, target, timers)}`);
    // A Task waited on has its own line: its stack is the one that matters.
    if (options.stacks === true && task._futWaiter !== null && !(task._futWaiter instanceof Task)) {
      const stack = createdFrames(task._futWaiter._sourceTraceback);
      for (const frame of stack) lines.push(`    ${frame}`);
    }
  }
  return lines.join('\n');
}

/** What a pending Task is doing: running, due to run, or waiting on a Future. */
function describeWait(task: Task<unknown>, loop: LoopCore, timers: TimerHandle[]): string {
  if (loop._currentTask === task) return 'running';
  const fut = task._futWaiter;
  if (fut === null) return 'pending, ready to run';
  if (fut instanceof Task) return `pending, waiting on Task ${JSON.stringify(fut.getName())}`;
  const timer = timers.find((t) => !t.cancelled() && t._args !== null && t._args.includes(fut));
  let detail = '';
  if (timer !== undefined) {
    const what = timer._callback?.name === '_setResultUnlessCancelled' ? 'a sleep() timer' : `a timer (${timer._callback?.name || 'anonymous'})`;
    detail = ` (${what}, due in ${Math.max(0, timer.when() - loop.time()).toFixed(2)} s)`;
  }
  return `pending, waiting on ${String(fut)}${detail}`;
}

/** The frames of a "created here" stack (see stacks.ts), or why there is none. */
function createdFrames(stack: string | undefined): string[] {
  if (stack === undefined) return ['(no stack: the Future was created outside debug mode)'];
  return coroutineFrames(stack);
}
