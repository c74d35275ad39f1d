// Streams (StreamReader / StreamWriter) over real sockets, on every backend.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  createTask,
  DEFAULT_LIMIT,
  gather,
  IncompleteReadError,
  LimitOverrunError,
  openConnection,
  openUnixConnection,
  sleep,
  startServer,
  startUnixServer,
  StreamReader,
  StreamReaderProtocol,
  waitFor,
  TimeoutError,
} from '../src/index.js';
import type { Server, StreamWriter } from '../src/index.js';
import { macrotask } from './async_helpers.js';
import { backends, loopbackHosts, tempDir, useLoop, streamEcho } from './helpers.js';
import type { Co } from './helpers.js';

const dir = tempDir();

function portOf(server: Server): number {
  return (server.sockets[0]!.getsockname() as { port: number }).port;
}


/** The echo with readInto: one buffer per connection, replaced only while a write still holds it. */
function* echoInto(reader: StreamReader, writer: StreamWriter): Co<void> {
  let buf = Buffer.allocUnsafe(64 * 1024);
  try {
    for (;;) {
      const n = yield* reader.readInto(buf);
      if (n === 0) break;
      writer.write(buf.subarray(0, n));
      yield* writer.drain();
      if (writer.transport.getWriteBufferSize() > 0) buf = Buffer.allocUnsafe(buf.length);
    }
  } finally {
    writer.close();
  }
}

function* closeServer(server: Server): Co<void> {
  server.close();
  yield* server.waitClosed();
}

