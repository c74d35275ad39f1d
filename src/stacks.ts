// Turning a V8 stack string into the frames worth showing for a coroutine
// (formatTasks, Task.getStack): user code and coio's awaitables, without the
// loop's machinery.

/**
 * The "at ..." frames of `stack` (a V8 Error.stack, innermost first) that
 * belong to user code and coio's awaitables: the Error line and the frames of
 * the Future constructor, createFuture, the Task machinery, the generators'
 * `next` frames and debug mode's coroutine tracking (never_awaited.ts) are
 * dropped. Innermost first, as V8 writes them.
 */
export function coroutineFrames(stack: string): string[] {
  const frames = stack.split('\n').slice(1).map((l) => l.trim());
  const machinery = /\b(new Future|new Task|createFuture|Task\._step|Task\._run|_runOnce|_runStep|_runDebug|runForever|runUntilComplete|Generator\.next|Runner\.run)\b|Future\.next \(|node:internal\/|\.next \(<anonymous>\)|never_awaited\.[jt]s/;
  return frames.filter((f) => f.startsWith('at ') && !machinery.test(f));
}
