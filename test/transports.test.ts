// Transports and protocols: servers, connections, flow control, half-close,
// resets, Unix sockets and UDP, on every backend.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { AF_UNIX, createTask, EventLoop, SOCK_STREAM, Socket, sleep } from '../src/index.js';
import type { AbstractEventLoop, BufferedProtocol, DatagramProtocol, Protocol, SockAddress, Transport, DatagramTransport, WriteTransport } from '../src/index.js';
import { _resolverThreadsEnded } from '../src/resolver.js';
import { RECV_SIZE } from '../src/proactor_transport.js';
import { native } from '../src/native.js';
import { backends, exposedGc, loopbackHosts, tempDir, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

const dir = tempDir();

/** Echoes everything; records its callbacks. */
class Echo implements Protocol {
  transport!: Transport;
  events: string[] = [];
  lost: Error | null | undefined = undefined;
  connectionMade(t: Transport): void {
    this.transport = t;
    this.events.push('made');
  }
  dataReceived(data: Buffer): void {
    this.transport.write(data);
  }
  eofReceived(): boolean {
    this.events.push('eof');
    return false;
  }
  connectionLost(exc: Error | null): void {
    this.events.push('lost');
    this.lost = exc;
  }
}

/** Collects what it receives and counts its callbacks. */
class Collector implements Protocol {
  transport!: Transport;
  chunks: Buffer[] = [];
  lostCount = 0;
  lost: Error | null | undefined;
  paused = 0;
  resumed = 0;
  constructor(private readonly onEof?: () => void) {}
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  dataReceived(data: Buffer): void {
    this.chunks.push(Buffer.from(data));
  }
  /** With onEof: stay open for writing (half-close); without: close, as the default does. */
  eofReceived(): boolean {
    this.onEof?.();
    return this.onEof !== undefined;
  }
  connectionLost(exc: Error | null): void {
    this.lostCount++;
    this.lost = exc;
  }
  pauseWriting(): void {
    this.paused++;
  }
  resumeWriting(): void {
    this.resumed++;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

function* until(cond: () => boolean, seconds = 5): Co<void> {
  const deadline = performance.now() + seconds * 1000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    yield* sleep(0.001);
  }
}

describe.each(backends)('%s backend', (backend) => {
  const t = useLoop(backend);

  it.each(loopbackHosts)('echo server and client over %s; connectionLost once with null', (host) => {
    const loop = t.loop;
    const serverSide: Echo[] = [];
    function* main(): Co<string> {
      const server = yield* loop.createServer(() => {
        const p = new Echo();
        serverSide.push(p);
        return p;
      }, host, 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const [transport, client] = yield* loop.createConnection(() => new Collector(), host, port);
      expect(transport.getExtraInfo('peername')).toMatchObject({ port });
      expect(transport.getExtraInfo('socket')!.getsockopt('TCP_NODELAY')).not.toBe(0);
      transport.write('hello ');
      transport.writelines(['wor', Buffer.from('ld')]);
      yield* until(() => client.text().length === 11);
      transport.close();
      expect(transport.isClosing()).toBe(true);
      yield* until(() => client.lostCount === 1 && serverSide[0]?.lost !== undefined);
      server.close();
      yield* server.waitClosed();
      expect(client.lost).toBeNull();
      expect(serverSide[0]!.events).toEqual(['made', 'eof', 'lost']);
      expect(serverSide[0]!.lost).toBeNull();
      return client.text();
    }
    expect(t.run(main())).toBe('hello world');
  });

  it('binds every address for host null on one port', () => {
    const loop = t.loop;
    function* main(): Co<void> {
      const server = yield* loop.createServer(() => new Echo(), null, 0);
      const ports = new Set(server.sockets.map((s) => (s.getsockname() as { port: number }).port));
      expect(server.sockets.length).toBeGreaterThanOrEqual(1);
      expect(ports.size).toBe(1);
      server.close();
      yield* server.waitClosed();
    }
    t.run(main());
  });

  it('server.getLoop() is its loop, typed EventLoop (the documented loop methods apply)', () => {
    const loop = t.loop;
    function* main(): Co<void> {
      const server = yield* loop.createServer(() => new Echo(), '127.0.0.1', 0);
      // Checked by the typecheck: it was the internal IoLoop, without e.g. createConnection.
      expectTypeOf(server.getLoop()).toEqualTypeOf<AbstractEventLoop>();
      expect(server.getLoop()).toBe(loop);
      expect(server.getLoop()).toBeInstanceOf(EventLoop);
      server.close();
      yield* server.waitClosed();
    }
    t.run(main());
  });

  it('raises EADDRINUSE with its code for a port in use', () => {
    const loop = t.loop;
    function* main(): Co<unknown> {
      const a = yield* loop.createServer(() => new Echo(), '127.0.0.1', 0, { reuseAddress: false });
      const { port } = a.sockets[0]!.getsockname() as { port: number };
      try {
        yield* loop.createServer(() => new Echo(), '127.0.0.1', port, { reuseAddress: false });
        return 'no error';
      } catch (err) {
        return err;
      } finally {
        a.close();
        yield* a.waitClosed();
      }
    }
    expect(t.run(main())).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', errno: expect.any(Number), port: expect.any(Number) });
  });

  it('raises ECONNREFUSED with its code when nobody listens', () => {
    const loop = t.loop;
    function* main(): Co<unknown> {
      const a = yield* loop.createServer(() => new Echo(), '127.0.0.1', 0);
      const { port } = a.sockets[0]!.getsockname() as { port: number };
      a.close();
      yield* a.waitClosed();
      try {
        yield* loop.createConnection(() => new Collector(), '127.0.0.1', port);
        return 'connected?';
      } catch (err) {
        return err;
      }
    }
    expect(t.run(main())).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
  });

  it('half-close: writeEof reaches eofReceived and the other side can still answer', () => {
    const loop = t.loop;
    function* main(): Co<string> {
      // The server answers "bye" after the client's EOF, then closes.
      const server = yield* loop.createServer(
        () =>
          new (class extends Collector {
            override eofReceived(): boolean {
              this.transport.write(`got ${this.text()}, bye`);
              this.transport.close();
              return true;
            }
          })(),
        '127.0.0.1',
        0,
      );
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      let eof = false;
      const [tr, client] = yield* loop.createConnection(() => new Collector(() => (eof = true)), '127.0.0.1', port);
      expect(tr.canWriteEof()).toBe(true);
      tr.write('question');
      tr.writeEof();
      expect(() => tr.write('more')).toThrow(/writeEof/);
      yield* until(() => eof);
      tr.close();
      yield* until(() => client.lostCount === 1);
      server.close();
      yield* server.waitClosed();
      return client.text();
    }
    expect(t.run(main())).toBe('got question, bye');
  });

  it('back-pressure: pauseWriting at the high-water mark, resumeWriting after drain', () => {
    const loop = t.loop;
    const serverSide: Collector[] = [];
    function* main(): Co<void> {
      const server = yield* loop.createServer(() => {
        const p = new Collector();
        serverSide.push(p);
        return p;
      }, '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const [tr, client] = yield* loop.createConnection(() => new Collector(), '127.0.0.1', port);
      yield* until(() => serverSide.length === 1 && serverSide[0]!.transport !== undefined);
      serverSide[0]!.transport.pauseReading();
      expect(serverSide[0]!.transport.isReading()).toBe(false);
      tr.setWriteBufferLimits(256 * 1024);
      expect(tr.getWriteBufferLimits()).toEqual([64 * 1024, 256 * 1024]);
      const chunk = Buffer.alloc(64 * 1024, 1);
      let written = 0;
      // Write until the protocol is told to pause, as a well-behaved producer does.
      while (client.paused === 0) {
        tr.write(chunk);
        written += chunk.length;
        if (written > 256 * 1024 * 1024) throw new Error('never paused');
        yield* sleep(0);
      }
      expect(tr.getWriteBufferSize()).toBeGreaterThan(256 * 1024);
      expect(tr.getWriteBufferSize()).toBeLessThanOrEqual(256 * 1024 + chunk.length);
      serverSide[0]!.transport.resumeReading();
      yield* until(() => client.resumed === 1);
      expect(tr.getWriteBufferSize()).toBeLessThanOrEqual(64 * 1024);
      yield* until(() => serverSide[0]!.chunks.reduce((n, c) => n + c.length, 0) === written);
      tr.close();
      yield* until(() => client.lostCount === 1 && serverSide[0]!.lostCount === 1);
      server.close();
      yield* server.waitClosed();
    }
    t.run(main());
  });

  it('a peer reset reaches connectionLost with ECONNRESET (or EPIPE)', () => {
    const loop = t.loop;
    const serverSide: Collector[] = [];
    function* main(): Co<Error | null | undefined> {
      const server = yield* loop.createServer(() => {
        const p = new Collector();
        serverSide.push(p);
        return p;
      }, '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const [tr, client] = yield* loop.createConnection(() => new Collector(), '127.0.0.1', port);
      yield* until(() => serverSide.length === 1);
      // The server stops reading, gets data it never reads, and aborts: RST.
      serverSide[0]!.transport.pauseReading();
      tr.write('unread data');
      yield* sleep(0.01);
      serverSide[0]!.transport.abort();
      yield* until(() => serverSide[0]!.lostCount === 1);
      // The client finds out on its next read or write.
      for (let i = 0; i < 100 && client.lostCount === 0; i++) {
        tr.write('more');
        yield* sleep(0.002);
      }
      yield* until(() => client.lostCount === 1);
      server.close();
      yield* server.waitClosed();
      return client.lost;
    }
    const lost = t.run(main());
    expect(['ECONNRESET', 'EPIPE']).toContain((lost as NodeJS.ErrnoException | null)?.code);
  });

  it('closing a server with clients connected: waitClosed waits for them; closeClients ends them', () => {
    const loop = t.loop;
    function* main(): Co<number> {
      const server = yield* loop.createServer(() => new Echo(), '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const clients: Collector[] = [];
      for (let i = 0; i < 3; i++) {
        const [tr, c] = yield* loop.createConnection(() => new Collector(), '127.0.0.1', port);
        clients.push(c);
        tr.write('x');
      }
      yield* until(() => clients.every((c) => c.text() === 'x'));
      server.close();
      expect(server.isServing()).toBe(false);
      const waiter = createTask(server.waitClosed());
      yield* sleep(0.01);
      expect(waiter.done()).toBe(false);
      server.closeClients();
      yield* waiter;
      yield* until(() => clients.every((c) => c.lostCount === 1));
      return clients.length;
    }
    expect(t.run(main())).toBe(3);
  });

  it('BufferedProtocol reads straight into its own buffer', () => {
    const loop = t.loop;
    class Buffered implements BufferedProtocol {
      buf = Buffer.alloc(7);
      received: Buffer[] = [];
      lost = 0;
      getBuffer(): Uint8Array {
        return this.buf;
      }
      bufferUpdated(n: number): void {
        this.received.push(Buffer.from(this.buf.subarray(0, n)));
      }
      connectionLost(): void {
        this.lost++;
      }
    }
    function* main(): Co<string> {
      const server = yield* loop.createServer(() => new Echo(), '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const [tr, p] = yield* loop.createConnection(() => new Buffered(), '127.0.0.1', port);
      tr.write('a message longer than seven bytes');
      yield* until(() => Buffer.concat(p.received).length === 33);
      expect(Math.max(...p.received.map((b) => b.length))).toBeLessThanOrEqual(7);
      tr.close();
      yield* until(() => p.lost === 1);
      server.close();
      yield* server.waitClosed();
      return Buffer.concat(p.received).toString();
    }
    expect(t.run(main())).toBe('a message longer than seven bytes');
  });

  it('borrowsData protocols get views that are only valid during the call', () => {
    const loop = t.loop;
    const views: Buffer[] = [];
    class Borrower extends Echo {
      readonly borrowsData = true;
      override dataReceived(data: Buffer): void {
        views.push(data);
        super.dataReceived(data);
      }
    }
    function* main(): Co<string> {
      const server = yield* loop.createServer(() => new Borrower(), '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const [tr, c] = yield* loop.createConnection(() => new Collector(), '127.0.0.1', port);
      tr.write('first');
      yield* until(() => c.text() === 'first');
      tr.write('second');
      yield* until(() => c.text() === 'firstsecond');
      tr.close();
      yield* until(() => c.lostCount === 1);
      server.close();
      yield* server.waitClosed();
      // Views of a receive buffer, not copies: the selector transports read
      // into one buffer shared by the loop (the first view now shows later
      // bytes); the proactor transport lends the buffer an echo writes back
      // to its send and receives into its second one meanwhile (one-shot
      // path), or into another buffer of the loop's pool (multishot path).
      const pool = (loop as unknown as { _pool: { buffer: ArrayBufferLike } | null })._pool;
      if (pool != null) {
        expect(views[0]!.buffer).toBe(pool.buffer);
        expect(views[1]!.buffer).toBe(pool.buffer);
      } else if ((loop as unknown as { _proactor: boolean })._proactor) {
        expect(views[0]!.buffer.byteLength).toBe(RECV_SIZE);
        expect(views[1]!.buffer.byteLength).toBe(RECV_SIZE);
      } else {
        expect(views[0]!.buffer).toBe(views[1]!.buffer);
      }
      return c.text();
    }
    expect(t.run(main())).toBe('firstsecond');
  });

  it('a borrowed view\'s buffer posted with a transfer list is copied, not taken: every transport keeps reading', () => {
    // The receive buffers (the thread's shared read buffer, the proactor
    // transports' own and the pool) are marked untransferable: a detached
    // one would stop every read, or let the kernel write into freed memory.
    const loop = t.loop;
    const sizes: number[] = [];
    class Poster extends Echo {
      readonly borrowsData = true;
      override dataReceived(data: Buffer): void {
        const ab = data.buffer as ArrayBuffer;
        const { port1 } = new MessageChannel();
        try {
          port1.postMessage(ab, [ab]);
        } finally {
          port1.close();
        }
        structuredClone(ab, { transfer: [ab] });
        sizes.push(ab.byteLength);
        super.dataReceived(data);
      }
    }
    function* main(): Co<string> {
      const server = yield* loop.createServer(() => new Poster(), '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const [tr, c] = yield* loop.createConnection(() => new Collector(), '127.0.0.1', port);
      for (const word of ['one ', 'two ', 'three']) {
        tr.write(word);
        yield* until(() => c.text().endsWith(word));
      }
      tr.close();
      yield* until(() => c.lostCount === 1);
      server.close();
      yield* server.waitClosed();
      return c.text();
    }
    expect(t.run(main())).toBe('one two three');
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    expect(sizes.every((n) => n > 0)).toBe(true);
  });

  it('a BufferedProtocol that writes back views of its one getBuffer() buffer, shared by every connection: each peer gets its own bytes', () => {
    // The next read overwrites that buffer (as it does the loop's read
    // buffer a borrowsData protocol gets views of): a write of a view of it
    // must be copied before it can wait, whatever its size.
    const loop = t.loop;
    const shared = Buffer.alloc(256 * 1024);
    class SharedEcho implements BufferedProtocol {
      transport!: Transport;
      connectionMade(tr: Transport): void {
        this.transport = tr;
      }
      getBuffer(): Uint8Array {
        return shared;
      }
      bufferUpdated(n: number): void {
        this.transport.write(shared.subarray(0, n));
      }
    }
    // The first client reads nothing for a while, so the server's writes
    // to it back up and wait in its write buffer (the selector transports'
    // case; the proactor's sends always wait for their completion).
    const payloads = [8 * 1024 * 1024, 512 * 1024, 512 * 1024].map((n) => randomBytes(n));
    function* main(): Co<boolean[]> {
      const server = yield* loop.createServer(() => new SharedEcho(), '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const clients: Array<[Transport, Collector]> = [];
      for (let i = 0; i < payloads.length; i++) clients.push(yield* loop.createConnection(() => new Collector(), '127.0.0.1', port));
      clients[0]![0].pauseReading();
      clients.forEach(([tr], i) => tr.write(payloads[i]!));
      yield* sleep(0.3);
      clients[0]![0].resumeReading();
      yield* until(() => clients.every(([, c], i) => Buffer.concat(c.chunks).length >= payloads[i]!.length), 20);
      const same = clients.map(([, c], i) => Buffer.concat(c.chunks).equals(payloads[i]!));
      for (const [tr] of clients) tr.close();
      yield* until(() => clients.every(([, c]) => c.lostCount === 1));
      server.close();
      yield* server.waitClosed();
      return same;
    }
    expect(t.run(main())).toEqual([true, true, true]);
  });

  // A large write is kept by reference until sent (see WriteBuffer.push).
  // If its ArrayBuffer is transferred meanwhile, the new owner may free the
  // memory: a send in flight in the ring must still read the original bytes
  // (the poller pins the memory, not only the JS object), and the transport
  // must fail the connection with a clear error instead of crashing, looping
  // on a writable socket, or sending what took the freed memory's place.
  const detachCases: Array<['socket' | 'pipe']> = [['socket'], ['pipe']];
  it.each(detachCases)('a written buffer transferred before it was sent (%s): the bytes already taken arrive intact, then the connection fails with ERR_INVALID_STATE', (kind) => {
    const loop = t.loop;
    const reports: string[] = [];
    loop.setExceptionHandler((_l, ctx) => {
      reports.push(`${ctx.message}: ${(ctx.exception as Error | undefined)?.message ?? ''}`);
    });
    const size = 16 * 1024 * 1024;
    function* main(): Co<{ got: Buffer; lost: Error | null | undefined; orig: Buffer }> {
      let big: Uint8Array | null = new Uint8Array(new ArrayBuffer(size));
      for (let i = 0; i < size; i += 512) big[i] = (i >> 9) & 0x7f; // never 0xee
      const orig = Buffer.from(big);
      let reader: Collector;
      let writer: WriteTransport;
      let writerProtocol: Collector;
      const closers: Array<() => Co<void>> = [];
      if (kind === 'socket') {
        const accepted: Collector[] = [];
        const server = yield* loop.createServer(() => {
          const c = new Collector();
          accepted.push(c);
          return c;
        }, '127.0.0.1', 0);
        const { port } = server.sockets[0]!.getsockname() as { port: number };
        [writer, writerProtocol] = yield* loop.createConnection(() => new Collector(), '127.0.0.1', port);
        yield* until(() => accepted.length === 1);
        reader = accepted[0]!;
        closers.push(function* () {
          server.close();
          yield* server.waitClosed();
        });
      } else {
        const [r, w] = native.pipe();
        [writer, writerProtocol] = yield* loop.connectWritePipe(() => new Collector(), w);
        [, reader] = yield* loop.connectReadPipe(() => new Collector(), r);
      }
      reader.transport.pauseReading();
      writer.write(big);
      expect(writer.getWriteBufferSize()).toBeGreaterThan(0);
      yield* sleep(0.05); // a send of part of it in flight (io_uring) or done
      structuredClone(big.buffer, { transfer: [big.buffer as ArrayBuffer] }); // dropped at once
      expect(big.length).toBe(0);
      big = null;
      exposedGc?.();
      exposedGc?.();
      const fill = [Buffer.alloc(size, 0xee), Buffer.alloc(size, 0xee)]; // takes the freed memory
      reader.transport.resumeReading();
      yield* until(() => writerProtocol.lostCount === 1, 10);
      yield* until(() => reader.lostCount === 1, 10);
      expect(fill[0]![0]).toBe(0xee);
      for (const close of closers) yield* close();
      return { got: Buffer.concat(reader.chunks), lost: writerProtocol.lost, orig };
    }
    const { got, lost, orig } = t.run(main());
    expect(lost).toMatchObject({ code: 'ERR_INVALID_STATE', message: expect.stringMatching(/detached/) });
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(size);
    expect(got.equals(orig.subarray(0, got.length))).toBe(true);
    expect(reports).toEqual([expect.stringMatching(/^Fatal write error on (socket|pipe) transport: a buffer given to write\(\) was detached/)]);
  });

  it('Unix server and connection', () => {
    const loop = t.loop;
    const path = join(dir, `${backend}.sock`);
    function* main(): Co<string> {
      const server = yield* loop.createUnixServer(() => new Echo(), path);
      const [tr, c] = yield* loop.createUnixConnection(() => new Collector(), path);
      expect(tr.getExtraInfo('peername')).toEqual({ family: 'unix', path });
      tr.write('over unix');
      yield* until(() => c.text() === 'over unix');
      tr.close();
      yield* until(() => c.lostCount === 1);
      server.close();
      yield* server.waitClosed();
      // A second server on the same path replaces the stale socket file.
      const again = yield* loop.createUnixServer(() => new Echo(), path);
      again.close();
      yield* again.waitClosed();
      return c.text();
    }
    expect(t.run(main())).toBe('over unix');
  });

  it('cleanupSocket: close() removes the socket file it bound, never one a newer server made there, and keeps it when false', () => {
    const loop = t.loop;
    const path = join(dir, `${backend}-cleanup.sock`);
    function* main(): Co<void> {
      // Default (true): the file goes with the server.
      const a = yield* loop.createUnixServer(() => new Echo(), path);
      expect(existsSync(path)).toBe(true);
      a.close();
      yield* a.waitClosed();
      expect(existsSync(path)).toBe(false);
      // Replaced under it: the first server's close leaves the second's file alone.
      const first = yield* loop.createUnixServer(() => new Echo(), path);
      const second = yield* loop.createUnixServer(() => new Echo(), path); // unlinks the first's file, binds anew
      first.close();
      yield* first.waitClosed();
      expect(existsSync(path)).toBe(true);
      const [tr, c] = yield* loop.createUnixConnection(() => new Collector(), path);
      tr.write('still there');
      yield* until(() => c.text() === 'still there');
      tr.close();
      yield* until(() => c.lostCount === 1);
      second.close();
      yield* second.waitClosed();
      expect(existsSync(path)).toBe(false);
      // cleanupSocket: false keeps it (for a supervisor that hands the path on).
      const kept = yield* loop.createUnixServer(() => new Echo(), path, { cleanupSocket: false });
      kept.close();
      yield* kept.waitClosed();
      expect(existsSync(path)).toBe(true);
      unlinkSync(path);
      // An adopted listening socket is cleaned up the same way.
      const own = new Socket(AF_UNIX, SOCK_STREAM);
      own.bind(path);
      const adopted = yield* loop.createUnixServer(() => new Echo(), null, { sock: own });
      adopted.close();
      yield* adopted.waitClosed();
      expect(existsSync(path)).toBe(false);
    }
    t.run(main());
  });

  it('UDP endpoints exchange datagrams', () => {
    const loop = t.loop;
    class Dgram implements DatagramProtocol {
      transport!: DatagramTransport;
      got: Array<[string, SockAddress]> = [];
      lost = 0;
      connectionMade(tr: DatagramTransport): void {
        this.transport = tr;
      }
      datagramReceived(data: Buffer, addr: SockAddress): void {
        this.got.push([data.toString(), addr]);
        if (data.toString() === 'ping') this.transport.sendto('pong', addr);
      }
      connectionLost(): void {
        this.lost++;
      }
    }
    function* main(): Co<string[]> {
      const [serverTr, server] = yield* loop.createDatagramEndpoint(() => new Dgram(), { localAddr: ['127.0.0.1', 0] });
      const addr = serverTr.getExtraInfo('sockname') as { address: string; port: number };
      const [clientTr, client] = yield* loop.createDatagramEndpoint(() => new Dgram(), { remoteAddr: [addr.address, addr.port] });
      clientTr.sendto('ping');
      yield* until(() => client.got.length === 1);
      expect(server.got[0]![1]).toEqual(clientTr.getExtraInfo('sockname'));
      clientTr.close();
      serverTr.close();
      yield* until(() => client.lost === 1 && server.lost === 1);
      return client.got.map(([d]) => d);
    }
    expect(t.run(main())).toEqual(['pong']);
  });

  it('resolves localhost without blocking the loop', () => {
    const loop = t.loop;
    function* main(): Co<string[]> {
      let ticks = 0;
      const ticker = createTask(
        (function* () {
          for (;;) {
            ticks++;
            yield* sleep(0.001);
          }
        })(),
      );
      const infos = yield* loop.getaddrinfo('localhost', 80);
      ticker.cancel();
      yield* sleep(0);
      expect(infos.length).toBeGreaterThan(0);
      expect(ticks).toBeGreaterThan(0);
      return infos.map((i) => i.host);
    }
    const hosts = t.run(main());
    expect(hosts.some((h) => h === '127.0.0.1' || h === '::1')).toBe(true);
  });

  it('once its last lookup is answered, the resolution thread ends and its fds (a whole libuv loop) are freed', async () => {
    const fdsNow = (): number => readdirSync('/proc/self/fd').length;
    await _resolverThreadsEnded(); // an earlier test's thread may still be ending
    const before = fdsNow();
    t.run(t.loop.getaddrinfo('localhost', 80));
    t.loop.runUntilComplete(sleep(0));
    await _resolverThreadsEnded();
    expect(fdsNow()).toBe(before);
  });

  it('a name that does not resolve fails with its code', () => {
    const loop = t.loop;
    expect(() => t.run(loop.getaddrinfo('no-such-host.invalid', 80))).toThrow(expect.objectContaining({ code: expect.stringMatching(/ENOTFOUND|EAI_AGAIN|EAI_FAIL|EAI_NONAME/) }));
  });
});