describe('StreamReader without a transport', () => {
  const t = useLoop(backends[0]!);

  it('readLine, readUntil, readExactly and read over fed chunks', () => {
    const loop = t.loop;
    function* main(): Co<unknown[]> {
      const r = new StreamReader(loop);
      r.feedData(Buffer.from('li'));
      r.feedData(Buffer.from('ne1\nline2\r\n'));
      r.feedData(Buffer.from('abcdefEND'));
      r.feedData(Buffer.from('tail'));
      r.feedEof();
      const out: unknown[] = [];
      out.push((yield* r.readLine()).toString());
      out.push((yield* r.readUntil('\r\n')).toString());
      out.push((yield* r.readExactly(3)).toString());
      out.push((yield* r.readUntil(['X', 'END'])).toString());
      out.push((yield* r.read()).toString());
      out.push(r.atEof());
      out.push((yield* r.readLine()).length);
      return out;
    }
    expect(t.run(main())).toEqual(['line1\n', 'line2\r\n', 'abc', 'defEND', 'tail', true, 0]);
  });

  it('StreamReaderProtocol.getBuffer(n) with an exact size: the reader keeps that very Buffer (no second copy); with -1, the shared scratch buffer, copied', () => {
    const loop = t.loop;
    function* main(): Co<unknown[]> {
      const r = new StreamReader(loop);
      const p = new StreamReaderProtocol(loop, r);
      const exact = p.getBuffer(5) as Buffer;
      expect(exact.length).toBe(5);
      exact.write('hello');
      p.bufferUpdated(5);
      const scratch = p.getBuffer(-1) as Buffer;
      expect(scratch.length).toBeGreaterThan(5);
      scratch.write(' world');
      p.bufferUpdated(6); // the exact buffer of before must not be fed again
      scratch.write('XXXXXX'); // the reader copied what came through the scratch buffer
      const part = p.getBuffer(8) as Buffer;
      part.write('!!');
      p.bufferUpdated(2); // fewer bytes than asked: a view of them
      r.feedEof();
      const first = yield* r.readExactly(5);
      return [first === exact, (yield* r.read()).toString()];
    }
    expect(t.run(main())).toEqual([true, ' world!!']);
  });

  it('a separator split across chunks is found', () => {
    const loop = t.loop;
    function* main(): Co<string> {
      const r = new StreamReader(loop);
      const task = createTask(r.readUntil('<<>>'));
      for (const piece of ['ab<', '<', '>', '>cd']) {
        yield* sleep(0);
        r.feedData(Buffer.from(piece));
      }
      return (yield* task).toString();
    }
    expect(t.run(main())).toBe('ab<<>>');
  });

  it('readExactly at EOF raises IncompleteReadError with the partial bytes', () => {
    const loop = t.loop;
    function* main(): Co<unknown> {
      const r = new StreamReader(loop);
      r.feedData(Buffer.from('abc'));
      r.feedEof();
      try {
        yield* r.readExactly(5);
      } catch (err) {
        return err;
      }
      return null;
    }
    const err = t.run(main()) as IncompleteReadError;
    expect(err).toBeInstanceOf(IncompleteReadError);
    expect(err.partial.toString()).toBe('abc');
    expect(err.expected).toBe(5);
  });

  it('the default limit is DEFAULT_LIMIT (64 KiB), exported from the package root', () => {
    expect(DEFAULT_LIMIT).toBe(64 * 1024);
    expect(new StreamReader(t.loop).limit).toBe(DEFAULT_LIMIT);
  });

  it('readUntil past the limit raises LimitOverrunError and keeps the data', () => {
    const loop = t.loop;
    function* main(): Co<unknown[]> {
      const r = new StreamReader(loop, 8);
      r.feedData(Buffer.from('0123456789abcdef\nrest\n'));
      const out: unknown[] = [];
      try {
        yield* r.readUntil('\n');
      } catch (err) {
        out.push(err instanceof LimitOverrunError, (err as LimitOverrunError).consumed);
      }
      // readLine drops the long line and says so; the next line is intact.
      try {
        yield* r.readLine();
      } catch (err) {
        out.push((err as Error).message);
      }
      out.push((yield* r.readLine()).toString());
      return out;
    }
    expect(t.run(main())).toEqual([true, 16, 'Separator is found, but chunk is longer than limit', 'rest\n']);
  });

  it('the limit bounds the data before the separator: exactly limit bytes and then it is a valid chunk (asyncio 3.13)', () => {
    const loop = t.loop;
    function* main(): Co<unknown[]> {
      const r = new StreamReader(loop, 8);
      r.feedData(Buffer.from('01234567\n012345678\n0123456|#'));
      const out: unknown[] = [(yield* r.readLine()).toString()];
      try {
        yield* r.readLine();
      } catch (err) {
        out.push(err instanceof RangeError);
      }
      // A longer separator: what counts is where it starts, not where it ends.
      out.push((yield* r.readUntil(['|#'])).toString());
      r.feedData(Buffer.from('x'.repeat(9) + '|#'));
      try {
        yield* r.readUntil('|#');
      } catch (err) {
        out.push(err instanceof LimitOverrunError, (err as LimitOverrunError).consumed);
      }
      return out;
    }
    expect(t.run(main())).toEqual(['01234567\n', true, '0123456|#', true, 9]);
  });

  it('rejects bad sizes and separators', () => {
    const loop = t.loop;
    const r = new StreamReader(loop);
    expect(() => t.run(r.readExactly(-1))).toThrow(RangeError);
    expect(() => t.run(r.read(1.5))).toThrow(TypeError);
    expect(() => t.run(r.readUntil(''))).toThrow(RangeError);
    expect(() => new StreamReader(loop, 0)).toThrow(RangeError);
  });

  it('a cancelled read loses no data', () => {
    const loop = t.loop;
    function* main(): Co<string> {
      const r = new StreamReader(loop);
      try {
        yield* waitFor(r.read(10), 0.01);
      } catch (err) {
        expect(err).toBeInstanceOf(TimeoutError);
      }
      const pending = createTask(r.readExactly(4));
      yield* sleep(0);
      pending.cancel();
      r.feedData(Buffer.from('data'));
      try {
        yield* pending;
      } catch (err) {
        expect(err).toBeInstanceOf(CancelledError);
      }
      return (yield* r.readExactly(4)).toString();
    }
    expect(t.run(main())).toBe('data');
  });

  // read(n) is a hand-written coroutine (ReadOp in streams.ts), not a
  // function*: it must behave as one everywhere a generator can go.
  it('read(n) behaves as a generator coroutine: a Task of its own, cancel, close, await, lazy checks', async () => {
    const loop = t.loop;
    const r = new StreamReader(loop);
    // Checks run when it is first resumed, not at the call.
    const bad = r.read(1.5);
    expect(() => bad.next()).toThrow(TypeError);
    expect(Object.prototype.toString.call(r.read(1))).toBe('[object Generator]');

    function* main(): Co<string[]> {
      const out: string[] = [];
      // Run directly as a Task (createTask accepts only coroutines).
      const task = createTask(r.read(3));
      yield* sleep(0);
      expect(task.done()).toBe(false);
      r.feedData(Buffer.from('abcdef'));
      out.push((yield* task).toString());
      // Data buffered: returns at once.
      out.push((yield* r.read(10)).toString());
      // A cancelled read: the next read may wait again and gets the data.
      const cancelled = createTask(r.read(10));
      yield* sleep(0);
      expect(cancelled.done()).toBe(false);
      cancelled.cancel();
      yield* sleep(0);
      expect(cancelled.cancelled()).toBe(true);
      const next = createTask(r.read(10));
      yield* sleep(0);
      r.feedData(Buffer.from('uvw'));
      out.push((yield* next).toString());
      // A read closed while waiting (return()) lets another read wait.
      const closedRead = r.read(5);
      expect(closedRead.next().done).toBe(false);
      closedRead.return(Buffer.alloc(0));
      const later = createTask(r.read(5));
      yield* sleep(0);
      r.feedData(Buffer.from('xyz'));
      out.push((yield* later).toString());
      // Two readers at once: the second is refused, the first goes on.
      const first = createTask(r.read(2));
      yield* sleep(0);
      expect(() => r.read(2).next()).toThrow(/already waiting/);
      r.feedData(Buffer.from('12'));
      out.push((yield* first).toString());
      // EOF wakes a waiting read with an empty Buffer.
      const atEof = createTask(r.read(4));
      yield* sleep(0);
      r.feedEof();
      out.push(`eof:${(yield* atEof).length}`);
      return out;
    }
    expect(t.run(main())).toEqual(['abc', 'def', 'uvw', 'xyz', '12', 'eof:0']);

    // `await reader.read(n)` from an async function, and an error set while it waits.
    // (From a macrotask: a blocking loop entered from a microtask cannot run promise callbacks.)
    const r2 = new StreamReader(loop);
    const got = await macrotask(() => loop.runUntilComplete(
      (async () => {
        const p = r2.read(4);
        loop.callSoon(() => r2.feedData(Buffer.from('ping')));
        const first = await p;
        loop.callSoon(() => r2.setException(Object.assign(new Error('reset'), { code: 'ECONNRESET' })));
        try {
          await r2.read(4);
          return 'no error';
        } catch (err) {
          return `${first.toString()} ${(err as { code?: string }).code}`;
        }
      })(),
    ));
    expect(got).toBe('ping ECONNRESET');
  });

  it('readInto(buffer) copies what is buffered into the caller\'s buffer, waits like read, returns 0 at EOF', async () => {
    const loop = t.loop;
    const r = new StreamReader(loop);
    // Checks run when it is first resumed, as read()'s do.
    const bad = r.readInto('abc' as unknown as Uint8Array);
    expect(() => bad.next()).toThrow(TypeError);
    expect(Object.prototype.toString.call(r.readInto(Buffer.alloc(1)))).toBe('[object Generator]');

    function* main(): Co<unknown[]> {
      const out: unknown[] = [];
      const buf = Buffer.alloc(8);
      // Buffered across chunks: copied, up to the buffer's length.
      r.feedData(Buffer.from('abc'));
      r.feedData(Buffer.from('defghij'));
      out.push(yield* r.readInto(buf), buf.toString());
      out.push(yield* r.readInto(buf), buf.toString('latin1', 0, 2));
      // An empty buffer reads nothing, without waiting.
      out.push(yield* r.readInto(Buffer.alloc(0)));
      // Nothing buffered: waits, and data fed meanwhile is copied in.
      const task = createTask(r.readInto(buf));
      yield* sleep(0);
      expect(task.done()).toBe(false);
      r.feedData(Buffer.from('xyz'));
      out.push(yield* task, buf.toString('latin1', 0, 3));
      // Cancelled while waiting: the next readInto waits again and gets the data.
      const cancelled = createTask(r.readInto(buf));
      yield* sleep(0);
      cancelled.cancel();
      yield* sleep(0);
      expect(cancelled.cancelled()).toBe(true);
      const next = createTask(r.readInto(new Uint8Array(4)));
      yield* sleep(0);
      r.feedData(Buffer.from('12345'));
      out.push(yield* next);
      out.push(yield* r.readInto(buf), buf.toString('latin1', 0, 1));
      // EOF: 0, at once and for a read that was waiting.
      const atEof = createTask(r.readInto(buf));
      yield* sleep(0);
      r.feedEof();
      out.push(yield* atEof, yield* r.readInto(buf));
      return out;
    }
    expect(t.run(main())).toEqual([8, 'abcdefgh', 2, 'ij', 0, 3, 'xyz', 4, 1, '5', 0, 0]);

    // `await reader.readInto(buf)` from an async function.
    const r2 = new StreamReader(loop);
    const got = await macrotask(() => loop.runUntilComplete(
      (async () => {
        const b = Buffer.alloc(4);
        const p = r2.readInto(b);
        loop.callSoon(() => r2.feedData(Buffer.from('ping')));
        return `${await p} ${b.toString()}`;
      })(),
    ));
    expect(got).toBe('4 ping');
  });

  it('a waiting readInto gets the transport\'s bytes straight into its buffer; cancelled before it resumes, they are read next', () => {
    const loop = t.loop;
    function* main(): Co<unknown[]> {
      const out: unknown[] = [];
      const r = new StreamReader(loop);
      const p = new StreamReaderProtocol(loop, r);
      // No readInto waiting: the transport receives into a scratch buffer and the reader keeps a copy.
      const scratch = p.getBuffer(-1);
      scratch.set(Buffer.from('early'));
      p.bufferUpdated(5);
      scratch.fill(0);
      const buf = Buffer.alloc(16);
      out.push(yield* r.readInto(buf), buf.toString('latin1', 0, 5));
      // A readInto waiting: getBuffer() is its very buffer, filled with no copy.
      const mine = Buffer.alloc(16);
      const task = createTask(r.readInto(mine));
      yield* sleep(0);
      const into = p.getBuffer(-1);
      out.push(into === mine);
      into.set(Buffer.from('direct'));
      p.bufferUpdated(6);
      // More bytes before the task resumes go behind them, to the buffer.
      expect(p.getBuffer(-1)).not.toBe(mine);
      p.getBuffer(-1).set(Buffer.from('+more'));
      p.bufferUpdated(5);
      out.push(yield* task, mine.toString('latin1', 0, 6));
      out.push((yield* r.read(100)).toString());
      // Filled, then cancelled before it resumes: the bytes are not lost.
      const lost = createTask(r.readInto(mine));
      yield* sleep(0);
      expect(p.getBuffer(-1)).toBe(mine);
      mine.set(Buffer.from('kept'));
      p.bufferUpdated(4);
      lost.cancel();
      p.getBuffer(-1).set(Buffer.from('!'));
      p.bufferUpdated(1);
      yield* sleep(0);
      expect(lost.cancelled()).toBe(true);
      mine.fill(0);
      out.push((yield* r.read(100)).toString());
      return out;
    }
    expect(t.run(main())).toEqual([5, 'early', true, 6, 'direct', '+more', 'kept!']);
  });
});

