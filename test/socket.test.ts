// The Socket class over real loopback TCP (IPv4, IPv6), Unix paths and UDP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { newEventLoop } from '../src/index.js';
import { native } from '../src/native.js';
import { EVENT_WRITE, PollSelector } from '../src/selectors.js';
import { exposedGc } from './helpers.js';
import { AF_INET, AF_INET6, AF_UNIX, SHUT_WR, SOCK_DGRAM, Socket, socketpair } from '../src/socket.js';

const opened: Socket[] = [];
function sock(family = AF_INET, type?: number): Socket {
  const s = new Socket(family, type);
  opened.push(s);
  return s;
}
afterEach(() => {
  while (opened.length > 0) opened.pop()!.close();
});

const dir = mkdtempSync(join(tmpdir(), 'coio-socket-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function hasIPv6(): boolean {
  try {
    const s = new Socket(AF_INET6);
    try {
      s.bind(['::1', 0]);
      return true;
    } finally {
      s.close();
    }
  } catch {
    return false;
  }
}

/** Wait (briefly, by polling) until fn returns non-null. */
function until<T>(fn: () => T | null): T {
  const deadline = Date.now() + 2000;
  for (;;) {
    const v = fn();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  }
}

/** A connected (client, server-side) TCP pair on the given family. */
function tcpPair(family: number, host: string): [Socket, Socket, Socket] {
  const server = sock(family);
  server.bind([host, 0]);
  server.listen();
  const client = sock(family);
  const addr = server.getsockname();
  client.connect(addr as { address: string; port: number });
  const [conn] = until(() => server.accept());
  opened.push(conn);
  until(() => (native.getSocketError(client.fileno()) === 0 && client.getpeername() ? true : null));
  return [client, conn, server];
}

const families: Array<[string, number, string]> = [['IPv4', AF_INET, '127.0.0.1']];
if (hasIPv6()) families.push(['IPv6', AF_INET6, '::1']);

describe.each(families)('TCP over %s', (name, family, host) => {
  it('connects, exchanges data both ways and reports addresses', () => {
    const [client, conn, server] = tcpPair(family, host);
    expect(server.getsockname()).toMatchObject({ family: name, address: host });
    expect(client.getpeername()).toEqual(server.getsockname());
    expect(conn.getpeername()).toEqual(client.getsockname());
    expect(client.send('hello')).toBe(5);
    expect(until(() => conn.recv(100))!.toString()).toBe('hello');
    expect(conn.send(Buffer.from('world'))).toBe(5);
    const buf = Buffer.alloc(10);
    expect(until(() => client.recvInto(buf, 10))).toBe(5);
    expect(buf.subarray(0, 5).toString()).toBe('world');
  });

  it('returns null when nothing is there, and an empty Buffer at EOF', () => {
    const [client, conn] = tcpPair(family, host);
    expect(conn.recv(10)).toBeNull();
    client.shutdown(SHUT_WR);
    expect(until(() => conn.recv(10))).toEqual(Buffer.alloc(0));
  });

  it('sends several buffers with one vectored call', () => {
    const [client, conn] = tcpPair(family, host);
    const sent = client.sendv([Buffer.from('xxab'), Buffer.from('cd'), Buffer.from('ef')], 2);
    expect(sent).toBe(6);
    let got = '';
    while (got.length < 6) got += until(() => conn.recv(10))!.toString();
    expect(got).toBe('abcdef');
  });

  it('fills the send buffer and then returns null (would block)', () => {
    const [client] = tcpPair(family, host);
    const chunk = Buffer.alloc(256 * 1024);
    let total = 0;
    for (let i = 0; i < 10_000; i++) {
      const n = client.send(chunk);
      if (n === null) break;
      total += n;
    }
    expect(total).toBeGreaterThan(0);
    expect(client.send(chunk)).toBeNull();
  });

  it('raises EADDRINUSE with code, errno, syscall, address and port', () => {
    const a = sock(family);
    a.bind([host, 0]);
    a.listen();
    const { port } = a.getsockname() as { port: number };
    const b = sock(family);
    let err: NodeJS.ErrnoException | undefined;
    try {
      b.bind([host, port]);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'EADDRINUSE', errno: -native.errno.EADDRINUSE!, syscall: 'bind', address: host, port });
    expect(err!.message).toContain('EADDRINUSE');
  });

  it('reports ECONNREFUSED for a closed port through checkConnect', () => {
    const probe = sock(family);
    probe.bind([host, 0]);
    const { port } = probe.getsockname() as { port: number };
    probe.close();
    const c = sock(family);
    let err: NodeJS.ErrnoException | undefined;
    try {
      if (!c.connect([host, port])) {
        // Wait for the connect to finish (writable), then ask for its error.
        const sel = new PollSelector();
        try {
          sel.register(c, EVENT_WRITE);
          sel.select(2);
        } finally {
          sel.close();
        }
        c.checkConnect([host, port]);
      }
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toMatchObject({ code: 'ECONNREFUSED', errno: -native.errno.ECONNREFUSED!, syscall: 'connect', port });
  });

  it('sees a peer reset as ECONNRESET (or EPIPE) on the next call', () => {
    const [client, conn] = tcpPair(family, host);
    client.send('unread');
    until(() => (native.getsockopt(conn.fileno(), native.SO_RCVBUF) > 0 ? true : null));
    // Closing with unread data makes the kernel send RST instead of FIN.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    conn.close();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    let err: NodeJS.ErrnoException | undefined;
    try {
      for (let i = 0; i < 100; i++) {
        client.send('more');
        client.recv(10);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
      }
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(['ECONNRESET', 'EPIPE']).toContain(err?.code);
    expect(err?.errno).toBeLessThan(0);
  });

  it('sets and reads options', () => {
    const s = sock(family);
    s.setsockopt('TCP_NODELAY', true);
    expect(s.getsockopt('TCP_NODELAY')).not.toBe(0);
    s.setsockopt('SO_KEEPALIVE', 1);
    expect(s.getsockopt('SO_KEEPALIVE')).not.toBe(0);
    s.setsockopt('SO_RCVBUF', 65536);
    expect(s.getsockopt('SO_RCVBUF')).toBeGreaterThanOrEqual(65536);
    expect(() => s.setsockopt('SO_NOPE' as 'SO_KEEPALIVE', 1)).toThrow(/Unknown socket option/);
  });
});

describe('Unix sockets', () => {
  it('connects over a path and reports it', () => {
    const path = join(dir, 'a.sock');
    const server = sock(AF_UNIX);
    server.bind(path);
    server.listen();
    const client = sock(AF_UNIX);
    client.connect(path);
    const [conn, peer] = until(() => server.accept());
    opened.push(conn);
    expect(peer).toEqual({ family: 'unix', path: '' });
    expect(server.getsockname()).toEqual({ family: 'unix', path });
    expect(client.getpeername()).toEqual({ family: 'unix', path });
    client.send('over unix');
    expect(until(() => conn.recv(100))!.toString()).toBe('over unix');
  });

  it('rejects a path that is too long and a non-string address', () => {
    const s = sock(AF_UNIX);
    expect(() => s.bind(join(dir, 'x'.repeat(200)))).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
    expect(() => s.bind(['127.0.0.1', 1])).toThrow(TypeError);
  });

  it('socketpair gives a connected pair', () => {
    const [a, b] = socketpair();
    opened.push(a, b);
    a.send('pair');
    expect(b.recv(10)!.toString()).toBe('pair');
  });
});

describe('UDP', () => {
  it('sends and receives datagrams with their sender', () => {
    const a = sock(AF_INET, SOCK_DGRAM);
    const b = sock(AF_INET, SOCK_DGRAM);
    a.bind(['127.0.0.1', 0]);
    b.bind(['127.0.0.1', 0]);
    const bAddr = b.getsockname() as { address: string; port: number };
    expect(a.recvfrom(100)).toBeNull();
    expect(a.sendto('dgram', bAddr)).toBe(5);
    const [data, from] = until(() => b.recvfrom(100));
    expect(data.toString()).toBe('dgram');
    expect(from).toEqual(a.getsockname());
    a.sendto('two', [bAddr.address, bAddr.port]);
    const buf = Buffer.alloc(8);
    const [n] = until(() => b.recvfromInto(buf));
    expect(buf.subarray(0, n).toString()).toBe('two');
  });
});

describe('bad input', () => {
  it('a closed Socket raises EBADF and never touches a reused fd number', () => {
    const s = sock();
    const fd = s.fileno();
    s.close();
    s.close();
    expect(s.fileno()).toBe(-1);
    // Another socket may get the same number now; the closed one must not use it.
    const other = sock();
    expect(other.fileno()).toBe(fd);
    expect(() => s.recv(1)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'recv' }));
    expect(() => s.send('x')).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'send' }));
    expect(() => s.bind(['127.0.0.1', 0])).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(other.getsockname()).toMatchObject({ family: 'IPv4' });
  });

  it('rejects bad sizes, ports, hosts and fds', () => {
    const s = sock();
    expect(() => s.recv(-1)).toThrow(RangeError);
    expect(() => s.recv(1.5)).toThrow(TypeError);
    expect(() => s.bind(['127.0.0.1', 70000])).toThrow(RangeError);
    expect(() => s.bind(['127.0.0.1', -1])).toThrow(RangeError);
    expect(() => s.bind(['not an address', 0])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => s.bind(42 as unknown as [string, number])).toThrow(TypeError);
    expect(() => new Socket(AF_INET, undefined, -3)).toThrow(RangeError);
    const buf = Buffer.alloc(4);
    expect(() => s.recvInto(buf, 8)).toThrow(RangeError);
    expect(() => s.send(buf, 2, 8)).toThrow(RangeError);
  });
});

