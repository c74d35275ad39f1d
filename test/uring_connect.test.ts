// sockConnect (and the connect step of createConnection, openConnection and
// openUnixConnection) on every backend, over real loopback TCP (127.0.0.1,
// ::1) and Unix paths. On an io_uring loop with the proactor transports the
// connect is one IORING_OP_CONNECT in the ring (sock_ops.ts connectInRing);
// elsewhere it waits for writability. Both must give the same answers: the
// same errors, the same state left after a cancellation or a close.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AF_INET, AF_INET6, AF_UNIX, CancelledError, SOCK_DGRAM, SOCK_STREAM, Socket, createTask, newEventLoop, openConnection, openUnixConnection, sleep, startServer, startUnixServer, uringStatus, waitFor } from '../src/index.js';
import type { EventLoop } from '../src/index.js';
import { native, OP_CONNECT } from '../src/native.js';
import { thrownBy } from './core_helpers.js';
import { backends, hasUring, loopbackHosts, settle, streamEcho, stallingListener, tempDir, useLoop } from './helpers.js';
import type { Co } from './helpers.js';
import { trackLoop } from './leaks.js';

const familyOf = (host: string): number => (host.includes(':') ? AF_INET6 : AF_INET);
const portOf = (sock: Socket): number => (sock.getsockname() as { port: number }).port;
const openFdCount = (): number => readdirSync('/proc/self/fd').length;
const opsInFlight = (loop: EventLoop): number => (loop as unknown as { _opsInFlight: number })._opsInFlight;
const watched = (loop: EventLoop): number[] => [...loop._selector.getMap().keys()];

/** Whether this loop connects in the ring (a proactor loop on a kernel with IORING_OP_CONNECT). */
const connectsInRing = (loop: EventLoop): boolean => (loop as unknown as { _proactor: boolean })._proactor && uringStatus().connect;

/** Records the operations the loop submits (their op codes), to tell the ring's connect from readiness's. */
function recordOps(loop: EventLoop): number[] {
  const ops: number[] = [];
  const l = loop as unknown as { _submitOp: (op: number, ...rest: unknown[]) => number };
  const submit = l._submitOp.bind(l);
  l._submitOp = (op: number, ...rest: unknown[]): number => {
    ops.push(op);
    return submit(op, ...rest);
  };
  return ops;
}

function listening(host: string, backlog = 16): Socket {
  const sock = new Socket(familyOf(host), SOCK_STREAM);
  sock.bind([host, 0]);
  sock.listen(backlog);
  return sock;
}

/** A port with nothing listening: connects are refused. */
function refusedPort(host: string): number {
  const s = new Socket(familyOf(host), SOCK_STREAM);
  s.bind([host, 0]);
  const port = portOf(s);
  s.close();
  return port;
}

