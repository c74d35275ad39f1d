// Guest mode: coio's loop on Node's libuv loop. A coio echo server
// answers Node clients while Node's timers tick and fs/promises reads;
// Node callbacks wake coio tasks; errors reject the Promise; the guest ends
// cleanly (a child process exits on its own). Every backend: epoll is
// watched through its fd, poll and select are polled every pollInterval ms.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer as createNodeServer, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  CancelledError,
  createTask,
  ensureFuture,
  Event,
  Future,
  getRunningLoop,
  openConnection,
  run,
  runGuest,
  RuntimeError,
  sleep,
  socketpair,
  startServer,
} from '../src/index.js';
import type { Coroutine, EventLoop, Server, StreamReader, StreamWriter } from '../src/index.js';
import { expectNothingLeft, runIn } from './async_helpers.js';
import { backends, tempDir } from './helpers.js';
import { buildFixtures } from './transpile.js';

const dir = tempDir();

function* echo(reader: StreamReader, writer: StreamWriter): Coroutine<void> {
  try {
    for (;;) {
      const data = yield* reader.read(64 * 1024);
      if (data.length === 0) break;
      writer.write(data);
      yield* writer.drain();
    }
  } finally {
    writer.close();
  }
}

function portOf(server: Server): number {
  return (server.sockets[0]!.getsockname() as { port: number }).port;
}

/** A Node (libuv) TCP client: each message, then its echo, in turn. */
function nodeEchoClient(port: number, messages: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const got: string[] = [];
    let i = 0;
    let buffered = '';
    sock.setEncoding('utf8');
    sock.on('error', reject);
    sock.on('connect', () => sock.write(messages[0]!));
    sock.on('data', (d: string) => {
      buffered += d;
      if (buffered.length < messages[i]!.length) return;
      got.push(buffered);
      buffered = '';
      if (++i < messages.length) sock.write(messages[i]!);
      else sock.end();
    });
    sock.on('close', () => resolve(got));
  });
}

