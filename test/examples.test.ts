// The teaching programs (examples/*.mjs, listed in the README), in coio, with times scaled
// down (0.1 s for 1 s) and asserted as ratios with slack.
import { afterEach, describe, expect, test } from 'vitest';
import { gather } from '../src/combinators.js';
import { getRunningLoop } from '../src/events.js';
import type { Future } from '../src/futures.js';
import { run } from '../src/runners.js';
import { availableBackends } from '../src/selectors.js';
import { socketpair } from '../src/socket.js';
import type { Socket } from '../src/socket.js';
import { createTask, sleep } from '../src/tasks.js';
import type { Coroutine } from '../src/tasks.js';

/** A seeded PRNG (mulberry32): the random examples stay reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A blocking sleep, for the synchronous versions. */
function blockingSleep(seconds: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

test('1. count() under gather: five run in the time of one', () => {
  const out: string[] = [];
  function* count(): Coroutine<void> {
    out.push('One');
    yield* sleep(0.1);
    out.push('Two');
    yield* sleep(0.2);
    out.push('Three');
  }
  const t0 = performance.now();
  run(function* () {
    yield* gather(count(), count(), count(), count(), count());
  });
  const asyncElapsed = (performance.now() - t0) / 1000;
  expect(out).toEqual([...Array(5).fill('One'), ...Array(5).fill('Two'), ...Array(5).fill('Three')]);

  const syncOut: string[] = [];
  function countSync(): void {
    syncOut.push('One');
    blockingSleep(0.1);
    syncOut.push('Two');
    blockingSleep(0.2);
    syncOut.push('Three');
  }
  const t1 = performance.now();
  for (let i = 0; i < 5; i++) countSync();
  const syncElapsed = (performance.now() - t1) / 1000;
  expect(syncOut).toEqual(Array(5).fill(['One', 'Two', 'Three']).flat());

  expect(asyncElapsed).toBeGreaterThanOrEqual(0.3);
  // Ideally 0.3 s against 1.5 s: a ratio of 0.2.
  expect(asyncElapsed / syncElapsed).toBeLessThan(0.4);
});

test('2. explicit context switches: sleep(0) hands the loop over for one turn', () => {
  const out: string[] = [];
  function* foo(): Coroutine<void> {
    out.push('Running in foo');
    yield* sleep(0);
    out.push('Explicit context switch to foo again');
  }
  function* bar(): Coroutine<void> {
    out.push('Explicit context to bar');
    yield* sleep(0);
    out.push('Implicit context switch back to bar');
  }
  run(function* () {
    yield* gather(foo(), bar());
  });
  expect(out).toEqual([
    'Running in foo',
    'Explicit context to bar',
    'Explicit context switch to foo again',
    'Implicit context switch back to bar',
  ]);
});

describe('3. a Future resolved by another task', () => {
  function* bar(fut: Future<string>, out: string[]): Coroutine<void> {
    yield* sleep(0.01);
    out.push('bar resolves the future');
    fut.setResult('future is resolved');
  }
  function* foo(fut: Future<string>, out: string[]): Coroutine<string> {
    const first = yield* fut;
    out.push(`foo: ${first}`);
    const second = yield* fut; // awaited again: the same result, at once
    out.push(`foo again: ${second}`);
    return second;
  }

  test('under gather', () => {
    const out: string[] = [];
    const results = run(function* () {
      const fut = getRunningLoop().createFuture<string>();
      return yield* gather(foo(fut, out), bar(fut, out));
    });
    expect(results).toEqual(['future is resolved', undefined]);
    expect(out).toEqual(['bar resolves the future', 'foo: future is resolved', 'foo again: future is resolved']);
  });

  test('as two tasks made with createTask, then awaited', () => {
    const out: string[] = [];
    const result = run(function* () {
      const fut = getRunningLoop().createFuture<string>();
      const t1 = createTask(foo(fut, out));
      const t2 = createTask(bar(fut, out));
      yield* t2;
      return yield* t1;
    });
    expect(result).toBe('future is resolved');
    expect(out).toEqual(['bar resolves the future', 'foo: future is resolved', 'foo again: future is resolved']);
  });
});

test('4. chained coroutines: each second stage starts as soon as its own first stage is done', () => {
  const random = seeded(4);
  const events: string[] = [];
  const sleeps: number[] = [];
  function* function1(n: number): Coroutine<string> {
    const i = random() * 0.1;
    sleeps.push(i);
    yield* sleep(i);
    events.push(`function1(${n}) done`);
    return `result${n}-1`;
  }
  function* function2(n: number, arg: string): Coroutine<string> {
    events.push(`function2(${n}) starts`);
    const i = random() * 0.1;
    sleeps.push(i);
    yield* sleep(i);
    return `result${n}-2 derived from ${arg}`;
  }
  function* chain(n: number): Coroutine<string> {
    const p1 = yield* function1(n);
    const p2 = yield* function2(n, p1);
    return `chained result${n} => ${p2}`;
  }
  const t0 = performance.now();
  const results = run(function* () {
    return yield* gather(chain(1), chain(2), chain(3));
  });
  const elapsed = (performance.now() - t0) / 1000;
  expect(results).toEqual([1, 2, 3].map((n) => `chained result${n} => result${n}-2 derived from result${n}-1`));
  for (const n of [1, 2, 3]) {
    const i = events.indexOf(`function1(${n}) done`);
    expect(events[i + 1]).toBe(`function2(${n}) starts`);
  }
  // Concurrent: well under the sum of all the sleeps.
  const sum = sleeps.reduce((a, b) => a + b, 0);
  expect(elapsed).toBeLessThan(sum);
});

test('6. generate_random_int: three under gather return in argument order', () => {
  const random = seeded(6);
  const randint = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const log: string[] = [];
  function* makeRandom(idx: number, threshold = 6): Coroutine<number> {
    log.push(`Initiated makerandom(${idx}).`);
    let i = randint(0, 10);
    while (i <= threshold) {
      log.push(`makerandom(${idx}) == ${i} too low; retrying.`);
      yield* sleep((idx + 1) * 0.01);
      i = randint(0, 10);
    }
    log.push(`---> Finished: makerandom(${idx}) == ${i}`);
    return i;
  }
  const [r1, r2, r3] = run(function* () {
    return yield* gather(makeRandom(0, 9), makeRandom(1, 8), makeRandom(2, 7));
  });
  expect(r1).toBeGreaterThan(9);
  expect(r2).toBeGreaterThan(8);
  expect(r3).toBeGreaterThan(7);
  // All three start before any of them finishes: they run concurrently.
  const started = log.filter((l) => l.startsWith('Initiated'));
  expect(started).toEqual(['Initiated makerandom(0).', 'Initiated makerandom(1).', 'Initiated makerandom(2).']);
  expect(log.findIndex((l) => l.startsWith('--->'))).toBeGreaterThan(log.indexOf('Initiated makerandom(2).'));
});

describe.each(availableBackends())('9. the desugaring: a read suspended on fd readiness (%s)', (backend) => {
  let pair: [Socket, Socket] | null = null;
  afterEach(() => {
    pair?.forEach((s) => s.close());
    pair = null;
  });

  test('one task reads a socketpair, another writes after a sleep', () => {
    const [a, b] = (pair = socketpair());
    // An awaitable read: try recv; on EWOULDBLOCK register the task as a
    // reader of the socket and suspend; readiness makes it runnable again.
    function* asyncRecv(sock: Socket, n: number): Coroutine<Buffer> {
      const loop = getRunningLoop();
      for (;;) {
        const data = sock.recv(n);
        if (data !== null) return data;
        const ready = loop.createFuture<void>();
        loop.addReader(sock, () => ready.done() || ready.setResult(undefined));
        try {
          yield* ready;
        } finally {
          loop.removeReader(sock);
        }
      }
    }
    const order: string[] = [];
    const got = run(
      function* () {
        const reader = createTask(
          (function* () {
            const data = yield* asyncRecv(a, 64);
            order.push('read');
            return data.toString();
          })(),
        );
        // Background sleeps interleave with the read (wide gaps: the machine is noisy).
        const background = [0.02, 0.08, 0.1].map((d, i) =>
          createTask(
            (function* () {
              yield* sleep(d);
              order.push(`background ${i}`);
            })(),
          ),
        );
        yield* sleep(0.04);
        order.push('write');
        b.send('ping');
        yield* gather(...background);
        return yield* reader;
      },
      { selector: backend },
    );
    expect(got).toBe('ping');
    expect(order).toEqual(['background 0', 'write', 'read', 'background 1', 'background 2']);
  });
});
