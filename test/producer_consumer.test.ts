// The producer / consumer teaching program (examples/producer_consumer.mjs) over a Queue, with the sleeps
// scaled down to 1-10 ms: P producers each put a random number of random hex
// items (stamped with the time they were put), sleeping at random between
// puts; C consumers loop forever: random sleep, get, note the wait, taskDone.
// main awaits the producers, then queue.join(), then cancels the consumers.
import { describe, expect, it } from 'vitest';
import { CancelledError, allTasks, createTask, currentTask, gather, getRunningLoop, run, sleep } from '../src/index.js';
import type { AbstractEventLoop, ExceptionContext } from '../src/index.js';
import { Queue } from '../src/queues.js';

type Co<T> = Generator<unknown, T, unknown>;

interface Item {
  /** Unique: which producer, which of its items. */
  id: string;
  hex: string;
  /** loop.time() when it was put. */
  putAt: number;
}

/** A small deterministic PRNG (mulberry32): the run is the same every time. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Report {
  produced: string[];
  consumed: string[];
  waits: number[];
  consumerOutcomes: unknown[];
  tasksLeft: number;
  loop: AbstractEventLoop;
}

/** The program: nprod producers, ncon consumers, sleeps of 1-10 ms. */
function* main(nprod: number, ncon: number, seed: number, maxsize = 0): Co<Report> {
  const random = prng(seed);
  const randSleep = (): Co<undefined> => sleep(0.001 + random() * 0.009);
  const loop = getRunningLoop();
  const queue = new Queue<Item>(maxsize);
  const produced: string[] = [];
  const consumed: string[] = [];
  const waits: number[] = [];

  function* produce(name: number): Co<void> {
    const n = 1 + Math.floor(random() * 10);
    for (let i = 0; i < n; i++) {
      yield* randSleep();
      const hex = Math.floor(random() * 0xffffffff).toString(16);
      const item = { id: `p${name}-${i}`, hex, putAt: loop.time() };
      yield* queue.put(item);
      produced.push(item.id);
    }
  }

  function* consume(_name: number): Co<never> {
    for (;;) {
      yield* randSleep();
      const item = yield* queue.get();
      waits.push(loop.time() - item.putAt);
      consumed.push(item.id);
      queue.taskDone();
    }
  }

  const producers = Array.from({ length: nprod }, (_, n) => createTask(produce(n)));
  const consumers = Array.from({ length: ncon }, (_, n) => createTask(consume(n)));
  yield* gather(...producers);
  yield* queue.join();
  for (const c of consumers) c.cancel();
  const consumerOutcomes = yield* gather(...consumers, { returnExceptions: true });
  const tasksLeft = [...allTasks()].filter((t) => t !== currentTask()).length;
  return { produced, consumed, waits, consumerOutcomes, tasksLeft, loop };
}

function check(report: Report, ncon: number): void {
  expect(report.produced.length).toBeGreaterThan(0);
  // Every item produced was consumed exactly once.
  expect(new Set(report.consumed).size).toBe(report.consumed.length);
  expect([...report.consumed].sort()).toEqual([...report.produced].sort());
  for (const w of report.waits) expect(w).toBeGreaterThanOrEqual(0);
  // The consumers ended cancelled, and nothing else was left.
  expect(report.consumerOutcomes.length).toBe(ncon);
  for (const o of report.consumerOutcomes) expect(o).toBeInstanceOf(CancelledError);
  expect(report.tasksLeft).toBe(0);
  expect(report.loop.isClosed()).toBe(true);
}

describe('producer / consumer (examples/producer_consumer.mjs)', () => {
  it.each([
    [10, 15, 1],
    [3, 1, 2],
    [1, 5, 3],
    [20, 4, 4],
  ])('%i producers, %i consumers: every item consumed once, nothing left', (nprod, ncon, seed) => {
    const reported: ExceptionContext[] = [];
    const report = run(function* () {
      getRunningLoop().setExceptionHandler((_l, ctx) => void reported.push(ctx));
      return yield* main(nprod, ncon, seed);
    });
    check(report, ncon);
    expect(reported).toEqual([]);
  });

  it('with a bounded queue (producers block on put)', () => {
    const report = run(main(10, 3, 5, 2));
    check(report, 3);
  });
});
