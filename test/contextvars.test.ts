// Context variables: ContextVar / Token / Context / copyContext, a Task in a
// copy of its creator's Context, callbacks in a copy of their scheduler's,
// and `context` on createTask, callSoon, callLater, callAt,
// TaskGroup.createTask and Runner.run; then per connection, over real
// sockets on every backend.
import { describe, expect, test } from 'vitest';
import { Context, ContextVar, LookupError, RuntimeError, Runner, TaskGroup, Token, copyContext, createTask, eagerTaskFactory, getRunningLoop, openConnection, sleep, startServer } from '../src/index.js';
import type { StreamReader, StreamWriter } from '../src/index.js';
import { thrown, useCoreLoop } from './core_helpers.js';
import { backends, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

describe('ContextVar, Token, Context', () => {
  test('get: the value, else the argument, else the default, else LookupError', () => {
    const plain = new ContextVar<number>('plain');
    const withDefault = new ContextVar('withDefault', { default: 7 });
    expect(thrown(() => plain.get())).toBeInstanceOf(LookupError);
    expect(plain.get(3)).toBe(3);
    expect(withDefault.get()).toBe(7);
    copyContext().run(() => {
      plain.set(1);
      expect(plain.get()).toBe(1);
      expect(plain.get(3)).toBe(1);
    });
    expect(thrown(() => plain.get())).toBeInstanceOf(LookupError);
  });

  test('set returns a Token; reset restores the old value (or none), once', () => {
    const v = new ContextVar<string>('v');
    copyContext().run(() => {
      const t1 = v.set('a');
      expect(t1).toBeInstanceOf(Token);
      expect(t1.var).toBe(v);
      expect(t1.oldValue).toBe(Token.MISSING);
      const t2 = v.set('b');
      expect(t2.oldValue).toBe('a');
      v.reset(t2);
      expect(v.get()).toBe('a');
      expect(thrown(() => v.reset(t2))).toBeInstanceOf(RuntimeError);
      v.reset(t1);
      expect(v.get('none')).toBe('none');
      const other = new ContextVar<string>('other');
      expect(thrown(() => other.reset(v.set('c') as never))).toBeInstanceOf(RangeError);
    });
  });

  test('a Token from another Context: RangeError', () => {
    const v = new ContextVar<number>('v');
    const token = copyContext().run(() => v.set(1));
    expect(thrown(() => copyContext().run(() => v.reset(token)))).toBeInstanceOf(RangeError);
  });

  test('copyContext: a snapshot; changes on either side stay there', () => {
    const v = new ContextVar<number>('v');
    const ctx = new Context();
    ctx.run(() => {
      v.set(1);
      const copy = copyContext();
      v.set(2);
      expect(copy.get(v)).toBe(1);
      copy.run(() => {
        expect(v.get()).toBe(1);
        v.set(3);
      });
      expect(v.get()).toBe(2);
      expect(copy.get(v)).toBe(3);
      expect(copy.has(v)).toBe(true);
      expect(copy.size).toBe(1);
      expect([...copy]).toEqual([v]);
      expect([...copy.entries()]).toEqual([[v, 3]]);
    });
    expect(ctx.get(v)).toBe(2);
  });

  test('run() inside its own run(): RuntimeError; bad input: TypeError', () => {
    const ctx = new Context();
    expect(thrown(() => ctx.run(() => ctx.run(() => 0)))).toBeInstanceOf(RuntimeError);
    expect(thrown(() => ctx.run(42 as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => new ContextVar(5 as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => new ContextVar('x').reset({} as never))).toBeInstanceOf(TypeError);
  });
});

describe('Tasks and callbacks', () => {
  const core = useCoreLoop();
  const requestId = new ContextVar<string>('requestId', { default: '-' });

  test('a Task runs in a copy of its creator Context, kept across its awaits', () => {
    const got = core.run(function* () {
      requestId.set('parent');
      const child = createTask(
        (function* () {
          const seen = [requestId.get()];
          requestId.set('child');
          yield* sleep(0);
          seen.push(requestId.get());
          yield* sleep(0.001);
          seen.push(requestId.get());
          return seen;
        })(),
      );
      requestId.set('parent again');
      const seen = yield* child;
      return [...seen, requestId.get()];
    });
    // The child copied 'parent' at creation; its set stays its own.
    expect(got).toEqual(['parent', 'child', 'child', 'parent again']);
    expect(requestId.get()).toBe('-');
  });

  test('createTask(coro, { context }) runs in that Context: its changes are seen there', () => {
    const ctx = new Context();
    core.run(function* () {
      yield* createTask(
        (function* () {
          requestId.set('in ctx');
          yield* sleep(0);
        })(),
        { context: ctx },
      );
      expect(requestId.get()).toBe('-');
    });
    expect(ctx.get(requestId)).toBe('in ctx');
  });

  test('task.getContext(): the Context it runs in', () => {
    core.run(function* () {
      const ctx = new Context();
      const t = createTask(sleep(0), { context: ctx });
      expect(t.getContext()).toBe(ctx);
      const u = createTask(
        (function* () {
          requestId.set('u');
          yield* sleep(0);
        })(),
      );
      yield* t;
      yield* u;
      expect(u.getContext().get(requestId)).toBe('u');
    });
  });

  test('callSoon / callLater / callAt: a copy of the scheduler Context, or { context } before the callback', () => {
    const ctx = new Context();
    const seen: string[] = [];
    core.run(function* () {
      const loop = getRunningLoop();
      requestId.set('scheduler');
      loop.callSoon(() => {
        seen.push(`soon:${requestId.get()}`);
        requestId.set('changed in a copy');
      });
      loop.callSoon({ context: ctx }, (tag: string) => {
        seen.push(`${tag}:${requestId.get()}`);
        requestId.set('soon ctx');
      }, 'soon-ctx');
      loop.callLater(0.001, { context: ctx }, () => seen.push(`later:${requestId.get()}`));
      loop.callAt(loop.time() + 0.002, () => seen.push(`at:${requestId.get()}`));
      requestId.set('after scheduling');
      yield* sleep(0.01);
    });
    expect(seen).toEqual(['soon:scheduler', 'soon-ctx:-', 'later:soon ctx', 'at:scheduler']);
    expect(ctx.get(requestId)).toBe('soon ctx');
  });

  test('callSoon with a non-Context context, or options and no callback: TypeError', () => {
    const loop = core.loop;
    expect(thrown(() => loop.callSoon({ context: 5 as never }, () => {}))).toBeInstanceOf(TypeError);
    expect(thrown(() => loop.callSoon({} as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => loop.callLater(1, { context: {} as never }, () => {}))).toBeInstanceOf(TypeError);
    expect(thrown(() => createTask(sleep(0), { context: {} as never }))).toBeInstanceOf(Error);
    expect(thrown(() => loop.createTask(sleep(0), { context: {} as never }))).toBeInstanceOf(TypeError);
  });

  test('TaskGroup.createTask(coro, { context })', () => {
    const ctx = new Context();
    core.run(
      TaskGroup.run(function* (tg) {
        tg.createTask(
          (function* () {
            requestId.set('group');
            yield* sleep(0);
          })(),
          { context: ctx },
        );
      }),
    );
    expect(ctx.get(requestId)).toBe('group');
  });

  test('eager Tasks started inside a Task step keep their own copy (the step setting nothing)', () => {
    core.loop.setTaskFactory(eagerTaskFactory);
    const got = core.run(function* () {
      const inner = createTask(
        (function* () {
          requestId.set('inner');
          yield* sleep(0);
          return requestId.get();
        })(),
      );
      const outerAfter = requestId.get();
      requestId.set('outer');
      const innerResult = yield* inner;
      return [outerAfter, innerResult, requestId.get()];
    });
    expect(got).toEqual(['-', 'inner', 'outer']);
  });
});

test('Runner.run(main, { context })', () => {
  const v = new ContextVar<number>('v');
  const ctx = new Context();
  const runner = new Runner();
  try {
    runner.run(
      (function* () {
        v.set(42);
        yield* sleep(0);
      })(),
      { context: ctx },
    );
  } finally {
    runner.close();
  }
  expect(ctx.get(v)).toBe(42);
});

describe.each(backends)('a value per connection on %s', (backend) => {
  const t = useLoop(backend);
  const connId = new ContextVar<number>('connId');

  test('each handler Task sees only its own connection id across its reads and writes', () => {
    const got = t.run(
      (function* (): Co<string[]> {
        let next = 0;
        const server = yield* startServer(function* (reader: StreamReader, writer: StreamWriter) {
          connId.set(++next);
          for (;;) {
            const line = yield* reader.readLine();
            if (line.length === 0) break;
            yield* sleep(0.001); // the other connections run meanwhile
            writer.write(`${connId.get()}:${String(line).trim()}\n`);
            yield* writer.drain();
          }
          writer.close();
        }, '127.0.0.1', 0);
        const { port } = server.addresses()[0] as { port: number };
        const client = function* (name: string): Co<string> {
          const [r, w] = yield* openConnection('127.0.0.1', port);
          const out: string[] = [];
          for (let i = 0; i < 3; i++) {
            w.write(`${name}${i}\n`);
            out.push(String(yield* r.readLine()).trim());
          }
          w.close();
          yield* w.waitClosed();
          return out.join(',');
        };
        const tasks = ['a', 'b', 'c'].map((n) => createTask(client(n)));
        const out: string[] = [];
        for (const task of tasks) out.push(yield* task);
        server.close();
        yield* server.waitClosed();
        return out;
      })(),
    );
    // Every reply of one client carries one id, and the three ids differ.
    const ids = got.map((line) => {
      const set = new Set(line.split(',').map((x) => x.split(':')[0]));
      expect(set.size).toBe(1);
      return [...set][0];
    });
    expect(new Set(ids).size).toBe(3);
  });
});
