// The native addon against the contract in src/native.ts: every poller
// backend this build has (describe.each), the waker, and the socket
// functions over real loopback TCP (127.0.0.1 and ::1), Unix sockets, UDP,
// socketpairs and pipes. Every fd a test opens is closed by the test's
// cleanup; the file ends by checking the process has as many open fds as it
// started with.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canLimitFds } from './emfile.js';
import { exposedGc, extraBackends, osBackend } from './helpers.js';

import {
  addonPathOverride,
  native,
  POLL_ERROR,
  POLL_HUP,
  POLL_NVAL,
  POLL_READ,
  POLL_WRITE,
  WOULD_BLOCK,
  OP_ACCEPT,
  OP_CLOSE,
  OP_CONNECT,
  OP_BUFFER,
  OP_CANCEL,
  OP_MORE,
  OP_RECV,
  OP_RECV_MULTI,
  OP_SEND,
  OP_SENDMSG,
  type BackendName,
  type InetAddress,
  type NativePoller,
  type SockAddress,
  type UnixAddress,
} from '../src/native.js';

const { AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM, SOCK_DGRAM } = native;
const E = native.errno;

// ---- fd bookkeeping: everything opened here is closed in afterEach ---------

let fdsAtStart = -1;
const openFds = new Set<number>();
const openPollers: NativePoller[] = [];

function track<T extends number | number[]>(fds: T): T {
  for (const fd of Array.isArray(fds) ? fds : [fds]) openFds.add(fd);
  return fds;
}

function closeFd(fd: number): void {
  openFds.delete(fd);
  native.close(fd);
}

function poller(backend: BackendName, pairs = 64): { p: NativePoller; ev: Int32Array } {
  const ev = new Int32Array(pairs * 2);
  const p = new native.Poller(backend, ev);
  openPollers.push(p);
  return { p, ev };
}

beforeAll(() => {
  fdsAtStart = native.countOpenFds();
});

afterEach(() => {
  for (const fd of openFds) native.close(fd);
  openFds.clear();
  for (const p of openPollers.splice(0)) p.close();
});

afterAll(() => {
  expect(native.countOpenFds()).toBe(fdsAtStart);
});

// ---- helpers ------------------------------------------------------------------

/** wait() once; the result as fd -> bits, checking each fd appears at most once. */
function waitMap(p: NativePoller, ev: Int32Array, timeoutMs: number): Map<number, number> {
  const n = p.wait(timeoutMs);
  const ready = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    expect(ready.has(ev[2 * i]!), `fd ${ev[2 * i]} reported twice`).toBe(false);
    ready.set(ev[2 * i]!, ev[2 * i + 1]!);
  }
  return ready;
}

/** Waits (up to 2 s) until fd shows any of `bits`; returns its bits. */
function waitUntil(p: NativePoller, ev: Int32Array, fd: number, bits: number): number {
  const deadline = performance.now() + 2000;
  while (performance.now() < deadline) {
    const got = waitMap(p, ev, 50).get(fd) ?? 0;
    if (got & bits) return got;
  }
  throw new Error(`fd ${fd} never showed bits ${bits}`);
}

/** A poller of the default backend with fd registered, for the socket tests. */
function readiness(fd: number, interest: number): { p: NativePoller; ev: Int32Array } {
  const w = poller(native.backends()[0]!);
  w.p.add(fd, interest);
  return w;
}

function errorOf(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('expected a throw');
}

function expectErrno(fn: () => unknown, code: string, syscall?: string): NodeJS.ErrnoException {
  const err = errorOf(fn);
  expect(err).toBeInstanceOf(Error);
  expect(err.code).toBe(code);
  expect(err.errno).toBe(-E[code]!);
  if (syscall !== undefined) expect(err.syscall).toBe(syscall);
  return err;
}

const text = (s: string) => Buffer.from(s);

function recvAll(fd: number, size = 4096): string {
  const buf = Buffer.alloc(size);
  const n = native.recv(fd, buf, 0, size);
  expect(n).toBeGreaterThanOrEqual(0);
  return buf.subarray(0, n).toString();
}