describe.each(backends)('streams on %s', (backend) => {
  const t = useLoop(backend);

  it.each(['tcp', 'unix'])('readInto echoes 4 MiB intact over %s, reusing one buffer', (kind) => {
    const data = randomBytes(4 * 1024 * 1024);
    function* main(): Co<string> {
      const path = join(dir, `into-${backend}.sock`);
      const server = kind === 'unix' ? yield* startUnixServer(echoInto, path) : yield* startServer(echoInto, '127.0.0.1', 0);
      const [reader, writer] = kind === 'unix' ? yield* openUnixConnection(path) : yield* openConnection('127.0.0.1', portOf(server));
      writer.write(data);
      writer.writeEof();
      const back = Buffer.alloc(data.length + 1);
      const buf = Buffer.alloc(100 * 1024);
      let got = 0;
      for (;;) {
        const n = yield* reader.readInto(buf);
        if (n === 0) break;
        buf.copy(back, got, 0, n);
        got += n;
      }
      writer.close();
      yield* writer.waitClosed();
      yield* closeServer(server);
      expect(got).toBe(data.length);
      return createHash('sha256').update(back.subarray(0, got)).digest('hex');
    }
    expect(t.run(main())).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('each read keeps its own bytes: reads of one length in a row, then of another, all kept to the end', () => {
    // On the readiness backends the transport receives into one scratch
    // buffer and the reader copies out of it through a cached view: a read
    // must never hand out that view (or memory the next read overwrites).
    const sizes = [1024, 1024, 1024, 3, 3, 1024, 5000, 1024];
    const messages = sizes.map((n, i) => Buffer.alloc(n, 0x41 + i));
    function* main(): Co<void> {
      const kept: Buffer[] = [];
      const server = yield* startServer(function* (reader: StreamReader, writer: StreamWriter): Co<void> {
        for (;;) {
          const data = yield* reader.read(256 * 1024);
          if (data.length === 0) break;
          kept.push(data);
          writer.write(data);
          yield* writer.drain();
        }
        writer.close();
      }, '127.0.0.1', 0);
      const [reader, writer] = yield* openConnection('127.0.0.1', portOf(server));
      const back: Buffer[] = [];
      for (const m of messages) {
        writer.write(m);
        yield* writer.drain();
        let got = 0;
        while (got < m.length) {
          const data = yield* reader.read(256 * 1024);
          expect(data.length).toBeGreaterThan(0);
          back.push(data);
          got += data.length;
        }
      }
      writer.close();
      yield* writer.waitClosed();
      yield* closeServer(server);
      const all = Buffer.concat(messages);
      expect(Buffer.concat(back).equals(all)).toBe(true);
      expect(Buffer.concat(kept).equals(all)).toBe(true);
      expect(back.every((b) => Buffer.isBuffer(b) && Object.getPrototypeOf(b) === Buffer.prototype)).toBe(true);
    }
    t.run(main());
  });

  it.each(loopbackHosts)('openConnection / startServer line protocol over %s', (host) => {
    function* handler(reader: StreamReader, writer: StreamWriter): Co<void> {
      for (;;) {
        const line = yield* reader.readLine();
        if (line.length === 0) break;
        writer.write(line.toString().toUpperCase());
      }
      writer.close();
      yield* writer.waitClosed();
    }
    function* main(): Co<string[]> {
      const server = yield* startServer(handler, host, 0);
      const [reader, writer] = yield* openConnection(host, portOf(server));
      expect(writer.getExtraInfo('peername')).toMatchObject({ port: portOf(server) });
      const out: string[] = [];
      for (const word of ['one\n', 'two\n']) {
        writer.write(word);
        yield* writer.drain();
        out.push((yield* reader.readLine()).toString());
      }
      writer.writeEof();
      expect((yield* reader.read()).length).toBe(0);
      expect(reader.atEof()).toBe(true);
      writer.close();
      yield* writer.waitClosed();
      yield* closeServer(server);
      return out;
    }
    expect(t.run(main())).toEqual(['ONE\n', 'TWO\n']);
  });

  it('a line of exactly limit bytes before its newline reads over a connection; one byte more is refused', () => {
    function* main(): Co<unknown[]> {
      const got: unknown[] = [];
      const server = yield* startServer(
        function* (reader: StreamReader, writer: StreamWriter): Co<void> {
          got.push((yield* reader.readLine()).toString());
          try {
            yield* reader.readLine();
          } catch (err) {
            got.push(err instanceof RangeError);
          }
          got.push((yield* reader.readLine()).toString());
          writer.close();
        },
        '127.0.0.1',
        0,
        { limit: 16 },
      );
      const [reader, writer] = yield* openConnection('127.0.0.1', portOf(server));
      writer.write('a'.repeat(16) + '\n' + 'b'.repeat(17) + '\nend\n');
      yield* writer.drain();
      expect((yield* waitFor(reader.read(), 5)).length).toBe(0);
      writer.close();
      yield* writer.waitClosed();
      yield* closeServer(server);
      return got;
    }
    expect(t.run(main())).toEqual(['a'.repeat(16) + '\n', true, 'end\n']);
  });

  it('drain applies back-pressure while the peer does not read', () => {
    function* main(): Co<void> {
      let serverReader: StreamReader | undefined;
      const server = yield* startServer((reader: StreamReader, writer: StreamWriter) => {
        serverReader = reader;
        void writer;
      }, '127.0.0.1', 0);
      const [, writer] = yield* openConnection('127.0.0.1', portOf(server));
      writer.transport.setWriteBufferLimits(64 * 1024);
      const chunk = Buffer.alloc(64 * 1024);
      const writerTask = createTask(
        (function* () {
          for (let i = 0; i < 200; i++) {
            writer.write(chunk);
            yield* writer.drain();
          }
        })(),
      );
      yield* sleep(0.05);
      // The server reader stopped reading at 2 x limit; the writer waits in drain.
      expect(writerTask.done()).toBe(false);
      expect(writer.transport.getWriteBufferSize()).toBeLessThanOrEqual(64 * 1024 + chunk.length);
      // Now read everything: the writer finishes.
      let total = 0;
      while (total < 200 * chunk.length) total += (yield* serverReader!.read(1 << 20)).length;
      yield* writerTask;
      writer.close();
      yield* writer.waitClosed();
      server.closeClients();
      yield* closeServer(server);
    }
    t.run(main());
  });

  it('a drain waiting on back-pressure is cancellable; the next drain waits too and returns once the peer reads', () => {
    function* main(): Co<void> {
      let serverReader: StreamReader | undefined;
      const server = yield* startServer((reader: StreamReader) => {
        serverReader = reader;
      }, '127.0.0.1', 0);
      const [, writer] = yield* openConnection('127.0.0.1', portOf(server));
      writer.transport.setWriteBufferLimits(64 * 1024);
      const chunk = Buffer.alloc(64 * 1024, 1);
      let written = 0;
      const first = createTask(
        (function* () {
          for (;;) {
            writer.write(chunk);
            written += chunk.length;
            yield* writer.drain();
          }
        })(),
      );
      yield* sleep(0.05);
      expect(first.done()).toBe(false); // paused: waiting in drain
      first.cancel();
      yield* sleep(0);
      expect(first.cancelled()).toBe(true);
      // Still paused: a new drain waits, then returns once the peer reads enough.
      const drained = [false];
      const second = createTask(
        (function* () {
          yield* writer.drain();
          drained[0] = true;
        })(),
      );
      yield* sleep(0.02);
      expect(drained[0]).toBe(false);
      let total = 0;
      while (!drained[0] && total < written) {
        total += (yield* serverReader!.read(1 << 20)).length;
        yield* sleep(0);
      }
      yield* second;
      expect(drained[0]).toBe(true);
      // Not paused: drain returns without waiting.
      yield* writer.drain();
      writer.close();
      yield* writer.waitClosed();
      server.closeClients();
      yield* closeServer(server);
    }
    t.run(main());
  });

  it('Unix stream server and connection', () => {
    const path = join(dir, `streams-${backend}.sock`);
    function* main(): Co<string> {
      const server = yield* startUnixServer(streamEcho, path);
      const [reader, writer] = yield* openUnixConnection(path);
      writer.write('over a unix path');
      const got = (yield* reader.readExactly(16)).toString();
      writer.close();
      yield* writer.waitClosed();
      yield* closeServer(server);
      return got;
    }
    expect(t.run(main())).toBe('over a unix path');
  });

  it('64 connections each push 8 MiB through the echo server and get every byte back in order', () => {
    const PER_CONN = 8 * 1024 * 1024;
    const CONNS = 64;
    function* client(port: number, seed: number): Co<boolean> {
      const [reader, writer] = yield* openConnection('127.0.0.1', port);
      const data = randomBytes(PER_CONN);
      const sent = createHash('sha256');
      const got = createHash('sha256');
      const sender = createTask(
        (function* () {
          let off = 0;
          let i = 0;
          while (off < PER_CONN) {
            // Small and large writes mixed.
            const size = Math.min(PER_CONN - off, i++ % 3 === 0 ? 100 + ((seed * 7919 + i) % 4000) : 200_000);
            const piece = data.subarray(off, off + size);
            sent.update(piece);
            writer.write(piece);
            off += size;
            yield* writer.drain();
          }
          writer.writeEof();
        })(),
      );
      let received = 0;
      for (;;) {
        const chunk = yield* reader.read(1 << 20);
        if (chunk.length === 0) break;
        got.update(chunk);
        received += chunk.length;
      }
      yield* sender;
      writer.close();
      yield* writer.waitClosed();
      return received === PER_CONN && got.digest('hex') === sent.digest('hex');
    }
    function* main(): Co<boolean[]> {
      const server = yield* startServer(streamEcho, '127.0.0.1', 0, { backlog: 128 });
      const port = portOf(server);
      const results = (yield* gather(...Array.from({ length: CONNS }, (_, i) => client(port, i)))) as boolean[];
      yield* closeServer(server);
      return results;
    }
    const results = t.run(main());
    expect(results.length).toBe(CONNS);
    expect(results.every(Boolean)).toBe(true);
  }, 120_000);
});
