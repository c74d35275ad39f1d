// Generator style: `yield*` evaluates to each coroutine's result type, the
// same APIs as await_style.ts, under --strict. (Type-checked only.)
import { Lock, PIPE, Queue, createSubprocessExec, gather, openConnection, run, sleep, startServer, timeout } from '../../src/index.js';
import type { Coroutine, Future, InetAddress, Server, StreamReader, StreamWriter } from '../../src/index.js';
import { expectType } from './expect.js';

function* handler(reader: StreamReader, writer: StreamWriter): Coroutine<void> {
  let data: Buffer;
  while ((data = yield* reader.read(65536)).length > 0) {
    writer.write(data);
    yield* writer.drain();
  }
  writer.close();
}

function* fetchValue(name: string, seconds: number): Coroutine<string> {
  yield* sleep(seconds);
  return `${name} after ${seconds} s`;
}

export function main(): void {
  run(function* () {
    const server = yield* startServer(handler, '127.0.0.1', 0);
    expectType<Server<InetAddress>>()(server);
    const port = server.addresses()[0]!.port;
    const [reader, writer] = yield* openConnection('127.0.0.1', port);
    writer.write('hi');
    yield* writer.drain();
    expectType<Buffer>()(yield* reader.read(100));
    expectType<Buffer>()(yield* reader.readLine());
    const both = yield* gather(fetchValue('a', 0.01), sleep(0.01, 2));
    expectType<[string, number]>()(both);
    const lock = new Lock();
    expectType<number>()(
      yield* lock.hold(function* () {
        return 1;
      }),
    );
    const q = new Queue<string>();
    yield* q.put('x');
    expectType<string>()(yield* q.get());
    expectType<number>()(
      yield* timeout(1, function* () {
        return 3;
      }),
    );
    const fut: Future<number> = server.getLoop().createFuture();
    expectType<number>()(yield* fut);
    const proc = yield* createSubprocessExec('cat', [], { stdin: PIPE, stdout: PIPE });
    proc.stdin.write('x');
    expectType<Buffer>()(yield* proc.stdout.read());
    // @ts-expect-error yield* of a read is a Buffer, not a number
    const n: number = yield* reader.read(1);
    void n;
    server.close();
    yield* server.waitClosed();
  });
}
