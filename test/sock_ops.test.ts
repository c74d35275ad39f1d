// Socket coroutines on the loop (sockRecv, sockSendall, ...) over real
// loopback sockets, on every backend.
import { describe, expect, it } from 'vitest';
import { createTask, newEventLoop, sleep, CancelledError, waitFor, TimeoutError } from '../src/index.js';
import { native } from '../src/native.js';
import { AF_INET, AF_INET6, SOCK_DGRAM, Socket, socketpair } from '../src/socket.js';
import { backends, loopbackHosts, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

function listener(host: string): Socket {
  const s = new Socket(host.includes(':') ? AF_INET6 : AF_INET);
  s.bind([host, 0]);
  s.listen();
  return s;
}

describe.each(backends)('%s backend', (backend) => {
  const t = useLoop(backend);

  it.each(loopbackHosts)('accepts, connects and echoes over %s', (host) => {
    const srv = listener(host);
    const addr = srv.getsockname() as { address: string; port: number };
    const client = new Socket(srv.family);
    const loop = t.loop;
    function* server(): Co<string> {
      const [conn] = yield* loop.sockAccept(srv);
      try {
        const data = yield* loop.sockRecv(conn, 1024);
        yield* loop.sockSendall(conn, Buffer.concat([Buffer.from('echo:'), data]));
        return data.toString();
      } finally {
        conn.close();
      }
    }
    function* main(): Co<[string, string]> {
      const task = createTask(server());
      yield* loop.sockConnect(client, [addr.address, addr.port]);
      yield* loop.sockSendall(client, 'hello');
      const buf = Buffer.alloc(64);
      let got = '';
      while (got.length < 10) {
        const n = yield* loop.sockRecvInto(client, buf);
        if (n === 0) break;
        got += buf.subarray(0, n).toString();
      }
      return [yield* task, got];
    }
    try {
      expect(t.run(main())).toEqual(['hello', 'echo:hello']);
    } finally {
      client.close();
      srv.close();
    }
  });

  it('sendall pushes more than the socket buffer holds while the peer reads slowly', () => {
    const [a, b] = socketpair();
    const loop = t.loop;
    const payload = Buffer.alloc(4 * 1024 * 1024, 7);
    function* reader(): Co<number> {
      let total = 0;
      for (;;) {
        const chunk = yield* loop.sockRecv(b, 65536);
        if (chunk.length === 0) return total;
        total += chunk.length;
      }
    }
    function* main(): Co<number> {
      const r = createTask(reader());
      yield* loop.sockSendall(a, payload);
      a.shutdown(1);
      return yield* r;
    }
    try {
      expect(t.run(main())).toBe(payload.length);
    } finally {
      a.close();
      b.close();
    }
  });

  it('a cancelled sockRecv removes its reader and loses no data', () => {
    const [a, b] = socketpair();
    const loop = t.loop;
    function* main(): Co<string> {
      const pending = createTask(loop.sockRecv(b, 100));
      yield* sleep(0.01);
      expect(loop._selector.getMap().has(b.fileno())).toBe(true);
      pending.cancel();
      try {
        yield* pending;
      } catch (err) {
        expect(err).toBeInstanceOf(CancelledError);
      }
      yield* sleep(0);
      expect(loop._selector.getMap().has(b.fileno())).toBe(false);
      a.send('kept');
      return (yield* loop.sockRecv(b, 100)).toString();
    }
    try {
      expect(t.run(main())).toBe('kept');
    } finally {
      a.close();
      b.close();
    }
  });

  it('a cancelled sockAccept leaves the connection for the next accept', () => {
    const srv = listener('127.0.0.1');
    const addr = srv.getsockname() as { address: string; port: number };
    const loop = t.loop;
    const client = new Socket(AF_INET);
    function* main(): Co<boolean> {
      try {
        yield* waitFor(loop.sockAccept(srv), 0.02);
      } catch (err) {
        expect(err).toBeInstanceOf(TimeoutError);
      }
      yield* loop.sockConnect(client, [addr.address, addr.port]);
      const [conn] = yield* loop.sockAccept(srv);
      conn.close();
      return true;
    }
    try {
      expect(t.run(main())).toBe(true);
    } finally {
      client.close();
      srv.close();
    }
  });

  it('sockConnect to a closed port raises ECONNREFUSED with its code', () => {
    const probe = listener('127.0.0.1');
    const { port } = probe.getsockname() as { port: number };
    probe.close();
    const c = new Socket(AF_INET);
    try {
      expect(() => t.run(t.loop.sockConnect(c, ['127.0.0.1', port]))).toThrow(
        expect.objectContaining({ code: 'ECONNREFUSED', syscall: 'connect', errno: expect.any(Number) }),
      );
    } finally {
      c.close();
    }
  });

  it('sends and receives datagrams', () => {
    const a = new Socket(AF_INET, SOCK_DGRAM);
    const b = new Socket(AF_INET, SOCK_DGRAM);
    a.bind(['127.0.0.1', 0]);
    b.bind(['127.0.0.1', 0]);
    const loop = t.loop;
    function* main(): Co<[string, unknown]> {
      const r = createTask(loop.sockRecvfrom(b, 100));
      yield* sleep(0.005);
      yield* loop.sockSendto(a, 'dgram', b.getsockname() as { address: string; port: number });
      const [data, from] = yield* r;
      return [data.toString(), from];
    }
    try {
      expect(t.run(main())).toEqual(['dgram', a.getsockname()]);
    } finally {
      a.close();
      b.close();
    }
  });
  // The race: readiness is reported and the task is cancelled in the same
  // iteration, before it resumes. A pipe made readable right after the
  // socket is reported after it (epoll: in readiness order; poll: in
  // registration order; select: in fd order), and its reader cancels the
  // task. The old code had already accepted (or received) in the readiness
  // callback by then, and the result was dropped with the Future.
  function* cancelRightAfterReadiness(task: { cancel(): boolean }, makeReady: () => void): Co<void> {
    const loop = t.loop;
    const [r, w] = native.pipe();
    try {
      loop.addReader(r, () => {
        loop.removeReader(r);
        task.cancel();
      });
      makeReady();
      native.write(w, Buffer.from('x'), 0, 1);
      yield* sleep(0);
      yield* sleep(0);
    } finally {
      loop.removeReader(r);
      native.close(r);
      native.close(w);
    }
  }

  it('cancelling sockAccept as the connection arrives loses no connection and leaks no fd', () => {
    const srv = listener('127.0.0.1');
    const addr = srv.getsockname() as { address: string; port: number };
    const loop = t.loop;
    const fdsBefore = native.countOpenFds();
    function* main(): Co<void> {
      for (let i = 0; i < 20; i++) {
        const client = new Socket(AF_INET);
        const task = createTask(loop.sockAccept(srv));
        yield* sleep(0);
        yield* cancelRightAfterReadiness(task, () => client.connect([addr.address, addr.port]));
        let conn: Socket;
        try {
          [conn] = yield* task;
        } catch (err) {
          expect(err).toBeInstanceOf(CancelledError);
          // Not taken by the cancelled accept: still queued for the next one.
          [conn] = yield* waitFor(loop.sockAccept(srv), 2);
        }
        conn.close();
        client.close();
      }
    }
    try {
      t.run(main());
      expect(native.countOpenFds()).toBe(fdsBefore);
    } finally {
      srv.close();
    }
  });

  it('waitFor(sockAccept) timing out as the connection arrives loses no connection', () => {
    const srv = listener('127.0.0.1');
    const addr = srv.getsockname() as { address: string; port: number };
    const loop = t.loop;
    const fdsBefore = native.countOpenFds();
    function* main(): Co<number> {
      let accepted = 0;
      for (let i = 0; i < 40; i++) {
        const client = new Socket(AF_INET);
        // The connection and the timeout land close together, in either order.
        loop.callLater(0.002 + (i % 8) * 0.0002, () => client.connect([addr.address, addr.port]));
        let conn: Socket;
        try {
          [conn] = yield* waitFor(loop.sockAccept(srv), 0.003);
        } catch (err) {
          expect(err).toBeInstanceOf(TimeoutError);
          [conn] = yield* waitFor(loop.sockAccept(srv), 2);
        }
        accepted++;
        conn.close();
        client.close();
      }
      return accepted;
    }
    try {
      expect(t.run(main())).toBe(40);
      expect(native.countOpenFds()).toBe(fdsBefore);
    } finally {
      srv.close();
    }
  });

  it('cancelling sockRecv, sockRecvInto or sockRecvfrom as data arrives loses no data', () => {
    const [a, b] = socketpair();
    const da = new Socket(AF_INET, SOCK_DGRAM);
    const db = new Socket(AF_INET, SOCK_DGRAM);
    da.bind(['127.0.0.1', 0]);
    db.bind(['127.0.0.1', 0]);
    const loop = t.loop;
    const ops = [
      ['sockRecv', () => loop.sockRecv(b, 100), () => a.send('x'), (v: unknown) => (v as Buffer).toString()],
      ['sockRecvInto', () => loop.sockRecvInto(b, Buffer.alloc(100)), () => a.send('x'), (v: unknown) => (v === 1 ? 'x' : `count ${String(v)}`)],
      ['sockRecvfrom', () => loop.sockRecvfrom(db, 100), () => da.sendto('x', db.getsockname() as { address: string; port: number }), (v: unknown) => (v as [Buffer])[0].toString()],
    ] as const;
    function* main(): Co<string[]> {
      const lost: string[] = [];
      for (const [name, op, send, text] of ops) {
        const task = createTask(op() as Co<unknown>);
        yield* sleep(0);
        yield* cancelRightAfterReadiness(task, send);
        let got: string;
        try {
          got = text(yield* task);
        } catch (err) {
          expect(err).toBeInstanceOf(CancelledError);
          try {
            got = text(yield* waitFor(op() as Co<unknown>, 0.5));
          } catch {
            got = 'lost';
          }
        }
        if (got !== 'x') lost.push(`${name}: ${got}`);
      }
      return lost;
    }
    try {
      expect(t.run(main())).toEqual([]);
    } finally {
      for (const s of [a, b, da, db]) s.close();
    }
  });

  it.each(['sockRecv', 'sockAccept', 'sockConnect', 'sockSendall'] as const)(
    'closing a socket while %s waits on it fails the waiter with EBADF and unregisters the fd',
    (op) => {
      const loop = t.loop;
      const srv = listener('127.0.0.1');
      const [a, b] = socketpair();
      // A connect to a listener whose backlog is full stays in progress.
      const full = new Socket(AF_INET);
      full.bind(['127.0.0.1', 0]);
      full.listen(0);
      const fullAddr = full.getsockname() as { address: string; port: number };
      const fillers: Socket[] = [];
      let target: Socket;
      let waiter: () => Co<unknown>;
      if (op === 'sockRecv') {
        target = b;
        waiter = () => loop.sockRecv(b, 100);
      } else if (op === 'sockAccept') {
        target = srv;
        waiter = () => loop.sockAccept(srv);
      } else if (op === 'sockSendall') {
        target = b;
        waiter = () => loop.sockSendall(b, Buffer.alloc(8 * 1024 * 1024));
      } else {
        target = new Socket(AF_INET);
        waiter = () => loop.sockConnect(target, [fullAddr.address, fullAddr.port]);
        for (let i = 0; i < 4; i++) {
          const f = new Socket(AF_INET);
          f.connect([fullAddr.address, fullAddr.port]);
          fillers.push(f);
        }
      }
      function* main(): Co<unknown> {
        const task = createTask(waiter());
        yield* sleep(0.02);
        expect(task.done()).toBe(false);
        const fd = target.fileno();
        // A proactor loop connects with an operation in the ring (its own
        // tests: uring_connect.test.ts), not a readiness wait.
        const inRing = op === 'sockConnect' && (loop as unknown as { _proactor: boolean })._proactor;
        const ops = (): number => (loop as unknown as { _opsInFlight: number })._opsInFlight;
        expect(inRing ? ops() === 1 : loop._selector.getMap().has(fd)).toBe(true);
        target.close();
        // Unregistered at once, before anything can reuse the number.
        expect(loop._selector.getMap().has(fd)).toBe(false);
        try {
          yield* waitFor(task, 1);
          return 'no error';
        } catch (err) {
          return err;
        }
      }
      try {
        expect(t.run(main())).toMatchObject({ code: 'EBADF', syscall: expect.any(String) });
      } finally {
        for (const s of [srv, a, b, full, target, ...fillers]) s.close();
      }
    },
  );

  it('a socket that reuses the fd number of one closed while waited on connects and reads normally', () => {
    const loop = t.loop;
    const srv = listener('127.0.0.1');
    const addr = srv.getsockname() as { address: string; port: number };
    function* main(): Co<string> {
      const [a, b] = socketpair();
      const orphan = createTask(loop.sockRecv(b, 100));
      yield* sleep(0.01);
      const fd = b.fileno();
      b.close();
      // The lowest free number: the one b had.
      const reuse = new Socket(AF_INET);
      a.close();
      try {
        expect(reuse.fileno()).toBe(fd);
        yield* loop.sockConnect(reuse, [addr.address, addr.port]);
        const [conn] = yield* loop.sockAccept(srv);
        try {
          const reading = createTask(loop.sockRecv(reuse, 100));
          yield* sleep(0.01);
          conn.send('woke');
          const got = String(yield* waitFor(reading, 2));
          yield* settleTask(orphan);
          return got;
        } finally {
          conn.close();
        }
      } finally {
        reuse.close();
      }
    }
    try {
      expect(t.run(main())).toBe('woke');
    } finally {
      srv.close();
    }
  });
});

function* settleTask(task: Iterable<unknown>): Co<void> {
  try {
    yield* task;
  } catch {
    // its error is not what this test is about
  }
}

it('closing a socket after the loop that waited on it was closed just closes it', () => {
  const [a, b] = socketpair();
  const loop = newEventLoop();
  try {
    loop.runUntilComplete(
      (function* (): Co<void> {
        createTask(loop.sockRecv(b, 10));
        yield* sleep(0.01);
      })(),
    );
  } finally {
    loop.close();
  }
  a.close();
  expect(() => b.close()).not.toThrow();
  expect(b.closed).toBe(true);
});
