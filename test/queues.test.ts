// Queue, PriorityQueue, LifoQueue: the behaviour of CPython's
// Lib/test/test_asyncio/test_queues.py (3.13, shutdown included), written
// anew for generator coroutines, plus the PriorityQueue orderings.
import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  TaskGroup,
  TimeoutError,
  allTasks,
  createTask,
  currentTask,
  gather,
  getRunningLoop,
  run,
  sleep,
  waitFor,
} from '../src/index.js';
import type { ExceptionContext, Task } from '../src/index.js';
import { LifoQueue, PriorityQueue, Queue, QueueEmpty, QueueFull, QueueShutDown } from '../src/queues.js';
import { pythonCompare } from '../src/heap.js';

type Co<T> = Generator<unknown, T, unknown>;

/** Run a test body as the main task of a new loop; no task may be left, nothing reported. */
function runTest<T>(body: () => Co<T>): T {
  const reported: ExceptionContext[] = [];
  const result = run(function* () {
    getRunningLoop().setExceptionHandler((_loop, ctx) => void reported.push(ctx));
    const value = yield* body();
    const left = [...allTasks()].filter((t) => t !== currentTask());
    expect(left.map(String), 'tasks left by the test').toEqual([]);
    return value;
  });
  expect(reported.map((c) => c.message)).toEqual([]);
  return result;
}

const tick = (): Co<undefined> => sleep(0);

function* expectThrows(aw: Co<unknown> | Task<unknown>): Co<unknown> {
  try {
    yield* aw;
  } catch (exc) {
    return exc;
  }
  throw new Error('did not throw');
}

function* drainCancelled(task: Task<unknown>): Co<void> {
  const err = yield* expectThrows(task);
  expect(err).toBeInstanceOf(CancelledError);
}

// ---------------------------------------------------------------------------

describe('Queue basics', () => {
  it('toString shows items, getters, putters, unfinished tasks', () => {
    runTest(function* () {
      let q = new Queue<number>();
      expect(String(q)).toBe('<Queue maxsize=0>');
      const getter = createTask(q.get());
      yield* tick();
      expect(String(q)).toContain('_getters[1]');
      q.putNowait(0);
      expect(yield* getter).toBe(0);

      q = new Queue<number>(1);
      q.putNowait(1);
      const putter = createTask(q.put(2));
      yield* tick();
      expect(String(q)).toContain('_putters[1]');
      q.getNowait();
      yield* putter;

      q = new Queue<number>();
      q.putNowait(1);
      expect(String(q)).toBe('<Queue maxsize=0 _queue=[1] tasks=1>');
    });
  });

  it('empty()', () => {
    runTest(function* () {
      const q = new Queue<number>();
      expect(q.empty()).toBe(true);
      yield* q.put(1);
      expect(q.empty()).toBe(false);
      expect(yield* q.get()).toBe(1);
      expect(q.empty()).toBe(true);
    });
  });

  it('full()', () => {
    runTest(function* () {
      expect(new Queue().full()).toBe(false);
      const q = new Queue<number>({ maxsize: 1 });
      yield* q.put(1);
      expect(q.full()).toBe(true);
    });
  });

  it('FIFO order', () => {
    runTest(function* () {
      const q = new Queue<number>();
      for (const i of [1, 3, 2]) yield* q.put(i);
      const items: number[] = [];
      for (let i = 0; i < 3; i++) items.push(yield* q.get());
      expect(items).toEqual([1, 3, 2]);
    });
  });

  it('maxsize: put() blocks while full', () => {
    runTest(function* () {
      const q = new Queue<number>(2);
      expect(q.maxsize).toBe(2);
      const havePut: number[] = [];
      const t = createTask(
        (function* () {
          for (let i = 0; i < 3; i++) {
            yield* q.put(i);
            havePut.push(i);
          }
          return true;
        })(),
      );
      yield* tick();
      yield* tick();
      expect(havePut).toEqual([0, 1]);
      expect(yield* q.get()).toBe(0);
      yield* tick();
      expect(havePut).toEqual([0, 1, 2]);
      expect(yield* q.get()).toBe(1);
      expect(yield* q.get()).toBe(2);
      expect(t.result()).toBe(true);
    });
  });

  it('a fractional maxsize rounds up, as in Python', () => {
    runTest(function* () {
      let q = new Queue<number>(1.3);
      q.putNowait(1);
      q.putNowait(2);
      expect(q.full()).toBe(true);
      expect(() => q.putNowait(3)).toThrow(QueueFull);
      q = new Queue<number>(1.3);
      yield* q.put(1);
      yield* q.put(2);
      expect(q.full()).toBe(true);
    });
  });

  it('rejects a maxsize that is not a number', () => {
    expect(() => new Queue('3' as never)).toThrow(TypeError);
  });
});