describe.each(backends)('sockConnect on %s', (backend) => {
  const t = useLoop(backend);
  const dir = tempDir();
  let pathCount = 0;
  const newPath = (): string => join(dir, `s${pathCount++}`);

  it.each(loopbackHosts)('connects to a listener on %s: both ends agree; in the ring on a proactor loop', (host) => {
    const ops = recordOps(t.loop);
    t.run(
      (function* (): Co<void> {
        const listener = listening(host);
        const client = new Socket(familyOf(host), SOCK_STREAM);
        try {
          yield* t.loop.sockConnect(client, { host, port: portOf(listener) });
          const [conn, peer] = yield* t.loop.sockAccept(listener);
          try {
            expect(client.getpeername()).toMatchObject({ address: host, port: portOf(listener) });
            expect(peer).toEqual(client.getsockname());
            yield* t.loop.sockSendall(client, 'hi');
            expect((yield* t.loop.sockRecv(conn, 16)).toString()).toBe('hi');
          } finally {
            conn.close();
          }
        } finally {
          client.close();
          listener.close();
        }
      })(),
    );
    expect(ops.includes(OP_CONNECT)).toBe(connectsInRing(t.loop));
    expect(opsInFlight(t.loop)).toBe(0);
  });

  it('connects to a Unix path; the listener sees the connection', () => {
    const ops = recordOps(t.loop);
    t.run(
      (function* (): Co<void> {
        const path = newPath();
        const listener = new Socket(AF_UNIX, SOCK_STREAM);
        listener.bind(path);
        listener.listen(4);
        const client = new Socket(AF_UNIX, SOCK_STREAM);
        try {
          yield* t.loop.sockConnect(client, path);
          expect(client.getpeername()).toEqual({ family: 'unix', path });
          const [conn] = yield* t.loop.sockAccept(listener);
          conn.close();
        } finally {
          client.close();
          listener.close();
        }
      })(),
    );
    expect(ops.includes(OP_CONNECT)).toBe(connectsInRing(t.loop));
  });

  it('openConnection and openUnixConnection connect (through the ring on a proactor loop) and carry data', () => {
    const ops = recordOps(t.loop);
    t.run(
      (function* (): Co<void> {
        const path = newPath();
        const tcp = yield* startServer(streamEcho, '127.0.0.1', 0);
        const unix = yield* startUnixServer(streamEcho, path);
        try {
          for (const [reader, writer] of [yield* openConnection('127.0.0.1', portOf(tcp.sockets[0]!)), yield* openUnixConnection(path)]) {
            writer.write('ping');
            writer.writeEof();
            expect((yield* reader.read(-1)).toString()).toBe('ping');
            writer.close();
            yield* writer.waitClosed();
          }
        } finally {
          tcp.close();
          unix.close();
          yield* tcp.waitClosed();
          yield* unix.waitClosed();
        }
      })(),
    );
    expect(ops.filter((op) => op === OP_CONNECT)).toHaveLength(connectsInRing(t.loop) ? 2 : 0);
  });

  it.each(loopbackHosts)('refused on %s: the same OSError as readiness gives (code, errno, syscall, address, port, message); the socket stays open', (host) => {
    t.run(
      (function* (): Co<void> {
        const port = refusedPort(host);
        const client = new Socket(familyOf(host), SOCK_STREAM);
        try {
          const err = (yield* thrownBy(t.loop.sockConnect(client, [host, port]))) as NodeJS.ErrnoException & { address: string; port: number };
          const expected = native.errorFromErrno(native.errno.ECONNREFUSED!, 'connect', host, port);
          expect(err).toBeInstanceOf(Error);
          expect(err.message).toBe(`connect ECONNREFUSED ${host}:${port}`);
          expect(err.message).toBe(expected.message);
          expect({ code: err.code, errno: err.errno, syscall: err.syscall, address: err.address, port: err.port }).toEqual({ code: 'ECONNREFUSED', errno: -native.errno.ECONNREFUSED!, syscall: 'connect', address: host, port });
          expect(client.closed).toBe(false);
        } finally {
          client.close();
        }
      })(),
    );
    expect(opsInFlight(t.loop)).toBe(0);
  });

  it('refused on Unix paths: ENOENT (no such path), ECONNREFUSED (nobody listening), EAGAIN (backlog full), with the path', () => {
    t.run(
      (function* (): Co<void> {
        const missing = newPath();
        const unlistened = newPath();
        const full = newPath();
        const bound = new Socket(AF_UNIX, SOCK_STREAM);
        bound.bind(unlistened);
        const listener = new Socket(AF_UNIX, SOCK_STREAM);
        listener.bind(full);
        listener.listen(0);
        const socks: Socket[] = [];
        const sock = (): Socket => {
          const s = new Socket(AF_UNIX, SOCK_STREAM);
          socks.push(s);
          return s;
        };
        try {
          for (const [path, code] of [
            [missing, 'ENOENT'],
            [unlistened, 'ECONNREFUSED'],
          ] as const) {
            const err = (yield* thrownBy(t.loop.sockConnect(sock(), path))) as NodeJS.ErrnoException & { address: string };
            expect({ code: err.code, syscall: err.syscall, address: err.address, message: err.message }).toEqual({ code, syscall: 'connect', address: path, message: `connect ${code} ${path}` });
          }
          // A backlog of 0 takes one connection (Linux); the next finds it
          // full. Such a connect does not go on in the background: EAGAIN
          // (never "connected" with an unconnected socket).
          const outcomes: string[] = [];
          for (let i = 0; i < 4; i++) {
            const s = sock();
            try {
              yield* t.loop.sockConnect(s, full);
              s.getpeername(); // connected for real
              outcomes.push('connected');
            } catch (e) {
              expect((e as NodeJS.ErrnoException).syscall).toBe('connect');
              expect((e as Error).message).toBe(`connect EAGAIN ${full}`);
              outcomes.push((e as NodeJS.ErrnoException).code!);
            }
          }
          expect(outcomes).toEqual(['connected', 'EAGAIN', 'EAGAIN', 'EAGAIN']);
        } finally {
          for (const s of socks) s.close();
          bound.close();
          listener.close();
        }
      })(),
    );
  });

  it('cancelled while in flight (a listener whose accept queue is full): CancelledError, the operation or writer gone, the socket left open to its owner, no fd left', () => {
    const before = openFdCount();
    t.run(
      (function* (): Co<void> {
        const stall = yield* stallingListener(t.loop, '127.0.0.1');
        const client = new Socket(AF_INET, SOCK_STREAM);
        try {
          const task = createTask(t.loop.sockConnect(client, ['127.0.0.1', stall.port]));
          yield* sleep(0.05);
          expect(task.done()).toBe(false);
          if (connectsInRing(t.loop)) {
            // One operation in the ring, no readiness wait.
            expect(opsInFlight(t.loop)).toBe(1);
            expect(watched(t.loop)).not.toContain(client.fileno());
          } else {
            expect(watched(t.loop)).toContain(client.fileno());
          }
          task.cancel();
          expect(yield* thrownBy(waitFor(task, 1))).toBeInstanceOf(CancelledError);
          yield* settle();
          expect(opsInFlight(t.loop)).toBe(0);
          expect(watched(t.loop)).not.toContain(client.fileno());
          // As asyncio leaves it: open, not connected, its owner's to close.
          expect(client.closed).toBe(false);
          expect(() => client.getpeername()).toThrow(expect.objectContaining({ code: 'ENOTCONN' }));
        } finally {
          client.close();
          stall.close();
        }
      })(),
    );
    expect(openFdCount()).toBe(before);
  });

  it('the socket closed while its connect is in flight: EBADF naming connect, nothing left in flight', () => {
    const before = openFdCount();
    t.run(
      (function* (): Co<void> {
        const stall = yield* stallingListener(t.loop, '127.0.0.1');
        const client = new Socket(AF_INET, SOCK_STREAM);
        try {
          const task = createTask(t.loop.sockConnect(client, ['127.0.0.1', stall.port]));
          yield* sleep(0.02);
          client.close();
          const err = (yield* thrownBy(waitFor(task, 1))) as NodeJS.ErrnoException;
          expect({ code: err.code, syscall: err.syscall }).toEqual({ code: 'EBADF', syscall: 'connect' });
          yield* settle();
          expect(opsInFlight(t.loop)).toBe(0);
        } finally {
          client.close();
          stall.close();
        }
      })(),
    );
    expect(openFdCount()).toBe(before);
  });

  it('closed in the same step it was submitted (the connect still queued): nothing reaches the closed fd', () => {
    const before = openFdCount();
    t.run(
      (function* (): Co<void> {
        const listener = listening('127.0.0.1');
        const client = new Socket(AF_INET, SOCK_STREAM);
        try {
          const task = createTask(t.loop.sockConnect(client, ['127.0.0.1', portOf(listener)]));
          yield; // the task submits its connect
          client.close();
          // A socket made now may get the same fd number: the queued connect must not reach it.
          const other = new Socket(AF_INET, SOCK_STREAM);
          try {
            const err = (yield* thrownBy(waitFor(task, 1))) as NodeJS.ErrnoException;
            expect(err.code).toBe('EBADF');
            yield* settle();
            expect(() => other.getpeername()).toThrow(expect.objectContaining({ code: 'ENOTCONN' }));
          } finally {
            other.close();
          }
          expect(opsInFlight(t.loop)).toBe(0);
        } finally {
          client.close();
          listener.close();
        }
      })(),
    );
    expect(openFdCount()).toBe(before);
  });

  it('bad input is refused clearly, before any operation; the socket still connects after', () => {
    t.run(
      (function* (): Co<void> {
        const listener = listening('127.0.0.1');
        const client = new Socket(AF_INET, SOCK_STREAM);
        const unix = new Socket(AF_UNIX, SOCK_STREAM);
        const closed = new Socket(AF_INET, SOCK_STREAM);
        closed.close();
        try {
          expect(yield* thrownBy(t.loop.sockConnect(client, ['127.0.0.1', 70000]))).toBeInstanceOf(RangeError);
          expect(yield* thrownBy(t.loop.sockConnect(client, '127.0.0.1' as never))).toBeInstanceOf(TypeError);
          expect(yield* thrownBy(t.loop.sockConnect(client, [42, 80] as never))).toBeInstanceOf(TypeError);
          const bad = (yield* thrownBy(t.loop.sockConnect(client, ['999.1.1.1', 80]))) as NodeJS.ErrnoException;
          expect({ code: bad.code, syscall: bad.syscall, message: bad.message }).toEqual({ code: 'EINVAL', syscall: 'connect', message: 'connect EINVAL 999.1.1.1:80' });
          expect(yield* thrownBy(t.loop.sockConnect(unix, ['127.0.0.1', 80] as never))).toBeInstanceOf(TypeError);
          const long = (yield* thrownBy(t.loop.sockConnect(unix, '/tmp/' + 'x'.repeat(200)))) as NodeJS.ErrnoException;
          expect({ code: long.code, syscall: long.syscall }).toEqual({ code: 'ENAMETOOLONG', syscall: 'connect' });
          const ebadf = (yield* thrownBy(t.loop.sockConnect(closed, ['127.0.0.1', portOf(listener)]))) as NodeJS.ErrnoException;
          expect({ code: ebadf.code, syscall: ebadf.syscall }).toEqual({ code: 'EBADF', syscall: 'connect' });
          expect(opsInFlight(t.loop)).toBe(0);
          // Nothing was lost: the same socket connects.
          yield* t.loop.sockConnect(client, ['127.0.0.1', portOf(listener)]);
          expect(client.getpeername()).toMatchObject({ port: portOf(listener) });
        } finally {
          client.close();
          unix.close();
          listener.close();
        }
      })(),
    );
  });

  it('a datagram socket connects at once (no operation, no wait)', () => {
    const ops = recordOps(t.loop);
    t.run(
      (function* (): Co<void> {
        const peer = new Socket(AF_INET, SOCK_DGRAM);
        peer.bind(['127.0.0.1', 0]);
        const client = new Socket(AF_INET, SOCK_DGRAM);
        try {
          yield* t.loop.sockConnect(client, ['127.0.0.1', portOf(peer)]);
          expect(client.getpeername()).toMatchObject({ port: portOf(peer) });
        } finally {
          client.close();
          peer.close();
        }
      })(),
    );
    expect(ops).not.toContain(OP_CONNECT);
  });
});

