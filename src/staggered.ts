// Running attempts with staggered starts and keeping the first to succeed
// (asyncio's staggered.staggered_race), the core of Happy Eyeballs (RFC 8305)
// in createConnection.

import { CancelledError } from './errors.js';
import type { AbstractEventLoop, TimerHandle } from './events.js';
import type { Future } from './futures.js';
import type { Coroutine } from './coroutines.js';

/** What staggeredRace returns: the winner's result and index (null, null when none won), and each attempt's error (null for those that did not fail). */
export type StaggeredResult<T> = [T | null, number | null, unknown[]];

/**
 * Start attempts[0] at once; start the next one when the one started last
 * fails, or `delay` seconds after it started (never, with delay null: then
 * the attempts run one after another). The first to succeed wins: the others
 * are cancelled, and awaited, before this returns. `discard` gets the result
 * of an attempt that succeeded too late to win (a socket to close).
 * Cancelled, it cancels every attempt and waits for them before it throws.
 */
export function* staggeredRace<T>(
  loop: AbstractEventLoop,
  attempts: ReadonlyArray<() => Coroutine<T>>,
  delay: number | null,
  discard: (result: T) => void = () => {},
): Coroutine<StaggeredResult<T>> {
  const errors: unknown[] = [];
  const running: Array<Future<T>> = [];
  let winner: number | null = null;
  let winnerResult: T | null = null;
  let started = 0;
  let lastFailed = false;
  let delayOver = false;
  let timer: TimerHandle | null = null;
  let wake: Future<null> | null = null;
  const stopTimer = (): void => {
    timer?.cancel();
    timer = null;
  };
  const poke = (): void => {
    if (wake !== null && !wake.done()) wake.setResult(null);
  };
  const start = (): void => {
    const index = started++;
    errors.push(null);
    lastFailed = false;
    delayOver = false;
    stopTimer();
    const task = loop.createTask(attempts[index]!());
    running.push(task);
    task.addDoneCallback(() => {
      if (task.cancelled()) return poke();
      const exc = task.exception();
      if (exc !== null && exc !== undefined) {
        errors[index] = exc;
        if (index === started - 1) lastFailed = true;
      } else if (winner === null) {
        winner = index;
        winnerResult = task.result();
      } else {
        discard(task.result());
      }
      poke();
    });
    if (delay !== null && started < attempts.length) {
      timer = loop.callLater(delay, () => {
        timer = null;
        delayOver = true;
        poke();
      });
    }
  };

  try {
    if (attempts.length > 0) start();
    while (winner === null) {
      if (started < attempts.length && (lastFailed || delayOver)) {
        start();
        continue;
      }
      if (running.every((t) => t.done())) break;
      wake = loop.createFuture<null>();
      yield* wake;
      wake = null;
    }
  } catch (err) {
    // Cancelled (or the loop failed under us): no attempt may outlive this call.
    stopTimer();
    yield* settle(loop, running);
    throw err;
  }
  stopTimer();
  yield* settle(loop, running);
  return [winnerResult, winner, errors];
}

/** Cancel the attempts still running and wait until every one is done (so each closed its socket). */
function* settle<T>(loop: AbstractEventLoop, running: ReadonlyArray<Future<T>>): Coroutine<void> {
  for (const t of running) t.cancel();
  let cancelled: unknown = null;
  for (const t of running) {
    while (!t.done()) {
      const done = loop.createFuture<null>();
      const onDone = (): void => {
        if (!done.done()) done.setResult(null);
      };
      t.addDoneCallback(onDone);
      try {
        yield* done;
      } catch (err) {
        // Cancelled again while cleaning up: finish the cleanup (the attempts
        // are cancelled already, it takes an iteration), then throw it.
        t.removeDoneCallback(onDone);
        if (!(err instanceof CancelledError)) throw err;
        cancelled = err;
      }
    }
  }
  if (cancelled !== null) throw cancelled;
}
