// Async/await style: every coio coroutine is awaitable and awaits to its
// result type, with no cast, under --strict. (Type-checked only.)
import {
  Event,
  Lock,
  PIPE,
  Queue,
  Semaphore,
  STDOUT,
  Task,
  coroutine,
  createSubprocessExec,
  createSubprocessShell,
  getRunningLoop,
  openConnection,
  openUnixConnection,
  runGuest,
  sleep,
  startServer,
  startUnixServer,
  timeout,
  toThread,
  waitFor,
} from '../../src/index.js';
import type { Awaitable, ExceptionContext, Future, InetAddress, Process, Server, StreamReader, StreamWriter, TaskInput } from '../../src/index.js';
import { expectType } from './expect.js';

export async function client(): Promise<void> {
  const [reader, writer] = await openConnection('127.0.0.1', 8888);
  expectType<StreamReader>()(reader);
  expectType<StreamWriter>()(writer);
  writer.write('ping\n');
  await writer.drain();
  expectType<Buffer>()(await reader.read(100));
  expectType<Buffer>()(await reader.read());
  expectType<Buffer>()(await reader.readLine());
  expectType<Buffer>()(await reader.readExactly(4));
  expectType<Buffer>()(await reader.readUntil('\n'));
  expectType<number>()(await reader.readInto(new Uint8Array(16)));
  writer.close();
  await writer.waitClosed();
  const unix = await openUnixConnection('/tmp/coio.sock');
  expectType<[StreamReader, StreamWriter]>()(unix);
  expectType<undefined>()(await sleep(0.01));
  expectType<string>()(await sleep(0.01, 'x'));
}

export async function server(): Promise<void> {
  // An async handler is a ClientConnected.
  const srv = await startServer(
    async (reader, writer) => {
      const line = await reader.readLine();
      writer.write(line);
      await writer.drain();
      writer.close();
    },
    '127.0.0.1',
    0,
  );
  expectType<Server<InetAddress>>()(srv);
  const port: number = srv.addresses()[0]!.port;
  expectType<number>()(port);
  const unixSrv = await startUnixServer(async () => {}, '/tmp/coio.sock');
  expectType<string>()(unixSrv.addresses()[0]!.path);
  srv.close();
  await srv.waitClosed();
  await srv.serveForever();
}

export async function primitives(): Promise<void> {
  const lock = new Lock();
  expectType<true>()(await lock.acquire());
  lock.release();
  expectType<number>()(
    await lock.hold(function* () {
      return 1;
    }),
  );
  const ev = new Event();
  expectType<true>()(await ev.wait());
  const sem = new Semaphore(2);
  expectType<true>()(await sem.acquire());
  const q = new Queue<number>();
  await q.put(1);
  expectType<number>()(await q.get());
  await q.join();
  const inferred: Queue<string> = new Queue();
  expectType<string>()(await inferred.get());
  const stop = getRunningLoop().createFuture(); // as the README's first server: settled with no value
  stop.setResult();
  await stop;
  const done = getRunningLoop().createFuture<void>();
  done.setResult();
  // @ts-expect-error a Future<number> needs its number
  getRunningLoop().createFuture<number>().setResult();
  const fut: Future<number> = getRunningLoop().createFuture();
  expectType<number>()(await fut);
  expectType<number>()(await waitFor(fut, 1));
  expectType<number>()(await timeout(1, async () => 2));
  expectType<number>()(await toThread((a: number) => a + 1, 1));
}

export async function processes(): Promise<void> {
  const proc = await createSubprocessExec('cat', [], { stdin: PIPE, stdout: PIPE });
  expectType<StreamReader>()(proc.stdout);
  expectType<null>()(proc.stderr);
  proc.stdin.write('hi');
  expectType<Buffer>()(await proc.stdout.read());
  expectType<number>()(await proc.wait());
  const both = await createSubprocessShell('echo hi 1>&2', { stdout: PIPE, stderr: STDOUT });
  expectType<null>()(both.stderr);
  const [out, err] = await both.communicate();
  expectType<Buffer | null>()(out);
  expectType<Buffer | null>()(err);
  const inherited = await createSubprocessExec('true');
  expectType<null>()(inherited.stdout);
  const opts = { stdout: PIPE as number };
  const unknownPipe: Process = await createSubprocessExec('true', [], opts);
  // @ts-expect-error possibly null: the options' type does not say PIPE
  await unknownPipe.stdout.read();
}

// coroutine(): a generator function whose coroutines are typed awaitable too.
const fetchLen = coroutine(function* (host: string, port: number) {
  const [reader] = yield* openConnection(host, port);
  const data = yield* reader.read();
  return data.length;
});

export async function userCoroutines(): Promise<void> {
  expectType<number>()(await fetchLen('127.0.0.1', 80));
  // @ts-expect-error the argument types are kept
  await fetchLen(80, '127.0.0.1');
  await runGuest(async () => {
    expectType<number>()(await fetchLen('127.0.0.1', 80));
  });
}

export async function misuses(): Promise<void> {
  const [reader] = await openConnection('127.0.0.1', 8888);
  // @ts-expect-error a read is a Buffer, not a string
  const s: string = await reader.read(100);
  // @ts-expect-error the read awaited is not a Generator any more
  (await reader.read(100)).next();
  const srv = await startServer(async () => {}, '127.0.0.1', 0);
  // @ts-expect-error a TCP server's addresses have no path
  void srv.addresses()[0]!.path;
  // @ts-expect-error a handler takes (reader, writer)
  await startServer(async (a: number) => a, '127.0.0.1', 0);
  // @ts-expect-error proc.stdout without PIPE is null
  await (await createSubprocessExec('true')).stdout.read();
  void s;
}

// The loop's contract (AbstractEventLoop, in events.ts, below futures.ts and
// tasks.ts) names the classes themselves, exactly.
export function contract(): void {
  const loop = getRunningLoop();
  expectType<Future<number>>()(loop.createFuture<number>());
  expectType<Future<unknown>>()(loop.createFuture());
  expectType<Task<number>>()(loop.createTask(async () => 1));
  expectType<Task<string>>()(loop.createTask(sleep(1, 'x')));
  expectType<Future<number>>()(loop.runInExecutor(null, (a: number) => a, 1));
  expectType<Future<number> | Generator<unknown, number, unknown>>()(null as unknown as Awaitable<number>);
  expectType<Future<number> | Generator<unknown, number, unknown> | PromiseLike<number> | (() => Future<number> | Generator<unknown, number, unknown> | PromiseLike<number>)>()(null as unknown as TaskInput<number>);
  loop.setExceptionHandler((l, context: ExceptionContext) => {
    expectType<Future<unknown> | string | undefined>()(context.future);
    expectType<Task<unknown> | undefined>()(context.task);
    void l;
  });
  loop.setTaskFactory((l, coro, options) => new Task(coro, { loop: l, name: options.name }));
  // @ts-expect-error a task factory returns a Task, not any Future
  loop.setTaskFactory((l) => l.createFuture());
}