describe('Queue.get', () => {
  it('get() of an available item', () => {
    runTest(function* () {
      const q = new Queue<number>();
      q.putNowait(1);
      expect(yield* q.get()).toBe(1);
    });
  });

  it('get() wakes a waiting putter', () => {
    runTest(function* () {
      const q = new Queue<number>(1);
      yield* q.put(1);
      const waiter = getRunningLoop().createFuture<void>();
      q._putters.push(waiter);
      expect(yield* q.get()).toBe(1);
      expect(waiter.done()).toBe(true);
      expect(waiter.result()).toBeUndefined();
    });
  });

  it('get() waits for a put', () => {
    runTest(function* () {
      const q = new Queue<number>();
      let finished = false;
      const t = createTask(
        (function* () {
          const res = yield* q.get();
          finished = true;
          return res;
        })(),
      );
      yield* tick();
      expect(finished).toBe(false);
      getRunningLoop().callLater(0.005, () => q.putNowait(1));
      expect(yield* t).toBe(1);
      expect(finished).toBe(true);
    });
  });

  it('getNowait()', () => {
    const q = new Queue<number>();
    q.putNowait(1);
    expect(q.getNowait()).toBe(1);
    expect(() => q.getNowait()).toThrow(QueueEmpty);
  });

  it('a cancelled getter does not take the next item', () => {
    runTest(function* () {
      const q = new Queue<string>();
      const t1 = createTask(q.get());
      const t2 = createTask(q.get());
      yield* tick();
      t1.cancel();
      yield* tick();
      expect(t1.done()).toBe(true);
      yield* q.put('a');
      yield* tick();
      expect(yield* t2).toBe('a');
    });
  });

  it('get() with putters waiting', () => {
    runTest(function* () {
      const q = new Queue<string>(1);
      const p1 = createTask(q.put('a'));
      const p2 = createTask(q.put('b'));
      expect(yield* q.get()).toBe('a');
      expect(yield* q.get()).toBe('b');
      yield* gather(p1, p2);
    });
  });

  it('a producer and a consumer over a queue of one', () => {
    runTest(function* () {
      const q = new Queue<number>(1);
      const got: number[] = [];
      yield* TaskGroup.run(function* (tg) {
        tg.createTask((function* () { for (let i = 0; i < 5; i++) yield* q.put(i); })());
        tg.createTask((function* () { for (let i = 0; i < 5; i++) got.push(yield* q.get()); })());
      });
      expect(got).toEqual([0, 1, 2, 3, 4]);
    });
  });

  it('a timed-out get() leaves no getter behind', () => {
    runTest(function* () {
      const q = new Queue<number>(5);
      const err = yield* expectThrows(waitFor(q.get(), 0.01));
      expect(err).toBeInstanceOf(TimeoutError);
      expect(q._getters.length).toBe(0);
    });
  });

  it('a getter cancelled as an item arrives does not drop the item', () => {
    runTest(function* () {
      const q = new Queue<number>();
      let reader = createTask(q.get());
      yield* tick();
      q.putNowait(1);
      q.putNowait(2);
      reader.cancel(); // woken for item 1, cancelled before it ran
      try {
        yield* reader;
      } catch (exc) {
        expect(exc).toBeInstanceOf(CancelledError);
        reader = createTask(q.get());
        yield* reader;
      }
      // 2 here would mean 1 was dropped.
      expect(reader.result()).toBe(1);
      expect(q.getNowait()).toBe(2);
    });
  });

  it('a getter cancelled as items arrive passes the wakeup on to the next getter', () => {
    runTest(function* () {
      const q = new Queue<number>();
      const reader1 = createTask(q.get());
      const reader2 = createTask(q.get());
      const reader3 = createTask(q.get());
      yield* tick();
      q.putNowait(1);
      q.putNowait(2);
      reader1.cancel();
      yield* drainCancelled(reader1);
      yield* reader3;
      yield* reader2;
      expect(new Set([reader2.result(), reader3.result()])).toEqual(new Set([1, 2]));
    });
  });
});

