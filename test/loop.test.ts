// The event loop: scheduling, timers, run / stop / close, the exception
// handler, debug mode, and fd readiness on every backend (after CPython's
// test_base_events.py and test_events.py).
import { existsSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, expectTypeOf, test, vi } from 'vitest';
import type { ExceptionContext, ExceptionHandler, TaskFactory } from '../src/base_events.js';
import { RuntimeError } from '../src/errors.js';
import { getRunningLoop, Handle, TimerHandle } from '../src/events.js';
import { EventLoop, getEventLoop, newEventLoop, setEventLoop } from '../src/loop.js';
import type { AbstractEventLoop } from '../src/events.js';
import { availableBackends, EVENT_READ, EVENT_WRITE } from '../src/selectors.js';
import { socketpair } from '../src/socket.js';
import type { Socket } from '../src/socket.js';
import { sleep, Task } from '../src/tasks.js';
import type { Coroutine } from '../src/tasks.js';
import { runBriefly, takeErrors, thrown, useCoreLoop } from './core_helpers.js';

describe('scheduling', () => {
  const core = useCoreLoop();

  test('callSoon runs callbacks in FIFO order with their arguments', () => {
    const calls: unknown[][] = [];
    const cb = (...args: unknown[]): void => void calls.push(args);
    const h = core.loop.callSoon(cb, 1, 'two');
    core.loop.callSoon(cb);
    core.loop.callSoon(cb, 3);
    expect(h).toBeInstanceOf(Handle);
    expect(calls).toEqual([]);
    runBriefly(core.loop);
    expect(calls).toEqual([[1, 'two'], [], [3]]);
  });

  test('callbacks scheduled by a callback run on the next iteration', () => {
    const log: string[] = [];
    core.loop.callSoon(() => {
      log.push('a');
      core.loop.callSoon(() => log.push('c'));
    });
    core.loop.callSoon(() => log.push('b'));
    runBriefly(core.loop);
    expect(log).toEqual(['a', 'b']);
    runBriefly(core.loop);
    expect(log).toEqual(['a', 'b', 'c']);
  });

  test('a cancelled handle does not run', () => {
    const log: string[] = [];
    const h = core.loop.callSoon(() => log.push('no'));
    h.cancel();
    h.cancel();
    expect(h.cancelled()).toBe(true);
    expect(String(h)).toBe('<Handle cancelled>');
    runBriefly(core.loop);
    expect(log).toEqual([]);
  });

  test('callSoon needs a function', () => {
    expect(thrown(() => core.loop.callSoon(undefined as never))).toBeInstanceOf(TypeError);
  });

  test('a callback that throws is reported, and the loop goes on', () => {
    const log: string[] = [];
    core.loop.callSoon(function boom(n: number) {
      throw new Error(`boom ${n}`);
    }, 1);
    core.loop.callSoon(() => log.push('next'));
    runBriefly(core.loop);
    expect(log).toEqual(['next']);
    const [ctx] = takeErrors(core);
    expect(ctx!.message).toBe('Exception in callback boom(1)');
    expect((ctx!.exception as Error).message).toBe('boom 1');
    expect(ctx!.handle).toBeInstanceOf(Handle);
  });
});

