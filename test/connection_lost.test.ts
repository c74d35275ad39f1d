// Which failures of an established connection are "the connection went
// away" (connectionLost(exc) and nothing else) and which are faults the
// loop's exception handler hears about: one list for every transport
// (CONNECTION_LOST_ERRORS in src/transport_helpers.ts), checked with real
// peers on every backend.
import { describe, expect, it } from 'vitest';
import { ProtocolBase, sleep, startServer, openConnection } from '../src/index.js';
import type { DatagramProtocol, ExceptionContext, Transport, DatagramTransport, SockAddress, StreamReader, StreamWriter } from '../src/index.js';
import { native } from '../src/native.js';
import { SOCK_DGRAM, AF_INET, Socket } from '../src/socket.js';
import { CONNECTION_LOST_ERRORS, isConnectionLost } from '../src/transport_helpers.js';
import { backends, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

function* until(cond: () => boolean, what: string, seconds = 5): Co<void> {
  const deadline = performance.now() + seconds * 1000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    yield* sleep(0.002);
  }
}

class Recorder extends ProtocolBase {
  transport!: Transport;
  lost: Error | null | undefined = undefined;
  lostCount = 0;
  override connectionMade(t: Transport): void {
    this.transport = t;
  }
  override dataReceived(): void {}
  override connectionLost(exc: Error | null): void {
    this.lostCount++;
    this.lost = exc;
  }
}

class Datagrams implements DatagramProtocol {
  transport!: DatagramTransport;
  errors: Error[] = [];
  received: Buffer[] = [];
  lost = 0;
  connectionMade(t: DatagramTransport): void {
    this.transport = t;
  }
  datagramReceived(data: Buffer, _addr: SockAddress): void {
    this.received.push(Buffer.from(data));
  }
  errorReceived(exc: Error): void {
    this.errors.push(exc);
  }
  connectionLost(): void {
    this.lost++;
  }
}

/** A UDP port nobody listens on (bound, read, closed). */
function deadUdpPort(): number {
  const s = new Socket(AF_INET, SOCK_DGRAM);
  try {
    s.bind(['127.0.0.1', 0]);
    return (s.getsockname() as { port: number }).port;
  } finally {
    s.close();
  }
}

describe('the connection-lost list', () => {
  it('holds the peer / network errnos and no fault errno', () => {
    for (const code of ['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ESHUTDOWN', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN']) {
      expect(CONNECTION_LOST_ERRORS.has(code), code).toBe(true);
    }
    for (const code of ['EBADF', 'EINVAL', 'ENOTSOCK', 'EFAULT', 'ENOMEM', 'ENOBUFS', 'EACCES']) {
      expect(CONNECTION_LOST_ERRORS.has(code), code).toBe(false);
    }
    expect(isConnectionLost(native.errorFromErrno(native.errno.ECONNRESET!, 'recv'))).toBe(true);
    expect(isConnectionLost(native.errorFromErrno(native.errno.EBADF!, 'recv'))).toBe(false);
    expect(isConnectionLost(new TypeError('x'))).toBe(false);
    expect(isConnectionLost(null)).toBe(false);
  });
});

describe.each(backends)('connection lost or fault on %s', (backend) => {
  const t = useLoop(backend);

  function captureHandler(): ExceptionContext[] {
    const calls: ExceptionContext[] = [];
    t.loop.setExceptionHandler((_l, ctx) => {
      calls.push(ctx);
    });
    return calls;
  }

  it('an RST from the peer: connectionLost(ECONNRESET) on the reading side, no report', () => {
    const loop = t.loop;
    const calls = captureHandler();
    function* main(): Co<void> {
      const serverSide: Recorder[] = [];
      const server = yield* loop.createServer(
        () => {
          const p = new Recorder();
          serverSide.push(p);
          return p;
        },
        '127.0.0.1',
        0,
      );
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const [tr, client] = yield* loop.createConnection(() => new Recorder(), '127.0.0.1', port);
      yield* until(() => serverSide.length === 1, 'the accept');
      // Data the server never reads, then abort(): the kernel sends an RST,
      // which the idle client reads as ECONNRESET.
      serverSide[0]!.transport.pauseReading();
      tr.write('never read');
      yield* sleep(0.01);
      serverSide[0]!.transport.abort();
      yield* until(() => client.lostCount === 1, "the client's connectionLost");
      expect((client.lost as NodeJS.ErrnoException | null)?.code).toBe('ECONNRESET');
      server.close();
      yield* server.waitClosed();
    }
    t.run(main());
    expect(calls.map((c) => c.message)).toEqual([]);
  });

  it('ICMP port unreachable on a connected UDP endpoint: errorReceived(ECONNREFUSED), no report, the endpoint stays open', () => {
    const loop = t.loop;
    const calls = captureHandler();
    function* main(): Co<void> {
      const port = deadUdpPort();
      const [tr, p] = yield* loop.createDatagramEndpoint(() => new Datagrams(), { remoteAddr: ['127.0.0.1', port] });
      // Linux queues the ICMP error on the connected socket: the next
      // receive (the transport is reading) or send fails with ECONNREFUSED.
      for (let i = 0; i < 50 && p.errors.length === 0; i++) {
        tr.sendto('anyone?');
        yield* sleep(0.005);
      }
      expect(p.errors.length).toBeGreaterThan(0);
      expect(p.errors.map((e) => (e as NodeJS.ErrnoException).code)).toContain('ECONNREFUSED');
      expect(tr.isClosing()).toBe(false);
      expect(p.lost).toBe(0);
      // Still usable: a send does not throw.
      tr.sendto('still here');
      tr.close();
      yield* until(() => p.lost === 1, 'connectionLost');
    }
    t.run(main());
    expect(calls.map((c) => c.message)).toEqual([]);
  });

  it('a pipe whose reader closed: connectionLost(EPIPE) on the writer, no report', () => {
    const loop = t.loop;
    const calls = captureHandler();
    function* main(): Co<void> {
      const [r, w] = native.pipe();
      const [tr, p] = yield* loop.connectWritePipe(() => new Recorder(), w);
      native.close(r);
      tr.write('to nobody');
      yield* until(() => p.lostCount === 1, 'connectionLost');
      expect(['EPIPE', undefined]).toContain((p.lost as NodeJS.ErrnoException | null)?.code);
    }
    t.run(main());
    expect(calls.map((c) => c.message)).toEqual([]);
  });

  it.each([
    ['ETIMEDOUT', false],
    ['EHOSTUNREACH', false],
    ['ECONNRESET', false],
    ['EBADF', true],
    ['EINVAL', true],
  ] as const)('a stream handler that fails with %s: reported = %s (the same list as the transports)', (code, reported) => {
    const calls = captureHandler();
    function* main(): Co<void> {
      const server = yield* startServer(function* (_reader: StreamReader, _writer: StreamWriter): Co<void> {
        throw native.errorFromErrno(native.errno[code]!, 'recv');
      }, '127.0.0.1', 0);
      const { port } = server.sockets[0]!.getsockname() as { port: number };
      const [reader, writer] = yield* openConnection('127.0.0.1', port);
      // The handler failed, so the server closed the connection: EOF here.
      expect((yield* reader.read()).length).toBe(0);
      writer.close();
      yield* writer.waitClosed();
      server.close();
      yield* server.waitClosed();
    }
    t.run(main());
    expect(calls.map((c) => c.message)).toEqual(reported ? ['Unhandled exception in client_connected_cb'] : []);
  });
});