describe('Queue.put', () => {
  it('put() on an unbounded queue does not block', () => {
    runTest(function* () {
      const q = new Queue<number>();
      yield* q.put(1);
      expect(yield* q.get()).toBe(1);
    });
  });

  it('put() waits for a get', () => {
    runTest(function* () {
      const q = new Queue<number>(1);
      let finished = false;
      getRunningLoop().callLater(0.005, () => q.getNowait());
      const t = createTask(
        (function* () {
          yield* q.put(1);
          yield* q.put(2);
          finished = true;
        })(),
      );
      yield* tick();
      expect(finished).toBe(false);
      yield* t;
      expect(finished).toBe(true);
    });
  });

  it('putNowait() on a full queue throws QueueFull', () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    expect(() => q.putNowait(2)).toThrow(QueueFull);
  });

  it('a putter cancelled as a slot frees up does not lose its place silently', () => {
    runTest(function* () {
      const q = new Queue<number>(1);
      q.putNowait(1);
      let writer = createTask(q.put(2));
      yield* tick();
      expect(q.getNowait()).toBe(1);
      writer.cancel(); // woken for the free slot, cancelled before it ran
      try {
        yield* writer;
      } catch (exc) {
        expect(exc).toBeInstanceOf(CancelledError);
        writer = createTask(q.put(2));
        yield* writer;
      }
      expect(q.getNowait()).toBe(2);
      expect(q.qsize()).toBe(0);
    });
  });

  it('a putter cancelled as slots free up passes the wakeup on to the next putter', () => {
    runTest(function* () {
      const q = new Queue<string>(2);
      q.putNowait('x');
      q.putNowait('y');
      const p1 = createTask(q.put('p1'));
      const p2 = createTask(q.put('p2'));
      const p3 = createTask(q.put('p3'));
      yield* tick();
      q.getNowait(); // wakes p1
      q.getNowait(); // wakes p2
      p1.cancel(); // p1 leaves: its slot goes to p3
      yield* drainCancelled(p1);
      yield* gather(p2, p3);
      expect([q.getNowait(), q.getNowait()].sort()).toEqual(['p2', 'p3']);
    });
  });

  it('put() then get()', () => {
    runTest(function* () {
      const q = new Queue<number>();
      const t = createTask((function* () { yield* q.put(1); return true; })());
      expect(yield* q.get()).toBe(1);
      expect(t.result()).toBe(true);
    });
  });

  it('a cancelled putter does not put, and the next putter gets the slot', () => {
    runTest(function* () {
      const q = new Queue<string>(1);
      const putA = createTask(q.put('a'));
      const putB = createTask(q.put('b'));
      const putC = createTask(q.put('X'));
      yield* tick();
      expect(putA.done()).toBe(true);
      expect(putB.done()).toBe(false);
      putC.cancel();
      yield* tick();
      expect(putC.done()).toBe(true);
      expect(q.getNowait()).toBe('a');
      yield* tick();
      expect(q.getNowait()).toBe('b');
      yield* putB;
      yield* drainCancelled(putC);
    });
  });

  it('put() hands the item to a waiting getter', () => {
    runTest(function* () {
      const q = new Queue<string>();
      const t = createTask(q.get());
      yield* tick();
      yield* q.put('a');
      expect(yield* t).toBe('a');
    });
  });

  it('putters blocked on a full queue all get in as it drains', () => {
    runTest(function* () {
      const q = new Queue<number>(2);
      yield* TaskGroup.run(function* (tg) {
        tg.createTask(
          (function* () {
            yield* tick();
            const n = q.qsize();
            for (let i = 0; i < n; i++) q.getNowait();
          })(),
        );
        for (let i = 0; i < 4; i++) tg.createTask(q.put(i));
      });
      expect(q.qsize()).toBe(2);
    });
  });

  it('a cancelled put() leaves no putter behind', () => {
    runTest(function* () {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putTask = createTask(q.put(1));
      yield* tick();
      expect(q._putters.length).toBe(1);
      putTask.cancel();
      yield* drainCancelled(putTask);
      expect(q._putters.length).toBe(0);
    });
  });

  it('cancelling a putter already removed by getNowait() is quiet', () => {
    runTest(function* () {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putTask = createTask(q.put(1));
      yield* tick();
      q.getNowait(); // removes (and wakes) the putter
      putTask.cancel();
      yield* drainCancelled(putTask);
      // Its wakeup was passed on to nobody: the slot stays free.
      expect(q.qsize()).toBe(0);
    });
  });

  it('put/get with maxsize under random cancellations: nothing lost, nothing duplicated', () => {
    runTest(function* () {
      const q = new Queue<number>(3);
      const got: number[] = [];
      const put: number[] = [];
      let next = 0;
      let seed = 7;
      const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
      for (let round = 0; round < 200; round++) {
        const putters = Array.from({ length: 3 }, () => {
          const n = next++;
          return createTask((function* () { yield* q.put(n); put.push(n); })());
        });
        const getters = Array.from({ length: 3 }, () => createTask((function* () { got.push(yield* q.get()); })()));
        for (let i = 0; i < 1 + Math.floor(rand() * 2); i++) yield* tick();
        for (const t of [...putters, ...getters]) if (rand() < 0.3) t.cancel();
        yield* gather(...putters, ...getters, { returnExceptions: true });
        while (!q.empty()) got.push(q.getNowait());
      }
      expect(q._getters.length).toBe(0);
      expect(q._putters.length).toBe(0);
      expect([...got].sort((a, b) => a - b)).toEqual([...put].sort((a, b) => a - b));
    });
  });
});

