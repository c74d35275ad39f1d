// The selectors layer against every backend available here, over real
// socketpairs, pipes and loopback TCP.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { native } from '../src/native.js';
import {
  availableBackends,
  BaseSelector,
  createSelector,
  defaultBackend,
  DefaultSelector,
  EVENT_READ,
  EVENT_WRITE,
  KeyError,
  SelectSelector,
  uringStatus,
} from '../src/selectors.js';
import { AF_INET, Socket, socketpair } from '../src/socket.js';
import { sleep } from '../src/index.js';
import { hasUring, osBackend, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

const backends = availableBackends();

/** Sockets and selectors a test opened, closed after it whatever happens. */
const opened: Array<{ close(): void }> = [];
function track<T extends { close(): void }>(x: T): T {
  opened.push(x);
  return x;
}
function pair(): [Socket, Socket] {
  const [a, b] = socketpair();
  return [track(a), track(b)];
}

afterEach(() => {
  while (opened.length > 0) opened.pop()!.close();
});

describe('backend probe', () => {
  it('lists the compiled backends, preferred first', () => {
    expect(backends.length).toBeGreaterThan(0);
    const uring = hasUring ? ['io_uring'] : [];
    expect(backends).toEqual(osBackend === null ? ['poll', 'select'] : [osBackend, ...uring, 'poll', 'select']);
    expect(backends).toContain('poll');
    expect(backends).toContain('select');
  });

  it('DefaultSelector is the preferred backend', () => {
    const sel = track(new DefaultSelector());
    expect(sel).toBeInstanceOf(BaseSelector);
    expect(sel.backend).toBe(backends[0]);
  });

  it('refuses an unknown backend with the list of available ones', () => {
    expect(() => createSelector('nope')).toThrow(/available: /);
  });
});

describe('io_uring probe and COIO_BACKEND', () => {
  afterEach(() => {
    delete process.env.COIO_BACKEND;
    vi.restoreAllMocks();
  });

  it('uringStatus() agrees with availableBackends(), and says why not', () => {
    const status = uringStatus();
    expect(status.available).toBe(hasUring);
    if (status.available) {
      expect(status.reason).toBe('');
      expect(status.errno).toBe(0);
      // This kernel (6.1+) takes the flags that make the ring pay off.
      expect(status.setupFlags).toEqual(expect.arrayContaining(['SINGLE_ISSUER', 'DEFER_TASKRUN']));
    } else {
      expect(status.reason).not.toBe('');
      expect(() => createSelector('io_uring')).toThrow(status.reason);
    }
  });

  it('uringStatus().recv: the proactor transports\' receive path, multishot where the kernel has it unless COIO_RECV says oneshot', () => {
    try {
      const status = uringStatus();
      expect(typeof status.multishotRecv).toBe('boolean');
      expect(status.recv).toBe(status.multishotRecv ? 'multishot' : 'oneshot');
      process.env.COIO_RECV = 'oneshot';
      expect(uringStatus().recv).toBe('oneshot');
      process.env.COIO_RECV = 'multishot';
      expect(uringStatus().recv).toBe(status.multishotRecv ? 'multishot' : 'oneshot');
      process.env.COIO_RECV = 'sometimes';
      expect(() => uringStatus()).toThrow(/recv must be 'multishot' or 'oneshot', got sometimes/);
      expect(native.uringProbe(native.errno.ENOSYS!).multishotRecv).toBe(false);
    } finally {
      delete process.env.COIO_RECV;
    }
  });

  it.runIf(osBackend === 'epoll')('names the cause of a refused ring: seccomp, the sysctl, an old kernel', () => {
    const E = native.errno;
    expect(native.uringProbe(E.ENOSYS!)).toMatchObject({ available: false, errno: E.ENOSYS, setupFlags: [] });
    expect(native.uringProbe(E.ENOSYS!).reason).toMatch(/^io_uring_setup failed with ENOSYS .*seccomp/);
    expect(native.uringProbe(E.EPERM!).reason).toMatch(/^io_uring_setup failed with EPERM .*(seccomp|io_uring_disabled)/);
    expect(native.uringProbe(E.EINVAL!).reason).toMatch(/too old/);
    expect(() => native.uringProbe(-1)).toThrow(RangeError);
  });

  it('COIO_BACKEND picks the backend of loops made without one', () => {
    expect(defaultBackend()).toBe(backends[0]);
    process.env.COIO_BACKEND = 'poll';
    expect(defaultBackend()).toBe('poll');
    const sel = track(createSelector());
    expect(sel.backend).toBe('poll');
    if (hasUring) {
      process.env.COIO_BACKEND = 'io_uring';
      expect(track(createSelector()).backend).toBe('io_uring');
    }
  });

  it('an unusable COIO_BACKEND falls back to the default, with one warning saying why', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    process.env.COIO_BACKEND = 'nope';
    expect(defaultBackend()).toBe(backends[0]);
    expect(defaultBackend()).toBe(backends[0]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/^COIO_BACKEND=nope is unavailable \(available here: .*\); using /);
  });
});