function softFdLimit(): number {
  try {
    return Number(execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  } catch {
    return 0;
  }
}

/** A connected TCP pair over loopback: [client, server-side]. */
function tcpPair(family: number, host: string): [number, number] {
  const listener = track(native.socket(family, SOCK_STREAM));
  native.bind(listener, family, host, 0);
  native.listen(listener, 8);
  const port = (native.getsockname(listener) as InetAddress).port;
  const client = track(native.socket(family, SOCK_STREAM));
  native.connect(client, family, host, port);
  const w = readiness(listener, POLL_READ);
  waitUntil(w.p, w.ev, listener, POLL_READ);
  const server = track(native.accept(listener));
  expect(server).toBeGreaterThanOrEqual(0);
  const cw = readiness(client, POLL_WRITE);
  waitUntil(cw.p, cw.ev, client, POLL_WRITE);
  expect(native.getSocketError(client)).toBe(0);
  closeFd(listener);
  return [client, server];
}

function hasIPv6Loopback(): boolean {
  const fd = native.socket(AF_INET6, SOCK_STREAM);
  try {
    native.bind(fd, AF_INET6, '::1', 0);
    return true;
  } catch {
    return false;
  } finally {
    native.close(fd);
  }
}

// ---- pollers ----------------------------------------------------------------

describe('backends()', () => {
  it('lists the compiled backends, default first, poll and select everywhere', () => {
    const names = native.backends();
    expect(names.slice(-2)).toEqual(['poll', 'select']);
    expect(names).toEqual(osBackend === null ? ['poll', 'select'] : [osBackend, ...extraBackends, 'poll', 'select']);
  });

  it('reports what the build compiled in (native.build)', () => {
    const { portable, waker, pidfd } = native.build;
    expect(typeof portable).toBe('boolean');
    // eventfd and pidfd come with the Linux files, which the portable build leaves out.
    const linuxFiles = osBackend === 'epoll';
    expect({ waker, pidfd }).toEqual({ waker: linuxFiles ? 'eventfd' : 'pipe', pidfd: linuxFiles });
    if (!pidfd) expect(native.pidfdOpen(process.pid)).toBe(-1);
  });
});

describe.each(native.backends())('Poller(%s)', (backend) => {
  it('reports its backend, fileno and closed state', () => {
    const { p } = poller(backend);
    expect(p.backend).toBe(backend);
    expect(p.closed).toBe(false);
    if (backend === 'epoll' || backend === 'kqueue' || backend === 'io_uring') {
      expect(p.fileno()).toBeGreaterThanOrEqual(0);
    } else {
      expect(p.fileno()).toBe(-1);
    }
  });

  it('adds, modifies and removes: write then read readiness on a socketpair', () => {
    const { p, ev } = poller(backend);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(a, POLL_WRITE);
    expect(waitMap(p, ev, 0).get(a)).toBe(POLL_WRITE);

    p.modify(a, POLL_READ);
    expect(waitMap(p, ev, 0).has(a)).toBe(false);
    native.send(b, text('x'), 0, 1);
    expect(waitMap(p, ev, 1000).get(a)).toBe(POLL_READ);

    p.modify(a, POLL_READ | POLL_WRITE);
    expect(waitMap(p, ev, 0).get(a)).toBe(POLL_READ | POLL_WRITE);

    // Level-triggered: still readable until the byte is consumed.
    p.modify(a, POLL_READ);
    expect(waitMap(p, ev, 0).get(a)).toBe(POLL_READ);
    expect(recvAll(a)).toBe('x');
    expect(waitMap(p, ev, 0).has(a)).toBe(false);

    native.send(b, text('y'), 0, 1);
    p.remove(a);
    expect(waitMap(p, ev, 0).size).toBe(0);
  });

  it('accepts interest 0 (registered, no read/write events)', () => {
    const { p, ev } = poller(backend);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    native.send(b, text('x'), 0, 1);
    p.add(a, 0);
    expect(waitMap(p, ev, 0).size).toBe(0);
    expectErrno(() => p.add(a, POLL_READ), 'EEXIST');
    p.modify(a, POLL_READ);
    expect(waitMap(p, ev, 0).get(a)).toBe(POLL_READ);
  });

  it('reports pipe readiness: write end writable, read end readable after a write', () => {
    const { p, ev } = poller(backend);
    const [r, w] = track(native.pipe());
    p.add(r, POLL_READ);
    p.add(w, POLL_WRITE);
    let ready = waitMap(p, ev, 0);
    expect(ready.get(w)).toBe(POLL_WRITE);
    expect(ready.has(r)).toBe(false);
    expect(native.write(w, text('abc'), 0, 3)).toBe(3);
    ready = waitMap(p, ev, 1000);
    expect(ready.get(r)).toBe(POLL_READ);
  });

  it('reports hang-up when the socketpair peer closes', () => {
    const { p, ev } = poller(backend);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(a, POLL_READ);
    closeFd(b);
    const bits = waitMap(p, ev, 1000).get(a) ?? 0;
    // EOF is readable everywhere; select has no hang-up set to say more.
    expect(bits & POLL_READ).toBe(POLL_READ);
    if (backend !== 'select') expect(bits & POLL_HUP).toBe(POLL_HUP);
    expect(native.recv(a, Buffer.alloc(4), 0, 4)).toBe(0);
  });

  it('reports hang-up on a pipe whose writer closed', () => {
    const { p, ev } = poller(backend);
    const [r, w] = track(native.pipe());
    p.add(r, POLL_READ);
    closeFd(w);
    const bits = waitMap(p, ev, 1000).get(r) ?? 0;
    if (backend === 'select') {
      expect(bits).toBe(POLL_READ);
    } else {
      expect(bits & POLL_HUP).toBe(POLL_HUP);
    }
    expect(native.read(r, Buffer.alloc(4), 0, 4)).toBe(0);
  });

  if (backend === 'epoll' || backend === 'poll') {
    it('reports hang-up even with interest 0', () => {
      const { p, ev } = poller(backend);
      const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
      p.add(a, 0);
      closeFd(b);
      expect((waitMap(p, ev, 1000).get(a) ?? 0) & POLL_HUP).toBe(POLL_HUP);
    });
  }

  it('wait(0) returns at once', () => {
    const { p } = poller(backend);
    const [a] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(a, POLL_READ);
    const start = performance.now();
    for (let i = 0; i < 100; i++) expect(p.wait(0)).toBe(0);
    expect(performance.now() - start).toBeLessThan(50);
  });

  it('never returns before the timeout, fractions included', () => {
    const { p } = poller(backend);
    const [a] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(a, POLL_READ);
    for (const timeout of [0.2, 1, 1.5, 7.25, 30]) {
      const start = performance.now();
      expect(p.wait(timeout)).toBe(0);
      expect(performance.now() - start).toBeGreaterThanOrEqual(timeout);
    }
  });

  it('does not starve fds when more are ready than the array holds', () => {
    const { p, ev } = poller(backend, 4);
    const ends: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
      p.add(a, POLL_WRITE);
      p.add(b, POLL_WRITE);
      ends.push(a, b);
    }
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const ready = waitMap(p, ev, 0);
      expect(ready.size).toBe(4);
      for (const fd of ready.keys()) seen.add(fd);
    }
    expect([...seen].sort((x, y) => x - y)).toEqual([...ends].sort((x, y) => x - y));
  });

  it('answers EEXIST and ENOENT from its registry', () => {
    const { p } = poller(backend);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(a, POLL_READ);
    const err = expectErrno(() => p.add(a, POLL_WRITE), 'EEXIST');
    expect(typeof err.syscall).toBe('string');
    expectErrno(() => p.modify(b, POLL_READ), 'ENOENT');
    expectErrno(() => p.remove(b), 'ENOENT');
    p.remove(a);
    expectErrno(() => p.remove(a), 'ENOENT');
    p.add(a, POLL_WRITE); // re-adding after remove is fine
  });

  it('a write-only fd whose peer half-closed is not reported until it is writable (no spin)', () => {
    const { p, ev } = poller(backend);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    native.setsockopt(a, native.SO_SNDBUF, 4096);
    // Fill a's send buffer: a is not writable.
    const chunk = Buffer.alloc(65536, 1);
    while (native.send(a, chunk, 0, chunk.length) !== WOULD_BLOCK);
    native.shutdown(b, native.SHUT_WR);
    p.add(a, POLL_WRITE);
    // The peer's half-close is not what a writer waits for: epoll is not
    // told about it (no EPOLLRDHUP asked), io_uring reports it anyway and
    // must not complete every wait with it.
    let reports = 0;
    for (let i = 0; i < 5; i++) reports += waitMap(p, ev, 10).size;
    expect(reports).toBe(0);
    // Draining the peer makes a writable: reported, and again at the next
    // wait (level-triggered), until the interest changes.
    const buf = Buffer.alloc(65536);
    while (native.recv(b, buf, 0, buf.length) > 0);
    expect(waitMap(p, ev, 1000).get(a)! & POLL_WRITE).toBe(POLL_WRITE);
    expect(waitMap(p, ev, 1000).get(a)! & POLL_WRITE).toBe(POLL_WRITE);
    p.remove(a);
  });

  it('an fd closed while watched is released once removed: its peer sees EOF after the next wait', () => {
    const { p, ev } = poller(backend);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(a, POLL_READ);
    expect(waitMap(p, ev, 0).size).toBe(0);
    closeFd(a);
    p.remove(a);
    waitMap(p, ev, 0);
    // io_uring's poll request held a reference to the socket until the
    // removal reached the kernel; now the socket is really closed.
    expect(native.recv(b, Buffer.alloc(4), 0, 4)).toBe(0);
  });

  it('reports readiness left unconsumed again at every wait (level-triggered)', () => {
    const { p, ev } = poller(backend);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(a, POLL_READ);
    native.send(b, text('xyz'), 0, 3);
    for (let i = 0; i < 3; i++) expect(waitMap(p, ev, 1000).get(a)! & POLL_READ).toBe(POLL_READ);
    expect(native.recv(a, Buffer.alloc(8), 0, 8)).toBe(3);
    expect(waitMap(p, ev, 0).size).toBe(0);
    p.remove(a);
  });

  it('removes an fd its owner already closed, and forgets it', () => {
    const { p, ev } = poller(backend);
    const [a] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(a, POLL_READ | POLL_WRITE);
    closeFd(a);
    if (backend === 'poll' || backend === 'select') {
      // The fd is still in the table: poll says POLLNVAL, select fails with
      // EBADF; both come out as the error and "not open" bits on that fd.
      expect(waitMap(p, ev, 0).get(a)).toBe(POLL_ERROR | POLL_NVAL);
    }
    expect(() => p.remove(a)).not.toThrow();
    expectErrno(() => p.modify(a, POLL_READ), 'ENOENT');
    expect(waitMap(p, ev, 0).size).toBe(0);
    // The number can be reused by a new fd and registered again.
    const [c, d] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(c, POLL_WRITE);
    p.add(d, POLL_WRITE);
    expect(waitMap(p, ev, 0).size).toBe(2);
  });

  it('modify(fd, interest, again) watches a number reused behind its back, and says so', () => {
    const { p, ev } = poller(backend);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(a, POLL_READ);
    // Same interest: nothing to do, nothing to tell.
    expect(p.modify(a, POLL_READ)).toBe(false);
    // Asking again about the same open file: still the same.
    expect(p.modify(a, POLL_READ, true)).toBe(false);
    expect(p.modify(a, POLL_READ | POLL_WRITE)).toBe(false);
    // The owner closes a without telling the poller; the number comes back
    // as another socket, with data to read.
    closeFd(a);
    const [c, d] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    expect(c).toBe(a);
    native.send(d, Buffer.from('x'), 0, 1);
    // epoll had dropped the registration at close (a plain MOD would fail with
    // ENOENT); poll and select see another file behind the number. kqueue
    // adds the filter again without telling whether it was there.
    expect(p.modify(c, POLL_READ, true)).toBe(backend !== 'kqueue');
    expect(waitMap(p, ev, 0).get(c)! & POLL_READ).toBe(POLL_READ);
    expect(p.modify(c, POLL_READ, true)).toBe(false);
    expect(() => p.modify(c, POLL_READ, 1 as unknown as boolean)).toThrow(TypeError);
    p.remove(c);
    void b;
  });

  it('throws EBADF once closed; close is idempotent', () => {
    const { p } = poller(backend);
    const [a] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.add(a, POLL_READ);
    p.close();
    expect(p.closed).toBe(true);
    expect(p.backend).toBe(backend);
    expectErrno(() => p.add(a, POLL_READ), 'EBADF');
    expectErrno(() => p.modify(a, POLL_READ), 'EBADF');
    expectErrno(() => p.remove(a), 'EBADF');
    expectErrno(() => p.wait(0), 'EBADF');
    expectErrno(() => p.fileno(), 'EBADF');
    expect(() => p.close()).not.toThrow();
  });

  it('refuses bad arguments with TypeError / RangeError', () => {
    const { p } = poller(backend);
    const [a] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    expect(() => p.add('3' as unknown as number, POLL_READ)).toThrow(TypeError);
    expect(() => p.add(-1, POLL_READ)).toThrow(RangeError);
    expect(() => p.add(1.5, POLL_READ)).toThrow(RangeError);
    expect(() => p.add(NaN, POLL_READ)).toThrow(RangeError);
    expect(() => p.add(a, 4)).toThrow(RangeError);
    expect(() => p.add(a, POLL_READ | POLL_HUP)).toThrow(RangeError);
    expect(() => p.wait('1' as unknown as number)).toThrow(TypeError);
    expect(() => p.wait(NaN)).toThrow(RangeError);
    expect(() => new native.Poller(backend, new Int32Array(3))).toThrow(RangeError);
    expect(() => new native.Poller(backend, new Int32Array(0))).toThrow(RangeError);
    expect(() => new native.Poller(backend, new Uint32Array(2) as unknown as Int32Array)).toThrow(
      TypeError,
    );
    expect(() => new native.Poller(backend, [0, 0] as unknown as Int32Array)).toThrow(TypeError);
    expect(() => new native.Poller('nope' as BackendName, new Int32Array(2))).toThrow(RangeError);
    // Nothing was registered by the failed calls.
    p.add(a, POLL_READ);
  });

  it('refuses to write into an events array whose buffer was transferred away', () => {
    const { p, ev } = poller(backend);
    const buffer = ev.buffer as ArrayBuffer;
    structuredClone(buffer, { transfer: [buffer] });
    expect(() => p.wait(0)).toThrow(/detached/);
  });

  if (backend === 'select') {
    it('refuses an fd >= FD_SETSIZE with a RangeError that names the way out', () => {
      const { p } = poller(backend);
      expect(native.FD_SETSIZE).toBe(1024);
      let high = -1;
      while (high < native.FD_SETSIZE) {
        const [r, w] = track(native.pipe());
        high = Math.max(r, w);
      }
      const err = errorOf(() => p.add(high, POLL_READ));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.message).toMatch(/FD_SETSIZE \(1024\)/);
      // It names the build's own backends: 'epoll or poll', 'kqueue or poll', or 'poll' alone.
      expect(err.message).toMatch(osBackend === null ? /use the poll backend$/ : new RegExp(`use the ${osBackend} or poll backend$`));
      // The other backends take it.
      const other = poller(native.backends()[0]!);
      other.p.add(high, POLL_READ);
      other.p.remove(high);
    });
  } else {
    it('watches 2,000 fds', (ctx) => {
      const limit = softFdLimit();
      if (limit < 4096) {
        ctx.skip(`the soft RLIMIT_NOFILE is ${limit} (< 4096): too few fds for 2,000 sockets`);
      }
      const { p, ev } = poller(backend, 4096);
      const fds: number[] = [];
      for (let i = 0; i < 1000; i++) fds.push(...track(native.socketpair(AF_UNIX, SOCK_STREAM)));
      for (const fd of fds) p.add(fd, POLL_READ | POLL_WRITE);
      let ready = waitMap(p, ev, 0);
      expect(ready.size).toBe(2000);
      for (const bits of ready.values()) expect(bits).toBe(POLL_WRITE);
      for (const fd of fds) p.modify(fd, POLL_READ);
      expect(waitMap(p, ev, 0).size).toBe(0);
      native.send(fds[1999]!, text('z'), 0, 1);
      ready = waitMap(p, ev, 1000);
      expect([...ready]).toEqual([[fds[1998]!, POLL_READ]]);
      for (const fd of fds) p.remove(fd);
      expect(waitMap(p, ev, 0).size).toBe(0);
    });
  }
});