// ---------------------------------------------------------------------------

describe('LifoQueue and PriorityQueue', () => {
  it('LifoQueue returns the last item first', () => {
    runTest(function* () {
      const q = new LifoQueue<number>();
      for (const i of [1, 3, 2]) yield* q.put(i);
      const items: number[] = [];
      for (let i = 0; i < 3; i++) items.push(yield* q.get());
      expect(items).toEqual([2, 3, 1]);
    });
  });

  it('PriorityQueue returns the smallest first', () => {
    runTest(function* () {
      const q = new PriorityQueue<number>();
      for (const i of [1, 3, 2]) yield* q.put(i);
      const items: number[] = [];
      for (let i = 0; i < 3; i++) items.push(yield* q.get());
      expect(items).toEqual([1, 2, 3]);
    });
  });

  it('PriorityQueue orders [priority, item] pairs like Python tuples', () => {
    const q = new PriorityQueue<[number, string]>();
    const entries: [number, string][] = [[3, 'c'], [1, 'b'], [2, 'z'], [1, 'a'], [10, 'x'], [-1, 'first']];
    for (const e of entries) q.putNowait(e);
    const out: string[] = [];
    while (!q.empty()) out.push(q.getNowait()[1]);
    expect(out).toEqual(['first', 'a', 'b', 'z', 'c', 'x']);
  });

  it('PriorityQueue with a compare option; equal priorities come out in put order', () => {
    interface Job { deadline: number; name: string }
    const q = new PriorityQueue<Job>({ compare: (a, b) => a.deadline - b.deadline, maxsize: 10 });
    expect(q.maxsize).toBe(10);
    const jobs = [5, 1, 3, 1, 5, 1].map((deadline, i) => ({ deadline, name: `j${i}` }));
    for (const j of jobs) q.putNowait(j);
    const out: string[] = [];
    while (!q.empty()) out.push(q.getNowait().name);
    expect(out).toEqual(['j1', 'j3', 'j5', 'j2', 'j0', 'j4']);
  });

  it('PriorityQueue: items that cannot be ordered throw TypeError, as in Python', () => {
    const q = new PriorityQueue<[number, object]>();
    q.putNowait([1, {}]);
    expect(() => q.putNowait([1, {}])).toThrow(TypeError);
    expect(() => new PriorityQueue({ compare: 3 as never })).toThrow(TypeError);
  });

  it('a thousand random priorities come out sorted', () => {
    const q = new PriorityQueue<number>();
    const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1009);
    for (const v of values) q.putNowait(v);
    const out: number[] = [];
    while (!q.empty()) out.push(q.getNowait());
    expect(out).toEqual([...values].sort((a, b) => a - b));
  });

  it("pythonCompare: Python's order", () => {
    expect(pythonCompare(1, 2)).toBeLessThan(0);
    expect(pythonCompare('b', 'a')).toBeGreaterThan(0);
    expect(pythonCompare([1, 'a'], [1, 'b'])).toBeLessThan(0);
    expect(pythonCompare([1], [1, 0])).toBeLessThan(0);
    expect(pythonCompare([2], [1, 9])).toBeGreaterThan(0);
    expect(pythonCompare(true, 0)).toBeGreaterThan(0);
    expect(pythonCompare(1n, 2)).toBeLessThan(0);
    expect(pythonCompare(new Date(1), new Date(2))).toBeLessThan(0);
    const o = {};
    expect(pythonCompare([1, o], [1, o])).toBe(0);
    expect(() => pythonCompare(1, 'a')).toThrow(TypeError);
    expect(() => pythonCompare(null, null)).not.toThrow();
    expect(() => pythonCompare({}, {})).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------

const queueClasses = [
  ['Queue', Queue],
  ['LifoQueue', LifoQueue],
  ['PriorityQueue', PriorityQueue],
] as const;

describe.each(queueClasses)('%s: taskDone / join', (name, QueueClass) => {
  it('taskDone() with nothing unfinished is a RangeError', () => {
    const q = new QueueClass();
    expect(() => q.taskDone()).toThrow(RangeError);
  });

  it('join() returns once every item is marked done', () => {
    runTest(function* () {
      const q = new QueueClass<number>();
      for (let i = 0; i < 100; i++) q.putNowait(i);
      let accumulator = 0;
      let running = true;
      function* worker(): Co<void> {
        while (running) {
          const item = yield* q.get();
          accumulator += item;
          q.taskDone();
        }
      }
      yield* TaskGroup.run(function* (tg) {
        const tasks = [tg.createTask(worker()), tg.createTask(worker())];
        yield* q.join();
        expect(accumulator).toBe((99 * 100) / 2);
        running = false;
        for (let i = 0; i < tasks.length; i++) q.putNowait(0);
      });
    });
  });

  it('join() on an empty queue returns at once', () => {
    runTest(function* () {
      const q = new QueueClass();
      yield* q.join();
      yield* q.join();
    });
  });

  it('several joiners, and a cancelled one', () => {
    runTest(function* () {
      const q = new QueueClass<number>();
      q.putNowait(1);
      const j1 = createTask(q.join());
      const j2 = createTask(q.join());
      const j3 = createTask(q.join());
      yield* tick();
      j2.cancel();
      yield* drainCancelled(j2);
      q.getNowait();
      yield* tick();
      expect(j1.done()).toBe(false);
      q.taskDone();
      yield* gather(j1, j3);
    });
  });

  it('toString counts the unfinished tasks', () => {
    const q = new QueueClass<number>();
    expect(String(q)).toBe(`<${name} maxsize=0>`);
    q._unfinishedTasks = 2;
    expect(String(q)).toBe(`<${name} maxsize=0 tasks=2>`);
  });
});

describe.each(queueClasses)('%s: shutdown', (name, QueueClass) => {
  function* assertShutDown(q: Queue<string>): Co<void> {
    expect(yield* expectThrows(q.put('data'))).toBeInstanceOf(QueueShutDown);
    expect(() => q.putNowait('data')).toThrow(QueueShutDown);
    expect(yield* expectThrows(q.get())).toBeInstanceOf(QueueShutDown);
    expect(() => q.getNowait()).toThrow(QueueShutDown);
  }

  it('toString says shutdown', () => {
    const q = new QueueClass();
    q.shutdown();
    expect(String(q)).toBe(`<${name} maxsize=0 shutdown>`);
  });

  it('shutdown of an empty queue: a waiting get() throws, join() returns', () => {
    runTest(function* () {
      const q = new QueueClass<string>();
      const getTask = createTask(q.get());
      yield* tick();
      q.shutdown();
      expect(q.qsize()).toBe(0);
      yield* q.join();
      yield* tick();
      expect(getTask.done()).toBe(true);
      expect(yield* expectThrows(getTask)).toBeInstanceOf(QueueShutDown);
      yield* assertShutDown(q);
    });
  });

  it('shutdown of a non-empty queue: puts throw, gets drain it first', () => {
    runTest(function* () {
      const q = new QueueClass<string>(1);
      q.putNowait('data');
      const joinTask = createTask(q.join());
      const putTask = createTask(q.put('data2'));
      yield* tick();
      expect(putTask.done()).toBe(false);

      q.shutdown();
      expect(q.qsize()).toBe(1);
      yield* tick();
      expect(putTask.done()).toBe(true);
      expect(yield* expectThrows(putTask)).toBeInstanceOf(QueueShutDown);

      expect(yield* q.get()).toBe('data');
      yield* tick();
      expect(joinTask.done()).toBe(false);
      yield* assertShutDown(q);

      q.taskDone();
      yield* tick();
      expect(joinTask.done()).toBe(true);
      yield* joinTask;
      expect(() => q.taskDone()).toThrow(RangeError);
    });
  });

  it('shutdown(immediate): items dropped and marked done, join() returns', () => {
    runTest(function* () {
      const q = new QueueClass<string>();
      q.putNowait('data');
      const joinTask = createTask(q.join());
      q.shutdown(true);
      expect(q.qsize()).toBe(0);
      yield* tick();
      expect(joinTask.done()).toBe(true);
      yield* joinTask;
      yield* assertShutDown(q);
      expect(() => q.taskDone()).toThrow(RangeError);
    });
  });

  it('shutdown(immediate) with an item taken but not done: join() waits for it', () => {
    runTest(function* () {
      const q = new QueueClass<string>();
      q.putNowait('data');
      q.putNowait('data');
      const joinTask = createTask(q.join());
      expect(yield* q.get()).toBe('data');
      q.shutdown(true);
      expect(q.qsize()).toBe(0);
      yield* tick();
      expect(joinTask.done()).toBe(false);
      yield* assertShutDown(q);
      q.taskDone();
      expect(() => q.taskDone()).toThrow(RangeError);
      yield* tick();
      expect(joinTask.done()).toBe(true);
      yield* joinTask;
    });
  });

  it('shutdown wakes every blocked getter and putter', () => {
    runTest(function* () {
      const empty = new QueueClass<string>();
      const full = new QueueClass<string>(1);
      full.putNowait('x');
      const getters = [createTask(empty.get()), createTask(empty.get())];
      const putters = [createTask(full.put('a')), createTask(full.put('b'))];
      yield* tick();
      empty.shutdown();
      full.shutdown(true);
      const results = yield* gather(...getters, ...putters, { returnExceptions: true });
      for (const r of results) expect(r).toBeInstanceOf(QueueShutDown);
      expect(empty._getters.length).toBe(0);
      expect(full._putters.length).toBe(0);
    });
  });
});
