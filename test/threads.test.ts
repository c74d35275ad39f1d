// Threads: blocking work in worker threads while the loop keeps serving
// (runInExecutor, toThread), messages from other threads (Inbox,
// callSoonThreadsafe), and one loop per worker thread (the documents'
// program 7). Every loop-level test runs on every backend.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, test, vi } from 'vitest';
import {
  BrokenThreadPool,
  gather,
  getRunningLoop,
  LoopSender,
  RuntimeError,
  run,
  runGuest,
  sleep,
  ThreadPoolExecutor,
  TimeoutError,
  toThread,
  waitFor,
  workerFunction,
} from '../src/index.js';
import type { InboxSenderData } from '../src/index.js';
import { backends, useLoop } from './helpers.js';
import type { Co } from './helpers.js';
import { sanitizedChildEnv } from './leaks.js';
import { buildFixtures } from './transpile.js';

const here = dirname(fileURLToPath(import.meta.url));
const moduleFixture = join(here, 'fixtures', 'executor_module.mjs');
const fixture = buildFixtures(['test/fixtures/loop_thread.ts', 'test/fixtures/inbox_sender.ts', 'test/fixtures/late_sender.ts']);
/** Under scripts/asan.sh, the fixtures' threads load the sanitized addon too. */
const workerEnv = { ...process.env, ...sanitizedChildEnv() };

/** Executors made by the tests: their threads must be gone before the fd check. */
const executors: ThreadPoolExecutor[] = [];
function executor(maxWorkers = 2): ThreadPoolExecutor {
  const ex = new ThreadPoolExecutor({ maxWorkers });
  executors.push(ex);
  return ex;
}
afterAll(async () => {
  await Promise.all(executors.map((ex) => ex.shutdown()));
});

/** Busy-wait for ms milliseconds in the calling thread; returns the spin count. Self-contained: it runs in a worker. */
function spin(ms: number): number {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
}

