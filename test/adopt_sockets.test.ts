// Adopting existing sockets: { sock } on the connection, server, Unix and
// datagram functions and the stream helpers, a coio Socket or a raw fd
// (socket activation, an fd from a parent), and loop.connectAcceptedSocket,
// on every backend over real sockets.
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AF_INET, AF_UNIX, SOCK_DGRAM, SOCK_STREAM, Socket, openConnection, sleep, startServer } from '../src/index.js';
import type { DatagramProtocol, Protocol, SockAddress, StreamReader, StreamWriter, Transport } from '../src/index.js';
import { thrownBy } from './core_helpers.js';
import { backends, tempDir, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

const dir = tempDir();

class Echo implements Protocol {
  transport!: Transport;
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  dataReceived(data: Buffer): void {
    this.transport.write(data);
  }
  connectionLost(): void {}
}

class Collect implements Protocol {
  transport!: Transport;
  got = '';
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  dataReceived(data: Buffer): void {
    this.got += String(data);
  }
  connectionLost(): void {}
}

function* echoHandler(reader: StreamReader, writer: StreamWriter): Co<void> {
  const line = yield* reader.readLine();
  writer.write(line);
  yield* writer.drain();
  writer.close();
}

function boundTcp(): Socket {
  const s = new Socket(AF_INET, SOCK_STREAM);
  s.bind(['127.0.0.1', 0]);
  return s;
}

const portOf = (s: Socket): number => (s.getsockname() as { port: number }).port;

describe.each(backends)('adopting sockets on %s', (backend) => {
  const t = useLoop(backend);

  function* roundTrip(port: number): Co<string> {
    const [r, w] = yield* openConnection('127.0.0.1', port);
    w.write('hello\n');
    const line = String(yield* r.readLine());
    w.close();
    yield* w.waitClosed();
    return line;
  }

  for (const kind of ['Socket', 'fd'] as const) {
    it(`createServer / startServer with { sock } (a bound ${kind}): listens on it and serves`, () => {
      t.run(
        (function* (): Co<void> {
          const s = boundTcp();
          const port = portOf(s);
          const server = yield* t.loop.createServer(() => new Echo(), null, null, { sock: kind === 'fd' ? s.detach() : s });
          expect(yield* roundTrip(port)).toBe('hello\n');
          server.close();
          yield* server.waitClosed();
          const s2 = boundTcp();
          const port2 = portOf(s2);
          const streams = yield* startServer(echoHandler, null, null, { sock: kind === 'fd' ? s2.detach() : s2 });
          expect(yield* roundTrip(port2)).toBe('hello\n');
          streams.close();
          yield* streams.waitClosed();
        })(),
      );
    });

    it(`createConnection / openConnection with { sock } (a connected ${kind})`, () => {
      t.run(
        (function* (): Co<void> {
          const server = yield* t.loop.createServer(() => new Echo(), '127.0.0.1', 0);
          const port = (server.addresses()[0] as { port: number }).port;
          const c = new Socket(AF_INET, SOCK_STREAM);
          yield* t.loop.sockConnect(c, ['127.0.0.1', port]);
          const [tr, p] = yield* t.loop.createConnection(() => new Collect(), null, null, { sock: kind === 'fd' ? c.detach() : c });
          tr.write('abc');
          for (let i = 0; i < 200 && p.got.length < 3; i++) yield* sleep(0.005);
          expect(p.got).toBe('abc');
          tr.close();
          const c2 = new Socket(AF_INET, SOCK_STREAM);
          yield* t.loop.sockConnect(c2, ['127.0.0.1', port]);
          const [r, w] = yield* openConnection(null, null, { sock: kind === 'fd' ? c2.detach() : c2 });
          w.write('x\n');
          expect(String(yield* r.readLine())).toBe('x\n');
          w.close();
          yield* w.waitClosed();
          server.close();
          yield* server.waitClosed();
        })(),
      );
    });
  }

  it('loop.connectAcceptedSocket: a connection accepted by our own code becomes a transport (Socket and fd)', () => {
    t.run(
      (function* (): Co<void> {
        const listener = boundTcp();
        listener.listen(4);
        try {
          for (const kind of ['Socket', 'fd'] as const) {
            const client = t.loop.createTask(roundTrip(portOf(listener)));
            const [conn] = yield* t.loop.sockAccept(listener);
            const [tr] = yield* t.loop.connectAcceptedSocket(() => new Echo(), kind === 'fd' ? conn.detach() : conn);
            expect(yield* client).toBe('hello\n');
            tr.close();
          }
        } finally {
          listener.close();
        }
      })(),
    );
  });

  it('Unix: createUnixServer / createUnixConnection with { sock }', () => {
    t.run(
      (function* (): Co<void> {
        const path = join(dir, `adopt-${backend}.sock`);
        const s = new Socket(AF_UNIX, SOCK_STREAM);
        s.bind(path);
        const server = yield* t.loop.createUnixServer(() => new Echo(), null, { sock: s.detach() });
        const c = new Socket(AF_UNIX, SOCK_STREAM);
        yield* t.loop.sockConnect(c, path);
        const [tr, p] = yield* t.loop.createUnixConnection(() => new Collect(), null, { sock: c });
        tr.write('unix');
        for (let i = 0; i < 200 && p.got.length < 4; i++) yield* sleep(0.005);
        expect(p.got).toBe('unix');
        tr.close();
        server.close();
        yield* server.waitClosed();
      })(),
    );
  });

  it('createDatagramEndpoint with { sock }: a bound UDP socket, and a connected one', () => {
    t.run(
      (function* (): Co<void> {
        const got: Array<[string, SockAddress]> = [];
        const a = new Socket(AF_INET, SOCK_DGRAM);
        a.bind(['127.0.0.1', 0]);
        const aPort = portOf(a);
        const [ta] = yield* t.loop.createDatagramEndpoint(() => ({ datagramReceived: (d: Buffer, addr: SockAddress) => got.push([String(d), addr]) }) as DatagramProtocol, { sock: a.detach() });
        const b = new Socket(AF_INET, SOCK_DGRAM);
        b.connect(['127.0.0.1', aPort]);
        const [tb] = yield* t.loop.createDatagramEndpoint(() => ({ datagramReceived: () => {} }) as DatagramProtocol, { sock: b });
        expect(tb.getExtraInfo('peername')).toMatchObject({ port: aPort });
        tb.sendto(Buffer.from('dgram'));
        for (let i = 0; i < 200 && got.length === 0; i++) yield* sleep(0.005);
        expect(got[0]![0]).toBe('dgram');
        ta.close();
        tb.close();
      })(),
    );
  });

  it('bad { sock }: wrong type or family, host with sock, not a socket: clear errors, the caller keeps its fd', () => {
    t.run(
      (function* (): Co<void> {
        const udp = new Socket(AF_INET, SOCK_DGRAM);
        const tcp = boundTcp();
        const devnull = openSync('/dev/null', 'r');
        try {
          expect(yield* thrownBy(t.loop.createServer(() => new Echo(), null, null, { sock: udp }))).toBeInstanceOf(RangeError);
          expect(yield* thrownBy(t.loop.createServer(() => new Echo(), null, null, { sock: udp.fileno() }))).toBeInstanceOf(RangeError);
          expect(yield* thrownBy(t.loop.createDatagramEndpoint(() => ({ datagramReceived: () => {} }) as DatagramProtocol, { sock: tcp }))).toBeInstanceOf(RangeError);
          expect(yield* thrownBy(t.loop.createDatagramEndpoint(() => ({ datagramReceived: () => {} }) as DatagramProtocol, { sock: udp, localAddr: ['127.0.0.1', 0] }))).toBeInstanceOf(RangeError);
          expect(yield* thrownBy(t.loop.createUnixServer(() => new Echo(), null, { sock: tcp }))).toBeInstanceOf(RangeError);
          expect(yield* thrownBy(t.loop.createServer(() => new Echo(), '127.0.0.1', 0, { sock: tcp }))).toBeInstanceOf(RangeError);
          expect(yield* thrownBy(t.loop.createConnection(() => new Echo(), '127.0.0.1', 1, { sock: tcp }))).toBeInstanceOf(RangeError);
          expect(yield* thrownBy(t.loop.createConnection(() => new Echo(), null, null, { sock: 'x' as never }))).toBeInstanceOf(TypeError);
          expect(yield* thrownBy(t.loop.createConnection(() => new Echo(), null, null))).toBeInstanceOf(RangeError);
          const notSock = (yield* thrownBy(t.loop.createConnection(() => new Echo(), null, null, { sock: devnull }))) as NodeJS.ErrnoException;
          expect(notSock.code).toBe('ENOTSOCK');
          expect(tcp.closed).toBe(false);
          expect(udp.closed).toBe(false);
        } finally {
          closeSync(devnull);
          udp.close();
          tcp.close();
        }
      })(),
    );
  });
});