// ---- io_uring completion operations ----------------------------------------

describe.runIf(native.uringProbe().available)('Poller(io_uring): completion operations', () => {
  function ring(triples = 64): { p: NativePoller; ev: Int32Array; comp: Int32Array } {
    const ev = new Int32Array(128);
    const comp = new Int32Array(1 + 3 * triples);
    const p = new native.Poller('io_uring', ev, comp);
    openPollers.push(p);
    return { p, ev, comp };
  }

  /** Waits until `count` operations completed (finally: no OP_MORE); returns token -> [results]. */
  function completions(p: NativePoller, comp: Int32Array, count: number): Map<number, number[]> {
    const out = new Map<number, number[]>();
    let finished = 0;
    const deadline = Date.now() + 5000;
    while (finished < count) {
      if (Date.now() > deadline) throw new Error(`only ${finished} of ${count} operations completed`);
      p.wait(100);
      for (let i = 0; i < comp[0]!; i++) {
        const [token, res, flags] = [comp[1 + 3 * i]!, comp[2 + 3 * i]!, comp[3 + 3 * i]!];
        out.set(token, [...(out.get(token) ?? []), res]);
        if ((flags & OP_MORE) === 0) finished++;
      }
    }
    return out;
  }

  it('recv and send complete into and from the caller\'s buffers, held until then', () => {
    const { p, comp } = ring();
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    const into = Buffer.alloc(16);
    p.submit(OP_RECV, a, into, 2, 10, 1);
    p.submit(OP_SEND, b, Buffer.from('hello'), 0, 5, 2);
    expect(p.opsInFlight).toBe(2);
    const done = completions(p, comp, 2);
    expect(done.get(1)).toEqual([5]);
    expect(done.get(2)).toEqual([5]);
    expect(into.subarray(2, 7).toString()).toBe('hello');
    expect(p.opsInFlight).toBe(0);
  });

  it('refuses bad operations with clear errors, and a token in flight (EEXIST)', () => {
    const { p, comp } = ring();
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    expect(() => p.submit(10, a, null, 0, 0, 1)).toThrow(RangeError);
    expect(() => p.submit(OP_SENDMSG, a, null, 0, 0, 1)).toThrow(/op 8 is submitSendv's/);
    expect(() => p.submit(OP_RECV, a, Buffer.alloc(4), 2, 8, 1)).toThrow(RangeError);
    expect(() => p.submit(OP_CLOSE, a, Buffer.alloc(4), 0, 4, 1)).toThrow(TypeError);
    p.submit(OP_RECV, a, Buffer.alloc(4), 0, 4, 1);
    expectErrno(() => p.submit(OP_RECV, a, Buffer.alloc(4), 0, 4, 1), 'EEXIST');
    expect(p.cancelOp(1)).toBe(true);
    expect(p.cancelOp(77)).toBe(false);
    expect(completions(p, comp, 1).get(1)).toEqual([-E.ECANCELED!]);
    void b;
    // Without a completions array, or on another backend: refused.
    const plain = poller('io_uring').p;
    expect(() => plain.submit(OP_RECV, a, Buffer.alloc(4), 0, 4, 1)).toThrow(/without a completions array/);
    const epoll = new native.Poller(osBackend === 'epoll' ? 'epoll' : 'poll', new Int32Array(2), new Int32Array(4));
    openPollers.push(epoll);
    expectErrno(() => epoll.submit(OP_RECV, a, Buffer.alloc(4), 0, 4, 1), 'ENOTSUP');
  });

  it('a keep array: the caller holds the buffers, and the poller holds the array until its operations are reaped', async () => {
    expect(() => new native.Poller('io_uring', new Int32Array(2), new Int32Array(4), {} as never)).toThrow(/keep must be an Array/);
    expect(() => new native.Poller('io_uring', new Int32Array(2), undefined, [])).toThrow(/keep must be an Array, given with a completions array/);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    const comp = new Int32Array(1 + 3 * 8);
    // Nothing but the poller refers to the keep array (and through it to the
    // buffer) once this function returns: the kernel holds a recv into it.
    let bufRef: WeakRef<Buffer> | null = null;
    const p = ((): NativePoller => {
      const keep: Array<Uint8Array | null> = [];
      const q = new native.Poller('io_uring', new Int32Array(8), comp, keep);
      const into = Buffer.alloc(64 * 1024);
      bufRef = new WeakRef(into);
      keep[3] = into;
      q.submit(OP_RECV, a, into, 0, into.length, 3);
      q.wait(0);
      return q;
    })();
    openPollers.push(p);
    for (let i = 0; i < 5; i++) {
      gc!();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(bufRef!.deref() !== undefined).toBe(true); // still alive: the recv in flight may write into it
    expect(native.send(b, text('ring'), 0, 4)).toBe(4);
    const done = completions(p, comp, 1);
    expect(done.get(3)).toEqual([4]);
    expect(bufRef!.deref()!.subarray(0, 4).toString()).toBe('ring');
    expect(p.opsInFlight).toBe(0);
    // Closed, the poller lets go of the array.
    p.close();
    // (No deref() in this loop: a WeakRef's target stays alive to the end of
    // the job that read it.)
    for (let i = 0; i < 10; i++) {
      gc!();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(bufRef!.deref() === undefined).toBe(true);
  });

  it('submitSendv: one vectored send of several chunks, the first from an offset; bad arguments refused', () => {
    const { p, comp } = ring();
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    const chunks = [text('xxhello'), text(', '), text('world')];
    p.submitSendv(a, chunks, 3, 2, 4);
    // The poller holds its own copy of the list: the caller may change it.
    chunks.length = 0;
    expect(p.opsInFlight).toBe(1);
    expect(completions(p, comp, 1).get(4)).toEqual([12]);
    const got = Buffer.alloc(32);
    expect(native.recv(b, got, 0, 32)).toBe(12);
    expect(got.subarray(0, 12).toString()).toBe('hello, world');
    const two = [text('ab'), text('cd')];
    expect(() => p.submitSendv(a, 'ab' as never, 1, 0, 1)).toThrow(TypeError);
    expect(() => p.submitSendv(a, [text('a'), 'b' as never], 2, 0, 1)).toThrow(/Array of Uint8Arrays/);
    expect(() => p.submitSendv(a, two, 3, 0, 1)).toThrow(RangeError);
    expect(() => p.submitSendv(a, two, 0, 0, 1)).toThrow(RangeError);
    expect(() => p.submitSendv(a, two, 65, 0, 1)).toThrow(RangeError);
    expect(() => p.submitSendv(a, two, 2, 3, 1)).toThrow(/offset is beyond the first chunk/);
    expect(p.opsInFlight).toBe(0);
    p.submit(OP_RECV, a, Buffer.alloc(4), 0, 4, 9);
    expectErrno(() => p.submitSendv(a, two, 2, 0, 9), 'EEXIST');
    expect(p.cancelOp(9)).toBe(true);
    expect(completions(p, comp, 1).get(9)).toEqual([-E.ECANCELED!]);
  });

  it('a submission queue: entries written into an Int32Array are submitted by the next wait, in order; what cannot be submitted completes with -errno', () => {
    const comp = new Int32Array(1 + 3 * 16);
    const keep: Array<Uint8Array | readonly Uint8Array[] | null> = [];
    const q = new Int32Array(1 + 6 * 8);
    expect(() => new native.Poller('io_uring', new Int32Array(8), comp, undefined, q)).toThrow(/queue must be an Int32Array .* given with keep/);
    expect(() => new native.Poller('io_uring', new Int32Array(8), comp, [], new Int32Array(5))).toThrow(/queue must be an Int32Array of length 1 \+ 6k/);
    const p = new native.Poller('io_uring', new Int32Array(8), comp, keep, q);
    openPollers.push(p);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    const put = (op: number, fd: number, token: number, offset: number, length: number, arg = 0): void => {
      const at = 1 + 6 * q[0]!;
      q.set([op, fd, token, offset, length, arg], at);
      q[0]! += 1;
    };
    const into = Buffer.alloc(16);
    keep[1] = into;
    keep[2] = text('queued');
    keep[3] = [text('xxvec'), text('tor')];
    keep[4] = text('short');
    put(OP_RECV, a, 1, 0, 16);
    put(OP_SEND, b, 2, 0, 6);
    put(OP_SENDMSG, b, 3, 2, 2); // chunks[0 .. 2), the first from offset 2
    put(OP_SEND, b, 4, 2, 10); // beyond its buffer: EFAULT, nothing sent
    put(OP_SEND, b, 5, 0, 1); // keep[5] is no buffer: EFAULT
    put(42, b, 6, 0, 0); // no such operation: EINVAL
    expect(p.opsInFlight).toBe(0); // nothing submitted before the wait
    const done = completions(p, comp, 6);
    expect(q[0]).toBe(0);
    expect(done.get(2)).toEqual([6]);
    expect(done.get(3)).toEqual([6]);
    expect(done.get(4)).toEqual([-E.EFAULT!]);
    expect(done.get(5)).toEqual([-E.EFAULT!]);
    expect(done.get(6)).toEqual([-E.EINVAL!]);
    expect(done.get(1)![0]).toBeGreaterThan(0);
    let got = into.subarray(0, done.get(1)![0]).toString();
    while (got.length < 12) {
      const more = Buffer.alloc(16);
      const n = native.recv(a, more, 0, 16);
      if (n > 0) got += more.subarray(0, n).toString();
    }
    expect(got).toBe('queuedvector');
    // A cancel entry: arg names the operation (queued in the same batch here).
    keep[7] = Buffer.alloc(8);
    put(OP_RECV, a, 7, 0, 8);
    put(OP_CANCEL, -1, 7, 0, 0, 7);
    expect(completions(p, comp, 1).get(7)).toEqual([-E.ECANCELED!]);
    // flush() submits the queue too (the loop flushes a full one).
    keep[8] = Buffer.alloc(8);
    put(OP_RECV, a, 8, 0, 8);
    p.flush();
    expect(q[0]).toBe(0);
    expect(p.opsInFlight).toBe(1);
    expect(native.send(b, text('ok'), 0, 2)).toBe(2);
    expect(completions(p, comp, 1).get(8)).toEqual([2]);
  });

  it('connect: to a listener 0, to a closed port -ECONNREFUSED, to a Unix path 0; the address is the buffer (submit or queue); a bad one refused', () => {
    const comp = new Int32Array(1 + 3 * 16);
    const keep: Array<Uint8Array | readonly Uint8Array[] | null> = [];
    const q = new Int32Array(1 + 6 * 8);
    const p = new native.Poller('io_uring', new Int32Array(8), comp, keep, q);
    openPollers.push(p);
    const l = track(native.socket(AF_INET, SOCK_STREAM));
    native.bind(l, AF_INET, '127.0.0.1', 0);
    native.listen(l, 16);
    const { port } = native.getsockname(l) as InetAddress;
    const closedPort = ((): number => {
      const s = native.socket(AF_INET, SOCK_STREAM);
      native.bind(s, AF_INET, '127.0.0.1', 0);
      const got = (native.getsockname(s) as InetAddress).port;
      native.close(s);
      return got;
    })();
    const dir = mkdtempSync(join(tmpdir(), 'coio-connect-'));
    try {
      const path = join(dir, 'l');
      const ul = track(native.socket(AF_UNIX, SOCK_STREAM));
      native.bind(ul, AF_UNIX, path, 0);
      native.listen(ul, 4);
      const [c1, c2, c3, c4] = track([0, 1, 2].map(() => native.socket(AF_INET, SOCK_STREAM)).concat(native.socket(AF_UNIX, SOCK_STREAM)));
      // The sockaddr connect() would use: 16 bytes for IPv4, 28 for IPv6, the path's for Unix.
      const a1 = native.connectAddress(AF_INET, '127.0.0.1', port);
      expect(a1.length).toBe(16);
      expect(native.connectAddress(AF_INET6, '::1', port).length).toBe(28);
      expect(native.connectAddress(AF_UNIX, path, 0).length).toBeLessThanOrEqual(110);
      expectErrno(() => native.connectAddress(AF_INET, '1.2.3', 80), 'EINVAL', 'connect');
      expectErrno(() => native.connectAddress(AF_UNIX, 'x'.repeat(200), 0), 'ENAMETOOLONG', 'connect');
      expect(() => native.connectAddress(AF_INET, '127.0.0.1', 70000)).toThrow(RangeError);
      // Submitted: the poller holds the address (not the caller's array here).
      p.submit(OP_CONNECT, c1, a1, 0, a1.length, 1);
      // Queued: keep[token] is the address.
      const put = (fd: number, token: number, addr: Buffer, length = addr.length): void => {
        keep[token] = addr;
        q.set([OP_CONNECT, fd, token, 0, length, 0], 1 + 6 * q[0]!);
        q[0]! += 1;
      };
      put(c2, 2, native.connectAddress(AF_INET, '127.0.0.1', closedPort));
      put(c4, 4, native.connectAddress(AF_UNIX, path, 0));
      put(c3, 3, Buffer.alloc(200), 200); // longer than any sockaddr: EINVAL, never submitted
      const done = completions(p, comp, 4);
      expect(done.get(1)).toEqual([0]);
      expect(done.get(2)).toEqual([-E.ECONNREFUSED!]);
      expect(done.get(3)).toEqual([-E.EINVAL!]);
      expect(done.get(4)).toEqual([0]);
      expect((native.getpeername(c1) as InetAddress).port).toBe(port);
      expect(native.getpeername(c4)).toEqual({ family: 'unix', path });
      expect(p.opsInFlight).toBe(0);
      // A buffer that cannot be a sockaddr is refused at submit.
      expect(() => p.submit(OP_CONNECT, c3, Buffer.alloc(1), 0, 1, 5)).toThrow(/connect's address/);
      expect(() => p.submit(OP_CONNECT, c3, null, 0, 0, 5)).toThrow(TypeError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('connect: in flight to a listener whose accept queue is full, cancelled (-ECANCELED); closing the poller reaps another', () => {
    const { p, comp } = ring();
    const l = track(native.socket(AF_INET, SOCK_STREAM));
    native.bind(l, AF_INET, '127.0.0.1', 0);
    native.listen(l, 0);
    const { port } = native.getsockname(l) as InetAddress;
    const addr = native.connectAddress(AF_INET, '127.0.0.1', port);
    // Fill the accept queue: connects that complete at once, until one does not.
    let token = 100;
    let stalled = -1;
    for (let i = 0; i < 64 && stalled < 0; i++) {
      const c = track(native.socket(AF_INET, SOCK_STREAM));
      p.submit(OP_CONNECT, c, addr, 0, addr.length, ++token);
      const deadline = Date.now() + 200;
      let res: number | undefined;
      while (res === undefined && Date.now() < deadline) {
        p.wait(20);
        for (let k = 0; k < comp[0]!; k++) if (comp[1 + 3 * k] === token) res = comp[2 + 3 * k];
      }
      if (res === undefined) stalled = token;
      else expect(res).toBe(0);
    }
    expect(stalled).toBeGreaterThan(0);
    expect(p.opsInFlight).toBe(1);
    expect(p.cancelOp(stalled)).toBe(true);
    expect(completions(p, comp, 1).get(stalled)).toEqual([-E.ECANCELED!]);
    // Another stalls; close() cancels it and waits for its completion.
    const c = track(native.socket(AF_INET, SOCK_STREAM));
    p.submit(OP_CONNECT, c, addr, 0, addr.length, 1);
    p.wait(50);
    expect(p.opsInFlight).toBe(1);
    p.close();
    expect(p.opsInFlight).toBe(0);
    expectErrno(() => native.getpeername(c), 'ENOTCONN');
  });

  it('cancel with a send in flight: no byte is sent twice or lost', () => {
    const { p, comp } = ring();
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    native.setsockopt(a, native.SO_SNDBUF, 4096);
    // Fill the pipe between a and b with a known pattern.
    const sent: Buffer[] = [];
    for (let i = 0; ; i++) {
      const chunk = Buffer.alloc(1024, i % 251);
      const n = native.send(a, chunk, 0, chunk.length);
      if (n === WOULD_BLOCK) break;
      sent.push(chunk.subarray(0, n));
    }
    // A send the socket cannot take now: in flight, then cancelled.
    const more = Buffer.alloc(65536);
    for (let i = 0; i < more.length; i++) more[i] = (i * 7) % 256;
    p.submit(OP_SEND, a, more, 0, more.length, 5);
    p.wait(0);
    expect(p.cancelOp(5)).toBe(true);
    const [res] = completions(p, comp, 1).get(5)!;
    // Cancelled before any byte went (-ECANCELED), or what went is counted.
    if (res! < 0) expect(res).toBe(-E.ECANCELED!);
    const expected = Buffer.concat([...sent, more.subarray(0, Math.max(res!, 0))]);
    const got: Buffer[] = [];
    const buf = Buffer.alloc(65536);
    let total = 0;
    for (;;) {
      const n = native.recv(b, buf, 0, buf.length);
      if (n === WOULD_BLOCK) break;
      got.push(Buffer.from(buf.subarray(0, n)));
      total += n;
    }
    expect(total).toBe(expected.length);
    expect(Buffer.concat(got).equals(expected)).toBe(true);
  });

  it('close with operations in flight: they are cancelled and awaited, their buffers released', () => {
    const { p } = ring();
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    for (let t = 0; t < 8; t++) p.submit(OP_RECV, a, Buffer.alloc(4096), 0, 4096, t);
    p.wait(0);
    expect(p.opsInFlight).toBe(8);
    p.close();
    expect(p.opsInFlight).toBe(0);
    // Nothing reads from a any more: what b sends stays in a's buffer.
    expect(native.send(b, text('late'), 0, 4)).toBe(4);
    expect(native.recv(a, Buffer.alloc(8), 0, 8)).toBe(4);
  });

  it('a full submission ring: 600 operations queued between two waits all complete, in order', () => {
    // The ring has 256 submission entries: queuing more submits what is
    // queued to make room, with no completion lost.
    const { p, comp } = ring(1024);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    const bytes = Buffer.alloc(600);
    for (let i = 0; i < 600; i++) bytes[i] = i % 256;
    expect(native.send(a, bytes, 0, 600)).toBe(600);
    const got = Buffer.alloc(600);
    for (let i = 0; i < 600; i++) p.submit(OP_RECV, b, got, i, 1, i);
    const done = completions(p, comp, 600);
    expect([...done.values()].every((r) => r.length === 1 && r[0] === 1)).toBe(true);
    expect(got.equals(bytes)).toBe(true);
  });

  it.runIf(canLimitFds)('multishot accept: EMFILE ends it, the connection stays queued; submitted again, a new fd per connection', () => {
    const { p, comp } = ring();
    const l = track(native.socket(AF_INET, SOCK_STREAM));
    native.bind(l, AF_INET, '127.0.0.1', 0);
    native.listen(l, 16);
    const { port } = native.getsockname(l) as InetAddress;
    const clients = track([0, 1].map(() => native.socket(AF_INET, SOCK_STREAM)));
    // The kernel takes the fd limit when the accept is submitted: lower it
    // first, so that no fd is free. Spare fds are closed before it is put
    // back (prlimit needs a few to start).
    const soft = execFileSync('prlimit', ['--pid', String(process.pid), '--nofile', '--raw', '--noheadings', '--output=SOFT'], { encoding: 'utf8' }).trim();
    const spare = track([...Array(8)].flatMap(() => native.socketpair(AF_UNIX, SOCK_STREAM)));
    const highest = Math.max(...readdirSync('/proc/self/fd').map(Number));
    const fillers: number[] = [];
    for (let fd = native.socket(AF_UNIX, SOCK_STREAM); ; fd = native.socket(AF_UNIX, SOCK_STREAM)) {
      fillers.push(track(fd));
      if (fd > highest) break;
    }
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${fillers[fillers.length - 1]! + 1}:`]);
    let ended: number[];
    try {
      p.submit(OP_ACCEPT, l, null, 0, 0, 1);
      native.connect(clients[0]!, AF_INET, '127.0.0.1', port);
      ended = completions(p, comp, 1).get(1)!;
    } finally {
      for (const fd of spare) closeFd(fd);
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:`]);
      for (const fd of fillers) closeFd(fd);
    }
    expect(ended).toEqual([-E.EMFILE!]);
    // Submitted again: the connection that waited in the backlog, then the next.
    p.submit(OP_ACCEPT, l, null, 0, 0, 2);
    const accepted: number[] = [];
    const deadline = Date.now() + 5000;
    let second = false;
    while (accepted.length < 2 && Date.now() < deadline) {
      if (accepted.length === 1 && !second) {
        second = true;
        native.connect(clients[1]!, AF_INET, '127.0.0.1', port);
      }
      p.wait(100);
      for (let i = 0; i < comp[0]!; i++) {
        expect(comp[1 + 3 * i]).toBe(2);
        expect(comp[3 + 3 * i]! & OP_MORE).toBe(OP_MORE);
        accepted.push(track(comp[2 + 3 * i]!));
      }
    }
    expect(accepted).toHaveLength(2);
    for (const fd of accepted) expect(fd).toBeGreaterThan(2);
    expect(p.cancelOp(2)).toBe(true);
    expect(completions(p, comp, 1).get(2)).toEqual([-E.ECANCELED!]);
  });
});

// ---- io_uring: multishot recv into provided buffers -------------------------

const gc = exposedGc;

describe.runIf(native.uringProbe().multishotRecv)('Poller(io_uring): multishot recv into provided buffers', () => {
  const SIZE = 64;
  function ring(count: number): { p: NativePoller; comp: Int32Array; pool: Buffer; recycle: Int32Array } {
    const comp = new Int32Array(1 + 3 * 64);
    const p = new native.Poller('io_uring', new Int32Array(128), comp);
    openPollers.push(p);
    const pool = Buffer.alloc(count * SIZE);
    const recycle = new Int32Array(count + 1);
    p.setBufRing(pool, count, SIZE, recycle);
    return { p, comp, pool, recycle };
  }

  /** Waits for the next completions (at least one) of the operations; returns [token, result, flags] triples. */
  function next(p: NativePoller, comp: Int32Array): Array<[number, number, number]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      if (Date.now() > deadline) throw new Error('no completion');
      p.wait(100);
      if (comp[0]! > 0) {
        const out: Array<[number, number, number]> = [];
        for (let i = 0; i < comp[0]!; i++) out.push([comp[1 + 3 * i]!, comp[2 + 3 * i]!, comp[3 + 3 * i]!]);
        return out;
      }
    }
  }

  it('each read completes into a buffer the kernel picked, named in the flags; the recv stays armed; recycled buffers are used again', () => {
    const { p, comp, pool, recycle } = ring(4);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.submit(OP_RECV_MULTI, a, null, 0, 0, 3);
    const seen = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const msg = text(`read ${i}`);
      expect(native.send(b, msg, 0, msg.length)).toBe(msg.length);
      const [[token, res, flags]] = next(p, comp) as [[number, number, number]];
      expect(token).toBe(3);
      expect(res).toBe(msg.length);
      expect(flags & (OP_MORE | OP_BUFFER)).toBe(OP_MORE | OP_BUFFER);
      const bid = flags >>> 16;
      expect(bid).toBeLessThan(4);
      expect(pool.subarray(bid * SIZE, bid * SIZE + res).toString()).toBe(`read ${i}`);
      seen.add(bid);
      // Given back with no call: the next wait hands it to the kernel.
      recycle[1 + recycle[0]!] = bid;
      recycle[0] = recycle[0]! + 1;
    }
    // 12 reads through 4 buffers: each was used again after it came back.
    expect(seen.size).toBe(4);
    expect(p.opsInFlight).toBe(1);
    expect(p.cancelOp(3)).toBe(true);
    expect(next(p, comp)).toEqual([[3, -E.ECANCELED!, 0]]);
    expect(p.opsInFlight).toBe(0);
  });

  it('no buffer left: the recv ends with -ENOBUFS, the bytes stay in the socket; submitted again once buffers are back, it reads them', () => {
    const { p, comp, pool, recycle } = ring(2);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.submit(OP_RECV_MULTI, a, null, 0, 0, 1);
    const held: number[] = [];
    for (const word of ['one', 'two']) {
      native.send(b, text(word), 0, word.length);
      const [[, res, flags]] = next(p, comp) as [[number, number, number]];
      expect(res).toBe(word.length);
      held.push(flags >>> 16);
    }
    native.send(b, text('three'), 0, 5);
    // Both buffers are held: the multishot recv ends, no byte taken.
    expect(next(p, comp)).toEqual([[1, -E.ENOBUFS!, 0]]);
    expect(p.opsInFlight).toBe(0);
    recycle[1] = held[0]!;
    recycle[0] = 1;
    p.submit(OP_RECV_MULTI, a, null, 0, 0, 2);
    const [[token, res, flags]] = next(p, comp) as [[number, number, number]];
    expect([token, res, flags & (OP_MORE | OP_BUFFER)]).toEqual([2, 5, OP_MORE | OP_BUFFER]);
    expect(flags >>> 16).toBe(held[0]);
    expect(recycle[0]).toBe(0);
    expect(pool.subarray(held[0]! * SIZE, held[0]! * SIZE + 5).toString()).toBe('three');
    p.cancelOp(2);
    expect(next(p, comp)).toEqual([[2, -E.ECANCELED!, 0]]);
    // arg 1: a single recv, one buffer, no more completions after it.
    recycle[1] = held[1]!;
    recycle[0] = 1;
    native.send(b, text('four'), 0, 4);
    p.submit(OP_RECV_MULTI, a, null, 0, 0, 3, 1);
    const [[t3, r3, f3]] = next(p, comp) as [[number, number, number]];
    expect([t3, r3, f3 & (OP_MORE | OP_BUFFER), f3 >>> 16]).toEqual([3, 4, OP_BUFFER, held[1]]);
    expect(p.opsInFlight).toBe(0);
  });

  it('EOF ends the recv with 0; a submit before setBufRing, a bad pool, a second setBufRing are refused', () => {
    const { p, comp } = ring(2);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    p.submit(OP_RECV_MULTI, a, null, 0, 0, 1);
    native.shutdown(b, native.SHUT_WR);
    expect(next(p, comp)).toEqual([[1, 0, 0]]);
    expectErrno(() => p.setBufRing(Buffer.alloc(128), 2, 64, new Int32Array(3)), 'EEXIST');
    expect(() => p.submit(OP_RECV_MULTI, a, Buffer.alloc(4), 0, 4, 2)).toThrow(TypeError);
    expect(() => p.submit(6, a, null, 0, 0, 2)).toThrow(RangeError);

    const comp2 = new Int32Array(4);
    const q = new native.Poller('io_uring', new Int32Array(2), comp2);
    openPollers.push(q);
    expectErrno(() => q.submit(OP_RECV_MULTI, a, null, 0, 0, 1), 'ENOBUFS');
    expect(q.opsInFlight).toBe(0);
    expect(() => q.setBufRing(Buffer.alloc(3 * 64), 3, 64, new Int32Array(4))).toThrow(/power of two/);
    expect(() => q.setBufRing(Buffer.alloc(64), 2, 64, new Int32Array(3))).toThrow(RangeError);
    expect(() => q.setBufRing(Buffer.alloc(128), 2, 64, new Int32Array(2))).toThrow(TypeError);
    expect(() => q.setBufRing(new Int32Array(32) as unknown as Uint8Array, 2, 64, new Int32Array(3))).toThrow(TypeError);
    q.setBufRing(Buffer.alloc(128), 2, 64, new Int32Array(3));
  });

  it('close with multishot recvs in flight: cancelled and reaped before it returns; nothing reads the sockets after', () => {
    const { p } = ring(4);
    const pairs = [0, 1, 2].map(() => track(native.socketpair(AF_UNIX, SOCK_STREAM)));
    pairs.forEach(([a], i) => p.submit(OP_RECV_MULTI, a!, null, 0, 0, i));
    p.wait(0);
    expect(p.opsInFlight).toBe(3);
    p.close();
    expect(p.opsInFlight).toBe(0);
    for (const [a, b] of pairs) {
      expect(native.send(b!, text('late'), 0, 4)).toBe(4);
      expect(native.recv(a!, Buffer.alloc(8), 0, 8)).toBe(4);
    }
  });

  it.runIf(gc !== null)('the pool is not collected while the ring may write into it, only after close()', async () => {
    // The poller holds the one strong reference to the pool (and to the
    // recycle array) until close() has reaped every operation: dropped by
    // JS, the pool must survive collection while a recv is in flight.
    const comp = new Int32Array(1 + 3 * 8);
    const p = new native.Poller('io_uring', new Int32Array(8), comp);
    openPollers.push(p);
    let collected = 0;
    const registry = new FinalizationRegistry(() => collected++);
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    ((): void => {
      const pool = new Uint8Array(4 * 1024 * 1024);
      registry.register(pool.buffer, 'pool');
      p.setBufRing(pool, 64, 64 * 1024, new Int32Array(65));
    })();
    p.submit(OP_RECV_MULTI, a, null, 0, 0, 1);
    p.wait(0);
    for (let i = 0; i < 5; i++) {
      gc!();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(collected).toBe(0);
    // The kernel writes into it still (under ASan a freed pool would show).
    native.send(b, text('still here'), 0, 10);
    const deadline = Date.now() + 5000;
    while (comp[0] === 0 && Date.now() < deadline) p.wait(100);
    expect([comp[1], comp[2], comp[3]! & OP_BUFFER]).toEqual([1, 10, OP_BUFFER]);
    p.close();
    for (let i = 0; i < 100 && collected === 0; i++) {
      gc!();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(collected).toBe(1);
  });
});

describe('Waker', () => {
  it.each(native.backends())('wakes a %s wait; drain consumes every wakeup', (backend) => {
    const { p, ev } = poller(backend);
    const waker = new native.Waker();
    try {
      expect(waker.closed).toBe(false);
      const fd = waker.fileno();
      p.add(fd, POLL_READ);
      expect(waitMap(p, ev, 0).size).toBe(0);
      expect(waker.drain()).toBe(false);
      waker.wake();
      waker.wake();
      const start = performance.now();
      expect(waitMap(p, ev, 5000).get(fd)).toBe(POLL_READ);
      expect(performance.now() - start).toBeLessThan(1000);
      expect(waker.drain()).toBe(true);
      expect(waker.drain()).toBe(false);
      expect(waitMap(p, ev, 0).size).toBe(0);
      p.remove(fd);
    } finally {
      waker.close();
    }
    expect(waker.closed).toBe(true);
    expectErrno(() => waker.wake(), 'EBADF');
    expect(() => waker.close()).not.toThrow();
  });

  it('wakeWrite writes to writeFd (the read end for an eventfd only); a closed Waker drops it; EBADF throws', () => {
    const { p, ev } = poller(native.backends()[0]!);
    const waker = new native.Waker();
    let dup = -1;
    try {
      if (native.build.waker === 'eventfd') expect(waker.writeFd()).toBe(waker.fileno());
      else expect(waker.writeFd()).not.toBe(waker.fileno());
      dup = track(native.dup(waker.writeFd()));
      p.add(waker.fileno(), POLL_READ);
      expect(native.wakeWrite(dup)).toBe(true);
      expect(waitMap(p, ev, 1000).get(waker.fileno())).toBe(POLL_READ);
      expect(waker.drain()).toBe(true);
      if (native.build.waker === 'pipe') {
        // A full pipe is awake already: still true (64 KiB on Linux, 16 KiB to 64 KiB on macOS).
        for (let i = 0; i < 70_000; i++) expect(native.wakeWrite(dup)).toBe(true);
        expect(waker.drain()).toBe(true);
      }
      p.remove(waker.fileno());
    } finally {
      waker.close();
    }
    expectErrno(() => waker.writeFd(), 'EBADF');
    // The other thread's dup outlives the Waker: an eventfd nobody polls
    // takes the write; a pipe without a reader refuses it (EPIPE), reported
    // as false, with no SIGPIPE (Node ignores it here anyway: see test/threads.test.ts).
    expect(native.wakeWrite(dup)).toBe(native.build.waker === 'eventfd');
    const [r, w] = native.pipe();
    native.close(r);
    native.close(w);
    expectErrno(() => native.wakeWrite(w), 'EBADF', 'write');
  });

  it('wakes a blocked wait from another thread (which loads the addon too)', async () => {
    const { p, ev } = poller(native.backends()[0]!);
    const waker = new native.Waker();
    // The addon this file loaded (scripts/asan.sh and scripts/portable.sh point COIO_ADDON_PATH elsewhere).
    const addonPath = addonPathOverride ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'coio.node');
    try {
      p.add(waker.fileno(), POLL_READ);
      // The worker writes to the write end: the eventfd itself, or the pipe's
      // other end (the read end the poller watches cannot be written).
      const worker = new Worker(
        `const { workerData, parentPort } = require('node:worker_threads');
         const addon = require(workerData.addonPath);
         parentPort.postMessage(addon.backends());
         setTimeout(() => { addon.wakeWrite(workerData.fd); }, 100);`,
        { eval: true, workerData: { addonPath, fd: waker.writeFd() } },
      );
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      const backends = await new Promise((resolve) => worker.once('message', resolve));
      expect(backends).toEqual(native.backends());
      const start = performance.now();
      const ready = waitMap(p, ev, 10_000);
      expect(ready.get(waker.fileno())).toBe(POLL_READ);
      expect(performance.now() - start).toBeLessThan(5000);
      expect(waker.drain()).toBe(true);
      await exited;
    } finally {
      waker.close();
    }
  });
});

// ---- sockets ----------------------------------------------------------------

/** The open-file and fd flags of fd, from /proc/self/fdinfo (Linux), or null where it is missing. */
function fdFlags(fd: number): { nonBlocking: boolean; closeOnExec: boolean } | null {
  if (!existsSync('/proc/self/fdinfo')) return null;
  const flags = parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
  // O_NONBLOCK and O_CLOEXEC as Linux numbers them (asm-generic/fcntl.h).
  return { nonBlocking: (flags & 0o4000) !== 0, closeOnExec: (flags & 0o2000000) !== 0 };
}

describe.skipIf(fdFlags(0) === null)('new fds are non-blocking and close-on-exec', () => {
  // In one call (pipe2, SOCK_NONBLOCK, accept4) or with fcntl afterwards
  // (macOS's way, and the portable build's): either way, every one of them.
  it('socket, socketpair, pipe, accept and dup', () => {
    const fds: Record<string, number> = {};
    fds.socket = track(native.socket(AF_INET, SOCK_STREAM));
    fds.udp = track(native.socket(AF_INET, SOCK_DGRAM));
    [fds.socketpair0, fds.socketpair1] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    [fds.pipeRead, fds.pipeWrite] = track(native.pipe());
    [fds.client, fds.accepted] = tcpPair(AF_INET, '127.0.0.1');
    fds.dup = track(native.dup(fds.pipeRead));
    const waker = new native.Waker();
    try {
      fds.wakerRead = waker.fileno();
      fds.wakerWrite = waker.writeFd();
      for (const [name, fd] of Object.entries(fds)) {
        const flags = fdFlags(fd)!;
        expect({ name, closeOnExec: flags.closeOnExec }).toEqual({ name, closeOnExec: true });
        // dup(2) shares the open file (and so O_NONBLOCK) with the original.
        expect({ name, nonBlocking: flags.nonBlocking }).toEqual({ name, nonBlocking: true });
      }
    } finally {
      waker.close();
    }
  });
});

describe('sockets', () => {
  it('exports constants and errno values', () => {
    for (const name of [
      'EAGAIN', 'EWOULDBLOCK', 'EINPROGRESS', 'EINTR', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE',
      'EBADF', 'EADDRINUSE', 'EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'ECONNABORTED', 'ENOTCONN',
      'ETIMEDOUT', 'EINVAL', 'ENOENT', 'EEXIST', 'EISCONN', 'EALREADY', 'EHOSTUNREACH',
      'ENETUNREACH', 'ESHUTDOWN', 'EPROTO',
    ]) {
      expect(E[name], name).toBeGreaterThan(0);
    }
    const ids = [
      native.SO_REUSEADDR, native.SO_REUSEPORT, native.TCP_NODELAY, native.SO_KEEPALIVE,
      native.SO_RCVBUF, native.SO_SNDBUF, native.SO_BROADCAST, native.IPV6_V6ONLY,
    ];
    expect(new Set(ids).size).toBe(8);
    expect(typeof AF_INET).toBe('number');
    expect(native.SHUT_RDWR).not.toBe(native.SHUT_WR);
  });

  it('sends and receives on a socketpair; empty reads would block', () => {
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    const buf = Buffer.alloc(16);
    expect(native.recv(a, buf, 0, 16)).toBe(WOULD_BLOCK);
    expect(native.send(b, text('hello world'), 6, 5)).toBe(5);
    expect(native.recv(a, buf, 2, 14)).toBe(5);
    expect(buf.subarray(2, 7).toString()).toBe('world');
    // A Uint8Array works as well as a Buffer.
    expect(native.send(a, new Uint8Array([1, 2, 3]), 0, 3)).toBe(3);
    const u8 = new Uint8Array(3);
    expect(native.recv(b, u8, 0, 3)).toBe(3);
    expect([...u8]).toEqual([1, 2, 3]);
    native.shutdown(b, native.SHUT_WR);
    expect(native.recv(a, buf, 0, 16)).toBe(0);
  });

  it('reads and writes a pipe: WOULD_BLOCK when empty, 0 at EOF', () => {
    const [r, w] = track(native.pipe());
    const buf = Buffer.alloc(8);
    expect(native.read(r, buf, 0, 8)).toBe(WOULD_BLOCK);
    expect(native.write(w, text('pipe'), 0, 4)).toBe(4);
    expect(native.read(r, buf, 0, 8)).toBe(4);
    expect(buf.subarray(0, 4).toString()).toBe('pipe');
    closeFd(w);
    expect(native.read(r, buf, 0, 8)).toBe(0);
  });

  it('writes until a pipe is full, then WOULD_BLOCK', () => {
    const [, w] = track(native.pipe());
    const chunk = Buffer.alloc(65536);
    let total = 0;
    for (;;) {
      const n = native.write(w, chunk, 0, chunk.length);
      if (n === WOULD_BLOCK) break;
      total += n;
    }
    expect(total).toBeGreaterThan(0);
  });

  it('sendv gathers several buffers, the first from firstOffset', () => {
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    expect(native.sendv(a, [text('hello'), text(' '), new Uint8Array(text('world'))], 2)).toBe(9);
    expect(recvAll(b)).toBe('llo world');
    expect(native.sendv(a, [], 0)).toBe(0);
    expect(native.sendv(a, [text('abc')], 3)).toBe(0);
    // At most 64 buffers are taken per call: the caller loops on the count.
    const many = Array.from({ length: 100 }, (_, i) => text(String(i % 10)));
    expect(native.sendv(a, many, 0)).toBe(64);
    expect(recvAll(b)).toBe('0123456789'.repeat(7).slice(0, 64));
    // Non-sockets take the writev path.
    const [r, w] = track(native.pipe());
    expect(native.sendv(w, [text('ab'), text('cd')], 1)).toBe(3);
    const buf = Buffer.alloc(8);
    expect(native.read(r, buf, 0, 8)).toBe(3);
    expect(buf.subarray(0, 3).toString()).toBe('bcd');
    expect(() => native.sendv(a, [text('ab')], 3)).toThrow(RangeError);
    expect(() => native.sendv(a, [text('ab'), 'cd' as unknown as Uint8Array], 0)).toThrow(TypeError);
    expect(() => native.sendv(a, text('ab') as unknown as Uint8Array[], 0)).toThrow(TypeError);
  });

  it('sendv never reads a buffer that a getter of a later element detached', () => {
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    // Reading bufs[1] frees bufs[0]'s memory: the pointer to bufs[0] must not
    // have been taken before (under ASan that was a heap-use-after-free; without
    // it, another allocation's bytes went out).
    type Movable = ArrayBuffer & { transfer?(n?: number): ArrayBuffer };
    const detachers = [(u: Uint8Array) => structuredClone(u.buffer, { transfer: [u.buffer as ArrayBuffer] })];
    // ArrayBuffer.prototype.transfer (Node 21+) frees or moves the memory at once.
    if (typeof (ArrayBuffer.prototype as Movable).transfer === 'function') {
      detachers.push((u: Uint8Array) => (u.buffer as Movable).transfer!(1));
    }
    for (const detach of detachers) {
      const first = new Uint8Array(65536).fill(0x61);
      const bufs: Uint8Array[] = [first];
      Object.defineProperty(bufs, 1, {
        enumerable: true,
        get() {
          detach(first);
          return text('tail');
        },
      });
      expect(() => native.sendv(a, bufs, 0)).toThrow(/bufs\[0\].*detached/);
      expect(native.recv(b, Buffer.alloc(8), 0, 8)).toBe(WOULD_BLOCK);
    }
    // A getter that throws: its error comes through, nothing is sent.
    const bufs: Uint8Array[] = [text('x')];
    Object.defineProperty(bufs, 1, {
      get() {
        throw new Error('getter says no');
      },
    });
    expect(() => native.sendv(a, bufs, 0)).toThrow('getter says no');
    // A getter that does no harm: the right bytes go out.
    const fine: Uint8Array[] = [text('ab')];
    Object.defineProperty(fine, 1, { get: () => text('cd') });
    expect(native.sendv(a, fine, 0)).toBe(4);
    expect(recvAll(b)).toBe('abcd');
  });

  describe.each([
    ['IPv4', AF_INET, '127.0.0.1'],
    ['IPv6', AF_INET6, '::1'],
  ] as const)('TCP over %s loopback', (family, af, host) => {
    const available = af === AF_INET || hasIPv6Loopback();

    it.skipIf(!available)('connects, accepts, exchanges data, names both ends', () => {
      const [client, server] = tcpPair(af, host);
      const local = native.getsockname(client) as InetAddress;
      const peer = native.getpeername(server) as InetAddress;
      expect(local.family).toBe(family);
      expect(local.address).toBe(host);
      expect(peer).toEqual(local);
      expect((native.getpeername(client) as InetAddress).port).toBe(
        (native.getsockname(server) as InetAddress).port,
      );
      if (af === AF_INET6) {
        expect(local.flowinfo).toBe(0);
        expect(local.scopeid).toBe(0);
      } else {
        expect(local.flowinfo).toBeUndefined();
      }
      native.setsockopt(client, native.TCP_NODELAY, true);
      expect(native.getsockopt(client, native.TCP_NODELAY)).not.toBe(0);
      expect(native.send(client, text('ping'), 0, 4)).toBe(4);
      const w = readiness(server, POLL_READ);
      waitUntil(w.p, w.ev, server, POLL_READ);
      expect(recvAll(server)).toBe('ping');
    });

    it.skipIf(!available)('connect to a closed port fails with ECONNREFUSED', () => {
      const probe = track(native.socket(af, SOCK_STREAM));
      native.bind(probe, af, host, 0);
      const port = (native.getsockname(probe) as InetAddress).port;
      closeFd(probe); // bound, never listening: connections are refused
      const fd = track(native.socket(af, SOCK_STREAM));
      let err: NodeJS.ErrnoException;
      try {
        expect(native.connect(fd, af, host, port)).toBe(WOULD_BLOCK);
        const w = readiness(fd, POLL_WRITE);
        waitUntil(w.p, w.ev, fd, POLL_WRITE | POLL_ERROR | POLL_HUP);
        const errno = native.getSocketError(fd);
        expect(errno).toBe(E.ECONNREFUSED);
        err = native.errorFromErrno(errno, 'connect', host, port);
      } catch (thrown) {
        err = thrown as NodeJS.ErrnoException; // refused at once: thrown by connect
      }
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toBe(`connect ECONNREFUSED ${host}:${port}`);
      expect(err.code).toBe('ECONNREFUSED');
      expect(err.errno).toBe(-E.ECONNREFUSED!);
      expect(err.syscall).toBe('connect');
      expect((err as unknown as { address: string }).address).toBe(host);
      expect((err as unknown as { port: number }).port).toBe(port);
    });

    it.skipIf(!available)('bind to a port in use fails with EADDRINUSE', () => {
      const first = track(native.socket(af, SOCK_STREAM));
      native.bind(first, af, host, 0);
      native.listen(first, 1);
      const port = (native.getsockname(first) as InetAddress).port;
      const second = track(native.socket(af, SOCK_STREAM));
      const err = expectErrno(() => native.bind(second, af, host, port), 'EADDRINUSE', 'bind');
      expect(err.message).toBe(`bind EADDRINUSE ${host}:${port}`);
      expect((err as unknown as { address: string }).address).toBe(host);
      expect((err as unknown as { port: number }).port).toBe(port);
    });
  });

  it('a peer reset surfaces as ECONNRESET or EPIPE on send', () => {
    const [client, server] = tcpPair(AF_INET, '127.0.0.1');
    expect(native.send(client, text('unread'), 0, 6)).toBe(6);
    const w = readiness(server, POLL_READ);
    waitUntil(w.p, w.ev, server, POLL_READ);
    closeFd(server); // closing with unread data sends RST (RFC 2525 2.17)
    const cw = readiness(client, POLL_READ);
    waitUntil(cw.p, cw.ev, client, POLL_READ | POLL_ERROR | POLL_HUP);
    const err = errorOf(() => {
      for (let i = 0; i < 100; i++) native.send(client, text('more'), 0, 4);
    });
    expect(['ECONNRESET', 'EPIPE']).toContain(err.code);
    expect(err.errno).toBe(-E[err.code!]!);
    expect(err.syscall).toBe('send');
  });

  it('setsockopt / getsockopt map our option ids', () => {
    const fd = track(native.socket(AF_INET, SOCK_STREAM));
    native.setsockopt(fd, native.SO_REUSEADDR, 1);
    expect(native.getsockopt(fd, native.SO_REUSEADDR)).not.toBe(0);
    native.setsockopt(fd, native.SO_REUSEADDR, false);
    expect(native.getsockopt(fd, native.SO_REUSEADDR)).toBe(0);
    native.setsockopt(fd, native.SO_KEEPALIVE, true);
    expect(native.getsockopt(fd, native.SO_KEEPALIVE)).not.toBe(0);
    native.setsockopt(fd, native.SO_RCVBUF, 65536);
    expect(native.getsockopt(fd, native.SO_RCVBUF)).toBeGreaterThanOrEqual(65536);
    expect(native.getsockopt(fd, native.SO_SNDBUF)).toBeGreaterThan(0);
    native.setsockopt(fd, native.SO_REUSEPORT, true);
    expect(native.getsockopt(fd, native.SO_REUSEPORT)).not.toBe(0);
    const udp = track(native.socket(AF_INET, SOCK_DGRAM));
    native.setsockopt(udp, native.SO_BROADCAST, true);
    expect(native.getsockopt(udp, native.SO_BROADCAST)).not.toBe(0);
    const v6 = track(native.socket(AF_INET6, SOCK_STREAM));
    native.setsockopt(v6, native.IPV6_V6ONLY, true);
    expect(native.getsockopt(v6, native.IPV6_V6ONLY)).not.toBe(0);
    expect(() => native.setsockopt(fd, 99, 1)).toThrow(RangeError);
    expect(() => native.setsockopt(fd, native.SO_KEEPALIVE, 'yes' as unknown as number)).toThrow(
      TypeError,
    );
    // An IPv6 option on an IPv4 socket: the kernel refuses (Linux: EOPNOTSUPP).
    const err = errorOf(() => native.getsockopt(udp, native.IPV6_V6ONLY));
    expect(['ENOPROTOOPT', 'ENOTSUP', 'EOPNOTSUPP']).toContain(err.code);
    expect(err.syscall).toBe('getsockopt');
  });

  it('sends and receives UDP datagrams with the sender address', () => {
    const a = track(native.socket(AF_INET, SOCK_DGRAM));
    const b = track(native.socket(AF_INET, SOCK_DGRAM));
    native.bind(a, AF_INET, '127.0.0.1', 0);
    native.bind(b, AF_INET, '127.0.0.1', 0);
    const portA = (native.getsockname(a) as InetAddress).port;
    const portB = (native.getsockname(b) as InetAddress).port;
    const out: { address?: SockAddress } = {};
    const buf = Buffer.alloc(64);
    expect(native.recvfrom(b, buf, 0, 64, out)).toBe(WOULD_BLOCK);
    expect(native.sendto(a, text('datagram'), 0, 8, AF_INET, '127.0.0.1', portB)).toBe(8);
    const w = readiness(b, POLL_READ);
    waitUntil(w.p, w.ev, b, POLL_READ);
    expect(native.recvfrom(b, buf, 0, 64, out)).toBe(8);
    expect(buf.subarray(0, 8).toString()).toBe('datagram');
    expect(out.address).toEqual({ family: 'IPv4', address: '127.0.0.1', port: portA });
    expectErrno(() => native.sendto(a, text('x'), 0, 1, AF_INET, 'not-an-ip', 1), 'EINVAL', 'sendto');
  });

  it.skipIf(!hasIPv6Loopback())('parses IPv6 scopes (%name or %index) and refuses bad hosts', () => {
    const a = track(native.socket(AF_INET6, SOCK_DGRAM));
    const b = track(native.socket(AF_INET6, SOCK_DGRAM));
    native.bind(a, AF_INET6, '::1', 0);
    native.bind(b, AF_INET6, '::1', 0);
    const portB = (native.getsockname(b) as InetAddress).port;
    // The scope only matters for link-local addresses; ::1 takes and ignores it.
    expect(native.sendto(a, text('s1'), 0, 2, AF_INET6, '::1%lo', portB)).toBe(2);
    expect(native.sendto(a, text('s2'), 0, 2, AF_INET6, '::1%1', portB)).toBe(2);
    const out: { address?: SockAddress } = {};
    const w = readiness(b, POLL_READ);
    waitUntil(w.p, w.ev, b, POLL_READ);
    expect(native.recvfrom(b, Buffer.alloc(8), 0, 8, out)).toBe(2);
    expect(out.address).toMatchObject({ family: 'IPv6', address: '::1' });
    const bad = (host: string) =>
      expectErrno(() => native.sendto(a, text('x'), 0, 1, AF_INET6, host, portB), 'EINVAL', 'sendto');
    bad('::1%no-such-interface-x');
    bad('::1%');
    bad('1.2.3.4');
    const err = expectErrno(() => native.bind(b, AF_INET, '999.0.0.1', 80), 'EINVAL', 'bind');
    expect(err.message).toBe('bind EINVAL 999.0.0.1:80');
  });

  it('recvfrom on a Unix datagram socketpair reports an unnamed sender', () => {
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_DGRAM));
    native.send(a, text('hi'), 0, 2);
    const out: { address?: SockAddress } = {};
    expect(native.recvfrom(b, Buffer.alloc(8), 0, 8, out)).toBe(2);
    expect(out.address).toEqual({ family: 'unix', path: '' });
  });

  describe('Unix sockets', () => {
    let dir = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'coio-native-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('listens on a path, connects, accepts and names both ends', () => {
      const path = join(dir, 'stream.sock');
      const listener = track(native.socket(AF_UNIX, SOCK_STREAM));
      native.bind(listener, AF_UNIX, path, 0);
      native.listen(listener, 4);
      expect(native.getsockname(listener)).toEqual({ family: 'unix', path });
      const client = track(native.socket(AF_UNIX, SOCK_STREAM));
      expect([0, WOULD_BLOCK]).toContain(native.connect(client, AF_UNIX, path, 0));
      const w = readiness(listener, POLL_READ);
      waitUntil(w.p, w.ev, listener, POLL_READ);
      const server = track(native.accept(listener));
      expect(native.accept(listener)).toBe(WOULD_BLOCK);
      expect(native.getpeername(client)).toEqual({ family: 'unix', path });
      expect(native.getpeername(server)).toEqual({ family: 'unix', path: '' });
      expect(native.send(server, text('unix'), 0, 4)).toBe(4);
      expect(recvAll(client)).toBe('unix');
      expectErrno(() => native.bind(track(native.socket(AF_UNIX, SOCK_STREAM)), AF_UNIX, path, 0), 'EADDRINUSE', 'bind');
    });

    it('refuses a path longer than sun_path with ENAMETOOLONG', () => {
      const fd = track(native.socket(AF_UNIX, SOCK_STREAM));
      const path = join(dir, 'x'.repeat(200));
      const err = expectErrno(() => native.bind(fd, AF_UNIX, path, 0), 'ENAMETOOLONG', 'bind');
      expect((err as unknown as { address: string }).address).toBe(path);
      expectErrno(() => native.connect(fd, AF_UNIX, 'y'.repeat(1000), 0), 'ENAMETOOLONG', 'connect');
    });

    it('connect to a missing path fails with ENOENT and the path', () => {
      const fd = track(native.socket(AF_UNIX, SOCK_STREAM));
      const path = join(dir, 'missing.sock');
      const err = expectErrno(() => native.connect(fd, AF_UNIX, path, 0), 'ENOENT', 'connect');
      expect(err.message).toBe(`connect ENOENT ${path}`);
    });

    it.runIf(process.platform === 'linux')('binds an abstract name (leading NUL)', () => {
      const name = `\0coio-test-${process.pid}-${Date.now()}`;
      const listener = track(native.socket(AF_UNIX, SOCK_STREAM));
      native.bind(listener, AF_UNIX, name, 0);
      native.listen(listener, 1);
      expect((native.getsockname(listener) as UnixAddress).path).toBe(name);
      const client = track(native.socket(AF_UNIX, SOCK_STREAM));
      expect([0, WOULD_BLOCK]).toContain(native.connect(client, AF_UNIX, name, 0));
      expect((native.getpeername(client) as UnixAddress).path).toBe(name);
    });
  });

  it('throws EBADF for I/O on an fd that is not open', () => {
    const notOpen = 1_000_000; // far above any fd this process has
    const buf = Buffer.alloc(4);
    expectErrno(() => native.recv(notOpen, buf, 0, 4), 'EBADF', 'recv');
    expectErrno(() => native.send(notOpen, buf, 0, 4), 'EBADF', 'send');
    expectErrno(() => native.read(notOpen, buf, 0, 4), 'EBADF', 'read');
    expectErrno(() => native.close(notOpen), 'EBADF', 'close');
    const err = expectErrno(() => native.recv(notOpen, buf, 0, 4), 'EBADF');
    expect(err.message).toBe('recv EBADF');
  });

  it('refuses bad arguments before any syscall', () => {
    const [a, b] = track(native.socketpair(AF_UNIX, SOCK_STREAM));
    native.send(b, text('keep'), 0, 4);
    const buf = Buffer.alloc(10);
    expect(() => native.recv('3' as unknown as number, buf, 0, 1)).toThrow(TypeError);
    expect(() => native.recv(-1, buf, 0, 1)).toThrow(RangeError);
    expect(() => native.recv(NaN, buf, 0, 1)).toThrow(RangeError);
    expect(() => native.recv(a, buf, 0, 11)).toThrow(RangeError);
    expect(() => native.recv(a, buf, 8, 3)).toThrow(RangeError);
    expect(() => native.recv(a, buf, -1, 1)).toThrow(RangeError);
    expect(() => native.recv(a, buf, 0.5, 1)).toThrow(RangeError);
    expect(() => native.recv(a, 'buf' as unknown as Uint8Array, 0, 1)).toThrow(TypeError);
    expect(() => native.recv(a, new Uint16Array(4) as unknown as Uint8Array, 0, 1)).toThrow(TypeError);
    expect(() => native.send(a, buf, 5, 6)).toThrow(RangeError);
    expect(() => native.connect(a, AF_INET, 1 as unknown as string, 80)).toThrow(TypeError);
    expect(() => native.connect(a, AF_INET, '127.0.0.1', 65536)).toThrow(RangeError);
    expect(() => native.recvfrom(a, buf, 0, 1, null as unknown as object)).toThrow(TypeError);
    expect(() => native.socket('2' as unknown as number, SOCK_STREAM)).toThrow(TypeError);
    expect(() => native.errorFromErrno(-1, 'x')).toThrow(RangeError);
    // The failed calls consumed nothing.
    expect(recvAll(a)).toBe('keep');
  });

  it('errorFromErrno builds the same error the addon throws', () => {
    const err = native.errorFromErrno(E.ENOENT!, 'open');
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('open ENOENT');
    expect(err.code).toBe('ENOENT');
    expect(err.errno).toBe(-E.ENOENT!);
    expect(err.syscall).toBe('open');
    expect('address' in err).toBe(false);
    const withAddress = native.errorFromErrno(E.ETIMEDOUT!, 'connect', '10.0.0.1', 80);
    expect(withAddress.message).toBe('connect ETIMEDOUT 10.0.0.1:80');
    const unknown = native.errorFromErrno(99999, 'recv');
    expect(unknown.code).toBe('UNKNOWN');
    expect(unknown.errno).toBe(-99999);
    expect(unknown.message).toBe('recv Unknown system error -99999');
  });

  it('counts open fds', () => {
    const before = native.countOpenFds();
    expect(before).toBeGreaterThan(2);
    track(native.pipe());
    expect(native.countOpenFds()).toBe(before + 2);
  });
});