describe.each(backends)('guest mode on %s', (backend) => {
  const go = <T>(main: Parameters<typeof runGuest<T>>[0]): Promise<T> => runIn<T>('guest', backend, main);

  test('a coio echo server answers a Node client while setInterval ticks and fs/promises reads a file', async () => {
    const file = join(dir, `data-${backend}.txt`);
    writeFileSync(file, 'x'.repeat(100_000));
    const got = await go(async () => {
      const server = await ensureFuture(startServer(echo, '127.0.0.1', 0));
      let ticks = 0;
      const interval = setInterval(() => ticks++, 1);
      try {
        const messages = Array.from({ length: 20 }, (_, i) => `message ${i} `.repeat(i + 1));
        const [echoed, text] = await Promise.all([nodeEchoClient(portOf(server), messages), readFile(file, 'utf8')]);
        const ticksDuring = ticks;
        // Node's timers keep running while coio waits on its own timer.
        await sleep(0.03);
        return { same: echoed.join('|') === messages.join('|'), length: text.length, ticksDuring, ticksAfter: ticks - ticksDuring };
      } finally {
        clearInterval(interval);
        server.close();
        await server.waitClosed();
        expectNothingLeft();
      }
    });
    expect(got.same).toBe(true);
    expect(got.length).toBe(100_000);
    expect(got.ticksAfter).toBeGreaterThan(2);
  });

  test('a coio client talks to a Node server in the same thread', async () => {
    const server = createNodeServer((s) => s.pipe(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const got = await go(function* () {
        const [reader, writer] = yield* openConnection('127.0.0.1', port);
        const lines: string[] = [];
        for (const line of ['one\n', 'two\n']) {
          writer.write(line);
          lines.push((yield* reader.readLine()).toString());
        }
        writer.close();
        yield* writer.waitClosed();
        return lines;
      });
      expect(got).toEqual(['one\n', 'two\n']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('Node callbacks wake coio: a Future resolved from setTimeout / setImmediate, a task made from a Node callback', async () => {
    const got = await go(function* () {
      const loop = getRunningLoop();
      const fut = loop.createFuture<string>();
      setTimeout(() => fut.setResult('from setTimeout'), 5);
      const a = yield* fut;
      const fut2 = new Future<string>();
      setImmediate(() => fut2.setResult('from setImmediate'));
      const b = yield* fut2;
      const made = new Future<string>();
      setTimeout(() => {
        // Outside any coio callback: the guest is this thread's running loop.
        createTask(
          (function* () {
            yield* sleep(0.001);
            made.setResult('task from a Node callback');
          })(),
        );
      }, 1);
      const c = yield* made;
      return [a, b, c];
    });
    expect(got).toEqual(['from setTimeout', 'from setImmediate', 'task from a Node callback']);
  });

  test('an exception in a guest task rejects the returned Promise', async () => {
    await expect(
      go(function* () {
        yield* sleep(0.001);
        throw new RangeError('generator main failed');
      }),
    ).rejects.toThrow('generator main failed');
    await expect(
      go(async () => {
        const child = createTask(async () => {
          await sleep(0.001);
          throw new TypeError('child failed');
        });
        await child;
      }),
    ).rejects.toThrow(TypeError);
    // A cancelled main: a CancelledError.
    await expect(
      go(function* () {
        const self = (getRunningLoop() as EventLoop)._currentTask!;
        getRunningLoop().callSoon(() => self.cancel());
        yield* sleep(1);
      }),
    ).rejects.toBeInstanceOf(CancelledError);
  });

  test('tasks main leaves are cancelled and awaited before the Promise settles', async () => {
    const log: string[] = [];
    const r = await go(function* () {
      createTask(
        (function* () {
          try {
            yield* new Event().wait();
          } finally {
            log.push('cleanup ran');
            yield* sleep(0.001); // may still await
            log.push('cleanup done');
          }
        })(),
      );
      yield* sleep(0.001);
      return 'main';
    });
    expect(r).toBe('main');
    expect(log).toEqual(['cleanup ran', 'cleanup done']);
  });

  test('loop.stop() ends the guest: a RuntimeError; the sockets it watched are released', async () => {
    const [a, b] = socketpair();
    try {
      await expect(
        go(function* () {
          const loop = getRunningLoop();
          loop.addReader(b, () => undefined);
          loop.callLater(0.005, () => loop.stop());
          yield* sleep(1);
        }),
      ).rejects.toThrow(RuntimeError);
    } finally {
      a.close();
      b.close();
    }
  });

  test('one running loop per thread: no runGuest or run() inside a guest', async () => {
    const got = await go(async () => {
      const inner = await runGuest(async () => 1).then(
        () => 'ran',
        (e: unknown) => (e as Error).name,
      );
      let blocking = 'ran';
      try {
        run(function* () {
          yield* sleep(0);
        });
      } catch (e) {
        blocking = (e as Error).name;
      }
      return [inner, blocking];
    });
    expect(got).toEqual(['RuntimeError', 'RuntimeError']);
  });

  test('a wakeup round trip (socketpair ping-pong between two coio tasks), guest and blocking', async () => {
    const rounds = 2000;
    const pingPong = async (): Promise<number> => {
      const loop = getRunningLoop();
      const [a, b] = socketpair();
      try {
        const peer = createTask(function* () {
          const buf = Buffer.alloc(1);
          for (let i = 0; i < rounds; i++) {
            yield* loop.sockRecvInto(b, buf);
            yield* loop.sockSendall(b, buf);
          }
        });
        const buf = Buffer.alloc(1);
        const t0 = performance.now();
        await createTask(function* () {
          for (let i = 0; i < rounds; i++) {
            yield* loop.sockSendall(a, buf);
            yield* loop.sockRecvInto(a, buf);
          }
        });
        const us = ((performance.now() - t0) * 1000) / rounds;
        await peer;
        return us;
      } finally {
        a.close();
        b.close();
      }
    };
    const guest = await runIn('guest', backend, pingPong);
    const blocking = await runIn('blocking', backend, pingPong);
    console.log(`[${backend}] socketpair round trip: guest ${guest.toFixed(1)} us, blocking ${blocking.toFixed(1)} us`);
    expect(guest).toBeGreaterThan(0);
    expect(blocking).toBeGreaterThan(0);
  });
});

describe('runGuest arguments', () => {
  test('not awaitable, a bad pollInterval: rejected, nothing left running', async () => {
    await expect(runGuest(42 as never)).rejects.toBeInstanceOf(TypeError);
    await expect(runGuest(async () => 1, { pollInterval: 0 })).rejects.toBeInstanceOf(RangeError);
    expect(await runGuest(async () => 'still fine')).toBe('still fine');
  });
});

describe('guest mode ends cleanly (child processes, ES modules)', () => {
  const fixture = buildFixtures(['test/fixtures/guest_main.ts', 'test/fixtures/guest_worker.ts', 'test/fixtures/guest_worker_parent.ts']);

  function runChild(args: string[], program = 'test/fixtures/guest_main.ts'): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [fixture(program), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      // A child kept alive by a forgotten handle would hang: kill it and fail.
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, out, err });
      });
    });
  }

  test.each(backends)('%s: a server, a Node client, timers and fs; then the process exits by itself', async (backend) => {
    const r = await runChild(['guest', backend]);
    expect(r.err).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ echoed: ['a', 'b', 'c'], ticks: true, read: true });
  });

  test('an error rejects the Promise, and the process still exits by itself', async () => {
    const r = await runChild(['error', backends[0]!]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('rejected boom\n');
  });

  test('tasks and a server left by main are cleaned up; the process exits by itself', async () => {
    const r = await runChild(['leftovers', backends[0]!]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe('main done, cleaned up: true\n');
  });

  test('worker threads: a guest on each worker\'s own loop; one terminated while its guest runs (the addon is then unloaded)', async () => {
    const r = await runChild([], 'test/fixtures/guest_worker_parent.ts');
    expect(r.err).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.out).toBe('finish: echo in a worker\nfinish: finished\nfinish: exit 0\nwait: echo in a worker\nwait: exit 1\n');
  });

  test('ES module top level: run(asyncMain) is refused at once with the message; from a macrotask it runs', async () => {
    const r = await runChild(['esm-run', backends[0]!]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('refused: true true\nran from a macrotask\n');
  });
});