describe.each(backends)('a loop closed with a connect in flight (%s)', (backend) => {
  it('closes without waiting for it; the socket is the owner\'s to close, no fd left', () => {
    const before = openFdCount();
    const loop = trackLoop(newEventLoop({ selector: backend as 'epoll' }));
    const client = new Socket(AF_INET, SOCK_STREAM);
    let stall: { port: number; close(): void } | null = null;
    try {
      stall = loop.runUntilComplete(stallingListener(loop, '127.0.0.1'));
      const task = loop.createTask(loop.sockConnect(client, ['127.0.0.1', stall.port]));
      loop.runUntilComplete(sleep(0.05));
      expect(task.done()).toBe(false);
      if (connectsInRing(loop)) expect(opsInFlight(loop)).toBe(1);
      const started = performance.now();
      loop.close();
      // The ring cancels and reaps its operation before the poller goes.
      expect(performance.now() - started).toBeLessThan(500);
      expect(task.done()).toBe(false);
    } finally {
      if (!loop.isClosed()) loop.close();
      client.close();
      stall?.close();
    }
    expect(openFdCount()).toBe(before);
  });
});

describe.runIf(hasUring)('the ring\'s connect on io_uring', () => {
  it('uringStatus().connect: the kernel lists IORING_OP_CONNECT', () => {
    expect(uringStatus().connect).toBe(true);
    expect(native.uringProbe(native.errno.ENOSYS!).connect).toBe(false);
  });

  it('transports: readiness keeps the readiness connect on io_uring', () => {
    const loop = trackLoop(newEventLoop({ selector: 'io_uring', transports: 'readiness' }));
    try {
      const ops = recordOps(loop);
      loop.runUntilComplete(
        (function* (): Co<void> {
          const listener = listening('127.0.0.1');
          const client = new Socket(AF_INET, SOCK_STREAM);
          try {
            yield* loop.sockConnect(client, ['127.0.0.1', portOf(listener)]);
          } finally {
            client.close();
            listener.close();
          }
        })(),
      );
      expect(ops).toEqual([]);
    } finally {
      loop.close();
    }
  });
});