describe.each(backends)('%s selector', (backend) => {
  const make = () => track(createSelector(backend));

  it('reports write readiness at once and read readiness after a send', () => {
    const sel = make();
    const [a, b] = pair();
    const ka = sel.register(a, EVENT_READ | EVENT_WRITE, 'A');
    expect(ka).toMatchObject({ fileobj: a, fd: a.fileno(), events: EVENT_READ | EVENT_WRITE, data: 'A' });
    expect(sel.select(0)).toEqual([[ka, EVENT_WRITE]]);
    b.send('x');
    expect(sel.select(1)).toEqual([[ka, EVENT_READ | EVENT_WRITE]]);
  });

  it('wait()/readyKey()/readyEvents() agree with select()', () => {
    const sel = make();
    const [a, b] = pair();
    const [c, d] = pair();
    sel.register(a, EVENT_READ, 1);
    sel.register(c, EVENT_READ, 2);
    b.send('1');
    d.send('2');
    const n = sel.wait(1);
    expect(n).toBe(2);
    const seen = [sel.readyKey(0).data, sel.readyKey(1).data].sort();
    expect(seen).toEqual([1, 2]);
    expect(sel.readyEvents(0)).toBe(EVENT_READ);
  });

  it('times out without returning early', () => {
    const sel = make();
    const [a] = pair();
    sel.register(a, EVENT_READ);
    for (const timeout of [0.001, 0.02, 0.05]) {
      const t0 = performance.now();
      expect(sel.select(timeout)).toEqual([]);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(timeout * 1000 - 0.05);
    }
  });

  it('polls with a zero or negative timeout', () => {
    const sel = make();
    const [a] = pair();
    sel.register(a, EVENT_READ);
    const t0 = performance.now();
    expect(sel.select(0)).toEqual([]);
    expect(sel.select(-1)).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it('reports EOF as readable and a hang-up wakes both directions', () => {
    const sel = make();
    const [a, b] = pair();
    const key = sel.register(a, EVENT_READ);
    b.close();
    expect(sel.select(1)).toEqual([[key, EVENT_READ]]);
    expect(a.recv(10)).toEqual(Buffer.alloc(0));
  });

  it('reports a pipe read end readable at EOF and a write end writable', () => {
    const sel = make();
    const [r, w] = native.pipe();
    track({ close: () => native.close(r) });
    let wOpen = true;
    track({ close: () => wOpen && native.close(w) });
    const kr = sel.register(r, EVENT_READ);
    const kw = sel.register(w, EVENT_WRITE);
    expect(sel.select(0)).toEqual([[kw, EVENT_WRITE]]);
    sel.unregister(w);
    native.close(w);
    wOpen = false;
    expect(sel.select(1)).toEqual([[kr, EVENT_READ]]);
  });

  it('modify changes interest and data; unregister stops events', () => {
    const sel = make();
    const [a, b] = pair();
    sel.register(a, EVENT_READ, 'r');
    expect(sel.select(0)).toEqual([]);
    const key = sel.modify(a, EVENT_WRITE, 'w');
    expect(key.data).toBe('w');
    expect(sel.select(0)).toEqual([[key, EVENT_WRITE]]);
    // Data alone can change without touching events.
    expect(sel.modify(a, EVENT_WRITE, 'w2').data).toBe('w2');
    expect(sel.unregister(a)).toBe(key);
    b.send('x');
    expect(sel.select(0)).toEqual([]);
    expect(sel.getMap().size).toBe(0);
  });

  it('raises clear errors for duplicates, unknown fds and bad events', () => {
    const sel = make();
    const [a] = pair();
    sel.register(a, EVENT_READ);
    expect(() => sel.register(a, EVENT_READ)).toThrow(expect.objectContaining({ name: 'KeyError', code: 'EEXIST' }));
    const [c] = pair();
    expect(() => sel.unregister(c)).toThrow(expect.objectContaining({ name: 'KeyError', code: 'ENOENT' }));
    expect(() => sel.modify(c, EVENT_READ)).toThrow(/not registered/);
    expect(() => sel.getKey(c)).toThrow(/not registered/);
    // A real class: instanceof works, and it is still an Error.
    for (const fn of [() => sel.register(a, EVENT_READ), () => sel.unregister(c), () => sel.modify(c, EVENT_READ), () => sel.getKey(c)]) {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(typeof KeyError).toBe('function');
      expect(err instanceof KeyError).toBe(true);
      expect(err instanceof Error).toBe(true);
    }
    expect(() => sel.register(c, 0)).toThrow(RangeError);
    expect(() => sel.register(c, 4)).toThrow(RangeError);
    expect(() => sel.register(c, 1.5)).toThrow(RangeError);
    expect(() => sel.register(-1, EVENT_READ)).toThrow(RangeError);
    expect(() => sel.register('7' as unknown as number, EVENT_READ)).toThrow(TypeError);
    expect(() => sel.select(Number.NaN)).toThrow(TypeError);
  });

  it('survives an fd closed while registered and unregisters it afterwards', () => {
    const sel = make();
    const [a, b] = pair();
    const [c, d] = pair();
    sel.register(a, EVENT_READ);
    sel.register(c, EVENT_READ);
    const fd = a.fileno();
    a.close();
    d.send('x');
    // The closed fd must not break the wait, and c must be reported. poll
    // (POLLNVAL) and select (which fails as a whole with EBADF) see the
    // closed fd: it is reported once, both directions, and forgotten (else
    // it would be reported by every wait). epoll and kqueue never see it:
    // close(2) dropped it from the kernel's list; its owner unregisters it.
    let seen = 0;
    let cSeen = 0;
    for (let i = 0; i < 5; i++) {
      for (const [k, events] of sel.select(0.05)) {
        if (k.fd === fd) {
          seen++;
          expect(events).toBe(EVENT_READ);
        }
        if (k.fileobj === c) cSeen++;
      }
    }
    expect(cSeen).toBeGreaterThan(0);
    if (backend === 'epoll' || backend === 'kqueue') {
      expect(seen).toBe(0);
      sel.unregister(fd);
    } else {
      expect(seen).toBe(1);
      expect(() => sel.unregister(fd)).toThrow(KeyError);
    }
    expect(sel.getMap().has(fd)).toBe(false);
    b.close();
  });

  it('rejects every call once closed', () => {
    const sel = createSelector(backend);
    expect(sel.isClosed()).toBe(false);
    sel.close();
    sel.close();
    expect(sel.isClosed()).toBe(true);
    expect(() => sel.select(0)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => sel.register(0, EVENT_READ)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('reports readiness on loopback TCP: accept, connect, data', () => {
    const sel = make();
    const server = track(new Socket(AF_INET));
    server.setsockopt('SO_REUSEADDR', true);
    server.bind(['127.0.0.1', 0]);
    server.listen();
    const addr = server.getsockname();
    const ks = sel.register(server, EVENT_READ);
    const client = track(new Socket(AF_INET));
    const now = client.connect(addr as { address: string; port: number });
    if (!now) {
      const kc = sel.register(client, EVENT_WRITE);
      expect(sel.select(1)).toContainEqual([kc, EVENT_WRITE]);
      client.checkConnect();
      sel.unregister(client);
    }
    expect(sel.select(1)).toEqual([[ks, EVENT_READ]]);
    const [conn] = server.accept()!;
    track(conn);
    const kconn = sel.register(conn, EVENT_READ);
    client.send('ping');
    expect(sel.select(1)).toEqual([[kconn, EVENT_READ]]);
    expect(conn.recv(16)!.toString()).toBe('ping');
  });

  if (backend !== 'select') {
    it('watches 2,000 fds and finds the one that is ready', () => {
      const sel = make();
      const pairs: Array<[Socket, Socket]> = [];
      for (let i = 0; i < 1000; i++) pairs.push(pair());
      for (const [a, b] of pairs) {
        sel.register(a, EVENT_READ);
        sel.register(b, EVENT_READ);
      }
      expect(sel.getMap().size).toBe(2000);
      expect(sel.select(0)).toEqual([]);
      const [x, y] = pairs[777]!;
      x.send('!');
      const ready = sel.select(1);
      expect(ready.map(([k]) => k.fileobj)).toEqual([y]);
      // All of them at once: more than one wait() holds, none is lost.
      for (const [a] of pairs) a.send('.');
      const seen = new Set<unknown>();
      for (let round = 0; round < 4 && seen.size < 1000; round++) {
        for (const [k] of sel.select(0)) {
          seen.add(k.fileobj);
          (k.fileobj as Socket).recv(8);
        }
      }
      expect(seen.size).toBe(1000);
    });
  }
});

// The loop's readers and writers on raw fds whose owner closes them without
// removing the callback first (asyncio's documented misuse): the selector
// must not spin on them, and the next owner of the number must work.
describe.each(backends)('%s loop, an fd closed behind its back', (backend) => {
  const t = useLoop(backend);

  it('a reader left on a closed fd runs at most once, not on every iteration', () => {
    const loop = t.loop;
    const [r, w] = native.pipe();
    let calls = 0;
    loop.addReader(r, () => calls++);
    native.close(r);
    native.close(w);
    function* main(): Co<void> {
      for (let i = 0; i < 50; i++) yield* sleep(0);
    }
    t.run(main());
    // poll / select see the closed fd once; epoll never does (the kernel
    // dropped it at close), and its key stays until removed.
    expect(calls).toBeLessThanOrEqual(1);
    loop.removeReader(r);
  });

  it.each(['reader', 'writer'] as const)('the next owner of the number gets a working %s, and the old callback never runs', (kind) => {
    const loop = t.loop;
    let oldCalls = 0;
    const [r0, w0] = native.pipe();
    loop.addReader(r0, () => oldCalls++);
    native.close(r0);
    // The lowest free number: r0's comes back, now a socket with data to read
    // (a stale reader would run) and room to write.
    const [a, b] = native.socketpair(native.AF_UNIX, native.SOCK_STREAM);
    try {
      expect(a).toBe(r0);
      native.send(b, Buffer.from('x'), 0, 1);
      const fut = loop.createFuture<string>();
      const wake = (): void => {
        if (!fut.done()) fut.setResult('woke');
      };
      if (kind === 'reader') loop.addReader(a, wake);
      else loop.addWriter(a, wake);
      function* main(): Co<string> {
        const timer = loop.callLater(2, () => {
          if (!fut.done()) fut.setResult('never woke');
        });
        try {
          const got = yield* fut;
          for (let i = 0; i < 5; i++) yield* sleep(0);
          return got;
        } finally {
          timer.cancel();
        }
      }
      expect(t.run(main())).toBe('woke');
      expect(oldCalls).toBe(0);
    } finally {
      loop.removeReader(a);
      loop.removeWriter(a);
      native.close(a);
      native.close(b);
      native.close(w0);
    }
  });
});

describe('select backend limits', () => {
  it('refuses an fd at or above FD_SETSIZE with a clear error', () => {
    if (!backends.includes('select')) return;
    const sel = track(new SelectSelector());
    // Open pipes until an fd number reaches FD_SETSIZE.
    const fds: number[] = [];
    try {
      let high = -1;
      while (high < native.FD_SETSIZE) {
        const [r, w] = native.pipe();
        fds.push(r, w);
        high = Math.max(r, w);
      }
      expect(() => sel.register(high, EVENT_READ)).toThrow(/FD_SETSIZE/);
      expect(sel.getMap().size).toBe(0);
      // Lower fds still work after the refusal.
      sel.register(fds[0]!, EVENT_READ);
      expect(sel.select(0)).toEqual([]);
      sel.unregister(fds[0]!);
    } finally {
      for (const fd of fds) native.close(fd);
    }
  });
});