describe('timers', () => {
  const core = useCoreLoop();

  test('time() is monotonic seconds', () => {
    const a = core.loop.time();
    const b = core.loop.time();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(a - performance.now() / 1000)).toBeLessThan(1);
  });

  test('callLater never fires early, and fires in deadline order', () => {
    const fired: [string, number][] = [];
    const t0 = core.loop.time();
    const h = core.loop.callLater(0.03, () => {
      fired.push(['c', core.loop.time() - t0]);
      core.loop.stop();
    });
    core.loop.callLater(0.01, () => fired.push(['a', core.loop.time() - t0]));
    core.loop.callLater(0.02, () => fired.push(['b', core.loop.time() - t0]));
    expect(h).toBeInstanceOf(TimerHandle);
    expect(h.when()).toBeCloseTo(t0 + 0.03, 2);
    core.loop.runForever();
    expect(fired.map(([n]) => n)).toEqual(['a', 'b', 'c']);
    expect(fired[0]![1]).toBeGreaterThanOrEqual(0.01);
    expect(fired[1]![1]).toBeGreaterThanOrEqual(0.02);
    expect(fired[2]![1]).toBeGreaterThanOrEqual(0.03);
  });

  test('timers due at the same time run in scheduling order; negative delays run at once, in order', () => {
    const log: number[] = [];
    const when = core.loop.time() + 0.005;
    for (let i = 0; i < 5; i++) core.loop.callAt(when, () => log.push(i));
    core.loop.callLater(-1, () => log.push(-1));
    core.loop.callLater(-2, () => log.push(-2));
    core.loop.callAt(when + 0.001, () => core.loop.stop());
    core.loop.runForever();
    expect(log).toEqual([-2, -1, 0, 1, 2, 3, 4]);
  });

  test('callAt in the loop clock', () => {
    let at = 0;
    const when = core.loop.time() + 0.01;
    core.loop.callAt(when, () => {
      at = core.loop.time();
      core.loop.stop();
    });
    core.loop.runForever();
    expect(at).toBeGreaterThanOrEqual(when);
  });

  test('a cancelled timer does not fire', () => {
    const log: string[] = [];
    const h = core.loop.callLater(0.001, () => log.push('no'));
    h.cancel();
    core.loop.callLater(0.005, () => core.loop.stop());
    core.loop.runForever();
    expect(log).toEqual([]);
    expect(String(h)).toMatch(/^<TimerHandle when=[\d.]+ cancelled>$/);
  });

  test('cancelled timers never pile up: the heap is rebuilt past half cancelled', () => {
    const handles: TimerHandle[] = [];
    for (let i = 0; i < 1000; i++) handles.push(core.loop.callLater(100 + i, () => {}));
    for (let i = 0; i < 600; i++) handles[i * 1 + 400]!.cancel(); // the far ones: not at the heap's head
    expect(core.loop._timerCancelledCount).toBe(600);
    runBriefly(core.loop);
    expect(core.loop._scheduled.length).toBe(400);
    expect(core.loop._timerCancelledCount).toBe(0);
    for (const h of handles.slice(0, 400)) h.cancel();
    // Cancelled at the head are popped lazily, and the rest by a rebuild.
    runBriefly(core.loop);
    expect(core.loop._scheduled.length).toBe(0);
  });

  test('cancelled timers at the head are dropped before computing the wait', () => {
    const far = core.loop.callLater(1000, () => {});
    const near = core.loop.callLater(0.001, () => {});
    near.cancel();
    core.loop.callLater(0.003, () => core.loop.stop());
    core.loop.runForever();
    expect(core.loop._scheduled.toArray()).toEqual([far]);
    far.cancel();
  });

  test('many timers with random delays fire sorted', () => {
    const delays = Array.from({ length: 300 }, (_, i) => ((i * 7919) % 300) / 300 / 50);
    const fired: number[] = [];
    const base = core.loop.time();
    for (const d of delays) core.loop.callAt(base + d, () => fired.push(d));
    core.loop.callLater(0.03, () => core.loop.stop());
    core.loop.runForever();
    expect(fired).toEqual([...delays].sort((a, b) => a - b));
  });

  test('callLater / callAt need numbers', () => {
    expect(thrown(() => core.loop.callLater(NaN, () => {}))).toBeInstanceOf(TypeError);
    expect(thrown(() => core.loop.callAt('1' as never, () => {}))).toBeInstanceOf(TypeError);
  });
});

