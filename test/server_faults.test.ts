// Servers facing faulty handlers and hostile clients, over real sockets on
// every backend: a stream handler that throws or is cancelled must close its
// connection (the client reads EOF, the server keeps no fd); a graceful
// shutdown must end even when a client never reads.
import { describe, expect, it } from 'vitest';
import { currentTask, gather, openConnection, ProtocolBase, sleep, Socket, startServer, startUnixServer, Task } from '../src/index.js';
import type { ClientConnected, EventLoop, ExceptionContext, Server, StreamReader, StreamWriter, Transport } from '../src/index.js';
import { native } from '../src/native.js';
import { openUnixConnection } from '../src/index.js';
import { macrotask } from './async_helpers.js';
import { backends, runGuarded, tempDir, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

const dir = tempDir();

function portOf(server: Server): number {
  return (server.sockets[0]!.getsockname() as { port: number }).port;
}

/** Record the exception handler's reports (and restore the default after). */
function recordErrors(loop: EventLoop): { contexts: ExceptionContext[]; restore(): void } {
  const contexts: ExceptionContext[] = [];
  loop.setExceptionHandler((_l, ctx) => contexts.push(ctx));
  return { contexts, restore: () => loop.setExceptionHandler(null) };
}

const CLIENTS = 50;

/** The handlers that must end their connection: each chokes on the line it reads, or never runs. */
const failing: Array<[string, ClientConnected, boolean]> = [
  [
    'a generator handler that throws',
    function* (reader: StreamReader): Co<void> {
      const line = yield* reader.readLine();
      throw new Error(`cannot parse ${JSON.stringify(line.toString())}`);
    },
    true,
  ],
  [
    'an async handler that throws',
    async function (reader: StreamReader): Promise<void> {
      const line = await reader.readLine();
      throw new Error(`cannot parse ${JSON.stringify(line.toString())}`);
    },
    true,
  ],
  [
    'a plain handler that throws',
    function (): void {
      throw new Error('cannot serve');
    },
    true,
  ],
  [
    'a generator handler cancelled before its first step',
    function* (reader: StreamReader): Co<void> {
      yield* reader.readLine();
      throw new Error('never gets here');
    },
    false,
  ],
];

describe.each(backends)('stream handlers that fail, on %s', (backend) => {
  const t = useLoop(backend);

  for (const [what, handler, reported] of failing) {
    for (const family of ['tcp', 'unix'] as const) {
      it(`${what} (${family}): ${CLIENTS} clients each get EOF, the server keeps no fd${reported ? ', each failure is reported' : ''}`, async () => {
        const loop = t.loop;
        const errors = recordErrors(loop);
        const path = `${dir}/${backend}-${what.replace(/\W+/g, '-')}.sock`;
        function* client(server: Server, i: number): Co<string> {
          const [reader, writer] =
            family === 'tcp' ? yield* openConnection('127.0.0.1', portOf(server)) : yield* openUnixConnection(path);
          writer.write(`garbage ${i}\n`);
          let end: string;
          try {
            end = (yield* reader.read()).toString(); // '' at EOF: the server closed the connection
          } catch (err) {
            // A server that closes without reading what was sent makes the kernel reset.
            if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') throw err;
            end = '';
          }
          writer.close();
          try {
            yield* writer.waitClosed();
          } catch {
            // The reset again.
          }
          return end;
        }
        function* main(): Co<string[]> {
          const fdsBefore = native.countOpenFds();
          const server = family === 'tcp' ? yield* startServer(handler, '127.0.0.1', 0) : yield* startUnixServer(handler, path);
          if (!reported) {
            // The handler's task is cancelled as soon as it is made, before its first step.
            loop.setTaskFactory((l, coro, options) => {
              const task = new Task(coro, { loop: l, name: options.name });
              // Made from a loop callback (the transport's start), not by a task: a handler's.
              if (currentTask(l) === null) task.cancel();
              return task;
            });
          }
          const clients: Array<Co<string>> = [];
          for (let i = 0; i < CLIENTS; i++) clients.push(client(server, i));
          const replies = (yield* gather(...clients)) as string[];
          server.close();
          yield* server.waitClosed(); // no connection is left open
          yield* sleep(0);
          expect(native.countOpenFds()).toBe(fdsBefore);
          return replies;
        }
        try {
          const replies = await macrotask(() => runGuarded(loop, main(), 15));
          expect(replies).toEqual(Array(CLIENTS).fill(''));
        } finally {
          errors.restore();
          loop.setTaskFactory(null);
        }
        if (reported) {
          expect(errors.contexts.map((c) => c.message)).toEqual(Array(CLIENTS).fill('Unhandled exception in client_connected_cb'));
          for (const ctx of errors.contexts) {
            expect(ctx.exception).toBeInstanceOf(Error);
            expect(ctx.transport).toBeDefined();
          }
        } else {
          expect(errors.contexts).toEqual([]);
        }
      });
    }
  }

  it('a handler ended by the client resetting is not reported (outside debug mode); a handler that returns keeps its connection', async () => {
    const loop = t.loop;
    const errors = recordErrors(loop);
    let kept: StreamWriter | null = null;
    function* main(): Co<string> {
      const server = yield* startServer(
        function* (reader: StreamReader, writer: StreamWriter): Co<void> {
          const line = (yield* reader.readLine()).toString();
          if (line === 'keep\n') {
            kept = writer; // returns, the writer is handed on
            return;
          }
          writer.write('unread'); // left unread by the client, whose close then sends RST
          yield* reader.readExactly(100); // the client resets: ECONNRESET
        },
        '127.0.0.1',
        0,
      );
      const [, w1] = yield* openConnection('127.0.0.1', portOf(server));
      w1.transport.pauseReading();
      w1.write('reset\n');
      yield* sleep(0.02);
      w1.transport.abort();
      const [r2, w2] = yield* openConnection('127.0.0.1', portOf(server));
      w2.write('keep\n');
      while (kept === null) yield* sleep(0.002);
      yield* sleep(0.02);
      kept!.write('still here');
      const got = (yield* r2.readExactly(10)).toString();
      kept!.close();
      expect((yield* r2.read()).length).toBe(0);
      w2.close();
      server.close();
      yield* server.waitClosed();
      return got;
    }
    try {
      expect(await macrotask(() => runGuarded(loop, main(), 15))).toBe('still here');
    } finally {
      errors.restore();
    }
    expect(errors.contexts.map((c) => `${c.message}: ${String(c.exception)}`)).toEqual([]);
  });
});

/** A protocol that sends `size` bytes as soon as it is connected. */
class Sender extends ProtocolBase {
  transport: Transport | null = null;
  lost: Error | null | undefined = undefined;
  constructor(private readonly size: number) {
    super();
  }
  override connectionMade(t: Transport): void {
    this.transport = t;
    t.write(Buffer.alloc(this.size, 120));
  }
  override connectionLost(exc: Error | null): void {
    this.lost = exc;
  }
}

describe.each(backends)('Server.shutdown on %s', (backend) => {
  const t = useLoop(backend);
  const SIZE = 16 * 1024 * 1024;

  it('a client that never reads: shutdown(timeout) aborts its connection at the deadline, and the server keeps no fd', () => {
    const loop = t.loop;
    const senders: Sender[] = [];
    function* main(): Co<number> {
      const fdsBefore = native.countOpenFds();
      const server = yield* loop.createServer(() => {
        const p = new Sender(SIZE);
        senders.push(p);
        return p;
      }, '127.0.0.1', 0);
      const client = new Socket();
      yield* loop.sockConnect(client, ['127.0.0.1', portOf(server)]);
      while (senders.length === 0 || (senders[0]!.transport?.getWriteBufferSize() ?? 0) === 0) yield* sleep(0.002);
      const t0 = loop.time();
      yield* server.shutdown(0.3); // the client never reads: only the deadline ends this
      const elapsed = loop.time() - t0;
      expect(senders[0]!.lost).toBe(null); // aborted: connectionLost(null), the unsent data dropped
      client.close();
      yield* sleep(0);
      expect(native.countOpenFds()).toBe(fdsBefore);
      return elapsed;
    }
    const elapsed = runGuarded(loop, main(), 20);
    expect(elapsed).toBeGreaterThanOrEqual(0.29);
    expect(elapsed).toBeLessThan(5);
  });

  it('a client that reads gets every byte and EOF before the deadline: nothing is aborted', () => {
    const loop = t.loop;
    function* main(): Co<[number, number]> {
      const server = yield* loop.createServer(() => new Sender(SIZE), '127.0.0.1', 0);
      const [reader, writer] = yield* openConnection('127.0.0.1', portOf(server));
      yield* reader.readExactly(1); // connected and sending
      const t0 = loop.time();
      const shutdown = loop.createTask(server.shutdown(30));
      let got = 1;
      for (;;) {
        const chunk = yield* reader.read(1 << 20);
        if (chunk.length === 0) break; // EOF: the server closed after the last byte
        got += chunk.length;
      }
      yield* shutdown;
      writer.close();
      yield* writer.waitClosed();
      return [got, loop.time() - t0];
    }
    const [got, elapsed] = runGuarded(loop, main(), 40);
    expect(got).toBe(SIZE);
    expect(elapsed).toBeLessThan(30);
  });

  it('refuses a timeout that is not a number of seconds >= 0', () => {
    const loop = t.loop;
    function* main(): Co<string[]> {
      const server = yield* loop.createServer(() => new Sender(1), '127.0.0.1', 0);
      const errors: string[] = [];
      for (const bad of ['5', -1, NaN]) {
        try {
          yield* server.shutdown(bad as number);
        } catch (err) {
          errors.push((err as Error).name);
        }
      }
      yield* server.shutdown();
      return errors;
    }
    expect(runGuarded(loop, main(), 20)).toEqual(['TypeError', 'RangeError', 'RangeError']);
  });
});
