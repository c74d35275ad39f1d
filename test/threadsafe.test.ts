// runCoroutineThreadsafe / wrapFuture (asyncio's run_coroutine_threadsafe,
// wrap_future) with real worker threads: a worker runs coroutines on this
// thread's loop and waits for them (blocking, or on a loop of its own),
// cancels them, gets their exceptions, and sees the loop close. Every test
// runs on every backend: only the worker's wakeups move the blocked loop.
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as coio from '../src/index.js';
import { ConcurrentFuture, RemoteLoop, RuntimeError, runCoroutineThreadsafe, wrapFuture } from '../src/index.js';
import type { Future, LoopRefData, Task } from '../src/index.js';
import { backends, useLoop } from './helpers.js';
import type { Co } from './helpers.js';
import { sanitizedChildEnv } from './leaks.js';
import { buildFixtures } from './transpile.js';

const fixture = buildFixtures(['test/fixtures/threadsafe_caller.ts']);
const workerEnv = { ...process.env, ...sanitizedChildEnv() };

interface Watched {
  done: Future<void>;
  seen: string[];
  task?: Task<unknown>;
}
const g = globalThis as unknown as { __coio: typeof coio; __ts: Watched | undefined };
beforeAll(() => {
  g.__coio = coio;
});
afterAll(() => {
  delete (globalThis as { __coio?: unknown }).__coio;
  delete g.__ts;
});

function startCaller(ref: LoopRefData, mode: string): { report: Promise<Record<string, unknown>>; exited: Promise<unknown> } {
  const worker = new Worker(fixture('test/fixtures/threadsafe_caller.ts'), { workerData: { ref, mode }, transferList: [ref.port], env: workerEnv });
  const report = new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  return { report, exited };
}

describe.each(backends)('runCoroutineThreadsafe from a worker thread (%s)', (backend) => {
  const t = useLoop(backend);

  test('results, exceptions, timeouts, and cancellation both ways, with result() blocking the worker', async () => {
    const ts: Watched = { done: t.loop.createFuture<void>(), seen: [] };
    g.__ts = ts;
    const { report, exited } = startCaller(t.loop.threadsafeRef(), 'blocking');
    t.run(
      (function* (): Co<void> {
        // Cancel, from here, the Task the worker's last request registers.
        while (ts.task === undefined) yield* coio.sleep(0.005);
        ts.task.cancel();
        yield* ts.done;
      })(),
    );
    const r = await report;
    await exited;
    expect(r.result).toEqual({ value: { doubled: 42, onLoopThread: true } });
    expect(r.error).toEqual({ error: 'RangeError', message: 'too far', code: 'ERR_FAR' });
    expect(r.timeout).toMatchObject({ error: 'TimeoutError' });
    expect(r.late).toEqual({ value: 'late' });
    expect(r.cancel).toBe(true);
    expect(r.cancelled).toEqual([true, true, { error: 'CancelledError', message: '', code: undefined }]);
    expect(ts.seen).toEqual(['started', 'CancelledError']);
    expect(r.cancelledThere).toMatchObject({ error: 'CancelledError' });
  });

  test('wrapFuture: a worker with its own loop awaits the answer, and cancelling its Future cancels the Task here', async () => {
    const ts: Watched = { done: t.loop.createFuture<void>(), seen: [] };
    g.__ts = ts;
    const { report, exited } = startCaller(t.loop.threadsafeRef(), 'wrap');
    t.run(
      (function* (): Co<void> {
        yield* ts.done;
      })(),
    );
    const r = await report;
    await exited;
    expect(r.wrap).toEqual({ value: 'HELLO', cfCancelled: true, wrappedCancelled: true });
    expect(ts.seen).toEqual(['wrapped CancelledError']);
  });

  test('the loop closing fails what it did not answer, and later calls are refused at once', async () => {
    const ts: Watched = { done: t.loop.createFuture<void>(), seen: [] };
    g.__ts = ts;
    const { report, exited } = startCaller(t.loop.threadsafeRef(), 'closing');
    t.run(
      (function* (): Co<void> {
        yield* ts.done; // the worker's request is running here
      })(),
    );
    // Its Task is still pending: close() reports it destroyed; the worker gets RuntimeError.
    for (const task of coio.allTasks(t.loop)) task._logDestroyPending = false;
    const pendingTasks = [...coio.allTasks(t.loop)];
    t.loop.close();
    const r = await report;
    await exited;
    expect(pendingTasks.length).toBe(1);
    expect(r.pending).toMatchObject({ error: 'RuntimeError', message: 'Event loop is closed' });
    expect(r.after).toBe('RuntimeError: Event loop is closed');
  });
});

describe('runCoroutineThreadsafe arguments', () => {
  test('bad input is refused with what was expected', () => {
    expect(() => new RemoteLoop({} as never)).toThrow(TypeError);
    expect(() => runCoroutineThreadsafe(function* () {}, [], {} as never)).toThrow(TypeError);
    const loop = coio.newEventLoop();
    try {
      expect(() => wrapFuture(42 as never, { loop })).toThrow(TypeError);
    } finally {
      loop.close();
    }
    expect(ConcurrentFuture).toBeTypeOf('function');
    expect(RuntimeError).toBeTypeOf('function');
  });
});