describe('running and stopping', () => {
  const core = useCoreLoop();

  test('runUntilComplete returns the result of a coroutine, a Task or a Future', () => {
    function* co(): Coroutine<number> {
      yield* sleep(0);
      return 1;
    }
    expect(core.loop.runUntilComplete(co())).toBe(1);
    expect(core.loop.runUntilComplete(core.loop.createTask(co()))).toBe(1);
    const f = core.loop.createFuture<number>();
    core.loop.callSoon(() => f.setResult(3));
    expect(core.loop.runUntilComplete(f)).toBe(3);
  });

  test('runUntilComplete of something else is a TypeError', () => {
    expect(thrown(() => core.loop.runUntilComplete(42 as never))).toBeInstanceOf(TypeError);
  });

  test('runUntilComplete of a Future of another loop is a RangeError', () => {
    const other = newEventLoop();
    try {
      expect(thrown(() => core.loop.runUntilComplete(other.createFuture()))).toBeInstanceOf(RangeError);
    } finally {
      other.close();
    }
  });

  test('stopped before the Future completes: a RuntimeError', () => {
    const f = core.loop.createFuture();
    core.loop.callSoon(() => core.loop.stop());
    expect((thrown(() => core.loop.runUntilComplete(f)) as Error).message).toBe('Event loop stopped before Future completed.');
    f.cancel();
  });

  test('stop() from a callback ends runForever after the current iteration', () => {
    const log: string[] = [];
    core.loop.callSoon(() => {
      core.loop.stop();
      log.push('a');
    });
    core.loop.callSoon(() => log.push('b'));
    core.loop.runForever();
    expect(log).toEqual(['a', 'b']);
    expect(core.loop.isRunning()).toBe(false);
  });

  test('stop() before runForever: one iteration runs, then it returns', () => {
    const log: string[] = [];
    core.loop.callSoon(() => log.push('ran'));
    core.loop.stop();
    core.loop.runForever();
    expect(log).toEqual(['ran']);
  });

  test('isRunning and getRunningLoop inside, not outside', () => {
    expect(core.loop.isRunning()).toBe(false);
    expect(thrown(() => getRunningLoop())).toBeInstanceOf(RuntimeError);
    const inside = core.run(function* () {
      return [core.loop.isRunning(), getRunningLoop()] as const;
    });
    expect(inside).toEqual([true, core.loop]);
  });

  test('a loop cannot run twice, nor inside another loop', () => {
    const other = newEventLoop();
    try {
      const errors = core.run(function* () {
        return [thrown(() => core.loop.runForever()), thrown(() => other.runUntilComplete(sleep(0)))];
      });
      expect((errors[0] as Error).message).toBe('This event loop is already running');
      expect((errors[1] as Error).message).toBe('Cannot run the event loop while another loop is running');
    } finally {
      other.close();
    }
  });

  test('waiting forever with nothing that could wake the loop is an error, not a hang', () => {
    const f = core.loop.createFuture();
    const err = thrown(() => core.loop.runUntilComplete(f)) as Error;
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.message).toMatch(/would wait forever/);
    expect(core.loop.isRunning()).toBe(false);
    f.cancel();
  });
});

describe('close', () => {
  test('an Inbox of a closed loop: sender() is a RuntimeError, like the loop\'s own methods', () => {
    const loop = newEventLoop();
    const inbox = loop.createInbox(() => {});
    loop.close();
    const err = thrown(() => inbox.sender());
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toBe('Event loop is closed');
    inbox.close();
  });

  test.skipIf(!existsSync('/proc/self/task'))('getaddrinfo on a closed loop: a RuntimeError, and no resolver thread started', () => {
    const loop = newEventLoop();
    loop.close();
    // new Worker starts its thread, and the thread its own libuv loop (fds), at once.
    const threads = readdirSync('/proc/self/task').length;
    const fds = readdirSync('/proc/self/fd').length;
    const err = thrown(() => loop.getaddrinfo('localhost', 80).next());
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toBe('Event loop is closed');
    expect(readdirSync('/proc/self/task').length, 'threads').toBeLessThanOrEqual(threads);
    expect(readdirSync('/proc/self/fd').length, 'fds').toBe(fds);
    // A numeric host needs no thread, but the loop is closed all the same (as asyncio).
    expect(thrown(() => loop.getaddrinfo('127.0.0.1', 80).next())).toBeInstanceOf(RuntimeError);
  });

  test('closes the selector; scheduling on a closed loop is a RuntimeError; close is idempotent', () => {
    const loop = newEventLoop();
    loop.callLater(10, () => {});
    loop.callSoon(() => {});
    expect(loop.isClosed()).toBe(false);
    loop.close();
    expect(loop.isClosed()).toBe(true);
    expect(loop._selector.isClosed()).toBe(true);
    expect(loop._scheduled.length).toBe(0);
    expect(loop._ready.length).toBe(0);
    loop.close();
    for (const fn of [
      () => loop.callSoon(() => {}),
      () => loop.callLater(1, () => {}),
      () => loop.runForever(),
      () => loop.runUntilComplete(loop.createFuture()),
      () => loop.createTask(sleep(0)),
      () => loop.addReader(0, () => {}),
    ]) {
      expect((thrown(fn) as Error).message).toBe('Event loop is closed');
    }
    expect(loop.removeReader(0)).toBe(false);
  });

  test('closing a running loop is a RuntimeError', () => {
    const loop = newEventLoop();
    try {
      const err = loop.runUntilComplete(
        (function* () {
          yield;
          return thrown(() => loop.close());
        })(),
      );
      expect((err as Error).message).toBe('Cannot close a running event loop');
    } finally {
      loop.close();
    }
  });
});

