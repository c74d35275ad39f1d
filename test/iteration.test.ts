// The 3.13 iteration shapes: a StreamReader by lines (for await in an async
// function, eachLine in a generator coroutine), and asCompleted async-iterable
// over the original Futures and Tasks, on every backend over real sockets.
import { describe, expect, it } from 'vitest';
import { Future, Task, TimeoutError, asCompleted, createTask, getRunningLoop, openConnection, runGuest, sleep, startServer } from '../src/index.js';
import type { StreamReader, StreamWriter } from '../src/index.js';
import { backends, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

/** Writes three lines (the last without '\n') and closes. */
function* threeLines(_r: StreamReader, w: StreamWriter): Co<void> {
  w.write('one\ntwo\n');
  yield* w.drain();
  yield* sleep(0.002);
  w.write('three');
  w.close();
}

describe.each(backends)('iteration on %s', (backend) => {
  const t = useLoop(backend);

  it('for await (const line of reader) in an async function: every line, then the end at EOF', async () => {
    const got = await runGuest(async () => {
      const server = await startServer(threeLines, '127.0.0.1', 0);
      const { port } = server.addresses()[0]!;
      const [reader, writer] = await openConnection('127.0.0.1', port);
      const lines: string[] = [];
      for await (const line of reader) lines.push(String(line));
      writer.close();
      server.close();
      await server.waitClosed();
      return lines;
    }, { selector: backend as never });
    expect(got).toEqual(['one\n', 'two\n', 'three']);
  });

  it('yield* reader.eachLine(body) in a generator coroutine; body returning false stops', () => {
    const got = t.run(
      (function* (): Co<[string[], number, string[], number]> {
        const server = yield* startServer(threeLines, '127.0.0.1', 0);
        const { port } = server.addresses()[0]!;
        const all: string[] = [];
        const [r1, w1] = yield* openConnection('127.0.0.1', port);
        const n1 = yield* r1.eachLine(function* (line) {
          yield* sleep(0);
          all.push(String(line));
        });
        w1.close();
        const first: string[] = [];
        const [r2, w2] = yield* openConnection('127.0.0.1', port);
        const n2 = yield* r2.eachLine((line) => {
          first.push(String(line));
          return false;
        });
        w2.close();
        yield* w1.waitClosed();
        yield* w2.waitClosed();
        server.close();
        yield* server.waitClosed();
        return [all, n1, first, n2];
      })(),
    );
    expect(got).toEqual([['one\n', 'two\n', 'three'], 3, ['one\n'], 1]);
  });

  it('for await (const f of asCompleted(tasks)): the original Tasks and Futures, done, in completion order; TimeoutError after the timeout', async () => {
    const got = await runGuest(async () => {
      const loop = getRunningLoop();
      const slow = createTask(sleep(0.03, 'slow'));
      const fast = createTask(sleep(0.005, 'fast'));
      const fut = new Future<string>(loop);
      loop.callLater(0.015, () => fut.setResult('future'));
      const order: unknown[] = [];
      // TypeScript types for-await values as awaited; the values are the Futures themselves.
      for await (const x of asCompleted<string>([slow, fast, fut]) as AsyncIterable<Future<string>>) {
        const f = x as unknown as Future<string>;
        expect(f.done()).toBe(true);
        order.push(f === slow ? 'slow' : f === fast ? 'fast' : f === fut ? 'fut' : f);
      }
      // A coroutine passed in comes out as the Task made for it.
      const fromCoro: unknown[] = [];
      for await (const x of asCompleted<string>([sleep(0.001, 'x')]) as AsyncIterable<Future<string>>) {
        const f = x as unknown as Future<string>;
        fromCoro.push(f instanceof Task, f.result());
      }
      let timedOut: unknown = null;
      const never = createTask(sleep(10));
      try {
        for await (const f of asCompleted([never], { timeout: 0.01 }) as AsyncIterable<Future<unknown>>) void f;
      } catch (e) {
        timedOut = e;
      }
      never.cancel();
      return [order, fromCoro, timedOut instanceof TimeoutError];
    }, { selector: backend as never });
    expect(got).toEqual([['fast', 'fut', 'slow'], [true, 'x'], true]);
  });
});
