// Socket coroutines on the loop (sockRecv, sockSendall, ...) over real
// loopback sockets, on every backend.
import { describe, expect, it } from 'vitest';
import { createTask, sleep, CancelledError, waitFor, TimeoutError } from '../src/index.js';
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
});