describe('exception handler', () => {
  let loop: EventLoop;
  afterEach(() => loop.close());

  test('the default handler prints the message, the context and the stack to console.error', () => {
    loop = newEventLoop();
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      loop.callSoon(function failing() {
        throw new TypeError('printed');
      });
      runBriefly(loop);
      expect(spy).toHaveBeenCalledTimes(1);
      const text = String(spy.mock.calls[0]![0]);
      expect(text).toMatch(/^Exception in callback failing\(\)\nhandle: <Handle failing\(\)>\nTypeError: printed\n\s+at /);
    } finally {
      spy.mockRestore();
    }
  });

  test('set / get, and a handler that throws falls back to the default one', () => {
    loop = newEventLoop();
    expect(loop.getExceptionHandler()).toBeNull();
    const handler = (): void => {
      throw new Error('handler broke');
    };
    loop.setExceptionHandler(handler);
    expect(loop.getExceptionHandler()).toBe(handler);
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      loop.callExceptionHandler({ message: 'original' });
      const texts = spy.mock.calls.map((c) => String(c[0]));
      expect(texts[0]).toMatch(/^Unhandled error in exception handler/);
      expect(texts[0]).toMatch(/handler broke/);
      expect(texts[1]).toBe('original');
    } finally {
      spy.mockRestore();
    }
    expect(thrown(() => loop.setExceptionHandler(42 as never))).toBeInstanceOf(TypeError);
    loop.setExceptionHandler(null);
    expect(loop.getExceptionHandler()).toBeNull();
  });

  test('a custom handler gets the loop and the context', () => {
    loop = newEventLoop();
    const seen: unknown[] = [];
    loop.setExceptionHandler((l, ctx) => seen.push(l, ctx.message, ctx.extra));
    loop.callExceptionHandler({ message: 'm', extra: 1 });
    expect(seen).toEqual([loop, 'm', 1]);
  });

  test('the exception handler and the task factory get the loop typed AbstractEventLoop; callbacks typed with it fit', () => {
    loop = newEventLoop();
    // Checked by the typecheck: the loop was typed BaseEventLoop, without e.g. addReader or createServer.
    expectTypeOf<Parameters<ExceptionHandler>[0]>().toEqualTypeOf<AbstractEventLoop>();
    expectTypeOf<Parameters<TaskFactory>[0]>().toEqualTypeOf<AbstractEventLoop>();
    const seen: unknown[] = [];
    loop.setExceptionHandler((l, ctx) => {
      expectTypeOf(l).toEqualTypeOf<AbstractEventLoop>();
      seen.push(l, typeof l.addReader, ctx.message);
    });
    loop.callExceptionHandler({ message: 'm' });
    loop.setTaskFactory((l, coro, options) => {
      expectTypeOf(l).toEqualTypeOf<AbstractEventLoop>();
      seen.push(l, typeof l.createServer);
      return new Task(coro, { loop: l, name: options.name });
    });
    expect(loop.runUntilComplete(loop.createTask(sleep(0, 'r')))).toBe('r');
    expect(seen).toEqual([loop, 'function', 'm', loop, 'function']);
    // Callbacks declared with the interface type fit (any loop that implements it).
    const wideHandler = (_l: AbstractEventLoop, _ctx: ExceptionContext): void => {};
    const wideFactory = (l: AbstractEventLoop, coro: Coroutine<unknown>): Task<unknown> => new Task(coro, { loop: l });
    loop.setExceptionHandler(wideHandler);
    loop.setTaskFactory(wideFactory);
    expect(loop.getExceptionHandler()).toBe(wideHandler);
    expect(loop.getTaskFactory()).toBe(wideFactory);
    loop.runUntilComplete(loop.createTask(sleep(0)));
  });
});