const gc = exposedGc;

/** Collect garbage and let Node run finalization callbacks until cond() holds (or ~2 s pass). */
async function collectUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(gc === null)('a Socket nobody closes', () => {
  /** One end of a socketpair, dropped without close(); returns the other end, kept. */
  function leakOneEnd(): Socket {
    const [leaked, kept] = socketpair();
    expect(leaked.fileno()).toBeGreaterThan(0);
    return kept;
  }

  it('has its fd closed when it is garbage-collected (the peer reads EOF)', async () => {
    const kept = leakOneEnd();
    try {
      let eof = false;
      await collectUntil(() => (eof = kept.recv(1)?.length === 0));
      expect(eof).toBe(true);
    } finally {
      kept.close();
    }
  });

  it('warns (ResourceWarning) when made while a loop in debug mode ran; closed or detached ones are left alone', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void (w.name === 'ResourceWarning' && warnings.push(w));
    process.on('warning', onWarning);
    const loop = newEventLoop();
    const kept: Socket[] = [];
    let detachedFd = -1;
    try {
      loop.setDebug(true);
      loop.runUntilComplete(
        (function* () {
          kept.push(leakOneEnd());
          // Closed, and detached: the registry forgets them.
          const [a, b] = socketpair();
          a.close();
          b.close();
          const c = new Socket(AF_INET);
          detachedFd = c.detach();
          yield;
        })(),
      );
      let eof = false;
      await collectUntil(() => (eof = kept[0]!.recv(1)?.length === 0) && warnings.length > 0);
      expect(eof).toBe(true);
      expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^unclosed Socket fd=\d+/)]);
      // The detached fd is still open and ours to close.
      expect(native.getsockname(detachedFd)).toMatchObject({ family: 'IPv4' });
    } finally {
      process.off('warning', onWarning);
      loop.close();
      for (const s of kept) s.close();
      if (detachedFd >= 0) native.close(detachedFd);
    }
  });
});
