// The proactor transports (io_uring completion operations, proactor_transport.ts)
// on real sockets: the transport contract the selector transports keep, and
// what only a completion transport has (a recv always in flight, sends held
// by the ring until they complete, cancellation at pause and close).
import { createHash, randomBytes } from 'node:crypto';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { newEventLoop, openConnection, sleep, startServer, uringStatus } from '../src/index.js';
import type { BufferedProtocol, EventLoop, Protocol, RecvPath, StreamReader, StreamWriter, Transport } from '../src/index.js';
import type { RecvPool } from '../src/recv_pool.js';
import { ProactorSocketTransport, RECV_SIZE } from '../src/proactor_transport.js';
import { SocketTransport } from '../src/socket_transport.js';
import { hasUring, settle, streamEcho } from './helpers.js';
import type { Co } from './helpers.js';
import { afterEach, beforeEach } from 'vitest';
import { expectLoopLeftNothing } from './core_helpers.js';
import { trackLoop } from './leaks.js';

function* until(cond: () => boolean, seconds = 5): Co<void> {
  const deadline = performance.now() + seconds * 1000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error('timed out');
    yield* sleep(0.002);
  }
}

class Collector implements Protocol {
  transport!: Transport;
  chunks: Buffer[] = [];
  lost: Error | null | undefined = undefined;
  lostCount = 0;
  eof = false;
  paused = 0;
  resumed = 0;
  constructor(private readonly keepOpen = false) {}
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  dataReceived(data: Buffer): void {
    this.chunks.push(Buffer.from(data));
  }
  eofReceived(): boolean {
    this.eof = true;
    return this.keepOpen;
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
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Echoes the borrowed view itself (the transport lends its receive buffer to the send). */
class BorrowEcho implements Protocol {
  readonly borrowsData = true;
  transport!: Transport;
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  dataReceived(data: Buffer): void {
    this.transport.write(data);
  }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const opsInFlight = (loop: EventLoop): number => (loop as unknown as { _opsInFlight: number })._opsInFlight;

const recvPaths: RecvPath[] = hasUring && uringStatus().multishotRecv ? ['multishot', 'oneshot'] : ['oneshot'];
const poolOf = (loop: EventLoop): RecvPool | null => (loop as unknown as { _pool: RecvPool | null })._pool;

describe.runIf(hasUring).each(recvPaths)('proactor transports on io_uring (recv: %s)', (recv) => {
  let loop: EventLoop;
  beforeEach(() => {
    loop = trackLoop(newEventLoop({ selector: 'io_uring', transports: 'proactor', recv }));
  });
  afterEach(() => {
    try {
      if (!loop.isClosed()) {
        loop.runUntilComplete(settle());
        expectLoopLeftNothing(loop);
        // Every operation completed: the cancelled recvs of closed transports included.
        expect(opsInFlight(loop)).toBe(0);
      }
    } finally {
      if (!loop.isClosed()) loop.close();
    }
  });

  function* pair(serverProtocol: () => Protocol | BufferedProtocol = () => new Collector()): Co<{ server: Awaited<ReturnType<EventLoop['createServer']>>; client: Collector; ct: Transport; accepted: Array<Protocol | BufferedProtocol> }> {
    const accepted: Array<Protocol | BufferedProtocol> = [];
    const server = yield* loop.createServer(() => {
      const p = serverProtocol();
      accepted.push(p);
      return p;
    }, '127.0.0.1', 0);
    const { port } = server.sockets[0]!.getsockname() as { port: number };
    const [ct, client] = yield* loop.createConnection(() => new Collector(), '127.0.0.1', port);
    yield* until(() => accepted.length === 1);
    return { server, client, ct, accepted };
  }

  function* finish(server: { close(): void; waitClosed(): Co<void> }, ...ts: Transport[]): Co<void> {
    for (const t of ts) t.close();
    server.close();
    yield* server.waitClosed();
  }

  it('createConnection, createServer and startServer / openConnection make proactor transports; transports: readiness, selector ones', () => {
    function* main(): Co<void> {
      const { server, ct, accepted } = yield* pair();
      expect(ct).toBeInstanceOf(ProactorSocketTransport);
      // The receive path asked for; the pool made by the first transport.
      expect((poolOf(loop) !== null) === (recv === 'multishot')).toBe(true);
      expect((accepted[0] as Collector).transport).toBeInstanceOf(ProactorSocketTransport);
      yield* finish(server, ct);
      const s2 = yield* startServer(streamEcho, '127.0.0.1', 0);
      const [r, w] = yield* openConnection('127.0.0.1', (s2.sockets[0]!.getsockname() as { port: number }).port);
      expect(w.transport).toBeInstanceOf(ProactorSocketTransport);
      w.write('ping');
      expect((yield* r.readExactly(4)).toString()).toBe('ping');
      w.close();
      yield* w.waitClosed();
      s2.close();
      yield* s2.waitClosed();
    }
    loop.runUntilComplete(main());
    const other = newEventLoop({ selector: 'io_uring', transports: 'readiness' });
    try {
      expect((other as unknown as { _proactor: boolean })._proactor).toBe(false);
    } finally {
      other.close();
    }
    // Ignored where there is no ring to complete operations in.
    const epoll = newEventLoop({ selector: 'epoll', transports: 'proactor' });
    try {
      expect((epoll as unknown as { _proactor: boolean })._proactor).toBe(false);
    } finally {
      epoll.close();
    }
    expect(() => newEventLoop({ selector: 'io_uring', transports: 'both' as 'proactor' })).toThrow(RangeError);
    expect(() => newEventLoop({ selector: 'io_uring', recv: 'twice' as 'oneshot' })).toThrow(/recv must be/);
    void SocketTransport;
  });

  it('an echo of borrowed views, written back without a copy: 2 MiB in random sizes comes back intact', () => {
    const data = randomBytes(2 * 1024 * 1024);
    function* main(): Co<string> {
      const { server, client, ct } = yield* pair(() => new BorrowEcho());
      let off = 0;
      while (off < data.length) {
        const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * 3 * RECV_SIZE));
        ct.write(data.subarray(off, off + n));
        off += n;
        if (Math.random() < 0.3) yield* sleep(0);
      }
      yield* until(() => client.bytes().length === data.length, 20);
      yield* finish(server, ct);
      return sha(client.bytes());
    }
    expect(loop.runUntilComplete(main())).toBe(sha(data));
  });

  it.runIf(recv === 'multishot')('a message read in several pieces, each written back, is sent from its pool buffers (several lent at once, none copied); all go back once sent', () => {
    // Loopback delivers 64 KiB segments: a 256 KiB message is several
    // reads. Each read's view written back lends its buffer while the
    // first send is still in flight (up to 4 a transport, half the pool).
    const data = randomBytes(256 * 1024);
    let maxLent = 0;
    class Watching extends BorrowEcho {
      override dataReceived(view: Buffer): void {
        super.dataReceived(view);
        maxLent = Math.max(maxLent, poolOf(loop)!.lent);
      }
    }
    function* main(): Co<string[]> {
      const { server, client, ct } = yield* pair(() => new Watching());
      const got: string[] = [];
      for (let i = 0; i < 6; i++) {
        ct.write(data);
        yield* until(() => client.bytes().length === (i + 1) * data.length, 20);
        got.push(sha(client.bytes().subarray(i * data.length)));
      }
      yield* finish(server, ct);
      return got;
    }
    expect(loop.runUntilComplete(main())).toEqual(Array(6).fill(sha(data)));
    const pool = poolOf(loop)!;
    expect(maxLent).toBeGreaterThanOrEqual(2);
    expect(maxLent).toBeLessThanOrEqual(pool.count / 2);
    expect(pool.lent).toBe(0);
    expect(pool.held).toBe(0);
  });

  it('a borrowed view\'s buffer cannot leave with a transfer: structuredClone and postMessage copy it (the pool\'s transfer() throws); reading goes on', () => {
    // The kernel writes into the pool whenever data comes: a transfer
    // would hand its memory to an owner that may free it.
    const seen: string[] = [];
    class Transferring extends BorrowEcho {
      override dataReceived(view: Buffer): void {
        const ab = view.buffer as ArrayBuffer;
        const size = ab.byteLength;
        const clone = structuredClone(ab, { transfer: [ab] });
        const { port1 } = new MessageChannel();
        try {
          port1.postMessage(ab, [ab]);
        } finally {
          port1.close();
        }
        const transfer = (ab as unknown as { transfer?: () => ArrayBuffer }).transfer;
        // (Node 22+; the one-shot path's own buffers have no detach key.)
        if (transfer !== undefined && recv === 'multishot') expect(() => transfer.call(ab)).toThrow(TypeError);
        seen.push(`${clone.byteLength === size} ${ab.byteLength === size}`);
        super.dataReceived(view);
      }
    }
    const data = randomBytes(64 * 1024);
    function* main(): Co<string> {
      const { server, client, ct } = yield* pair(() => new Transferring());
      ct.write(data);
      yield* until(() => client.bytes().length === data.length, 20);
      yield* finish(server, ct);
      return sha(client.bytes());
    }
    expect(loop.runUntilComplete(main())).toBe(sha(data));
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set(['true true']));
  });

  it('a write while the last send completion is not yet processed sends no byte twice (4 MiB through a streams echo reading 64 KiB at a time)', () => {
    // The echo writes each 64 KiB read and drains; a write() that came
    // between a send's completion and its processing once resent the
    // completed bytes (the second 64 KiB came back as the first).
    const data = randomBytes(4 * 1024 * 1024);
    function* echo(reader: StreamReader, writer: StreamWriter): Co<void> {
      for (;;) {
        const d = yield* reader.read(65536);
        if (d.length === 0) break;
        writer.write(d);
        yield* writer.drain();
      }
      writer.close();
    }
    function* main(): Co<string> {
      const server = yield* startServer(echo, '127.0.0.1', 0);
      const [r, w] = yield* openConnection('127.0.0.1', (server.sockets[0]!.getsockname() as { port: number }).port);
      w.write(data);
      w.writeEof();
      const parts: Buffer[] = [];
      for (;;) {
        const d = yield* r.read(1 << 20);
        if (d.length === 0) break;
        parts.push(d);
      }
      w.close();
      yield* w.waitClosed();
      server.close();
      yield* server.waitClosed();
      return sha(Buffer.concat(parts));
    }
    expect(loop.runUntilComplete(main())).toBe(sha(data));
  });

  it('a small buffer reused at once after write(): each write is sent as it was', () => {
    function* main(): Co<string> {
      const { server, ct, accepted } = yield* pair();
      const scratch = Buffer.alloc(100);
      for (let i = 0; i < 50; i++) {
        scratch.fill(65 + (i % 26));
        ct.write(scratch); // the send is in the ring; the caller changes the buffer now
      }
      const got = accepted[0] as Collector;
      yield* until(() => got.bytes().length === 5000);
      yield* finish(server, ct);
      return got.bytes().toString();
    }
    const expected = Array.from({ length: 50 }, (_, i) => String.fromCharCode(65 + (i % 26)).repeat(100)).join('');
    expect(loop.runUntilComplete(main())).toBe(expected);
  });

  it('queued writes: small ones merged into one send, large ones (caller-owned buffers) in one vectored send, every byte in order', () => {
    const vectored: number[] = [];
    const base = loop as unknown as { _submitSendv: (...a: unknown[]) => number };
    const submitSendv = base._submitSendv;
    base._submitSendv = function (this: unknown, ...a: unknown[]): number {
      vectored.push(a[2] as number);
      return submitSendv.apply(this, a);
    };
    // 40 writes of 48 KiB and 100 of 100 bytes, interleaved, while the first
    // send is in flight: the large ones are kept by reference (not copied),
    // so they go out as vectored sends of up to 64 chunks.
    const parts: Buffer[] = [];
    for (let i = 0; i < 140; i++) parts.push(randomBytes(i % 7 === 0 ? 100 : i % 3 === 0 ? 48 * 1024 : 100));
    const data = Buffer.concat(parts);
    function* main(): Co<string> {
      const { server, ct, accepted } = yield* pair();
      for (const part of parts) ct.write(part);
      const got = accepted[0] as Collector;
      yield* until(() => got.bytes().length === data.length, 20);
      yield* finish(server, ct);
      return sha(got.bytes());
    }
    expect(loop.runUntilComplete(main())).toBe(sha(data));
    expect(vectored.length).toBeGreaterThan(0);
    expect(Math.max(...vectored)).toBeGreaterThan(1);
    expect(Math.max(...vectored)).toBeLessThanOrEqual(64);
  });

  it('pauseReading: no dataReceived while paused, the bytes stay in the kernel, resumeReading delivers them in order', () => {
    function* main(): Co<void> {
      const { server, ct, accepted } = yield* pair();
      const got = accepted[0] as Collector;
      got.transport.pauseReading();
      expect(got.transport.isReading()).toBe(false);
      ct.write('one ');
      ct.write('two');
      yield* sleep(0.05);
      expect(got.chunks.length).toBe(0);
      got.transport.resumeReading();
      yield* until(() => got.bytes().toString() === 'one two');
      // Paused and resumed before the cancel completes: still reads.
      got.transport.pauseReading();
      got.transport.resumeReading();
      ct.write(' three');
      yield* until(() => got.bytes().toString() === 'one two three');
      yield* finish(server, ct, got.transport);
    }
    loop.runUntilComplete(main());
  });

  it('abort() over unread data while paused resets the peer (ECONNRESET), as with the selector transport', () => {
    function* main(): Co<Error | null | undefined> {
      const { server, client, ct, accepted } = yield* pair();
      const got = accepted[0] as Collector;
      got.transport.pauseReading();
      ct.write('unread');
      yield* sleep(0.02);
      got.transport.abort();
      yield* until(() => got.lostCount === 1);
      for (let i = 0; i < 100 && client.lostCount === 0; i++) {
        ct.write('more');
        yield* sleep(0.002);
      }
      yield* until(() => client.lostCount === 1);
      yield* finish(server);
      return client.lost;
    }
    const lost = loop.runUntilComplete(main());
    expect(['ECONNRESET', 'EPIPE']).toContain((lost as NodeJS.ErrnoException | null)?.code);
  });

  it('flow control: the bytes of the send in flight count; pauseWriting above the high mark, resumeWriting at the low one', () => {
    function* main(): Co<void> {
      const { server, client, ct, accepted } = yield* pair();
      const got = accepted[0] as Collector;
      got.transport.pauseReading();
      ct.setWriteBufferLimits(64 * 1024, 16 * 1024);
      ct.write(Buffer.alloc(1000));
      expect(ct.getWriteBufferSize()).toBe(1000); // in the ring, not yet acknowledged
      const big = Buffer.alloc(1024 * 1024, 7);
      for (let i = 0; i < 16; i++) ct.write(big);
      expect(client.paused).toBe(1);
      expect(ct.getWriteBufferSize()).toBe(1000 + 16 * big.length);
      got.transport.resumeReading();
      yield* until(() => client.resumed === 1, 20);
      expect(ct.getWriteBufferSize()).toBeLessThanOrEqual(16 * 1024);
      yield* until(() => got.bytes().length === 1000 + 16 * big.length, 20);
      yield* finish(server, ct, got.transport);
    }
    loop.runUntilComplete(main());
  });

  it('writeEof: a shutdown once the queue is sent; the peer reads EOF and can still answer', () => {
    function* main(): Co<string> {
      const { server, client, ct, accepted } = yield* pair(() => new Collector(true));
      const got = accepted[0] as Collector;
      ct.write(Buffer.alloc(300 * 1024, 1));
      ct.writeEof();
      expect(() => ct.write('x')).toThrow(/writeEof/);
      yield* until(() => got.eof);
      expect(got.bytes().length).toBe(300 * 1024);
      got.transport.write('answer');
      yield* until(() => client.bytes().toString() === 'answer');
      got.transport.close();
      yield* until(() => client.lostCount === 1);
      yield* finish(server, ct);
      return String(client.lost);
    }
    expect(loop.runUntilComplete(main())).toBe('null');
  });

  it('close() with a recv in flight: connectionLost(null) once, the peer reads EOF, the recv is cancelled', () => {
    function* main(): Co<void> {
      const { server, client, ct, accepted } = yield* pair();
      const got = accepted[0] as Collector;
      expect(opsInFlight(loop)).toBeGreaterThanOrEqual(2); // both recvs
      got.transport.close();
      expect(got.transport.isClosing()).toBe(true);
      yield* until(() => client.eof && client.lostCount === 1);
      expect(got.lostCount).toBe(1);
      expect(got.lost).toBe(null);
      yield* finish(server, ct);
    }
    loop.runUntilComplete(main());
  });

  it('close() flushes a large queue first; abort() drops it at once with the send in flight cancelled', () => {
    function* main(): Co<void> {
      const { server, ct, accepted } = yield* pair();
      const got = accepted[0] as Collector;
      const big = randomBytes(3 * 1024 * 1024);
      ct.write(big);
      ct.close();
      yield* until(() => got.bytes().length === big.length, 20);
      expect(sha(got.bytes())).toBe(sha(big));
      const second = yield* pair();
      const peer = second.accepted[0] as Collector;
      peer.transport.pauseReading();
      second.ct.write(Buffer.alloc(8 * 1024 * 1024));
      yield* sleep(0.01);
      second.ct.abort();
      yield* until(() => second.client.lostCount === 1);
      expect(second.client.lost).toBe(null);
      expect(second.ct.getWriteBufferSize()).toBe(0);
      yield* finish(second.server, peer.transport);
      yield* finish(server, got.transport);
    }
    loop.runUntilComplete(main());
  });

  it('a BufferedProtocol with small buffers gets every byte, in order, through getBuffer / bufferUpdated', () => {
    class Small implements BufferedProtocol {
      buf = Buffer.alloc(1000);
      got: Buffer[] = [];
      hints: number[] = [];
      connectionMade(): void {}
      getBuffer(hint: number): Uint8Array {
        this.hints.push(hint);
        return this.buf;
      }
      bufferUpdated(n: number): void {
        this.got.push(Buffer.from(this.buf.subarray(0, n)));
      }
    }
    const data = randomBytes(200 * 1024);
    function* main(): Co<string> {
      const { server, ct, accepted } = yield* pair(() => new Small());
      const p = accepted[0] as Small;
      ct.write(data);
      yield* until(() => Buffer.concat(p.got).length === data.length);
      expect(p.hints.every((h) => h > 0)).toBe(true);
      yield* finish(server, ct);
      return sha(Buffer.concat(p.got));
    }
    expect(loop.runUntilComplete(main())).toBe(sha(data));
  });

  it('setProtocol() between reads: the next bytes go to the new protocol', () => {
    function* main(): Co<void> {
      const { server, ct, accepted } = yield* pair();
      const first = accepted[0] as Collector;
      ct.write('to the first');
      yield* until(() => first.bytes().toString() === 'to the first');
      const second = new Collector();
      second.transport = first.transport;
      first.transport.setProtocol(second);
      ct.write('to the second');
      yield* until(() => second.bytes().toString() === 'to the second');
      expect(first.bytes().toString()).toBe('to the first');
      yield* finish(server, ct, first.transport);
    }
    loop.runUntilComplete(main());
  });

  it('a server accepts with one multishot accept: 30 clients at once, each served; close() cancels it and refuses the next', () => {
    function* main(): Co<void> {
      const server = yield* loop.createServer(() => new BorrowEcho(), '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      expect((server as unknown as { acceptOps: Map<unknown, unknown> }).acceptOps.size).toBe(1);
      expect(opsInFlight(loop)).toBe(1);
      const clients: Array<[Transport, Collector]> = [];
      for (let i = 0; i < 30; i++) clients.push(yield* loop.createConnection(() => new Collector(), '127.0.0.1', port));
      clients.forEach(([t], i) => t.write(`client ${i}`));
      yield* until(() => clients.every(([, c], i) => c.bytes().toString() === `client ${i}`));
      server.close();
      yield* sleep(0.01);
      let refused: unknown = null;
      try {
        const [t] = yield* loop.createConnection(() => new Collector(), '127.0.0.1', port);
        t.close();
      } catch (err) {
        refused = err;
      }
      expect((refused as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      for (const [t] of clients) t.close();
      yield* server.waitClosed();
    }
    loop.runUntilComplete(main());
  });

  it.runIf(recv === 'multishot')('multishot: idle connections hold no buffer; a read holds one only until dataReceived returns; one recv per connection serves every read', () => {
    function* main(): Co<void> {
      const accepted: Collector[] = [];
      const server = yield* loop.createServer(() => {
        const c = new Collector();
        accepted.push(c);
        return c;
      }, '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const clients: Transport[] = [];
      for (let i = 0; i < 20; i++) clients.push((yield* loop.createConnection(() => new Collector(), '127.0.0.1', port))[0]);
      yield* until(() => accepted.length === 20);
      yield* sleep(0.01);
      const pool = poolOf(loop)!;
      expect(pool.held).toBe(0);
      // The multishot accept and one recv per transport, client and server side.
      expect(opsInFlight(loop)).toBe(41);
      for (let round = 0; round < 5; round++) {
        clients.forEach((t, i) => t.write(`${round}:${i};`));
        yield* until(() => accepted.every((c, i) => c.bytes().toString().endsWith(`${round}:${i};`)));
      }
      expect(pool.held).toBe(0);
      expect(opsInFlight(loop)).toBe(41); // no recv submitted anew
      for (const t of clients) t.close();
      for (const c of accepted) c.transport.close();
      server.close();
      yield* server.waitClosed();
    }
    loop.runUntilComplete(main());
  });

  it.runIf(recv === 'multishot')('multishot: a pool smaller than the peers sending at once (-ENOBUFS, armed again): every byte arrives, in order per connection', () => {
    // 4 buffers of 4 KiB shared by 24 transports (12 echoed connections,
    // both ends in this loop), each peer sending 192 KiB.
    (loop as unknown as { _recvPool(count: number, size: number): RecvPool | null })._recvPool(4, 4096);
    const peers = 12;
    const data = Array.from({ length: peers }, () => randomBytes(192 * 1024));
    function* main(): Co<string[]> {
      const server = yield* loop.createServer(() => new BorrowEcho(), '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const clients: Array<[Transport, Collector]> = [];
      for (let i = 0; i < peers; i++) clients.push(yield* loop.createConnection(() => new Collector(), '127.0.0.1', port));
      clients.forEach(([t], i) => {
        for (let off = 0; off < data[i]!.length; off += 16 * 1024) t.write(data[i]!.subarray(off, off + 16 * 1024));
      });
      yield* until(() => clients.every(([, c], i) => c.bytes().length === data[i]!.length), 30);
      const pool = poolOf(loop)!;
      expect(pool.count).toBe(4);
      expect(pool.ended).toBeGreaterThan(0);
      expect(pool.held).toBe(0);
      for (const [t] of clients) t.close();
      server.close();
      yield* server.waitClosed();
      return clients.map(([, c]) => sha(c.bytes()));
    }
    expect(loop.runUntilComplete(main())).toEqual(data.map(sha));
  });

  it.runIf(recv === 'multishot')('multishot: paused connections hold no pool buffer (their parked bytes are copied out); close and abort give everything back', () => {
    (loop as unknown as { _recvPool(count: number, size: number): RecvPool | null })._recvPool(2, 1024);
    class PauseAfterFirst extends Collector {
      override dataReceived(data: Buffer): void {
        super.dataReceived(data);
        this.transport.pauseReading();
      }
    }
    function* main(): Co<void> {
      const accepted: PauseAfterFirst[] = [];
      const server = yield* loop.createServer(() => {
        const c = new PauseAfterFirst();
        accepted.push(c);
        return c;
      }, '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const clients: Transport[] = [];
      for (let i = 0; i < 6; i++) clients.push((yield* loop.createConnection(() => new Collector(), '127.0.0.1', port))[0]);
      yield* until(() => accepted.length === 6);
      // More connections paused with data than the pool has buffers.
      clients.forEach((t, i) => t.write(Buffer.alloc(5000, i)));
      yield* until(() => accepted.every((c) => c.chunks.length === 1));
      yield* sleep(0.02);
      const pool = poolOf(loop)!;
      expect(pool.held).toBe(0);
      // Resumed one at a time, each gets all its bytes, in order.
      for (const [i, c] of accepted.entries()) {
        (c as Collector).dataReceived = Collector.prototype.dataReceived;
        c.transport.resumeReading();
        yield* until(() => c.bytes().length === 5000);
        expect(c.bytes().equals(Buffer.alloc(5000, i))).toBe(true);
      }
      // Paused with parked data, then closed or aborted: the buffers come back.
      for (const c of accepted) (c as Collector).dataReceived = PauseAfterFirst.prototype.dataReceived;
      clients.forEach((t) => t.write(Buffer.alloc(3000, 9)));
      yield* sleep(0.05);
      accepted.forEach((c, i) => (i % 2 === 0 ? c.transport.close() : c.transport.abort()));
      yield* until(() => accepted.every((c) => c.lostCount === 1));
      expect(pool.held).toBe(0);
      expect(pool.lent).toBe(0);
      for (const t of clients) t.close();
      server.close();
      yield* server.waitClosed();
    }
    loop.runUntilComplete(main());
  });

  it('closing the loop with transports open releases every operation in flight', () => {
    const other = newEventLoop({ selector: 'io_uring', transports: 'proactor' });
    function* main(): Co<Transport[]> {
      const server = yield* other.createServer(() => new Collector(), '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const [ct] = yield* other.createConnection(() => new Collector(), '127.0.0.1', port);
      yield* sleep(0.01);
      ct.abort();
      server.close();
      yield* server.waitClosed();
      server.abortClients();
      yield* settle();
      return [ct];
    }
    other.runUntilComplete(main());
    other.close();
    expect(other.isClosed()).toBe(true);
  });
});