describe('debug mode', () => {
  let loop: EventLoop;
  afterEach(() => loop.close());

  test('setDebug / getDebug, and newEventLoop({ debug })', () => {
    loop = newEventLoop({ debug: true });
    expect(loop.getDebug()).toBe(true);
    loop.setDebug(false);
    expect(loop.getDebug()).toBe(false);
  });

  test('slow callbacks are logged with their duration', () => {
    loop = newEventLoop({ debug: true });
    loop.slowCallbackDuration = 0.01;
    const spy = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      loop.callSoon(function slow() {
        const end = performance.now() + 20;
        while (performance.now() < end);
      });
      loop.callSoon(function fast() {});
      runBriefly(loop);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(String(spy.mock.calls[0]![0])).toMatch(/^Executing <Handle slow\(\)> took 0\.0\d\d seconds$/);
    } finally {
      spy.mockRestore();
    }
  });

  test('reports say where the Future was created, and the default handler prints it', () => {
    loop = newEventLoop({ debug: true });
    const f = loop.createFuture();
    f.setException(new Error('x'));
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      loop.close();
      expect(spy).toHaveBeenCalledTimes(1);
      const text = String(spy.mock.calls[0]![0]);
      expect(text).toMatch(/^Future exception was never retrieved\nfuture: <Future finished exception=Error: x>\nObject created at \(most recent call last\):\nError: created here/);
      expect(text.split('Object created at').length).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });

  test('the default handler prints a hand-made source_traceback (the deprecated key) too, once', () => {
    loop = newEventLoop();
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      loop.defaultExceptionHandler({ message: 'm', source_traceback: 'T' });
      loop.defaultExceptionHandler({ message: 'm', sourceTraceback: 'T', source_traceback: 'T' });
      expect(spy.mock.calls.map((c) => String(c[0]))).toEqual(['m\nObject created at (most recent call last):\nT', 'm\nObject created at (most recent call last):\nT']);
    } finally {
      spy.mockRestore();
    }
  });

  test('handles remember where they were scheduled, and the handler shows it', () => {
    loop = newEventLoop({ debug: true });
    const h = loop.callSoon(() => {});
    expect(h._sourceTraceback).toMatch(/scheduled here/);
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
    loop.callSoon(() => {
      throw new Error('x');
    });
    runBriefly(loop);
    expect(String(seen[0]!.sourceTraceback)).toMatch(/scheduled here/);
    // The old snake_case key still reads the same value, but is not listed.
    expect(seen[0]!.source_traceback).toBe(seen[0]!.sourceTraceback);
    expect(Object.keys(seen[0]!)).not.toContain('source_traceback');
    loop.setDebug(false);
    expect(loop.callSoon(() => {})._sourceTraceback).toBeUndefined();
    runBriefly(loop);
  });
});

describe('which loop', () => {
  afterEach(() => setEventLoop(null));

  test('getEventLoop: the running loop, else the set one, else a new one that becomes the set one', () => {
    const loop = newEventLoop();
    try {
      setEventLoop(loop);
      expect(getEventLoop()).toBe(loop);
      setEventLoop(null);
      const created = getEventLoop();
      try {
        expect(created).toBeInstanceOf(EventLoop);
        expect(created).not.toBe(loop);
        expect(getEventLoop()).toBe(created);
      } finally {
        created.close();
      }
      const other = newEventLoop();
      try {
        setEventLoop(other);
        expect(
          loop.runUntilComplete(
            (function* () {
              return getEventLoop();
            })(),
          ),
        ).toBe(loop);
      } finally {
        other.close();
      }
    } finally {
      loop.close();
    }
  });

  test('setEventLoop needs a loop or null', () => {
    expect(thrown(() => setEventLoop({} as never))).toBeInstanceOf(TypeError);
  });
});