describe.each(backends)('runInExecutor and toThread (%s)', (backend) => {
  const t = useLoop(backend);

  test('a blocking computation runs in a worker while the loop keeps serving', () => {
    const ex = executor();
    const [spins, ticks] = t.run(
      (function* (): Co<[number, number]> {
        let ticks = 0;
        const ticker = t.loop.createTask(
          (function* () {
            for (;;) {
              yield* sleep(0.01);
              ticks++;
            }
          })(),
        );
        const spins = yield* t.loop.runInExecutor(ex, spin, 300);
        ticker.cancel();
        return [spins, ticks];
      })(),
    );
    expect(spins).toBeGreaterThan(0);
    // 300 ms of blocking work in the worker, 10 ms ticks here: many ticks.
    expect(ticks).toBeGreaterThanOrEqual(10);
  });

  test('toThread uses the default executor; async functions, arguments and results are cloned', () => {
    const ex = executor();
    t.loop.setDefaultExecutor(ex);
    const results = t.run(
      (function* (): Co<unknown[]> {
        const sum = yield* toThread((a: number, b: number) => a + b, 2, 3);
        const later = yield* toThread(async (x: { n: number[] }) => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          return { doubled: x.n.map((v) => v * 2), when: new Date(0) };
        }, { n: [1, 2, 3] });
        const method = yield* toThread({ triple(x: number) { return 3 * x; } }.triple, 7);
        const usesRequire = yield* toThread((s: string) => require('node:crypto').createHash('sha1').update(s).digest('hex').length, 'x');
        return [sum, later, method, usesRequire];
      })(),
    );
    expect(results).toEqual([5, { doubled: [2, 4, 6], when: new Date(0) }, 21, 40]);
  });

  test('jobs run in parallel on up to maxWorkers threads, results in order', () => {
    const ex = executor(3);
    const results = t.run(
      (function* (): Co<[number, number, number][]> {
        const jobs = [0, 1, 2, 3, 4, 5].map((i) => t.loop.runInExecutor(ex, (x: number, ms: number) => {
          const start = Date.now();
          const end = start + ms;
          while (Date.now() < end) {
            // busy
          }
          return [x * x, start, Date.now()] as [number, number, number];
        }, i, 150));
        return (yield* gather(...jobs)) as [number, number, number][];
      })(),
    );
    expect(results.map(([square]) => square)).toEqual([0, 1, 4, 9, 16, 25]);
    expect(ex.threads).toBeLessThanOrEqual(3);
    // Parallelism shown by overlap, not by a wall-clock bound (which a loaded
    // or sanitized run misses): the most jobs running at one instant is 2 or
    // 3, never more than the pool's threads. Six 150 ms jobs on 3 threads
    // overlap whatever the machine's load; on one thread they never would.
    const running = (at: number): number => results.filter(([, start, end]) => start <= at && at < end).length;
    const most = Math.max(...results.map(([, start]) => running(start)));
    expect(most).toBeGreaterThanOrEqual(2);
    expect(most).toBeLessThanOrEqual(3);
  });

  test('workerFunction: a module export (ESM), its default export, and clear errors', () => {
    const ex = executor();
    const out = t.run(
      (function* (): Co<unknown[]> {
        const add = workerFunction<[number, number], number>(moduleFixture, 'add');
        const slow = workerFunction<[number, number], Promise<number>>(moduleFixture);
        const got: unknown[] = [yield* t.loop.runInExecutor(ex, add, 40, 2), yield* t.loop.runInExecutor(ex, slow, 21, 5)];
        for (const bad of [workerFunction(moduleFixture, 'notAFunction'), workerFunction(join(here, 'fixtures', 'missing.mjs'), 'x')]) {
          try {
            yield* t.loop.runInExecutor(ex, bad);
          } catch (err) {
            got.push((err as Error).name);
          }
        }
        return got;
      })(),
    );
    expect(out.slice(0, 2)).toEqual([42, 42]);
    expect(out[2]).toBe('TypeError');
    expect(out[3]).toBe('Error'); // ERR_MODULE_NOT_FOUND
    expect(() => workerFunction('relative/path.js')).toThrow(TypeError);
  });

  test('errors thrown in the worker keep their class, message and properties', () => {
    const ex = executor();
    const errs = t.run(
      (function* (): Co<unknown[]> {
        const errs: unknown[] = [];
        const jobs: Array<() => unknown> = [
          () => {
            throw Object.assign(new RangeError('out of range'), { code: 'E_RANGE', detail: 7 });
          },
          () => {
            class Custom extends Error {
              override name = 'CustomError';
            }
            throw new Custom('custom');
          },
          () => {
            throw 'a string';
          },
          // Not self-contained: `spin` is not defined in the worker.
          () => spin(1),
          // The result cannot be cloned.
          () => () => 1,
        ];
        for (const job of jobs) {
          try {
            yield* t.loop.runInExecutor(ex, job);
          } catch (err) {
            errs.push(err);
          }
        }
        return errs;
      })(),
    );
    expect(errs[0]).toBeInstanceOf(RangeError);
    expect(errs[0]).toMatchObject({ message: 'out of range', code: 'E_RANGE', detail: 7 });
    expect(errs[1]).toMatchObject({ name: 'CustomError', message: 'custom' });
    expect(errs[2]).toBe('a string');
    expect(errs[3]).toBeInstanceOf(ReferenceError);
    expect((errs[3] as Error).message).toMatch(/spin/);
    expect((errs[4] as Error).name).toBe('DataCloneError');
  });

  test('a job whose thread dies of an uncaught exception fails with it, and the executor goes on', () => {
    const ex = executor(1);
    const [err, after] = t.run(
      (function* (): Co<[unknown, number]> {
        // The throw escapes the job (from a timer): nothing in the job can catch it.
        const dying = t.loop.runInExecutor(ex, () => new Promise(() => setTimeout(() => {
          throw new TypeError('boom');
        }, 10)));
        let err: unknown;
        try {
          yield* waitFor(dying, 10);
        } catch (e) {
          err = e;
        }
        const after = yield* waitFor(t.loop.runInExecutor(ex, (x: number) => x * 2, 21), 10);
        return [err, after];
      })(),
    );
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toMatch(/died of an uncaught exception: boom/);
    expect((err as Error).cause).toBeInstanceOf(TypeError);
    expect(after).toBe(42);
  });

  test('a job whose thread exits fails once Node reports the exit', async () => {
    const ex = executor(1);
    const fut = t.loop.runInExecutor(ex, () => process.exit(3));
    // Node reports a worker's exit on its own event loop, which runs here.
    for (let i = 0; i < 100 && !fut.done(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const err = (() => {
      try {
        t.run(waitFor(fut, 5));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toMatch(/exit code 3/);
    expect(ex.threads).toBe(0);
  });

  test('what cannot be sent is refused at once', () => {
    const ex = executor();
    expect(() => t.loop.runInExecutor(ex, Math.max, 1, 2)).toThrow(/native or bound/);
    expect(() => t.loop.runInExecutor(ex, spin.bind(null), 1)).toThrow(TypeError);
    expect(() => t.loop.runInExecutor(ex, function* () {} as never)).toThrow(/coroutines cannot be used/);
    expect(() => t.loop.runInExecutor(ex, 42 as never)).toThrow(TypeError);
    expect(() => t.loop.runInExecutor(ex, (f: unknown) => f, () => 1)).toThrow(/cannot be sent/);
    expect(() => t.loop.runInExecutor({} as never, spin, 1)).toThrow(TypeError);
    expect(() => new ThreadPoolExecutor({ maxWorkers: 0 })).toThrow(RangeError);
  });

  test('a cancelled job\'s result is dropped; shutdown refuses new work', () => {
    const ex = executor(1);
    t.run(
      (function* (): Co<void> {
        let timedOut = false;
        try {
          yield* waitFor(t.loop.runInExecutor(ex, spin, 200), 0.02);
        } catch (err) {
          timedOut = err instanceof TimeoutError;
        }
        expect(timedOut).toBe(true);
        // The thread finishes the first job, then runs this one.
        expect(yield* t.loop.runInExecutor(ex, (x: number) => x + 1, 1)).toBe(2);
      })(),
    );
    void ex.shutdown();
    expect(() => t.loop.runInExecutor(ex, spin, 1)).toThrow(RuntimeError);
  });

  test('a job whose thread exits fails with BrokenThreadPool, so do the jobs queued there; the thread is replaced', () => {
    const ex = executor(2);
    const [first, others, later] = t.run(
      (function* (): Co<[unknown, unknown[], unknown[]]> {
        const dying = t.loop.runInExecutor(ex, () => process.exit(3));
        // Queued behind it on its thread or sent to the other one: every job settles.
        const others = Array.from({ length: 60 }, (_, i) => t.loop.runInExecutor(ex, (x: number) => x * 2, i));
        const settled = (yield* waitFor(gather(dying, ...others, { returnExceptions: true }), 20)) as unknown[];
        // Once the exit is known, no job goes to that thread.
        const later = (yield* waitFor(gather(...Array.from({ length: 60 }, (_, i) => t.loop.runInExecutor(ex, (x: number) => x + 1, i))), 20)) as unknown[];
        return [settled[0], settled.slice(1), later];
      })(),
    );
    expect(first).toBeInstanceOf(BrokenThreadPool);
    expect(first).toBeInstanceOf(RuntimeError);
    expect((first as BrokenThreadPool).exitCode).toBe(3);
    expect((first as Error).message).toMatch(/ended \(exit code 3\) before the job finished/);
    others.forEach((r, i) => (r instanceof BrokenThreadPool ? expect(r.exitCode).toBe(3) : expect(r).toBe(i * 2)));
    expect(later).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(ex.threads).toBeLessThanOrEqual(2);
  });

  test('a thread ended while idle (an uncaught error in a timer) is replaced: later jobs run', () => {
    const ex = executor(1);
    const later = t.run(
      (function* (): Co<unknown[]> {
        expect(
          yield* t.loop.runInExecutor(ex, () => {
            setTimeout(() => {
              throw new Error('thrown in a timer of the worker');
            }, 0);
            return 'returned';
          }),
        ).toBe('returned');
        yield* sleep(0.2); // the thread dies meanwhile
        return (yield* waitFor(gather(...Array.from({ length: 10 }, (_, i) => t.loop.runInExecutor(ex, (x: number) => -x, i))), 20)) as unknown[];
      })(),
    );
    expect(later).toEqual(Array.from({ length: 10 }, (_, i) => -i));
  });

  test('an async job in flight on a thread another job ends fails with BrokenThreadPool', () => {
    const ex = executor(1);
    const [slow, dying] = t.run(
      (function* (): Co<unknown[]> {
        const slow = t.loop.runInExecutor(ex, () => new Promise((resolve) => setTimeout(resolve, 5000, 'late')));
        yield* sleep(0.05);
        const dying = t.loop.runInExecutor(ex, () => process.exit(7));
        return (yield* waitFor(gather(slow, dying, { returnExceptions: true }), 20)) as unknown[];
      })(),
    );
    expect(slow).toBeInstanceOf(BrokenThreadPool);
    expect((slow as BrokenThreadPool).exitCode).toBe(7);
    expect(dying).toBeInstanceOf(BrokenThreadPool);
  });

  test('shutdownDefaultExecutor waits for the jobs, then refuses new ones', () => {
    const ex = executor();
    t.loop.setDefaultExecutor(ex);
    const done: string[] = [];
    t.run(
      (function* (): Co<void> {
        const job = t.loop.runInExecutor(null, spin, 50);
        job.addDoneCallback(() => done.push('job'));
        yield* t.loop.shutdownDefaultExecutor();
        done.push('shutdown');
      })(),
    );
    expect(done).toEqual(['job', 'shutdown']);
    expect(() => t.loop.runInExecutor(null, spin, 1)).toThrow(RuntimeError);
  });

  test('shutdownDefaultExecutor waits until the threads have ended, not only for the jobs', () => {
    const ex = executor();
    t.loop.setDefaultExecutor(ex);
    const cells = new Int32Array(new SharedArrayBuffer(4));
    const elapsed = t.run(
      (function* (): Co<number> {
        // The job returns at once; a timer it left keeps its thread busy for 300 ms more.
        yield* t.loop.runInExecutor(null, (sab: SharedArrayBuffer) => {
          setTimeout(() => Atomics.store(new Int32Array(sab), 0, 1), 300);
          return 0;
        }, cells.buffer as SharedArrayBuffer);
        const t0 = t.loop.time();
        yield* t.loop.shutdownDefaultExecutor();
        return t.loop.time() - t0;
      })(),
    );
    expect(Atomics.load(cells, 0)).toBe(1);
    expect(elapsed).toBeGreaterThan(0.2);
    expect(ex.threads).toBe(0);
  });

  test('shutdownDefaultExecutor(timeout) stops waiting, warns, and leaves nothing registered', () => {
    const ex = executor();
    t.loop.setDefaultExecutor(ex);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const elapsed = t.run(
        (function* (): Co<number> {
          yield* t.loop.runInExecutor(null, () => {
            setTimeout(() => {}, 1500);
            return 0;
          });
          const t0 = t.loop.time();
          yield* t.loop.shutdownDefaultExecutor(0.1);
          const took = t.loop.time() - t0;
          yield* t.loop.shutdownDefaultExecutor(0.1); // a second call returns at once
          return took;
        })(),
      );
      expect(elapsed).toBeGreaterThanOrEqual(0.09);
      expect(elapsed).toBeLessThan(1);
      expect(warn.mock.calls).toEqual([['The executor did not finish joining its threads within 0.1 seconds.', { type: 'RuntimeWarning' }]]);
    } finally {
      warn.mockRestore();
    }
  });

  test('shutdownDefaultExecutor refuses a timeout that is not seconds', () => {
    expect(() => t.loop.runUntilComplete(t.loop.shutdownDefaultExecutor('1' as never))).toThrow(TypeError);
  });
});

describe.each(backends)('run() and runGuest() wait for the default executor (%s)', (backend) => {
  test('run() returns once the default executor\'s threads have ended', () => {
    const cells = new Int32Array(new SharedArrayBuffer(4));
    run(
      function* () {
        yield* toThread((sab: SharedArrayBuffer) => {
          setTimeout(() => Atomics.store(new Int32Array(sab), 0, 1), 200);
          return 0;
        }, cells.buffer as SharedArrayBuffer);
      },
      { selector: backend as 'epoll' },
    );
    expect(Atomics.load(cells, 0)).toBe(1);
  });

  test('runGuest() resolves once the default executor\'s threads have ended', async () => {
    const cells = new Int32Array(new SharedArrayBuffer(4));
    await runGuest(
      function* () {
        yield* toThread((sab: SharedArrayBuffer) => {
          setTimeout(() => Atomics.store(new Int32Array(sab), 0, 1), 200);
          return 0;
        }, cells.buffer as SharedArrayBuffer);
      },
      { selector: backend as 'epoll' },
    );
    expect(Atomics.load(cells, 0)).toBe(1);
  });
});

describe.each(backends)('messages from other threads (%s)', (backend) => {
  const t = useLoop(backend);

  test('an Inbox wakes the blocked loop for each message from a worker', async () => {
    const received: number[] = [];
    const fromLoop: boolean[] = [];
    const all = t.loop.createFuture<void>();
    const inbox = t.loop.createInbox<{ i: number }>((msg) => {
      received.push(msg.i);
      fromLoop.push(getRunningLoop() === t.loop);
      if (received.length === 5) all.setResult(undefined);
    });
    const sender: InboxSenderData = inbox.sender();
    const worker = new Worker(fixture('test/fixtures/inbox_sender.ts'), { workerData: { sender, count: 5, gapMs: 20 }, transferList: [sender.port], env: workerEnv });
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    try {
      // No timer and nothing ready: only the worker's wakeups move the loop
      // (Node's own event loop does not run while it waits).
      t.run(
        (function* (): Co<void> {
          yield* all;
        })(),
      );
    } finally {
      inbox.close();
    }
    expect(received).toEqual([0, 1, 2, 3, 4]);
    expect(fromLoop).toEqual([true, true, true, true, true]);
    expect(() => inbox.sender()).toThrow(RuntimeError);
    await exited;
  });

  test('callSoonThreadsafe schedules like callSoon and returns a Handle', () => {
    const calls: string[] = [];
    t.run(
      (function* (): Co<void> {
        const h = t.loop.callSoonThreadsafe((x: string) => calls.push(x), 'a');
        t.loop.callSoonThreadsafe((x: string) => calls.push(x), 'b').cancel();
        expect(h.cancelled()).toBe(false);
        yield* sleep(0);
      })(),
    );
    expect(calls).toEqual(['a']);
  });
});

// Another thread wakes the loop through a dup of its Waker's write end. With
// an eventfd (Linux) that is the fd the loop polls too; with the pipe waker
// (macOS, the BSDs, the portable build) writing to the read end fails
// (EBADF) and the loop sleeps beside its answer: these would time out there.
describe.each(backends)('waking the loop from another thread (%s)', (backend) => {
  const t = useLoop(backend);

  test('toThread, runInExecutor and getaddrinfo answer, with nothing else to wake the loop', () => {
    const ex = executor(1);
    const [a, b, infos] = t.run(
      (function* () {
        return yield* waitFor(
          gather(
            toThread((x: number) => x + 1, 41),
            t.loop.runInExecutor(ex, (s: string) => s.toUpperCase(), 'ok'),
            t.loop.getaddrinfo('localhost', 80),
          ),
          10,
        );
      })(),
    );
    expect([a, b]).toEqual([42, 'OK']);
    expect(infos.length).toBeGreaterThan(0);
  });

  test('a send after the loop closed its waker is dropped, not thrown', () => {
    const inbox = t.loop.createInbox(() => {});
    const out = new LoopSender(inbox.sender());
    try {
      inbox.close(); // its last port: the loop's waker closes
      // eventfd: an orphaned counter takes it; pipe: EPIPE, dropped.
      expect(() => out.send('late')).not.toThrow();
      expect(() => out.send('later')).not.toThrow();
    } finally {
      out.close();
    }
  });

  // A socket send to a closed peer is checked the same way: EPIPE, no signal.
  test('a late send does not raise SIGPIPE, even at its default action (kill)', () => {
    const r = spawnSync(process.execPath, [fixture('test/fixtures/late_sender.ts'), backend], { encoding: 'utf8', env: workerEnv, timeout: 30_000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.stdout).toBe('returned\nEPIPE\nalive\n');
  });
});

describe('one loop per thread (program 7)', () => {
  test('two worker threads each run their own loop; the main thread has none', async () => {
    const delays = [0.1 + Math.random() * 0.4, 0.1 + Math.random() * 0.4];
    // Each worker's loop waits for the other to start before its sleep, so
    // the overlap below holds however slowly a thread starts.
    const arrived = new SharedArrayBuffer(4);
    const workers = delays.map((delay) => new Worker(fixture('test/fixtures/loop_thread.ts'), { workerData: { delay, arrived }, env: workerEnv }));
    const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
    expect(() => getRunningLoop()).toThrow(RuntimeError);
    const results = (await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    )) as Array<{ threadId: number; start: number; end: number; running: boolean; sameLoop: boolean; closed: boolean; childExit: number; signalError: string }>;
    await Promise.all(exited);
    expect(() => getRunningLoop()).toThrow(RuntimeError);
    expect(new Set(results.map((r) => r.threadId)).size).toBe(2);
    for (const [i, r] of results.entries()) {
      expect(r.running).toBe(true);
      expect(r.sameLoop).toBe(true);
      expect(r.closed).toBe(true);
      expect(r.childExit).toBe(7);
      expect(r.signalError).toBe('RuntimeError');
      expect(r.end - r.start).toBeGreaterThanOrEqual(delays[i]! * 1000 - 5);
    }
    // They ran at the same time: the two intervals overlap.
    const [a, b] = results as [(typeof results)[0], (typeof results)[0]];
    expect(Math.max(a.start, b.start)).toBeLessThan(Math.min(a.end, b.end));
  });
});