describe.each(availableBackends())('fd readiness (%s)', (backend) => {
  const core = useCoreLoop({ selector: backend as 'epoll' });
  let pair: [Socket, Socket] | null = null;
  afterEach(() => {
    pair?.forEach((s) => s.close());
    pair = null;
  });
  const sockets = (): [Socket, Socket] => (pair = socketpair());

  test('the loop uses the backend asked for', () => {
    expect(core.loop.backend).toBe(backend);
  });

  test('a reader runs when data arrives, until removed', () => {
    const [a, b] = sockets();
    const got: string[] = [];
    // The second send waits for the first read: two sends in flight could
    // arrive in one recv, and the loop would then wait forever for a second.
    core.loop.addReader(a, (tag: string) => {
      got.push(`${tag}:${a.recv(100)!.toString()}`);
      if (got.length === 1) core.loop.callLater(0.005, () => b.send('two'));
      if (got.length === 2) core.loop.stop();
    }, 'r');
    core.loop.callLater(0.005, () => b.send('one'));
    core.loop.runForever();
    expect(got).toEqual(['r:one', 'r:two']);
    expect(core.loop.removeReader(a)).toBe(true);
    expect(core.loop.removeReader(a)).toBe(false);
    expect(core.loop._selector.getMap().size).toBe(0);
  });

  test('a writer runs when the fd is writable', () => {
    const [a] = sockets();
    let calls = 0;
    core.loop.addWriter(a.fileno(), () => {
      calls++;
      core.loop.removeWriter(a.fileno());
      core.loop.stop();
    });
    core.loop.runForever();
    expect(calls).toBe(1);
    expect(core.loop.removeWriter(a)).toBe(false);
  });

  test('one registration per fd: reader and writer share it, and the interest follows', () => {
    const [a] = sockets();
    const sel = core.loop._selector;
    core.loop.addReader(a, () => {});
    const key = sel.getKey(a);
    expect(key.events).toBe(EVENT_READ);
    core.loop.addWriter(a, () => {});
    expect(sel.getKey(a)).toBe(key);
    expect(key.events).toBe(EVENT_READ | EVENT_WRITE);
    core.loop.removeReader(a);
    expect(key.events).toBe(EVENT_WRITE);
    core.loop.removeWriter(a);
    expect(sel.getMap().size).toBe(0);
  });

  test('replacing a reader cancels the old handle and keeps the key', () => {
    const [a, b] = sockets();
    const log: string[] = [];
    const first = core.loop.addReader(a, () => log.push('first'));
    const key = core.loop._selector.getKey(a);
    core.loop.addReader(a, () => {
      log.push(`second:${a.recv(10)!.toString()}`);
      core.loop.stop();
    });
    expect(first.cancelled()).toBe(true);
    expect(core.loop._selector.getKey(a)).toBe(key);
    b.send('x');
    core.loop.runForever();
    expect(log).toEqual(['second:x']);
    core.loop.removeReader(a);
  });

  test('a coroutine suspended on readiness resumes with the data (one task reads, another writes after a sleep)', () => {
    const [a, b] = sockets();
    function* recv(sock: Socket, n: number): Coroutine<Buffer> {
      for (;;) {
        const data = sock.recv(n);
        if (data !== null) return data;
        const loop = getRunningLoop();
        const fut = loop.createFuture<void>();
        loop.addReader(sock, () => {
          if (!fut.done()) fut.setResult(undefined);
        });
        try {
          yield* fut;
        } finally {
          loop.removeReader(sock);
        }
      }
    }
    const log: string[] = [];
    const result = core.run(function* () {
      const reader = getRunningLoop().createTask(
        (function* () {
          log.push('reader waits');
          const data = yield* recv(a, 100);
          log.push('reader got data');
          return data.toString();
        })(),
      );
      const writer = getRunningLoop().createTask(
        (function* () {
          yield* sleep(0.01);
          log.push('writer sends');
          b.send('hello');
        })(),
      );
      yield* writer;
      return yield* reader;
    });
    expect(result).toBe('hello');
    expect(log).toEqual(['reader waits', 'writer sends', 'reader got data']);
  });

  test('a reader with a timer: the wait ends at whichever comes first', () => {
    const [a, b] = sockets();
    const log: string[] = [];
    core.loop.addReader(a, () => {
      log.push(`read ${a.recv(10)!.toString()}`);
      core.loop.removeReader(a);
      core.loop.stop();
    });
    core.loop.callLater(0.005, () => log.push('timer'));
    core.loop.callLater(0.02, () => b.send('late'));
    core.loop.runForever();
    expect(log).toEqual(['timer', 'read late']);
  });

  test('closing the loop drops the registrations with the selector', () => {
    const [a] = sockets();
    const loop = newEventLoop({ selector: backend as 'epoll' });
    loop.addReader(a, () => {});
    loop.close();
    expect(loop._selector.isClosed()).toBe(true);
  });
});

test('the default backend is the first available one', () => {
  const loop = newEventLoop();
  try {
    expect(loop.backend).toBe(availableBackends()[0]);
  } finally {
    loop.close();
  }
});

test('an unknown backend is a RangeError', () => {
  expect(thrown(() => newEventLoop({ selector: 'nope' as never }))).toBeInstanceOf(RangeError);
});
